package difftest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/ingest"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

func TestSurrealRecordText(t *testing.T) {
	for _, c := range []struct {
		rec  value.Value
		want string
	}{
		{rec("user", 10), "user:10"},
		{rec("user", "10"), "user:`10`"},
		{rec("user", "ann"), "user:ann"},
		{rec("comment", "c_x"), "comment:c_x"},
		{rec("user", "a-b"), "user:`a-b`"},
		{rec("user", "a`b"), "user:`a\\`b`"},
	} {
		got := surrealRecordText(c.rec)
		if got != c.want {
			t.Errorf("surrealRecordText(%s) = %s, want %s", value.RecordString(c.rec), got, c.want)
		}
		back, ok := value.ParseRecord(got)
		if !ok || !value.Equal(back, c.rec) {
			t.Errorf("ParseRecord(%s) = %s, %v; want %s", got, back.SurQL(), ok, c.rec.SurQL())
		}
	}
}

func TestSurrealConversionRoundTrip(t *testing.T) {
	when := time.Date(2024, 1, 3, 0, 0, 0, 500_000_000, time.UTC)
	row := obj(
		"a", value.Int(-1), "b", value.Float(1.5), "c", value.String("x"), "d", value.Datetime(when),
		"e", value.Null(), "f", strArr("go"), "g", obj("h", rec("user", "10")), "i", rec("thread", 3),
		"j", value.Bool(true),
	)
	x, err := toSurreal(row)
	if err != nil {
		t.Fatal(err)
	}
	m := x.(map[string]any)
	if r, ok := m["i"].(*models.RecordID); !ok || r.Table != "thread" || r.ID != int64(3) {
		t.Errorf("record became %#v", m["i"])
	}
	if d, ok := m["d"].(*models.CustomDateTime); !ok || !d.Time.Equal(when) {
		t.Errorf("datetime became %#v", m["d"])
	}
	// What the SDK decodes comes back as values (records by value, datetimes as time.Time).
	m["i"] = *m["i"].(*models.RecordID)
	m["d"] = when
	g := m["g"].(map[string]any)
	g["h"] = *g["h"].(*models.RecordID)
	back, err := fromSurreal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !value.Equal(back, row) {
		t.Errorf("round trip:\n got %s\nwant %s", back.SurQL(), row.SurQL())
	}
	// JSON form: records and datetimes as strings, which the engine's JSON classifies back.
	js, err := json.Marshal(toJSONAny(row))
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := value.FromJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if !value.Equal(fromJSON, row) {
		t.Errorf("JSON round trip of %s:\n got %s\nwant %s", js, fromJSON.SurQL(), row.SurQL())
	}
}

