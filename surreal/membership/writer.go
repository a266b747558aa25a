package membership

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// Querier runs SurrealQL with bound variables; *conn.Conn is one. Values of type value.Value
// and conn.CBORAppender in vars must be accepted (conn encodes them itself; edge rows are
// CBORAppenders that read the Writer's state, so a Querier encodes them before it returns). It
// is expected to retry
// transient failures itself (conn does): nothing in this package calls it again after a
// failure.
type Querier interface {
	Query(ctx context.Context, surql string, vars map[string]any) ([]conn.Result, error)
}

// ViewDelta is one step's membership change of one view.
type ViewDelta struct {
	// ViewKey is the view key (the `_00_query` row is `_00_query:<ViewKey>`).
	ViewKey string
	// ClientID and AuthID are written on the view's edges.
	ClientID, AuthID string
	// Delta is the change; its View field is not used.
	Delta engine.Delta
}

// ViewMembership is a view's complete membership, for SetView and Reconcile.
type ViewMembership struct {
	ClientID, AuthID string
	Members          []engine.Member
}

// WriterOptions tunes a Writer. The zero value is ready to use.
type WriterOptions struct {
	// MaxStatements caps the statements of one transaction (default 500); a flush with more
	// runs several transactions in order.
	MaxStatements int
	// PageSize is the number of edges Reconcile reads per query (default 1000).
	PageSize int
	// Parallel is the number of transactions one flush may run at once (default 1). A flush of
	// more than ParallelMin writes is split by view into up to Parallel groups, each written in
	// its own transactions, concurrently; the writes of one view stay in one group, in order.
	// A single table's edges can then use more than one of the database's threads.
	Parallel int
	// ParallelMin is the smallest flush that is split (default 64 writes): smaller ones are
	// one transaction, which is cheaper.
	ParallelMin int
	// Owner is this SSP's id (SPEC §6.7). When set, every transaction guards each view's writes
	// with an ownership check of the view's `_00_query` row (see Writer), and ClaimView claims
	// views for it. "" (standalone) writes without any check.
	Owner string
	// Log receives skipped members (logrus' standard logger if nil).
	Log logrus.FieldLogger
}

