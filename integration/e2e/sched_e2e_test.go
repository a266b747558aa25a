package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/integration/testscheduler"
	"github.com/sp00ky/ssp/surreal/conn"
)

// TestSchedWorkload is scheduler mode end to end: three `ssp serve` processes behind the test
// scheduler, a seeded workload written into SurrealDB whose events post to the scheduler, and
// the corpus's views registered through the scheduler, which spreads them over the SSPs. The
// edge rows of all SSPs together must be SurrealDB's own answers, row for row, with every view
// served by the SSP it was assigned to. Then a fourth SSP joins while the writes go on: it
// bootstraps from the scheduler's frozen snapshot, gets what arrived meanwhile replayed, takes
// the views registered next, and the rows are exact again.
func TestSchedWorkload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newSchedCluster(t, ctx, "sched_wl", testscheduler.Options{}, nil)

	gen := newGenerator(11)
	r := &runner{db: c.db, writers: 3}
	if err := r.run(ctx, gen.owners()); err != nil {
		t.Fatal(err)
	}
	writes := make([]write, 450)
	for i := range writes {
		writes[i] = gen.next()
	}
	// The first writes reach the SSPs through the scheduler's snapshot, the rest as ingests.
	if err := r.run(ctx, writes[:100]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.sched.ApplyNow(ctx); err != nil {
		t.Fatal(err)
	}
	c.startSSPs("ssp-1", "ssp-2", "ssp-3")
	views := corpus()
	for _, v := range views[:len(views)/2] {
		c.register(v)
	}
	if err := r.run(ctx, writes[100:200]); err != nil {
		t.Fatal(err)
	}
	for _, v := range views[len(views)/2:] {
		c.register(v)
	}
	if err := r.run(ctx, writes[200:300]); err != nil {
		t.Fatal(err)
	}
	c.converge(views)
	shares := c.shares(views)
	for _, id := range []string{"ssp-1", "ssp-2", "ssp-3"} {
		if shares[id] < 4 {
			t.Errorf("the views were not spread over the SSPs: %v", shares)
		}
		if n := c.ssp(id).Metric("ssp_bootstrap_rows"); n == 0 {
			t.Errorf("SSP %s loaded no rows from the scheduler's snapshot", id)
		}
	}
	t.Logf("three SSPs exact: %d writes, %d events, views per SSP %v", r.done.Load(), c.sched.Seq(), shares)

	// A fourth SSP registers while the writers go on.
	if _, err := c.sched.ApplyNow(ctx); err != nil {
		t.Fatal(err)
	}
	snap := c.sched.SnapshotSeq()
	base := r.done.Load()
	done := make(chan error, 1)
	go func() { done <- r.run(ctx, writes[300:]) }()
	waitFor(t, time.Minute, 5*time.Millisecond, func() (bool, string) {
		return r.done.Load()-base >= 10, "the writers did not start"
	})
	c.startSSP("ssp-4", nil)
	c.waitSchedReady("ssp-4")
	late := lateViews()
	for _, v := range late {
		if got := c.register(v); got != "ssp-4" {
			t.Errorf("view %s went to %s, want the SSP with the fewest views, ssp-4", v.Key, got)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	info, _ := c.sched.SSP("ssp-4")
	replayed := 0
	for _, rq := range c.sched.Requests("ssp-4") {
		if rq.Kind == testscheduler.KindReplay || rq.Kind == testscheduler.KindDrain {
			replayed++
		}
	}
	if info.SnapshotSeq != snap || replayed == 0 {
		t.Fatalf("ssp-4 got snapshot %d (want %d, the frozen replica) and %d replayed events: it did not bootstrap while ingests went on",
			info.SnapshotSeq, snap, replayed)
	}
	all := append(views, late...)
	c.converge(all)
	t.Logf("four SSPs exact: ssp-4 bootstrapped from snapshot %d with %d events replayed; %d writes in all, views per SSP %v",
		snap, replayed, r.done.Load(), c.shares(all))
}

// lateViews are views registered after a fourth SSP joined: more of the corpus's shapes under
// new keys.
func lateViews() []view {
	byKey := map[string]view{}
	for _, v := range corpus() {
		byKey[v.Key] = v
	}
	var out []view
	for _, k := range []string{"hot", "recent", "bob_mine"} {
		v := byKey[k]
		v.Key, v.Client = "late_"+k, "client-late_"+k
		out = append(out, v)
	}
	return out
}

// TestSchedResync forces a heartbeat answer of 404, of 409 as plain text and of 409 as JSON on
// one of two SSPs that hold 10k rows, while writes go on. Each time the SSP must register
// again and re-bootstrap in process — keeping its views, losing no change (the scheduler
// buffers for it from its new registration on) — while the other SSP keeps taking every
// fan-out, and the edge rows end exact. The time from the forced answer to the SSP being ready
// again in the scheduler's pool is logged with the SSP's own account of its re-bootstrap.
func TestSchedResync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const items = 10_000
	c := newSchedCluster(t, ctx, "sched_resync", testscheduler.Options{}, func(db *conn.Conn, url string) {
		seedItems(t, ctx, db, url, items)
	})
	c.startSSPs("ssp-1", "ssp-2")
	for _, id := range []string{"ssp-1", "ssp-2"} {
		p := c.ssp(id)
		t.Logf("%s bootstrapped %v rows through the proxy in %.2fs", id, p.Metric("ssp_bootstrap_rows"), p.Metric("ssp_bootstrap_duration_seconds"))
	}
	gen := newGenerator(23)
	r := &runner{db: c.db, writers: 3}
	if err := r.run(ctx, gen.owners()); err != nil {
		t.Fatal(err)
	}
	views := append(itemViews(), corpus()[:8]...)
	for _, v := range views {
		c.register(v)
	}
	n := 0
	next := func() write {
		n++
		if n%3 == 0 {
			return itemWrite(gen, items)
		}
		return gen.next()
	}
	stop := r.background(ctx, next)
	waitFor(t, time.Minute, 10*time.Millisecond, func() (bool, string) { return r.done.Load() > 60, "writes" })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c.converge(views)

	const target, other = "ssp-1", "ssp-2"
	p, q := c.ssp(target), c.ssp(other)
	held := c.shares(views)[target]
	if held == 0 {
		t.Fatalf("%s holds no view: %v", target, c.shares(views))
	}
	for i, answer := range []testscheduler.HeartbeatAnswer{
		{Status: 404},
		{Status: 409, Reason: "Buffer overflow detected. SSP needs to re-bootstrap."},
		{Status: 409, JSON: true, Reason: "resync requested", Clean: false},
	} {
		// As the scheduler's periodic updater does: the replay after the re-registration is then
		// only what arrives during the re-bootstrap.
		if _, err := c.sched.ApplyNow(ctx); err != nil {
			t.Fatal(err)
		}
		regs := len(p.debugScheduler().Registrations)
		otherRegs := len(q.debugScheduler().Registrations)
		// One writer keeps changes coming without making the replay after the re-bootstrap the
		// bulk of the test's time.
		r := &runner{db: c.db, writers: 1}
		base := r.done.Load()
		stop := r.background(ctx, next)
		waitFor(t, time.Minute, 5*time.Millisecond, func() (bool, string) { return r.done.Load()-base >= 10, "the writes did not start" })
		forced := time.Now()
		c.sched.ForceHeartbeat(target, answer)
		var t0, ready, pooled time.Time
		waitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
			for _, hb := range c.sched.Heartbeats(target) {
				if hb.At.After(forced) && hb.Answer == answer.Status {
					t0 = hb.At
					return true, ""
				}
			}
			return false, "no heartbeat got the forced answer"
		})
		// Ready again: the SSP's /health once its new registration is through (the root starts
		// the re-bootstrap before it answers anything asked later), and the scheduler's pool
		// once it polled that health and replayed what it buffered.
		waitFor(t, 90*time.Second, 5*time.Millisecond, func() (bool, string) {
			now := time.Now()
			if ready.IsZero() {
				st := p.debugScheduler()
				if n := len(st.Registrations); n == regs+1 && st.Registrations[n-1].Result == "ok" {
					if code, _ := p.health(); code == http.StatusOK {
						ready = now
					}
				}
			}
			info, _ := c.sched.SSP(target)
			if pooled.IsZero() && info.RegisteredAt.After(t0) && info.Status == testscheduler.SSPReady {
				pooled = now
			}
			return !ready.IsZero() && !pooled.IsZero(), fmt.Sprintf("%s: ready %v, in the pool as %s", target, !ready.IsZero(), info.Status)
		})
		t1 := pooled
		// Writes go on a little after it is back, then the rows must be exact.
		base = r.done.Load()
		waitFor(t, time.Minute, 5*time.Millisecond, func() (bool, string) { return r.done.Load()-base >= 10, "the writes stopped" })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		served := fanouts(c.sched, other, t0, t1)
		if len(served) != 1 || served[http.StatusOK] == 0 {
			t.Errorf("%s while %s re-bootstrapped: fan-outs by answer %v, want only 200s and at least one", other, target, served)
		}
		c.converge(views)

		st := p.debugScheduler()
		if len(st.Registrations) != regs+1 {
			t.Errorf("%s: %d registrations after the forced %d, want %d", target, len(st.Registrations), answer.Status, regs+1)
		}
		if n := len(q.debugScheduler().Registrations); n != otherRegs {
			t.Errorf("%s registered again (%d registrations, was %d)", other, n, otherRegs)
		}
		if got := c.shares(views)[target]; got != held {
			t.Errorf("%s holds %d views after the re-bootstrap, want %d", target, got, held)
		}
		label := map[int]string{404: `reason="heartbeat_404"`, 409: `reason="heartbeat_409"`}[answer.Status]
		want := map[int]float64{0: 1, 1: 1, 2: 2}[i]
		if got := p.metricWith("ssp_rebootstraps_total", label); got != want {
			t.Errorf("ssp_rebootstraps_total{%s} = %v, want %v", label, got, want)
		}
		t.Logf("forced %d (json %v) at %d rows: /health ready again %s after the answer, ready in the scheduler's pool after %s "+
			"(the registration took %.3fs, the re-bootstrap job %.3fs); %s took %d fan-outs meanwhile",
			answer.Status, answer.JSON, int(p.Metric("ssp_bootstrap_rows")), ready.Sub(t0).Round(time.Millisecond),
			pooled.Sub(t0).Round(time.Millisecond), st.Registrations[len(st.Registrations)-1].DurationSeconds,
			p.Metric("ssp_bootstrap_duration_seconds"), other, served[http.StatusOK])
	}
}

