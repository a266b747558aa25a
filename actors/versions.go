package actors

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// Messages of the versions actor.
type (
	// versionEvent: a change of a record with an integer `_00_rv` > 0, or a DELETE. waitID
	// (when not 0) starts the wait its edge writes carry.
	versionEvent struct {
		key     string // the record id as text
		rid     value.Value
		rv      int64
		waitID  uint64
		deleted bool
	}
	// awaitVersion asks to be told (versionDone) when a wait ended; at once when it has.
	awaitVersion struct{ waitID uint64 }
	// pollTick: the earliest next poll of a wait is due.
	pollTick struct{}
	// pollDone is the answer of one batch of polls (run off the actor's goroutine): the
	// versions read (NONE: not visible), one per wait, or the error of the whole query.
	pollDone struct {
		waitIDs  []uint64
		versions []value.Value
		err      error
	}
)

// wait is one `_00_rv` wait.
type wait struct {
	key      string
	rid      value.Value
	rv       int64
	polls    int       // polls made
	next     time.Time // when the next poll is due
	deadline time.Time // when the wait gives up (Config.RVWaitTimeout after it started)
	waiters  []*actor.PID
}

// maxPollBatch bounds the records one poll query reads.
const maxPollBatch = 500

// versionsActor owns the `_00_rv` waits (SPEC §2.4): for a change that affected a view and has
// a version, it polls `_00_version` until the row's version is visible — each wait at once and
// then after 10, 20, 40, 80, 80… ms (membership.VersionBackoff), giving up after
// Config.RVWaitTimeout — and tells the writers that asked. The polls that are due go to the
// database together, in one query (membership.Store.Versions), run off the actor's goroutine
// and answered as a message; one batch is in flight at a time, and what falls due meanwhile
// goes with the next. (A poll per wait, each its own round trip, made the waits of a busy SSP
// its database's largest cost.) A record deleted or changed again with a version that does not
// grow ends its earlier waits (that version may never show, e.g. UPDATE rv 4 → DELETE → CREATE
// rv 1), so its views' edges are not held for the whole timeout. Every open wait of the record
// counts, not only the latest: after UPDATE rv 4 → UPDATE rv 5 → DELETE both versions may
// never show.
//
// The coordinator sends a change's versionEvent before the change's deltas, so a writer's
// awaitVersion, which follows from those deltas, always finds its wait started or ended.
type versionsActor struct {
	env   *env
	waits map[uint64]*wait
	open  map[string][]uint64 // record id text → its open waits, oldest first

	inFlight bool        // a batch of polls is out
	timer    *time.Timer // the pending pollTick, if any
	timerAt  time.Time   // when it fires
}

func newVersionsActor(e *env) *versionsActor {
	return &versionsActor{env: e, waits: map[uint64]*wait{}, open: map[string][]uint64{}}
}

// Receive implements actor.Actor.
func (a *versionsActor) Receive(ctx actor.Context) {
	a.env.hooks.receive(kindVersions, kindVersions, ctx.Message())
	switch m := ctx.Message().(type) {
	case *versionEvent:
		a.event(ctx, m)
		a.schedule(ctx)
	case *awaitVersion:
		if w := a.waits[m.waitID]; w != nil {
			w.waiters = append(w.waiters, ctx.Sender())
			return
		}
		ctx.Respond(&versionDone{waitID: m.waitID})
	case *pollTick:
		a.timer = nil
		a.schedule(ctx)
	case *pollDone:
		a.inFlight = false
		a.polled(ctx, m)
		a.schedule(ctx)
	case *actor.Restarting, *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
			a.timer = nil
		}
		for id := range a.waits {
			a.end(ctx, id) // nobody is left waiting: the writers get their answer
		}
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"waits": len(a.waits), "polling": a.inFlight}})
	}
}

