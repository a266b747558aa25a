package testscheduler

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

// SSPInfo is a copy of one SSP's state in the pool.
type SSPInfo struct {
	ID, URL, Version string
	Env              json.RawMessage
	Status           SSPStatus
	// SnapshotSeq is the snapshot the SSP was given at its (last) registration.
	SnapshotSeq uint64
	// Buffered are the seqs in its buffer (events that arrived while it was not ready).
	Buffered []uint64
	// Views is the number of views assigned to it; ReportedViews what its last heartbeat said.
	Views, ReportedViews int
	CPU, Memory          *float64
	LastHeartbeat        time.Time // its registration's end (ready) until a heartbeat arrives
	RegisteredAt         time.Time
	// Flagged SSPs get 409 on their heartbeats (FlagReason) until they register again.
	Flagged    bool
	FlagReason string
	// Verified is the result of the circuit-hash verification (nil: not done), Mismatches the
	// tables that differed.
	Verified   *bool
	Mismatches []string
}

// Status returns the scheduler's status.
func (s *Scheduler) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked()
}

// Seq returns the last seq given to an ingest.
func (s *Scheduler) Seq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counter
}

// SnapshotSeq returns the highest seq applied to the replica.
func (s *Scheduler) SnapshotSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotSeq
}

// Log returns every accepted event, in seq order.
func (s *Scheduler) Log() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		out[i] = *e
	}
	return out
}

// GlobalBuffer returns the seqs of the events not yet applied to the replica.
func (s *Scheduler) GlobalBuffer() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return seqs(s.global)
}

func seqs(evs []*Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// SSP returns the state of one SSP of the pool.
func (s *Scheduler) SSP(id string) (SSPInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ssps[id]
	if p == nil {
		return SSPInfo{}, false
	}
	return s.infoLocked(p), true
}

// SSPs returns the state of every SSP of the pool, by id.
func (s *Scheduler) SSPs() []SSPInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SSPInfo, 0, len(s.ssps))
	for _, id := range s.sortedIDs() {
		out = append(out, s.infoLocked(s.ssps[id]))
	}
	return out
}

func (s *Scheduler) infoLocked(p *sspState) SSPInfo {
	views := 0
	for _, v := range s.views {
		if v.ssp == p.id {
			views++
		}
	}
	info := SSPInfo{
		ID: p.id, URL: p.url, Version: p.version, Env: p.env, Status: p.status,
		SnapshotSeq: p.snapshotSeq, Buffered: seqs(p.buffer), Views: views, ReportedViews: p.reportedViews,
		CPU: p.cpu, Memory: p.mem, LastHeartbeat: p.lastHeartbeat, RegisteredAt: p.registeredAt,
		Flagged: p.flag != nil, Verified: p.verified, Mismatches: append([]string(nil), p.mismatches...),
	}
	if p.flag != nil {
		info.FlagReason = p.flag.reason
	}
	return info
}

// Assignments returns view key → SSP id for every assigned view.
func (s *Scheduler) Assignments() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.views))
	for key, v := range s.views {
		out[key] = v.ssp
	}
	return out
}

// Requests returns every POST sent to SSP id (across its registrations), in order.
func (s *Scheduler) Requests(id string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests[id]...)
}

// Ingests returns the seqs of the /ingest POSTs sent to SSP id (fan-out, replay and drain,
// answered or not), in the order they were sent.
func (s *Scheduler) Ingests(id string) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	for _, r := range s.requests[id] {
		if r.Path == "/ingest" {
			out = append(out, r.Seq)
		}
	}
	return out
}

// Heartbeats returns the heartbeats received from SSP id (known or not), in order.
func (s *Scheduler) Heartbeats(id string) []Heartbeat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Heartbeat(nil), s.heartbeats[id]...)
}

