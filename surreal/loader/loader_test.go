package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/integration/devdb/devdbtest"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

var srv *devdb.Server

func TestMain(m *testing.M) {
	devdbtest.RunTests(m, devdb.Options{}, func(s *devdb.Server) { srv = s })
}

var dbSeq atomic.Int64

func dial(t *testing.T, name string) (*conn.Conn, context.Context) {
	t.Helper()
	db := fmt.Sprintf("%s%d", name, dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := conn.Dial(ctx, conn.Config{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: "loader", DB: db, Log: log})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, ctx
}

func exec(t *testing.T, ctx context.Context, c *conn.Conn, q string) {
	t.Helper()
	rs, err := c.Query(ctx, q, nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestTables(t *testing.T) {
	c, ctx := dial(t, "tables")
	l := New(QuerierSource{Q: c})
	got, err := l.Tables(ctx)
	if err != nil {
		t.Fatalf("Tables on an empty database: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("Tables on an empty database = %v", got)
	}
	exec(t, ctx, c, "DEFINE TABLE thread SCHEMALESS; DEFINE TABLE _00_query SCHEMALESS; DEFINE TABLE _00_list_ref SCHEMALESS; "+
		"CREATE user:1; DEFINE TABLE `odd-name` SCHEMALESS")
	got, err = l.Tables(ctx)
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	if want := []string{"odd-name", "thread", "user"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Tables = %v, want %v", got, want)
	}
	defs, err := l.TableDefinitions(ctx)
	if err != nil || defs["_00_query"] == "" || len(defs) != 5 {
		t.Fatalf("TableDefinitions = %v, %v", defs, err)
	}
}

func TestTableDefsShapes(t *testing.T) {
	obj := value.ObjectOf([]value.Field{{Key: "tables", Val: value.ObjectOf([]value.Field{
		{Key: "a", Val: value.String("DEFINE TABLE a")}, {Key: "_00_x", Val: value.String("DEFINE TABLE _00_x")}})}})
	tests := []struct {
		name    string
		in      value.Value
		want    map[string]string
		wantErr bool
	}{
		{"object", obj, map[string]string{"a": "DEFINE TABLE a", "_00_x": "DEFINE TABLE _00_x"}, false},
		{"one-element array", value.Array([]value.Value{obj}), map[string]string{"a": "DEFINE TABLE a", "_00_x": "DEFINE TABLE _00_x"}, false},
		{"no tables", value.ObjectOf(nil), map[string]string{}, false},
		{"two-element array", value.Array([]value.Value{obj, obj}), nil, true},
		{"string", value.String("x"), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tableDefs(tc.in)
			if (err != nil) != tc.wantErr || (!tc.wantErr && !reflect.DeepEqual(got, tc.want)) {
				t.Fatalf("tableDefs = %v, %v", got, err)
			}
		})
	}
}

// TestLoadTablePaging pages through a table with mixed int and string ids over more than two
// pages and gets every row exactly once, in SurrealDB's id order.
func TestLoadTablePaging(t *testing.T) {
	c, ctx := dial(t, "paging")
	exec(t, ctx, c, "CREATE item:1, item:2, item:10, item:-3, item:abc, item:⟨a b⟩, item:zz, item:⟨it's⟩ SET n = 1; "+
		"CREATE item:['x', 1] SET n = 2; DEFINE TABLE empty SCHEMALESS")
	l := New(QuerierSource{Q: c})
	var got []string
	pages := 0
	err := l.LoadTable(ctx, "item", 3, func(rows []value.Value) error {
		pages++
		if len(rows) > 3 {
			t.Errorf("page of %d rows", len(rows))
		}
		for _, r := range rows {
			got = append(got, value.RecordString(r.Get("id")))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("LoadTable: %v", err)
	}
	want := []string{"item:-3", "item:1", "item:2", "item:10", "item:⟨a b⟩", "item:abc", "item:⟨it's⟩", "item:zz", `item:["x", 1]`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ids = %v\nwant  %v", got, want)
	}
	if pages != 3 {
		t.Fatalf("pages = %d, want 3", pages)
	}

	n := 0
	if err := l.LoadTable(ctx, "empty", 5, func(rows []value.Value) error { n += len(rows); return nil }); err != nil || n != 0 {
		t.Fatalf("LoadTable(empty) = %d rows, %v", n, err)
	}
	if err := l.LoadTable(ctx, "item", 0, func([]value.Value) error { return nil }); err == nil || !strings.Contains(err.Error(), "page size 0 must be positive") {
		t.Fatalf("LoadTable with page size 0: %v, want an error naming the page size", err)
	}
	if err := l.LoadTable(ctx, "missing", 10, func([]value.Value) error { return nil }); err == nil {
		t.Fatal("LoadTable of a missing table: no error")
	}
	stop := errors.New("stop")
	if err := l.LoadTable(ctx, "item", 2, func([]value.Value) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("LoadTable with a failing callback = %v", err)
	}
}

// TestLoadTableVersions: once a table listing saw `_00_version`, loaded rows carry their
// committed version as `_00_rv` (NONE without a version row); without it, rows load as stored.
func TestLoadTableVersions(t *testing.T) {
	c, ctx := dial(t, "versions")
	exec(t, ctx, c, "CREATE item:1, item:2, item:3 SET n = 1")
	l := New(QuerierSource{Q: c})
	load := func() map[string]value.Value {
		t.Helper()
		out := map[string]value.Value{}
		if _, err := l.Tables(ctx); err != nil {
			t.Fatalf("Tables: %v", err)
		}
		if err := l.LoadTable(ctx, "item", 2, func(rows []value.Value) error {
			for _, r := range rows {
				out[value.RecordString(r.Get("id"))] = r.Get("_00_rv")
			}
			return nil
		}); err != nil {
			t.Fatalf("LoadTable: %v", err)
		}
		return out
	}
	for id, rv := range load() {
		if !rv.IsNone() {
			t.Fatalf("without _00_version: %s has _00_rv %s", id, rv.SurQL())
		}
	}
	exec(t, ctx, c, "DEFINE TABLE _00_version SCHEMALESS; DEFINE INDEX idx_record_id ON _00_version COLUMNS record_id UNIQUE; "+
		"CREATE _00_version SET record_id = item:1, version = 4; CREATE _00_version SET record_id = item:3, version = 2")
	got := load()
	want := map[string]value.Value{"item:1": value.Int(4), "item:2": value.None(), "item:3": value.Int(2)}
	for id, w := range want {
		if g, ok := got[id]; !ok || value.Compare(g, w) != 0 || g.Kind() != w.Kind() {
			t.Errorf("%s: _00_rv = %s, want %s", id, g.SurQL(), w.SurQL())
		}
	}
}

func TestSchema(t *testing.T) {
	c, ctx := dial(t, "schema")
	l := New(QuerierSource{Q: c})
	exec(t, ctx, c, "DEFINE TABLE t SCHEMALESS; DEFINE FIELD handle ON t TYPE string; DEFINE FIELD owner ON t TYPE option<record<user>>; "+
		"DEFINE FIELD members ON t TYPE array<record<user>>; DEFINE FIELD `odd name` ON t TYPE string | record; DEFINE TABLE plain SCHEMALESS")
	h, err := l.Schema(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.String(), "{handle: string, members.*: record, owner: record}"; got != want {
		t.Errorf("Schema(t) = %s, want %s", got, want)
	}
	all, err := l.Schemas(ctx, []string{"plain", "t", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || !all["t"].Equal(h) {
		t.Errorf("Schemas = %v", all)
	}
}
