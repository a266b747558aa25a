package testscheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/tablehash"
	"github.com/sp00ky/ssp/surreal/value"
)

// Events that arrive while an SSP bootstraps sit in the global buffer and in its own buffer:
// the replay sends the global buffer's events after its snapshot, then drains its buffer, so
// those events reach it twice, each pass in seq order. An event that arrives during the
// replay is only in its buffer (once); events after it is ready are fanned out (once).
func TestReplayDoubleDelivery(t *testing.T) {
	s, _ := start(t, "", Options{})
	ing := func(n int) { ingest(t, s, "item", "CREATE", "item:"+itoa(n), map[string]any{"n": n}) }
	ing(1)
	ing(2)
	if seq, err := s.ApplyNow(testCtx(t)); err != nil || seq != 2 {
		t.Fatalf("ApplyNow = %d, %v", seq, err)
	}
	ing(3)
	ing(4) // in the global buffer, not applied: the SSP gets them by replay only

	f := newFakeSSP(t, "ssp-a")
	if a := f.register(t, s); a.SnapshotSeq != 2 {
		t.Fatalf("snapshot_seq %d, want 2", a.SnapshotSeq)
	}
	ing(5)
	ing(6) // during the bootstrap: global buffer and ssp-a's buffer
	if p, _ := s.SSP("ssp-a"); !slices.Equal(p.Buffered, seqList(5, 6)) {
		t.Fatalf("ssp-a buffer %v, want [5 6]", p.Buffered)
	}
	// Event 7 arrives while the replay runs (the first replayed event triggers it).
	var once sync.Once
	f.set(func(f *fakeSSP) {
		f.onIngest = func(r ingestReq) {
			if r.ID == "item:3" {
				once.Do(func() { ing(7) })
			}
		}
		f.health = "ready"
	})
	waitFor(t, "ssp-a ready", func() bool { p, _ := s.SSP("ssp-a"); return p.Status == SSPReady })
	ing(8)

	want := seqList(3, 4, 5, 6, 5, 6, 7, 8)
	if got := s.Ingests("ssp-a"); !slices.Equal(got, want) {
		t.Fatalf("seqs sent to ssp-a %v, want %v", got, want)
	}
	kinds := []string{}
	for _, r := range s.Requests("ssp-a") {
		kinds = append(kinds, r.Kind)
	}
	wantKinds := []string{KindReplay, KindReplay, KindReplay, KindReplay, KindDrain, KindDrain, KindDrain, KindFanout}
	if !slices.Equal(kinds, wantKinds) {
		t.Errorf("request kinds %v, want %v", kinds, wantKinds)
	}
	wantIDs := []string{"item:3", "item:4", "item:5", "item:6", "item:5", "item:6", "item:7", "item:8"}
	if got := f.receivedIDs(); !slices.Equal(got, wantIDs) {
		t.Errorf("ssp-a received %v, want %v", got, wantIDs)
	}
	if got := s.Status(); got != StatusReady {
		t.Errorf("status %s after the bootstrap, want ready (unfrozen)", got)
	}
	if seq, err := s.ApplyNow(testCtx(t)); err != nil || seq != 8 {
		t.Errorf("ApplyNow after the bootstrap = %d, %v; want 8", seq, err)
	}
}

