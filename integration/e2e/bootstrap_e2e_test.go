package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

// TestNotReadyWhileBootstrapping: while the SSP bootstraps, /health answers 503
// {"status":"bootstrapping"} and the registration routes 503 SSP_NOT_READY; then /health
// turns 200. /ingest depends on SPKY_SSP_BOOTSTRAP_BUFFER: with 0 it answers 503 too and a write
// into SurrealDB whose event posts to the SSP is rolled back; by default (standalone) it is
// accepted, the write commits, and the change is in the views once the SSP is ready.
//
// The bootstrap is held deterministically: the database has a table whose field is COMPUTED by
// `http::get` of a test server that does not answer until the test lets it, so loading that
// table cannot finish before the test has seen the not-ready answers.
func TestNotReadyWhileBootstrapping(t *testing.T) {
	for _, c := range []struct {
		name     string
		env      map[string]string
		buffered bool
	}{
		{"buffer 0", map[string]string{"SPKY_SSP_BOOTSTRAP_BUFFER": "0"}, false},
		{"default buffer", nil, true},
	} {
		t.Run(c.name, func(t *testing.T) { notReadyWhileBootstrapping(t, c.env, c.buffered) })
	}
}

func notReadyWhileBootstrapping(t *testing.T, env map[string]string, buffered bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var hits atomic.Int64
	release := make(chan struct{})
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`"open"`))
	}))
	defer gate.Close()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	name, db := newDatabase(t, ctx, "boot")
	proxy := newIngestProxy(t)
	exec1(t, ctx, db, schemaSQL(proxy.URL(), false), nil)
	exec1(t, ctx, db, fmt.Sprintf("CREATE gate:1 SET n = 1 RETURN NONE; DEFINE FIELD g ON TABLE gate COMPUTED http::get('%s/')", gate.URL), nil)
	ssp := startSSP(t, sspConfig{DB: name, RefMode: string(dedicated), Env: env})
	proxy.setTarget(ssp.Base)

	probe := map[string]any{"table": "probe", "op": "CREATE", "id": "probe:1", "record": map[string]any{"n": 1}}
	reg := map[string]any{"id": "_00_query:v", "surql": "SELECT * FROM probe", "clientId": "c", "ttl": "1h"}
	type answer struct{ Status, Code string }
	ask := func(method, path string, body any) (int, answer) {
		t.Helper()
		code, raw, err := ssp.Do(method, path, body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		var a answer
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			t.Fatalf("%s %s: %d with a body that is not JSON: %s", method, path, code, raw)
		}
		return code, a
	}
	notReady := func(phase string) {
		t.Helper()
		if code, a := ask("GET", "/health", nil); code != 503 || a.Status != "bootstrapping" {
			t.Fatalf("%s: /health = %d %+v, want 503 bootstrapping", phase, code, a)
		}
		gated := []struct {
			path string
			body any
		}{{"/view/register", reg}, {"/view/unregister", map[string]any{"id": "v"}}}
		if !buffered {
			gated = append(gated, gated[0])
			gated[0].path, gated[0].body = "/ingest", probe
		}
		for _, c := range gated {
			if code, a := ask("POST", c.path, c.body); code != 503 || a.Code != "SSP_NOT_READY" {
				t.Fatalf("%s: %s = %d %+v, want 503 SSP_NOT_READY", phase, c.path, code, a)
			}
		}
	}

	// Until the gate opens the bootstrap cannot finish: every answer must be "not ready".
	rounds := 0
	waitFor(t, time.Minute, 10*time.Millisecond, func() (bool, string) {
		notReady("gate closed")
		rounds++
		return hits.Load() > 0 && rounds >= 3, "bootstrap has not reached the gated table"
	})
	// A write whose event posts to the bootstrapping SSP: refused and rolled back without a
	// buffer, committed with one.
	rs, err := db.QueryOnce(ctx, "CREATE $id CONTENT $c RETURN NONE", map[string]any{
		"id": value.Record("user", value.String("early")),
		"c":  value.ObjectFromMap(map[string]value.Value{"name": value.String("e"), "age": value.Int(1), "active": value.Bool(true), "tags": value.Array(nil)}),
	})
	if err == nil && len(rs) > 0 {
		err = rs[0].Err
	}
	users := exec1(t, ctx, db, "SELECT VALUE id FROM user", nil)[0].Value.Len()
	switch {
	case !buffered && err == nil:
		t.Fatal("a write while the SSP bootstraps succeeded; its event's ingest should have failed it")
	case !buffered && users != 0:
		t.Fatalf("the failed write left %d user rows", users)
	case buffered && err != nil:
		t.Fatalf("a write while the SSP bootstraps failed: %v", err)
	case buffered && users != 1:
		t.Fatalf("the write left %d user rows, want 1", users)
	}
	notReady("gate closed, after the write")

	// Open the gate: every /health answer is 503 bootstrapping until the first 200 ready,
	// after which the gated routes answer.
	close(release)
	released = true
	waitFor(t, time.Minute, 10*time.Millisecond, func() (bool, string) {
		code, a := ask("GET", "/health", nil)
		switch {
		case code == 200 && a.Status == "ready":
			return true, ""
		case code == 503 && a.Status == "bootstrapping":
			return false, "still bootstrapping"
		}
		t.Fatalf("/health = %d %+v during bootstrap", code, a)
		return false, ""
	})
	if code, raw, err := ssp.Do("POST", "/ingest", probe); err != nil || code != 200 {
		t.Fatalf("/ingest after ready: %d %v %s", code, err, raw)
	}
	ssp.register(view{Key: "v", SurQL: "SELECT * FROM probe", Client: "c"})
	if buffered {
		// The user written during the bootstrap is in the SSP's data: its view has the row, and
		// its per-user table exists.
		ssp.MustDo("POST", "/view/unregister", map[string]any{"id": "v"}, 200) // probe:1 is not in SurrealDB
		views := []view{{Key: "u", SurQL: "SELECT * FROM user", Client: "c"}}
		ssp.register(views[0])
		converge(t, ctx, db, ssp, views, dedicated, true)
	}
	t.Logf("%d not-ready rounds before the gate opened; gated table fetched %d time(s)", rounds, hits.Load())
}
