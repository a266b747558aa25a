package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
)

// Messages of the queries actor.
type (
	// writeQueryRow writes a registration's `_00_query` row (a refresh only updates the
	// owner data and lastActiveAt, writing the whole row when there is none). ensureTable,
	// when set, is the owner's list_ref table, defined first so that the client can
	// subscribe to it once the registration is answered. Answered with registerDone, or with
	// the error (a created view whose row cannot be written is dropped again).
	writeQueryRow struct {
		row         membership.QueryRow
		refresh     bool
		prev        *viewDef // the view before the registration; nil when it created it
		regSeq      uint64
		ensureTable string
		members     []engine.Member
	}
	// expireQuery deletes a view's row if it is still expired (SPEC §7).
	expireQuery struct {
		key, authID string
		regSeq      uint64
	}
	// markUnregistered marks the `_00_query` rows of views the coordinator dropped (an
	// unregistration over HTTP, a deleted owner: SPEC §1.3) unregistered; answered (when
	// asked) with done or the first error.
	markUnregistered struct{ keys []string }
	// checkOwner asks whether any `_00_query` row of an owner is left; if none, the
	// coordinator hears ownerless.
	checkOwner struct{ authID, table, uid string }
)

// queryTimeout bounds one registration's or expiry's database work.
const queryTimeout = 30 * time.Second

// queriesActor owns every write of `_00_query` rows: registrations and unregistrations (in the
// order the coordinator took them) and TTL expiries (handed over by the coordinator in the same
// order), so a row always describes the view in memory without any lock. Its work is waiting
// for the database; it waits for nothing else but the owner's table writer.
type queriesActor struct {
	env  *env
	pids pids
}

func newQueriesActor(e *env, p pids) *queriesActor { return &queriesActor{env: e, pids: p} }

// Receive implements actor.Actor. A failure while writing a registration's row answers the
// registration (and drops a view it created) before the actor is restarted.
func (q *queriesActor) Receive(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			if m, ok := ctx.Message().(*writeQueryRow); ok {
				q.failed(ctx, m, fmt.Errorf("%w: the queries actor failed: %v", ErrNotReady, r))
			}
			panic(r)
		}
	}()
	q.env.hooks.receive(kindQueries, kindQueries, ctx.Message())
	switch m := ctx.Message().(type) {
	case *writeQueryRow:
		if err := q.write(ctx, m); err != nil {
			q.failed(ctx, m, err)
			return
		}
		reply(ctx, &registerDone{members: m.members}, nil)
	case *expireQuery:
		q.expire(ctx, m)
	case *markUnregistered:
		reply(ctx, &done{}, q.mark(m.keys))
	case *checkOwner:
		cctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		n, err := q.env.store.CountQueries(cctx, m.authID)
		if err != nil {
			q.env.log.WithField("owner", m.authID).WithError(err).Warn("ttl sweep: count the owner's views")
			return
		}
		if n == 0 {
			ctx.Send(q.pids.coordinator, &ownerless{table: m.table, uid: m.uid})
		}
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{}})
	}
}

// failed hands a registration whose row could not be written to the coordinator, which puts
// the view back as its row describes it and then answers the requester with the error (a
// registration is all or nothing).
func (q *queriesActor) failed(ctx actor.Context, m *writeQueryRow, err error) {
	f := &registrationFailed{key: m.row.Key, regSeq: m.regSeq, prev: m.prev, err: fmt.Errorf("register view %s: %w", m.row.Key, err)}
	if s := ctx.Sender(); s != nil {
		ctx.RequestWithCustomSender(q.pids.coordinator, f, s) // the coordinator answers once the view is back
		return
	}
	ctx.Send(q.pids.coordinator, f)
}

func (q *queriesActor) write(ctx actor.Context, m *writeQueryRow) error {
	if m.ensureTable != "" {
		if _, err := requestFrom[*done](context.Background(), ctx, q.pids.writers, &ensureTableReq{table: m.ensureTable}, queryTimeout); err != nil {
			return err
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	r := m.row
	if m.refresh {
		ok, err := q.env.store.RefreshQuery(cctx, r)
		if err != nil || ok {
			return err
		}
	}
	return q.env.store.UpsertQuery(cctx, r)
}

// mark marks the rows of keys unregistered; a row that cannot be marked is logged (a restart
// would restore its view: the bootstrap drops it again if its owner is gone).
func (q *queriesActor) mark(keys []string) error {
	var first error
	for _, key := range keys {
		cctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		err := q.env.store.MarkUnregistered(cctx, key, q.env.owner)
		cancel()
		if err != nil {
			q.env.log.WithField("view", key).WithError(err).Warn("mark the view's _00_query row unregistered")
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func (q *queriesActor) expire(ctx actor.Context, m *expireQuery) {
	cctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	deleted, err := q.env.store.DeleteQueryIfExpired(cctx, m.key, q.env.owner)
	if err != nil {
		q.env.log.WithField("view", m.key).WithError(err).Warn("ttl sweep: delete expired view")
		return
	}
	if !deleted {
		return // refreshed meanwhile
	}
	q.env.m.ttlExpirations.Inc()
	q.env.log.WithFields(logrus.Fields{"view": m.key, "owner": m.authID}).Info("view expired and removed")
	ctx.Send(q.pids.coordinator, &viewExpired{key: m.key, authID: m.authID, regSeq: m.regSeq})
}
