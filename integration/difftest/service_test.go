package difftest

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/internal/sspproc"
	"github.com/sp00ky/ssp/internal/wait"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// The service differential test's size; DIFFTEST_SERVICE_SEEDS, _STEPS and _CHECK scale it up
// for a local soak (CI runs the defaults: about a minute on the 2-core reference machine).
const (
	serviceSeeds = 3   // seeds 1..n, in each ref mode
	serviceSteps = 600 // writes per seed
	serviceEvery = 100 // writes between two checkpoints (and one after the last write)
)

const serviceSecret = "difftest-secret"

// serviceConverge bounds waiting, at a checkpoint, for the edge rows to settle on SurrealDB's
// answers.
const serviceConverge = 45 * time.Second

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// TestServiceDifferential runs the whole corpus through the whole service: the seeded workload
// of TestDifferential is written into a real SurrealDB whose tables carry Sp00ky-style events
// (each change bumps `_00_version` and `http::post`s the row to /ingest inside the writing
// transaction), a real `ssp serve` subprocess takes the ingests and registrations over HTTP,
// and its actors write the views' edge rows into the list_ref tables. At every checkpoint,
// once the SSP has nothing left to write, the edge rows must equal, row for row, the membership
// SurrealDB's own answers to the views imply (top-level rows, subquery rows with parent edge and
// parent_rel, versions from `_00_version`, clientId, auth_id, table per ref mode), in both ref
// modes. The views the service refuses must be exactly those the engine refuses.
//
// Views owned by a user (params.auth.id) follow SPEC §1.1: an ingested DELETE of the owner
// drops them (no edges), a registration while the owner is deleted is refused (409), and the
// test registers them again at the next checkpoint after the owner is created again.
func TestServiceDifferential(t *testing.T) {
	seeds := envInt(t, "DIFFTEST_SERVICE_SEEDS", serviceSeeds)
	steps := envInt(t, "DIFFTEST_SERVICE_STEPS", serviceSteps)
	every := envInt(t, "DIFFTEST_SERVICE_CHECK", serviceEvery)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute+time.Duration(seeds*steps)*100*time.Millisecond)
	defer cancel()
	bin, err := sspproc.Binary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sspproc.Cleanup)
	srv, err := devdb.Start(ctx, devdb.Options{AllowNet: true})
	if err != nil {
		t.Fatalf("devdb.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("devdb Close: %v", err)
		}
	})
	db := connect(t, ctx, srv, "svc", "setup")
	r, err := NewRunner(Options{DB: db, NewEngine: NewSSPEngine})
	if err != nil {
		t.Fatal(err)
	}
	engineRejects := engineRejections(r)
	serviceRejects := map[string]string{}
	start := time.Now()
	checks := 0
	for _, mode := range []sspproc.RefMode{sspproc.Dedicated, sspproc.Single} {
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			ok := t.Run(fmt.Sprintf("%s/seed%d", mode, seed), func(t *testing.T) {
				s := newServiceRun(t, ctx, srv, bin, r, mode, seed)
				checks += s.run(steps, every, engineRejects, serviceRejects)
			})
			if !ok {
				return
			}
		}
	}
	var eng, svc []string
	for id, err := range engineRejects {
		eng = append(eng, id+" ("+err+")")
	}
	for id, err := range serviceRejects {
		svc = append(svc, id+" ("+err+")")
	}
	sort.Strings(eng)
	sort.Strings(svc)
	t.Logf("%d views × %d seeds × %d writes, %d checkpoints in all, 2 ref modes, in %s; refused by the engine: %v; by the service: %v",
		len(r.views), seeds, steps, checks, time.Since(start).Round(time.Millisecond), eng, svc)
}

// engineRejections registers every corpus view with a fresh engine and returns those it
// refuses, with the error.
func engineRejections(r *Runner) map[string]string {
	out := map[string]string{}
	for _, c := range r.views {
		eng := engine.New(engine.Options{})
		if _, err := eng.Register(c.ID, c.SurQL, c.Params); err != nil {
			out[c.ID] = err.Error()
		}
	}
	return out
}

