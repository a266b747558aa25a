package difftest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/ingest"
	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/schema"
	"github.com/sp00ky/ssp/surreal/value"
)

// Engine is what the test drives: the SSP's incremental engine (surreal/engine), or a stand-in.
type Engine interface {
	Register(id, surql string, params value.Value) ([]engine.Member, error)
	Apply(c engine.Change) ([]engine.Delta, error)
	Members(id string) ([]engine.Member, bool)
	// SetSchema gives the engine a table's field types as the SSP reads them from SurrealDB
	// (package schema), before any change.
	SetSchema(table string, t schema.Table) error
}

// SSPEngine is the SSP's engine behind the Engine interface.
type SSPEngine struct{ *engine.Engine }

// NewSSPEngine returns a fresh SSP engine.
func NewSSPEngine() (Engine, error) { return SSPEngine{engine.New(engine.Options{})}, nil }

// SetSchema sets the hint and applies the changes that re-resolve the stored rows.
func (e SSPEngine) SetSchema(table string, t schema.Table) error {
	for _, c := range e.Engine.SetSchema(table, t) {
		if _, err := e.Apply(c); err != nil {
			return err
		}
	}
	return nil
}

// Options configures a Runner.
type Options struct {
	// DB is a connection to SurrealDB signed in with rights to create namespaces; every run and
	// every shrinking attempt uses a fresh namespace of its own (removed afterwards).
	DB *surrealdb.DB
	// NewEngine returns a fresh engine.
	NewEngine func() (Engine, error)
	// ParseIngest decodes an /ingest body (default: ingest.Decode, the SSP's own decoder).
	ParseIngest func(body []byte) (ingest.Body, error)
	// Views is the corpus (default: Corpus()).
	Views []View
	// ShrinkBudget bounds the time spent shrinking one mismatch (default 90 s).
	ShrinkBudget time.Duration
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

// Runner runs seeded differential workloads.
type Runner struct {
	opts  Options
	views []*compiled
	nsSeq int
}

// NewRunner parses the corpus and returns a runner.
func NewRunner(opts Options) (*Runner, error) {
	if opts.DB == nil || opts.NewEngine == nil {
		return nil, errors.New("difftest: Options.DB and Options.NewEngine are required")
	}
	if opts.ParseIngest == nil {
		opts.ParseIngest = ingest.Decode
	}
	if opts.Views == nil {
		opts.Views = Corpus()
	}
	if opts.ShrinkBudget <= 0 {
		opts.ShrinkBudget = 90 * time.Second
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	r := &Runner{opts: opts}
	seen := map[string]bool{}
	for i, v := range opts.Views {
		if seen[v.ID] {
			return nil, fmt.Errorf("difftest: duplicate view id %q", v.ID)
		}
		seen[v.ID] = true
		c, err := compile(i, v)
		if err != nil {
			return nil, err
		}
		r.views = append(r.views, c)
	}
	return r, nil
}

// Event is one entry of a workload script: a view registration (Register ≥ 0, an index into the
// views) or a write.
type Event struct {
	Register int
	Write    Write
}

// Mismatch is a step after which a view's membership on SurrealDB differs from the engine's.
type Mismatch struct {
	Seed   uint64
	Step   int // index of the event after which the memberships differ
	View   View
	Oracle []engine.Member // from SurrealDB (versions NoVersion where the result has none)
	Engine []engine.Member
	Diff   []string
	// Script is the events up to and including Step (the view registrations among them).
	Script []Event
}

// RegistrationError is a corpus view the engine refused.
type RegistrationError struct {
	View View
	Err  error
}

// Report is the outcome of one seed.
type Report struct {
	Seed       uint64
	Steps      int
	Mismatches []Mismatch // the first difference of each view that differed (not checked after it)
	Rejected   []RegistrationError
	Elapsed    time.Duration
	// Changes counts, per view, the checks at which its SurrealDB membership differed from the
	// previous check, and MaxSize its largest membership: a view that never changes tests little.
	Changes map[string]int
	MaxSize map[string]int
}

// Schedule returns the script for seed: steps writes from the generator, with each view
// registered either before the first write or, for about a third of them, after some data
// exists (so both the initial computation and the incremental path are checked).
func (r *Runner) Schedule(seed uint64, steps int) []Event {
	gen := NewGenerator(seed)
	rng := rand.New(rand.NewPCG(seed^0x5eed, seed))
	at := make([]int, len(r.views))
	late := steps / 10
	if late < 1 {
		late = 1
	}
	for i := range at {
		if rng.IntN(3) == 0 {
			at[i] = 1 + rng.IntN(late)
		}
	}
	var evs []Event
	for s := 0; s < steps; s++ {
		for i, a := range at {
			if a == s {
				evs = append(evs, Event{Register: i})
			}
		}
		evs = append(evs, Event{Register: -1, Write: gen.Next()})
	}
	return evs
}

// session is one replay of a script against a fresh namespace and a fresh engine.
type session struct {
	r      *Runner
	db     *surrealdb.DB
	eng    Engine
	ns     string
	rows   map[string]value.Value // stored rows by record id, as read back
	schema map[string]schema.Table
	active []*compiled
	// batches holds, per written table, the batch of the active views that read it ("" for all
	// active views); cache holds each view's last membership read off SurrealDB.
	batches map[string]*batch
	cache   map[string]Membership
}

func (r *Runner) newSession(ctx context.Context) (*session, error) {
	r.nsSeq++
	ns := fmt.Sprintf("difftest_%d_%d", time.Now().UnixNano(), r.nsSeq)
	if err := r.opts.DB.Use(ctx, ns, "app"); err != nil {
		return nil, fmt.Errorf("use namespace %s: %w", ns, err)
	}
	if err := defineTables(ctx, r.opts.DB); err != nil {
		return nil, err
	}
	eng, err := r.opts.NewEngine()
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	// The field types, read from SurrealDB as the SSP's bootstrap reads them.
	hints, err := loader.New(dbSource{r.opts.DB}).Schemas(ctx, Tables)
	if err != nil {
		return nil, err
	}
	for _, t := range sortedKeys(hints) {
		if err := eng.SetSchema(t, hints[t]); err != nil {
			return nil, fmt.Errorf("engine: schema of %s: %w", t, err)
		}
	}
	s := &session{r: r, db: r.opts.DB, eng: eng, ns: ns, rows: map[string]value.Value{}, schema: hints, cache: map[string]Membership{}}
	s.setActive(nil)
	return s, nil
}

func (s *session) close(ctx context.Context) {
	// Best effort: the namespace only holds test data.
	_, _ = surrealdb.Query[any](ctx, s.db, "REMOVE NAMESPACE IF EXISTS "+s.ns+";", nil)
}

// register registers view c with the engine and adds it to the checked views.
func (s *session) register(c *compiled) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("engine panicked: %v", p)
		}
	}()
	if _, err := s.eng.Register(c.ID, c.SurQL, c.Params); err != nil {
		return err
	}
	s.setActive(append(s.active, c))
	return nil
}

