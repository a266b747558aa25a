// Package workload generates the SSP's benchmark workload: a deterministic, seeded social/forum
// dataset, a mix of live queries over it and a realistic stream of row changes. It is shared by
// `go test -bench` in surreal/engine (use it from an external `engine_test` package: workload
// imports engine) and by `ssp-bench`, so both measure the same thing.
//
// It lives under the top-level internal/ because it is test machinery used from several
// top-level folders (surreal, integration, cmd/ssp-bench): Go's internal rule fences it from
// other modules, and the ssp binary does not link it.
//
// Schema (every row also has `id` and an integer `_00_rv` version, bumped by each update):
//
//	user    {name, handle, karma, created}
//	thread  {author: user link, title, created, tags: [string], score, pinned}
//	comment {thread: thread link, author: user link, body, created, score}
//
// Config.Rows rows are split 5% users, 25% threads, 70% comments (at least one user and one
// thread). Authorship is skewed towards a few power users (low user ids) and comments towards
// recent threads, as on a real forum. `created` grows with the id, so new rows land at the top
// of `ORDER BY created DESC` feeds.
//
// View mix, by view index modulo 20, interleaved so that the first views already mix every kind
// (10 views: 4 per-user, 2 feeds, 1 filter, 3 thread details):
//
//	35% per-user filters ($user; also $auth.id as Sp00ky sends it):
//	    SELECT * FROM thread WHERE author = $user
//	    SELECT * FROM comment WHERE author = $user ORDER BY created DESC LIMIT 50
//	    SELECT * FROM thread WHERE author = $user AND pinned = false ORDER BY created DESC LIMIT 20
//	20% top-k feeds:
//	    SELECT * FROM thread ORDER BY created DESC LIMIT 20 [START 20 | START 40]
//	    SELECT * FROM thread WHERE tags CONTAINS $tag ORDER BY created DESC LIMIT 20
//	    SELECT * FROM comment ORDER BY created DESC LIMIT 20
//	15% simple filters:
//	    SELECT * FROM thread WHERE score > 5 AND pinned = false   (also score > 10, > 20)
//	    SELECT * FROM thread WHERE pinned = true
//	30% thread detail with nested correlated subqueries ($id, skewed to recent threads):
//	    SELECT *, (SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author
//	      FROM comment WHERE thread = $parent.id ORDER BY created DESC LIMIT 10) AS comments
//	      FROM thread WHERE id = $id
//
// Change mix of Next (percent): comment CREATE 40, comment UPDATE 16, comment DELETE 4,
// thread CREATE 8, thread UPDATE 10, thread MERGE (score bump) 8, thread DELETE 2,
// user CREATE 2, user UPDATE (karma) 10. Updates and deletes pick existing rows (recent threads
// and comments more often); an operation with nothing to act on creates a row instead.
package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// Config sizes a workload.
type Config struct {
	Views int // number of views Views returns
	Rows  int // number of rows Initial returns, over all tables
	// Window, when positive, keeps the data size stationary for long (soak) runs: once more
	// than Window rows of a table that the stream created are alive, every further create of
	// that table is followed by a DELETE of the oldest of them. The initial rows are left to
	// the usual mix.
	Window int
}

// ViewSpec is one view of the workload, ready for engine.Register.
type ViewSpec struct {
	ID     string
	SurQL  string
	Params value.Value // an object, or NONE when the query has no parameters
}

// The tables of the workload, in the order of their index in Workload.tables.
const (
	tUser = iota
	tThread
	tComment
	numTables
)

var tableNames = [numTables]string{"user", "thread", "comment"}

// Creation-time spacing per table: created = epoch + id*step, so ids and times grow together.
var createdStep = [numTables]time.Duration{20 * time.Minute, 5 * time.Minute, 90 * time.Second}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var tags = []string{"go", "rust", "surrealdb", "databases", "local-first", "crdt", "sync",
	"web", "mobile", "design", "ops", "showcase"}

