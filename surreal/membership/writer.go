package membership

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// Querier runs SurrealQL with bound variables; *conn.Conn is one. Values of type value.Value
// in vars must be accepted (conn converts them with conn.ToDB).
type Querier interface {
	Query(ctx context.Context, surql string, vars map[string]any) ([]conn.Result, error)
}

// ViewDelta is one step's membership change of one view, with where its edges go.
type ViewDelta struct {
	// ViewKey is the view key (the `_00_query` row is `_00_query:<ViewKey>`).
	ViewKey string
	// Table is the view's list_ref table (TableFor).
	Table string
	// ClientID and AuthID are written on the view's edges.
	ClientID, AuthID string
	// Delta is the change; its View field is not used.
	Delta engine.Delta
}

// ViewMembership is a view's complete membership, for Reconcile.
type ViewMembership struct {
	ClientID, AuthID string
	Members          []engine.Member
}

// WriterOptions tunes a Writer. The zero value is ready to use.
type WriterOptions struct {
	// MaxStatements caps the statements of one transaction (default 500); a flush with more
	// runs several transactions in order.
	MaxStatements int
	// MaxAttempts bounds the tries of one transaction within one flush (default 5). A
	// transaction still failing then is kept and retried by the next flush.
	MaxAttempts int
	// BaseBackoff is the wait after the first failed attempt (default 20ms); it doubles up to
	// MaxBackoff (default 1s).
	BaseBackoff, MaxBackoff time.Duration
	// PageSize is the number of edges Reconcile reads per query (default 1000).
	PageSize int
	// Parallel is the number of transactions one flush of a table may run at once (default
	// 1). A flush of more than ParallelMin writes is split by view into up to Parallel
	// groups, each written in its own transactions, concurrently; the writes of one view stay
	// in one group, in order. A single table's edges can then use more than one of the
	// database's threads.
	Parallel int
	// ParallelMin is the smallest flush that is split (default 64 writes): smaller ones are
	// one transaction, which is cheaper.
	ParallelMin int
	// Log receives failures (logrus' standard logger if nil).
	Log logrus.FieldLogger
}

