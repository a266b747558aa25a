package actors

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime/debug"
	"slices"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/scheduler"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// Messages of the coordinator.
type (
	// ingestReq is one accepted change (it holds a place of the inbox). It is answered with
	// ingestDone once the change is applied to the engine and its deltas are handed to the
	// views supervisor — every request sent after the answer reaches a view behind them —, or
	// with the error that refused it. A change refused (not ready, busy) was not applied.
	ingestReq struct {
		change   engine.Change
		deadline time.Time // until when it may wait for the edge writers (then ErrBusy)
	}
	ingestDone struct{}
	// registerReq registers, refreshes or replaces a view. It is answered with registerDone
	// once the view is in memory and its `_00_query` row is written (by the queries actor,
	// to which the coordinator hands the row in order), or with the error. A bootstrap
	// registration writes no row and no edges (the bootstrap reconciles them).
	registerReq struct {
		req       RegisterRequest
		authID    string
		bootstrap bool
		epoch     uint64 // a bootstrap's: see beginLoadReq
	}
	registerDone struct {
		members []engine.Member
	}
	// unregisterReq drops a view and its edges and has its `_00_query` row marked (by the queries
	// actor, after any registration of the key taken before); answered with done.
	unregisterReq struct{ key string }
	// registrationFailed: the `_00_query` row of a registration could not be written, so the
	// view goes back to what its row describes — gone if the registration created it, else its
	// previous definition (prev) — unless it was registered again since (regSeq); then the
	// requester is answered with err.
	registrationFailed struct {
		key    string
		regSeq uint64
		prev   *viewDef
		err    error // the requester's answer, once the view is back
	}
	// expireReq: the TTL sweep found the view's row expired. The coordinator hands the
	// conditional delete to the queries actor, in order with the view's registrations.
	expireReq struct{ key, authID string }
	// viewExpired: the queries actor deleted the expired row of key, whose registration
	// (regSeq, 0 if this process has none) the deletion belongs to.
	viewExpired struct {
		key, authID string
		regSeq      uint64
	}
	// ownerless: no `_00_query` row of the owner of a per-user table is left.
	ownerless struct{ table, uid string }
	// resyncReq: a restarted view actor asks for its membership; answered to the views
	// supervisor (resynced), behind every step already sent to it.
	resyncReq struct {
		key         string
		incarnation uint64
	}
	// beginLoadReq starts a bootstrap attempt's load and is answered with the coordinator's
	// epoch (loadBegun), which every later request of the attempt carries: a coordinator that
	// was restarted meanwhile (empty engine, new epoch) refuses them, so the attempt fails
	// instead of going on over a partial engine. fresh starts loading a fresh engine and keeps
	// the views (an in-process re-bootstrap): rows go into it while the current engine keeps
	// answering; rematerializeReq then registers every view again over the reloaded rows,
	// makes the fresh engine current and answers with the number of views kept.
	beginLoadReq struct{ fresh bool }
	loadBegun    struct{ epoch uint64 }
	// loadRowsReq stores bootstrap rows of one table; answered with done or the error.
	loadRowsReq struct {
		table string
		rows  []value.Value
		epoch uint64
	}
	rematerializeReq struct{ epoch uint64 }
	// abandonLoad drops the engine of a re-bootstrap that failed.
	abandonLoad struct{}
	// loadedRowsReq asks for the rows of the engine being loaded (to verify them against the
	// scheduler's table hashes); answered with loadedRows.
	loadedRowsReq struct{ epoch uint64 }
	loadedRows    struct{ rows map[string][]value.Value }
	// beginResetReq drops every view and all base rows (the views supervisor answers once
	// every view actor stopped) and refuses registrations until endResetReq.
	beginResetReq struct{}
	endResetReq   struct{}
	// snapshotReq asks for every view's membership by list_ref table; answered with
	// snapshotReply. A bootstrap's carries its epoch (0: unchecked).
	snapshotReq   struct{ epoch uint64 }
	snapshotReply struct {
		tables map[string]map[string]membership.ViewMembership
	}
	infoReq   struct{}
	infoReply struct {
		views int
		rows  map[string][]value.Value
	}
	debugViewReq   struct{ key string }
	debugViewReply struct {
		ok                   bool
		format               string
		members              []engine.Member
		referenced, subquery []string
	}
	depsReq struct{}
	// healthReq asks for what /health shows of the coordinator; answered with *healthReply.
	healthReq   struct{}
	healthReply struct{ views, tables int }
	// backlogReport: the deltas routed to the writers and not yet handed to the database
	// (from the writers supervisor, when the count moves by a granule).
	backlogReport struct{ queued int }
	// viewMoved: the view's `_00_query` row names another SSP (it was registered there): the
	// view goes from this SSP without its edges being touched (SPEC §6.7).
	viewMoved struct{ key string }
	// parkCheck: the earliest parked ingest may have reached its deadline.
	parkCheck struct{}
	// dropOrphansReq: the bootstrap loaded a user table; views owned by a user it does not hold
	// go (as on the user's DELETE: memory, edges, rows marked). uids are the owners of the
	// per-user list_ref tables in the database; answered with orphans, which names those of
	// them whose user is missing and who owns no view left.
	dropOrphansReq struct {
		epoch uint64
		uids  []string
	}
	orphans struct {
		views   []string
		missing []string
	}
	// setGate tells the coordinator whether to accept work: nil accepts, otherwise the error
	// every ingest and registration is refused with (sent by the root on status changes). With
	// buffer set (a standalone bootstrap) ingests are accepted while the gate is closed, up to
	// Config.BootstrapBuffer of them, and applied in order when it opens.
	setGate struct {
		refuse error
		buffer bool
	}
	// finishStepsReq refuses what waits (parked ingests) and is answered once everything
	// before it was stepped (shutdown).
	finishStepsReq struct{}
)