// serviceRun is one seed in one ref mode: its own database, SSP and checked views.
type serviceRun struct {
	t    *testing.T
	ctx  context.Context
	r    *Runner
	mode sspproc.RefMode
	seed uint64
	db   *surrealdb.DB // the workload's writes and the views' answers
	cdb  *conn.Conn    // the edge rows
	ssp  *sspproc.Proc
	rows map[string]value.Value // stored rows by record id, as read back

	waited   time.Duration // spent at checkpoints, waiting for the edge rows
	edges    int           // edge rows at the last checkpoint, and the most at any
	maxEdges int
	redone   int // registrations again after an owner came back

	registered map[string]bool // views the SSP holds now
	owned      map[string]bool // views refused or dropped because their owner was deleted
	deleted    map[string]bool // users whose DELETE the SSP ingested, and no change since
}

func newServiceRun(t *testing.T, ctx context.Context, srv *devdb.Server, bin string, r *Runner, mode sspproc.RefMode, seed uint64) *serviceRun {
	t.Helper()
	name := fmt.Sprintf("%s_%d", mode, seed)
	db := connect(t, ctx, srv, "svc", name)
	cdb, err := conn.Dial(ctx, conn.Config{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: "svc", DB: name})
	if err != nil {
		t.Fatalf("connect to database %s: %v", name, err)
	}
	t.Cleanup(func() { _ = cdb.Close(context.Background()) })
	ssp := sspproc.Start(t, sspproc.Config{Bin: bin, Secret: serviceSecret, Label: name, Env: map[string]string{
		"SPKY_DB_WS":                     srv.URL(),
		"SPKY_DB_USER":                   srv.User,
		"SPKY_DB_PASS":                   srv.Pass,
		"SPKY_DB_NS":                     "svc",
		"SPKY_DB_NAME":                   name,
		"SPKY_SSP_REF_MODE":              string(mode),
		"TTL_CLEANUP_INTERVAL_SECS":      "3600",
		"SPKY_METRICS_FLUSH_INTERVAL_MS": "500",
		"SPKY_LOG_LEVEL":                 "warn",
	}})
	// The schema goes in after the SSP listens: the events post to its address.
	if err := defineTables(ctx, db); err != nil {
		t.Fatal(err)
	}
	// Through the retrying connection: the SSP's bootstrap defines some of the same tables
	// meanwhile, and SurrealDB may answer either side with a write conflict (the statements
	// are idempotent, so conn retries them).
	rs, err := cdb.Query(ctx, sspproc.MetaSQL+serviceEvents(ssp.Base), nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		t.Fatalf("define the meta tables and events: %v", err)
	}
	ssp.WaitReady(time.Minute)
	return &serviceRun{t: t, ctx: ctx, r: r, mode: mode, seed: seed, db: db, cdb: cdb, ssp: ssp,
		rows: map[string]value.Value{}, registered: map[string]bool{}, owned: map[string]bool{}, deleted: map[string]bool{}}
}

// serviceEvents renders, for every workload table, the two events Sp00ky's CLI generates (as
// integration/e2e's eventsSQL does): on CREATE/UPDATE bump `_00_version` and post the row with
// `_00_rv` = that version to /ingest; on DELETE drop the `_00_version` row and post the row as it
// was. The tables are schemaless, so the row is posted whole: http::post's JSON spells records
// as "tb:key" text and datetimes as RFC 3339 text, as the CLI's `<string>` casts do.
func serviceEvents(endpoint string) string {
	post := fmt.Sprintf(`http::post('%s/ingest', $payload, { "Authorization": "Bearer %s" });`, endpoint, serviceSecret)
	var b strings.Builder
	for _, tb := range Tables {
		fmt.Fprintf(&b, `DEFINE EVENT OVERWRITE _00_%[1]s_mutation ON TABLE %[1]s WHEN $before != $after AND $event != "DELETE" THEN {
	LET $sp00ky_ver_rec = IF $event = "CREATE" {
		(CREATE _00_version SET record_id = $after.id, version = 1 RETURN AFTER)
	} ELSE {
		(UPDATE _00_version SET version += 1 WHERE record_id = $after.id RETURN AFTER)
	};
	LET $plain_after = object::extend($after, { _00_rv: (SELECT VALUE version FROM ONLY _00_version WHERE record_id = $after.id) });
	LET $payload = { table: '%[1]s', op: $event, id: <string>$after.id, record: $plain_after, hash: "" };
	%[2]s
};
DEFINE EVENT OVERWRITE _00_%[1]s_delete ON TABLE %[1]s WHEN $event = "DELETE" THEN {
	DELETE _00_version WHERE record_id = $before.id;
	LET $payload = { table: '%[1]s', op: "DELETE", id: <string>$before.id, record: $before, hash: "" };
	%[2]s
};
`, tb, post)
	}
	return b.String()
}

