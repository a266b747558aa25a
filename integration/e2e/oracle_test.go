package e2e

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

// mkey identifies a member of a view: its record, and for a subquery row the record holding
// the subquery field (parent) and the field's alias (rel). Records are spelled by
// value.RecordString.
type mkey struct{ parent, rel, key string }

func (k mkey) String() string {
	if k.parent == "" {
		return k.key
	}
	return fmt.Sprintf("%s (parent %s, rel %s)", k.key, k.parent, k.rel)
}

// expectation is what SurrealDB's own answer to one view implies for its edges.
type expectation struct {
	v       view
	table   string          // list_ref table the view's edges belong in
	members map[mkey]int64  // member -> version (the row's `_00_version`)
	top     map[string]bool // records that are top-level members
}

var authRE = regexp.MustCompile(`\$auth\b`)

// expect runs every view on SurrealDB with its params and reads the membership off the answer:
// each top-level row's id, and for each subquery field (view.Subs) its rows' ids with the
// holding row as parent and the field's name as rel, recursively. Versions come from `_00_version`.
// SurrealDB does not let a client set `$auth`, so the view's `$auth` is renamed to a bound
// `$__auth` (the SSP defines `$auth` as the view's `params.auth`).
func expect(ctx context.Context, db *conn.Conn, views []view, mode refMode) (map[string]*expectation, error) {
	rs, err := db.Query(ctx, "SELECT record_id, version FROM _00_version", nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		return nil, fmt.Errorf("read _00_version: %w", err)
	}
	versions := map[string]int64{}
	for _, r := range rs[0].Value.Elems() {
		versions[value.RecordString(r.Get("record_id"))] = r.Get("version").AsInt()
	}
	out := map[string]*expectation{}
	for _, v := range views {
		params, err := value.FromAny(v.Params)
		if err != nil {
			return nil, fmt.Errorf("params of view %s: %w", v.Key, err)
		}
		vars := map[string]any{}
		for _, f := range params.Fields() {
			name := f.Key
			if name == "auth" {
				name = "__auth"
			}
			vars[name] = f.Val
		}
		rs, err := db.Query(ctx, authRE.ReplaceAllString(v.SurQL, "$$__auth"), vars)
		if err == nil {
			err = conn.StatementErr(rs)
		}
		if err != nil {
			return nil, fmt.Errorf("run view %s on SurrealDB: %w", v.Key, err)
		}
		e := &expectation{v: v, table: tableFor(mode, v.Owner), members: map[mkey]int64{}, top: map[string]bool{}}
		if err := e.walk(v.Subs, rs[0].Value, "", "", false, versions); err != nil {
			return nil, fmt.Errorf("view %s: %w", v.Key, err)
		}
		out[v.Key] = e
	}
	return out, nil
}

func (e *expectation) walk(subs []sub, rows value.Value, parent, rel string, single bool, versions map[string]int64) error {
	if single {
		if rows.IsNullish() {
			return nil
		}
		rows = value.Array([]value.Value{rows})
	}
	if rows.IsNullish() {
		return nil
	}
	if rows.Kind() != value.KindArray {
		return fmt.Errorf("rows under %q: got %s, want an array", rel, rows.Kind())
	}
	for _, row := range rows.Elems() {
		id := row.Get("id")
		if id.Kind() != value.KindRecord {
			return fmt.Errorf("a row under %q has no record id: %s", rel, row.SurQL())
		}
		key := value.RecordString(id)
		ver, ok := versions[key]
		if !ok {
			return fmt.Errorf("%s has no _00_version row", key)
		}
		e.members[mkey{parent, rel, key}] = ver
		if parent == "" {
			e.top[key] = true
		}
		for _, sq := range subs {
			if err := e.walk(sq.Subs, row.Get(sq.Name), key, sq.Name, sq.Single, versions); err != nil {
				return err
			}
		}
	}
	return nil
}

// snapshot is every row of every list_ref table: table -> edge id text -> row.
type snapshot map[string]map[string]value.Value

// readEdges reads `_00_list_ref` and every `_00_list_ref_user_*` table.
func readEdges(ctx context.Context, db *conn.Conn) (snapshot, error) {
	tables, err := listRefTables(ctx, db)
	if err != nil {
		return nil, err
	}
	snap := snapshot{}
	for _, tb := range tables {
		rs, err := db.Query(ctx, "SELECT * FROM type::table($tb)", map[string]any{"tb": tb})
		if err == nil {
			err = conn.StatementErr(rs)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", tb, err)
		}
		rows := map[string]value.Value{}
		for _, r := range rs[0].Value.Elems() {
			rows[value.RecordString(r.Get("id"))] = r
		}
		snap[tb] = rows
	}
	return snap, nil
}

// listRefTables returns the list_ref tables that exist, sorted.
func listRefTables(ctx context.Context, db *conn.Conn) ([]string, error) {
	rs, err := db.Query(ctx, "INFO FOR DB", nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		return nil, fmt.Errorf("INFO FOR DB: %w", err)
	}
	var out []string
	for _, f := range rs[0].Value.Get("tables").Fields() {
		if strings.HasPrefix(f.Key, globalTable) {
			out = append(out, f.Key)
		}
	}
	sort.Strings(out)
	return out, nil
}