// viewDef is the coordinator's record of a registered view.
type viewDef struct {
	key, surql       string
	params           value.Value
	table            string
	clientID, authID string
	format           string
	members          int
	regSeq           uint64
}

// parkedIngest waits for the edge writers to catch up.
type parkedIngest struct {
	req     *ingestReq
	replyTo *actor.PID
}

// coordinatorState is the coordinator's state. It outlives a restart of the actor (the
// supervisor's producer hands it to the next incarnation; only the running incarnation
// touches it), except the engine: a restarted coordinator starts an empty one and refuses
// work until the root's re-bootstrap has loaded it again.
type coordinatorState struct {
	eng        *engine.Engine
	next       *engine.Engine // the engine a re-bootstrap loads (nil otherwise)
	epoch      uint64         // bumped by every restart (beginLoadReq)
	views      map[string]*viewDef
	gate       error
	resetting  bool
	regSeq     uint64
	waitSeq    uint64
	backlogSum int // the writers' backlog as last reported
	parked     []parkedIngest
	parkTimer  *time.Timer
	members    int
	started    bool
	// buffering: while the gate is closed, ingests are accepted into buffered (setGate).
	// buffered outlives a restart of the coordinator: every change in it was answered.
	buffering bool
	buffered  []engine.Change
	// deletedUsers holds the users whose DELETE was ingested and no CREATE or UPDATE since
	// (by record id text): their views were dropped and a registration owned by one of them is
	// refused, so nothing writes to (or defines again) their list_ref table. A reset or a
	// bootstrap empties it (the bootstrap drops the views of users it does not find).
	deletedUsers map[string]bool
}

func newCoordinatorState() *coordinatorState {
	return &coordinatorState{
		eng:          engine.New(engine.Options{}),
		views:        map[string]*viewDef{},
		deletedUsers: map[string]bool{},
		gate:         fmt.Errorf("%w: SSP is %s", ErrNotReady, StatusBootstrapping),
		epoch:        1,
	}
}

// coordinator is the ingest coordinator (SPEC §4). It owns the engine and is the only actor
// touching it, so steps are serialized: step N is applied to the base rows and every view's
// operator state, and its deltas are handed to the views supervisor, before step N+1
// starts. View actors only receive finished deltas; none of them reads base data, so no
// view's output for step N can see step N+1.
//
// It never waits for another actor: what needs I/O goes on in order to the actor that owns
// it (row writes to queries, `_00_rv` waits to versions) with the requester as the sender of
// the eventual answer. Ingests wait here (parked, in order) while the edge writers are more
// than Config.EdgeBacklog items behind; one that waits past its deadline is refused with
// ErrBusy and never applied.
type coordinator struct {
	env  *env
	pids pids
	st   *coordinatorState
}

func newCoordinator(e *env, p pids, st *coordinatorState) *coordinator {
	return &coordinator{env: e, pids: p, st: st}
}