func (o *WriterOptions) fill() {
	if o.MaxStatements <= 0 {
		o.MaxStatements = 500
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 20 * time.Millisecond
	}
	if o.MaxBackoff < o.BaseBackoff {
		o.MaxBackoff = max(time.Second, o.BaseBackoff)
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
	// FailedAttempts counts failed transaction attempts; FailedFlushes counts flushes that
	// ended with writes kept for a later flush.
	FailedAttempts, FailedFlushes int64
	// InvalidMembers counts members skipped because their key is not a record id.
	InvalidMembers int64
	// Pending is the number of edge writes waiting for a flush now.
	Pending int
}

// Writer keeps the edge rows of the list_ref tables equal to the views' membership (SPEC §2.3).
//
// It mirrors every view's membership as received and writes, for every edge touched since the
// last successful write, the edge's latest state: UPSERT by id when the member is present,
// DELETE by id when it is not. Edge ids are deterministic — `<table>:[view, parent, rel, key]`
// (parent and rel empty for top-level members) — so retries and replays never duplicate a row,
// several changes of one edge within a flush collapse into one write, and a write can never
// be overtaken by an older one. Each flush writes one transaction per table (more when a table
// has more than MaxStatements writes, in order). A failed transaction is retried with backoff;
// if it still fails its writes stay pending and the next flush (ApplyDeltas or Flush) retries
// them — nothing is dropped.
//
// Subquery members carry `parent` (the id of their parent record's edge, see parentSlot for
// the rule when the parent record appears several times) and `parent_rel` (the alias).
//
// Methods are safe for concurrent use; edge writes are serialized (feed ApplyDeltas in step
// order).
type Writer struct {
	q    Querier
	opts WriterOptions

	mu    sync.Mutex
	views map[viewRef]*viewState
	queue map[string]*tableQueue // per table

	ddlMu   sync.Mutex               // guards defined (not the DDL itself)
	defined map[string]*userDDLState // per uid

	transactions, statements, failedAttempts, failedFlushes, invalid atomic.Int64

	// fault, if set (tests), makes the transaction attempt fail when it returns true.
	fault func(table string, attempt int) bool
}

// NewWriter returns a Writer writing through q.
func NewWriter(q Querier, opts WriterOptions) *Writer {
	opts.fill()
	return &Writer{
		q:       q,
		opts:    opts,
		views:   map[viewRef]*viewState{},
		queue:   map[string]*tableQueue{},
		defined: map[string]*userDDLState{},
	}
}

// edgeKey identifies one edge within its table.
type edgeKey struct {
	view string
	pos
}

// tableQueue holds a table's pending writes: whole-view removals, stale edge ids found by
// Reconcile, and touched edges, each in the order they were queued.
type tableQueue struct {
	removals []string
	stale    []value.Value
	edges    []edgeKey
	queued   map[edgeKey]struct{}
}

func (q *tableQueue) len() int { return len(q.removals) + len(q.stale) + len(q.edges) }

func (w *Writer) tq(table string) *tableQueue {
	q := w.queue[table]
	if q == nil {
		q = &tableQueue{queued: map[edgeKey]struct{}{}}
		w.queue[table] = q
	}
	return q
}

func (w *Writer) touch(table, view string, p pos) {
	q := w.tq(table)
	k := edgeKey{view, p}
	if _, ok := q.queued[k]; ok {
		return
	}
	q.queued[k] = struct{}{}
	q.edges = append(q.edges, k)
}

// dropQueued forgets the pending edge writes of one view (or of every view when view is "").
func (w *Writer) dropQueued(table, view string) {
	q := w.queue[table]
	if q == nil {
		return
	}
	kept := q.edges[:0]
	for _, k := range q.edges {
		if view == "" || k.view == view {
			delete(q.queued, k)
			continue
		}
		kept = append(kept, k)
	}
	q.edges = kept
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	pending := 0
	for _, q := range w.queue {
		pending += q.len()
	}
	w.mu.Unlock()
	return WriterStats{
		Transactions:   w.transactions.Load(),
		Statements:     w.statements.Load(),
		FailedAttempts: w.failedAttempts.Load(),
		FailedFlushes:  w.failedFlushes.Load(),
		InvalidMembers: w.invalid.Load(),
		Pending:        pending,
	}
}

// ApplyDeltas records batch (in order) and flushes every pending edge write. The error
// reports writes that could not be made even after retries; they stay pending and are
// retried by the next ApplyDeltas or Flush.
func (w *Writer) ApplyDeltas(ctx context.Context, batch []ViewDelta) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range batch {
		w.applyLocked(&batch[i])
	}
	return w.flushLocked(ctx)
}

func (w *Writer) applyLocked(d *ViewDelta) {
	if !ValidTableName(d.Table) || d.ViewKey == "" {
		n := len(d.Delta.Added) + len(d.Delta.Removed) + len(d.Delta.Updated)
		w.invalid.Add(int64(n))
		w.opts.Log.WithFields(logrus.Fields{"view": d.ViewKey, "table": d.Table, "members": n}).
			Error("view delta skipped: empty view key or invalid list_ref table name")
		return
	}
	ref := viewRef{d.Table, d.ViewKey}
	vs := w.views[ref]
	if vs == nil {
		vs = newViewState()
		w.views[ref] = vs
	}
	vs.clientID, vs.authID = d.ClientID, d.AuthID
	for _, m := range d.Delta.Removed {
		p := pos{m.Parent, m.Rel, m.Key}
		w.touchAll(d.Table, d.ViewKey, vs.remove(p))
		w.touch(d.Table, d.ViewKey, p)
	}
	for _, list := range [][]engine.Member{d.Delta.Added, d.Delta.Updated} {
		for _, m := range list {
			w.setLocked(d.Table, d.ViewKey, vs, m)
		}
	}
	if len(vs.members) == 0 {
		delete(w.views, ref)
	}
}

