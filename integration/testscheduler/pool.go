package testscheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/tablehash"
	"github.com/sp00ky/ssp/surreal/value"
)

// Request kinds (Request.Kind).
const (
	KindFanout = "fanout" // an ingest sent to a ready SSP
	KindReplay = "replay" // a global-buffer event replayed after the SSP's health turned ready
	KindDrain  = "drain"  // an event of the SSP's own buffer, drained after the replay
	KindView   = "view"   // a forwarded /view/register or /view/unregister
)

// Request is one POST the scheduler sent to an SSP.
type Request struct {
	SSP  string
	Path string // /ingest, /view/register, /view/unregister
	Kind string
	Seq  uint64 // the event's seq for /ingest
	// Status is the SSP's HTTP status, 0 when the request failed before an answer.
	Status int
	Err    string
	Body   json.RawMessage
	At     time.Time
}

func (s *Scheduler) isCloning() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cloning
}

// post sends body to {base}{path} with the bearer secret and records the request. A status
// outside 2xx is an error.
func (s *Scheduler) post(ctx context.Context, sspID, base, path string, body []byte, seq uint64, kind string) (int, []byte, error) {
	rec := Request{SSP: sspID, Path: path, Kind: kind, Seq: seq, Body: append(json.RawMessage(nil), body...), At: time.Now()}
	status, resp, err := s.do(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, body)
	rec.Status = status
	if err != nil {
		rec.Err = err.Error()
	}
	s.mu.Lock()
	s.requests[sspID] = keepLast(append(s.requests[sspID], rec), s.opts.HistoryLimit)
	s.mu.Unlock()
	if err != nil {
		s.log.WithFields(logrus.Fields{"ssp_id": sspID, "path": path, "seq": seq, "kind": kind}).WithError(err).Warn("request to SSP failed")
	}
	return status, resp, err
}

// do sends one request (POSTs with the bearer secret) and reads the answer.
func (s *Scheduler) do(ctx context.Context, method, url string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		if s.opts.Secret != "" {
			req.Header.Set("Authorization", "Bearer "+s.opts.Secret)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, b, fmt.Errorf("%s %s: status %d: %s", method, url, resp.StatusCode, abbreviate(string(b)))
	}
	return resp.StatusCode, b, nil
}

// keepLast trims list to its last n entries (n <= 0: no limit).
func keepLast[T any](list []T, n int) []T {
	if n <= 0 || len(list) <= n {
		return list
	}
	return append(list[:0:0], list[len(list)-n:]...)
}

func abbreviate(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:197] + "..."
	}
	return s
}

// pickLocked returns the ready SSP with the fewest assigned views (ties: the smallest id),
// other than exclude, or "". s.mu must be held.
func (s *Scheduler) pickLocked(exclude string) string {
	counts := map[string]int{}
	for _, v := range s.views {
		counts[v.ssp]++
	}
	best := ""
	for _, id := range s.sortedIDs() {
		if id == exclude || s.ssps[id].status != SSPReady {
			continue
		}
		if best == "" || counts[id] < counts[best] {
			best = id
		}
	}
	return best
}

func (s *Scheduler) handleIngest(w http.ResponseWriter, r *http.Request) {
	if s.isCloning() {
		text(w, http.StatusServiceUnavailable, "Scheduler is cloning the database, not ready for ingests yet")
		return
	}
	_, m, ok := jsonBody(w, r)
	if !ok {
		return
	}
	f := fields{m: m}
	var table, op, id string
	f.get("table", &table, true)
	f.get("op", &op, true)
	f.get("id", &id, true)
	if f.fail(w) {
		return
	}
	switch strings.ToUpper(op) {
	case "CREATE", "UPDATE", "DELETE":
	default:
		text(w, http.StatusBadRequest, "Invalid operation: "+op)
		return
	}
	s.ingest(table, op, id, m)
	w.WriteHeader(http.StatusOK)
}

type target struct{ id, url string }