func TestBufferOverflow(t *testing.T) {
	s, _ := start(t, "", Options{BufferMax: 3})
	f := newFakeSSP(t, "ssp-a")
	f.register(t, s)
	for i := 1; i <= 3; i++ {
		ingest(t, s, "item", "CREATE", "item:"+itoa(i), map[string]any{})
	}
	if p, _ := s.SSP("ssp-a"); len(p.Buffered) != 3 || p.Flagged {
		t.Fatalf("after 3 events: %+v", p)
	}
	ingest(t, s, "item", "CREATE", "item:4", map[string]any{})
	p, _ := s.SSP("ssp-a")
	if len(p.Buffered) != 0 || !p.Flagged || p.FlagReason != ReasonOverflow {
		t.Fatalf("after the 4th event: buffer %v flagged %v (%q); want cleared and flagged", p.Buffered, p.Flagged, p.FlagReason)
	}
	f.set(func(f *fakeSSP) { f.health = "ready" })
	waitFor(t, "ssp-a ready", func() bool { p, _ := s.SSP("ssp-a"); return p.Status == SSPReady })
	if st, body := f.heartbeat(t, s, 0); st != 409 || body != ReasonOverflow {
		t.Fatalf("heartbeat after overflow: %d %q, want 409 text", st, body)
	}
	s.SetConflictJSON(true)
	st, body := f.heartbeat(t, s, 0)
	var c struct {
		Reason string `json:"reason"`
		Clean  *bool  `json:"clean"`
	}
	if st != 409 || json.Unmarshal([]byte(body), &c) != nil || c.Reason != ReasonOverflow || c.Clean == nil {
		t.Fatalf("heartbeat after overflow (JSON form): %d %q", st, body)
	}
	// Registering again gives a fresh snapshot and clears the flag.
	f.set(func(f *fakeSSP) { f.health = "bootstrapping" })
	f.readyUp(t, s)
	if st, body := f.heartbeat(t, s, 0); st != 200 {
		t.Fatalf("heartbeat after re-registration: %d %q", st, body)
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	s, _ := start(t, "", Options{HeartbeatTimeout: 800 * time.Millisecond})
	silent := newFakeSSP(t, "ssp-silent")
	alive := newFakeSSP(t, "ssp-alive")
	silent.readyUp(t, s)
	alive.readyUp(t, s)
	for i, id := range []string{"v1", "v2"} {
		if st, body := post(t, s.URL()+"/view/register", map[string]any{"id": id, "surql": "SELECT * FROM t", "clientId": "c", "ttl": "1m"}); st != 200 {
			t.Fatalf("view %d: %d %s", i, st, body)
		}
	}
	if got := s.Assignments(); got["v1"] == got["v2"] {
		t.Fatalf("fewest-views strategy put both views on one SSP: %v", got)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		for ctx.Err() == nil {
			alive.heartbeat(t, s, 1)
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	waitFor(t, "the silent SSP removed", func() bool { _, ok := s.SSP("ssp-silent"); return !ok })
	cancel()
	<-beats
	if _, ok := s.SSP("ssp-alive"); !ok {
		t.Fatal("the SSP that heartbeats was removed too")
	}
	got := s.Assignments()
	if len(got) != 1 || slices.Contains(mapsValues(got), "ssp-silent") {
		t.Errorf("assignments after the removal %v, want only ssp-alive's view left", got)
	}
	if st, _ := silent.heartbeat(t, s, 1); st != 404 {
		t.Errorf("heartbeat of the removed SSP: %d, want 404", st)
	}
}

func mapsValues(m map[string]string) []string {
	out := []string{}
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestStickyAssignment(t *testing.T) {
	s, _ := start(t, "", Options{})
	a := newFakeSSP(t, "ssp-a")
	b := newFakeSSP(t, "ssp-b")
	a.readyUp(t, s)
	b.readyUp(t, s)
	reg := func(id, surql string) string {
		t.Helper()
		st, body := post(t, s.URL()+"/view/register", map[string]any{"id": id, "surql": surql, "clientId": "c", "ttl": "1m"})
		var ans map[string]string
		if st != 200 || json.Unmarshal([]byte(body), &ans) != nil {
			t.Fatalf("register %s: %d %s", id, st, body)
		}
		return ans["ssp_id"]
	}
	if got := reg("_00_query:v1", "SELECT * FROM t"); got != "ssp-a" {
		t.Fatalf("v1 on %s, want ssp-a (fewest views, then id)", got)
	}
	if got := reg("v2", "SELECT * FROM t"); got != "ssp-b" {
		t.Fatalf("v2 on %s, want ssp-b (fewest views)", got)
	}
	if got := reg("v3", "SELECT * FROM t"); got != "ssp-a" {
		t.Fatalf("v3 on %s, want ssp-a", got)
	}
	// ssp-a has two views, ssp-b one: the strategy alone would move v1; sticky keeps it.
	for _, id := range []string{"v1", "query:v1", "_00_query:⟨v1⟩"} {
		if got := reg(id, "SELECT * FROM t WHERE x = 1"); got != "ssp-a" {
			t.Errorf("re-registering %s landed on %s, want ssp-a (sticky)", id, got)
		}
	}
	if n := len(b.views()); n != 1 {
		t.Errorf("ssp-b was sent %d view requests, want 1", n)
	}

	// The upstream defect, switched on: a re-registration moves to another SSP.
	s.SetDefects(Defects{ReRegisterMoves: true})
	if got := reg("v1", "SELECT * FROM t"); got != "ssp-b" {
		t.Errorf("with ReRegisterMoves, v1 landed on %s, want ssp-b", got)
	}
	s.SetDefects(Defects{})

	// An explicit move: the new SSP gets the last registration body, the old one is not told.
	before := len(a.views())
	if err := s.Reassign(testCtx(t), "v3", "ssp-b"); err != nil {
		t.Fatal(err)
	}
	if got := s.Assignments()["v3"]; got != "ssp-b" {
		t.Errorf("v3 after Reassign on %s", got)
	}
	last := b.views()[len(b.views())-1]
	if last.Path != "/view/register" || last.Body["id"] != "v3" {
		t.Errorf("Reassign sent %+v to ssp-b", last)
	}
	if len(a.views()) != before {
		t.Errorf("the old SSP was sent %d requests by Reassign", len(a.views())-before)
	}
	if err := s.Reassign(testCtx(t), "nope", "ssp-a"); err == nil {
		t.Error("Reassign of an unknown view succeeded")
	}
	b.set(func(f *fakeSSP) { f.viewStatus = 500 })
	if err := s.Reassign(testCtx(t), "v1", "ssp-a"); err != nil {
		t.Fatal(err)
	}
	a.set(func(f *fakeSSP) { f.viewStatus = 500 })
	if err := s.Reassign(testCtx(t), "v1", "ssp-b"); err == nil || s.Assignments()["v1"] != "ssp-a" {
		t.Errorf("a refused Reassign: err %v, v1 on %s (want kept on ssp-a)", err, s.Assignments()["v1"])
	}
}

// An SSP bootstrapping through the proxy with keyset pages sees exactly the snapshot taken at
// its registration, whatever ingests and updater ticks happen meanwhile; its rows hash to
// the table_hashes it was given. Once it is ready the replica moves on.
func TestProxyPagingReadsTheFrozenSnapshot(t *testing.T) {
	var setup strings.Builder
	for i := range 23 {
		fmt.Fprintf(&setup, "CREATE item:⟨k%02d⟩ SET n = %d, at = d'2026-01-01T00:00:%02dZ', f = %d.5;\n", i, i, i, i)
	}
	setup.WriteString("CREATE item:1 SET n = -1; CREATE item:2 SET n = -2;")
	s, src := start(t, setup.String(), Options{UpdateInterval: 10 * time.Millisecond})
	ingest(t, s, "item", "CREATE", "item:⟨k99⟩", map[string]any{"n": 99}) // before: applied by the updater
	waitFor(t, "the updater to apply seq 1", func() bool { return s.SnapshotSeq() == 1 })

	snapshot := proxyRows(t, s, "SELECT * FROM item")
	if len(snapshot) != 26 {
		t.Fatalf("replica has %d items, want 26", len(snapshot))
	}
	f := newFakeSSP(t, "ssp-a")
	ans := f.register(t, s)
	if ans.SnapshotSeq != 1 {
		t.Fatalf("snapshot_seq %d, want 1", ans.SnapshotSeq)
	}
	if want := tablehash.Hash("item", snapshot); ans.TableHashes["item"] != want {
		t.Errorf("table_hashes[item] %s, want %s", ans.TableHashes["item"], want)
	}

	// Ingests keep coming while the SSP pages: creates between existing ids, updates, deletes.
	ctx, cancel := context.WithCancel(testCtx(t))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			id := fmt.Sprintf("item:⟨k%02d⟩", i%23)
			switch i % 3 {
			case 0:
				ingest(t, s, "item", "CREATE", fmt.Sprintf("item:⟨k%02da⟩", i), map[string]any{"n": 1000 + i})
			case 1:
				ingest(t, s, "item", "UPDATE", id, map[string]any{"n": 2000 + i})
			default:
				ingest(t, s, "item", "DELETE", id, nil)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	waitFor(t, "ingests during the bootstrap", func() bool { return s.Seq() > 20 })
	var paged []value.Value
	q := "SELECT * FROM item ORDER BY id LIMIT 4"
	for range 20 {
		rows := proxyRows(t, s, q)
		paged = append(paged, rows...)
		if len(rows) < 4 {
			break
		}
		last := rows[len(rows)-1].Get("id")
		q = "SELECT * FROM item WHERE id > " + recordText(last) + " ORDER BY id LIMIT 4"
		time.Sleep(5 * time.Millisecond) // let ingests and updater ticks interleave
	}
	waitFor(t, "more ingests", func() bool { return s.Seq() > 40 })
	cancel()
	wg.Wait()
	if !slices.Equal(canon("item", paged), canon("item", snapshot)) {
		t.Fatalf("paged rows differ from the snapshot:\npaged    %v\nsnapshot %v", canon("item", paged), canon("item", snapshot))
	}
	if got := tablehash.Hash("item", paged); got != ans.TableHashes["item"] {
		t.Errorf("hash of the paged rows %s, table_hashes %s", got, ans.TableHashes["item"])
	}
	if got := s.SnapshotSeq(); got != 1 {
		t.Errorf("snapshot_seq moved to %d while frozen", got)
	}

	// Ready: the replica moves on to every event, and equals what the SSP holds.
	f.load(t, s, 4)
	f.set(func(f *fakeSSP) { f.health = "ready" })
	waitFor(t, "ssp-a ready", func() bool { p, _ := s.SSP("ssp-a"); return p.Status == SSPReady })
	last := s.Seq()
	waitFor(t, "the updater to catch up", func() bool { return s.SnapshotSeq() == last })
	after := proxyRows(t, s, "SELECT * FROM item")
	if got, want := tablehash.Hash("item", after), f.hashes()["item"]; got != want {
		t.Errorf("replica after the updates %s, the SSP (snapshot + replay) %s", got, want)
	}
	// The source database itself is untouched by the scheduler.
	if rs := exec(t, src, "SELECT count() FROM item GROUP ALL"); rs[0].Value.Elems()[0].Get("count").AsInt() != 25 {
		t.Errorf("source changed: %s", rs[0].Value.SurQL())
	}
}

// table_hashes are tablehash.Hash of the rows exactly as an SSP loads them through the proxy
// (the SSP's own loader, keyset pages, rows classified as /ingest bodies), and of the rows read
// from SurrealDB directly.
func TestTableHashesMatchTheSSPsLoad(t *testing.T) {
	s, src := start(t, `
		CREATE thing:1 SET s = 'x', n = 1, f = 1.0, f2 = 0.1, big = 1e20, small = 1.5e-7, neg = -5, yes = true,
			t = d'2026-01-01T00:00:00Z', t3 = d'2026-01-01T00:00:00.120Z', t9 = d'2026-01-01T00:00:00.123456789Z',
			link = user:⟨a-b⟩, link2 = user:42, link3 = user:abc, links = [user:1, user:⟨x y⟩],
			arr = [1, 'a', NULL, 2.5], obj = { a: 1, b: { c: NULL, d: 'e' } }, nul = NULL, dur = 1h30m, _00_rv = 3,
			str_link = 'user:1', str_date = '2026-01-01T00:00:00Z', esc = 'é\n"q"\\';
		CREATE thing:⟨with space⟩ SET x = 1;
		CREATE thing:⟨123⟩ SET x = 'string key of digits';
		CREATE thing:abc SET x = 2;
		CREATE thing:-7 SET x = 3;
		CREATE other:a SET v = [];
		CREATE _00_rv:x SET v = 1;
		CREATE _00_query:v1 SET surql = 'SELECT * FROM thing';`, Options{})
	f := newFakeSSP(t, "ssp-a")
	ans := f.register(t, s)
	if _, ok := ans.TableHashes["_00_query"]; ok || len(ans.TableHashes) != 2 {
		t.Errorf("table_hashes %v, want thing and other only", ans.TableHashes)
	}
	for _, pageSize := range []int{1, 2, 500} {
		loaded := f.load(t, s, pageSize)
		for _, tb := range []string{"thing", "other"} {
			if got := tablehash.Hash(tb, loaded[tb]); got != ans.TableHashes[tb] {
				t.Errorf("page size %d: SSP-side hash of %s %s, table_hashes %s\nrows %v", pageSize, tb, got, ans.TableHashes[tb], canon(tb, loaded[tb]))
			}
		}
		if len(loaded["thing"]) != 5 {
			t.Errorf("page size %d: loaded %d things, want 5", pageSize, len(loaded["thing"]))
		}
	}
	for _, tb := range []string{"thing", "other"} {
		direct := exec(t, src, "SELECT * FROM "+tb)[0].Value.Elems()
		if got := tablehash.Hash(tb, direct); got != ans.TableHashes[tb] {
			t.Errorf("hash of %s read from SurrealDB %s, table_hashes %s", tb, got, ans.TableHashes[tb])
		}
	}
}

// Newer schedulers compare the SSP's circuit_hashes after the replay: an SSP that holds the
// snapshot plus every event passes; one that lost an event is flagged (409 on its heartbeat).
func TestVerification(t *testing.T) {
	s, _ := start(t, "CREATE item:1 SET n = 1; CREATE item:2 SET n = 2;", Options{VerifyCircuitHashes: true, ConflictJSON: true})
	ingest(t, s, "item", "UPDATE", "item:1", map[string]any{"n": 10}) // global buffer only
	good := newFakeSSP(t, "ssp-good")
	good.register(t, s)
	good.load(t, s, 1)
	ingest(t, s, "item", "DELETE", "item:2", nil)
	ingest(t, s, "thread", "CREATE", "thread:x", map[string]any{"at": "2026-01-01T00:00:00Z", "author": "user:1"})
	good.set(func(f *fakeSSP) { f.health = "ready" })
	waitFor(t, "ssp-good verified", func() bool { p, _ := s.SSP("ssp-good"); return p.Verified != nil })
	if p, _ := s.SSP("ssp-good"); !*p.Verified || p.Flagged {
		t.Fatalf("a correct SSP failed verification: %+v", p)
	}
	if st, _ := good.heartbeat(t, s, 0); st != 200 {
		t.Errorf("verified SSP's heartbeat: %d", st)
	}

	bad := newFakeSSP(t, "ssp-bad")
	bad.register(t, s)
	bad.load(t, s, 100)
	ingest(t, s, "item", "CREATE", "item:3", map[string]any{"n": 3})
	bad.set(func(f *fakeSSP) { f.skipApply = true; f.health = "ready" }) // it loses every replayed event
	waitFor(t, "ssp-bad verified", func() bool { p, _ := s.SSP("ssp-bad"); return p.Verified != nil })
	p, _ := s.SSP("ssp-bad")
	if *p.Verified || !p.Flagged || !slices.Equal(p.Mismatches, []string{"item", "thread"}) {
		t.Fatalf("an SSP missing events passed: %+v", p)
	}
	st, body := bad.heartbeat(t, s, 0)
	if st != 409 || !strings.Contains(body, `"reason":"`+ReasonMismatch+`"`) {
		t.Errorf("flagged SSP's heartbeat: %d %s", st, body)
	}
	if st, _ := good.heartbeat(t, s, 0); st != 200 {
		t.Errorf("the good SSP's heartbeat after another's verification: %d", st)
	}
}

// A failed or timed-out bootstrap drops the SSP and unfreezes the replica, unless the upstream
// defect is switched on: then the replica stays frozen until a later bootstrap completes.
func TestBootstrapAbort(t *testing.T) {
	tests := []struct {
		name   string
		defect bool
		fail   func(f *fakeSSP) // what goes wrong with the SSP
		opts   Options
	}{
		{"failed", false, func(f *fakeSSP) { f.health = "failed" }, Options{}},
		{"timeout", false, func(f *fakeSSP) {}, Options{BootstrapTimeout: 100 * time.Millisecond}},
		{"unreachable until timeout", false, func(f *fakeSSP) { f.srv.Close() }, Options{BootstrapTimeout: 100 * time.Millisecond}},
		{"failed, frozen defect", true, func(f *fakeSSP) { f.health = "failed" }, Options{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Defects.FrozenAfterAbort = tc.defect
			s, _ := start(t, "", tc.opts)
			ingest(t, s, "item", "CREATE", "item:1", map[string]any{})
			f := newFakeSSP(t, "ssp-a")
			f.register(t, s)
			f.set(tc.fail)
			waitFor(t, "ssp-a dropped", func() bool { _, ok := s.SSP("ssp-a"); return !ok })
			_, err := s.ApplyNow(testCtx(t))
			if tc.defect != errors.Is(err, ErrFrozen) {
				t.Fatalf("ApplyNow after the abort: %v (defect %v)", err, tc.defect)
			}
			if !tc.defect {
				return
			}
			g := newFakeSSP(t, "ssp-b")
			g.readyUp(t, s)
			if seq, err := s.ApplyNow(testCtx(t)); err != nil || seq != 1 {
				t.Errorf("ApplyNow after a later bootstrap completed: %d, %v", seq, err)
			}
		})
	}
}

// Registering a known id again replaces it: a fresh snapshot, buffering again, a new replay.
func TestReRegistrationReplaces(t *testing.T) {
	s, _ := start(t, "", Options{})
	f := newFakeSSP(t, "ssp-a")
	f.readyUp(t, s)
	ingest(t, s, "item", "CREATE", "item:1", map[string]any{})
	if seq, err := s.ApplyNow(testCtx(t)); err != nil || seq != 1 {
		t.Fatalf("ApplyNow: %d, %v", seq, err)
	}
	ingest(t, s, "item", "CREATE", "item:2", map[string]any{})
	f.set(func(f *fakeSSP) { f.health = "bootstrapping" })
	if a := f.register(t, s); a.SnapshotSeq != 1 {
		t.Fatalf("re-registration snapshot_seq %d, want 1", a.SnapshotSeq)
	}
	if p, _ := s.SSP("ssp-a"); p.Status != SSPBootstrapping || p.SnapshotSeq != 1 || len(p.Buffered) != 0 {
		t.Fatalf("after re-registration: %+v", p)
	}
	ingest(t, s, "item", "CREATE", "item:3", map[string]any{})
	if p, _ := s.SSP("ssp-a"); !slices.Equal(p.Buffered, seqList(3)) {
		t.Fatalf("buffer %v, want [3]", p.Buffered)
	}
	f.set(func(f *fakeSSP) { f.health = "ready" })
	waitFor(t, "ssp-a ready again", func() bool { p, _ := s.SSP("ssp-a"); return p.Status == SSPReady })
	// fan-out 1 and 2 while ready; after the re-registration: replay 2, 3, drain 3.
	if got, want := s.Ingests("ssp-a"), seqList(1, 2, 2, 3, 3); !slices.Equal(got, want) {
		t.Errorf("seqs sent %v, want %v", got, want)
	}
}

// The updater writes CREATE/UPDATE/DELETE into the replica, classified as the SSP classifies
// ingests, skips `_00_` tables, and with the merge defect keeps fields an UPDATE left out.
func TestApplyUpdatesTheReplica(t *testing.T) {
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprintf("merge=%v", merge), func(t *testing.T) {
			s, _ := start(t, "CREATE item:1 SET a = 1, b = 2; CREATE item:2 SET a = 2;", Options{Defects: Defects{UpdateMerges: merge}})
			ingest(t, s, "item", "UPDATE", "item:1", map[string]any{"a": 5, "at": "2026-02-03T04:05:06.5Z", "who": "user:⟨x-y⟩"})
			ingest(t, s, "item", "DELETE", "item:2", nil)
			if st, body := post(t, s.URL()+"/ingest", `{"table":"item","op":"CREATE","id":"item:3","record":{"id":"item:3","f":2.0}}`); st != 200 {
				t.Fatalf("ingest: %d %s", st, body)
			}
			ingest(t, s, "_00_query", "CREATE", "_00_query:v9", map[string]any{"surql": "x"})
			if got := proxyRows(t, s, "SELECT * FROM item"); len(got) != 2 {
				t.Fatalf("replica changed before ApplyNow: %v", got)
			}
			if seq, err := s.ApplyNow(testCtx(t)); err != nil || seq != 4 {
				t.Fatalf("ApplyNow = %d, %v", seq, err)
			}
			if got := s.GlobalBuffer(); len(got) != 0 {
				t.Errorf("global buffer after apply %v", got)
			}
			st, body := post(t, s.URL()+"/proxy/query", map[string]string{"query": "SELECT * FROM item ORDER BY id"})
			want := `[{"a":5,"at":"2026-02-03T04:05:06.500Z","id":"item:1","who":"user:` + "`x-y`" + `"},{"f":2.0,"id":"item:3"}]`
			if merge {
				want = `[{"a":5,"at":"2026-02-03T04:05:06.500Z","b":2,"id":"item:1","who":"user:` + "`x-y`" + `"},{"f":2.0,"id":"item:3"}]`
			}
			if st != 200 || body != want {
				t.Errorf("replica after apply:\n got %s\nwant %s", body, want)
			}
			if rows := proxyRows(t, s, "SELECT * FROM _00_query"); len(rows) != 0 {
				t.Errorf("_00_ events reached the replica: %v", rows)
			}
			// The stored values are typed: the link is a record, the datetime a datetime.
			if rows := proxyRows(t, s, "SELECT * FROM item WHERE who = user:⟨x-y⟩ AND at > d'2026-01-01T00:00:00Z'"); len(rows) != 1 {
				t.Errorf("typed values not found: %v", rows)
			}
		})
	}
}

func TestInfoAndMetrics(t *testing.T) {
	s, _ := start(t, "", Options{})
	f := newFakeSSP(t, "ssp-a")
	f.readyUp(t, s)
	f.heartbeat(t, s, 3)
	ingest(t, s, "item", "CREATE", "item:1", map[string]any{})
	st, body := get(t, s.URL()+"/info")
	var info struct {
		Status string `json:"status"`
		Seq    uint64 `json:"seq"`
		SSPs   []struct {
			ID     string   `json:"id"`
			Status string   `json:"status"`
			Views  int      `json:"reported_views"`
			CPU    *float64 `json:"cpu_usage"`
			Age    *float64 `json:"last_heartbeat_age_secs"`
		} `json:"ssps"`
	}
	if st != 200 || json.Unmarshal([]byte(body), &info) != nil || info.Status != "ready" || info.Seq != 1 ||
		len(info.SSPs) != 1 || info.SSPs[0].ID != "ssp-a" || info.SSPs[0].Views != 3 || info.SSPs[0].CPU == nil || info.SSPs[0].Age == nil {
		t.Errorf("/info: %d %s", st, body)
	}
	st, body = get(t, s.URL()+"/metrics")
	for _, line := range []string{`sp00ky_scheduler_status{status="ready"} 1`, "sp00ky_scheduler_seq 1", `sp00ky_scheduler_ssp_ready{ssp_id="ssp-a"} 1`,
		`sp00ky_scheduler_ssp_cpu_usage{ssp_id="ssp-a"} 12.5`, `sp00ky_scheduler_ssp_last_heartbeat_age_seconds{ssp_id="ssp-a"}`} {
		if st != 200 || !strings.Contains(body, line) {
			t.Errorf("/metrics lacks %q:\n%s", line, body)
		}
	}
}

func TestSwitches(t *testing.T) {
	s, _ := start(t, "CREATE item:1 SET n = 1", Options{})
	f := newFakeSSP(t, "ssp-a")

	s.FailRegistrations(2, http.StatusServiceUnavailable)
	for range 2 {
		if st, body := post(t, s.URL()+"/ssp/register", map[string]any{"ssp_id": "ssp-a", "url": f.url(), "version": "1"}); st != 503 {
			t.Fatalf("switched 503: %d %s", st, body)
		}
	}
	s.FailRegistrations(1, http.StatusForbidden)
	if st, _ := post(t, s.URL()+"/ssp/register", map[string]any{"ssp_id": "ssp-a", "url": f.url(), "version": "1"}); st != 403 {
		t.Fatalf("switched 403: %d", st)
	}
	if len(s.SSPs()) != 0 {
		t.Fatalf("a switched-off registration entered the pool")
	}

	real := f.register(t, s).TableHashes["item"]
	s.LieTableHash("item", false)
	s.LieTableHash("ghost", true)
	lie := f.register(t, s).TableHashes
	if lie["item"] == real || lie["ghost"] == "" {
		t.Errorf("lying registration: %v (real item %s)", lie, real)
	}
	again := f.register(t, s).TableHashes
	if again["item"] != real || again["ghost"] == "" {
		t.Errorf("once-lie repeated or always-lie stopped: %v", again)
	}
	s.StopLying()
	if h := f.readyUp(t, s).TableHashes; h["item"] != real || h["ghost"] != "" {
		t.Errorf("after StopLying: %v", h)
	}

	for _, tc := range []struct {
		answer HeartbeatAnswer
		status int
		body   string
	}{
		{HeartbeatAnswer{Status: 404}, 404, "SSP not registered. Please re-register."},
		{HeartbeatAnswer{Status: 409}, 409, ReasonOverflow},
		{HeartbeatAnswer{Status: 409, JSON: true, Reason: "resync", Clean: true}, 409, `{"clean":true,"reason":"resync"}`},
		{HeartbeatAnswer{Status: 500}, 500, "Internal Server Error"},
	} {
		s.ForceHeartbeat("ssp-a", tc.answer)
		if st, body := f.heartbeat(t, s, 0); st != tc.status || body != tc.body {
			t.Errorf("forced %+v: %d %q", tc.answer, st, body)
		}
		if st, _ := f.heartbeat(t, s, 0); st != 200 {
			t.Errorf("the heartbeat after a forced %d: %d, want 200 (forced once)", tc.status, st)
		}
	}
	if err := s.Flag("ssp-a", "", false); err != nil {
		t.Fatal(err)
	}
	if st, body := f.heartbeat(t, s, 0); st != 409 || body != ReasonMismatch {
		t.Errorf("flagged: %d %q", st, body)
	}
	if !s.DropSSP("ssp-a") || len(s.SSPs()) != 0 {
		t.Error("DropSSP")
	}
}