// TestSchedKillRestart SIGKILLs one of two SSPs while writes go on and starts it again with the
// same SPKY_SSP_ID. Meanwhile the scheduler's fan-outs to it fail and its replica moves past
// what the dead SSP missed; the new process registers, loads the newer snapshot, gets the rest
// replayed, restores the views its `_00_query` rows name it for, reconciles their edges, and
// the rows are exact.
func TestSchedKillRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newSchedCluster(t, ctx, "sched_kill", testscheduler.Options{}, nil)
	gen := newGenerator(31)
	r := &runner{db: c.db, writers: 3}
	if err := r.run(ctx, gen.owners()); err != nil {
		t.Fatal(err)
	}
	c.startSSPs("ssp-1", "ssp-2")
	views := corpus()
	for _, v := range views {
		c.register(v)
	}
	held := c.shares(views)["ssp-1"]
	writes := make([]write, 360)
	for i := range writes {
		writes[i] = gen.next()
	}
	base := r.done.Load()
	done := make(chan error, 1)
	go func() { done <- r.run(ctx, writes) }()
	reach := func(n int64) {
		t.Helper()
		waitFor(t, time.Minute, 5*time.Millisecond, func() (bool, string) {
			return r.done.Load()-base >= n, fmt.Sprintf("the writers did not reach %d writes", n)
		})
	}
	reach(80)
	c.ssp("ssp-1").Kill()
	killed := time.Now()
	reach(160)
	// The replica moves past the events the dead SSP missed: the new process gets them from
	// the snapshot, not from a replay.
	if _, err := c.sched.ApplyNow(ctx); err != nil {
		t.Fatal(err)
	}
	reach(200)
	restarted := time.Now()
	c.startSSP("ssp-1", nil)
	c.waitSchedReady("ssp-1")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	missed := fanouts(c.sched, "ssp-1", killed, restarted)
	if missed[0] == 0 {
		t.Fatalf("no fan-out to ssp-1 failed while it was down (%v): the kill tested nothing", missed)
	}
	c.converge(views)
	p := c.ssp("ssp-1")
	if got := c.shares(views)["ssp-1"]; got != held || held == 0 {
		t.Errorf("ssp-1 holds %d views after the restart, held %d before", got, held)
	}
	st := p.debugScheduler()
	t.Logf("ssp-1 killed after 80 writes, %d fan-outs to it failed while down; restarted with snapshot %d (%v rows), %d views restored; %d writes in all",
		missed[0], st.SnapshotSeq, p.Metric("ssp_bootstrap_rows"), held, r.done.Load())
}

