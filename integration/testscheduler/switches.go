package testscheduler

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sirupsen/logrus"
)

// switches are the test behaviours. Guarded by Scheduler.mu.
type switches struct {
	conflictJSON bool
	verify       bool
	defects      Defects
	forced       map[string]HeartbeatAnswer
	lies         map[string]bool // table → lie on every registration (else once)
	failLeft     int             // registrations still to refuse; < 0: all
	failStatus   int
}

func newSwitches(o Options) switches {
	return switches{
		conflictJSON: o.ConflictJSON,
		verify:       o.VerifyCircuitHashes,
		defects:      o.Defects,
		forced:       map[string]HeartbeatAnswer{},
		lies:         map[string]bool{},
	}
}

// HeartbeatAnswer is a forced answer to one heartbeat (ForceHeartbeat).
type HeartbeatAnswer struct {
	// Status is the HTTP status: 404 and 409 as the real scheduler sends them, any other as
	// plain text (e.g. 500 or 503, which the SSP must shrug off).
	Status int
	// JSON answers a 409 as `{"reason","clean"}` instead of plain text.
	JSON bool
	// Reason is the 409 text or `reason` (ReasonOverflow if empty); for other statuses the body.
	Reason string
	// Clean is the `clean` field of a JSON 409.
	Clean bool
}

func (a HeartbeatAnswer) write(w http.ResponseWriter) {
	switch a.Status {
	case http.StatusOK:
		w.WriteHeader(http.StatusOK)
	case http.StatusNotFound:
		text(w, a.Status, orDefault(a.Reason, "SSP not registered. Please re-register."))
	case http.StatusConflict:
		reason := orDefault(a.Reason, ReasonOverflow)
		if a.JSON {
			writeJSON(w, a.Status, map[string]any{"reason": reason, "clean": a.Clean})
			return
		}
		text(w, a.Status, reason)
	default:
		text(w, a.Status, orDefault(a.Reason, http.StatusText(a.Status)))
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ForceHeartbeat makes the next heartbeat of sspID get answer instead of the real one (the
// scheduler's state is left alone). A registered SSP is not required.
func (s *Scheduler) ForceHeartbeat(sspID string, answer HeartbeatAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sw.forced[sspID] = answer
}

// Flag marks an SSP for resync: its heartbeats get 409 (reason, clean) until it registers
// again, as after a buffer overflow or a hash mismatch.
func (s *Scheduler) Flag(sspID, reason string, clean bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ssps[sspID]
	if p == nil {
		return fmt.Errorf("flag SSP %s: not in the pool", sspID)
	}
	p.flag = &conflict{reason: orDefault(reason, ReasonMismatch), clean: clean}
	return nil
}

// DropSSP removes an SSP from the pool as a heartbeat timeout does (its views left
// unassigned). It reports whether the SSP was in the pool.
func (s *Scheduler) DropSSP(sspID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ssps[sspID]
	s.removeLocked(sspID)
	return ok
}

// SetConflictJSON chooses the form of 409 heartbeat answers: JSON `{"reason","clean"}` (newer
// schedulers) or plain text (older ones).
func (s *Scheduler) SetConflictJSON(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sw.conflictJSON = on
}

// SetVerifyCircuitHashes switches the post-replay comparison of circuit_hashes (newer
// schedulers) on or off.
func (s *Scheduler) SetVerifyCircuitHashes(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sw.verify = on
}

// SetDefects replaces the reproduced defects.
func (s *Scheduler) SetDefects(d Defects) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sw.defects = d
}

// LieTableHash makes the table_hashes of registrations give a wrong hash for table (also when
// the replica has no such table): for the next registration only, or for all when always.
func (s *Scheduler) LieTableHash(table string, always bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sw.lies[table] = always
}

// StopLying drops every LieTableHash.
func (s *Scheduler) StopLying() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sw.lies = map[string]bool{}
}

// lieLocked applies the table-hash lies to hashes. s.mu must be held.
func (s *Scheduler) lieLocked(hashes map[string]string) {
	for tb, always := range s.sw.lies {
		hashes[tb] = "b3:" + strings.Repeat("0", 64)
		if !always {
			delete(s.sw.lies, tb)
		}
		s.log.WithField("table", tb).Info("table_hashes: lying about a table, as switched")
	}
}

// FailRegistrations makes the next n registrations (all when n < 0; none when n == 0) answer
// status with a plain-text body and change nothing: 503 as a scheduler that is not ready,
// a 4xx as one that refuses the SSP.
func (s *Scheduler) FailRegistrations(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sw.failLeft, s.sw.failStatus = n, status
}

// takeRegistrationFailure consumes one switched registration failure.
func (s *Scheduler) takeRegistrationFailure() (int, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sw.failLeft == 0 {
		return 0, "", false
	}
	if s.sw.failLeft > 0 {
		s.sw.failLeft--
	}
	status := s.sw.failStatus
	msg := "Registration refused (test switch)"
	if status == http.StatusServiceUnavailable {
		msg = "Scheduler not ready (test switch)"
	}
	s.log.WithFields(logrus.Fields{"status": status}).Info("registration refused, as switched")
	return status, msg, true
}