func TestIngestFor(t *testing.T) {
	id := rec("thread", 1)
	prev := obj("id", id, "score", value.Int(1), "title", value.String("a"))
	for _, c := range []struct {
		name       string
		w          Write
		prev, row  value.Value
		wantOp     string
		wantRecord string
	}{
		{"create", Write{Op: OpCreate, Table: "thread", ID: id}, value.None(), prev, "CREATE", `{"id":"thread:1","score":1,"title":"a"}`},
		{"delete", Write{Op: OpDelete, Table: "thread", ID: id}, prev, value.None(), "DELETE", ``},
		{"merge as patch", Write{Op: OpMerge, Table: "thread", ID: id}, prev, prev.With("score", value.Int(2)), "MERGE", `{"score":2}`},
		{"merge int to float is a change", Write{Op: OpMerge, Table: "thread", ID: id}, prev, prev.With("score", value.Float(1)), "MERGE", `{"score":1}`},
		{"merge as update", Write{Op: OpMerge, Table: "thread", ID: id, AsUpdate: true}, prev, prev.With("score", value.Int(2)), "UPDATE", `{"id":"thread:1","score":2,"title":"a"}`},
		{"merge of a new row", Write{Op: OpMerge, Table: "thread", ID: id}, value.None(), prev, "CREATE", `{"id":"thread:1","score":1,"title":"a"}`},
		{"merge that drops a field", Write{Op: OpMerge, Table: "thread", ID: id}, prev, prev.With("title", value.None()), "UPDATE", `{"id":"thread:1","score":1}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := ingestFor(c.w, c.prev, c.row)
			if in.Op != c.wantOp || in.ID != "thread:1" || in.Table != "thread" {
				t.Errorf("ingest = %s", in.JSON())
			}
			got := ""
			if in.Record != nil {
				b, _ := json.Marshal(in.Record)
				got = string(b)
			}
			if got != c.wantRecord {
				t.Errorf("record = %s, want %s", got, c.wantRecord)
			}
			if _, err := ingest.Decode(in.JSON()); err != nil {
				t.Errorf("ingest.Decode(%s): %v", in.JSON(), err)
			}
		})
	}
}

func TestFromResult(t *testing.T) {
	sel, err := surql.ParseSelect("SELECT id, (SELECT *, (SELECT id FROM user WHERE id = $parent.author)[0] AS who FROM comment WHERE thread = $parent.id) AS comments, (SELECT id FROM user LIMIT 1)[0] AS first FROM thread")
	if err != nil {
		t.Fatal(err)
	}
	rid := func(tb string, k any) models.RecordID { return models.RecordID{Table: tb, ID: k} }
	result := []any{
		map[string]any{
			"id": rid("thread", uint64(1)),
			"comments": []any{
				map[string]any{"id": rid("comment", "ca"), "_00_rv": uint64(3), "who": map[string]any{"id": rid("user", "10")}},
				map[string]any{"id": rid("comment", uint64(2)), "who": nil},
			},
			"first": nil,
		},
		map[string]any{"id": rid("thread", "tb"), "comments": []any{}, "first": map[string]any{"id": rid("user", uint64(1))}},
	}
	got, err := FromResult(sel, result)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Member{
		{Key: "thread:1", Version: NoVersion},
		{Key: "thread:tb", Version: NoVersion},
		{Key: "comment:2", Version: 1, Parent: "thread:1", Rel: "comments"},
		{Key: "comment:ca", Version: 3, Parent: "thread:1", Rel: "comments"},
		{Key: "user:⟨10⟩", Version: NoVersion, Parent: "comment:ca", Rel: "who"},
		{Key: "user:1", Version: NoVersion, Parent: "thread:tb", Rel: "first"},
	}
	engine.SortMembers(want)
	if g := got.Sorted(); !reflect.DeepEqual(g, want) {
		t.Errorf("members:\n got %v\nwant %v", g, want)
	}
	// A row without id is a corpus error, not a silent gap.
	if _, err := FromResult(sel, []any{map[string]any{"title": "x"}}); err == nil || !strings.Contains(err.Error(), "no id") {
		t.Errorf("row without id: err = %v", err)
	}
}

func TestDiff(t *testing.T) {
	oracle := FromEngine([]engine.Member{{Key: "user:1", Version: 2}, {Key: "user:2", Version: NoVersion}, {Key: "user:3", Version: 1}})
	got := FromEngine([]engine.Member{{Key: "user:1", Version: 3}, {Key: "user:2", Version: 7}, {Key: "user:`4`", Version: 1}})
	want := []string{
		"extra in engine: user:⟨4⟩ v1",
		"missing in engine: user:3 v1",
		"version of user:1: SurrealDB 2, engine 3",
	}
	if d := Diff(oracle, got); !reflect.DeepEqual(d, want) {
		t.Errorf("Diff = %q, want %q", d, want)
	}
	if d := Diff(oracle, oracle); len(d) != 0 {
		t.Errorf("Diff of equal memberships = %q", d)
	}
}

func TestReadTables(t *testing.T) {
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"SELECT * FROM user", []string{"user"}},
		{"SELECT * FROM comment WHERE thread.author.active = true", []string{"comment", "thread", "user"}},
		{"SELECT id, author.name AS an FROM thread ORDER BY an", []string{"thread", "user"}},
		{"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS c FROM thread", []string{"comment", "thread"}},
		{"SELECT * FROM thread WHERE array::len((SELECT id FROM comment WHERE parent.author = $x)) > 1", []string{"comment", "thread"}},
	} {
		sel, err := surql.ParseSelect(c.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedKeys(readTables(sel)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("readTables(%s) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	a, b := NewGenerator(42), NewGenerator(42)
	ops := map[Op]int{}
	for i := 0; i < 500; i++ {
		x, y := a.Next(), b.Next()
		if x.Op != y.Op || !value.Equal(x.ID, y.ID) || !value.Equal(x.Content, y.Content) || x.AsUpdate != y.AsUpdate {
			t.Fatalf("write %d differs: %v vs %v", i, x, y)
		}
		ops[x.Op]++
	}
	for _, op := range []Op{OpCreate, OpUpdate, OpMerge, OpDelete} {
		if ops[op] < 25 {
			t.Errorf("only %d %s writes in 500", ops[op], op)
		}
	}
}
