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

// runBootstrap runs the bootstrap (SPEC §5) with retries, then sets the status: ready, or failed
// (the error is returned). With keepViews the registered views stay and are re-materialized
// over the reloaded data (SPEC §6.5); otherwise they are read from `_00_query`.
//
// Its retries are whole attempts of the bootstrap, not retries of a query: a read or write that
// failed (after the connection's own retries of what was transient) fails the attempt, and the
// next attempt starts over, Deps.BootstrapRetryDelay later, up to Deps.BootstrapAttempts.
func (s *Service) runBootstrap(keepViews bool) error {
	ctx := s.bootCtx
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := s.bootstrapOnce(ctx, keepViews)
		if ctx.Err() != nil {
			return fmt.Errorf("bootstrap: %w", ctx.Err())
		}
		if err == nil {
			d := time.Since(start)
			s.m.bootstrap.Set(d.Seconds())
			s.log.WithField("duration", d.Round(time.Millisecond).String()).Info("bootstrap done")
			s.setStatus(StatusReady)
			return nil
		}
		fields := logrus.Fields{"attempt": attempt, "of": s.bootAttempts}
		if attempt >= s.bootAttempts {
			s.log.WithFields(fields).WithError(err).Error("bootstrap failed; giving up")
			s.setStatus(StatusFailed)
			return err
		}
		s.log.WithFields(fields).WithError(err).Warn("bootstrap failed; retrying")
		if !keepViews {
			if err := s.resetMemory(ctx); err != nil {
				return fmt.Errorf("bootstrap: %w", err)
			}
		}
		t := time.NewTimer(s.bootDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("bootstrap: %w", ctx.Err())
		}
	}
}

// readDBVersion records SurrealDB's version for /info.
func (s *Service) readDBVersion(ctx context.Context) {
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if v, err := s.db.Version(vctx); err == nil {
		s.dbVersion.Store(v)
	} else {
		s.log.WithError(err).Warn("read the SurrealDB version")
	}
}

// Rebootstrap reloads the base data in-process while keeping every registered view (SPEC §6.5,
// for the scheduler link on heartbeat 404/409): the status goes back to bootstrapping (ingests
// and registrations answer ErrNotReady), in-flight steps finish, the engine is rebuilt from the
// loaded rows, every view is re-materialized (its actor writes the difference), every list_ref
// table is reconciled, and the status becomes ready again (failed after the retries).
func (s *Service) Rebootstrap(ctx context.Context) error {
	if err := s.gateStarted(); err != nil {
		return err
	}
	s.rebootMu.Lock()
	defer s.rebootMu.Unlock()
	select {
	case <-s.bootDone:
	case <-ctx.Done():
		return fmt.Errorf("rebootstrap: waiting for the first bootstrap: %w", ctx.Err())
	}
	s.setStatus(StatusBootstrapping)
	// Let the steps already accepted finish: hold every queue slot once.
	held := 0
	defer func() {
		for ; held > 0; held-- {
			s.release()
		}
	}()
	for held < cap(s.queue) {
		select {
		case s.queue <- struct{}{}:
			held++
		case <-ctx.Done():
			return fmt.Errorf("rebootstrap: waiting for in-flight ingests: %w", ctx.Err())
		case <-s.closingCh:
			return ErrShuttingDown
		}
	}
	for ; held > 0; held-- {
		s.release()
	}
	return s.runBootstrap(true)
}

// bootstrapOnce loads every base table, re-registers every `_00_query` view and reconciles the
// edges in the database with the computed membership.
func (s *Service) bootstrapOnce(ctx context.Context, keepViews bool) error {
	s.adminMu.RLock() // a /reset waits for the attempt
	defer s.adminMu.RUnlock()
	if keepViews {
		if _, err := ask(ctx, s, s.coord, func(c chan struct{}) any { return &reloadMsg{reply: c} }); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
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

	if keepViews {
		n, err := ask(ctx, s, s.coord, func(c chan int) any { return &rematerializeMsg{reply: c} })
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		s.log.WithField("views", n).Info("bootstrap: views re-materialized")
	} else if err := s.reregister(ctx); err != nil {
		return err
	}

	return s.reconcileAll(ctx)
}

// reregister registers every view of `_00_query` (without writing edges: reconcileAll does).
func (s *Service) reregister(ctx context.Context) error {
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
	return nil
}

// reconcileAll makes every list_ref table's edges equal to the computed membership.
func (s *Service) reconcileAll(ctx context.Context) error {
	if err := membership.DefineGlobalTable(ctx, s.db); err != nil {
		s.log.WithError(err).Warn("bootstrap: define " + membership.GlobalTable)
	}
	snap, err := ask(ctx, s, s.coord, func(c chan snapshot) any { return &snapshotMsg{reply: c} })
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	existing, err := membership.ListRefTables(ctx, s.db)
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