// ingest logs one event and fans it out: POSTed to every ready SSP, buffered for the others.
func (s *Scheduler) ingest(table, op, id string, m map[string]json.RawMessage) {
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()

	s.mu.Lock()
	s.counter++
	seq := s.counter
	assignee := s.pickLocked("")
	delete(m, "job_assignee")
	if assignee != "" {
		m["job_assignee"], _ = json.Marshal(assignee)
	}
	body, _ := json.Marshal(m)
	e := &Event{Seq: seq, Table: table, Op: op, ID: id, JobAssignee: assignee, Body: body, Received: time.Now()}
	s.events = keepLast(append(s.events, e), s.opts.HistoryLimit)
	s.global = append(s.global, e)
	var targets []target
	for _, sid := range s.sortedIDs() {
		p := s.ssps[sid]
		if p.status == SSPReady {
			targets = append(targets, target{sid, p.url})
			continue
		}
		if len(p.buffer) >= s.opts.BufferMax {
			p.buffer = nil
			p.flag = &conflict{reason: ReasonOverflow}
			s.log.WithFields(logrus.Fields{"ssp_id": sid, "seq": seq, "max": s.opts.BufferMax}).
				Warn("SSP buffer overflow: buffer cleared, SSP flagged for re-bootstrap")
			continue
		}
		p.buffer = append(p.buffer, e)
	}
	s.mu.Unlock()

	s.log.WithFields(logrus.Fields{"seq": seq, "table": table, "op": op, "id": id, "ready": len(targets)}).Debug("ingest")
	for _, t := range targets {
		_, _, _ = s.post(s.ctx, t.id, t.url, "/ingest", body, seq, KindFanout)
	}
}

func (s *Scheduler) handleRegister(w http.ResponseWriter, r *http.Request) {
	if s.isCloning() {
		text(w, http.StatusServiceUnavailable, "Scheduler is cloning the database, not ready for registrations yet")
		return
	}
	if status, msg, ok := s.takeRegistrationFailure(); ok {
		text(w, status, msg)
		return
	}
	_, m, ok := jsonBody(w, r)
	if !ok {
		return
	}
	f := fields{m: m}
	var id, url, version string
	var env json.RawMessage
	f.get("ssp_id", &id, true)
	f.get("url", &url, true)
	f.get("version", &version, true)
	f.get("env", &env, false)
	if f.fail(w) {
		return
	}
	if strings.TrimSpace(id) == "" {
		text(w, http.StatusBadRequest, "SSP ID cannot be empty")
		return
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		text(w, http.StatusBadRequest, "SSP URL must start with http:// or https://")
		return
	}

	// The read lock keeps the updater out between the hashes and the freeze.
	s.replicaMu.RLock()
	hashes, err := s.tableHashes(r.Context())
	if err != nil {
		s.replicaMu.RUnlock()
		s.log.WithField("ssp_id", id).WithError(err).Error("registration: table hashes failed")
		text(w, http.StatusInternalServerError, "Failed to compute table hashes: "+err.Error())
		return
	}
	s.mu.Lock()
	if old := s.ssps[id]; old != nil && old.cancel != nil {
		old.cancel()
	}
	s.gen++
	ctx, cancel := context.WithCancel(s.ctx)
	p := &sspState{
		id: id, url: url, version: version, env: env,
		status: SSPBootstrapping, snapshotSeq: s.snapshotSeq,
		registeredAt: time.Now(), gen: s.gen, cancel: cancel,
	}
	s.ssps[id] = p
	s.lieLocked(hashes)
	gen, snap := p.gen, p.snapshotSeq
	s.mu.Unlock()
	s.replicaMu.RUnlock()

	s.log.WithFields(logrus.Fields{"ssp_id": id, "url": url, "version": version, "snapshot_seq": snap}).
		Info("SSP registered; replica frozen while it bootstraps")
	if !s.goBackground(func(context.Context) {
		defer cancel()
		s.bootstrap(ctx, id, gen, url)
	}) {
		cancel()
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"snapshot_seq": snap, "table_hashes": hashes})
}

// current returns the SSP id if it is still the registration gen. s.mu must be held.
func (s *Scheduler) current(id string, gen uint64) *sspState {
	if p := s.ssps[id]; p != nil && p.gen == gen {
		return p
	}
	return nil
}

// bootstrap polls the SSP's health until it is ready (then replays), failed or out of time
// (then drops it).
func (s *Scheduler) bootstrap(ctx context.Context, id string, gen uint64, base string) {
	log := s.log.WithField("ssp_id", id)
	deadline := time.Now().Add(s.opts.BootstrapTimeout)
	for {
		if conn.Sleep(ctx, s.opts.PollInterval) != nil {
			return
		}
		status := s.health(ctx, base)
		if ctx.Err() != nil {
			return
		}
		switch {
		case status == "ready":
			s.replay(ctx, id, gen, base)
			return
		case status == "failed":
			s.abort(id, gen, "the SSP reported failed")
			return
		case time.Now().After(deadline):
			s.abort(id, gen, "bootstrap timeout")
			return
		}
		log.WithField("health", status).Debug("SSP not ready yet")
	}
}

