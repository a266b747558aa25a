package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/membership"
)

type (
	tickMsg     struct{}
	flushNowMsg struct {
		reply chan error
	}
)

// every sends msg to the actor of ctx every d until the returned stop is called.
func every(ctx actor.Context, d time.Duration, msg any) func() {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	t := time.NewTicker(d)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				root.Send(self, msg)
			case <-done:
				return
			}
		}
	}()
	return func() { t.Stop(); close(done) }
}

// ttlActor runs the TTL sweep (SPEC §7) every Config.TTLCleanupInterval while the SSP is ready.
type ttlActor struct {
	s    *Service
	stop func()
}

// Receive implements actor.Actor.
func (a *ttlActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.stop = every(ctx, a.s.cfg.TTLCleanupInterval, &tickMsg{})
	case *actor.Stopping, *actor.Restarting:
		if a.stop != nil {
			a.stop()
		}
	case *tickMsg:
		if a.s.Status() == StatusReady && !a.s.closing.Load() {
			a.s.sweepTTL()
		}
	}
}

// sweepTTL removes every expired view: its `_00_query` row (only if still expired), its edges
// and its in-memory state, then the per-user tables left without a view.
func (s *Service) sweepTTL() {
	ctx := s.ctx
	s.adminMu.RLock()
	defer s.adminMu.RUnlock()
	rows, err := s.store.ExpiredQueries(ctx, time.Now())
	if err != nil {
		s.log.WithError(err).Warn("ttl sweep: list expired views")
		return
	}
	owners := map[string]bool{}
	for _, r := range rows {
		if !s.expire(ctx, r) {
			continue
		}
		s.m.ttlExpirations.Inc()
		s.log.WithFields(logrus.Fields{"view": r.Key, "ttl": r.TTL, "lastActiveAt": r.LastActiveAt}).Info("view expired and removed")
		owners[r.AuthID] = true
	}
	if s.refMode != membership.RefDedicated {
		return
	}
	for owner := range owners {
		uid, ok := membership.UserID(owner)
		if !ok {
			continue
		}
		n, err := s.store.CountQueries(ctx, owner)
		if err != nil || n > 0 {
			continue
		}
		table := membership.UserTable(uid)
		inMemory, err := ask(ctx, s, s.coord, func(c chan int) any { return &tableViewsMsg{table: table, reply: c} })
		if err != nil || inMemory > 0 {
			continue
		}
		pid, err := s.writerFor(ctx, table)
		if err != nil {
			continue
		}
		s.system.Root.Send(pid, &dropTableMsg{uid: uid})
	}
}

// expire removes one expired view unless a registration refreshed it meanwhile; it reports
// whether it did.
func (s *Service) expire(ctx context.Context, r membership.QueryRow) bool {
	defer s.lockKey(r.Key)()
	deleted, err := s.store.DeleteQueryIfExpired(ctx, r.Key)
	if err != nil {
		s.log.WithField("view", r.Key).WithError(err).Warn("ttl sweep: delete expired view")
		return false
	}
	if !deleted {
		return false // refreshed meanwhile
	}
	table := membership.TableFor(s.refMode, r.AuthID)
	_, err = ask(ctx, s, s.coord, func(c chan bool) any {
		return &unregisterMsg{key: r.Key, fallbackTable: table, reply: c}
	})
	return err == nil
}

// flusherActor writes the dirty views' metrics to their `_00_query` rows every
// Config.MetricsFlushInterval, in one write.
type flusherActor struct {
	s    *Service
	stop func()
}

// Receive implements actor.Actor.
func (a *flusherActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.stop = every(ctx, a.s.cfg.MetricsFlushInterval, &tickMsg{})
	case *actor.Stopping, *actor.Restarting:
		if a.stop != nil {
			a.stop()
		}
	case *tickMsg:
		_ = a.s.flushMetrics()
	case *flushNowMsg:
		m.reply <- a.s.flushMetrics()
	}
}

func (s *Service) flushMetrics() error {
	var batch []membership.ViewMetrics
	var slots []*viewSlot
	s.slots.Range(func(_, v any) bool {
		sl := v.(*viewSlot)
		if vm, ok := sl.takeDirty(); ok {
			batch = append(batch, vm)
			slots = append(slots, sl)
		}
		return true
	})
	if len(batch) == 0 {
		return nil
	}
	if err := s.store.FlushMetrics(s.ctx, batch); err != nil {
		for _, sl := range slots {
			sl.markDirty()
		}
		s.log.WithField("views", len(batch)).WithError(err).Warn("view metrics flush failed; retrying next time")
		return err
	}
	return nil
}
