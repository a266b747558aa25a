package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/integration/testscheduler"
)

// metric returns the value of a counter (or a histogram's sample count) of reg whose label
// matches (label "" for none).
func metric(t *testing.T, reg *prometheus.Registry, name, label, val string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			ok := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == val {
					ok = true
				}
			}
			if !ok {
				continue
			}
			if m.GetHistogram() != nil {
				return float64(m.GetHistogram().GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s{%s=%q} not found", name, label, val)
	return 0
}

const seedSetup = "DEFINE TABLE thread SCHEMALESS; CREATE thread:1 SET title = 'a'; CREATE thread:2 SET title = 'b'"

// TestRegisterBodyAndAnswer: the first start registers once with the body of
// scheduler-protocol.md, and the parent gets the 202's snapshot_seq and table_hashes.
func TestRegisterBodyAndAnswer(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	// Move the snapshot past 0: two ingests applied to the replica.
	for i := 3; i <= 4; i++ {
		body := fmt.Sprintf(`{"table":"thread","op":"CREATE","id":"thread:%d","record":{"title":"x"}}`, i)
		resp, err := http.Post(s.URL()+"/ingest", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("ingest: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	if seq, err := s.ApplyNow(testCtx(t)); err != nil || seq != 2 {
		t.Fatalf("ApplyNow = %d, %v", seq, err)
	}
	f := newFront(t, s.URL())
	lt := newLinkTest(t, f.url(), nil)
	p := lt.start(true, 0)

	reg := waitEvent[*Registered](t, p, 1, 10*time.Second)[0]
	if reg.SnapshotSeq != 2 || reg.Reason != "start" || reg.Attempts != 1 || reg.Took <= 0 {
		t.Errorf("Registered = %+v", reg)
	}
	if len(reg.TableHashes) != 1 || !strings.HasPrefix(reg.TableHashes["thread"], "b3:") {
		t.Errorf("TableHashes = %v", reg.TableHashes)
	}
	hits := f.hits("/ssp/register")
	if len(hits) != 1 || hits[0].status != http.StatusAccepted {
		t.Fatalf("register requests %+v", hits)
	}
	var body map[string]any
	if err := json.Unmarshal(hits[0].body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"ssp_id": lt.sspID, "url": lt.sspURL, "version": "9.9.9-test",
		"env": map[string]any{"SPKY_SSP_ID": lt.sspID, "SPKY_DB_NS": "main"}}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("registration body %s, want %v", hits[0].body, want)
	}
	info, ok := s.SSP(lt.sspID)
	if !ok || info.URL != lt.sspURL || info.Version != "9.9.9-test" {
		t.Errorf("the scheduler's record %+v", info)
	}

	st := p.state(t)
	if st.Link != LinkRegistered || st.SnapshotSeq != 2 || st.TableHashes != 1 || st.SSPID != lt.sspID ||
		st.SchedulerURL != f.url() || st.AdvertisedURL != lt.sspURL || len(st.Registrations) != 1 {
		t.Errorf("State = %+v", st)
	}
	if r := st.Registrations[0]; r.Result != ResultOK || r.Attempts != 1 || r.Reason != "start" || r.SnapshotSeq == nil || *r.SnapshotSeq != 2 {
		t.Errorf("registration record %+v", r)
	}
	if n := metric(t, lt.reg, "ssp_scheduler_registrations_total", "result", "ok"); n != 1 {
		t.Errorf("registrations ok = %v", n)
	}
	if n := metric(t, lt.reg, "ssp_scheduler_registration_duration_seconds", "", ""); n != 1 {
		t.Errorf("registration durations observed = %v", n)
	}
}

// TestRegisterAnswerShapes: table_hashes present, absent, null or `{}`; any 2xx accepted; a
// 2xx the link cannot read is fatal and quoted.
func TestRegisterAnswerShapes(t *testing.T) {
	tests := []struct {
		name, answer string
		status       int
		seq          uint64
		hashes       map[string]string
		fatal        string
	}{
		{"hashes present", `{"snapshot_seq": 42, "table_hashes": {"a": "b3:01", "b": "b3:02"}}`, 202, 42, map[string]string{"a": "b3:01", "b": "b3:02"}, ""},
		{"hashes absent", `{"snapshot_seq": 7}`, 202, 7, nil, ""},
		{"hashes null", `{"snapshot_seq": 0, "table_hashes": null}`, 202, 0, nil, ""},
		{"hashes empty", `{"snapshot_seq": 18446744073709551615, "table_hashes": {}}`, 202, math.MaxUint64, map[string]string{}, ""},
		{"200 also accepted", `{"snapshot_seq": 3}`, 200, 3, nil, ""},
		{"no snapshot_seq", `{"table_hashes": {}}`, 202, 0, nil, "no snapshot_seq"},
		{"not JSON", `accepted`, 202, 0, nil, `"accepted"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/ssp/register" {
					w.WriteHeader(http.StatusOK)
					return
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.answer)
			}))
			t.Cleanup(stub.Close)
			lt := newLinkTest(t, stub.URL, nil)
			p := lt.start(true, 0)
			if tt.fatal != "" {
				f := waitEvent[*RegisterFailed](t, p, 1, 5*time.Second)[0]
				if !errors.Is(f.Err, ErrRegisterRefused) || !strings.Contains(f.Err.Error(), tt.fatal) || f.Attempts != 1 {
					t.Errorf("RegisterFailed = %+v (%v)", f, f.Err)
				}
				return
			}
			reg := waitEvent[*Registered](t, p, 1, 5*time.Second)[0]
			if reg.SnapshotSeq != tt.seq || !reflect.DeepEqual(reg.TableHashes, tt.hashes) {
				t.Errorf("Registered = %+v, want seq %d hashes %#v", reg, tt.seq, tt.hashes)
			}
		})
	}
}

// gaps returns the time between consecutive hits.
func gaps(hits []hit) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(hits); i++ {
		out = append(out, hits[i].at.Sub(hits[i-1].at))
	}
	return out
}

// checkBackoff asserts that each gap is at least the backoff delay (1 s doubling to 10 s by
// default) and not far beyond it.
func checkBackoff(t *testing.T, got []time.Duration, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d gaps %v, want %d (%v)", len(got), got, len(want), want)
	}
	for i := range got {
		if got[i] < want[i]-25*time.Millisecond || got[i] > want[i]+750*time.Millisecond {
			t.Errorf("gap %d = %s, want about %s (all: %v)", i, got[i], want[i], got)
		}
	}
}

// TestRegisterRetriesWhileCloning: the scheduler answers 503 while it clones; the link retries
// with the default backoff (1 s, then 2 s), not in a hot loop, and registers once the clone is
// done.
func TestRegisterRetriesWhileCloning(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{HoldCloning: true})
	f := newFront(t, s.URL())
	lt := newLinkTest(t, f.url(), nil)
	p := lt.start(true, 0)
	waitFor(t, 10*time.Second, "two refused attempts", func() bool { return len(f.hits("/ssp/register")) >= 2 })
	s.ReleaseCloning()
	if err := s.WaitCloned(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	reg := waitEvent[*Registered](t, p, 1, 10*time.Second)[0]
	hits := f.hits("/ssp/register")
	if len(hits) != 3 || hits[0].status != 503 || hits[1].status != 503 || hits[2].status != 202 || reg.Attempts != 3 {
		t.Fatalf("attempts %+v, Registered %+v", hits, reg)
	}
	checkBackoff(t, gaps(hits), []time.Duration{time.Second, 2 * time.Second})
	if reg.Took < 3*time.Second {
		t.Errorf("Took = %s, want at least the 3 s of backoff", reg.Took)
	}
	if n := metric(t, lt.reg, "ssp_scheduler_registrations_total", "result", "retry"); n != 2 {
		t.Errorf("registrations retry = %v", n)
	}
	// The link was not blocked between the attempts: it answered the state at once.
	if st := p.state(t); st.Registrations[0].Attempts != 3 || st.LastError == "" {
		t.Errorf("State %+v", st)
	}
}

// TestRegisterRetries5xxAndTransportErrors: a dropped connection and 5xx answers are retried
// with a doubling delay capped at RetryMax.
func TestRegisterRetries5xxAndTransportErrors(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	s.FailRegistrations(3, http.StatusInternalServerError)
	f := newFront(t, s.URL())
	f.setDrop(func(path string, n int) bool { return path == "/ssp/register" && n == 0 })
	lt := newLinkTest(t, f.url(), func(c *LinkConfig) { c.RetryMin, c.RetryMax = 100*time.Millisecond, 300*time.Millisecond })
	p := lt.start(true, 0)
	reg := waitEvent[*Registered](t, p, 1, 10*time.Second)[0]
	hits := f.hits("/ssp/register")
	var statuses []int
	for _, h := range hits {
		statuses = append(statuses, h.status)
	}
	if !reflect.DeepEqual(statuses, []int{0, 500, 500, 500, 202}) || reg.Attempts != 5 {
		t.Fatalf("attempt statuses %v, Registered %+v", statuses, reg)
	}
	checkBackoff(t, gaps(hits), []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond})
	warned := 0
	for _, e := range lt.logs.AllEntries() {
		if e.Message == "scheduler registration attempt failed; retrying" && e.Level == logrus.WarnLevel && e.Data["retry_in"] != nil {
			warned++
		}
	}
	if warned != 4 {
		t.Errorf("%d retry warnings, want 4", warned)
	}
}

// TestRegister503RestartsBudget: a 503 starts the wait budget anew, so a scheduler that clones
// for longer than the budget is still waited for; a 500 does not, so the same sequence of
// 500s exhausts it.
func TestRegister503RestartsBudget(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
			s.FailRegistrations(8, status)
			f := newFront(t, s.URL())
			lt := newLinkTest(t, f.url(), func(c *LinkConfig) {
				c.RegisterMaxWait, c.RetryMin, c.RetryMax = 400*time.Millisecond, 50*time.Millisecond, 150*time.Millisecond
			})
			p := lt.start(true, 0)
			waitFor(t, 10*time.Second, "the registration to end", func() bool { return len(p.allEvents()) > 0 })
			if status == http.StatusServiceUnavailable {
				reg := waitEvent[*Registered](t, p, 1, time.Second)[0]
				if reg.Attempts != 9 || reg.Took < 800*time.Millisecond {
					t.Errorf("Registered %+v: want 9 attempts over more than twice the budget", reg)
				}
				return
			}
			fail := waitEvent[*RegisterFailed](t, p, 1, time.Second)[0]
			if !errors.Is(fail.Err, ErrRegisterGaveUp) || fail.Took < 400*time.Millisecond || fail.Took > 2*time.Second {
				t.Errorf("RegisterFailed %+v (%v)", fail, fail.Err)
			}
		})
	}
}

// TestRegisterBudgetExhausted: a scheduler that keeps answering 500 makes the registration
// fail once the budget is spent, with the scheduler's answer quoted; no heartbeat follows.
func TestRegisterBudgetExhausted(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	s.FailRegistrations(-1, http.StatusBadGateway)
	f := newFront(t, s.URL())
	lt := newLinkTest(t, f.url(), func(c *LinkConfig) {
		c.RegisterMaxWait, c.RetryMin, c.RetryMax = 700*time.Millisecond, 100*time.Millisecond, time.Second
	})
	p := lt.start(true, 0)
	fail := waitEvent[*RegisterFailed](t, p, 1, 10*time.Second)[0]
	msg := fail.Err.Error()
	if !errors.Is(fail.Err, ErrRegisterGaveUp) || !strings.Contains(msg, "502 Bad Gateway") ||
		!strings.Contains(msg, "Registration refused (test switch)") || !strings.Contains(msg, "SPKY_SSP_REGISTER_MAX_WAIT_SECS") {
		t.Errorf("error %q", msg)
	}
	// Attempts at 0, 0.1, 0.3 and 0.7 s (the last delay cut to what was left of the budget).
	hits := f.hits("/ssp/register")
	if fail.Attempts != 4 || len(hits) != 4 || fail.Took < 700*time.Millisecond {
		t.Errorf("RegisterFailed %+v after %d requests", fail, len(hits))
	}
	checkBackoff(t, gaps(hits), []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond})
	st := p.state(t)
	if st.Link != LinkFailed || st.Heartbeating || !strings.Contains(st.LastError, "502") || st.Registrations[0].Result != ResultFailed {
		t.Errorf("State %+v", st)
	}
	if r, x := metric(t, lt.reg, "ssp_scheduler_registrations_total", "result", "retry"),
		metric(t, lt.reg, "ssp_scheduler_registrations_total", "result", "fatal"); r != 3 || x != 1 {
		t.Errorf("registrations retry %v fatal %v, want 3 and 1", r, x)
	}
	quietFor(t, 300*time.Millisecond, "a failed link asked for readiness or heartbeated", func() bool {
		return p.probes.Load() > 0 || len(lt.heartbeats(s)) > 0
	})
}

// TestRegister4xxFatal: a 4xx is not retried; RegisterFailed quotes the scheduler's message. A
// later Register registers again.
func TestRegister4xxFatal(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	t.Run("bad url", func(t *testing.T) {
		f := newFront(t, s.URL())
		lt := newLinkTest(t, f.url(), func(c *LinkConfig) { c.AdvertiseURL = "ftp://ssp:8667" })
		p := lt.start(true, 0)
		fail := waitEvent[*RegisterFailed](t, p, 1, 5*time.Second)[0]
		if !errors.Is(fail.Err, ErrRegisterRefused) || fail.Attempts != 1 ||
			!strings.Contains(fail.Err.Error(), `400 Bad Request: "SSP URL must start with http:// or https://"`) {
			t.Errorf("RegisterFailed %+v (%v)", fail, fail.Err)
		}
		if n := len(f.hits("/ssp/register")); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
		if n := metric(t, lt.reg, "ssp_scheduler_registrations_total", "result", "fatal"); n != 1 {
			t.Errorf("registrations fatal = %v", n)
		}
	})
	t.Run("refused then Register", func(t *testing.T) {
		s.FailRegistrations(1, http.StatusForbidden)
		f := newFront(t, s.URL())
		lt := newLinkTest(t, f.url(), nil)
		p := lt.start(true, 0)
		fail := waitEvent[*RegisterFailed](t, p, 1, 5*time.Second)[0]
		if !strings.Contains(fail.Err.Error(), `403 Forbidden: "Registration refused (test switch)"`) {
			t.Errorf("error %v", fail.Err)
		}
		p.send(Register{Reason: "operator"})
		reg := waitEvent[*Registered](t, p, 1, 5*time.Second)[0]
		if reg.Reason != "operator" || reg.Attempts != 1 {
			t.Errorf("Registered %+v", reg)
		}
		lt.waitHeartbeats(s, 1)
	})
	t.Run("no scheduler URL", func(t *testing.T) {
		lt := newLinkTest(t, "", nil)
		p := lt.start(true, 0)
		fail := waitEvent[*RegisterFailed](t, p, 1, 5*time.Second)[0]
		if !errors.Is(fail.Err, ErrRegisterRefused) || !strings.Contains(fail.Err.Error(), "not an http(s) URL") {
			t.Errorf("error %v", fail.Err)
		}
	})
}

// TestHeartbeatCadenceAndPayload: once registered and ready, the link heartbeats every
// HeartbeatInterval with the parent's view count and this process's real CPU and memory.
func TestHeartbeatCadenceAndPayload(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	lt := newLinkTest(t, s.URL(), func(c *LinkConfig) { c.HeartbeatInterval = 100 * time.Millisecond })
	// Keep a core busy so that the CPU figure has something to show.
	stop := make(chan struct{})
	var spins atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				spins.Add(1)
			}
		}
	}()
	defer close(stop)
	p := lt.start(true, 3)
	waitEvent[*Registered](t, p, 1, 10*time.Second)
	hbs := lt.waitHeartbeats(s, 8)
	for i, hb := range hbs {
		if hb.Answer != 200 || hb.Views != 3 || hb.Version != "9.9.9-test" || hb.CPU == nil || hb.Memory == nil ||
			math.Abs(float64(hb.Timestamp-hb.At.Unix())) > 2 {
			t.Fatalf("heartbeat %d: %+v", i, hb)
		}
		if *hb.Memory < 1 || *hb.Memory > 64<<10 {
			t.Errorf("heartbeat %d: memory_usage %v MiB", i, *hb.Memory)
		}
		if *hb.CPU < 0 || *hb.CPU > 100*64 {
			t.Errorf("heartbeat %d: cpu_usage %v%%", i, *hb.CPU)
		}
	}
	busy := 0
	for _, hb := range hbs[1:] {
		if *hb.CPU >= 20 {
			busy++
		}
	}
	if busy == 0 {
		t.Errorf("no heartbeat shows the busy core: %v", cpus(hbs))
	}
	if rss, ok := processRSS(); !ok || math.Abs(*hbs[len(hbs)-1].Memory-float64(rss)/(1<<20)) > float64(rss)/(1<<20)/2 {
		t.Errorf("memory_usage %v MiB, RSS now %d bytes", *hbs[len(hbs)-1].Memory, rss)
	}
	g := gapsOf(hbs[1:])
	var sum time.Duration
	for i, d := range g {
		if d < 10*time.Millisecond { // a hot loop; single gaps vary with each request's latency
			t.Errorf("heartbeat gap %d = %s (%v)", i, d, g)
		}
		sum += d
	}
	if avg := sum / time.Duration(len(g)); avg < 70*time.Millisecond || avg > 250*time.Millisecond {
		t.Errorf("mean heartbeat gap %s, want about 100 ms (%v)", avg, g)
	}
	// The scheduler recorded 8 heartbeats; the link counts each once its answer is read.
	waitFor(t, 10*time.Second, "the link to count 8 answered heartbeats", func() bool {
		return metric(t, lt.reg, "ssp_scheduler_heartbeats_total", "answer", "ok") >= 8
	})
	st := p.state(t)
	if st.LastHeartbeat == nil || st.LastHeartbeat.Answer != AnswerOK || st.LastHeartbeat.Views != 3 ||
		st.LastHeartbeat.AgeSeconds < 0 || st.LastHeartbeat.AgeSeconds > 5 || st.Heartbeats[AnswerOK] < 8 || !st.Heartbeating {
		t.Errorf("State %+v, last heartbeat %+v", st, st.LastHeartbeat)
	}
	if n := metric(t, lt.reg, "ssp_scheduler_heartbeats_total", "answer", "ok"); n < 8 {
		t.Errorf("heartbeats ok = %v", n)
	}
}

func cpus(hbs []testscheduler.Heartbeat) []float64 {
	var out []float64
	for _, hb := range hbs {
		if hb.CPU != nil {
			out = append(out, *hb.CPU)
		}
	}
	return out
}

func gapsOf(hbs []testscheduler.Heartbeat) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(hbs); i++ {
		out = append(out, hbs[i].At.Sub(hbs[i-1].At))
	}
	return out
}

// TestNoHeartbeatBeforeRegistration: while the first registration is still being retried the
// link neither probes nor heartbeats (the scheduler would answer 404 and the SSP would
// register twice, scheduler-protocol.md); afterwards it does.
func TestNoHeartbeatBeforeRegistration(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{HoldCloning: true})
	f := newFront(t, s.URL())
	lt := newLinkTest(t, f.url(), func(c *LinkConfig) { c.RetryMin, c.RetryMax = 100*time.Millisecond, 100*time.Millisecond })
	p := lt.start(true, 1)
	// 5 refused attempts span at least 400 ms: 8 heartbeat ticks.
	waitFor(t, 10*time.Second, "5 refused registrations", func() bool { return len(f.hits("/ssp/register")) >= 5 })
	if n, hb := p.probes.Load(), len(f.hits("/ssp/heartbeat")); n != 0 || hb != 0 {
		t.Fatalf("before the first registration: %d probes, %d heartbeats", n, hb)
	}
	if st := p.state(t); st.Link != LinkRegistering || st.Heartbeating {
		t.Fatalf("State %+v", st)
	}
	s.ReleaseCloning()
	waitEvent[*Registered](t, p, 1, 10*time.Second)
	lt.waitHeartbeats(s, 2)
	regs := f.hits("/ssp/register")
	accepted := regs[len(regs)-1]
	if accepted.status != http.StatusAccepted {
		t.Fatalf("last registration attempt %+v", accepted)
	}
	for _, hb := range f.hits("/ssp/heartbeat") {
		// status 0: still in flight through the front when this reads the log.
		if hb.at.Before(accepted.at) || hb.status != http.StatusOK && hb.status != 0 {
			t.Errorf("heartbeat at %s (status %d) before the registration was accepted at %s", hb.at, hb.status, accepted.at)
		}
	}
}

// TestNoHeartbeatWhileNotReady: a registered SSP that its parent says is not ready (it
// bootstraps) is probed on every tick but does not heartbeat.
func TestNoHeartbeatWhileNotReady(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	lt := newLinkTest(t, s.URL(), nil)
	p := lt.start(false, 0)
	waitEvent[*Registered](t, p, 1, 10*time.Second)
	waitFor(t, 5*time.Second, "5 probes", func() bool { return p.probes.Load() >= 5 })
	if n := len(lt.heartbeats(s)); n != 0 {
		t.Fatalf("%d heartbeats while not ready", n)
	}
	p.ready.Store(true)
	lt.waitHeartbeats(s, 2)
}

// TestResyncOn404And409: a 404 (text) and a 409 (text or JSON) make the link send Resync with
// the scheduler's reason and stop heartbeating; nothing happens until the parent sends
// Register, after which the link registers and heartbeats again.
func TestResyncOn404And409(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	clean := true
	tests := []struct {
		name   string
		cause  func(id string)
		reason string
		status int
		clean  *bool
	}{
		{"404 after the scheduler dropped the SSP", func(id string) { s.DropSSP(id) },
			"heartbeat 404: SSP not registered. Please re-register.", 404, nil},
		{"409 as text (older schedulers)", func(id string) {
			s.SetConflictJSON(false)
			if err := s.Flag(id, "Buffer overflow detected. SSP needs to re-bootstrap.", false); err != nil {
				t.Fatal(err)
			}
		}, "heartbeat 409: Buffer overflow detected. SSP needs to re-bootstrap.", 409, nil},
		{"409 as JSON (newer schedulers)", func(id string) {
			s.ForceHeartbeat(id, testscheduler.HeartbeatAnswer{Status: 409, JSON: true, Reason: "Table hash mismatch", Clean: true})
		}, "heartbeat 409: Table hash mismatch", 409, &clean},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := newLinkTest(t, s.URL(), nil)
			p := lt.start(true, 2)
			waitEvent[*Registered](t, p, 1, 10*time.Second)
			lt.waitHeartbeats(s, 2)
			tt.cause(lt.sspID)
			rs := waitEvent[*Resync](t, p, 1, 5*time.Second)[0]
			if rs.Reason != tt.reason || rs.Status != tt.status || !reflect.DeepEqual(rs.Clean, tt.clean) {
				t.Errorf("Resync %+v (clean %v), want %q", rs, rs.Clean, tt.reason)
			}
			st := p.state(t)
			if st.Heartbeating || st.Resync != tt.reason || st.Link != LinkRegistered {
				t.Errorf("State %+v", st)
			}
			beats, probes := len(lt.heartbeats(s)), p.probes.Load()
			quietFor(t, 300*time.Millisecond, "heartbeat or probe after Resync", func() bool {
				return len(lt.heartbeats(s)) != beats || p.probes.Load() != probes
			})
			if n := len(got[*Resync](p)); n != 1 {
				t.Errorf("%d Resync messages", n)
			}
			p.send(Register{Reason: rs.Reason})
			reg := waitEvent[*Registered](t, p, 2, 5*time.Second)[1]
			if reg.Reason != tt.reason {
				t.Errorf("second Registered %+v", reg)
			}
			lt.waitHeartbeats(s, beats+2)
			for _, hb := range lt.heartbeats(s)[beats:] {
				if hb.Answer != 200 {
					t.Errorf("heartbeat after re-registering answered %d", hb.Answer)
				}
			}
			label := map[int]string{404: "not_registered", 409: "resync"}[tt.status]
			if n := metric(t, lt.reg, "ssp_scheduler_heartbeats_total", "answer", label); n != 1 {
				t.Errorf("heartbeats %s = %v", label, n)
			}
			if st := p.state(t); !st.Heartbeating || st.Resync != "" || len(st.Registrations) != 2 {
				t.Errorf("State after re-registering %+v", st)
			}
		})
	}
}

// TestHeartbeatOtherAnswersWarnAndContinue: 500, 503 and a dropped connection are warned
// about and counted; heartbeats go on, no Resync.
func TestHeartbeatOtherAnswersWarnAndContinue(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	f := newFront(t, s.URL())
	lt := newLinkTest(t, f.url(), nil)
	p := lt.start(true, 0)
	waitEvent[*Registered](t, p, 1, 10*time.Second)
	waitFor(t, 5*time.Second, "a heartbeat", func() bool { return len(f.hits("/ssp/heartbeat")) >= 1 })
	s.ForceHeartbeat(lt.sspID, testscheduler.HeartbeatAnswer{Status: 500, Reason: "boom"})
	waitFor(t, 5*time.Second, "the 500", func() bool { return p.state(t).Heartbeats[AnswerError] == 1 })
	s.ForceHeartbeat(lt.sspID, testscheduler.HeartbeatAnswer{Status: 503, Reason: "restoring"})
	waitFor(t, 5*time.Second, "the 503", func() bool { return p.state(t).Heartbeats[AnswerError] == 2 })
	st := p.state(t)
	if st.ConsecutiveHeartbeatFailures != 2 || st.LastHeartbeat.Status != 503 || st.LastHeartbeat.Message != "restoring" ||
		!strings.Contains(st.LastError, "restoring") {
		t.Errorf("State %+v, last %+v", st, st.LastHeartbeat)
	}
	dropped := len(f.hits("/ssp/heartbeat"))
	f.setDrop(func(path string, n int) bool { return path == "/ssp/heartbeat" && n == dropped })
	waitFor(t, 5*time.Second, "the dropped heartbeat", func() bool { return p.state(t).Heartbeats[AnswerError] == 3 })
	before := len(f.hits("/ssp/heartbeat"))
	waitFor(t, 5*time.Second, "heartbeats after the failures", func() bool { return len(f.hits("/ssp/heartbeat")) >= before+3 })
	waitFor(t, 5*time.Second, "an ok heartbeat", func() bool { return p.state(t).ConsecutiveHeartbeatFailures == 0 })
	if n := len(got[*Resync](p)); n != 0 {
		t.Errorf("%d Resync after answers to shrug off", n)
	}
	if n := metric(t, lt.reg, "ssp_scheduler_heartbeats_total", "answer", "error"); n != 3 {
		t.Errorf("heartbeats error = %v", n)
	}
	var warns []string
	for _, e := range lt.logs.AllEntries() {
		if e.Level == logrus.WarnLevel && e.Message == "scheduler heartbeat failed; going on" {
			warns = append(warns, fmt.Sprint(e.Data["status"], " ", e.Data["message"]))
		}
	}
	if len(warns) != 3 || warns[0] != "500 boom" || warns[1] != "503 restoring" || !strings.HasPrefix(warns[2], "0 POST") {
		t.Errorf("warnings %q", warns)
	}
	if len(lt.logs.AllEntries()) == 0 {
		t.Fatal("no logs")
	}
}

// TestPanicKeepsRegistration: a panic inside the link (injected through OnReceive) restarts
// it; the restarted link is still registered, goes on heartbeating, and does not register
// again by itself — also when the panic hit a heartbeat's answer, which the new incarnation
// never sees.
func TestPanicKeepsRegistration(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	f := newFront(t, s.URL())
	var armed atomic.Int32 // 1: panic on the next heartbeat answer; 2: on the next tick
	var panics atomic.Int32
	lt := newLinkTest(t, f.url(), func(c *LinkConfig) {
		c.OnReceive = func(msg any) {
			switch msg.(type) {
			case *heartbeatAnswer:
				if armed.CompareAndSwap(1, 0) {
					panics.Add(1)
					panic("injected: heartbeat answer")
				}
			case *heartbeatTick:
				if armed.CompareAndSwap(2, 0) {
					panics.Add(1)
					panic("injected: tick")
				}
			}
		}
	})
	p := lt.start(true, 1)
	reg := waitEvent[*Registered](t, p, 1, 10*time.Second)[0]
	lt.waitHeartbeats(s, 2)
	info, _ := s.SSP(lt.sspID)
	for round, arm := range []int32{1, 2, 1} {
		armed.Store(arm)
		waitFor(t, 5*time.Second, "the injected panic", func() bool { return panics.Load() == int32(round+1) })
		n := len(lt.heartbeats(s))
		lt.waitHeartbeats(s, n+3)
	}
	if n := len(f.hits("/ssp/register")); n != 1 {
		t.Errorf("%d registrations, want 1", n)
	}
	if regs := got[*Registered](p); len(regs) != 1 || len(got[*RegisterFailed](p)) != 0 || len(got[*Resync](p)) != 0 {
		t.Errorf("the parent got %s", describe(p.allEvents()))
	}
	st := p.state(t)
	if st.Link != LinkRegistered || st.SnapshotSeq != reg.SnapshotSeq || len(st.Registrations) != 1 || !st.Heartbeating {
		t.Errorf("State after the restarts %+v", st)
	}
	if now, _ := s.SSP(lt.sspID); !now.RegisteredAt.Equal(info.RegisteredAt) {
		t.Errorf("the scheduler saw a new registration at %s", now.RegisteredAt)
	}
	restarted := 0
	for _, e := range lt.logs.AllEntries() {
		if strings.HasPrefix(e.Message, "scheduler link restarted") {
			restarted++
		}
	}
	if restarted != 3 {
		t.Errorf("%d restart logs, want 3", restarted)
	}
}

// TestPanicDuringRegistration: a panic on the registration's answer loses that answer; the
// restarted link tries again and reports one Registered.
func TestPanicDuringRegistration(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{})
	f := newFront(t, s.URL())
	var once atomic.Bool
	lt := newLinkTest(t, f.url(), func(c *LinkConfig) {
		c.OnReceive = func(msg any) {
			if _, ok := msg.(*registerAnswer); ok && once.CompareAndSwap(false, true) {
				panic("injected: registration answer")
			}
		}
	})
	p := lt.start(true, 0)
	reg := waitEvent[*Registered](t, p, 1, 10*time.Second)[0]
	lt.waitHeartbeats(s, 2)
	if reg.Attempts != 2 || len(f.hits("/ssp/register")) != 2 || len(got[*Registered](p)) != 1 {
		t.Errorf("Registered %+v after %d requests; events %s", reg, len(f.hits("/ssp/register")), describe(p.allEvents()))
	}
}

// TestRegisterJoinsRunning: a Register while a registration runs joins it: one POST, one
// Registered.
func TestRegisterJoinsRunning(t *testing.T) {
	s, _ := startScheduler(t, seedSetup, testscheduler.Options{HoldCloning: true})
	f := newFront(t, s.URL())
	lt := newLinkTest(t, f.url(), func(c *LinkConfig) { c.RetryMin = 200 * time.Millisecond })
	p := lt.start(true, 0)
	waitFor(t, 5*time.Second, "a refused attempt", func() bool { return len(f.hits("/ssp/register")) >= 1 })
	p.send(Register{Reason: "again"})
	p.send(&Register{Reason: "and again"})
	waitFor(t, 5*time.Second, "the joins", func() bool {
		for _, e := range lt.logs.AllEntries() {
			if e.Data["reason"] == "and again" {
				return true
			}
		}
		return false
	})
	s.ReleaseCloning()
	reg := waitEvent[*Registered](t, p, 1, 10*time.Second)[0]
	if reg.Reason != "start" {
		t.Errorf("Registered %+v", reg)
	}
	quietFor(t, 300*time.Millisecond, "a second registration", func() bool { return len(got[*Registered](p)) > 1 })
	if st := p.state(t); len(st.Registrations) != 1 {
		t.Errorf("registrations %+v", st.Registrations)
	}
}

// TestStateJSON: State keeps the last 20 registrations and encodes with snake_case keys.
func TestStateJSON(t *testing.T) {
	s, _ := startScheduler(t, "", testscheduler.Options{})
	lt := newLinkTest(t, s.URL(), nil)
	p := lt.start(true, 0)
	waitEvent[*Registered](t, p, 1, 10*time.Second)
	for i := 1; i <= 21; i++ {
		p.send(Register{Reason: fmt.Sprintf("r%d", i)})
		waitEvent[*Registered](t, p, i+1, 10*time.Second)
	}
	lt.waitHeartbeats(s, 1)
	waitFor(t, 5*time.Second, "the heartbeat's answer", func() bool { return p.state(t).LastHeartbeat != nil })
	st := p.state(t)
	if len(st.Registrations) != 20 || st.Registrations[0].Reason != "r2" || st.Registrations[19].Reason != "r21" {
		t.Fatalf("registrations %+v", st.Registrations)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"link", "ssp_id", "scheduler_url", "advertised_url", "snapshot_seq", "table_hashes", "heartbeating",
		"last_heartbeat", "heartbeats", "consecutive_heartbeat_failures", "registrations"} {
		if _, ok := m[k]; !ok {
			t.Errorf("State JSON lacks %q: %s", k, b)
		}
	}
	last := m["last_heartbeat"].(map[string]any)
	for _, k := range []string{"at", "age_seconds", "answer", "status", "views", "cpu_usage", "memory_usage"} {
		if _, ok := last[k]; !ok {
			t.Errorf("last_heartbeat lacks %q: %s", k, b)
		}
	}
	r := m["registrations"].([]any)[0].(map[string]any)
	for _, k := range []string{"reason", "attempts", "duration_seconds", "result", "at", "snapshot_seq"} {
		if _, ok := r[k]; !ok {
			t.Errorf("registration lacks %q: %s", k, b)
		}
	}
	if m["link"] != "registered" || m["heartbeats"].(map[string]any)["ok"] == nil {
		t.Errorf("State JSON %s", b)
	}
}

// TestLinkConfigFrom: the link's settings come from the SSP's configuration.
func TestLinkConfigFrom(t *testing.T) {
	cfg, err := config.Load(nil, func(k string) (string, bool) {
		v, ok := map[string]string{"SPKY_SCHEDULER_URL": "http://sched:9667/", "SPKY_SSP_ID": "ssp-7",
			"HEARTBEAT_INTERVAL_MS": "1500", "SPKY_SSP_REGISTER_MAX_WAIT_SECS": "30", "SPKY_DB_PASS": "secret"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	lc := LinkConfigFrom(cfg, "1.2.3", "box")
	if lc.SchedulerURL != "http://sched:9667" || lc.SSPID != "ssp-7" || lc.AdvertiseURL != "http://box:8667" || lc.Version != "1.2.3" ||
		lc.HeartbeatInterval != 1500*time.Millisecond || lc.RegisterMaxWait != 30*time.Second || lc.Env["SPKY_SSP_ID"] != "ssp-7" {
		t.Errorf("LinkConfigFrom = %+v", lc)
	}
	for k, v := range lc.Env {
		if strings.Contains(v, "secret") {
			t.Errorf("env %s leaks the password", k)
		}
	}
}

// TestProcStat: the CPU figure follows real work and the RSS is this process's.
func TestProcStat(t *testing.T) {
	a := sampleProc()
	if !a.cpuOK || !a.rssOK || a.rss < 1<<20 {
		t.Fatalf("sample %+v", a)
	}
	// Spin until this process used 200 ms more CPU (however long a loaded machine takes), and
	// compare the figure with the CPU time the kernel's rusage reports over the same window.
	cpuNow := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	from, start := cpuNow(), time.Now()
	x := 0
	for cpuNow()-from < 200*time.Millisecond && time.Since(start) < 30*time.Second {
		x++
	}
	used, wall := cpuNow()-from, time.Since(start)
	b := sampleProc()
	want := float64(used) / float64(wall) * 100
	if p := cpuPercent(a, b); p == nil || *p < want*0.5 || *p > want*1.5+20 {
		t.Errorf("cpu over %s of spinning (%s of CPU by rusage: %.0f%%): %v%% (%d spins)", wall, used, want, p, x)
	}
	if m := rssMiB(b); m == nil || *m < 1 {
		t.Errorf("rss %v", m)
	}
	if cpuPercent(b, b) != nil || cpuPercent(procSample{at: a.at}, b) != nil || rssMiB(procSample{}) != nil {
		t.Error("figures from samples without data")
	}
}
