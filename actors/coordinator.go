package actors

import (
	"fmt"
	"math"
	"runtime/debug"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// Messages of the coordinator.
type (
	// ingestMsg is one accepted change.
	ingestMsg struct {
		change engine.Change
		ack    *stepAck
	}
	// registerMsg registers (or refreshes, or replaces) a view. bootstrap registrations write
	// no edges: the bootstrap reconciles them afterwards.
	registerMsg struct {
		req       RegisterRequest
		authID    string
		bootstrap bool
		reply     chan registerReply
	}
	registerReply struct {
		members   []engine.Member
		refreshed bool // same query and params: nothing was recomputed
		created   bool // the key was not registered before
		err       error
	}
	// unregisterMsg drops a view; when it is not in memory and fallbackTable is set, its edges
	// in that table are removed anyway (TTL sweep of a view this process never loaded).
	unregisterMsg struct {
		key           string
		fallbackTable string
		reply         chan bool
	}
	// resetMsg drops every view and all base rows; the reply lists what to wait for.
	resetMsg struct {
		reply chan resetReply
	}
	resetReply struct {
		retired []<-chan struct{}
		writers []*actor.PID
	}
	// loadRowsMsg stores bootstrap rows of one table.
	loadRowsMsg struct {
		table string
		rows  []value.Value
		reply chan error
	}
	writerForMsg struct {
		table string
		reply chan *actor.PID
	}
	// writerIfAnyMsg is answered with the table's writer, or nil if it has none.
	writerIfAnyMsg struct {
		table string
		reply chan *actor.PID
	}
	snapshotMsg struct {
		reply chan snapshot
	}
	// snapshot is every view's membership grouped by list_ref table, plus every writer.
	snapshot struct {
		tables  map[string]map[string]membership.ViewMembership
		views   []*actor.PID
		writers []*actor.PID
	}
	infoMsg struct {
		reply chan infoReply
	}
	infoReply struct {
		views int
		rows  map[string][]value.Value
	}
	debugMsg struct {
		key   string
		reply chan debugReply
	}
	debugReply struct {
		ok                   bool
		pid                  *actor.PID
		slot                 *viewSlot
		format               string
		members              []engine.Member
		referenced, subquery []string
	}
	depsMsg struct {
		reply chan DepsDebug
	}
	tableViewsMsg struct {
		table string
		reply chan int
	}
	// reloadMsg empties the engine but keeps the registered views and their actors (a
	// re-bootstrap); rematerializeMsg then registers them again over the reloaded rows.
	reloadMsg struct {
		reply chan struct{}
	}
	rematerializeMsg struct {
		reply chan int
	}
)

// viewEntry is the coordinator's record of a registered view.
type viewEntry struct {
	key              string
	pid              *actor.PID
	slot             *viewSlot
	surql            string
	params           value.Value
	table            string
	clientID, authID string
	format           string
	members          int
}

// childInfo tells the supervisor what a child actor is.
type childInfo struct {
	kind string // "view" or "writer"
	slot *viewSlot
}

// coordinator is the ingest coordinator. It owns the engine and is the only actor touching it,
// so steps are serialized: step N is applied to the base rows and every view in memory, and
// its deltas are sent, before step N+1 starts. View actors only receive the finished deltas of
// a step; none of them ever reads base data, so no view's output for step N can see step N+1.
//
// It is also the supervisor (OneForOne) of the view and writer actors: a child that panics is
// restarted, counted and, for a view, rebuilt from the engine (resyncMsg).
type coordinator struct {
	s        *Service
	eng      *engine.Engine
	views    map[string]*viewEntry
	writers  map[string]*actor.PID
	children map[string]childInfo // by PID id
	retiring map[string]*viewSlot // key → the last retired incarnation
	strategy actor.SupervisorStrategy
	waits    map[string]pendingWait // record id text → its latest change's `_00_rv` wait
	// purgeWaitsAt is the size of waits at which completed entries are dropped (doubling, so
	// the sweep stays amortised O(1) per change).
	purgeWaitsAt int
}

// pendingWait is the `_00_rv` wait of a record's latest change.
type pendingWait struct {
	wait *rvWait
	rv   int64
}

func newCoordinator(s *Service) *coordinator {
	return &coordinator{
		s:            s,
		eng:          engine.New(engine.Options{}),
		views:        map[string]*viewEntry{},
		writers:      map[string]*actor.PID{},
		children:     map[string]childInfo{},
		retiring:     map[string]*viewSlot{},
		waits:        map[string]pendingWait{},
		purgeWaitsAt: 4096,
		// Restart on every failure; the retry budget is large enough never to give up on a view.
		strategy: actor.NewOneForOneStrategy(math.MaxInt32, time.Minute, actor.DefaultDecider),
	}
}

// HandleFailure implements actor.SupervisorStrategy for the coordinator's children: it counts
// the failure, records it on the view, and restarts the child.
func (c *coordinator) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, message any) {
	info, ok := c.children[child.Id]
	kind := info.kind
	if !ok {
		kind = "unknown"
	}
	c.s.m.restarts.WithLabelValues(kind).Inc()
	fields := logrus.Fields{"actor": child.Id, "kind": kind, "reason": fmt.Sprint(reason), "message": fmt.Sprintf("%T", message)}
	if info.slot != nil {
		info.slot.restarts.Add(1)
		msg := fmt.Sprint(reason)
		info.slot.lastErr.Store(&msg)
		fields["view"] = info.slot.key
	}
	c.s.log.WithFields(fields).Error("actor panicked; restarting it")
	c.strategy.HandleFailure(sys, sup, child, rs, reason, message)
}

