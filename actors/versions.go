package actors

import (
	"context"
	"errors"

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
	// pollDone is the end of one wait's polling (run off the actor's goroutine).
	pollDone struct {
		waitID uint64
		err    error
	}
)

// wait is one `_00_rv` wait.
type wait struct {
	key     string
	rv      int64
	cancel  context.CancelFunc
	waiters []*actor.PID
}

// versionsActor owns the `_00_rv` waits (SPEC §2.4): for a change that affected a view and has
// a version, it polls `_00_version` (membership.Store.WaitVersion: 10, 20, 40, 80, 80… ms,
// giving up after Config.RVWaitTimeout) until the row's version is visible, and tells the
// writers that asked. The polling runs off the actor's goroutine and reports back as a
// message. A record deleted or changed again with a version that does not grow ends its
// earlier waits (that version may never show, e.g. UPDATE rv 4 → DELETE → CREATE rv 1), so its
// views' edges are not held for the whole timeout. Every open wait of the record counts, not
// only the latest: after UPDATE rv 4 → UPDATE rv 5 → DELETE both versions may never show.
//
// The coordinator sends a change's versionEvent before the change's deltas, so a writer's
// awaitVersion, which follows from those deltas, always finds its wait started or ended.
type versionsActor struct {
	env   *env
	waits map[uint64]*wait
	open  map[string][]uint64 // record id text → its open waits, oldest first
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
	case *awaitVersion:
		if w := a.waits[m.waitID]; w != nil {
			w.waiters = append(w.waiters, ctx.Sender())
			return
		}
		ctx.Respond(&versionDone{waitID: m.waitID})
	case *pollDone:
		w := a.waits[m.waitID]
		if w == nil {
			return // superseded already
		}
		fields := logrus.Fields{"record": w.key, "rv": w.rv}
		switch {
		case m.err == nil:
		case errors.Is(m.err, context.Canceled):
		default:
			if errors.Is(m.err, membership.ErrVersionTimeout) {
				a.env.m.rvTimeouts.Inc()
			}
			a.env.log.WithFields(fields).WithError(m.err).Warn("_00_version wait gave up; writing the edges anyway")
		}
		a.end(ctx, m.waitID)
	case *actor.Restarting, *actor.Stopping:
		for id := range a.waits {
			a.end(ctx, id) // nobody is left waiting: the writers get their answer
		}
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"waits": len(a.waits)}})
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
	pctx, cancel := context.WithCancel(context.Background())
	a.waits[m.waitID] = &wait{key: m.key, rv: m.rv, cancel: cancel}
	a.open[m.key] = append(a.open[m.key], m.waitID)
	self, sys, store, id, rid, rv := ctx.Self(), ctx.ActorSystem(), a.env.store, m.waitID, m.rid, m.rv
	go func() {
		err := store.WaitVersion(pctx, rid, rv)
		sys.Root.Send(self, &pollDone{waitID: id, err: err})
	}()
}

// end completes a wait: its polling stops and the writers waiting for it are told.
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
	w.cancel()
	for _, to := range w.waiters {
		ctx.Send(to, &versionDone{waitID: id})
	}
}