func (o *WriterOptions) fill() {
	if o.MaxStatements <= 0 {
		o.MaxStatements = 500
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	if o.ParallelMin <= 0 {
		o.ParallelMin = 64
	}
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
}

// WriterStats are counters of a Writer since it was created.
type WriterStats struct {
	// Transactions and Statements count committed edge transactions and their statements.
	Transactions, Statements int64
	// FailedTransactions counts transactions that failed (each is one Querier call: the
	// connection under it already retried what was transient); FailedFlushes counts flushes
	// that ended with writes kept for a later flush.
	FailedTransactions, FailedFlushes int64
	// InvalidMembers counts members skipped because their key is not a record id, their view
	// key is empty or the writer's table name is invalid.
	InvalidMembers int64
	// FencedViews counts the times a view was found fenced (owned by another SSP).
	FencedViews int64
	// Unchanged counts edge writes skipped because the row was back to what the database
	// holds (an edge added and removed within one flush, a member re-emitted at its version).
	Unchanged int64
	// Pending is the number of edge writes waiting for a flush now.
	Pending int
}

// Writer keeps the edge rows of one list_ref table equal to the views' membership
// (SPEC §2.3).
//
// It mirrors the membership of every view whose edges go to its table, as received, and
// writes, for every edge touched since the last successful write, the edge's latest state:
// UPSERT by id when the member is present, DELETE by id when it is not. Edge ids are
// deterministic — `<table>:[view, parent, rel, key]` (parent and rel empty for top-level
// members) — so repeated writes and replays never duplicate a row, several changes of one edge
// within a flush collapse into one write, and a write can never be overtaken by an older one.
// Each flush writes one transaction (more when it has more than MaxStatements writes, in order,
// or when WriterOptions.Parallel splits it).
//
// The Writer never sleeps nor retries: each transaction is one call of the Querier, which
// retries transient failures itself. A flush that fails keeps its unwritten writes pending and
// returns the error; the next flush (ApplyDeltas, Flush, RemoveView, SetView) writes them —
// nothing is dropped. Deciding when to flush again is the owner's business.
//
// Subquery members carry `parent` (the id of their parent record's edge, see parentSlot for
// the rule when the parent record appears several times) and `parent_rel` (the alias).
//
// Ownership (SPEC §6.7): with WriterOptions.Owner set, each view's statements in a transaction
// run only if the view's `_00_query` row, read in that transaction, is not fenced — a view is
// fenced when its row has a string ssp_id other than Owner (a missing row, or one without
// ssp_id, is not: a new registration's row may not be written yet). The writes of a fenced
// view are skipped while the other views' writes commit; the Writer then forgets the view (its
// mirror and pending writes), reports it through TakeFenced, and ignores it from then on until
// ClaimView claims it back. The guard is a read, and SurrealDB transactions are snapshot
// isolated: a claim that commits while a transaction of the old owner is running is seen from
// the old owner's next transaction on. An edge both write in that window is a write conflict
// (the connection retries the old owner's transaction, which then finds the view fenced); an
// edge only the old owner writes then — a member the claimant does not have — stays until the
// claimant reconciles the table.
//
// A Writer is not safe for concurrent use: one goroutine owns it (feed ApplyDeltas in step
// order). A table name that ValidTableName rejects makes every writing method fail with an
// error saying so, recording nothing.
type Writer struct {
	q     Querier
	table string
	bad   error // why table cannot be written; nil when it can
	opts  WriterOptions

	views map[string]*viewState // by view key
	queue *queue
	spare *queue      // the queue of the flush before, emptied: the next flush fills it (its maps keep their room)
	stats WriterStats // Pending aside

	// A flush's scratch, kept for the next one: the kinds of change of the queued edges, the
	// items and their groups.
	kinds  []edgeChange
	items  []item
	groups [][]item

	fenced    map[string]bool     // views found owned by another SSP, ignored until claimed
	unclaimed map[string]struct{} // views found fenced since the last TakeFenced
	// queryTable is true once a guarded transaction or a claim succeeded (and no transaction
	// failed since): `_00_query` exists, so guards need no ensureQueryTable first.
	queryTable bool

	// fault, if set (tests), rewrites each transaction's SurrealQL before it is sent. It may be
	// called from several goroutines at once (WriterOptions.Parallel).
	fault func(surql string) string
}

// NewWriter returns the Writer of the list_ref table, writing through q.
func NewWriter(q Querier, table string, opts WriterOptions) *Writer {
	opts.fill()
	w := &Writer{q: q, table: table, opts: opts, views: map[string]*viewState{}, queue: newQueue(),
		fenced: map[string]bool{}, unclaimed: map[string]struct{}{}}
	if !ValidTableName(table) {
		w.bad = fmt.Errorf("list_ref table name %q is not [A-Za-z0-9_]+", table)
	}
	return w
}

// Table returns the list_ref table the writer writes.
func (w *Writer) Table() string { return w.table }

// edgeKey identifies one edge within the table.
type edgeKey struct {
	view string
	engine.MemberKey
}

// queue holds the pending writes: whole-view removals, stale edge ids found by Reconcile, and
// touched edges, each in the order they were queued, with what each queued edge held before
// (queuedEdge).
type queue struct {
	removals []string
	stale    []staleEdge
	edges    []edgeKey
	queued   map[edgeKey]queuedEdge
}

// queuedEdge is a queued edge's entry. For an edge queued by a member of a delta, known is
// set and before is what its row held when the edge was first touched (what the database
// holds, since every earlier write of it succeeded): a flush skips an edge that is back to
// it. Edges queued otherwise (a re-pointed child, a whole view set) are always written.
type queuedEdge struct {
	before edgeSnap
	known  bool
}

// edgeSnap is what one edge row holds, as far as a write could change it (its id fixes `in`
// and `out`).
type edgeSnap struct {
	present          bool
	version          int64
	parent           slot // a subquery member's parent pointer
	clientID, authID string
}

// snapOf returns what edge k's row holds by the mirror vs (nil: the view is gone), whose
// clientId and auth_id are given.
func snapOf(k edgeKey, vs *viewState, clientID, authID string) edgeSnap {
	if vs == nil {
		return edgeSnap{}
	}
	m, ok := vs.members[k.MemberKey]
	if !ok {
		return edgeSnap{}
	}
	return memberSnap(k, vs, m, clientID, authID)
}

// memberSnap is snapOf for a member m that vs holds at k.
func memberSnap(k edgeKey, vs *viewState, m member, clientID, authID string) edgeSnap {
	s := edgeSnap{present: true, version: m.version, clientID: clientID, authID: authID}
	if k.Parent != "" {
		s.parent = vs.parentSlot(k.Parent)
	}
	return s
}

// remember queues edge (view, p), which a delta is about to change, with what it holds now
// unless it is queued already; clientID and authID are the view's before the delta. held is
// p's member when the caller has looked it up already (nil: looked up here).
func (w *Writer) remember(view string, vs *viewState, p engine.MemberKey, held *member, clientID, authID string) {
	k := edgeKey{view, p}
	q := w.queue
	if _, ok := q.queued[k]; ok {
		return
	}
	var before edgeSnap
	if held != nil {
		before = memberSnap(k, vs, *held, clientID, authID)
	} else {
		before = snapOf(k, vs, clientID, authID)
	}
	q.queued[k] = queuedEdge{before: before, known: true}
	q.edges = append(q.edges, k)
}

// classify tells how each queued edge is to be written, in the order of the queue's edges,
// and first takes out of the queue the edges whose row is back to what it held when first
// touched: writing them would change nothing (an edge added and removed again, a member
// re-emitted at the version it has).
func (w *Writer) classify() []edgeChange {
	q := w.queue
	kinds := w.kinds[:0]
	kept := q.edges[:0]
	for _, k := range q.edges {
		e := q.queued[k]
		vs := w.views[k.view]
		var c, a string
		if vs != nil {
			c, a = vs.clientID, vs.authID
		}
		now := snapOf(k, vs, c, a)
		if e.known && now == e.before {
			delete(q.queued, k)
			w.stats.Unchanged++
			continue
		}
		kept = append(kept, k)
		kinds = append(kinds, changeOf(e, now))
	}
	clear(q.edges[len(kept):])
	q.edges = kept
	w.kinds = kinds
	return kinds
}

// changeOf is how an edge queued as e that now holds now is written: only its version when
// the database holds its row (e.before) with the same parent pointer, clientId and auth_id.
func changeOf(e queuedEdge, now edgeSnap) edgeChange {
	b := e.before
	switch {
	case !now.present:
		return changeGone
	case e.known && b.present && b.parent == now.parent && b.clientID == now.clientID &&
		b.authID == now.authID && b.version != now.version:
		return changeVersion
	}
	return changeRow
}

// staleEdge is the id of a row that Reconcile found stale, and the view it belongs to ("" when
// it names none).
type staleEdge struct {
	id   value.Value
	view string
}

func newQueue() *queue {
	return &queue{queued: map[edgeKey]queuedEdge{}}
}

// maxSpareEdges bounds the edges a spare queue's maps may have held: one that held more (a
// whole view set, a reconcile) is let go rather than kept at that size.
const maxSpareEdges = 1 << 16

// reset empties q for reuse; false when it is too big to keep.
func (q *queue) reset() bool {
	if len(q.queued) > maxSpareEdges {
		return false
	}
	clear(q.removals)
	clear(q.stale)
	clear(q.edges)
	q.removals, q.stale, q.edges = q.removals[:0], q.stale[:0], q.edges[:0]
	clear(q.queued)
	return true
}

func (q *queue) len() int { return len(q.removals) + len(q.stale) + len(q.edges) }

func (w *Writer) touch(view string, p engine.MemberKey) {
	k := edgeKey{view, p}
	if _, ok := w.queue.queued[k]; ok {
		return
	}
	w.queue.queued[k] = queuedEdge{}
	w.queue.edges = append(w.queue.edges, k)
}

func (w *Writer) touchAll(view string, ps []engine.MemberKey) {
	for _, p := range ps {
		w.touch(view, p)
	}
}

// dropQueued forgets the pending edge writes of one view.
func (w *Writer) dropQueued(view string) {
	q := w.queue
	kept := q.edges[:0]
	for _, k := range q.edges {
		if k.view == view {
			delete(q.queued, k)
			continue
		}
		kept = append(kept, k)
	}
	q.edges = kept
}

// dropView forgets a view: its mirror and every pending write of it (edges, removals, stale
// rows).
func (w *Writer) dropView(view string) {
	delete(w.views, view)
	w.dropQueued(view)
	q := w.queue
	removals := q.removals[:0]
	for _, v := range q.removals {
		if v != view {
			removals = append(removals, v)
		}
	}
	q.removals = removals
	stale := q.stale[:0]
	for _, st := range q.stale {
		if st.view != view {
			stale = append(stale, st)
		}
	}
	q.stale = stale
}

// fence records that view belongs to another SSP: it is forgotten, reported by the next
// TakeFenced, and ignored until claimed.
func (w *Writer) fence(view string) {
	w.dropView(view)
	if !w.fenced[view] {
		w.fenced[view] = true
		w.stats.FencedViews++
	}
	w.unclaimed[view] = struct{}{}
}

// TakeFenced returns, sorted, the views found fenced since the last call — views another SSP
// claimed, whose writes were skipped and which the Writer has forgotten — and clears the list.
// The caller drops those views without touching their edges. It is nil without an Owner.
func (w *Writer) TakeFenced() []string {
	if len(w.unclaimed) == 0 {
		return nil
	}
	out := make([]string, 0, len(w.unclaimed))
	for v := range w.unclaimed {
		out = append(out, v)
	}
	sort.Strings(out)
	w.unclaimed = map[string]struct{}{}
	return out
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	st := w.stats
	st.Pending = w.queue.len()
	return st
}

// Forget drops the writer's mirror of every view and every pending write, without touching
// the database: the table was removed, or its edges were deleted (/reset). The views known to
// be fenced stay ignored.
func (w *Writer) Forget() {
	w.views = map[string]*viewState{}
	w.queue = newQueue()
}

// ApplyDeltas records batch (in order) and flushes every pending edge write. The error reports
// writes that could not be made; they stay pending for the next flush.
func (w *Writer) ApplyDeltas(ctx context.Context, batch []ViewDelta) error {
	if w.bad != nil {
		for i := range batch {
			w.skip(&batch[i], w.bad)
		}
		return fmt.Errorf("apply deltas of %d views: %w", len(batch), w.bad)
	}
	for i := range batch {
		w.apply(&batch[i])
	}
	return w.flush(ctx)
}

// skip counts and logs the members of a delta that cannot be recorded.
func (w *Writer) skip(d *ViewDelta, why error) {
	n := len(d.Delta.Added) + len(d.Delta.Removed) + len(d.Delta.Updated)
	w.stats.InvalidMembers += int64(n)
	w.opts.Log.WithFields(logrus.Fields{"view": d.ViewKey, "table": w.table, "members": n}).WithError(why).
		Error("view delta skipped")
}

var errEmptyView = errors.New("empty view key")

func (w *Writer) apply(d *ViewDelta) {
	if d.ViewKey == "" {
		w.skip(d, errEmptyView)
		return
	}
	if w.fenced[d.ViewKey] {
		return // another SSP's view
	}
	vs := w.views[d.ViewKey]
	if vs == nil {
		vs = newViewState()
		w.views[d.ViewKey] = vs
	}
	client, auth := vs.clientID, vs.authID
	vs.clientID, vs.authID = d.ClientID, d.AuthID
	for _, m := range d.Delta.Removed {
		p := m.ID()
		w.remember(d.ViewKey, vs, p, nil, client, auth) // queues p
		w.touchAll(d.ViewKey, vs.remove(p))
	}
	for _, list := range [][]engine.Member{d.Delta.Added, d.Delta.Updated} {
		for _, m := range list {
			p := m.ID()
			if old, ok := vs.members[p]; ok {
				// A position the mirror holds: only its version can change (its record id
				// and slot stay, so no parent pointer moves), which viewState.set would do.
				w.remember(d.ViewKey, vs, p, &old, client, auth)
				old.version = max(m.Version, 1)
				vs.members[p] = old
				continue
			}
			mem, ok := w.member(d.ViewKey, m)
			if !ok {
				continue
			}
			w.remember(d.ViewKey, vs, p, nil, client, auth)
			w.set(d.ViewKey, vs, p, mem)
		}
	}
	if len(vs.members) == 0 {
		delete(w.views, d.ViewKey)
	}
}

// member returns what the writer records of m, or false (counted and logged) when m's key or
// parent is not a record id.
func (w *Writer) member(view string, m engine.Member) (member, bool) {
	out, err := parseRecord(m.Key)
	if err == nil && m.Parent != "" {
		_, err = parseRecord(m.Parent)
	}
	if err != nil {
		w.stats.InvalidMembers++
		w.opts.Log.WithFields(logrus.Fields{"view": view, "table": w.table, "member": m.Key, "parent": m.Parent}).
			WithError(err).Error("edge skipped: member is not a record id")
		return member{}, false
	}
	return member{version: max(m.Version, 1), out: out}, true
}

func (w *Writer) set(view string, vs *viewState, p engine.MemberKey, m member) {
	w.touchAll(view, vs.set(p, m))
	w.touch(view, p)
}

// parseRecord reads a member key such as `thread:1` or `thread:⟨a b⟩` (or any record literal
// SurrealQL accepts).
func parseRecord(key string) (value.Value, error) {
	if v, ok := value.ParseRecord(key); ok {
		return v, nil
	}
	v, err := surql.ParseValue(key)
	if err != nil {
		return value.Value{}, fmt.Errorf("parse record id %q: %w", key, err)
	}
	if v.Kind() != value.KindRecord {
		return value.Value{}, fmt.Errorf("%q is a %s, not a record id", key, v.Kind())
	}
	return v, nil
}

// Flush writes every pending edge write (left over from failed flushes).
func (w *Writer) Flush(ctx context.Context) error {
	if w.bad != nil {
		return fmt.Errorf("flush: %w", w.bad)
	}
	return w.flush(ctx)
}

// RemoveView forgets a view's edges and deletes them all from the database (after any write
// still pending). On failure the deletion stays pending like any edge write. A fenced view's
// edges are not deleted (they are another SSP's).
func (w *Writer) RemoveView(ctx context.Context, viewKey string) error {
	if w.bad != nil {
		return fmt.Errorf("remove view %s: %w", viewKey, w.bad)
	}
	delete(w.views, viewKey)
	w.dropQueued(viewKey)
	if !w.fenced[viewKey] {
		w.queue.removals = append(w.queue.removals, viewKey)
	}
	return w.flush(ctx)
}

// SetView makes the writer's mirror of a view equal to vm and flushes: it touches only the
// edges that differ — members added, removed or at another version, children whose parent
// pointer moved, and every edge of the view when its ClientID or AuthID changed. An empty
// membership removes the view's edges one by one. For a view actor that was restarted or
// re-registered and knows the view's whole membership. A fenced view is not recorded (it
// takes ClaimView).
func (w *Writer) SetView(ctx context.Context, viewKey string, vm ViewMembership) error {
	switch {
	case w.bad != nil:
		w.stats.InvalidMembers += int64(len(vm.Members))
		return fmt.Errorf("set view %s: %w", viewKey, w.bad)
	case viewKey == "":
		w.stats.InvalidMembers += int64(len(vm.Members))
		return fmt.Errorf("set view: %w", errEmptyView)
	}
	if !w.fenced[viewKey] {
		w.setView(viewKey, vm)
	}
	return w.flush(ctx)
}

// ClaimView makes this SSP the owner of a view and its edges in this table equal to vm, in one
// transaction: `_00_query:<viewKey>.ssp_id` = Owner (a row holding only ssp_id is created when
// there is none; the registration writes the rest and keeps it), every edge of the view in the
// table that is not a member of vm is deleted — whoever wrote it — and every member is
// upserted. vm becomes the view's mirror (later deltas apply on top) and a fenced view is
// un-fenced; the previous owner finds the view fenced from its next transaction on. It is how
// a view registered on this SSP starts, new or moved from another SSP. On failure nothing is
// recorded (the view and its pending writes stay as they were) and the error says so; the
// caller claims again. Other views' pending writes wait for the next flush. Without an Owner
// it is SetView.
func (w *Writer) ClaimView(ctx context.Context, viewKey string, vm ViewMembership) error {
	if w.opts.Owner == "" {
		return w.SetView(ctx, viewKey, vm)
	}
	switch {
	case w.bad != nil:
		w.stats.InvalidMembers += int64(len(vm.Members))
		return fmt.Errorf("claim view %s: %w", viewKey, w.bad)
	case viewKey == "":
		w.stats.InvalidMembers += int64(len(vm.Members))
		return fmt.Errorf("claim view: %w", errEmptyView)
	}
	vs := w.viewStateOf(viewKey, vm)
	positions := vs.positions()
	var b strings.Builder
	keep := make([]value.Value, len(positions))
	rows := make([]value.Value, len(positions))
	vars := map[string]any{"tb": w.table, "own": w.opts.Owner, "q": QueryRecord(viewKey)}
	b.WriteString("BEGIN TRANSACTION;\nUPSERT $q SET ssp_id = $own RETURN NONE;\n")
	for i, p := range positions {
		keep[i] = w.edgeID(viewKey, p)
		rows[i], _ = w.rowOf(vs, edgeKey{viewKey, p}, keep[i])
	}
	if len(rows) > 0 {
		vars["rows"] = value.Array(rows)
		b.WriteString("INSERT INTO " + w.table + " $rows" + upsertTail)
	}
	// After the upserts, which create the table if need be.
	b.WriteString("DELETE type::table($tb) WHERE in = $q AND id NOT IN $keep RETURN NONE;\nCOMMIT TRANSACTION;")
	vars["keep"] = value.Array(keep)
	surql := b.String()
	if w.fault != nil {
		surql = w.fault(surql)
	}
	rs, err := w.q.Query(ctx, surql, vars)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		w.stats.FailedTransactions++
		return fmt.Errorf("claim view %s in %s (%d members): %w", viewKey, w.table, len(positions), err)
	}
	w.stats.Transactions++
	w.stats.Statements += int64(len(positions) + 2)
	w.queryTable = true
	w.dropView(viewKey)
	delete(w.fenced, viewKey)
	delete(w.unclaimed, viewKey)
	if len(vs.members) > 0 {
		w.views[viewKey] = vs
	}
	return nil
}

