package difftest

import (
	"math/rand/v2"
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

// Op is the kind of a workload write.
type Op uint8

// The workload writes. Create and Update are both `UPSERT … CONTENT` (a full replace); Merge is
// `UPSERT … MERGE`; Delete is `DELETE` (possibly of an id that does not exist).
const (
	OpCreate Op = iota + 1
	OpUpdate
	OpMerge
	OpDelete
)

// String names the op as /ingest does.
func (o Op) String() string {
	switch o {
	case OpCreate:
		return "CREATE"
	case OpUpdate:
		return "UPDATE"
	case OpMerge:
		return "MERGE"
	case OpDelete:
		return "DELETE"
	}
	return "?"
}

// Write is one row write of the workload, fully materialised so that it can be replayed on a
// fresh database (the shrinker re-runs subsets of them).
type Write struct {
	Op      Op
	Table   string
	ID      value.Value // a record id of Table
	Content value.Value // the full row (Create/Update) or the merged fields (Merge), without `id`
	// AsUpdate makes a Merge reach the engine as an UPDATE of the full stored row instead of a
	// MERGE of the changed top-level fields.
	AsUpdate bool
}

// The schema. Value domains are deliberately tiny so that equality hits, ties in ORDER BY and
// LIMIT window boundaries happen all the time, and id pools mix integer and string keys (integer
// keys sort numerically and before string keys; `user:10` and `user:⟨10⟩` are different rows).
var (
	userKeys    = []value.Value{value.Int(1), value.Int(2), value.Int(3), value.Int(10), value.Int(11), value.String("ann"), value.String("bob"), value.String("10")}
	threadKeys  = []value.Value{value.Int(1), value.Int(2), value.Int(3), value.Int(4), value.Int(5), value.Int(10), value.Int(12), value.String("ta"), value.String("tb")}
	commentKeys = []value.Value{value.Int(1), value.Int(2), value.Int(3), value.Int(4), value.Int(5), value.Int(6), value.Int(7), value.Int(8), value.Int(9), value.Int(20), value.String("ca"), value.String("cb"), value.String("c_x")}

	// ghostUsers are link targets that the workload never creates (dangling links).
	ghostUsers = []value.Value{value.Int(99), value.String("ghost")}

	names = []string{"ann", "bob", "cid", "dee", "Ann"}
	// handles, aliases and notes are text that mostly spells record ids (user.handle and
	// user.aliases are typed string, comment.note is untyped: see schemaDDL).
	handles = []string{"user:1", "user:ann", "user:`10`", "thread:2", "ann", "user:10"}
	aliases = []string{"user:1", "thread:ta", "x"}
	notes   = []string{"thread:1", "thread:ta", "user:1", "plain"}
	titles  = []string{"hello", "Hello", "intro", "news", "item9", "item10"}
	bodies  = []string{"nice", "meh", "lol"}
	langs   = []string{"go", "rust", "js"}
	flags   = []string{"hot", "new"}
	cities  = []string{"oslo", "rome"}
	instant = []time.Time{
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 1, 2, 12, 30, 0, 0, time.UTC),
		time.Date(2024, 1, 3, 0, 0, 0, 500_000_000, time.UTC),
		time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC),
	}
)

// Tables lists the workload's tables.
var Tables = []string{"user", "thread", "comment"}

// textFields are the untyped fields that hold text (the SSP reads their record-like strings as
// spelled records; the mirror stores them as text, as SurrealDB does).
var textFields = map[string][]string{"comment": {"note"}}

// typed reports whether a field has a type that rejects NULL (see schemaDDL).
func typed(table, f string) bool {
	switch table + "." + f {
	case "user.handle", "user.aliases", "thread.owner":
		return true
	}
	return false
}

func keysOf(table string) []value.Value {
	switch table {
	case "user":
		return userKeys
	case "thread":
		return threadKeys
	}
	return commentKeys
}

// Generator produces a seeded random sequence of writes. It keeps its own notion of which rows
// exist (from the writes it generated) to prefer updates and deletes of existing rows.
type Generator struct {
	rng     *rand.Rand
	exists  map[string]bool        // RecordString → row exists
	version map[string]int64       // RecordString → last `_00_rv` written
	last    map[string]value.Value // RecordString → content of the last Create/Update
	lastW   *Write
}

