package membership

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

func TestQueryRows(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	if rows, err := e.s.LoadQueries(e.ctx, ""); err != nil || len(rows) != 0 {
		t.Fatalf("LoadQueries without a _00_query table = %v, %v", rows, err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	params := value.ObjectOf([]value.Field{
		{Key: "auth", Val: value.ObjectOf([]value.Field{{Key: "id", Val: value.String("user:alice")}})},
		{Key: "user", Val: value.Record("user", value.String("a'b"))},
		{Key: "n", Val: value.Int(5)},
	})
	fresh := QueryRow{Key: "q'1 ⟩", SurQL: "SELECT * FROM thread WHERE author = $user", Params: params,
		ClientID: "c1", AuthID: "user:alice", TTL: 90 * time.Minute, LastActiveAt: now, RegistrationTime: 1.25, RowCount: 3}
	stale := QueryRow{Key: "old", SurQL: "SELECT * FROM thread", Params: value.None(), ClientID: "c2",
		TTL: time.Hour, LastActiveAt: now.Add(-2 * time.Hour), RowCount: 0}
	for _, r := range []QueryRow{fresh, stale} {
		if err := e.s.UpsertQuery(e.ctx, r); err != nil {
			t.Fatalf("UpsertQuery: %v", err)
		}
	}
	e.exec("UPSERT _00_query:noquery SET state = 'x'", nil) // rows without surql are skipped

	rows, err := e.s.LoadQueries(e.ctx, "")
	if err != nil {
		t.Fatalf("LoadQueries: %v", err)
	}
	if len(rows) != 2 || rows[0].Key != "old" || rows[1].Key != fresh.Key {
		t.Fatalf("LoadQueries = %+v", rows)
	}
	got := rows[1]
	if got.SurQL != fresh.SurQL || got.ClientID != "c1" || got.AuthID != "user:alice" || got.TTL != fresh.TTL ||
		!got.LastActiveAt.Equal(now) || got.RegistrationTime != 1.25 || got.RowCount != 3 ||
		value.Compare(got.Params, params) != 0 || got.Params.Get("user").Kind() != value.KindRecord {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, fresh)
	}
	if !rows[0].Params.IsNone() {
		t.Fatalf("NONE params read back as %s", rows[0].Params.SurQL())
	}

	// Metrics land on existing rows only; NaN percentiles are NONE.
	err = e.s.FlushMetrics(e.ctx, []ViewMetrics{
		{Key: fresh.Key, RowCount: 7, UpdateCount: 4, LastIngestLatency: 0.5, P55: 0.25, P90: 1.5, P99: math.NaN()},
		{Key: "never-registered", RowCount: 1},
	})
	if err != nil {
		t.Fatalf("FlushMetrics: %v", err)
	}
	rs := e.exec("SELECT * FROM ONLY $id; SELECT * FROM _00_query:⟨never-registered⟩", map[string]any{"id": QueryRecord(fresh.Key)})
	row := rs[0].Value
	if row.Get("rowCount").AsInt() != 7 || row.Get("updateCount").AsInt() != 4 || row.Get("lastIngestLatency").AsFloat() != 0.5 ||
		row.Get("materializationP55").AsFloat() != 0.25 || row.Get("materializationP90").AsFloat() != 1.5 ||
		!row.Get("materializationP99").IsNone() || row.Get("surql").AsString() != fresh.SurQL {
		t.Fatalf("row after FlushMetrics: %s", row.SurQL())
	}
	if rs[1].Value.Len() != 0 {
		t.Fatalf("FlushMetrics created a row: %s", rs[1].Value.SurQL())
	}

	// Re-registration refreshes; metrics survive an upsert.
	if ok, err := e.s.RefreshQuery(e.ctx, QueryRow{Key: fresh.Key, ClientID: "c9", AuthID: "user:alice", LastActiveAt: now.Add(time.Minute)}); err != nil || !ok {
		t.Fatalf("RefreshQuery = %v, %v", ok, err)
	}
	if ok, err := e.s.RefreshQuery(e.ctx, QueryRow{Key: "missing", ClientID: "c9", LastActiveAt: now}); err != nil || ok {
		t.Fatalf("RefreshQuery of a missing row = %v, %v", ok, err)
	}
	if err := e.s.UpsertQuery(e.ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if row := e.exec("SELECT * FROM ONLY $id", map[string]any{"id": QueryRecord(fresh.Key)})[0].Value; row.Get("updateCount").AsInt() != 4 {
		t.Fatalf("UpsertQuery dropped the metrics: %s", row.SurQL())
	}

	// Expiry.
	expired, err := e.s.ExpiredQueries(e.ctx, time.Now(), "")
	if err != nil || len(expired) != 1 || expired[0].Key != "old" {
		t.Fatalf("ExpiredQueries = %+v, %v", expired, err)
	}
	if ok, err := e.s.DeleteQueryIfExpired(e.ctx, fresh.Key, ""); err != nil || ok {
		t.Fatalf("DeleteQueryIfExpired(fresh) = %v, %v", ok, err)
	}
	// A refresh racing the sweep wins: the row listed as expired is kept.
	if _, err := e.s.RefreshQuery(e.ctx, QueryRow{Key: "old", ClientID: "c2", LastActiveAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.s.DeleteQueryIfExpired(e.ctx, "old", ""); err != nil || ok {
		t.Fatalf("DeleteQueryIfExpired after a refresh = %v, %v", ok, err)
	}
	e.exec("UPDATE _00_query:old SET lastActiveAt = time::now() - 2h", nil)
	if ok, err := e.s.DeleteQueryIfExpired(e.ctx, "old", ""); err != nil || !ok {
		t.Fatalf("DeleteQueryIfExpired(old) = %v, %v", ok, err)
	}
	if rows, _ := e.s.LoadQueries(e.ctx, ""); len(rows) != 1 {
		t.Fatalf("%d rows left, want 1", len(rows))
	}
	if n, err := e.s.CountQueries(e.ctx, "user:alice"); err != nil || n != 1 {
		t.Fatalf("CountQueries(alice) = %d, %v", n, err)
	}
	if n, err := e.s.CountQueries(e.ctx, "user:bob"); err != nil || n != 0 {
		t.Fatalf("CountQueries(bob) = %d, %v", n, err)
	}
}

// TestVersions: one query polls several records' `_00_version` rows; a record without a row,
// or the table missing, reads NONE.
func TestVersions(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	a, b := value.Record("thread", value.String("a'b")), value.Record("thread", value.Int(2))
	if vs, err := e.s.Versions(e.ctx, nil); err != nil || vs != nil {
		t.Fatalf("Versions(nil) = %v, %v", vs, err)
	}
	before := e.queries()
	vs, err := e.s.Versions(e.ctx, []value.Value{a, b})
	if err != nil || len(vs) != 2 || !vs[0].IsNone() || !vs[1].IsNone() {
		t.Fatalf("Versions without _00_version = %v, %v; want NONE twice", vs, err)
	}
	e.exec("CREATE _00_version SET record_id = $rid, version = 2", map[string]any{"rid": a})
	vs, err = e.s.Versions(e.ctx, []value.Value{a, b, a})
	if err != nil || len(vs) != 3 || vs[0].AsInt() != 2 || !vs[1].IsNone() || vs[2].AsInt() != 2 {
		t.Fatalf("Versions = %v, %v; want [2 NONE 2]", vs, err)
	}
	if n := e.queries() - before; n != 2 {
		t.Fatalf("%d queries for two polls, want one each", n)
	}
	for n, want := range []time.Duration{10, 20, 40, 80, 80, 80} {
		if got := VersionBackoff(n); got != want*time.Millisecond {
			t.Errorf("VersionBackoff(%d) = %s, want %s", n, got, want*time.Millisecond)
		}
	}
}

// TestQueryRowsByOwner: the rows carry their SSP (ssp_id); the reads and the expiry take an
// owner ("" means every row) and see only that SSP's rows; a refresh with an SSP id moves the
// row, one without leaves ssp_id alone.
func TestQueryRowsByOwner(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	now := time.Now().UTC()
	row := func(key, ssp string, lastActive time.Time) QueryRow {
		return QueryRow{Key: key, SurQL: "SELECT * FROM thread", Params: value.None(), ClientID: "c", AuthID: "user:alice",
			TTL: time.Hour, LastActiveAt: lastActive, SSPID: ssp}
	}
	for _, r := range []QueryRow{
		row("a", "ssp-A", now.Add(-2*time.Hour)), row("b", "ssp-B", now.Add(-2*time.Hour)),
		row("c", "", now.Add(-2*time.Hour)), row("d", "ssp-A", now),
	} {
		if err := e.s.UpsertQuery(e.ctx, r); err != nil {
			t.Fatalf("UpsertQuery(%s): %v", r.Key, err)
		}
	}
	keys := func(rows []QueryRow) string {
		var out []string
		for _, r := range rows {
			out = append(out, r.Key+"@"+r.SSPID)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		owner         string
		loaded, stale string
	}{
		{"", "a@ssp-A b@ssp-B c@ d@ssp-A", "a@ssp-A b@ssp-B c@"},
		{"ssp-A", "a@ssp-A d@ssp-A", "a@ssp-A"},
		{"ssp-B", "b@ssp-B", "b@ssp-B"},
		{"ssp-C", "", ""},
	} {
		loaded, err := e.s.LoadQueries(e.ctx, tc.owner)
		if err != nil || keys(loaded) != tc.loaded {
			t.Errorf("LoadQueries(%q) = [%s], %v; want [%s]", tc.owner, keys(loaded), err, tc.loaded)
		}
		expired, err := e.s.ExpiredQueries(e.ctx, now, tc.owner)
		if err != nil || keys(expired) != tc.stale {
			t.Errorf("ExpiredQueries(%q) = [%s], %v; want [%s]", tc.owner, keys(expired), err, tc.stale)
		}
	}

	// a moves to ssp-B (a re-registration there) after ssp-A listed it as expired: ssp-A's
	// sweep must not delete it; ssp-B's may.
	moved := row("a", "ssp-B", now.Add(-2*time.Hour))
	if ok, err := e.s.RefreshQuery(e.ctx, moved); err != nil || !ok {
		t.Fatalf("RefreshQuery(a to ssp-B) = %v, %v", ok, err)
	}
	if ok, err := e.s.DeleteQueryIfExpired(e.ctx, "a", "ssp-A"); err != nil || ok {
		t.Fatalf("DeleteQueryIfExpired(a, old owner) = %v, %v; want kept", ok, err)
	}
	if ok, err := e.s.DeleteQueryIfExpired(e.ctx, "a", "ssp-B"); err != nil || !ok {
		t.Fatalf("DeleteQueryIfExpired(a, new owner) = %v, %v; want deleted", ok, err)
	}
	// Without an owner the sweep deletes any expired row, whoever serves it.
	if ok, err := e.s.DeleteQueryIfExpired(e.ctx, "b", ""); err != nil || !ok {
		t.Fatalf(`DeleteQueryIfExpired(b, "") = %v, %v; want deleted`, ok, err)
	}
	// A refresh or upsert without an SSP id leaves ssp_id as it is.
	if ok, err := e.s.RefreshQuery(e.ctx, row("d", "", now)); err != nil || !ok {
		t.Fatalf("RefreshQuery(d) = %v, %v", ok, err)
	}
	if err := e.s.UpsertQuery(e.ctx, row("d", "", now)); err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.LoadQueries(e.ctx, ""); err != nil || keys(got) != "c@ d@ssp-A" {
		t.Fatalf("rows left = [%s], %v; want [c@ d@ssp-A]", keys(got), err)
	}
}

// A row marked unregistered is kept and still expires, but no bootstrap loads it; a registration
// (upsert or refresh) clears the mark; an owner's mark leaves another SSP's row alone.
func TestMarkUnregistered(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	if err := e.s.MarkUnregistered(e.ctx, "v", ""); err != nil {
		t.Fatalf("MarkUnregistered without a _00_query table: %v", err)
	}
	now := time.Now().UTC()
	row := func(key, ssp string, lastActive time.Time) QueryRow {
		return QueryRow{Key: key, SurQL: "SELECT * FROM thread", Params: value.None(), ClientID: "c", AuthID: "user:alice",
			TTL: time.Hour, LastActiveAt: lastActive, SSPID: ssp}
	}
	for _, r := range []QueryRow{row("v", "", now.Add(-2*time.Hour)), row("w", "", now), row("x", "ssp-A", now)} {
		if err := e.s.UpsertQuery(e.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	loaded := func(owner string) string {
		t.Helper()
		rows, err := e.s.LoadQueries(e.ctx, owner)
		if err != nil {
			t.Fatalf("LoadQueries: %v", err)
		}
		var ks []string
		for _, r := range rows {
			ks = append(ks, r.Key)
		}
		return strings.Join(ks, " ")
	}
	marked := func(key string) bool {
		t.Helper()
		return e.exec("SELECT * FROM ONLY $id", map[string]any{"id": QueryRecord(key)})[0].Value.Get(UnregisteredField).Kind() == value.KindDatetime
	}
	for _, k := range []string{"v", "w", "missing"} {
		if err := e.s.MarkUnregistered(e.ctx, k, ""); err != nil {
			t.Fatalf("MarkUnregistered(%s): %v", k, err)
		}
	}
	if got := loaded(""); got != "x" {
		t.Errorf("LoadQueries after marking v and w = [%s], want [x]", got)
	}
	if n := e.exec("SELECT count() AS n FROM _00_query GROUP ALL", nil)[0].Value.Elems()[0].Get("n").AsInt(); n != 3 {
		t.Errorf("%d rows after marking, want 3 (kept, none created)", n)
	}
	// The TTL sweep still removes a marked row in time.
	if expired, err := e.s.ExpiredQueries(e.ctx, now, ""); err != nil || len(expired) != 1 || expired[0].Key != "v" {
		t.Errorf("ExpiredQueries = %+v, %v; want the marked, expired v", expired, err)
	}
	// A registration clears the mark: a refresh of w, an upsert of v.
	if ok, err := e.s.RefreshQuery(e.ctx, row("w", "", now)); err != nil || !ok {
		t.Fatalf("RefreshQuery(w) = %v, %v", ok, err)
	}
	if err := e.s.UpsertQuery(e.ctx, row("v", "", now)); err != nil {
		t.Fatal(err)
	}
	if marked("v") || marked("w") {
		t.Errorf("a registration left the mark: v %v, w %v", marked("v"), marked("w"))
	}
	if got := loaded(""); got != "v w x" {
		t.Errorf("LoadQueries after registering again = [%s], want [v w x]", got)
	}
	// ssp-B may not mark ssp-A's row; ssp-A may, and its reconcile still counts the view as its own.
	if err := e.s.MarkUnregistered(e.ctx, "x", "ssp-B"); err != nil || marked("x") {
		t.Fatalf("MarkUnregistered(x, ssp-B) = %v, marked %v; want left alone", err, marked("x"))
	}
	if err := e.s.MarkUnregistered(e.ctx, "x", "ssp-A"); err != nil || !marked("x") {
		t.Fatalf("MarkUnregistered(x, ssp-A) = %v, marked %v; want marked", err, marked("x"))
	}
	if got := loaded("ssp-A"); got != "" {
		t.Errorf("LoadQueries(ssp-A) = [%s], want none", got)
	}
	if keys, err := e.s.OwnedKeys(e.ctx, "ssp-A"); err != nil || strings.Join(keys, " ") != "x" {
		t.Errorf("OwnedKeys(ssp-A) = %v, %v; want [x]", keys, err)
	}
}
