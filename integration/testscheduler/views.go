package testscheduler

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/engine"
)

func (s *Scheduler) handleViewRegister(w http.ResponseWriter, r *http.Request) {
	body, m, ok := jsonBody(w, r)
	if !ok {
		return
	}
	f := fields{m: m}
	var id string
	f.get("id", &id, true)
	if f.fail(w) {
		return
	}
	key := engine.ViewKey(id)
	if key == "" {
		text(w, http.StatusBadRequest, fmt.Sprintf("View id %q has an empty key", id))
		return
	}

	s.mu.Lock()
	prev := s.views[key]
	var to string
	switch {
	case prev != nil && s.sw.defects.ReRegisterMoves:
		if to = s.pickLocked(prev.ssp); to == "" {
			to = prev.ssp
		}
	case prev != nil:
		to = prev.ssp // sticky: the view stays on the SSP that serves it
	default:
		to = s.pickLocked("")
	}
	if to == "" {
		s.mu.Unlock()
		text(w, http.StatusServiceUnavailable, "No SSP available")
		return
	}
	now := time.Now().UTC()
	mine := &view{id: id, ssp: to, body: body, assignedAt: now}
	if prev != nil && prev.ssp == to {
		mine.assignedAt = prev.assignedAt
	}
	s.views[key] = mine // counted by concurrent picks while the SSP answers
	base := s.ssps[to].url
	s.mu.Unlock()

	log := s.log.WithFields(logrus.Fields{"view": key, "ssp_id": to})
	if _, _, err := s.post(s.ctx, to, base, "/view/register", body, 0, KindView); err != nil {
		s.undoAssignment(key, mine, prev)
		log.WithError(err).Warn("view registration failed on the SSP; assignment undone")
		text(w, http.StatusInternalServerError, fmt.Sprintf("Failed to register view on SSP %s: %v", to, err))
		return
	}
	if prev != nil && prev.ssp != to {
		log.WithField("from", prev.ssp).Warn("view moved to another SSP")
	} else {
		log.Debug("view assigned")
	}
	writeJSON(w, http.StatusOK, map[string]any{"query_id": id, "ssp_id": to, "assigned_at": now.Format(time.RFC3339Nano)})
}

// undoAssignment restores prev as key's assignment if mine is still in place.
func (s *Scheduler) undoAssignment(key string, mine, prev *view) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.views[key] != mine {
		return
	}
	if prev != nil && s.ssps[prev.ssp] != nil {
		s.views[key] = prev
	} else {
		delete(s.views, key)
	}
}

func (s *Scheduler) handleViewUnregister(w http.ResponseWriter, r *http.Request) {
	body, m, ok := jsonBody(w, r)
	if !ok {
		return
	}
	f := fields{m: m}
	var id string
	f.get("id", &id, true)
	if f.fail(w) {
		return
	}
	key := engine.ViewKey(id)
	s.mu.Lock()
	v := s.views[key]
	var base string
	if v != nil {
		base = s.ssps[v.ssp].url
	}
	s.mu.Unlock()
	if v == nil {
		text(w, http.StatusNotFound, fmt.Sprintf("View %s is not assigned to any SSP", id))
		return
	}
	if _, _, err := s.post(s.ctx, v.ssp, base, "/view/unregister", body, 0, KindView); err != nil {
		text(w, http.StatusInternalServerError, fmt.Sprintf("Failed to unregister view on SSP %s: %v", v.ssp, err))
		return
	}
	s.mu.Lock()
	if s.views[key] == v {
		delete(s.views, key)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// Reassign moves view id to SSP sspID, as a registration landing elsewhere would: its last
// registration body is forwarded to the new SSP's /view/register, and the assignment changes
// once that succeeds. The old SSP is not told (SPEC §6.7: it must notice by itself).
func (s *Scheduler) Reassign(ctx context.Context, id, sspID string) error {
	key := engine.ViewKey(id)
	s.mu.Lock()
	prev := s.views[key]
	p := s.ssps[sspID]
	if prev == nil || p == nil {
		s.mu.Unlock()
		if prev == nil {
			return fmt.Errorf("reassign view %s: not assigned", id)
		}
		return fmt.Errorf("reassign view %s: SSP %s is not in the pool", id, sspID)
	}
	mine := &view{id: prev.id, ssp: sspID, body: prev.body, assignedAt: time.Now().UTC()}
	s.views[key] = mine
	base := p.url
	s.mu.Unlock()
	if _, _, err := s.post(ctx, sspID, base, "/view/register", prev.body, 0, KindView); err != nil {
		s.undoAssignment(key, mine, prev)
		return fmt.Errorf("reassign view %s to %s: %w", id, sspID, err)
	}
	s.log.WithFields(logrus.Fields{"view": key, "from": prev.ssp, "ssp_id": sspID}).Info("view reassigned")
	return nil
}