// Receive implements actor.Actor. A panic in the engine becomes an error of that change or
// registration; any other panic fails the actor (the root restarts it and re-bootstraps),
// after answering the request that was being processed, if any.
func (c *coordinator) Receive(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			reply(ctx, nil, fmt.Errorf("%w: the coordinator failed (%v); the SSP re-bootstraps", ErrNotReady, r))
			panic(r)
		}
	}()
	c.env.hooks.receive(kindCoordinator, kindCoordinator, ctx.Message())
	st := c.st
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if st.started {
			// A restart: the engine may be half-way through a step; start empty and refuse
			// work until the root's re-bootstrap reloaded it.
			st.eng, st.next = engine.New(engine.Options{}), nil
			st.epoch++
			st.gate = fmt.Errorf("%w: SSP is %s (the coordinator restarted)", ErrNotReady, StatusBootstrapping)
			st.parkTimer = nil
			c.unpark(ctx)
		}
		st.started = true
	case *ingestReq:
		c.ingest(ctx, m)
	case *registerReq:
		c.register(ctx, m)
	case *unregisterReq:
		if st.gate != nil {
			reply(ctx, nil, st.gate)
			return
		}
		c.unregister(ctx, m.key)
		// Marked even when the view is not in memory: a retry after a failed mark completes it.
		ctx.RequestWithCustomSender(c.pids.queries, &markUnregistered{keys: []string{m.key}}, ctx.Sender())
	case *scheduler.ProbeReq:
		// The scheduler link asks before each heartbeat (forwarded by the root).
		ctx.Respond(&scheduler.ProbeReply{Ready: st.gate == nil, Views: len(st.views)})
	case *viewMoved:
		if d := st.views[m.key]; d != nil {
			st.eng.Unregister(m.key)
			delete(st.views, m.key)
			st.members -= d.members
			c.env.m.members.Sub(float64(d.members))
			c.env.m.views.Set(float64(len(st.views)))
			c.env.m.viewsMoved.Inc()
			ctx.Send(c.pids.views, &retireView{key: m.key})
			c.env.log.WithField("view", m.key).Warn("view registered on another SSP: dropped here, its edges left to its new owner")
		}
	case *registrationFailed:
		if d := st.views[m.key]; d != nil && d.regSeq == m.regSeq {
			c.restore(ctx, m.key, m.prev)
		}
		reply(ctx, nil, m.err)
	case *expireReq:
		var seq uint64
		if d := st.views[m.key]; d != nil {
			seq = d.regSeq
		}
		ctx.Send(c.pids.queries, &expireQuery{key: m.key, authID: m.authID, regSeq: seq})
	case *viewExpired:
		c.expired(ctx, m)
	case *ownerless:
		if !c.tableInUse(m.table) {
			ctx.Send(c.pids.writers, &dropUserTableReq{uid: m.uid})
		}
	case *resyncReq:
		r := &resynced{key: m.key, incarnation: m.incarnation}
		if d := st.views[m.key]; d != nil {
			r.members, r.ok = st.eng.Members(m.key)
			r.table, r.clientID, r.authID = d.table, d.clientID, d.authID
		}
		ctx.Send(c.pids.views, r)
	case *beginLoadReq:
		if m.fresh {
			st.next = engine.New(engine.Options{})
		}
		ctx.Respond(&loadBegun{epoch: st.epoch})
	case *setSchemaReq:
		c.setSchema(ctx, m)
	case *loadRowsReq:
		if err := c.stale(m.epoch); err != nil {
			reply(ctx, nil, err)
			return
		}
		reply(ctx, &done{}, c.load(c.loading(), m.table, m.rows))
	case *abandonLoad:
		st.next = nil
	case *loadedRowsReq:
		if err := c.stale(m.epoch); err != nil {
			reply(ctx, nil, err)
			return
		}
		eng := c.loading()
		r := &loadedRows{rows: map[string][]value.Value{}}
		for _, t := range eng.Tables() {
			r.rows[t] = eng.TableRows(t)
		}
		ctx.Respond(r)
	case *rematerializeReq:
		if err := c.stale(m.epoch); err != nil {
			reply(ctx, nil, err)
			return
		}
		ctx.Respond(c.rematerialize(ctx))
	case *dropOrphansReq:
		if err := c.stale(m.epoch); err != nil {
			reply(ctx, nil, err)
			return
		}
		ctx.Respond(c.dropOrphans(ctx, m.uids))
	case *beginResetReq:
		st.resetting = true
		// st.buffered stays: each change may not be committed yet, so no load can stand in for it.
		st.eng.Reset()
		st.next = nil
		clear(st.deletedUsers)
		for key := range st.views {
			delete(st.views, key)
		}
		st.members = 0
		c.env.m.members.Set(0)
		c.env.m.views.Set(0)
		// The views supervisor answers once every view actor forwarded its last items.
		ctx.RequestWithCustomSender(c.pids.views, &retireAllReq{}, ctx.Sender())
	case *endResetReq:
		st.resetting = false
		reply(ctx, &done{}, nil)
	case *snapshotReq:
		if err := c.stale(m.epoch); err != nil {
			reply(ctx, nil, err)
			return
		}
		ctx.Respond(c.snapshot())
	case *infoReq:
		r := &infoReply{views: len(st.views), rows: map[string][]value.Value{}}
		for _, t := range st.eng.Tables() {
			r.rows[t] = st.eng.TableRows(t)
		}
		ctx.Respond(r)
	case *debugViewReq:
		ctx.Respond(c.debugView(m.key))
	case *depsReq:
		ctx.Respond(&DepsDebug{DependencyMap: st.eng.Dependencies(), TablesInStore: st.eng.Tables(), ViewCount: len(st.views)})
	case *healthReq:
		ctx.Respond(&healthReply{views: len(st.views), tables: st.eng.TableCount()})
	case *backlogReport:
		st.backlogSum = m.queued
		c.env.m.writerBacklog.Set(float64(st.backlogSum))
		c.unpark(ctx)
	case *parkCheck:
		st.parkTimer = nil
		c.unpark(ctx)
	case *setGate:
		st.gate, st.buffering = m.refuse, m.buffer
		if st.gate == nil {
			c.drainBuffered(ctx)
		}
		c.unpark(ctx)
	case *finishStepsReq:
		c.unpark(ctx)
		reply(ctx, &done{}, nil)
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{
			"views": len(st.views), "tables": len(st.eng.Tables()), "members": st.members,
			"accepting": st.gate == nil, "parked_ingests": len(st.parked), "edge_backlog": st.backlogSum,
			"resetting": st.resetting, "buffered_ingests": len(st.buffered),
		}})
	}
}

