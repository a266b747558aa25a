package e2e

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

// write is one row write of the workload, run on SurrealDB (whose events post it to the SSP).
type write struct {
	op      string      // CREATE, UPDATE (full CONTENT), MERGE or DELETE
	id      value.Value // the record
	content value.Value // the row without id (CREATE/UPDATE) or the merged fields (MERGE)
}

func (w write) surql() string {
	switch w.op {
	case "CREATE":
		return "CREATE $id CONTENT $c RETURN NONE"
	case "UPDATE":
		return "UPDATE $id CONTENT $c RETURN NONE"
	case "MERGE":
		return "UPDATE $id MERGE $c RETURN NONE"
	default:
		return "DELETE $id RETURN NONE"
	}
}

func (w write) String() string {
	return fmt.Sprintf("%s %s %s", w.op, value.RecordString(w.id), w.content.SurQL())
}

// The workload's id pools. Owners (the users views belong to) are created first and never
// deleted; user ids mix string and integer keys.
var (
	owners      = []string{"alice", "bob", "carol"}
	userKeys    = []value.Value{value.String("alice"), value.String("bob"), value.String("carol"), value.String("u1"), value.String("u2"), value.String("u3"), value.Int(7), value.Int(8)}
	threadKeys  = keys("t", 14)
	commentKeys = keys("c", 30)
	names       = []string{"ann", "ben", "cid", "dan", "eve"}
	titles      = []string{"hello", "news", "help", "intro"}
	bodies      = []string{"hi", "ok", "spam", "long text"}
	tagPool     = []string{"go", "db", "ui", "ops"}
	ages        = []int64{18, 25, 30, 30, 41, 55}
	baseTime    = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

func keys(prefix string, n int) []value.Value {
	out := make([]value.Value, n)
	for i := range out {
		out[i] = value.String(fmt.Sprintf("%s%d", prefix, i+1))
	}
	return out
}

// generator produces a seeded random sequence of writes, tracking which rows exist.
type generator struct {
	rng    *rand.Rand
	exists map[string]bool
}

func newGenerator(seed uint64) *generator {
	return &generator{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), exists: map[string]bool{}}
}

func pick[T any](g *generator, xs []T) T { return xs[g.rng.IntN(len(xs))] }

// owners returns the creation of every owner user.
func (g *generator) owners() []write {
	var out []write
	for _, o := range owners {
		id := value.Record("user", value.String(o))
		g.exists[value.RecordString(id)] = true
		out = append(out, write{op: "CREATE", id: id, content: g.row("user")})
	}
	return out
}

// next returns the next write: a CREATE of a missing row, else an UPDATE, MERGE or DELETE.
func (g *generator) next() write {
	var table string
	var pool []value.Value
	switch r := g.rng.IntN(100); {
	case r < 20:
		table, pool = "user", userKeys
	case r < 55:
		table, pool = "thread", threadKeys
	default:
		table, pool = "comment", commentKeys
	}
	id := value.Record(table, pick(g, pool))
	rid := value.RecordString(id)
	if !g.exists[rid] {
		g.exists[rid] = true
		return write{op: "CREATE", id: id, content: g.row(table)}
	}
	owner := table == "user" && id.Key().Kind() == value.KindString && isOwner(id.Key().AsString())
	switch r := g.rng.IntN(100); {
	case r < 40:
		return write{op: "UPDATE", id: id, content: g.row(table)}
	case r < 75 || owner:
		row := g.row(table)
		fs := row.Fields()
		g.rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		return write{op: "MERGE", id: id, content: value.ObjectOf(fs[:1+g.rng.IntN(2)])}
	default:
		delete(g.exists, rid)
		return write{op: "DELETE", id: id}
	}
}

func isOwner(key string) bool {
	for _, o := range owners {
		if o == key {
			return true
		}
	}
	return false
}

// row returns a full random row of table (every declared field set).
func (g *generator) row(table string) value.Value {
	tags := func() value.Value {
		var out []value.Value
		for _, t := range tagPool {
			if g.rng.IntN(3) == 0 {
				out = append(out, value.String(t))
			}
		}
		return value.Array(out)
	}
	created := func() value.Value { return value.Datetime(baseTime.Add(time.Duration(g.rng.IntN(8)) * time.Hour)) }
	user := func() value.Value { return value.Record("user", pick(g, userKeys)) }
	var fs []value.Field
	switch table {
	case "user":
		fs = []value.Field{
			{Key: "name", Val: value.String(pick(g, names))},
			{Key: "age", Val: value.Int(pick(g, ages))},
			{Key: "active", Val: value.Bool(g.rng.IntN(3) > 0)},
			{Key: "tags", Val: tags()},
		}
	case "thread":
		fs = []value.Field{
			{Key: "title", Val: value.String(pick(g, titles))},
			{Key: "author", Val: user()},
			{Key: "score", Val: value.Int(int64(g.rng.IntN(10)))},
			{Key: "tags", Val: tags()},
			{Key: "created", Val: created()},
		}
	case "comment":
		fs = []value.Field{
			{Key: "thread", Val: value.Record("thread", pick(g, threadKeys))},
			{Key: "author", Val: user()},
			{Key: "body", Val: value.String(pick(g, bodies))},
			{Key: "score", Val: value.Int(int64(g.rng.IntN(6)))},
			{Key: "created", Val: created()},
		}
	}
	return value.ObjectOf(fs)
}

// runner executes writes on SurrealDB with several concurrent writers. Each record belongs to
// one writer (by a hash of its id), so the writes of one record stay in order and concurrent
// transactions never touch the same rows. A failed write (for instance rolled back because the
// SSP refused its event's ingest) is retried until it succeeds or ctx ends.
type runner struct {
	db      *conn.Conn
	writers int
	done    atomic.Int64 // writes committed
	retries atomic.Int64 // failed attempts that were retried
	// gate is held for reading by every write attempt; a test takes it for writing to run
	// something while no write is in flight.
	gate sync.RWMutex
}

// run executes ws and returns the first write that could not be committed before ctx ended.
func (r *runner) run(ctx context.Context, ws []write) error {
	queues := make([][]write, r.writers)
	for _, w := range ws {
		h := fnv.New32a()
		h.Write([]byte(value.RecordString(w.id)))
		i := int(h.Sum32() % uint32(r.writers))
		queues[i] = append(queues[i], w)
	}
	errs := make(chan error, r.writers)
	var wg sync.WaitGroup
	for _, q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, w := range q {
				if err := r.exec(ctx, w); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (r *runner) exec(ctx context.Context, w write) error {
	vars := map[string]any{"id": w.id}
	if w.op != "DELETE" {
		vars["c"] = w.content
	}
	wait := 10 * time.Millisecond
	for {
		r.gate.RLock()
		rs, err := r.db.QueryOnce(ctx, w.surql(), vars)
		r.gate.RUnlock()
		if err == nil {
			err = conn.StatementErr(rs)
		}
		if err == nil {
			r.done.Add(1)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("write %s: %w (context: %v)", w, err, ctx.Err())
		}
		r.retries.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("write %s: %w", w, err)
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}