// setActive sets the checked views and rebuilds the batches.
func (s *session) setActive(views []*compiled) {
	s.active = views
	s.batches = map[string]*batch{"": newBatch(views)}
	for _, t := range Tables {
		var reading []*compiled
		for _, c := range views {
			if c.deps[t] {
				reading = append(reading, c)
			}
		}
		s.batches[t] = newBatch(reading)
	}
}

// apply runs write w on SurrealDB (nil: none), feeds the engine the resulting change and returns
// every active view's membership on both sides.
func (s *session) apply(ctx context.Context, w *Write) (ingest []byte, oracle, got []Membership, err error) {
	// Only the views that read the written table are run on SurrealDB; the others' answers cannot
	// have changed (all of them run after a registration, when w is nil).
	b := s.batches[""]
	if w != nil {
		if tb, ok := s.batches[w.Table]; ok {
			b = tb
		}
	}
	res, err := runStep(ctx, s.db, w, b)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, c := range b.views {
		o, err := FromResult(c.sel, res.views[i])
		if err != nil {
			return nil, nil, nil, fmt.Errorf("view %s: read SurrealDB's result: %w", c.ID, err)
		}
		s.cache[c.ID] = o
	}
	if w != nil {
		row, err := fromSurreal(res.row)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read back %s: %w", value.RecordString(w.ID), err)
		}
		if row.IsNull() {
			row = value.None()
		}
		rs := value.RecordString(w.ID)
		prev, ok := s.rows[rs]
		if !ok {
			prev = value.None()
		}
		in := ingestFor(*w, prev, row)
		if row.IsNone() {
			delete(s.rows, rs)
		} else {
			s.rows[rs] = row
		}
		ingest = in.JSON()
		if err := s.feed(ingest); err != nil {
			return ingest, nil, nil, err
		}
	}
	for _, c := range s.active {
		o, ok := s.cache[c.ID]
		if !ok {
			return ingest, nil, nil, fmt.Errorf("view %s: no answer from SurrealDB yet", c.ID)
		}
		ms, ok := s.members(c.ID)
		if !ok {
			return ingest, nil, nil, fmt.Errorf("view %s: engine does not know the view", c.ID)
		}
		oracle = append(oracle, o)
		got = append(got, FromEngine(ms))
	}
	return ingest, oracle, got, nil
}