// errRestarted refuses the requests of a bootstrap attempt that began before the coordinator
// was restarted.
var errRestarted = errors.New("the coordinator was restarted during the bootstrap attempt")

// stale returns errRestarted when epoch (0: unchecked) is not the current one.
func (c *coordinator) stale(epoch uint64) error {
	if epoch != 0 && epoch != c.st.epoch {
		return errRestarted
	}
	return nil
}

// overBacklog reports whether the edge writers are further behind than Config.EdgeBacklog.
func (c *coordinator) overBacklog() bool {
	bound := c.env.cfg.EdgeBacklog
	return bound > 0 && c.st.backlogSum > bound
}

func (c *coordinator) busy() error {
	return fmt.Errorf("%w (edge writers %d items behind the database, bound %d)", ErrBusy, c.st.backlogSum, c.env.cfg.EdgeBacklog)
}

// ingest steps a change now, or parks it behind earlier ones while the writers are behind.
func (c *coordinator) ingest(ctx actor.Context, m *ingestReq) {
	st := c.st
	if st.gate != nil {
		if !st.buffering {
			reply(ctx, nil, st.gate)
			return
		}
		if len(st.buffered) >= c.env.cfg.BootstrapBuffer {
			reply(ctx, nil, fmt.Errorf("%w (and %d changes wait for the bootstrap to end: SPKY_SSP_BOOTSTRAP_BUFFER)", st.gate, len(st.buffered)))
			return
		}
		st.buffered = append(st.buffered, m.change)
		c.env.m.bootBuffered.Set(float64(len(st.buffered)))
		reply(ctx, &ingestDone{}, nil)
		return
	}
	if len(st.parked) > 0 || c.overBacklog() {
		if !time.Now().Before(m.deadline) {
			reply(ctx, nil, c.busy())
			return
		}
		st.parked = append(st.parked, parkedIngest{req: m, replyTo: ctx.Sender()})
		c.armPark(ctx)
		return
	}
	c.step(ctx, m, ctx.Sender())
}

// drainBuffered applies the ingests accepted during the bootstrap, in the order they came,
// now that the load is done and the views are registered (SPEC §5). Every change is a full row
// (or a DELETE) sent before its transaction committed, so applying them in order over the
// loaded rows leaves each touched record as its last change made it, whether the load read it
// before or after that change: the result is exact whatever the interleaving.
func (c *coordinator) drainBuffered(ctx actor.Context) {
	st := c.st
	if len(st.buffered) == 0 {
		return
	}
	n := len(st.buffered)
	for i, ch := range st.buffered {
		c.step(ctx, &ingestReq{change: ch}, nil)
		st.buffered[i] = engine.Change{}
	}
	st.buffered = st.buffered[:0]
	c.env.m.bootBuffered.Set(0)
	c.env.log.WithField("changes", n).Info("bootstrap: changes accepted while loading applied")
}

// unpark answers or steps parked ingests, in order: refused when the gate closed or their
// deadline passed, stepped while the writers are within their bound.
func (c *coordinator) unpark(ctx actor.Context) {
	st := c.st
	if len(st.parked) == 0 {
		return
	}
	now := time.Now()
	kept := st.parked[:0]
	for i, p := range st.parked {
		switch {
		case st.gate != nil:
			answer(ctx, p.replyTo, nil, st.gate)
		case !now.Before(p.req.deadline):
			answer(ctx, p.replyTo, nil, c.busy())
		case len(kept) == 0 && !c.overBacklog():
			c.step(ctx, p.req, p.replyTo)
		default:
			kept = append(kept, st.parked[i])
		}
	}
	for i := len(kept); i < len(st.parked); i++ {
		st.parked[i] = parkedIngest{}
	}
	st.parked = kept
	c.armPark(ctx)
}

// armPark schedules a parkCheck at the earliest deadline of the parked ingests.
func (c *coordinator) armPark(ctx actor.Context) {
	st := c.st
	if len(st.parked) == 0 || st.parkTimer != nil {
		return
	}
	first := st.parked[0].req.deadline
	for _, p := range st.parked[1:] {
		if p.req.deadline.Before(first) {
			first = p.req.deadline
		}
	}
	st.parkTimer = after(ctx.ActorSystem(), time.Until(first)+time.Millisecond, ctx.Self(), &parkCheck{})
}

