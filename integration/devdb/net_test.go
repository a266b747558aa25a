package devdb

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"
)

// TestAllowNet: with Options.AllowNet, http::post reaches a server on 127.0.0.1 with the body
// and headers given; without it, SurrealDB refuses the network target.
func TestAllowNet(t *testing.T) {
	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer hook.Close()
	q := "RETURN http::post($url, { id: user:a, n: 1 }, { Authorization: 'Bearer s3cret' })"
	vars := map[string]any{"url": hook.URL + "/ingest"}

	for _, allow := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		s, err := Start(ctx, Options{AllowNet: allow})
		if err != nil {
			cancel()
			t.Fatalf("Start(AllowNet: %v): %v", allow, err)
		}
		db, err := s.Connect(ctx, "t", "t")
		if err != nil {
			t.Fatal(err)
		}
		res, err := surrealdb.Query[any](ctx, db, q, vars)
		if err == nil && len(*res) > 0 && (*res)[0].Error != nil {
			err = (*res)[0].Error
		}
		switch {
		case allow && err != nil:
			t.Errorf("AllowNet: http::post failed: %v", err)
		case allow:
			if m, _ := (*res)[0].Result.(map[string]any); m["ok"] != true {
				t.Errorf("AllowNet: http::post returned %#v", (*res)[0].Result)
			}
		case err == nil || !strings.Contains(err.Error(), "not allowed"):
			t.Errorf("without AllowNet: http::post = %v, want a 'not allowed' error", err)
		}
		_ = db.Close(ctx)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		cancel()
	}
	mu.Lock()
	defer mu.Unlock()
	want := `POST /ingest Bearer s3cret {"id":"user:a","n":1}`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("hook received %q, want exactly [%q]", got, want)
	}
}

// TestNetTargets: with Options.NetTargets, http::post reaches the listed host:port and nothing
// else (ssp dev lets the dev database reach the SSP only).
func TestNetTargets(t *testing.T) {
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}
	allowed := httptest.NewServer(http.HandlerFunc(ok))
	defer allowed.Close()
	other := httptest.NewServer(http.HandlerFunc(ok))
	defer other.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := Start(ctx, Options{NetTargets: []string{strings.TrimPrefix(allowed.URL, "http://")}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := s.Connect(ctx, "t", "t")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	post := func(url string) error {
		res, err := surrealdb.Query[any](ctx, db, "RETURN http::post($url, {})", map[string]any{"url": url + "/ingest"})
		if err == nil && len(*res) > 0 && (*res)[0].Error != nil {
			err = (*res)[0].Error
		}
		return err
	}
	if err := post(allowed.URL); err != nil {
		t.Errorf("the listed target: %v", err)
	}
	if err := post(other.URL); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("another target: %v, want a 'not allowed' error", err)
	}
}