// Receive implements actor.Actor. A panic never leaves it (the engine and the children would
// be lost with a restart): it is logged and answered as an error where there is a caller.
func (c *coordinator) Receive(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			c.s.log.WithFields(logrus.Fields{"panic": fmt.Sprint(r), "message": fmt.Sprintf("%T", ctx.Message()),
				"stack": string(debug.Stack())}).Error("coordinator recovered from a panic")
		}
	}()
	switch m := ctx.Message().(type) {
	case *ingestMsg:
		c.ingest(ctx, m)
	case *registerMsg:
		c.register(ctx, m)
	case *unregisterMsg:
		m.reply <- c.unregister(ctx, m.key, m.fallbackTable)
	case *resyncMsg:
		e := c.views[m.slot.key]
		if e == nil || e.slot != m.slot {
			ctx.Send(m.pid, &resyncReply{})
			return
		}
		ms, ok := c.eng.Members(e.key)
		ctx.Send(m.pid, &resyncReply{members: ms, ok: ok})
	case *resetMsg:
		m.reply <- c.reset(ctx)
	case *loadRowsMsg:
		m.reply <- c.load(m.table, m.rows)
	case *writerForMsg:
		m.reply <- c.writerFor(ctx, m.table)
	case *writerIfAnyMsg:
		m.reply <- c.writers[m.table]
	case *snapshotMsg:
		m.reply <- c.snapshot()
	case *infoMsg:
		r := infoReply{views: len(c.views), rows: map[string][]value.Value{}}
		for _, t := range c.eng.Tables() {
			r.rows[t] = c.eng.TableRows(t)
		}
		m.reply <- r
	case *debugMsg:
		m.reply <- c.debug(m.key)
	case *depsMsg:
		deps := c.eng.Dependencies()
		tables := c.eng.Tables()
		m.reply <- DepsDebug{DependencyMap: deps, TablesInStore: tables, ViewCount: len(c.views)}
	case *reloadMsg:
		c.eng = engine.New(engine.Options{})
		m.reply <- struct{}{}
	case *rematerializeMsg:
		m.reply <- c.rematerialize(ctx)
	case *tableViewsMsg:
		n := 0
		for _, e := range c.views {
			if e.table == m.table {
				n++
			}
		}
		m.reply <- n
	case *actor.Terminated:
		if info, ok := c.children[m.Who.Id]; ok {
			if info.slot != nil {
				info.slot.closeRetired()
			}
			delete(c.children, m.Who.Id)
		}
	}
}

// ingest runs one step and fans its deltas out to the affected view actors.
func (c *coordinator) ingest(ctx actor.Context, m *ingestMsg) {
	defer m.ack.finish()
	if h := c.s.hooks.Step; h != nil {
		h(m.change)
	}
	start := time.Now()
	deltas, err := c.apply(m.change)
	latency := time.Since(start)
	if err != nil {
		m.ack.err = err
		return
	}
	wait := c.rvWait(m.change, len(deltas) > 0)
	if len(deltas) == 0 {
		return
	}
	n, diff := 0, 0
	for i := range deltas {
		if c.views[deltas[i].View] != nil {
			n++
		}
	}
	m.ack.add(n)
	for i := range deltas {
		d := deltas[i]
		e := c.views[d.View]
		if e == nil {
			continue
		}
		e.members += len(d.Added) - len(d.Removed)
		diff += len(d.Added) - len(d.Removed)
		e.slot.queued.Add(1)
		ctx.Send(e.pid, &viewStep{delta: d, latency: latency, wait: wait, ack: m.ack})
	}
	c.s.m.members.Add(float64(diff))
}