var words = []string{"the", "a", "live", "query", "sync", "edge", "view", "fast", "offline",
	"client", "server", "record", "table", "stream", "change", "delta", "index", "cache", "why",
	"how", "fix", "build", "ship", "debug", "latency", "memory", "join", "filter", "order", "limit",
	"great", "idea", "question", "answer", "thanks", "works", "broken", "again", "today", "new"}

var firstNames = []string{"ada", "alan", "grace", "linus", "ken", "rob", "barbara", "edsger",
	"donald", "margaret", "dennis", "frances", "john", "radia", "leslie", "tony"}

// table tracks which ids of one table exist, at which version, and their links.
type table struct {
	ver    []uint32 // by id; index 0 unused; 0 = absent
	author []uint32 // by id: the user a thread or comment links to
	thread []uint32 // by id: the thread a comment links to
	alive  int

	// Config.Window: ids from first on were created by the stream; streamAlive of them are
	// alive; none below cursor is.
	first, cursor int64
	streamAlive   int
}

func (t *table) next() int64 { return int64(len(t.ver)) }

// add appends row id next() with version 1 and the given links.
func (t *table) add(author, thread int) int64 {
	id := t.next()
	t.ver = append(t.ver, 1)
	t.author = append(t.author, uint32(author))
	t.thread = append(t.thread, uint32(thread))
	t.alive++
	return id
}

// Workload is a deterministic generator: the same seed and Config give the same views, initial
// rows and change stream. It is not safe for concurrent use.
type Workload struct {
	seed   uint64
	cfg    Config
	rng    *rand.Rand // the change stream
	tables [numTables]*table
	views  []ViewSpec
	queued []engine.Change // Config.Window deletes, returned by the next calls of Next
}

// New returns the workload for seed and cfg. Negative sizes count as zero.
func New(seed int64, cfg Config) *Workload {
	cfg.Views = max(cfg.Views, 0)
	cfg.Rows = max(cfg.Rows, 0)
	w := &Workload{
		seed: uint64(seed),
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x5eed5eed)),
	}
	counts := split(cfg.Rows)
	for t := range numTables {
		w.tables[t] = &table{
			ver:    make([]uint32, 1, counts[t]+1),
			author: make([]uint32, 1, counts[t]+1),
			thread: make([]uint32, 1, counts[t]+1),
		}
	}
	// The links of the initial rows, from their own random stream.
	r := rand.New(rand.NewPCG(w.seed, 0x11e75))
	users, threads := counts[tUser], counts[tThread]
	for range users {
		w.tables[tUser].add(0, 0)
	}
	for range threads {
		w.tables[tThread].add(skewLow(r, users), 0)
	}
	for k := range counts[tComment] {
		// A comment goes to a thread that existed when it was written, mostly a recent one.
		existing := min(threads, 1+(k+1)*threads/max(counts[tComment], 1))
		w.tables[tComment].add(skewLow(r, users), skewHigh(r, existing))
	}
	for _, tb := range w.tables {
		tb.first, tb.cursor = tb.next(), tb.next()
	}
	w.views = w.makeViews()
	return w
}

// split divides rows into user, thread and comment counts.
func split(rows int) [numTables]int {
	if rows == 0 {
		return [numTables]int{}
	}
	users := max(rows*5/100, 1)
	threads := max(rows*25/100, 1)
	comments := max(rows-users-threads, 0)
	return [numTables]int{users, threads, comments}
}

// Config returns the workload's configuration.
func (w *Workload) Config() Config { return w.cfg }

// Views returns the workload's views (see the package comment for the mix).
func (w *Workload) Views() []ViewSpec {
	out := make([]ViewSpec, len(w.views))
	copy(out, w.views)
	return out
}