// viewStateOf returns the mirror of a view whose membership is vm (invalid members are
// counted and logged, not recorded).
func (w *Writer) viewStateOf(view string, vm ViewMembership) *viewState {
	vs := newViewState()
	vs.clientID, vs.authID = vm.ClientID, vm.AuthID
	for _, m := range vm.Members {
		if mem, ok := w.member(view, m); ok {
			vs.set(m.ID(), mem)
		}
	}
	return vs
}

func (w *Writer) setView(view string, vm ViewMembership) {
	vs := w.views[view]
	if vs == nil {
		vs = newViewState()
		w.views[view] = vs
	}
	if vs.clientID != vm.ClientID || vs.authID != vm.AuthID {
		vs.clientID, vs.authID = vm.ClientID, vm.AuthID
		w.touchAll(view, vs.positions())
	}
	want := make(map[engine.MemberKey]member, len(vm.Members))
	order := make([]engine.MemberKey, 0, len(vm.Members))
	for _, m := range vm.Members {
		mem, ok := w.member(view, m)
		if !ok {
			continue
		}
		if _, dup := want[m.ID()]; !dup {
			order = append(order, m.ID())
		}
		want[m.ID()] = mem
	}
	for _, p := range vs.positions() {
		if _, ok := want[p]; !ok {
			w.touchAll(view, vs.remove(p))
			w.touch(view, p)
		}
	}
	for _, p := range order {
		m := want[p]
		if old, ok := vs.members[p]; ok && old.version == m.version {
			continue
		}
		w.set(view, vs, p, m)
	}
	if len(vs.members) == 0 {
		delete(w.views, view)
	}
}

