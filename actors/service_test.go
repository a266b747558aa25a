package actors

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

const (
	openThreads  = "SELECT * FROM thread WHERE status = 'open'"
	withComments = "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY id) AS comments FROM thread WHERE status = 'open'"
)

func TestRegisterWritesEdgesAndQueryRow(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.ingest("thread", "CREATE", "thread:2", map[string]any{"status": "closed"})
	h.ingest("comment", "CREATE", "comment:1", map[string]any{"thread": "thread:1"})

	r := h.register("query:v1", withComments, "user:alice")
	if r.ViewID != "v1" {
		t.Errorf("view id %q, want v1", r.ViewID)
	}
	wantMembers := []engine.Member{{Key: "thread:1", Version: 1}, {Key: "comment:1", Version: 1, Parent: "thread:1", Rel: "comments"}}
	engine.SortMembers(wantMembers)
	if got := describeMembers(r.Records); got != describeMembers(wantMembers) {
		t.Errorf("records %s, want %s", got, describeMembers(wantMembers))
	}
	if r.ResultHash != resultHash(wantMembers) || len(r.ResultHash) != 64 {
		t.Errorf("result hash %q", r.ResultHash)
	}
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"v1|||thread:1@1|client-query:v1|user:alice",
		"v1|thread:1|comments|comment:1@1|client-query:v1|user:alice",
	}})
	row := h.queryRow("v1")
	for field, want := range map[string]value.Value{
		"surql": value.String(withComments), "clientId": value.String("client-query:v1"), "auth_id": value.String("user:alice"),
		"ttl": value.Duration(time.Hour), "rowCount": value.Int(1),
	} {
		if got := row.Get(field); !value.Equal(got, want) {
			t.Errorf("_00_query.%s = %s, want %s", field, got.SurQL(), want.SurQL())
		}
	}
	if row.Get("lastActiveAt").Kind() != value.KindDatetime || !row.Get("registrationTime").IsNumber() {
		t.Errorf("_00_query row lacks lastActiveAt/registrationTime: %s", row.SurQL())
	}
	// The JSON param "user:alice" is read as a record id (SPEC §3) and stored as one.
	if !value.Equal(row.Get("params").Get("auth").Get("id"), value.Record("user", value.String("alice"))) {
		t.Errorf("_00_query.params = %s", row.Get("params").SurQL())
	}
	if !h.tableExists("_00_list_ref_user_alice") {
		t.Error("per-user table not defined")
	}
}

func describeMembers(ms []engine.Member) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(edgeText("", m, "", "") + " ")
	}
	return b.String()
}

func TestRegisterInvalidChangesNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, q := range []string{"SELECT * FROM", "SELECT * FROM thread WHERE created > time::now()", "DELETE thread"} {
		_, err := h.s.Register(h.ctx, h.req("bad", q, "user:alice"))
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("register %q: %v, want ErrInvalid", q, err)
		}
		if strings.HasPrefix(err.Error(), ErrInvalid.Error()) || err.Error() == "" {
			t.Errorf("register %q: message %q should be the parser's", q, err)
		}
	}
	if row := h.queryRow("bad"); !row.IsNone() && !row.IsNull() {
		t.Errorf("a _00_query row was written: %s", row.SurQL())
	}
	if _, ok := h.s.DebugView(h.ctx, "bad"); ok {
		t.Error("the invalid view exists")
	}
	// An invalid replacement keeps the registered view as it was.
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.register("v", openThreads, "user:alice")
	if _, err := h.s.Register(h.ctx, h.req("v", "SELECT * FROM thread WHERE", "user:alice")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("replace with invalid query: %v", err)
	}
	if got := h.queryRow("v").Get("surql").AsString(); got != openThreads {
		t.Errorf("surql changed to %q", got)
	}
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"v|||thread:1@1|client-v|user:alice"}})
}

func TestIngestMovesEdges(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.exec("DEFINE TABLE _00_version SCHEMALESS; CREATE _00_version SET record_id = thread:1, version = 3", nil)
	h.register("open", openThreads, "user:alice")
	h.register("all", "SELECT * FROM thread", "")
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.ingest("thread", "CREATE", "thread:2", map[string]any{"status": "open"})
	h.waitEdges(map[string][]string{
		"_00_list_ref_user_alice": {"open|||thread:1@1|client-open|user:alice", "open|||thread:2@1|client-open|user:alice"},
		"_00_list_ref":            {"all|||thread:1@1|client-all|", "all|||thread:2@1|client-all|"},
	})
	h.ingest("thread", "UPDATE", "thread:1", map[string]any{"status": "open", "_00_rv": 3})
	h.ingest("thread", "UPDATE", "thread:2", map[string]any{"status": "closed"})
	h.waitEdges(map[string][]string{
		"_00_list_ref_user_alice": {"open|||thread:1@3|client-open|user:alice"},
		"_00_list_ref":            {"all|||thread:1@3|client-all|", "all|||thread:2@1|client-all|"},
	})
	h.ingest("thread", "DELETE", "thread:1", nil)
	h.waitEdges(map[string][]string{"_00_list_ref": {"all|||thread:2@1|client-all|"}})
	h.waitEdgesMatch()
}