func (s *Scheduler) handleProxyQuery(w http.ResponseWriter, r *http.Request) {
	_, m, ok := jsonBody(w, r)
	if !ok {
		return
	}
	f := fields{m: m}
	var q string
	f.get("query", &q, true)
	if f.fail(w) {
		return
	}
	s.replicaMu.RLock()
	rs, err := s.rep.Query(r.Context(), q, nil)
	s.replicaMu.RUnlock()
	s.mu.Lock()
	asObject := s.sw.defects.InfoObject
	s.mu.Unlock()
	switch {
	case err != nil:
		text(w, http.StatusInternalServerError, "Query failed: "+err.Error())
		return
	case len(rs) == 0:
		writeJSON(w, http.StatusOK, []any{})
		return
	case rs[0].Err != nil && isMissing(rs[0].Err):
		writeJSON(w, http.StatusOK, []any{})
		return
	case rs[0].Err != nil:
		text(w, http.StatusInternalServerError, "Query failed: "+rs[0].Err.Error())
		return
	}
	v := rs[0].Value
	out := PlainJSON(v)
	if v.Kind() != value.KindArray && !asObject {
		if v.IsNullish() {
			out = []any{}
		} else {
			out = []any{out}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Scheduler) handleHealth(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	ready := false
	for _, p := range s.ssps {
		ready = ready || p.status == SSPReady
	}
	s.mu.Unlock()
	if ready {
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
}

// sspJSON is one SSP in /info.
type sspJSON struct {
	ID                string    `json:"id"`
	URL               string    `json:"url"`
	Version           string    `json:"version"`
	Status            SSPStatus `json:"status"`
	SnapshotSeq       uint64    `json:"snapshot_seq"`
	Views             int       `json:"views"`
	ReportedViews     int       `json:"reported_views"`
	CPU               *float64  `json:"cpu_usage"`
	Memory            *float64  `json:"memory_usage"`
	LastHeartbeatSecs *float64  `json:"last_heartbeat_age_secs"`
	BufferLen         int       `json:"buffer_len"`
	Flagged           bool      `json:"flagged"`
}

func (s *Scheduler) handleInfo(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	s.mu.Lock()
	out := map[string]any{
		"entity":       "scheduler",
		"status":       s.statusLocked(),
		"seq":          s.counter,
		"snapshot_seq": s.snapshotSeq,
		"buffered":     len(s.global),
		"views":        len(s.views),
		"replica":      s.opts.NS + "/" + s.replicaDB,
	}
	list := []sspJSON{}
	for _, id := range s.sortedIDs() {
		i := s.infoLocked(s.ssps[id])
		j := sspJSON{ID: i.ID, URL: i.URL, Version: i.Version, Status: i.Status, SnapshotSeq: i.SnapshotSeq,
			Views: i.Views, ReportedViews: i.ReportedViews, CPU: i.CPU, Memory: i.Memory,
			BufferLen: len(i.Buffered), Flagged: i.Flagged}
		if !i.LastHeartbeat.IsZero() {
			age := now.Sub(i.LastHeartbeat).Seconds()
			j.LastHeartbeatSecs = &age
		}
		list = append(list, j)
	}
	out["ssps"] = list
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Scheduler) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	var b strings.Builder
	s.mu.Lock()
	st := s.statusLocked()
	for _, x := range []Status{StatusCloning, StatusReady, StatusFrozen, StatusUpdating} {
		v := 0
		if x == st {
			v = 1
		}
		fmt.Fprintf(&b, "sp00ky_scheduler_status{status=%q} %d\n", x, v)
	}
	fmt.Fprintf(&b, "sp00ky_scheduler_seq %d\n", s.counter)
	fmt.Fprintf(&b, "sp00ky_scheduler_snapshot_seq %d\n", s.snapshotSeq)
	fmt.Fprintf(&b, "sp00ky_scheduler_buffered_events %d\n", len(s.global))
	fmt.Fprintf(&b, "sp00ky_scheduler_views %d\n", len(s.views))
	fmt.Fprintf(&b, "sp00ky_scheduler_ssps %d\n", len(s.ssps))
	ids := s.sortedIDs()
	infos := make([]SSPInfo, len(ids))
	for i, id := range ids {
		infos[i] = s.infoLocked(s.ssps[id])
	}
	s.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
	for _, i := range infos {
		l := fmt.Sprintf("{ssp_id=%q}", i.ID)
		ready := 0
		if i.Status == SSPReady {
			ready = 1
		}
		fmt.Fprintf(&b, "sp00ky_scheduler_ssp_ready%s %d\n", l, ready)
		fmt.Fprintf(&b, "sp00ky_scheduler_ssp_views%s %d\n", l, i.Views)
		fmt.Fprintf(&b, "sp00ky_scheduler_ssp_buffer_len%s %d\n", l, len(i.Buffered))
		if i.CPU != nil {
			fmt.Fprintf(&b, "sp00ky_scheduler_ssp_cpu_usage%s %g\n", l, *i.CPU)
		}
		if i.Memory != nil {
			fmt.Fprintf(&b, "sp00ky_scheduler_ssp_memory_usage%s %g\n", l, *i.Memory)
		}
		if !i.LastHeartbeat.IsZero() {
			fmt.Fprintf(&b, "sp00ky_scheduler_ssp_last_heartbeat_age_seconds%s %g\n", l, now.Sub(i.LastHeartbeat).Seconds())
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