// TestSchedReassign registers a view again on another SSP (the scheduler's Reassign: the old
// SSP is not told). The new SSP claims it and writes its edges; the old one must notice at its
// next write of the view, drop it without touching the edges, and write no edge of it again;
// the rows stay exact, and the old SSP takes new views afterwards.
func TestSchedReassign(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newSchedCluster(t, ctx, "sched_move", testscheduler.Options{}, nil)
	gen := newGenerator(41)
	r := &runner{db: c.db, writers: 3}
	writes := gen.owners()
	for range 60 {
		writes = append(writes, gen.next())
	}
	if err := r.run(ctx, writes); err != nil {
		t.Fatal(err)
	}
	c.startSSPs("ssp-1", "ssp-2")
	byKey := map[string]view{}
	for _, v := range corpus() {
		byKey[v.Key] = v
	}
	mover, stay, later := byKey["hot"], byKey["recent"], byKey["bob_mine"]
	if got := c.register(mover); got != "ssp-1" {
		t.Fatalf("view %s went to %s, want ssp-1 (ties go to the smallest id)", mover.Key, got)
	}
	if got := c.register(stay); got != "ssp-2" {
		t.Fatalf("view %s went to %s, want ssp-2", stay.Key, got)
	}
	views := []view{mover, stay}
	more := func(n int) {
		t.Helper()
		ws := make([]write, n)
		for i := range ws {
			ws[i] = gen.next()
		}
		if err := r.run(ctx, ws); err != nil {
			t.Fatal(err)
		}
	}
	more(40)
	c.converge(views)

	old := c.ssp("ssp-1")
	if err := c.sched.Reassign(ctx, mover.Key, "ssp-2"); err != nil {
		t.Fatal(err)
	}
	// ssp-1 learns of the move from its next edge transaction for the view.
	stop := r.background(ctx, gen.next)
	waitFor(t, time.Minute, 20*time.Millisecond, func() (bool, string) {
		code, _, err := old.Do("GET", "/debug/view/"+mover.Key, nil)
		return err == nil && code == http.StatusNotFound, fmt.Sprintf("ssp-1 still holds %s (%d %v)", mover.Key, code, err)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	waitWritersIdle(t, old)
	// ssp-1 holds no view now: whatever changes, it writes no edge.
	edges := old.Metric("ssp_edge_writes_total")
	more(60)
	c.converge(views)
	if got := old.Metric("ssp_edge_writes_total"); got != edges {
		t.Errorf("ssp-1 wrote %v edges after it dropped the moved view (it holds none)", got-edges)
	}
	if got := old.Metric("ssp_views_moved_total"); got != 1 {
		t.Errorf("ssp_views_moved_total on ssp-1 = %v, want 1", got)
	}

	// The old owner keeps serving: the next view goes to it.
	if got := c.register(later); got != "ssp-1" {
		t.Errorf("view %s went to %s, want ssp-1 (the fewest views)", later.Key, got)
	}
	views = append(views, later)
	more(40)
	c.converge(views)
}

// TestSchedStartFailures is what an SSP does when its start in scheduler mode goes wrong. The
// cases run in parallel, each with its own database, scheduler and SSP process.
func TestSchedStartFailures(t *testing.T) {
	// small starts a cluster whose snapshot holds a little of the workload.
	small := func(t *testing.T, ctx context.Context, prefix string) (*schedCluster, *runner, *generator) {
		c := newSchedCluster(t, ctx, prefix, testscheduler.Options{}, nil)
		gen := newGenerator(53)
		r := &runner{db: c.db, writers: 2}
		ws := gen.owners()
		for range 40 {
			ws = append(ws, gen.next())
		}
		if err := r.run(ctx, ws); err != nil {
			t.Fatal(err)
		}
		if _, err := c.sched.ApplyNow(ctx); err != nil {
			t.Fatal(err)
		}
		return c, r, gen
	}
	// serves registers a few views through the scheduler, writes, and checks the rows.
	serves := func(t *testing.T, ctx context.Context, c *schedCluster, r *runner, gen *generator) {
		views := corpus()[:4]
		for _, v := range views {
			c.register(v)
		}
		ws := make([]write, 40)
		for i := range ws {
			ws[i] = gen.next()
		}
		if err := r.run(ctx, ws); err != nil {
			t.Fatal(err)
		}
		c.converge(views)
	}
	// failed waits until the SSP says failed on /health and the scheduler dropped it, and
	// returns the reason the SSP gives in /debug/actors.
	failed := func(t *testing.T, c *schedCluster, p *sspProc) string {
		waitFor(t, time.Minute, 20*time.Millisecond, func() (bool, string) {
			code, body := p.health()
			return code == http.StatusServiceUnavailable && strings.Contains(body, `"failed"`), fmt.Sprintf("/health %d %s", code, body)
		})
		waitFor(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
			_, in := c.sched.SSP(p.id)
			return !in, "the scheduler still has the failed SSP in its pool"
		})
		select {
		case <-p.Done:
			t.Fatalf("the failed SSP exited (%v); it should stay up to say why", p.Exited)
		default:
		}
		_, body := p.health()
		detail := p.rootDetail()
		t.Logf("/health: %s; why, in /debug/actors: %s", strings.TrimSpace(body), detail)
		return detail
	}

	t.Run("hash mismatch once", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, r, gen := small(t, ctx, "sched_hash1")
		c.sched.LieTableHash("thread", false)
		p := c.startSSPs("ssp-1")[0]
		st := p.debugScheduler()
		if len(st.Registrations) != 2 {
			t.Errorf("%d registrations, want 2: the lying snapshot, loaded twice, then a fresh one", len(st.Registrations))
		}
		if logs := p.Logs.String(); !strings.Contains(logs, "mismatch") || !strings.Contains(logs, "table=thread") {
			t.Errorf("the log does not name the mismatching table thread:\n%s", logs)
		}
		serves(t, ctx, c, r, gen)
	})

	t.Run("hash mismatch always", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, _, _ := small(t, ctx, "sched_hash2")
		c.sched.LieTableHash("thread", true)
		p := c.startSSP("ssp-1", nil)
		detail := failed(t, c, p)
		if !strings.Contains(detail, "thread: expected") {
			t.Errorf("failed without naming the table: %q", detail)
		}
		if logs := p.Logs.String(); !strings.Contains(logs, "status=failed") || !strings.Contains(logs, "thread: expected") {
			t.Errorf("the log does not say failed naming thread:\n%s", logs)
		}
	})

	t.Run("scheduler down at start", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// The scheduler's address answers nothing: every connection is closed at once.
		down, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				conn, err := down.Accept()
				if err != nil {
					return
				}
				_ = conn.Close()
			}
		}()
		c := newSchedDB(t, ctx, "sched_down")
		c.url = "http://" + down.Addr().String()
		exec1(t, ctx, c.db, schemaSQL(c.url, false), nil)
		p := c.startSSP("ssp-1", nil)
		waitFor(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
			// Right after the start the link may not be spawned yet: /debug/scheduler then
			// answers 500 (dead letter), an SSP defect reported separately.
			code, body, err := p.Do("GET", "/debug/scheduler", nil)
			if err != nil || code != http.StatusOK {
				return false, fmt.Sprintf("/debug/scheduler %d %v %s", code, err, body)
			}
			var st schedState
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatal(err)
			}
			n := len(st.Registrations)
			return n > 0 && st.Registrations[n-1].Attempts >= 2 && st.Registrations[n-1].Result == "in_progress",
				fmt.Sprintf("registrations %+v", st.Registrations)
		})
		if code, body := p.health(); code != http.StatusServiceUnavailable || !strings.Contains(body, "bootstrapping") {
			t.Fatalf("/health while the scheduler is down: %d %s, want 503 bootstrapping", code, body)
		}
		_ = down.Close()
		c.startScheduler(testscheduler.Options{Addr: strings.TrimPrefix(c.url, "http://")})
		c.waitSchedReady("ssp-1")
		st := p.debugScheduler()
		last := st.Registrations[len(st.Registrations)-1]
		if len(st.Registrations) != 1 || last.Result != "ok" || last.Attempts < 3 {
			t.Errorf("registrations %+v: want one, ok after at least 3 attempts", st.Registrations)
		}
		r := &runner{db: c.db, writers: 2}
		gen := newGenerator(59)
		if err := r.run(ctx, gen.owners()); err != nil {
			t.Fatal(err)
		}
		serves(t, ctx, c, r, gen)
		t.Logf("registered after %d attempts in %.1fs", last.Attempts, last.DurationSeconds)
	})

	t.Run("4xx on register", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, _, _ := small(t, ctx, "sched_refused")
		c.sched.FailRegistrations(-1, http.StatusForbidden)
		p := c.startSSP("ssp-1", nil)
		detail := failed(t, c, p)
		const msg = "Registration refused (test switch)"
		if !strings.Contains(detail, msg) || !strings.Contains(detail, "403") {
			t.Errorf("failed without the scheduler's answer: %q", detail)
		}
		if st := p.debugScheduler(); !strings.Contains(st.LastError, msg) {
			t.Errorf("/debug/scheduler last_error %q lacks the scheduler's answer", st.LastError)
		}
		if logs := p.Logs.String(); !strings.Contains(logs, "level=error") || !strings.Contains(logs, msg) {
			t.Errorf("the log has no error with the scheduler's answer:\n%s", logs)
		}
	})
}