// NewGenerator returns a generator for seed.
func NewGenerator(seed uint64) *Generator {
	return &Generator{
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		exists:  map[string]bool{},
		version: map[string]int64{},
		last:    map[string]value.Value{},
	}
}

func (g *Generator) pct(p int) bool { return g.rng.IntN(100) < p }

func pick[T any](g *Generator, xs []T) T { return xs[g.rng.IntN(len(xs))] }

// Next returns the next write.
func (g *Generator) Next() Write {
	table := pick(g, []string{"user", "thread", "thread", "comment", "comment", "comment"})
	keys := keysOf(table)
	var existing []value.Value
	for _, k := range keys {
		if g.exists[value.RecordString(value.Record(table, k))] {
			existing = append(existing, k)
		}
	}
	pickExisting := func() value.Value {
		if len(existing) > 0 && g.pct(85) {
			return pick(g, existing)
		}
		return pick(g, keys)
	}
	r := g.rng.IntN(100)
	var w Write
	switch {
	case r < 6 && g.lastW != nil && g.lastW.Op != OpDelete:
		// Replay the previous write verbatim: a repeated identical CREATE / MERGE.
		w = *g.lastW
		if w.Op == OpUpdate {
			w.Op = OpCreate
		}
	case r < 40:
		k := pick(g, keys)
		w = Write{Op: OpCreate, Table: table, ID: value.Record(table, k)}
		w.Content = g.row(table, w.ID, true)
	case r < 58:
		k := pickExisting()
		w = Write{Op: OpUpdate, Table: table, ID: value.Record(table, k)}
		w.Content = g.row(table, w.ID, true)
	case r < 68:
		// A small edit of the last full content: one field changes, the rest stays.
		k := pickExisting()
		id := value.Record(table, k)
		w = Write{Op: OpUpdate, Table: table, ID: id}
		base, ok := g.last[value.RecordString(id)]
		if !ok {
			base = g.row(table, id, false)
		}
		f := pick(g, fieldNames(table))
		w.Content = base.With(f, g.field(table, f))
		w.Content = w.Content.With("_00_rv", g.nextVersion(id))
	case r < 84:
		k := pickExisting()
		id := value.Record(table, k)
		w = Write{Op: OpMerge, Table: table, ID: id, AsUpdate: g.pct(40)}
		patch := value.ObjectOf(nil)
		for n := 1 + g.rng.IntN(2); n > 0; n-- {
			f := pick(g, fieldNames(table))
			patch = patch.With(f, g.mergeField(table, f))
		}
		if g.pct(60) {
			patch = patch.With("_00_rv", value.Int(g.bump(id)))
		}
		w.Content = patch
	default:
		k := pickExisting()
		if g.pct(15) && table == "user" {
			k = pick(g, ghostUsers)
		}
		w = Write{Op: OpDelete, Table: table, ID: value.Record(table, k), Content: value.None()}
	}
	rs := value.RecordString(w.ID)
	switch w.Op {
	case OpDelete:
		delete(g.exists, rs)
	case OpCreate, OpUpdate:
		g.exists[rs] = true
		g.last[rs] = w.Content
	case OpMerge:
		g.exists[rs] = true
	}
	cp := w
	g.lastW = &cp
	return w
}

// nextVersion picks the `_00_rv` of a full write: usually a bump, sometimes unchanged, sometimes
// absent (version 1 by default).
func (g *Generator) nextVersion(id value.Value) value.Value {
	switch r := g.rng.IntN(100); {
	case r < 70:
		return value.Int(g.bump(id))
	case r < 85:
		v := g.version[value.RecordString(id)]
		if v == 0 {
			return value.None()
		}
		return value.Int(v)
	}
	return value.None()
}

func (g *Generator) bump(id value.Value) int64 {
	rs := value.RecordString(id)
	g.version[rs]++
	return g.version[rs]
}

func fieldNames(table string) []string {
	switch table {
	case "user":
		return []string{"name", "age", "tags", "profile", "active", "joined", "handle", "aliases"}
	case "thread":
		return []string{"author", "title", "score", "tags", "meta", "created", "pinned", "owner"}
	}
	return []string{"thread", "author", "body", "score", "created", "parent", "note"}
}

// row generates a full row for id. With optional set, fields are sometimes left out.
func (g *Generator) row(table string, id value.Value, optional bool) value.Value {
	fs := []value.Field{}
	for _, f := range fieldNames(table) {
		if optional && g.pct(8) {
			continue // absent: NONE
		}
		v := g.field(table, f)
		if v.IsNone() {
			continue
		}
		fs = append(fs, value.Field{Key: f, Val: v})
	}
	row := value.ObjectOf(fs)
	if v := g.nextVersion(id); !v.IsNone() {
		row = row.With("_00_rv", v)
	}
	return row
}