// health returns the `status` of GET {base}/health ("" when unreachable or unreadable).
func (s *Scheduler) health(ctx context.Context, base string) string {
	_, b, err := s.do(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/health", nil)
	if b == nil && err != nil {
		return ""
	}
	var h struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(b, &h)
	return h.Status
}

// abort drops an SSP whose bootstrap failed.
func (s *Scheduler) abort(id string, gen uint64, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current(id, gen) == nil {
		return
	}
	s.removeLocked(id)
	if s.sw.defects.FrozenAfterAbort {
		s.stuckFrozen = true
	}
	s.log.WithFields(logrus.Fields{"ssp_id": id, "reason": why, "frozen": s.frozenLocked()}).Warn("SSP bootstrap aborted; SSP dropped")
}

// replay sends the SSP the global buffer's events after its snapshot, then drains its own
// buffer until it is empty, and marks it ready.
func (s *Scheduler) replay(ctx context.Context, id string, gen uint64, base string) {
	s.mu.Lock()
	p := s.current(id, gen)
	if p == nil {
		s.mu.Unlock()
		return
	}
	p.status = SSPReplaying
	var evs []*Event
	for _, e := range s.global {
		if e.Seq > p.snapshotSeq {
			evs = append(evs, e)
		}
	}
	s.mu.Unlock()
	log := s.log.WithField("ssp_id", id)
	log.WithField("events", len(evs)).Info("SSP ready; replaying the global buffer")
	for _, e := range evs {
		if ctx.Err() != nil {
			return
		}
		_, _, _ = s.post(ctx, id, base, "/ingest", e.Body, e.Seq, KindReplay)
	}
	var verify bool
	for {
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		if p = s.current(id, gen); p == nil {
			s.mu.Unlock()
			return
		}
		if len(p.buffer) == 0 {
			p.status = SSPReady
			p.lastHeartbeat = time.Now()
			s.stuckFrozen = false
			verify = s.sw.verify
			frozen := s.frozenLocked()
			s.mu.Unlock()
			log.WithField("replica_frozen", frozen).Info("SSP replayed and ready")
			break
		}
		batch := p.buffer
		p.buffer = nil
		s.mu.Unlock()
		for _, e := range batch {
			_, _, _ = s.post(ctx, id, base, "/ingest", e.Body, e.Seq, KindDrain)
		}
	}
	if verify {
		s.verify(ctx, id, gen, base)
	}
}

// verify compares the SSP's /info circuit_hashes with the replica's rows brought forward by
// every event since the snapshot, and flags the SSP on a mismatch. Holding ingestMu keeps
// ingests from reaching the SSP meanwhile.
func (s *Scheduler) verify(ctx context.Context, id string, gen uint64, base string) {
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	log := s.log.WithField("ssp_id", id)

	s.replicaMu.RLock()
	rows, err := s.replicaRows(ctx)
	s.mu.Lock()
	evs := append([]*Event(nil), s.global...) // the events after the replica's snapshot
	s.mu.Unlock()
	s.replicaMu.RUnlock()
	if err != nil {
		log.WithError(err).Warn("verification skipped: cannot read the replica")
		return
	}
	want := projectHashes(rows, evs)
	got, err := s.circuitHashes(ctx, base)
	if err != nil {
		log.WithError(err).Warn("verification skipped: cannot read the SSP's /info")
		return
	}
	var mismatches []string
	for _, tb := range unionTables(want, got) {
		empty := tablehash.Hash(tb, nil)
		w, g := want[tb], got[tb]
		if w == "" {
			w = empty
		}
		if g == "" {
			g = empty
		}
		if w != g {
			mismatches = append(mismatches, tb)
			log.WithFields(logrus.Fields{"table": tb, "expected": w, "actual": g}).Warn("SSP table hash mismatch")
		}
	}
	ok := len(mismatches) == 0
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.current(id, gen)
	if p == nil {
		return
	}
	p.verified, p.mismatches = &ok, mismatches
	if !ok {
		p.flag = &conflict{reason: ReasonMismatch}
		log.WithField("tables", mismatches).Warn("SSP flagged for resync: its circuit differs from the snapshot")
	}
}

// projectHashes hashes the replica's rows with evs applied on top, as the SSP should hold them.
func projectHashes(rows map[string][]value.Value, evs []*Event) map[string]string {
	tables := map[string]map[string]value.Value{}
	for tb, rs := range rows {
		m := make(map[string]value.Value, len(rs))
		for _, r := range rs {
			m[value.HashKey(r.Get("id"))] = r
		}
		tables[tb] = m
	}
	for _, e := range evs {
		if strings.HasPrefix(e.Table, internalPrefix) {
			continue
		}
		rid, row, del, err := eventRow(e)
		if err != nil {
			continue
		}
		m := tables[e.Table]
		if m == nil {
			m = map[string]value.Value{}
			tables[e.Table] = m
		}
		if del {
			delete(m, value.HashKey(rid))
		} else {
			m[value.HashKey(rid)] = row
		}
	}
	out := make(map[string]string, len(tables))
	for tb, m := range tables {
		rs := make([]value.Value, 0, len(m))
		for _, r := range m {
			rs = append(rs, r)
		}
		out[tb] = tablehash.Hash(tb, rs)
	}
	return out
}

func unionTables(a, b map[string]string) []string {
	set := map[string]bool{}
	for tb := range a {
		set[tb] = true
	}
	for tb := range b {
		set[tb] = true
	}
	var out []string
	for tb := range set {
		if !strings.HasPrefix(tb, internalPrefix) {
			out = append(out, tb)
		}
	}
	sort.Strings(out)
	return out
}

// circuitHashes reads `circuit_hashes` from GET {base}/info (an array of entities, or one).
func (s *Scheduler) circuitHashes(ctx context.Context, base string) (map[string]string, error) {
	_, b, err := s.do(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/info", nil)
	if err != nil {
		return nil, err
	}
	type entity struct {
		Entity        string            `json:"entity"`
		CircuitHashes map[string]string `json:"circuit_hashes"`
	}
	var list []entity
	if err := json.Unmarshal(b, &list); err != nil {
		var one entity
		if err2 := json.Unmarshal(b, &one); err2 != nil {
			return nil, fmt.Errorf("decode /info: %w", err)
		}
		list = []entity{one}
	}
	for _, e := range list {
		if e.CircuitHashes != nil && (e.Entity == "" || e.Entity == "ssp") {
			return e.CircuitHashes, nil
		}
	}
	return nil, fmt.Errorf("/info has no circuit_hashes")
}

// Heartbeat is one heartbeat the scheduler received, with its answer.
type Heartbeat struct {
	SSP         string
	Timestamp   int64
	Views       int
	CPU, Memory *float64
	Version     string
	Answer      int
	At          time.Time
}

func (s *Scheduler) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	_, m, ok := jsonBody(w, r)
	if !ok {
		return
	}
	f := fields{m: m}
	hb := Heartbeat{At: time.Now()}
	f.get("ssp_id", &hb.SSP, true)
	f.get("timestamp", &hb.Timestamp, true)
	f.get("views", &hb.Views, true)
	f.get("cpu_usage", &hb.CPU, false)
	f.get("memory_usage", &hb.Memory, false)
	f.get("version", &hb.Version, true)
	if f.fail(w) {
		return
	}
	s.mu.Lock()
	var answer HeartbeatAnswer
	if forced, ok := s.sw.forced[hb.SSP]; ok {
		delete(s.sw.forced, hb.SSP)
		answer = forced
	} else if p := s.ssps[hb.SSP]; p == nil {
		answer = HeartbeatAnswer{Status: http.StatusNotFound}
	} else {
		p.reportedViews, p.cpu, p.mem, p.lastHeartbeat = hb.Views, hb.CPU, hb.Memory, hb.At
		answer = HeartbeatAnswer{Status: http.StatusOK}
		if p.flag != nil {
			answer = HeartbeatAnswer{Status: http.StatusConflict, JSON: s.sw.conflictJSON, Reason: p.flag.reason, Clean: p.flag.clean}
		}
	}
	hb.Answer = answer.Status
	s.heartbeats[hb.SSP] = keepLast(append(s.heartbeats[hb.SSP], hb), s.opts.HistoryLimit)
	s.mu.Unlock()
	if answer.Status != http.StatusOK {
		s.log.WithFields(logrus.Fields{"ssp_id": hb.SSP, "status": answer.Status}).Info("heartbeat refused")
	}
	answer.write(w)
}