// An update that changes a member's content but not its version changes no edge row, so the
// view actor hands nothing of it to the writer: the writer receives only the changes that
// move an edge (here the next step's, which, in the view's order, comes after it).
func TestContentOnlyUpdateHandsNoWrite(t *testing.T) {
	var deltas atomic.Int64 // opDelta writes of view "open" received by its writer
	h := newHarness(t, harnessOpts{deps: func(d *Deps) {
		d.Hooks.Receive = func(kind, _ string, msg any) {
			if w, ok := msg.(*edgeWrite); ok && kind == kindWriter && w.view == "open" && w.kind == opDelta {
				deltas.Add(1)
			}
		}
	}})
	h.register("open", openThreads, "user:alice")
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open", "title": "a"})
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"open|||thread:1@1|client-open|user:alice"}})
	before := deltas.Load()

	h.ingest("thread", "UPDATE", "thread:1", map[string]any{"status": "open", "title": "b"})
	h.ingest("thread", "CREATE", "thread:2", map[string]any{"status": "open"})
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"open|||thread:1@1|client-open|user:alice", "open|||thread:2@1|client-open|user:alice"}})
	if got := deltas.Load() - before; got != 1 {
		t.Errorf("the writer received %d deltas of the view for a content-only update and an addition, want 1 (the addition's)", got)
	}

	// A version change is still handed on and written.
	h.exec("DEFINE TABLE _00_version SCHEMALESS; CREATE _00_version SET record_id = thread:1, version = 2", nil)
	h.ingest("thread", "UPDATE", "thread:1", map[string]any{"status": "open", "title": "c", "_00_rv": 2})
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"open|||thread:1@2|client-open|user:alice", "open|||thread:2@1|client-open|user:alice"}})
	h.waitEdgesMatch()
}

func TestIdempotentReplays(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for i := 0; i < 2; i++ {
		h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
		h.ingest("comment", "CREATE", "comment:1", map[string]any{"thread": "thread:1"})
		h.register("v", withComments, "user:alice")
		h.register("v", withComments, "user:alice")
		h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	}
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"v|||thread:1@1|client-v|user:alice",
		"v|thread:1|comments|comment:1@1|client-v|user:alice",
	}})
	rs := h.exec("SELECT count() AS n FROM _00_list_ref_user_alice GROUP ALL; SELECT count() AS n FROM _00_query GROUP ALL", nil)
	if n := rs[0].Value.Elems()[0].Get("n").AsInt(); n != 2 {
		t.Errorf("%d edge rows, want 2", n)
	}
	if n := rs[1].Value.Elems()[0].Get("n").AsInt(); n != 1 {
		t.Errorf("%d _00_query rows, want 1", n)
	}
}

func TestReRegistration(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.ingest("thread", "CREATE", "thread:2", map[string]any{"status": "closed"})
	h.register("v", openThreads, "user:alice")
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"v|||thread:1@1|client-v|user:alice"}})

	// Same query, new client: only the owner data changes (rewritten on the edges).
	req := h.req("v", openThreads, "user:alice")
	req.ClientID = "client-2"
	if _, err := h.s.Register(h.ctx, req); err != nil {
		t.Fatal(err)
	}
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"v|||thread:1@1|client-2|user:alice"}})
	if got := h.queryRow("v").Get("clientId").AsString(); got != "client-2" {
		t.Errorf("clientId %q", got)
	}

	// Another query: the edges follow the new membership.
	h.register("v", "SELECT * FROM thread WHERE status = 'closed'", "user:alice")
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"v|||thread:2@1|client-v|user:alice"}})

	// Another owner: the edges move to the owner's table.
	h.register("v", "SELECT * FROM thread WHERE status = 'closed'", "user:bob")
	h.waitEdges(map[string][]string{"_00_list_ref_user_bob": {"v|||thread:2@1|client-v|user:bob"}})
	h.waitEdgesMatch()
}