// owner is a view's params.auth.id spelled as a record, "" when it has none.
func owner(c *compiled) string {
	a := c.Params.Get("auth").Get("id")
	if a.Kind() != value.KindRecord {
		return ""
	}
	return value.RecordString(a)
}

func clientOf(c *compiled) string { return "client_" + c.ID }

// register registers c with the SSP over HTTP, as Sp00ky's fn::query::register does (params as
// a SurrealQL object literal), and checks the answer: 200, or 400 exactly when the engine
// refuses the view, or 409 while its owner is deleted.
func (s *serviceRun) register(c *compiled, engineRejects, serviceRejects map[string]string) {
	s.t.Helper()
	body := map[string]any{"id": "_00_query:" + c.ID, "surql": c.SurQL, "clientId": clientOf(c), "ttl": "1h"}
	if !c.Params.IsNone() {
		body["params"] = c.Params.SurQL()
	}
	code, resp, err := s.ssp.Do("POST", "/view/register", body)
	if err != nil {
		s.t.Fatalf("register %s: %v", c.ID, err)
	}
	_, engineRefuses := engineRejects[c.ID]
	switch {
	case code == 200 && !engineRefuses:
		s.registered[c.ID] = true
		delete(s.owned, c.ID)
	case code == 409 && s.deleted[owner(c)]:
		s.owned[c.ID] = true
	case code == 400:
		serviceRejects[c.ID] = resp
		if !engineRefuses {
			s.t.Errorf("the service refused view %s (%s), which the engine accepts: %s", c.ID, c.SurQL, resp)
		}
	default:
		s.t.Errorf("register %s (%s): status %d %s (the engine refuses it: %v; owner deleted: %v)", c.ID, c.SurQL, code, resp, engineRefuses, s.deleted[owner(c)])
	}
}

// run replays the seed's script and checks every `every` writes and at the end; it returns the
// number of checkpoints.
func (s *serviceRun) run(steps, every int, engineRejects, serviceRejects map[string]string) int {
	s.t.Helper()
	script := s.r.Schedule(s.seed, steps)
	empty := newBatch(nil)
	writes, checks := 0, 0
	for i, ev := range script {
		if ev.Register >= 0 {
			s.register(s.r.views[ev.Register], engineRejects, serviceRejects)
			continue
		}
		w := &script[i].Write
		res, err := runStep(s.ctx, s.db, w, empty)
		if err != nil {
			s.t.Fatalf("seed %d, event %d (%s %s): %v", s.seed, i, w.Op, value.RecordString(w.ID), err)
		}
		s.wrote(w, res.row)
		writes++
		if writes%every == 0 || writes == steps {
			s.checkpoint(engineRejects, serviceRejects, fmt.Sprintf("after write %d (event %d)", writes, i))
			checks++
		}
	}
	for _, m := range []string{"ssp_rv_wait_timeouts_total", "ssp_actor_restarts_total", "ssp_edge_write_failures_total"} {
		if v := s.ssp.Metric(m); v != 0 {
			s.t.Errorf("%s = %v, want 0", m, v)
		}
	}
	s.t.Logf("seed %d, %s: %d writes, %d ingests, %d views registered, %d registered again after their owner came back, %d checkpoints (%s waiting for the edges), %d edge rows at the end, at most %d",
		s.seed, s.mode, writes, int(s.ssp.Metric("ssp_ingest_total")), len(s.registered), s.redone, checks, s.waited.Round(time.Millisecond), s.edges, s.maxEdges)
	return checks
}

// wrote follows the stored rows and, for users, what the SSP knows of their deletion: the
// events post a change only when the row changed.
func (s *serviceRun) wrote(w *Write, raw any) {
	s.t.Helper()
	row, err := fromSurreal(raw)
	if err != nil {
		s.t.Fatalf("read back %s: %v", value.RecordString(w.ID), err)
	}
	rs := value.RecordString(w.ID)
	prev, existed := s.rows[rs]
	if row.IsNullish() {
		delete(s.rows, rs)
	} else {
		s.rows[rs] = row
	}
	if w.Table != "user" {
		return
	}
	switch {
	case row.IsNullish() && existed:
		s.deleted[rs] = true
		for _, c := range s.r.views {
			if s.registered[c.ID] && owner(c) == rs {
				delete(s.registered, c.ID)
				s.owned[c.ID] = true
			}
		}
	case !row.IsNullish() && (!existed || !value.Identical(prev, row)):
		delete(s.deleted, rs)
	}
}

