package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/internal/faultproxy"
)

// viewState is what the outside sees of a view: registered in memory (and how), its row.
func (h *harness) viewState(key string) string {
	h.t.Helper()
	_, ok := h.s.DebugView(h.ctx, key)
	row := h.queryRow(key)
	mem := "none"
	if ok {
		mem = "["
		for table, es := range h.engineEdges() {
			for _, e := range es {
				if strings.HasPrefix(e, key+"|") {
					mem += table + ":" + e + " "
				}
			}
		}
		mem += "]"
	}
	db := "none"
	if !row.IsNone() {
		db = fmt.Sprintf("%s by %s", row.Get("surql").AsString(), row.Get("clientId").AsString())
	}
	return "memory " + mem + ", row " + db
}

// A registration whose caller goes away is all or nothing: whenever the caller gives up, the
// view and its `_00_query` row either both exist or neither does (issue 9: a cancelled
// registration left a view without its row).
func TestCancelledRegistrationIsAtomic(t *testing.T) {
	delay := make(chan time.Duration, 1)
	h := newHarness(t, harnessOpts{deps: func(d *Deps) {
		d.Hooks.Receive = func(kind, _ string, msg any) {
			if _, ok := msg.(*writeQueryRow); ok && kind == kindQueries {
				select {
				case d := <-delay:
					time.Sleep(d) // the row write is slow
				default:
				}
			}
		}
	}})
	h.mustWrite("CREATE", "thread:1", map[string]any{"status": "open"})
	for i, cancelAfter := range []time.Duration{0, time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond} {
		key := fmt.Sprintf("v%d", i)
		delay <- 50 * time.Millisecond
		ctx, cancel := context.WithTimeout(h.ctx, cancelAfter)
		_, err := h.s.Register(ctx, h.req(key, openThreads, "user:alice"))
		cancel()
		h.quiesce()
		_, inMemory := h.s.DebugView(h.ctx, key)
		hasRow := !h.queryRow(key).IsNone()
		t.Logf("cancelled after %s: %v; %s", cancelAfter, err, h.viewState(key))
		if inMemory != hasRow {
			t.Errorf("cancelled after %s (%v): the view is in memory %v, its row exists %v", cancelAfter, err, inMemory, hasRow)
		}
		if err == nil && !inMemory {
			t.Errorf("registration %s answered success but the view does not exist", key)
		}
		select {
		case <-delay:
		default:
		}
	}
	h.waitEdgesMatch()
}

// A registration whose row cannot be written (the database is down) changes nothing: a new view
// goes, a replaced query and a refreshed owner come back as they were, memory and edges alike.
func TestFailedRegistrationRestoresTheView(t *testing.T) {
	h := newHarness(t, harnessOpts{proxy: true})
	h.mustWrite("CREATE", "thread:1", map[string]any{"status": "open"})
	h.mustWrite("CREATE", "thread:2", map[string]any{"status": "closed"})
	h.register("old", openThreads, "user:alice")
	h.waitEdgesMatch()
	want := h.dbEdges()
	before := map[string]string{"old": h.viewState("old"), "new": h.viewState("new")}

	h.proxy.SetMode(faultproxy.Refuse)
	attempts := []struct {
		name string
		key  string
		req  RegisterRequest
	}{
		{"a new view", "new", h.req("new", openThreads, "user:alice")},
		{"another query", "old", h.req("old", "SELECT * FROM thread WHERE status = 'closed'", "user:alice")},
		{"another owner", "old", h.req("old", openThreads, "user:bob")},
	}
	refresh := h.req("old", openThreads, "user:alice")
	refresh.ClientID = "client-2"
	attempts = append(attempts, struct {
		name string
		key  string
		req  RegisterRequest
	}{"another client", "old", refresh})
	for _, a := range attempts {
		_, err := h.s.Register(h.ctx, a.req)
		if err == nil {
			t.Fatalf("%s: registration succeeded with the database down", a.name)
		}
		if errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: %v", a.name, err)
		}
		// The answer comes once the view is back: no waiting needed.
		if now := h.viewState(a.key); now != before[a.key] {
			t.Errorf("%s: %s right after the failure, want %s", a.name, now, before[a.key])
		}
	}
	h.proxy.SetMode(faultproxy.Forward)
	h.quiesce()
	for k, was := range before {
		if now := h.viewState(k); now != was {
			t.Errorf("view %s: %s after the failed registrations, want %s", k, now, was)
		}
	}
	h.waitEdges(want)
	h.waitEdgesMatch()
}