// rvWait starts the `_00_rv` wait of a change that has a version (SPEC §2.4); a DELETE has none:
// its `_00_version` row goes with the row. A record deleted or re-created (its version going
// back) ends the wait of its previous change, which could otherwise never see its version and
// would hold the views' edges for the whole wait timeout.
// Only a change that affected some view (affects) starts a wait.
func (c *coordinator) rvWait(ch engine.Change, affects bool) *rvWait {
	rv := recordVersion(ch.Record)
	starts := rv > 0 && ch.Op != engine.OpDelete && affects
	if !starts && len(c.waits) == 0 {
		return nil // the common case without versions: no key to spell, no map to touch
	}
	key := value.RecordString(ch.ID)
	if prev, ok := c.waits[key]; ok {
		if ch.Op == engine.OpDelete || rv <= prev.rv {
			prev.wait.supersede()
		}
		delete(c.waits, key)
	}
	if !starts {
		return nil
	}
	if len(c.waits) >= c.purgeWaitsAt {
		for k, p := range c.waits {
			if p.wait.isDone() {
				delete(c.waits, k)
			}
		}
		c.purgeWaitsAt = max(4096, 2*len(c.waits))
	}
	w := c.s.startWait(ch.ID, rv)
	c.waits[key] = pendingWait{wait: w, rv: rv}
	return w
}

// apply runs the engine step; a panic in the engine becomes an error.
func (c *coordinator) apply(ch engine.Change) (ds []engine.Delta, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine failed applying %s %s: %v", ch.Op, value.RecordString(ch.ID), r)
			c.s.log.WithFields(logrus.Fields{"panic": fmt.Sprint(r), "stack": string(debug.Stack())}).Error("engine panic")
		}
	}()
	ds, err = c.eng.Apply(ch)
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

func (c *coordinator) register(ctx actor.Context, m *registerMsg) {
	req := m.req
	key := req.Key
	table := membership.TableFor(c.s.refMode, m.authID)
	cur := c.views[key]
	if cur != nil && cur.surql == req.SurQL && value.Compare(cur.params, req.Params) == 0 {
		ms, _ := c.eng.Members(key)
		switch {
		case cur.table != table:
			c.retire(ctx, cur, true)
			c.spawnView(ctx, key, table, req, m.authID, ms, cur.members, true)
		case cur.clientID != req.ClientID || cur.authID != m.authID:
			cur.clientID, cur.authID = req.ClientID, m.authID
			ctx.Send(cur.pid, &replaceMsg{members: ms, clientID: req.ClientID, authID: m.authID})
		}
		if e := c.views[key]; e != nil {
			e.format = req.Format
		}
		m.reply <- registerReply{members: ms, refreshed: true}
		return
	}
	old := 0
	if cur != nil {
		old = cur.members
	}
	ms, err := c.registerEngine(key, req.SurQL, req.Params)
	if err != nil {
		m.reply <- registerReply{err: err}
		return
	}
	if cur != nil && cur.table == table {
		cur.surql, cur.params = req.SurQL, req.Params
		cur.clientID, cur.authID = req.ClientID, m.authID
		cur.members = len(ms)
		cur.format = req.Format
		ctx.Send(cur.pid, &replaceMsg{members: ms, clientID: req.ClientID, authID: m.authID})
		c.s.m.members.Add(float64(len(ms) - old))
	} else {
		if cur != nil {
			c.retire(ctx, cur, true)
		}
		c.spawnView(ctx, key, table, req, m.authID, ms, old, !m.bootstrap)
	}
	m.reply <- registerReply{members: ms, created: cur == nil}
}

func (c *coordinator) registerEngine(key, src string, params value.Value) (ms []engine.Member, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("register view %s: engine failed: %v", key, r)
			c.s.log.WithFields(logrus.Fields{"panic": fmt.Sprint(r), "stack": string(debug.Stack())}).Error("engine panic")
		}
	}()
	ms, err = c.eng.Register(key, src, params)
	if err != nil {
		return nil, invalid(err)
	}
	return ms, nil
}

// spawnView starts the actor of a (new or moved) view; old is the member count it replaces in
// the members gauge.
func (c *coordinator) spawnView(ctx actor.Context, key, table string, req RegisterRequest, authID string, ms []engine.Member, old int, initial bool) {
	sl := newViewSlot(key)
	sl.table = table
	sl.writer = c.writerFor(ctx, table)
	sl.clientID, sl.authID = req.ClientID, authID
	sl.initial = initial
	sl.setMembers(ms)
	sl.generation = 1
	if prev := c.retiring[key]; prev != nil {
		select {
		case <-prev.retired:
		default:
			sl.after = prev.retired
		}
		delete(c.retiring, key)
	}
	props := actor.PropsFromProducer(func() actor.Actor { return &viewActor{s: c.s, slot: sl} })
	pid := ctx.SpawnPrefix(props, "view-")
	c.children[pid.Id] = childInfo{kind: "view", slot: sl}
	c.views[key] = &viewEntry{key: key, pid: pid, slot: sl, surql: req.SurQL, params: req.Params, table: table,
		clientID: req.ClientID, authID: authID, format: req.Format, members: len(ms)}
	c.s.slots.Store(key, sl)
	c.s.m.views.Set(float64(len(c.views)))
	c.s.m.members.Add(float64(len(ms) - old))
}