func (w *Writer) setLocked(table, view string, vs *viewState, m engine.Member) {
	out, err := parseRecord(m.Key)
	if err == nil && m.Parent != "" {
		_, err = parseRecord(m.Parent)
	}
	if err != nil {
		w.invalid.Add(1)
		w.opts.Log.WithFields(logrus.Fields{"view": view, "table": table, "member": m.Key, "parent": m.Parent}).
			WithError(err).Error("edge skipped: member is not a record id")
		return
	}
	version := m.Version
	if version <= 0 {
		version = 1
	}
	p := pos{m.Parent, m.Rel, m.Key}
	w.touchAll(table, view, vs.set(p, member{version: version, out: out}))
	w.touch(table, view, p)
}

func (w *Writer) touchAll(table, view string, ps []pos) {
	for _, p := range ps {
		w.touch(table, view, p)
	}
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
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked(ctx)
}

// RemoveView forgets a view's edges in table and deletes them all from the database (after
// any write of that table still pending). On failure the deletion stays pending like any edge
// write.
func (w *Writer) RemoveView(ctx context.Context, table, viewKey string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.views, viewRef{table, viewKey})
	w.dropQueued(table, viewKey)
	q := w.tq(table)
	q.removals = append(q.removals, viewKey)
	return w.flushLocked(ctx)
}

func (w *Writer) flushLocked(ctx context.Context) error {
	tables := make([]string, 0, len(w.queue))
	for t, q := range w.queue {
		if q.len() > 0 {
			tables = append(tables, t)
		}
	}
	sort.Strings(tables)
	var errs []error
	for _, t := range tables {
		if err := w.flushTable(ctx, t); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		w.failedFlushes.Add(1)
	}
	return errors.Join(errs...)
}

// item is one pending write of a table.
type item struct {
	removal string      // a view whose edges all go
	stale   value.Value // an edge id to delete
	edge    *edgeKey
}

func (w *Writer) flushTable(ctx context.Context, table string) error {
	q := w.queue[table]
	items := make([]item, 0, q.len())
	for _, v := range q.removals {
		items = append(items, item{removal: v})
	}
	for _, id := range q.stale {
		items = append(items, item{stale: id})
	}
	for i := range q.edges {
		items = append(items, item{edge: &q.edges[i]})
	}
	groups := w.split(items)
	done := make([]int, len(groups)) // items written, from the front of each group
	errs := make([]error, len(groups))
	write := func(g int) {
		part := groups[g]
		for done[g] < len(part) {
			n := min(w.opts.MaxStatements, len(part)-done[g])
			if errs[g] = w.commit(ctx, table, part[done[g]:done[g]+n]); errs[g] != nil {
				return
			}
			done[g] += n
		}
	}
	if len(groups) == 1 {
		write(0)
	} else {
		// The groups only read the writer's state (w.mu is held) and write disjoint edges.
		var wg sync.WaitGroup
		for g := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				write(g)
			}()
		}
		wg.Wait()
	}
	// Drop what was written; keep the rest in order.
	nq := &tableQueue{queued: map[edgeKey]struct{}{}}
	for g, part := range groups {
		for _, it := range part[done[g]:] {
			switch {
			case it.edge != nil:
				nq.edges = append(nq.edges, *it.edge)
				nq.queued[*it.edge] = struct{}{}
			case it.removal != "":
				nq.removals = append(nq.removals, it.removal)
			default:
				nq.stale = append(nq.stale, it.stale)
			}
		}
	}
	if nq.len() == 0 {
		delete(w.queue, table)
	} else {
		w.queue[table] = nq
	}
	if err := errors.Join(errs...); err != nil {
		w.opts.Log.WithFields(logrus.Fields{"table": table, "pending": nq.len(), "attempts": w.opts.MaxAttempts}).
			WithError(err).Error("edge writes failed; kept for the next flush")
		return fmt.Errorf("write edges of %s (%d writes kept for retry): %w", table, nq.len(), err)
	}
	return nil
}