func (w *Writer) flush(ctx context.Context) error {
	kinds := w.classify()
	q := w.queue
	if q.len() == 0 {
		return nil
	}
	items := slices.Grow(w.items[:0], q.len())
	defer func() {
		// The next flush reuses the room, unless this one was outsized (a reconcile, a whole
		// view set), like the spare queue; nothing of this one stays reachable from it.
		if cap(items) > maxSpareEdges {
			w.kinds, w.items, w.groups = nil, nil, nil
			return
		}
		clear(items)
		for g := range w.groups {
			clear(w.groups[g])
			w.groups[g] = w.groups[g][:0]
		}
		w.items = items[:0]
	}()
	for _, v := range q.removals {
		items = append(items, item{removal: v})
	}
	for _, st := range q.stale {
		items = append(items, item{stale: st})
	}
	for i := range q.edges {
		items = append(items, item{edge: &q.edges[i], change: kinds[i]})
	}
	groups := w.split(items)
	res := make([]groupResult, len(groups))
	if len(groups) == 1 {
		res[0] = w.writeGroup(ctx, groups[0])
	} else {
		// The groups only read the writer's state (its owner waits here) and write disjoint
		// edges.
		var wg sync.WaitGroup
		for g := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[g] = w.writeGroup(ctx, groups[g])
			}()
		}
		wg.Wait()
	}
	// Drop what was written; keep the rest in order.
	nq := w.spare
	if nq == nil {
		nq = newQueue()
	}
	w.spare = nil
	var errs []error
	var fenced []string
	for g, part := range groups {
		r := res[g]
		w.stats.Transactions += r.transactions
		w.stats.Statements += int64(r.done)
		fenced = append(fenced, r.fenced...)
		if r.err != nil {
			w.stats.FailedTransactions++
			errs = append(errs, r.err)
		}
		for _, it := range part[r.done:] {
			switch {
			case it.edge != nil:
				nq.edges = append(nq.edges, *it.edge)
				nq.queued[*it.edge] = q.queued[*it.edge]
			case it.removal != "":
				nq.removals = append(nq.removals, it.removal)
			default:
				nq.stale = append(nq.stale, it.stale)
			}
		}
	}
	w.queue = nq
	if q.reset() {
		w.spare = q
	}
	if w.opts.Owner != "" {
		w.queryTable = len(errs) == 0
	}
	for _, v := range fenced {
		w.fence(v) // its writes still pending go too
	}
	if err := errors.Join(errs...); err != nil {
		w.stats.FailedFlushes++
		return fmt.Errorf("write edges of %s (%d writes kept for the next flush): %w", w.table, w.queue.len(), err)
	}
	return nil
}

