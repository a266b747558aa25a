package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sp00ky/ssp/internal/sspproc"
)

// ingestProxy sits between SurrealDB's events and the SSP: events `http::post` to it and it
// forwards each request unchanged (method, path, Authorization, Content-Type, body) to the
// current SSP and answers with the SSP's status and body. It records every /ingest body the SSP
// answered 200, in order, so a test can replay them. With dropWhenDown set, a request it cannot
// deliver (no SSP, or the SSP died mid-request) is answered 200 and counted as dropped — the
// write then commits in SurrealDB without the SSP having seen it, which is what a restarted SSP
// must repair; otherwise such a request is answered 502 (and the write is rolled back).
type ingestProxy struct {
	srv *httptest.Server

	mu           sync.Mutex
	target       string
	dropWhenDown bool
	bodies       [][]byte
	dropped      int
	rejected     int // answers other than 200 passed back to SurrealDB
}

func newIngestProxy(t *testing.T) *ingestProxy {
	p := &ingestProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the base URL the events post to.
func (p *ingestProxy) URL() string { return p.srv.URL }

// setTarget points the proxy at an SSP base URL ("" = no SSP).
func (p *ingestProxy) setTarget(base string) {
	p.mu.Lock()
	p.target = base
	p.mu.Unlock()
}

func (p *ingestProxy) setDropWhenDown(on bool) {
	p.mu.Lock()
	p.dropWhenDown = on
	p.mu.Unlock()
}

// recorded returns a copy of the /ingest bodies the SSP accepted so far.
func (p *ingestProxy) recorded() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.bodies...)
}

func (p *ingestProxy) counts() (dropped, rejected int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped, p.rejected
}

func (p *ingestProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	target, drop := p.target, p.dropWhenDown
	p.mu.Unlock()
	down := func(why string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if drop {
			p.dropped++
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"dropped":true}`))
			return
		}
		p.rejected++
		http.Error(w, "proxy: "+why, http.StatusBadGateway)
	}
	if target == "" {
		down("no SSP")
		return
	}
	req, err := http.NewRequest(r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		down(err.Error())
		return
	}
	for _, h := range []string{"Authorization", "Content-Type"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := sspproc.Client.Do(req)
	if err != nil {
		down(err.Error())
		return
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(resp.Body)
	p.mu.Lock()
	if resp.StatusCode == http.StatusOK && r.URL.Path == "/ingest" {
		p.bodies = append(p.bodies, body)
	} else if resp.StatusCode != http.StatusOK {
		p.rejected++
	}
	p.mu.Unlock()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}