// mergeField is a field value for a MERGE patch: a whole value, NULL, or (for the nested
// objects) a partial object that SurrealDB merges into the stored one.
func (g *Generator) mergeField(table, f string) value.Value {
	if g.pct(10) && !typed(table, f) {
		return value.Null()
	}
	if table == "thread" && f == "meta" && g.pct(50) {
		return value.ObjectOf([]value.Field{{Key: "views", Val: value.Int(int64(g.rng.IntN(4)))}})
	}
	if table == "user" && f == "profile" && g.pct(50) {
		return value.ObjectOf([]value.Field{{Key: "address", Val: g.address()}})
	}
	return g.field(table, f)
}

func (g *Generator) strs(from []string) value.Value {
	out := []value.Value{}
	for _, s := range from {
		if g.pct(40) {
			out = append(out, value.String(s))
		}
	}
	g.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return value.Array(out)
}

func (g *Generator) address() value.Value {
	if g.pct(15) {
		return value.Null()
	}
	return value.ObjectOf([]value.Field{{Key: "city", Val: value.String(pick(g, cities))}})
}

func (g *Generator) userLink() value.Value {
	if g.pct(8) {
		return value.Record("user", pick(g, ghostUsers))
	}
	return value.Record("user", pick(g, userKeys))
}

func (g *Generator) when() value.Value { return value.Datetime(pick(g, instant)) }

// field generates one field value (NONE means "leave it out").
func (g *Generator) field(table, f string) value.Value {
	switch table + "." + f {
	case "user.name":
		return value.String(pick(g, names))
	case "user.age":
		switch r := g.rng.IntN(100); {
		case r < 55:
			return value.Int(int64(18 + g.rng.IntN(4)))
		case r < 70:
			return value.Float(pick(g, []float64{19.0, 20.5}))
		case r < 85:
			return value.Null()
		}
		return value.None()
	case "user.tags", "thread.tags":
		return g.strs(langs)
	case "user.profile":
		fs := []value.Field{{Key: "langs", Val: g.strs(langs)}}
		if !g.pct(20) {
			fs = append(fs, value.Field{Key: "address", Val: g.address()})
		}
		return value.ObjectOf(fs)
	case "user.active", "thread.pinned":
		switch r := g.rng.IntN(100); {
		case r < 45:
			return value.Bool(true)
		case r < 85:
			return value.Bool(false)
		case r < 93:
			return value.Null()
		}
		return value.None()
	case "user.joined", "thread.created", "comment.created":
		return g.when()
	case "thread.author", "comment.author":
		switch r := g.rng.IntN(100); {
		case r < 90:
			return g.userLink()
		case r < 95:
			return value.Null()
		}
		return value.None()
	case "thread.title":
		return value.String(pick(g, titles))
	case "thread.score", "comment.score":
		switch r := g.rng.IntN(100); {
		case r < 80:
			return value.Int(int64(g.rng.IntN(5) - 1))
		case r < 90:
			return value.Float(1.5)
		case r < 95:
			return value.Null()
		}
		return value.None()
	case "thread.meta":
		if g.pct(15) {
			return value.None()
		}
		return value.ObjectOf([]value.Field{
			{Key: "views", Val: value.Int(int64(g.rng.IntN(4)))},
			{Key: "flags", Val: g.strs(flags)},
		})
	case "comment.thread":
		return value.Record("thread", pick(g, threadKeys))
	case "comment.body":
		return value.String(pick(g, bodies))
	case "comment.parent":
		if g.pct(60) {
			return value.None()
		}
		return value.Record("comment", pick(g, commentKeys))
	case "user.handle":
		if g.pct(15) {
			return value.None()
		}
		return value.String(pick(g, handles))
	case "user.aliases":
		if g.pct(20) {
			return value.None()
		}
		return g.strs(aliases)
	case "thread.owner":
		if g.pct(20) {
			return value.None()
		}
		return g.userLink()
	case "comment.note":
		switch r := g.rng.IntN(100); {
		case r < 75:
			return value.String(pick(g, notes))
		case r < 85:
			return value.Null()
		}
		return value.None()
	}
	return value.None()
}