// diffEdges compares the edge rows with the expectations row for row and returns every
// difference: rows of unknown views or in the wrong table, members without a row, rows without
// a member, duplicates, and wrong version, clientId, auth_id, parent or parent_rel. A subquery
// row's parent must be an edge of the same view whose `out` is the parent record — its
// top-level edge when the parent record is a top-level member.
func diffEdges(exp map[string]*expectation, snap snapshot) []string {
	var out []string
	seen := map[string]map[mkey]int{}
	for _, tb := range sortedKeys(snap) {
		rows := snap[tb]
		for _, id := range sortedKeys(rows) {
			row := rows[id]
			in := row.Get("in")
			if in.Kind() != value.KindRecord || in.Table() != queryTable {
				out = append(out, fmt.Sprintf("%s %s: in = %s is not a _00_query record", tb, id, in.SurQL()))
				continue
			}
			vk := in.Key().AsString()
			e, ok := exp[vk]
			if !ok {
				out = append(out, fmt.Sprintf("%s %s: edge of unknown view %s", tb, id, vk))
				continue
			}
			if tb != e.table {
				out = append(out, fmt.Sprintf("%s %s: edge of view %s belongs in %s", tb, id, vk, e.table))
				continue
			}
			k := mkey{key: value.RecordString(row.Get("out"))}
			if p := row.Get("parent"); !p.IsNone() {
				prow, ok := rows[value.RecordString(p)]
				switch {
				case !ok:
					out = append(out, fmt.Sprintf("%s %s: parent %s does not exist", tb, id, p.SurQL()))
					continue
				case !value.Equal(prow.Get("in"), in):
					out = append(out, fmt.Sprintf("%s %s: parent %s is an edge of another view", tb, id, p.SurQL()))
					continue
				}
				k.parent = value.RecordString(prow.Get("out"))
				if rel := row.Get("parent_rel"); rel.Kind() == value.KindString {
					k.rel = rel.AsString()
				} else {
					out = append(out, fmt.Sprintf("%s %s: parent_rel = %s, want a string", tb, id, rel.SurQL()))
				}
				if e.top[k.parent] && !prow.Get("parent").IsNone() {
					out = append(out, fmt.Sprintf("view %s: %s: parent points at a nested edge of %s, not at its top-level edge", vk, k, k.parent))
				}
			} else if rel := row.Get("parent_rel"); !rel.IsNone() {
				out = append(out, fmt.Sprintf("%s %s: top-level edge with parent_rel %s", tb, id, rel.SurQL()))
			}
			if seen[vk] == nil {
				seen[vk] = map[mkey]int{}
			}
			seen[vk][k]++
			if seen[vk][k] > 1 {
				out = append(out, fmt.Sprintf("view %s: duplicate edge %s for %s", vk, id, k))
				continue
			}
			ver, ok := e.members[k]
			if !ok {
				out = append(out, fmt.Sprintf("view %s: extra edge %s for %s", vk, id, k))
				continue
			}
			if v := row.Get("version"); v.Kind() != value.KindInt || v.AsInt() != ver {
				out = append(out, fmt.Sprintf("view %s: %s has version %s, want %d", vk, k, v.SurQL(), ver))
			}
			if c := row.Get("clientId"); c.Kind() != value.KindString || c.AsString() != e.v.Client {
				out = append(out, fmt.Sprintf("view %s: %s has clientId %s, want %q", vk, k, c.SurQL(), e.v.Client))
			}
			if a := row.Get("auth_id"); a.Kind() != value.KindString || a.AsString() != e.v.Owner {
				out = append(out, fmt.Sprintf("view %s: %s has auth_id %s, want %q", vk, k, a.SurQL(), e.v.Owner))
			}
		}
	}
	for _, vk := range sortedKeys(exp) {
		e := exp[vk]
		var missing []string
		for k, ver := range e.members {
			if seen[vk][k] == 0 {
				missing = append(missing, fmt.Sprintf("view %s: missing edge for %s v%d", vk, k, ver))
			}
		}
		sort.Strings(missing)
		out = append(out, missing...)
	}
	return out
}

// rowsText renders every row of snap as "table id => row" lines, sorted, leaving updatedAt
// out unless withTime.
func rowsText(snap snapshot, withTime bool) []string {
	var out []string
	for tb, rows := range snap {
		for id, r := range rows {
			if !withTime {
				r = r.With("updatedAt", value.None())
			}
			out = append(out, tb+" "+id+" => "+r.SurQL())
		}
	}
	sort.Strings(out)
	return out
}

// diffLines returns the lines only in a ("-") or only in b ("+").
func diffLines(a, b []string) []string {
	in := func(xs []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, x := range a {
		if !mb[x] {
			out = append(out, "- "+x)
		}
	}
	for _, x := range b {
		if !ma[x] {
			out = append(out, "+ "+x)
		}
	}
	return out
}

// head returns the first n lines of xs joined, with a count of the rest.
func head(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, "\n")
	}
	return strings.Join(xs[:n], "\n") + fmt.Sprintf("\n… and %d more", len(xs)-n)
}