// checkpoint registers again the owned views whose owner exists again, then waits until the
// SSP has nothing left to write and the edge rows equal SurrealDB's answers and are stable.
func (s *serviceRun) checkpoint(engineRejects, serviceRejects map[string]string, when string) {
	s.t.Helper()
	for _, c := range s.r.views {
		if s.owned[c.ID] && !s.deleted[owner(c)] {
			s.register(c, engineRejects, serviceRejects)
			s.redone++
		}
	}
	start := time.Now()
	defer func() { s.waited += time.Since(start) }()
	var active []*compiled
	for _, c := range s.r.views {
		if s.registered[c.ID] {
			active = append(active, c)
		}
	}
	b := newBatch(active)
	var prev []string
	wait.For(s.t, serviceConverge, 50*time.Millisecond, func() (bool, string) {
		if d := s.ssp.Metric("ssp_mailbox_depth"); d != 0 {
			return false, fmt.Sprintf("%s: the SSP still has %v items to write", when, d)
		}
		exp, err := s.expect(b)
		if err != nil {
			s.t.Fatalf("%s: oracle: %v", when, err)
		}
		snap, err := sspproc.ReadEdges(s.ctx, s.cdb)
		if err != nil {
			s.t.Fatalf("%s: read edges: %v", when, err)
		}
		diffs := sspproc.DiffEdges(exp, snap)
		text := sspproc.RowsText(snap, true)
		stable := prev != nil && len(sspproc.DiffLines(prev, text)) == 0
		prev = text
		s.edges = len(text)
		s.maxEdges = max(s.maxEdges, s.edges)
		if len(diffs) > 0 {
			return false, fmt.Sprintf("seed %d, %s mode, %s: %d differences between the edge rows and SurrealDB's answers:\n%s",
				s.seed, s.mode, when, len(diffs), sspproc.Head(diffs, 40))
		}
		return stable, when + ": edge rows still changing"
	})
}

// expect runs the views of b on SurrealDB and turns each answer into the edges it implies:
// the members FromResult reads off it, each at its `_00_version`.
func (s *serviceRun) expect(b *batch) (map[string]*sspproc.Expected, error) {
	res, err := runStep(s.ctx, s.db, nil, b)
	if err != nil {
		return nil, err
	}
	vres, err := surrealdb.Query[[]map[string]any](s.ctx, s.db, "SELECT record_id, version FROM _00_version", nil)
	if err != nil {
		return nil, fmt.Errorf("read _00_version: %w", err)
	}
	versions := map[string]int64{}
	for _, r := range (*vres)[0].Result {
		id, err := fromSurreal(r["record_id"])
		if err != nil {
			return nil, err
		}
		v, err := fromSurreal(r["version"])
		if err != nil || v.Kind() != value.KindInt {
			return nil, fmt.Errorf("_00_version of %s: %v (%v)", value.RecordString(id), r["version"], err)
		}
		versions[value.RecordString(id)] = v.AsInt()
	}
	out := map[string]*sspproc.Expected{}
	for i, c := range b.views {
		m, err := FromResult(c.sel, res.views[i])
		if err != nil {
			return nil, fmt.Errorf("view %s: %w", c.ID, err)
		}
		e := &sspproc.Expected{Table: sspproc.TableFor(s.mode, owner(c)), Client: clientOf(c), Owner: owner(c),
			Members: map[sspproc.Member]int64{}, Top: map[string]bool{}}
		for k := range m {
			ver, ok := versions[k.Key]
			if !ok {
				return nil, fmt.Errorf("view %s: member %s has no _00_version row", c.ID, k.Key)
			}
			e.Members[sspproc.Member{Parent: k.Parent, Rel: k.Rel, Key: k.Key}] = ver
			if k.Parent == "" {
				e.Top[k.Key] = true
			}
		}
		out[c.ID] = e
	}
	return out, nil
}