// step applies one change to the engine, hands its deltas to the views supervisor and answers
// replyTo.
func (c *coordinator) step(ctx actor.Context, m *ingestReq, replyTo *actor.PID) {
	st := c.st
	if h := c.env.hooks.Step; h != nil {
		h(m.change)
	}
	start := time.Now()
	deltas, err := c.apply(m.change)
	latency := time.Since(start)
	if err != nil {
		answer(ctx, replyTo, nil, err)
		return
	}
	waitID := c.versionEvent(ctx, m.change, len(deltas) > 0)
	fan := &stepFanOut{deltas: deltas, waitID: waitID, latency: latency}
	diff, unknown := 0, 0
	for i := range deltas {
		def := st.views[deltas[i].View]
		if def == nil {
			unknown++
			continue
		}
		n := len(deltas[i].Added) - len(deltas[i].Removed)
		def.members += n
		diff += n
	}
	if unknown > 0 {
		// The engine knows views this actor no longer does (it never should): skip them.
		fan.deltas = make([]engine.Delta, 0, len(deltas)-unknown)
		for _, d := range deltas {
			if st.views[d.View] != nil {
				fan.deltas = append(fan.deltas, d)
			}
		}
	}
	if diff != 0 {
		st.members += diff
		c.env.m.members.Add(float64(diff))
	}
	if m.change.Table == userTable && m.change.Op == engine.OpCreate {
		c.userCreated(ctx, m.change)
	}
	if len(fan.deltas) > 0 {
		ctx.Send(c.pids.views, fan)
	}
	if m.change.Table == userTable {
		c.userChanged(ctx, m.change)
	}
	answer(ctx, replyTo, &ingestDone{}, nil)
}

// userTable is the table of Sp00ky's users (SPEC §1.1): the owners of views.
const userTable = "user"

// ownerKey is the text a view's owner (auth_id) is compared by: a record id in one spelling.
func ownerKey(authID string) string {
	if r, ok := value.ParseRecord(authID); ok {
		return value.RecordString(r)
	}
	return authID
}

// userCreated defines a created user's list_ref table (dedicated mode) again, ahead of the
// step's edge writes and after any removal of it sent before — a DELETE stepped from the
// bootstrap buffer, or the bootstrap's orphan drop: /ingest defined the table when the change
// arrived, which may have been before that removal. Otherwise the writer has it already.
func (c *coordinator) userCreated(ctx actor.Context, ch engine.Change) {
	if _, uid, ok := c.env.userTableOf(value.RecordString(ch.ID)); ok {
		ctx.Send(c.pids.writers, &ensureTableReq{table: membership.UserTable(uid)})
	}
}

