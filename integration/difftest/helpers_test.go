package difftest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/schema"
	"github.com/sp00ky/ssp/surreal/value"
)

// startDB starts a devdb server for the test and returns a root connection to it.
func startDB(t *testing.T, ctx context.Context) (*devdb.Server, *surrealdb.DB) {
	t.Helper()
	srv, err := devdb.Start(ctx, devdb.Options{})
	if err != nil {
		t.Fatalf("devdb.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("devdb Close: %v", err)
		}
	})
	return srv, connect(t, ctx, srv, "difftest", "app")
}

func connect(t *testing.T, ctx context.Context, srv *devdb.Server, ns, db string) *surrealdb.DB {
	t.Helper()
	conn, err := srv.Connect(ctx, ns, db)
	if err != nil {
		t.Fatalf("devdb Connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// mirror is a stand-in engine backed by SurrealDB itself (its own connection and namespace):
// it applies each change as SurrealQL and answers Members by running the view. Driving the
// harness with it checks the harness end to end — the JSON round trip of changes, MERGE
// patches, the batching and the membership walk — independently of the SSP engine. dropDeletes
// names a table whose DELETEs it ignores, a bug injected to test detection and shrinking.
type mirror struct {
	ctx         context.Context
	db          *surrealdb.DB
	views       map[string]*compiled
	dropDeletes string
	hints       map[string]schema.Table
}

var mirrorSeq int

func newMirror(ctx context.Context, db *surrealdb.DB, dropDeletes string) (*mirror, error) {
	mirrorSeq++
	if err := db.Use(ctx, fmt.Sprintf("mirror_%d_%d", time.Now().UnixNano(), mirrorSeq), "app"); err != nil {
		return nil, err
	}
	if err := defineTables(ctx, db); err != nil {
		return nil, err
	}
	return &mirror{ctx: ctx, db: db, views: map[string]*compiled{}, dropDeletes: dropDeletes, hints: map[string]schema.Table{}}, nil
}

// SetSchema records the field types; the mirror writes a spelled value as the type says and,
// knowing the workload, the untyped fields that hold text as text (textFields), so that what it
// stores is what SurrealDB stores.
func (m *mirror) SetSchema(table string, t schema.Table) error {
	m.hints[table] = t
	return nil
}

func (m *mirror) resolve(table string, row value.Value) value.Value {
	fields := m.hints[table].Fields()
	for _, f := range textFields[table] {
		fields = append(fields, schema.Field{Path: []string{f}, Kind: schema.String})
	}
	return schema.NewTable(fields).Apply(row)
}

func (m *mirror) Register(id, surql string, params value.Value) ([]engine.Member, error) {
	c, err := compile(len(m.views), View{ID: id, SurQL: surql, Params: params})
	if err != nil {
		return nil, err
	}
	m.views[id] = c
	ms, _ := m.Members(id)
	return ms, nil
}

func (m *mirror) Apply(c engine.Change) ([]engine.Delta, error) {
	w := Write{Table: c.Table, ID: c.ID, Content: c.Record}
	switch c.Op {
	case engine.OpCreate:
		w.Op = OpCreate
	case engine.OpUpdate:
		w.Op = OpUpdate
	case engine.OpMerge:
		w.Op = OpMerge
	case engine.OpDelete:
		w.Op = OpDelete
		if c.Table == m.dropDeletes {
			return nil, nil
		}
	}
	if w.Content.Kind() == value.KindObject {
		w.Content = m.resolve(c.Table, w.Content).With("id", value.None())
	}
	_, err := runStep(m.ctx, m.db, &w, newBatch(nil))
	return nil, err
}

func (m *mirror) Members(id string) ([]engine.Member, bool) {
	c, ok := m.views[id]
	if !ok {
		return nil, false
	}
	res, err := runStep(m.ctx, m.db, nil, newBatch([]*compiled{c}))
	if err != nil {
		return []engine.Member{{Key: "error: " + err.Error()}}, true
	}
	ms, err := FromResult(c.sel, res.views[0])
	if err != nil {
		return []engine.Member{{Key: "error: " + err.Error()}}, true
	}
	return ms.Sorted(), true
}

// writeRepro writes a reproduction's replay lines and SurrealQL under $DIFFTEST_OUT (or the
// test's temporary folder) and returns the paths.
func writeRepro(t *testing.T, seed uint64, rp *Repro) []string {
	t.Helper()
	dir := os.Getenv("DIFFTEST_OUT")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("DIFFTEST_OUT: %v", err)
		return nil
	}
	base := filepath.Join(dir, fmt.Sprintf("repro-seed%d-%s", seed, rp.View.ID))
	files := map[string]string{
		base + ".jsonl": strings.Join(rp.ReplayLines(), "\n") + "\n",
		base + ".surql": rp.SurQL(),
		base + ".txt":   rp.Format(),
	}
	var out []string
	for _, p := range sortedKeys(files) {
		if err := os.WriteFile(p, []byte(files[p]), 0o644); err != nil {
			t.Errorf("write %s: %v", p, err)
			continue
		}
		out = append(out, p)
	}
	return out
}