// split divides a flush's items into the groups written concurrently (WriterOptions.Parallel):
// by view, so that each view's writes stay in one group in their order; stale ids (which
// belong to no known view) go to the first group. A small flush is one group.
func (w *Writer) split(items []item) [][]item {
	p := w.opts.Parallel
	if p <= 1 || len(items) < w.opts.ParallelMin {
		return [][]item{items}
	}
	groups := make([][]item, p)
	for _, it := range items {
		g := 0
		switch {
		case it.edge != nil:
			g = viewGroup(it.edge.view, p)
		case it.removal != "":
			g = viewGroup(it.removal, p)
		}
		groups[g] = append(groups[g], it)
	}
	out := groups[:0]
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

// commit writes items as one transaction, retrying with backoff.
func (w *Writer) commit(ctx context.Context, table string, items []item) error {
	surql, vars := w.buildTx(table, items)
	var err error
	for attempt := 1; ; attempt++ {
		q := surql
		if w.fault != nil && w.fault(table, attempt) {
			q = strings.Replace(q, "COMMIT TRANSACTION;", "THROW 'injected fault';\nCOMMIT TRANSACTION;", 1)
		}
		var rs []conn.Result
		rs, err = w.q.Query(ctx, q, vars)
		if err == nil {
			err = conn.StatementErr(rs)
		}
		if err == nil {
			w.transactions.Add(1)
			w.statements.Add(int64(len(items)))
			return nil
		}
		w.failedAttempts.Add(1)
		if attempt >= w.opts.MaxAttempts || ctx.Err() != nil {
			return err
		}
		w.opts.Log.WithFields(logrus.Fields{"table": table, "statements": len(items), "attempt": attempt}).
			WithError(err).Warn("edge transaction failed, retrying")
		if werr := conn.Sleep(ctx, conn.Backoff(w.opts.BaseBackoff, w.opts.MaxBackoff, attempt)); werr != nil {
			return fmt.Errorf("%w (last error: %v)", werr, err)
		}
	}
}

// buildTx renders items as one transaction; every id and value is a variable.
func (w *Writer) buildTx(table string, items []item) (string, map[string]any) {
	var b strings.Builder
	vars := map[string]any{"tb": table}
	b.WriteString("BEGIN TRANSACTION;\n")
	for i, it := range items {
		n := strconv.Itoa(i)
		switch {
		case it.removal != "":
			vars["v"+n] = QueryRecord(it.removal)
			b.WriteString("DELETE type::table($tb) WHERE in = $v" + n + " RETURN NONE;\n")
		case it.edge == nil:
			vars["v"+n] = it.stale
			b.WriteString("DELETE $v" + n + " RETURN NONE;\n")
		default:
			k := *it.edge
			vars["v"+n] = edgeID(table, k.view, k.pos)
			row, ok := w.edgeRow(table, k)
			if !ok {
				b.WriteString("DELETE $v" + n + " RETURN NONE;\n")
				continue
			}
			vars["c"+n] = row
			b.WriteString("UPSERT $v" + n + " CONTENT $c" + n + " RETURN NONE;\n")
		}
	}
	b.WriteString("COMMIT TRANSACTION;")
	return b.String(), vars
}

// edgeID is the deterministic id of an edge.
func edgeID(table, view string, p pos) value.Value {
	return value.Record(table, value.Array([]value.Value{
		value.String(view), value.String(p.parent), value.String(p.rel), value.String(p.key),
	}))
}

// edgeRow returns the row edge k must hold now, or false when the member is gone. It leaves
// updatedAt out: every list_ref table defines it as `VALUE time::now()`, and Sp00ky's CLI schema
// makes it READONLY, where SurrealDB rejects any write that sets it explicitly to a new value
// ("Found changed value for field `updatedAt` … but field is readonly").
func (w *Writer) edgeRow(table string, k edgeKey) (value.Value, bool) {
	vs := w.views[viewRef{table, k.view}]
	if vs == nil {
		return value.Value{}, false
	}
	m, ok := vs.members[k.pos]
	if !ok {
		return value.Value{}, false
	}
	fs := []value.Field{
		{Key: "in", Val: QueryRecord(k.view)},
		{Key: "out", Val: m.out},
		{Key: "version", Val: value.Int(m.version)},
		{Key: "clientId", Val: value.String(vs.clientID)},
		{Key: "auth_id", Val: value.String(vs.authID)},
	}
	if k.parent != "" {
		ps := vs.parentSlot(k.parent)
		fs = append(fs,
			value.Field{Key: "parent", Val: edgeID(table, k.view, pos{ps.parent, ps.rel, k.parent})},
			value.Field{Key: "parent_rel", Val: value.String(k.rel)})
	}
	return value.ObjectOf(fs), true
}