// userChanged follows a step of the user table (SPEC §1.1): a user created or updated exists
// again; a user deleted loses its views — memory and edges, their `_00_query` rows marked
// unregistered — and then its list_ref table (dedicated mode), after every edge write sent
// so far. The step's own deltas went to the views before, so each dropped view writes them,
// then removes its edges.
func (c *coordinator) userChanged(ctx actor.Context, ch engine.Change) {
	st := c.st
	user := value.RecordString(ch.ID)
	if ch.Op != engine.OpDelete {
		delete(st.deletedUsers, user)
		return
	}
	st.deletedUsers[user] = true
	var keys []string
	for key, def := range st.views {
		if def.authID != "" && ownerKey(def.authID) == user {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	c.dropViews(ctx, keys)
	fields := logrus.Fields{"user": user, "views": len(keys)}
	if _, uid, ok := c.env.userTableOf(user); ok {
		ctx.Send(c.pids.writers, &dropUserTableReq{uid: uid})
		fields["table"] = membership.UserTable(uid)
	}
	c.env.log.WithFields(fields).Info("user deleted: its views and list_ref table dropped")
}

// dropOrphans drops the views whose owner is a user record missing from the user table (deleted
// while the SSP was away) and returns them with the uids whose user is missing and who own no
// view left.
func (c *coordinator) dropOrphans(ctx actor.Context, uids []string) *orphans {
	st := c.st
	missing := func(user string) bool {
		r, ok := value.ParseRecord(user)
		return ok && r.Table() == userTable && !st.eng.Has(r)
	}
	out := &orphans{}
	for key, def := range st.views {
		if def.authID != "" && missing(ownerKey(def.authID)) {
			out.views = append(out.views, key)
		}
	}
	sort.Strings(out.views)
	c.dropViews(ctx, out.views)
	for _, uid := range uids {
		if missing(userTable+":"+uid) && !c.tableInUse(membership.UserTable(uid)) {
			out.missing = append(out.missing, uid)
		}
	}
	if len(out.views)+len(out.missing) > 0 {
		c.env.log.WithFields(logrus.Fields{"views": len(out.views), "tables": len(out.missing)}).
			Info("bootstrap: views and list_ref tables of deleted users dropped")
	}
	return out
}

// dropViews unregisters views (memory and edges) and has their `_00_query` rows marked
// unregistered, as an unregistration over HTTP does (without an answer to wait for).
func (c *coordinator) dropViews(ctx actor.Context, keys []string) {
	if len(keys) == 0 {
		return
	}
	for _, key := range keys {
		c.unregister(ctx, key)
	}
	ctx.Send(c.pids.queries, &markUnregistered{keys: keys})
}

// versionEvent tells the versions actor about a change's version (SPEC §2.4) and returns the
// id of the wait its edge items carry (0: none). A change that affected a view and has an
// integer `_00_rv` > 0 starts a wait; a DELETE, or a change whose version does not grow,
// ends the record's earlier wait (its version may never show again).
func (c *coordinator) versionEvent(ctx actor.Context, ch engine.Change, affects bool) uint64 {
	rv := recordVersion(ch.Record)
	deleted := ch.Op == engine.OpDelete
	if rv <= 0 && !deleted {
		return 0 // the common case without versions: no message
	}
	var id uint64
	if rv > 0 && !deleted && affects {
		c.st.waitSeq++
		id = c.st.waitSeq
	}
	ctx.Send(c.pids.versions, &versionEvent{key: value.RecordString(ch.ID), rid: ch.ID, rv: rv, waitID: id, deleted: deleted})
	return id
}

// loading is the engine bootstrap rows go into: the fresh one of a re-bootstrap, else the
// current one.
func (c *coordinator) loading() *engine.Engine {
	if c.st.next != nil {
		return c.st.next
	}
	return c.st.eng
}

// apply runs the engine step; a panic in the engine becomes an error.
func (c *coordinator) apply(ch engine.Change) (ds []engine.Delta, err error) {
	return c.applyTo(c.st.eng, ch)
}

func (c *coordinator) applyTo(eng *engine.Engine, ch engine.Change) (ds []engine.Delta, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine failed applying %s %s: %v", ch.Op, value.RecordString(ch.ID), r)
			c.env.log.WithFields(logrus.Fields{"panic": fmt.Sprint(r), "stack": string(debug.Stack())}).Error("engine panic")
		}
	}()
	ds, err = eng.Apply(ch)
	if err != nil {
		err = invalid(err)
	}
	return ds, err
}

// recordVersion returns the integer `_00_rv` of a row (0 when absent or not a positive integer).
func recordVersion(rec value.Value) int64 {
	rv := rec.Get("_00_rv")
	switch rv.Kind() {
	case value.KindInt:
		return rv.AsInt()
	case value.KindFloat:
		if f := rv.AsFloat(); f == math.Trunc(f) && f > 0 && f < math.MaxInt64 {
			return int64(f)
		}
	}
	return 0
}

func (c *coordinator) register(ctx actor.Context, m *registerReq) {
	st := c.st
	if err := c.stale(m.epoch); err != nil {
		reply(ctx, nil, err)
		return
	}
	if !m.bootstrap {
		if st.gate != nil {
			reply(ctx, nil, st.gate)
			return
		}
		if st.resetting {
			reply(ctx, nil, fmt.Errorf("%w: a /reset is running", ErrNotReady))
			return
		}
	}
	start := time.Now()
	req := m.req
	key := req.Key
	if m.authID != "" && st.deletedUsers[ownerKey(m.authID)] {
		reply(ctx, nil, fmt.Errorf("%w: view %s: its owner %s was deleted (its user DELETE was ingested); register it again once the user exists",
			ErrConflict, key, m.authID))
		return
	}
	table := c.env.tableOf(m.authID)
	st.regSeq++
	seq := st.regSeq
	cur := st.views[key]
	var prev *viewDef
	if cur != nil {
		cp := *cur
		prev = &cp
	}
	if cur != nil && cur.surql == req.SurQL && value.Compare(cur.params, req.Params) == 0 {
		// The same query: refresh the owner data, recompute nothing.
		ms, _ := st.eng.Members(key)
		if cur.table != table || cur.clientID != req.ClientID || cur.authID != m.authID {
			cur.table, cur.clientID, cur.authID = table, req.ClientID, m.authID
			ctx.Send(c.pids.views, &replaceView{key: key, table: table, clientID: req.ClientID, authID: m.authID, members: ms})
		}
		cur.format, cur.regSeq = req.Format, seq
		c.writeRow(ctx, m, table, ms, seq, true, prev, start)
		return
	}
	ms, err := c.registerEngine(st.eng, key, req.SurQL, req.Params)
	if err != nil {
		reply(ctx, nil, err)
		return
	}
	def := &viewDef{key: key, surql: req.SurQL, params: req.Params, table: table, clientID: req.ClientID,
		authID: m.authID, format: req.Format, members: len(ms), regSeq: seq}
	old := 0
	if cur != nil {
		old = cur.members
		ctx.Send(c.pids.views, &replaceView{key: key, table: table, clientID: req.ClientID, authID: m.authID, members: ms})
	} else {
		ctx.Send(c.pids.views, &startView{key: key, table: table, clientID: req.ClientID, authID: m.authID, members: ms, initial: !m.bootstrap})
	}
	st.views[key] = def
	st.members += len(ms) - old
	c.env.m.members.Add(float64(len(ms) - old))
	c.env.m.views.Set(float64(len(st.views)))
	if m.bootstrap {
		reply(ctx, &registerDone{members: ms}, nil)
		return
	}
	c.writeRow(ctx, m, table, ms, seq, false, prev, start)
}