func (a *versionsActor) event(ctx actor.Context, m *versionEvent) {
	for _, prev := range append([]uint64(nil), a.open[m.key]...) {
		if w := a.waits[prev]; w != nil && (m.deleted || m.rv <= w.rv) {
			a.env.log.WithFields(logrus.Fields{"record": m.key, "rv": w.rv}).
				Debug("_00_version wait superseded by a later change of the record")
			a.end(ctx, prev)
		}
	}
	if m.waitID == 0 {
		return
	}
	now := time.Now()
	a.waits[m.waitID] = &wait{key: m.key, rid: m.rid, rv: m.rv, next: now, deadline: now.Add(a.env.cfg.RVWaitTimeout)}
	a.open[m.key] = append(a.open[m.key], m.waitID)
}

// schedule sends the polls that are due, unless a batch is out, and otherwise arms the tick
// for the earliest next poll.
func (a *versionsActor) schedule(ctx actor.Context) {
	if a.inFlight || len(a.waits) == 0 {
		return
	}
	now := time.Now()
	var due []uint64
	var earliest time.Time
	for id, w := range a.waits {
		if !w.next.After(now) {
			due = append(due, id)
		} else if earliest.IsZero() || w.next.Before(earliest) {
			earliest = w.next
		}
	}
	if len(due) == 0 {
		if a.timer == nil || earliest.Before(a.timerAt) {
			if a.timer != nil {
				a.timer.Stop()
			}
			a.timer, a.timerAt = after(ctx.ActorSystem(), earliest.Sub(now), ctx.Self(), &pollTick{}), earliest
		}
		return
	}
	sort.Slice(due, func(i, j int) bool { return due[i] < due[j] }) // the oldest waits first
	if len(due) > maxPollBatch {
		due = due[:maxPollBatch]
	}
	rids := make([]value.Value, len(due))
	for i, id := range due {
		rids[i] = a.waits[id].rid
	}
	a.inFlight = true
	self, sys, store, timeout := ctx.Self(), ctx.ActorSystem(), a.env.store, a.env.cfg.RVWaitTimeout
	go func() {
		pctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		vs, err := store.Versions(pctx, rids)
		sys.Root.Send(self, &pollDone{waitIDs: due, versions: vs, err: err})
	}()
}

// polled ends the waits whose version became visible and those past their deadline, and sets
// the next poll of the others.
func (a *versionsActor) polled(ctx actor.Context, m *pollDone) {
	now := time.Now()
	for i, id := range m.waitIDs {
		w := a.waits[id]
		if w == nil {
			continue // superseded or ended meanwhile
		}
		var seen value.Value
		if m.err == nil {
			seen = m.versions[i]
		}
		if seen.IsNumber() && seen.AsInt() >= w.rv {
			a.end(ctx, id)
			continue
		}
		if !now.Before(w.deadline) {
			detail := "seen " + seen.SurQL()
			if m.err != nil {
				detail = "last error: " + m.err.Error()
			}
			a.env.m.rvTimeouts.Inc()
			a.env.log.WithFields(logrus.Fields{"record": w.key, "rv": w.rv, "polls": w.polls + 1}).
				WithError(fmt.Errorf("wait for %s version %d after %s (%s): %w", w.key, w.rv, a.env.cfg.RVWaitTimeout, detail, membership.ErrVersionTimeout)).
				Warn("_00_version wait gave up; writing the edges anyway")
			a.end(ctx, id)
			continue
		}
		w.next = now.Add(membership.VersionBackoff(w.polls))
		if w.next.After(w.deadline) {
			w.next = w.deadline // a last poll at the deadline
		}
		w.polls++
	}
}

// end completes a wait: the writers waiting for it are told (its polls stop).
func (a *versionsActor) end(ctx actor.Context, id uint64) {
	w := a.waits[id]
	if w == nil {
		return
	}
	delete(a.waits, id)
	ids := a.open[w.key]
	for i, x := range ids {
		if x == id {
			ids = append(ids[:i], ids[i+1:]...)
			break
		}
	}
	if len(ids) == 0 {
		delete(a.open, w.key)
	} else {
		a.open[w.key] = ids
	}
	for _, to := range w.waiters {
		ctx.Send(to, &versionDone{waitID: id})
	}
}