// retire ends a view's actor (after the steps already sent to it) and forgets the view.
func (c *coordinator) retire(ctx actor.Context, e *viewEntry, removeEdges bool) {
	ctx.Send(e.pid, &retireMsg{removeEdges: removeEdges})
	c.retiring[e.key] = e.slot
	delete(c.views, e.key)
	c.s.slots.Delete(e.key)
	c.s.m.views.Set(float64(len(c.views)))
}

func (c *coordinator) unregister(ctx actor.Context, key, fallbackTable string) bool {
	e := c.views[key]
	if e == nil {
		if fallbackTable != "" {
			c.s.sendWriter(ctx, c.writerFor(ctx, fallbackTable), &removeViewItem{view: key})
		}
		return false
	}
	c.eng.Unregister(key)
	c.s.m.members.Sub(float64(e.members))
	c.retire(ctx, e, true)
	return true
}

func (c *coordinator) reset(ctx actor.Context) resetReply {
	var r resetReply
	for _, e := range c.views {
		c.retire(ctx, e, false)
		r.retired = append(r.retired, e.slot.retired)
	}
	c.eng.Reset()
	c.s.m.members.Set(0)
	for _, pid := range c.writers {
		r.writers = append(r.writers, pid)
	}
	return r
}

// load stores bootstrap rows (as CREATEs) in the engine. Rows without a record id of the table
// are skipped with a warning.
func (c *coordinator) load(table string, rows []value.Value) error {
	for _, row := range rows {
		id := row.Get("id")
		if id.Kind() != value.KindRecord || id.Table() != table {
			c.s.log.WithFields(logrus.Fields{"table": table, "id": id.SurQL()}).Warn("bootstrap row without a record id of its table skipped")
			continue
		}
		ds, err := c.apply(engine.Change{Table: table, Op: engine.OpCreate, ID: id, Record: row})
		if err != nil {
			c.s.log.WithFields(logrus.Fields{"table": table, "id": value.RecordString(id)}).WithError(err).Warn("bootstrap row skipped")
			continue
		}
		if len(ds) > 0 {
			return fmt.Errorf("load %s: rows must be loaded before views are registered", table)
		}
	}
	return nil
}

// writerFor returns the writer actor of a list_ref table, starting it on first use.
func (c *coordinator) writerFor(ctx actor.Context, table string) *actor.PID {
	if pid := c.writers[table]; pid != nil {
		return pid
	}
	st := newWriterState(c.s, table)
	props := actor.PropsFromProducer(func() actor.Actor { return &writerActor{s: c.s, st: st} })
	pid := ctx.SpawnPrefix(props, "writer-"+table+"-")
	c.children[pid.Id] = childInfo{kind: "writer"}
	c.writers[table] = pid
	return pid
}

func (c *coordinator) snapshot() snapshot {
	s := snapshot{tables: map[string]map[string]membership.ViewMembership{}}
	for key, e := range c.views {
		ms, _ := c.eng.Members(key)
		t := s.tables[e.table]
		if t == nil {
			t = map[string]membership.ViewMembership{}
			s.tables[e.table] = t
		}
		t[key] = membership.ViewMembership{ClientID: e.clientID, AuthID: e.authID, Members: ms}
		s.views = append(s.views, e.pid)
	}
	for _, pid := range c.writers {
		s.writers = append(s.writers, pid)
	}
	return s
}

func (c *coordinator) debug(key string) debugReply {
	e := c.views[key]
	if e == nil {
		return debugReply{}
	}
	ms, _ := c.eng.Members(key)
	ref, sub, _ := c.eng.ViewTables(key)
	return debugReply{ok: true, pid: e.pid, slot: e.slot, format: e.format, members: ms, referenced: ref, subquery: sub}
}

// rematerialize registers every view again in the (reloaded) engine and sends each actor its
// new membership; it returns how many views it kept. A view the engine now rejects is dropped
// with its edges.
func (c *coordinator) rematerialize(ctx actor.Context) int {
	keys := make([]string, 0, len(c.views))
	for k := range c.views {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	total := 0
	for _, key := range keys {
		e := c.views[key]
		ms, err := c.registerEngine(key, e.surql, e.params)
		if err != nil {
			c.s.log.WithField("view", key).WithError(err).Error("view dropped: it cannot be registered again")
			c.retire(ctx, e, true)
			continue
		}
		e.members = len(ms)
		total += len(ms)
		ctx.Send(e.pid, &replaceMsg{members: ms, clientID: e.clientID, authID: e.authID})
	}
	c.s.m.members.Set(float64(total))
	return len(c.views)
}