// writeRow hands the view's `_00_query` row to the queries actor, which answers the
// registration's requester. prev is the view's definition before the registration (nil when
// it created the view): what the view goes back to if the row cannot be written.
func (c *coordinator) writeRow(ctx actor.Context, m *registerReq, table string, ms []engine.Member, seq uint64, refresh bool, prev *viewDef, start time.Time) {
	req := m.req
	top := 0
	for _, mm := range ms {
		if mm.Parent == "" {
			top++
		}
	}
	w := &writeQueryRow{
		row: membership.QueryRow{Key: req.Key, SurQL: req.SurQL, Params: req.Params, ClientID: req.ClientID, AuthID: m.authID, SSPID: c.env.cfg.SSPID,
			TTL: req.TTL, LastActiveAt: req.LastActiveAt, RegistrationTime: float64(time.Since(start)) / float64(time.Millisecond), RowCount: top},
		refresh: refresh, prev: prev, regSeq: seq, members: ms,
	}
	if _, _, ok := c.env.userTableOf(m.authID); ok {
		w.ensureTable = table
	}
	ctx.RequestWithCustomSender(c.pids.queries, w, ctx.Sender())
}

func (c *coordinator) registerEngine(eng *engine.Engine, key, src string, params value.Value) (ms []engine.Member, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("register view %s: engine failed: %v", key, r)
			c.env.log.WithFields(logrus.Fields{"panic": fmt.Sprint(r), "stack": string(debug.Stack())}).Error("engine panic")
		}
	}()
	ms, err = eng.Register(key, src, params)
	if err != nil {
		return nil, invalid(err)
	}
	return ms, nil
}

// restore puts a view whose registration failed (its row was not written) back as its row
// describes it: gone when prev is nil, else prev — the owner data of a refresh, or the
// previous query of a replacement, materialized again over the current data.
func (c *coordinator) restore(ctx actor.Context, key string, prev *viewDef) {
	st := c.st
	cur := st.views[key]
	if prev == nil {
		c.unregister(ctx, key)
		return
	}
	st.regSeq++
	prev.regSeq = st.regSeq
	var ms []engine.Member
	if cur.surql == prev.surql && value.Compare(cur.params, prev.params) == 0 {
		ms, _ = st.eng.Members(key)
	} else {
		var err error
		if ms, err = c.registerEngine(st.eng, key, prev.surql, prev.params); err != nil {
			// It was valid when registered; if the engine refuses it now, it goes.
			c.env.log.WithField("view", key).WithError(err).Error("a view whose registration failed could not be restored; dropped")
			c.unregister(ctx, key)
			return
		}
		prev.members = len(ms)
		st.members += len(ms) - cur.members
		c.env.m.members.Add(float64(len(ms) - cur.members))
	}
	st.views[key] = prev
	ctx.Send(c.pids.views, &replaceView{key: key, table: prev.table, clientID: prev.clientID, authID: prev.authID, members: ms})
	c.env.log.WithField("view", key).Warn("registration failed: the view is back to its previous definition")
}

// unregister drops a view from the engine and retires its actor (which removes its edges).
func (c *coordinator) unregister(ctx actor.Context, key string) bool {
	st := c.st
	def := st.views[key]
	if def == nil {
		return false
	}
	st.eng.Unregister(key)
	delete(st.views, key)
	st.members -= def.members
	c.env.m.members.Sub(float64(def.members))
	c.env.m.views.Set(float64(len(st.views)))
	ctx.Send(c.pids.views, &retireView{key: key, removeEdges: true})
	return true
}

// expired drops a view whose row the TTL sweep deleted, unless it was registered again since,
// and has the owner's table checked once no view of it is left.
func (c *coordinator) expired(ctx actor.Context, m *viewExpired) {
	st := c.st
	table := c.env.tableOf(m.authID)
	switch def := st.views[m.key]; {
	case def == nil:
		// A view this process never loaded (or already dropped): its edges go anyway.
		ctx.Send(c.pids.writers, &edgeWrite{table: table, kind: opRemove, view: m.key})
	case def.regSeq == m.regSeq:
		table = def.table
		c.unregister(ctx, m.key)
	default:
		return // registered again after the sweep listed it
	}
	if _, uid, ok := c.env.userTableOf(m.authID); ok && !c.tableInUse(table) {
		ctx.Send(c.pids.queries, &checkOwner{authID: m.authID, table: table, uid: uid})
	}
}

