package sspproc

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

// The list_ref layout of SPEC §2.2, written out here rather than taken from the SSP's own
// packages so that the checker does not share the code it checks.

// RefMode is SPKY_SSP_REF_MODE.
type RefMode string

const (
	Dedicated RefMode = "dedicated"
	Single    RefMode = "single"
)

const (
	GlobalTable     = "_00_list_ref"
	UserTablePrefix = "_00_list_ref_user_"
	QueryTable      = "_00_query"
)

// ValidName reports whether s is non-empty and only [A-Za-z0-9_].
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// UserUID returns the uid of an owner `user:<uid>` when it may name a per-user table.
func UserUID(authID string) (string, bool) {
	uid := strings.TrimPrefix(authID, "user:")
	return uid, ValidName(uid)
}

// UserTable is the per-user list_ref table of uid.
func UserTable(uid string) string { return UserTablePrefix + uid }

// TableFor is the list_ref table of the edges of a view owned by authID.
func TableFor(mode RefMode, authID string) string {
	if mode == Single {
		return GlobalTable
	}
	if uid, ok := UserUID(authID); ok {
		return UserTable(uid)
	}
	return GlobalTable
}

// Member identifies a member of a view: its record, and for a subquery row the record holding
// the subquery field (Parent) and the field's name (Rel). Records are spelled by
// value.RecordString.
type Member struct{ Parent, Rel, Key string }

func (k Member) String() string {
	if k.Parent == "" {
		return k.Key
	}
	return fmt.Sprintf("%s (parent %s, rel %s)", k.Key, k.Parent, k.Rel)
}

// Expected is what a test expects of one view's edges: their table, clientId and auth_id, and
// its members with their versions (Top: the records that are top-level members).
type Expected struct {
	Table, Client, Owner string
	Members              map[Member]int64
	Top                  map[string]bool
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Snapshot is every row of every list_ref table: table -> edge id text -> row.
type Snapshot map[string]map[string]value.Value

// ReadEdges reads `_00_list_ref` and every `_00_list_ref_user_*` table.
func ReadEdges(ctx context.Context, db *conn.Conn) (Snapshot, error) {
	tables, err := ListRefTables(ctx, db)
	if err != nil {
		return nil, err
	}
	snap := Snapshot{}
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

// ListRefTables returns the list_ref tables that exist, sorted.
func ListRefTables(ctx context.Context, db *conn.Conn) ([]string, error) {
	rs, err := db.Query(ctx, "INFO FOR DB", nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		return nil, fmt.Errorf("INFO FOR DB: %w", err)
	}
	var out []string
	for _, f := range rs[0].Value.Get("tables").Fields() {
		if strings.HasPrefix(f.Key, GlobalTable) {
			out = append(out, f.Key)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DiffEdges compares the edge rows with the expectations row for row and returns every
// difference: rows of unknown views or in the wrong table, members without a row, rows without
// a member, duplicates, and wrong version, clientId, auth_id, parent or parent_rel. A subquery
// row's parent must be an edge of the same view whose `out` is the parent record — its
// top-level edge when the parent record is a top-level member.
func DiffEdges(exp map[string]*Expected, snap Snapshot) []string {
	var out []string
	seen := map[string]map[Member]int{}
	for _, tb := range sortedKeys(snap) {
		rows := snap[tb]
		for _, id := range sortedKeys(rows) {
			row := rows[id]
			in := row.Get("in")
			if in.Kind() != value.KindRecord || in.Table() != QueryTable {
				out = append(out, fmt.Sprintf("%s %s: in = %s is not a _00_query record", tb, id, in.SurQL()))
				continue
			}
			vk := in.Key().AsString()
			e, ok := exp[vk]
			if !ok {
				out = append(out, fmt.Sprintf("%s %s: edge of unknown view %s", tb, id, vk))
				continue
			}
			if tb != e.Table {
				out = append(out, fmt.Sprintf("%s %s: edge of view %s belongs in %s", tb, id, vk, e.Table))
				continue
			}
			k := Member{Key: value.RecordString(row.Get("out"))}
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
				k.Parent = value.RecordString(prow.Get("out"))
				if rel := row.Get("parent_rel"); rel.Kind() == value.KindString {
					k.Rel = rel.AsString()
				} else {
					out = append(out, fmt.Sprintf("%s %s: parent_rel = %s, want a string", tb, id, rel.SurQL()))
				}
				if e.Top[k.Parent] && !prow.Get("parent").IsNone() {
					out = append(out, fmt.Sprintf("view %s: %s: parent points at a nested edge of %s, not at its top-level edge", vk, k, k.Parent))
				}
			} else if rel := row.Get("parent_rel"); !rel.IsNone() {
				out = append(out, fmt.Sprintf("%s %s: top-level edge with parent_rel %s", tb, id, rel.SurQL()))
			}
			if seen[vk] == nil {
				seen[vk] = map[Member]int{}
			}
			seen[vk][k]++
			if seen[vk][k] > 1 {
				out = append(out, fmt.Sprintf("view %s: duplicate edge %s for %s", vk, id, k))
				continue
			}
			ver, ok := e.Members[k]
			if !ok {
				out = append(out, fmt.Sprintf("view %s: extra edge %s for %s", vk, id, k))
				continue
			}
			if v := row.Get("version"); v.Kind() != value.KindInt || v.AsInt() != ver {
				out = append(out, fmt.Sprintf("view %s: %s has version %s, want %d", vk, k, v.SurQL(), ver))
			}
			if c := row.Get("clientId"); c.Kind() != value.KindString || c.AsString() != e.Client {
				out = append(out, fmt.Sprintf("view %s: %s has clientId %s, want %q", vk, k, c.SurQL(), e.Client))
			}
			if a := row.Get("auth_id"); a.Kind() != value.KindString || a.AsString() != e.Owner {
				out = append(out, fmt.Sprintf("view %s: %s has auth_id %s, want %q", vk, k, a.SurQL(), e.Owner))
			}
		}
	}
	for _, vk := range sortedKeys(exp) {
		e := exp[vk]
		var missing []string
		for k, ver := range e.Members {
			if seen[vk][k] == 0 {
				missing = append(missing, fmt.Sprintf("view %s: missing edge for %s v%d", vk, k, ver))
			}
		}
		sort.Strings(missing)
		out = append(out, missing...)
	}
	return out
}

// RowsText renders every row of snap as "table id => row" lines, sorted, leaving updatedAt
// out unless withTime.
func RowsText(snap Snapshot, withTime bool) []string {
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

// DiffLines returns the lines only in a ("-") or only in b ("+").
func DiffLines(a, b []string) []string {
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

// Head returns the first n lines of xs joined, with a count of the rest.
func Head(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, "\n")
	}
	return strings.Join(xs[:n], "\n") + fmt.Sprintf("\n… and %d more", len(xs)-n)
}
