package difftest

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/sp00ky/ssp/surreal/value"
)

// TestSurrealDBFacts pins the SurrealDB 3 behaviours the package doc lists, so that a SurrealDB
// upgrade that changes one of them shows up here first.
func TestSurrealDBFacts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, db := startDB(t, ctx)
	// 120 rows with 4 distinct scores inserted in scrambled id order, plus string keys.
	setup := `
		FOR $i IN array::range(1, 120) { UPSERT type::record('f', (($i * 53) % 120) + 1) SET s = ($i * 7) % 4, r = ($i * 7) % 4; };
		FOR $i IN ['a', 'b', '10'] { UPSERT type::record('f', $i) SET s = 2; };
		UPSERT user:1 SET name = 'zed'; UPSERT user:2 SET name = 'bob';
		UPSERT thread:1 SET author = user:2; UPSERT thread:2 SET author = user:1; UPSERT thread:3 SET x = 1;`
	if _, err := surrealdb.Query[any](ctx, db, setup, nil); err != nil {
		t.Fatal(err)
	}
	one := func(t *testing.T, sql string, vars map[string]any) (any, error) {
		t.Helper()
		res, err := surrealdb.Query[any](ctx, db, sql, vars)
		if err != nil {
			return nil, err
		}
		return (*res)[len(*res)-1].Result, nil
	}
	ids := func(t *testing.T, sql string) []string {
		t.Helper()
		res, err := one(t, sql, nil)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var out []string
		for _, r := range res.([]any) {
			v, err := fromSurreal(r.(map[string]any)["id"])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, value.RecordString(v))
		}
		return out
	}
	// Reference order: by s (asc or desc), ties by ascending record id.
	all := ids(t, "SELECT id, s FROM f")
	score := map[string]int64{}
	res, _ := one(t, "SELECT id, s FROM f", nil)
	for _, r := range res.([]any) {
		m := r.(map[string]any)
		id, _ := fromSurreal(m["id"])
		s, _ := fromSurreal(m["s"])
		score[value.RecordString(id)] = s.AsInt()
	}
	rank := map[string]int{}
	for i, id := range all {
		rank[id] = i
	}
	byScore := func(desc bool) []string {
		out := append([]string(nil), all...)
		sort.SliceStable(out, func(i, j int) bool {
			a, b := score[out[i]], score[out[j]]
			if a != b {
				return (a < b) != desc
			}
			return rank[out[i]] < rank[out[j]]
		})
		return out
	}

	t.Run("default order is record-id order", func(t *testing.T) {
		got := ids(t, "SELECT id FROM f")
		n := len(got)
		for i := 1; i < n-3; i++ {
			a, _ := value.ParseRecord(got[i-1])
			b, _ := value.ParseRecord(got[i])
			if a.Key().AsInt() >= b.Key().AsInt() {
				t.Errorf("integer keys out of order: %s before %s", got[i-1], got[i])
			}
		}
		if !reflect.DeepEqual(got[n-3:], []string{"f:⟨10⟩", "f:a", "f:b"}) {
			t.Errorf("string keys do not follow the integer keys in byte order: %v", got[n-5:])
		}
		if got2 := ids(t, "SELECT id FROM f LIMIT 2 START 1"); !reflect.DeepEqual(got2, got[1:3]) {
			t.Errorf("LIMIT window without ORDER BY = %v, want %v", got2, got[1:3])
		}
	})
	t.Run("top-k keeps ties in ascending id order, ASC and DESC", func(t *testing.T) {
		for _, c := range []struct {
			sql   string
			desc  bool
			start int
			n     int
		}{
			{"SELECT id, s FROM f ORDER BY s LIMIT 40", false, 0, 40},
			{"SELECT id, s FROM f ORDER BY s DESC LIMIT 45", true, 0, 45},
			{"SELECT id, s FROM f ORDER BY s DESC LIMIT 20 START 17", true, 17, 20},
			{"SELECT id, s FROM f ORDER BY s LIMIT 997 START 3", false, 3, 120},
		} {
			want := byScore(c.desc)[c.start:]
			want = want[:min(c.n, len(want))]
			if got := ids(t, c.sql); !reflect.DeepEqual(got, want) {
				t.Errorf("%s:\n got %v\nwant %v", c.sql, got, want)
			}
		}
	})
	t.Run("which ORDER BYs are a stable top-k", func(t *testing.T) {
		for _, c := range []struct {
			sql  string
			vars map[string]any
			op   string
		}{
			{"SELECT id, s FROM f ORDER BY s LIMIT 10", nil, "SortTopKByKey"},
			{"SELECT id, s FROM f ORDER BY s LIMIT 997 START 3", nil, "SortTopKByKey"},
			{"SELECT id, s FROM f ORDER BY s LIMIT 998 START 3", nil, "SortByKey"},
			{"SELECT id, s FROM f ORDER BY s LIMIT $n", map[string]any{"n": 3}, "SortByKey"},
			{"SELECT id, s FROM f ORDER BY s START 3", nil, "SortByKey"},
			{"SELECT id, s FROM f ORDER BY s", nil, "SortByKey"},
		} {
			plan, err := one(t, c.sql+" EXPLAIN", c.vars)
			if err != nil {
				t.Fatalf("%s: %v", c.sql, err)
			}
			if s := fmt.Sprint(plan); !strings.Contains(s, "operator:"+c.op+"]") {
				t.Errorf("%s: plan lacks %s: %s", c.sql, c.op, s)
			}
		}
		// The full sort is unstable: tied rows leave id order.
		if got, want := ids(t, "SELECT id, s FROM f ORDER BY s"), byScore(false); reflect.DeepEqual(got, want) {
			t.Log("note: the full sort happened to keep ties in id order this time")
		}
	})
	t.Run("ORDER BY does not follow links", func(t *testing.T) {
		for _, sql := range []string{
			"SELECT id, author.name AS an FROM thread ORDER BY an DESC LIMIT 3",
			"SELECT id, author.name FROM thread ORDER BY author.name DESC",
		} {
			if got := ids(t, sql); !reflect.DeepEqual(got, []string{"thread:1", "thread:2", "thread:3"}) {
				t.Errorf("%s = %v, want id order (every key NONE)", sql, got)
			}
		}
		if got := ids(t, "SELECT id, s AS x FROM f WHERE s = 1 OR s = 3 ORDER BY x DESC LIMIT 1"); score[got[0]] != 3 {
			t.Errorf("ORDER BY a plain alias does not sort: %v", got)
		}
	})
	t.Run("values", func(t *testing.T) {
		for _, c := range []struct {
			sql  string
			want any
		}{
			{"RETURN [NONE < 1, NULL < 1, NONE < NULL, NONE = NULL, 1 < NONE, 1 = 1.0]", []any{true, true, true, false, false, true}},
			{"RETURN ['user:1' = user:1, d'2024-01-01T00:00:00Z' = '2024-01-01T00:00:00Z']", []any{false, false}},
			{"RETURN type::is_none((SELECT id FROM f WHERE s = 99)[0])", true},
			{"RETURN [<string> f:⟨10⟩, <string> type::record('f', 'a-b'), <string> f:a, <string> f:10]", []any{"f:`10`", "f:`a-b`", "f:a", "f:10"}},
		} {
			got, err := one(t, c.sql, nil)
			if err != nil {
				t.Fatalf("%s: %v", c.sql, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("%s = %v, want %v", c.sql, got, c.want)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, sql := range []string{
			"SELECT id FROM f ORDER BY s",                           // ORDER BY must be projected
			"SELECT * FROM thread WHERE string::lowercase(x) = 'a'", // thread:1 has no x: the whole query fails
			"SELECT * FROM never_written",                           // unknown table
			"LET $auth = 1; RETURN $auth",                           // $auth is protected
		} {
			if _, err := one(t, sql, nil); err == nil {
				t.Errorf("%s: no error", sql)
			}
		}
	})
}
