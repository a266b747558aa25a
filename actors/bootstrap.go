package actors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// runBootstrap runs the standalone bootstrap (SPEC §5) with retries, then sets the status.
func (s *Service) runBootstrap() {
	defer close(s.bootDone)
	ctx := s.bootCtx
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if v, err := s.db.Version(vctx); err == nil {
		s.dbVersion.Store(v)
	} else {
		s.log.WithError(err).Warn("read the SurrealDB version")
	}
	cancel()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := s.bootstrapOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			d := time.Since(start)
			s.m.bootstrap.Set(d.Seconds())
			s.log.WithField("duration", d.Round(time.Millisecond).String()).Info("bootstrap done")
			s.setStatus(StatusReady)
			return
		}
		fields := logrus.Fields{"attempt": attempt, "of": s.bootAttempts}
		if attempt >= s.bootAttempts {
			s.log.WithFields(fields).WithError(err).Error("bootstrap failed; giving up")
			s.setStatus(StatusFailed)
			return
		}
		s.log.WithFields(fields).WithError(err).Warn("bootstrap failed; retrying")
		if err := s.resetMemory(ctx); err != nil {
			return
		}
		t := time.NewTimer(s.bootDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// bootstrapOnce loads every base table, re-registers every `_00_query` view and reconciles the
// edges in the database with the computed membership.
func (s *Service) bootstrapOnce(ctx context.Context) error {
	s.adminMu.RLock() // a /reset waits for the attempt
	defer s.adminMu.RUnlock()
	tables, err := s.loader.Tables(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	rows := 0
	for _, t := range tables {
		err := s.loader.LoadTable(ctx, t, s.cfg.BootstrapPageSize, func(page []value.Value) error {
			rows += len(page)
			r, err := ask(ctx, s, s.coord, func(c chan error) any { return &loadRowsMsg{table: t, rows: page, reply: c} })
			if err == nil {
				err = r
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	s.log.WithFields(logrus.Fields{"tables": len(tables), "rows": rows}).Info("bootstrap: base data loaded")

	queries, err := s.store.LoadQueries(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	views := 0
	for _, q := range queries {
		req := RegisterRequest{Key: q.Key, SurQL: q.SurQL, ClientID: q.ClientID, TTL: q.TTL, Params: q.Params, LastActiveAt: q.LastActiveAt}
		if k := req.Params.Kind(); k != value.KindObject {
			req.Params = value.ObjectOf(nil)
		}
		r, err := ask(ctx, s, s.coord, func(c chan registerReply) any {
			return &registerMsg{req: req, authID: q.AuthID, bootstrap: true, reply: c}
		})
		if err == nil {
			err = r.err
		}
		if errors.Is(err, ErrInvalid) {
			s.log.WithField("view", q.Key).WithError(err).Warn("bootstrap: view not re-registered")
			continue
		}
		if err != nil {
			return fmt.Errorf("bootstrap: re-register view %s: %w", q.Key, err)
		}
		views++
	}
	s.log.WithField("views", views).Info("bootstrap: views re-registered")

	if err := s.ddl.EnsureGlobalTable(ctx); err != nil {
		s.log.WithError(err).Warn("bootstrap: define " + membership.GlobalTable)
	}
	snap, err := ask(ctx, s, s.coord, func(c chan snapshot) any { return &snapshotMsg{reply: c} })
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	existing, err := s.ddl.ListRefTables(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	refTables := map[string]bool{}
	for _, t := range existing {
		refTables[t] = true
	}
	for t := range snap.tables {
		refTables[t] = true
	}
	names := make([]string, 0, len(refTables))
	for t := range refTables {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		pid, err := s.writerFor(ctx, t)
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		vs := snap.tables[t]
		if vs == nil {
			vs = map[string]membership.ViewMembership{}
		}
		r, err := ask(ctx, s, pid, func(c chan error) any { return &reconcileMsg{views: vs, reply: c} })
		if err == nil {
			err = r
		}
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	return nil
}

// resetMemory drops every view and all base rows in memory and everything queued in the
// writers (the database is left alone).
func (s *Service) resetMemory(ctx context.Context) error {
	r, err := ask(ctx, s, s.coord, func(c chan resetReply) any { return &resetMsg{reply: c} })
	if err != nil {
		return err
	}
	for _, done := range r.retired {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, pid := range r.writers {
		if _, err := ask(ctx, s, pid, func(c chan struct{}) any { return &resetWriterMsg{reply: c} }); err != nil {
			return err
		}
	}
	return nil
}