// item is one pending write.
type item struct {
	removal string     // a view whose edges all go
	stale   staleEdge  // an edge id to delete
	change  edgeChange // how edge is written (classify)
	edge    *edgeKey
}

// view returns the view the item writes ("" for a stale row of no view).
func (it item) view() string {
	switch {
	case it.edge != nil:
		return it.edge.view
	case it.removal != "":
		return it.removal
	}
	return it.stale.view
}

// groupResult is what writeGroup did: the items written from the front of its group, in how
// many transactions, the views found fenced, and the error that stopped it.
type groupResult struct {
	done         int
	transactions int64
	fenced       []string
	err          error
}

// writeGroup writes part in transactions of at most MaxStatements writes, in order, and stops
// at the first that fails.
func (w *Writer) writeGroup(ctx context.Context, part []item) groupResult {
	var r groupResult
	for r.done < len(part) {
		n := min(w.opts.MaxStatements, len(part)-r.done)
		fenced, err := w.commit(ctx, part[r.done:r.done+n])
		if err != nil {
			r.err = err
			return r
		}
		r.fenced = append(r.fenced, fenced...)
		r.done += n
		r.transactions++
	}
	return r
}

// split divides a flush's items into the groups written concurrently (WriterOptions.Parallel):
// by view, so that each view's writes stay in one group in their order; stale rows of no view
// go to the first group. A small flush is one group. The groups are the Writer's scratch, valid
// until the next split.
func (w *Writer) split(items []item) [][]item {
	p := w.opts.Parallel
	if p <= 1 || len(items) < w.opts.ParallelMin {
		return [][]item{items}
	}
	if len(w.groups) != p {
		w.groups = make([][]item, p)
	}
	groups := w.groups
	for _, it := range items {
		g := 0
		if v := it.view(); v != "" {
			g = viewGroup(v, p)
		}
		groups[g] = append(groups[g], it)
	}
	out := make([][]item, 0, p)
	for _, g := range groups {
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// viewGroup hashes a view key (FNV-1a) to one of p groups.
func viewGroup(view string, p int) int {
	h := uint32(2166136261)
	for i := 0; i < len(view); i++ {
		h ^= uint32(view[i])
		h *= 16777619
	}
	return int(h % uint32(p))
}

// commit writes items as one transaction: one call of the Querier, never repeated here. It
// returns the views whose writes were skipped because they are fenced.
func (w *Writer) commit(ctx context.Context, items []item) ([]string, error) {
	surql, vars, guarded := w.buildTx(items)
	if w.fault != nil {
		surql = w.fault(surql)
	}
	rs, err := w.q.Query(ctx, surql, vars)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		return nil, fmt.Errorf("transaction of %d writes: %w", len(items), err)
	}
	return fencedViews(rs, guarded), nil
}

// ensureQueryTable precedes a guarded transaction (as a statement of its own, before BEGIN)
// until one succeeded: a guard's read of a `_00_query` row fails while the table does not
// exist (no view was ever registered in the database), and an implicitly created table would
// be the same schemaless table with default permissions.
const ensureQueryTable = "DEFINE TABLE IF NOT EXISTS " + QueryTable + " SCHEMALESS;\n"

// buildTx renders items as one transaction; every id and value is a variable.
//
// Statements: a whole-view removal or a stale row is one statement; the edge writes of a run
// of items are three at most, one per kind of change (writeRun) — which costs SurrealDB and
// this process less than a statement per edge and still gives a LIVE subscriber one
// notification per edge change (see BENCHMARKS.md, "Edge statement shapes"). Within a run the
// edges are distinct (the queue holds each once), so their order does not matter; removals and
// stale rows go first, as queued.
//
// Without an Owner the items are one run. With an Owner, one statement reads the
// `_00_query` rows of the transaction's views — each once — and keeps those of fenced views;
// then, in a block, the items of each view are one run behind a test of that list (stale rows
// of no view go first, unguarded), and the block's value is the list:
//
//	LET $fenced = SELECT VALUE id FROM $qs WHERE type::is_string(ssp_id) AND ssp_id != $own;
//	{
//	IF $q0 NOT IN $fenced { …view 0's writes… };
//	…
//	$fenced
//	};
//
// ($qs is the array of the views' `_00_query` records, $q0… its elements.) guarded holds the
// views whose records may come back in that list. One read for all views, in one block, costs
// a fraction of a guard statement per view (see BenchmarkFenceGuard).
func (w *Writer) buildTx(items []item) (surql string, vars map[string]any, guarded map[string]bool) {
	var b strings.Builder
	vars = map[string]any{"tb": w.table}
	if w.opts.Owner != "" && !w.queryTable {
		b.WriteString(ensureQueryTable)
	}
	b.WriteString("BEGIN TRANSACTION;\n")
	if w.opts.Owner == "" || allNoView(items) {
		w.writeRun(&b, vars, "", items)
		b.WriteString("COMMIT TRANSACTION;")
		return b.String(), vars, nil
	}
	var order []string
	byView := map[string][]item{}
	var unguarded []item
	for _, it := range items {
		v := it.view()
		if v == "" {
			unguarded = append(unguarded, it)
			continue
		}
		if _, ok := byView[v]; !ok {
			order = append(order, v)
		}
		byView[v] = append(byView[v], it)
	}
	guarded = make(map[string]bool, len(order))
	qs := make([]value.Value, len(order))
	for j, v := range order {
		qs[j] = QueryRecord(v)
		guarded[v] = true
	}
	vars["own"], vars["qs"] = w.opts.Owner, value.Array(qs)
	b.WriteString("LET $fenced = SELECT VALUE id FROM $qs WHERE type::is_string(ssp_id) AND ssp_id != $own;\n{\n")
	w.writeRun(&b, vars, "u", unguarded)
	for j, v := range order {
		n := strconv.Itoa(j)
		vars["q"+n] = qs[j]
		b.WriteString("IF $q" + n + " NOT IN $fenced {\n")
		w.writeRun(&b, vars, n, byView[v])
		b.WriteString("};\n")
	}
	b.WriteString("$fenced\n};\nCOMMIT TRANSACTION;")
	return b.String(), vars, guarded
}

// allNoView reports whether every item is a stale row of no view (nothing to guard).
func allNoView(items []item) bool {
	for _, it := range items {
		if it.view() != "" {
			return false
		}
	}
	return true
}

// upsertTail is the rest of the statement that writes a run's present edges: every field
// is set from the row (a missing parent or parent_rel unsets it; updatedAt is the table's
// `VALUE time::now()`).
const upsertTail = " ON DUPLICATE KEY UPDATE in = $input.in, out = $input.out, version = $input.version, " +
	"clientId = $input.clientId, auth_id = $input.auth_id, parent = $input.parent, parent_rel = $input.parent_rel RETURN NONE;\n"

// writeRun renders a run of items: removals and stale rows one statement each, in order, then
// the run's edges in at most three statements, by what changed (the cheapest shape for each,
// measured by `ssp-bench shapes`, see BENCHMARKS.md "Edge statement shapes"):
//
//	DELETE $d RETURN NONE;                                   -- edges gone: their ids
//	FOR $e IN $u { UPDATE $e.id SET version = $e.v … };      -- only the version changed
//	INSERT INTO <table> $r ON DUPLICATE KEY UPDATE …;        -- new rows, and any other change
//
// Each edge item's kind of change comes from classify (changeOf). tag makes the run's
// variable names unique within the transaction.
func (w *Writer) writeRun(b *strings.Builder, vars map[string]any, tag string, items []item) {
	// Rows from the front, gone ones from the back of one list; version-only updates in
	// their own.
	edges := make([]*edgeKey, len(items))
	var versions []*edgeKey
	nRows, nGone := 0, 0
	for i, it := range items {
		switch {
		case it.removal != "":
			n := tag + "_" + strconv.Itoa(i)
			vars["v"+n] = QueryRecord(it.removal)
			b.WriteString("DELETE type::table($tb) WHERE in = $v" + n + " RETURN NONE;\n")
		case it.edge == nil:
			n := tag + "_" + strconv.Itoa(i)
			vars["v"+n] = it.stale.id
			b.WriteString("DELETE $v" + n + " RETURN NONE;\n")
		default:
			switch it.change {
			case changeGone:
				nGone++
				edges[len(edges)-nGone] = it.edge
			case changeVersion:
				versions = append(versions, it.edge)
			default:
				edges[nRows] = it.edge
				nRows++
			}
		}
	}
	if nGone > 0 {
		vars["d"+tag] = edgeRows{w: w, edges: edges[len(edges)-nGone:], kind: changeGone}
		b.WriteString("DELETE $d" + tag + " RETURN NONE;\n")
	}
	if len(versions) > 0 {
		vars["u"+tag] = edgeRows{w: w, edges: versions, kind: changeVersion}
		b.WriteString("FOR $e IN $u" + tag + " { UPDATE $e.id SET version = $e.v RETURN NONE; };\n")
	}
	if nRows > 0 {
		vars["r"+tag] = edgeRows{w: w, edges: edges[:nRows], kind: changeRow}
		b.WriteString("INSERT INTO " + w.table + " $r" + tag + upsertTail)
	}
}

// edgeChange is how a queued edge's write is made.
type edgeChange uint8

const (
	changeRow     edgeChange = iota // the whole row (a new edge, or more than its version changed)
	changeVersion                   // only the version of a row the database holds
	changeGone                      // the edge is gone: its id
)

// fencedViews returns the guarded views whose `_00_query` records came back in the guarded
// transaction's list of fenced views (see buildTx), sorted. No write returns such a list: they
// all say RETURN NONE.
func fencedViews(rs []conn.Result, guarded map[string]bool) []string {
	if len(guarded) == 0 {
		return nil
	}
	var out []string
	for _, r := range rs {
		for _, id := range r.Value.Elems() {
			if id.Kind() != value.KindRecord || id.Table() != QueryTable {
				continue
			}
			if v := recordKeyText(id.Key()); guarded[v] {
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out
}

// edgeID is the deterministic id of an edge.
func (w *Writer) edgeID(view string, p engine.MemberKey) value.Value {
	return value.Record(w.table, value.Array([]value.Value{
		value.String(view), value.String(p.Parent), value.String(p.Rel), value.String(p.Key),
	}))
}

// edgeRowWithID returns the row edge k must hold now, its id included, or false when the
// member is gone. It leaves updatedAt out: every list_ref table defines it as
// `VALUE time::now()`, and Sp00ky's CLI schema makes it READONLY, where SurrealDB rejects any
// write that sets it explicitly to a new value ("Found changed value for field `updatedAt` …
// but field is readonly").
func (w *Writer) edgeRowWithID(k edgeKey, id value.Value) (value.Value, bool) {
	vs := w.views[k.view]
	if vs == nil {
		return value.Value{}, false
	}
	return w.rowOf(vs, k, id)
}

// rowOf returns the row of edge k of the view whose state is vs — with the id field when id
// is not NONE — or false when the member is not in vs.
func (w *Writer) rowOf(vs *viewState, k edgeKey, id value.Value) (value.Value, bool) {
	m, ok := vs.members[k.MemberKey]
	if !ok {
		return value.Value{}, false
	}
	fs := make([]value.Field, 0, 8)
	if !id.IsNone() {
		fs = append(fs, value.Field{Key: "id", Val: id})
	}
	fs = append(fs,
		value.Field{Key: "in", Val: QueryRecord(k.view)},
		value.Field{Key: "out", Val: m.out},
		value.Field{Key: "version", Val: value.Int(m.version)},
		value.Field{Key: "clientId", Val: value.String(vs.clientID)},
		value.Field{Key: "auth_id", Val: value.String(vs.authID)},
	)
	if k.Parent != "" {
		ps := vs.parentSlot(k.Parent)
		fs = append(fs,
			value.Field{Key: "parent", Val: w.edgeID(k.view, engine.MemberKey{Parent: ps.parent, Rel: ps.rel, Key: k.Parent})},
			value.Field{Key: "parent_rel", Val: value.String(k.Rel)})
	}
	return value.ObjectOf(fs), true
}

// sortedViews returns the keys of the mirrored views, sorted.
func (w *Writer) sortedViews() []string {
	out := make([]string, 0, len(w.views))
	for v := range w.views {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