// tableInUse reports whether a view in memory writes to table.
func (c *coordinator) tableInUse(table string) bool {
	for _, d := range c.st.views {
		if d.table == table {
			return true
		}
	}
	return false
}

// load stores bootstrap rows (as CREATEs) in eng. Rows without a record id of the table are
// skipped with a warning.
func (c *coordinator) load(eng *engine.Engine, table string, rows []value.Value) error {
	for _, row := range rows {
		id := row.Get("id")
		if id.Kind() != value.KindRecord || id.Table() != table {
			c.env.log.WithFields(logrus.Fields{"table": table, "id": id.SurQL()}).Warn("bootstrap row without a record id of its table skipped")
			continue
		}
		ds, err := c.applyTo(eng, engine.Change{Table: table, Op: engine.OpCreate, ID: id, Record: row})
		if err != nil {
			c.env.log.WithFields(logrus.Fields{"table": table, "id": value.RecordString(id)}).WithError(err).Warn("bootstrap row skipped")
			continue
		}
		if len(ds) > 0 {
			return fmt.Errorf("load %s: rows must be loaded before views are registered", table)
		}
	}
	return nil
}

// setSchema sets the schema hints of every table (see setSchemaReq): a bootstrap's on the engine
// being loaded, a refresh's on the running engine, stepping the rows a changed hint resolves.
func (c *coordinator) setSchema(ctx actor.Context, m *setSchemaReq) {
	st := c.st
	if err := c.stale(m.epoch); err != nil {
		reply(ctx, nil, err)
		return
	}
	eng := st.eng
	if m.epoch != 0 {
		eng = c.loading()
	} else if st.gate != nil {
		ctx.Respond(&schemaApplied{}) // not ready: the next bootstrap reads the hints itself
		return
	}
	tables := map[string]bool{}
	for t := range eng.Schemas() {
		tables[t] = true
	}
	for t := range m.hints {
		tables[t] = true
	}
	names := slices.Sorted(maps.Keys(tables))
	res := &schemaApplied{}
	for _, t := range names {
		h := m.hints[t]
		if eng.Schema(t).Equal(h) {
			continue
		}
		res.tables = append(res.tables, t)
		for _, ch := range eng.SetSchema(t, h) {
			res.rows++
			if m.epoch != 0 {
				if _, err := c.applyTo(eng, ch); err != nil {
					c.env.log.WithFields(logrus.Fields{"table": t, "id": value.RecordString(ch.ID)}).WithError(err).Warn("schema: row not re-resolved")
				}
				continue
			}
			c.step(ctx, &ingestReq{change: ch, deadline: time.Now().Add(time.Minute)}, nil)
		}
	}
	ctx.Respond(res)
}

func (c *coordinator) snapshot() *snapshotReply {
	s := &snapshotReply{tables: map[string]map[string]membership.ViewMembership{}}
	for key, d := range c.st.views {
		ms, _ := c.st.eng.Members(key)
		t := s.tables[d.table]
		if t == nil {
			t = map[string]membership.ViewMembership{}
			s.tables[d.table] = t
		}
		t[key] = membership.ViewMembership{ClientID: d.clientID, AuthID: d.authID, Members: ms}
	}
	return s
}

func (c *coordinator) debugView(key string) *debugViewReply {
	d := c.st.views[key]
	if d == nil {
		return &debugViewReply{}
	}
	ms, _ := c.st.eng.Members(key)
	ref, sub, _ := c.st.eng.ViewTables(key)
	return &debugViewReply{ok: true, format: d.format, members: ms, referenced: ref, subquery: sub}
}

// rematerialize registers every view again in the reloaded engine, makes it the current one
// and sends each view actor its new membership; it returns how many views it kept. A view
// the engine now rejects is dropped with its edges.
func (c *coordinator) rematerialize(ctx actor.Context) int {
	st := c.st
	eng := c.loading()
	keys := make([]string, 0, len(st.views))
	for k := range st.views {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	total := 0
	for _, key := range keys {
		d := st.views[key]
		ms, err := c.registerEngine(eng, key, d.surql, d.params)
		if err != nil {
			c.env.log.WithField("view", key).WithError(err).Error("view dropped: it cannot be registered again")
			delete(st.views, key)
			ctx.Send(c.pids.views, &retireView{key: key, removeEdges: true})
			continue
		}
		d.members = len(ms)
		total += len(ms)
		ctx.Send(c.pids.views, &replaceView{key: key, table: d.table, clientID: d.clientID, authID: d.authID, members: ms})
	}
	st.eng, st.next = eng, nil
	st.members = total
	c.env.m.members.Set(float64(total))
	c.env.m.views.Set(float64(len(st.views)))
	return len(st.views)
}