func (s *session) feed(body []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("engine panicked on ingest %s: %v", body, p)
		}
	}()
	in, err := s.r.opts.ParseIngest(body)
	if err != nil {
		return fmt.Errorf("ingest %s rejected: %w", body, err)
	}
	if _, err := s.eng.Apply(in.Change); err != nil {
		return fmt.Errorf("engine: apply %s: %w", body, err)
	}
	return nil
}

func (s *session) members(id string) (ms []engine.Member, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ms, ok = nil, false
		}
	}()
	return s.eng.Members(id)
}

// Run replays the script of seed with steps writes and checks every registered view after every
// event. A view that differs is reported once and not checked any more; the others go on.
func (r *Runner) Run(ctx context.Context, seed uint64, steps int) (*Report, error) {
	start := time.Now()
	rep := &Report{Seed: seed, Changes: map[string]int{}, MaxSize: map[string]int{}}
	last := map[string]Membership{}
	script := r.Schedule(seed, steps)
	s, err := r.newSession(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	for i, ev := range script {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		var w *Write
		if ev.Register >= 0 {
			c := r.views[ev.Register]
			if err := s.register(c); err != nil {
				rep.Rejected = append(rep.Rejected, RegistrationError{View: c.View, Err: err})
				continue
			}
		} else {
			w = &script[i].Write
			rep.Steps++
		}
		_, oracle, got, err := s.apply(ctx, w)
		if err != nil {
			return rep, fmt.Errorf("seed %d, event %d: %w", seed, i, err)
		}
		var still []*compiled
		for j, c := range s.active {
			if prev, ok := last[c.ID]; ok && len(Diff(prev, oracle[j])) > 0 {
				rep.Changes[c.ID]++
			}
			last[c.ID] = oracle[j]
			rep.MaxSize[c.ID] = max(rep.MaxSize[c.ID], len(oracle[j]))
			d := Diff(oracle[j], got[j])
			if len(d) == 0 {
				still = append(still, c)
				continue
			}
			rep.Mismatches = append(rep.Mismatches, Mismatch{
				Seed: seed, Step: i, View: c.View,
				Oracle: oracle[j].Sorted(), Engine: got[j].Sorted(), Diff: d,
				Script: script[:i+1],
			})
		}
		if len(still) < len(s.active) {
			// A view that differed once is not checked again: its later state is tainted.
			s.setActive(still)
		}
		if i > 0 && i%500 == 0 {
			r.opts.Logf("seed %d: %d events checked (%s)", seed, i, time.Since(start).Round(time.Millisecond))
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// schemaDDL types some fields of the schemaless tables (gen.go): user.handle and user.aliases
// hold text that often spells a record id, thread.owner holds record links. Others stay
// untyped, comment.note among them (text that spells record ids, where the SSP cannot know).
const schemaDDL = `DEFINE FIELD IF NOT EXISTS handle ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS aliases ON user TYPE option<array<string>>;
DEFINE FIELD IF NOT EXISTS owner ON thread TYPE option<record<user>>;
`

// defineTables defines the workload's tables and typed fields in the connection's namespace and
// database: SurrealDB 3 rejects a SELECT from a table that does not exist.
func defineTables(ctx context.Context, db *surrealdb.DB) error {
	var sb strings.Builder
	for _, t := range Tables {
		fmt.Fprintf(&sb, "DEFINE TABLE IF NOT EXISTS %s SCHEMALESS;\n", t)
	}
	sb.WriteString(schemaDDL)
	if _, err := surrealdb.Query[any](ctx, db, sb.String(), nil); err != nil {
		return fmt.Errorf("define tables: %w", err)
	}
	return nil
}

// dbSource is a loader.Source on the test's SurrealDB connection.
type dbSource struct{ db *surrealdb.DB }

// QueryValue runs one statement with its variables and returns its result.
func (s dbSource) QueryValue(ctx context.Context, q string, vars map[string]value.Value) (value.Value, error) {
	bound := make(map[string]any, len(vars))
	for k, v := range vars {
		x, err := toSurreal(v)
		if err != nil {
			return value.Value{}, err
		}
		bound[k] = x
	}
	res, err := surrealdb.Query[any](ctx, s.db, q, bound)
	if err != nil {
		return value.Value{}, fmt.Errorf("%s: %w", q, err)
	}
	rs := *res
	if len(rs) == 0 {
		return value.Value{}, fmt.Errorf("%s: no result", q)
	}
	if e := rs[len(rs)-1].Error; e != nil {
		return value.Value{}, fmt.Errorf("%s: %w", q, e)
	}
	return fromSurreal(rs[len(rs)-1].Result)
}