func TestUnregister(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.register("_00_query:⟨v⟩", openThreads, "user:alice")
	h.register("w", openThreads, "user:alice")
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"v|||thread:1@1|client-_00_query:⟨v⟩|user:alice", "w|||thread:1@1|client-w|user:alice",
	}})
	if err := h.s.Unregister(h.ctx, "query:v"); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Unregister(h.ctx, "unknown"); err != nil {
		t.Errorf("unregister unknown: %v", err)
	}
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"w|||thread:1@1|client-w|user:alice"}})
	if row := h.queryRow("v"); row.IsNone() {
		t.Error("the _00_query row was deleted")
	} else if row.Get(membership.UnregisteredField).Kind() != value.KindDatetime {
		t.Errorf("the _00_query row is not marked unregistered: %s", row.SurQL())
	}
	if _, ok := h.s.DebugView(h.ctx, "v"); ok {
		t.Error("view still registered")
	}
	// Registering it again right away writes its edges again (after the removal) and clears the mark.
	h.register("v", openThreads, "user:alice")
	h.waitEdgesMatch()
	if m := h.queryRow("v").Get(membership.UnregisteredField); !m.IsNone() {
		t.Errorf("registering again left the mark %s", m.SurQL())
	}
}

// A view unregistered over HTTP stays gone after a restart (issue 9: every unregistered view came
// back at the next bootstrap); one registered again after its unregistration comes back.
func TestUnregisteredViewsStayGoneAfterRestart(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if err := h.write("CREATE", "thread:1", map[string]any{"status": "open"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"gone", "back", "kept"} {
		h.register(k, openThreads, "user:alice")
	}
	for _, k := range []string{"gone", "back"} {
		if err := h.s.Unregister(h.ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	h.register("back", openThreads, "user:alice")
	h.quiesce()
	h.waitEdgesAsDB([]testView{{"back", openThreads, "user:alice"}, {"kept", openThreads, "user:alice"}})
	h.restart()
	for k, want := range map[string]bool{"gone": false, "back": true, "kept": true} {
		if _, ok := h.s.DebugView(h.ctx, k); ok != want {
			t.Errorf("view %s registered after the restart: %v, want %v", k, ok, want)
		}
	}
	if h.queryRow("gone").IsNone() {
		t.Error("the unregistered view's row was deleted")
	}
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"back|||thread:1@1|client-back|user:alice", "kept|||thread:1@1|client-kept|user:alice",
	}})
}

func TestSingleMode(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: func(c *config.Config) { c.RefMode = membership.RefSingle }})
	h.ingest("user", "CREATE", "user:carol", map[string]any{"name": "Carol"})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.register("v", openThreads, "user:carol")
	h.waitEdges(map[string][]string{membership.GlobalTable: {"v|||thread:1@1|client-v|user:carol"}})
	if h.tableExists("_00_list_ref_user_carol") {
		t.Error("single mode defined a per-user table")
	}
	if got := h.s.Info(h.ctx).RefMode; got != "single" {
		t.Errorf("ref_mode %q", got)
	}
}

func TestUserTableLifecycle(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.ingest("user", "CREATE", "user:dave", map[string]any{"name": "Dave"})
	// Defined by the table's writer once the CREATE was answered (no round trip inside
	// /ingest; TestUserCreateDoesNotWaitForItsTable).
	waitFor(t, 10*time.Second, func() (bool, string) {
		return h.tableExists("_00_list_ref_user_dave"), "user CREATE did not define the per-user table"
	})
	h.ingest("user", "DELETE", "user:dave", nil)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return !h.tableExists("_00_list_ref_user_dave"), "table still there"
	})
}

func TestReset(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.register("v", openThreads, "user:alice")
	h.register("w", openThreads, "")
	h.waitEdgesMatch()
	if err := h.s.Reset(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.waitEdges(map[string][]string{})
	if h.queryRow("v").IsNone() {
		t.Error("reset deleted the _00_query row")
	}
	d := h.s.DebugDeps(h.ctx)
	if d.ViewCount != 0 || len(d.TablesInStore) != 0 {
		t.Errorf("after reset: %+v", d)
	}
	// Usable again.
	h.ingest("thread", "CREATE", "thread:2", map[string]any{"status": "open"})
	h.register("v", openThreads, "user:alice")
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"v|||thread:2@1|client-v|user:alice"}})
}