const (
	qUserThreads   = "SELECT * FROM thread WHERE author = $user"
	qUserComments  = "SELECT * FROM comment WHERE author = $user ORDER BY created DESC LIMIT 50"
	qUserUnpinned  = "SELECT * FROM thread WHERE author = $user AND pinned = false ORDER BY created DESC LIMIT 20"
	qFeed          = "SELECT * FROM thread ORDER BY created DESC LIMIT 20"
	qFeedPage2     = "SELECT * FROM thread ORDER BY created DESC LIMIT 20 START 20"
	qFeedPage3     = "SELECT * FROM thread ORDER BY created DESC LIMIT 20 START 40"
	qTagFeed       = "SELECT * FROM thread WHERE tags CONTAINS $tag ORDER BY created DESC LIMIT 20"
	qCommentFeed   = "SELECT * FROM comment ORDER BY created DESC LIMIT 20"
	qScoreFilter5  = "SELECT * FROM thread WHERE score > 5 AND pinned = false"
	qScoreFilter10 = "SELECT * FROM thread WHERE score > 10 AND pinned = false"
	qScoreFilter20 = "SELECT * FROM thread WHERE score > 20 AND pinned = false"
	qPinned        = "SELECT * FROM thread WHERE pinned = true"
	qThreadDetail  = "SELECT *, (SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author " +
		"FROM comment WHERE thread = $parent.id ORDER BY created DESC LIMIT 10) AS comments FROM thread WHERE id = $id"
)

// viewSlots is the kind of view at each index modulo 20: 7 per-user (u), 4 feeds (f), 3 simple
// filters (s), 6 thread details (d).
const viewSlots = "ufdsudufdusdufdusduf"

// makeViews builds the view mix from its own random stream, so it does not depend on the order
// in which the other methods are called.
func (w *Workload) makeViews() []ViewSpec {
	r := rand.New(rand.NewPCG(w.seed, 0x71e75))
	users, threads := len(w.tables[tUser].ver)-1, len(w.tables[tThread].ver)-1
	userParams := func() value.Value {
		u := record(tUser, int64(skewLow(r, users)))
		return value.ObjectOf([]value.Field{
			{Key: "user", Val: u},
			{Key: "auth", Val: value.ObjectOf([]value.Field{{Key: "id", Val: u}})},
		})
	}
	out := make([]ViewSpec, 0, w.cfg.Views)
	for i := range w.cfg.Views {
		var v ViewSpec
		switch viewSlots[i%len(viewSlots)] {
		case 'u': // per-user filters
			v.ID = fmt.Sprintf("user_%04d", i)
			v.SurQL = [...]string{qUserThreads, qUserComments, qUserUnpinned}[r.IntN(3)]
			v.Params = userParams()
		case 'f': // top-k feeds
			v.ID = fmt.Sprintf("feed_%04d", i)
			switch r.IntN(6) {
			case 0, 1:
				v.SurQL = qFeed
			case 2:
				v.SurQL = qFeedPage2
			case 3:
				v.SurQL = qFeedPage3
			case 4:
				v.SurQL = qTagFeed
				v.Params = value.ObjectOf([]value.Field{{Key: "tag", Val: value.String(tags[r.IntN(len(tags))])}})
			default:
				v.SurQL = qCommentFeed
			}
		case 's': // simple filters
			v.ID = fmt.Sprintf("filter_%04d", i)
			v.SurQL = [...]string{qScoreFilter5, qScoreFilter10, qScoreFilter20, qPinned}[r.IntN(4)]
		default: // thread detail
			v.ID = fmt.Sprintf("detail_%04d", i)
			v.SurQL = qThreadDetail
			v.Params = value.ObjectOf([]value.Field{{Key: "id", Val: record(tThread, int64(skewHigh(r, threads)))}})
		}
		out = append(out, v)
	}
	return out
}

// Initial returns the initial rows as CREATE changes: users, then threads, then comments.
func (w *Workload) Initial() []engine.Change {
	counts := split(w.cfg.Rows)
	out := make([]engine.Change, 0, w.cfg.Rows)
	for t := range numTables {
		for id := 1; id <= counts[t]; id++ {
			out = append(out, engine.Change{
				Table:  tableNames[t],
				Op:     engine.OpCreate,
				ID:     record(t, int64(id)),
				Record: w.row(t, int64(id), 1),
			})
		}
	}
	return out
}

// Next returns the next change of the stream (see the package comment for the mix). The stream
// assumes the initial rows were applied first.
func (w *Workload) Next() engine.Change {
	if len(w.queued) > 0 {
		c := w.queued[0]
		w.queued = w.queued[1:]
		return c
	}
	p := w.rng.IntN(100)
	switch {
	case p < 40:
		return w.create(tComment)
	case p < 56:
		return w.update(tComment)
	case p < 60:
		return w.delete(tComment)
	case p < 68:
		return w.create(tThread)
	case p < 78:
		return w.update(tThread)
	case p < 86:
		return w.merge(tThread)
	case p < 88:
		return w.delete(tThread)
	case p < 90:
		return w.create(tUser)
	default:
		return w.update(tUser)
	}
}

func (w *Workload) create(t int) engine.Change {
	if t != tUser && w.tables[tUser].alive == 0 {
		t = tUser
	} else if t == tComment && w.tables[tThread].alive == 0 {
		t = tThread
	}
	var author, thread int
	if t != tUser {
		author = w.pickInt(tUser, skewLow)
	}
	if t == tComment {
		thread = w.pickInt(tThread, skewHigh)
	}
	tb := w.tables[t]
	id := tb.add(author, thread)
	if w.cfg.Window > 0 {
		if tb.streamAlive++; tb.streamAlive > w.cfg.Window {
			for tb.ver[tb.cursor] == 0 {
				tb.cursor++
			}
			old := tb.cursor
			tb.ver[old] = 0
			tb.alive--
			tb.streamAlive--
			w.queued = append(w.queued, engine.Change{Table: tableNames[t], Op: engine.OpDelete, ID: record(t, old)})
		}
	}
	return engine.Change{Table: tableNames[t], Op: engine.OpCreate, ID: record(t, id), Record: w.row(t, id, 1)}
}

func (w *Workload) update(t int) engine.Change {
	id, ok := w.pick(t)
	if !ok {
		return w.create(t)
	}
	tb := w.tables[t]
	tb.ver[id]++
	return engine.Change{Table: tableNames[t], Op: engine.OpUpdate, ID: record(t, id), Record: w.row(t, id, tb.ver[id])}
}

func (w *Workload) merge(t int) engine.Change {
	id, ok := w.pick(t)
	if !ok {
		return w.create(t)
	}
	tb := w.tables[t]
	tb.ver[id]++
	row := w.row(t, id, tb.ver[id])
	return engine.Change{Table: tableNames[t], Op: engine.OpMerge, ID: record(t, id), Record: value.ObjectOf([]value.Field{
		{Key: "score", Val: row.Get("score")},
		{Key: "_00_rv", Val: row.Get("_00_rv")},
	})}
}

func (w *Workload) delete(t int) engine.Change {
	id, ok := w.pick(t)
	if !ok {
		return w.create(t)
	}
	tb := w.tables[t]
	tb.ver[id] = 0
	tb.alive--
	if id >= tb.first {
		tb.streamAlive--
	}
	return engine.Change{Table: tableNames[t], Op: engine.OpDelete, ID: record(t, id)}
}

// pick chooses an existing row of table t to update or delete: recent threads and comments
// more often than old ones, users uniformly.
func (w *Workload) pick(t int) (int64, bool) {
	if w.tables[t].alive == 0 {
		return 0, false
	}
	if t == tUser {
		return int64(w.pickInt(t, uniform)), true
	}
	return int64(w.pickInt(t, skewHigh)), true
}