func TestDebugAndInfo(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.ingest("comment", "CREATE", "comment:1", map[string]any{"thread": "thread:1"})
	h.register("v", withComments, "user:alice")
	d, ok := h.s.DebugView(h.ctx, "_00_query:v")
	if !ok {
		t.Fatal("debug view: not found")
	}
	if d.ViewID != "v" || d.CacheSize != 2 || len(d.Cache) != 2 || d.LastHash != resultHash(d.Cache) ||
		strings.Join(d.ReferencedTables, ",") != "comment,thread" || strings.Join(d.SubqueryTables, ",") != "comment" ||
		d.Actor.PID == "" || d.Actor.Restarts != 0 || len(d.SubqueryCache["thread:1/comments"]) != 1 {
		t.Errorf("debug view: %+v", d)
	}
	if _, ok := h.s.DebugView(h.ctx, "nope"); ok {
		t.Error("unknown view found")
	}
	deps := h.s.DebugDeps(h.ctx)
	if deps.ViewCount != 1 || strings.Join(deps.DependencyMap["comment"], ",") != "v" || strings.Join(deps.TablesInStore, ",") != "comment,thread" {
		t.Errorf("deps: %+v", deps)
	}
	info := h.s.Info(h.ctx)
	if info.Status != StatusReady || info.Views != 1 || info.RefMode != "dedicated" || info.CircuitTables["thread"] != 1 ||
		!strings.HasPrefix(info.CircuitHashes["thread"], "b3:") || info.SurrealDBVersion == "unknown" || info.ID != "ssp-test" {
		t.Errorf("info: %+v", info)
	}
	// Metrics are flushed to the _00_query row.
	h.ingest("thread", "CREATE", "thread:3", map[string]any{"status": "open"})
	waitFor(t, 30*time.Second, func() (bool, string) {
		row := h.queryRow("v")
		return row.Get("updateCount").AsInt() == 1 && row.Get("rowCount").AsInt() == 2 && row.Get("materializationP99").IsNumber(),
			row.SurQL()
	})
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, n := range []string{"ssp_ingest_total", "ssp_ingest_duration_seconds", "ssp_views", "ssp_view_members",
		"ssp_edge_writes_total", "ssp_edge_write_duration_seconds", "ssp_mailbox_depth", "ssp_bootstrap_duration_seconds"} {
		if !names[n] {
			t.Errorf("metric %s missing", n)
		}
	}
}

func TestCallsAfterShutdown(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.register("v", openThreads, "")
	if err := h.s.Shutdown(h.ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.s.DebugView(h.ctx, "v"); ok {
		t.Error("debug view answered after shutdown")
	}
	if err := h.s.Reset(h.ctx); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("reset after shutdown: %v", err)
	}
	if _, err := h.s.Register(h.ctx, h.req("w", openThreads, "")); !errors.Is(err, ErrNotReady) {
		t.Errorf("register after shutdown: %v", err)
	}
	if err := h.s.Rebootstrap(h.ctx); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("rebootstrap after shutdown: %v", err)
	}
	_ = h.s.Info(h.ctx)
	_ = h.s.DebugDeps(h.ctx)
	if err := h.s.Shutdown(h.ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}

// Changes of the SSP's own tables (a scheduler may forward them) are answered without error and
// never stored: they show neither in /info nor in any view (SPEC §1.1; issue 9: they were
// stored as base data).
func TestOwnTablesAreNotBaseData(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.register("all", "SELECT * FROM thread", "")
	for _, c := range []struct{ table, id string }{
		{"_00_query", "_00_query:x"}, {"_00_list_ref", "_00_list_ref:y"}, {"_00_rv", "_00_rv:1"}, {"_00_version", "_00_version:1"},
	} {
		if err := h.s.Ingest(h.ctx, h.change(c.table, "CREATE", c.id, map[string]any{"n": 1}), ""); err != nil {
			t.Fatalf("ingest into %s: %v", c.table, err)
		}
	}
	h.mustWrite("CREATE", "thread:1", map[string]any{"status": "open"})
	info := h.s.Info(h.ctx)
	for tb := range info.CircuitTables {
		if strings.HasPrefix(tb, "_00_") {
			t.Errorf("/info lists %s as base data: %v", tb, info.CircuitTables)
		}
	}
	if n := metricValue(t, h.s.env.m.ingests.WithLabelValues("_00_query", "CREATE", resultIgnored)); n != 1 {
		t.Errorf("ignored ingests of _00_query counted %v, want 1", n)
	}
	if len(info.CircuitTables) != 1 || info.CircuitTables["thread"] != 1 {
		t.Errorf("circuit tables %v, want thread only", info.CircuitTables)
	}
}