// pickInt chooses an existing row of table t with the distribution choose; the table must have
// one.
func (w *Workload) pickInt(t int, choose func(*rand.Rand, int) int) int {
	tb := w.tables[t]
	n := len(tb.ver) - 1
	for range 64 {
		if id := choose(w.rng, n); tb.ver[id] != 0 {
			return id
		}
	}
	for id := n; id > 0; id-- { // most rows are deleted: scan
		if tb.ver[id] != 0 {
			return id
		}
	}
	return 1
}

// uniform returns an id in [1, n]; 1 when n < 1.
func uniform(r *rand.Rand, n int) int {
	if n < 1 {
		return 1
	}
	return 1 + r.IntN(n)
}

// skewLow returns an id in [1, n] biased towards 1 (power users); 1 when n < 1.
func skewLow(r *rand.Rand, n int) int {
	if n < 1 {
		return 1
	}
	u := r.Float64()
	return 1 + min(int(float64(n)*u*u*u), n-1)
}

// skewHigh returns an id in [1, n] biased towards n (recent rows); 1 when n < 1.
func skewHigh(r *rand.Rand, n int) int {
	if n < 1 {
		return 1
	}
	return n + 1 - skewLow(r, n)
}

func record(t int, id int64) value.Value { return value.Record(tableNames[t], value.Int(id)) }

// row returns the content of row id of table t at version ver: a pure function of the seed,
// the table, the id and the version. Links, tags and creation time depend on the id only.
func (w *Workload) row(t int, id int64, ver uint32) value.Value {
	stable := rand.New(rand.NewPCG(w.seed^uint64(t+1)<<56, uint64(id)))
	edit := rand.New(rand.NewPCG(w.seed^uint64(t+1)<<56^0xed17, uint64(id)<<20|uint64(ver)))
	created := value.Datetime(epoch.Add(time.Duration(id) * createdStep[t]))
	tb := w.tables[t]
	fields := []value.Field{
		{Key: "id", Val: record(t, id)},
		{Key: "_00_rv", Val: value.Int(int64(ver))},
		{Key: "created", Val: created},
	}
	switch t {
	case tUser:
		name := firstNames[stable.IntN(len(firstNames))]
		fields = append(fields,
			value.Field{Key: "name", Val: value.String(fmt.Sprintf("%s %d", name, id))},
			value.Field{Key: "handle", Val: value.String(fmt.Sprintf("@%s%d", name, id))},
			value.Field{Key: "karma", Val: value.Int(int64(stable.IntN(100)) + int64(ver-1)*int64(1+edit.IntN(5)))},
		)
	case tThread:
		ntags := 1 + stable.IntN(3)
		tv := make([]value.Value, 0, ntags)
		for _, k := range stable.Perm(len(tags))[:ntags] {
			tv = append(tv, value.String(tags[k]))
		}
		fields = append(fields,
			value.Field{Key: "author", Val: record(tUser, int64(tb.author[id]))},
			value.Field{Key: "title", Val: value.String(sentence(edit, 4+edit.IntN(6)))},
			value.Field{Key: "tags", Val: value.Array(tv)},
			value.Field{Key: "score", Val: value.Int(baseScore(stable) + int64(ver-1))},
			value.Field{Key: "pinned", Val: value.Bool(edit.IntN(50) == 0)},
		)
	case tComment:
		fields = append(fields,
			value.Field{Key: "thread", Val: record(tThread, int64(tb.thread[id]))},
			value.Field{Key: "author", Val: record(tUser, int64(tb.author[id]))},
			value.Field{Key: "body", Val: value.String(sentence(edit, 8+edit.IntN(24)))},
			value.Field{Key: "score", Val: value.Int(baseScore(stable) + int64(ver-1))},
		)
	}
	return value.ObjectOf(fields)
}

// baseScore is a geometric-like initial score: about 5% of rows start above 5.
func baseScore(r *rand.Rand) int64 {
	return int64(-2 * math.Log(1-r.Float64()))
}

func sentence(r *rand.Rand, n int) string {
	b := make([]byte, 0, n*7)
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, words[r.IntN(len(words))]...)
	}
	return string(b)
}
