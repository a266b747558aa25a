package difftest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// NoVersion marks a member whose version is unknown: the SurrealDB row it was read from does not
// carry `_00_rv` because the projection leaves it out. Versions are compared only when both sides
// know them.
const NoVersion int64 = -1

// memberKey identifies a member: (parent, rel, key).
type memberKey struct{ Parent, Rel, Key string }

// Membership is a view's membership keyed by (parent, rel, key).
type Membership map[memberKey]engine.Member

// Sorted returns the members sorted by parent, rel and key (the replay order).
func (m Membership) Sorted() []engine.Member {
	out := make([]engine.Member, 0, len(m))
	for _, x := range m {
		out = append(out, x)
	}
	engine.SortMembers(out)
	return out
}

// canonRecord rewrites a record id's text into value.RecordString's spelling, so that `user:⟨10⟩`
// and "user:`10`" compare equal; text that is not a record id is kept as is.
func canonRecord(s string) string {
	if s == "" {
		return s
	}
	if r, ok := value.ParseRecord(s); ok {
		return value.RecordString(r)
	}
	return s
}

// FromEngine turns the engine's members into a Membership with canonical record spellings.
func FromEngine(ms []engine.Member) Membership {
	out := make(Membership, len(ms))
	for _, m := range ms {
		m.Key, m.Parent = canonRecord(m.Key), canonRecord(m.Parent)
		out[memberKey{m.Parent, m.Rel, m.Key}] = m
	}
	return out
}

// FromResult reads a view's membership off SurrealDB's result for it: every top-level row's id is
// a member; every projected field that is a subquery (`(SELECT …) AS x`, `(SELECT …)[0] AS x`)
// contributes its rows' ids with the holding row as parent and the field's output name as rel,
// recursively. Versions come from `_00_rv` where the row carries it (1 when a `SELECT *` row
// lacks it), else NoVersion.
func FromResult(sel *surql.Select, result any) (Membership, error) {
	out := Membership{}
	if err := walkRows(sel, result, "", "", false, out); err != nil {
		return nil, err
	}
	return out, nil
}

func walkRows(sel *surql.Select, rows any, parent, rel string, single bool, out Membership) error {
	if single {
		if rows == nil {
			return nil // (…)[0] of an empty result is NONE
		}
		return walkRow(sel, rows, parent, rel, out)
	}
	if rows == nil {
		return nil
	}
	list, ok := rows.([]any)
	if !ok {
		return fmt.Errorf("expected an array of rows, got %T", rows)
	}
	for _, r := range list {
		if err := walkRow(sel, r, parent, rel, out); err != nil {
			return err
		}
	}
	return nil
}

func walkRow(sel *surql.Select, r any, parent, rel string, out Membership) error {
	row, ok := r.(map[string]any)
	if !ok {
		return fmt.Errorf("expected a row object, got %T", r)
	}
	rawID, ok := row["id"]
	if !ok {
		return fmt.Errorf("a row of `SELECT … FROM %s` has no id: project `id` (or `*`) in every corpus query", sel.From)
	}
	idv, err := fromSurreal(rawID)
	if err != nil {
		return fmt.Errorf("row id: %w", err)
	}
	if idv.Kind() != value.KindRecord {
		return fmt.Errorf("row id %v is not a record id", rawID)
	}
	key := value.RecordString(idv)
	m := engine.Member{Key: key, Version: NoVersion, Parent: parent, Rel: rel}
	if sel.Star || projects(sel, "_00_rv") {
		m.Version = 1
		if rv, ok := row["_00_rv"]; ok {
			v, err := fromSurreal(rv)
			if err != nil {
				return fmt.Errorf("_00_rv of %s: %w", key, err)
			}
			if v.Kind() == value.KindInt {
				m.Version = v.AsInt()
			}
		}
	}
	out[memberKey{parent, rel, key}] = m
	for _, f := range sel.Fields {
		sq, ok := f.Expr.(*surql.Subquery)
		if !ok {
			continue
		}
		name := f.Name()
		rows, present := row[name]
		if !present && f.Alias == "" {
			// SurrealDB names an unaliased field by its own printing of the expression, so
			// the oracle's text, where $auth is $__auth (see compile), names it.
			rows, present = row[strings.ReplaceAll(name, "$auth", "$__auth")]
		}
		if !present && f.Alias == "" {
			return fmt.Errorf("SurrealDB's row %s has no field %q, which the SSP names the unaliased subquery (its fields: %s)", key, name, strings.Join(sortedKeys(row), ", "))
		}
		if err := walkRows(sq.Select, rows, key, name, sq.Index != nil, out); err != nil {
			return fmt.Errorf("%s of %s: %w", name, key, err)
		}
	}
	return nil
}

func projects(sel *surql.Select, field string) bool {
	for _, f := range sel.Fields {
		if id, ok := f.Expr.(*surql.Idiom); ok && f.Alias == "" && id.String() == field {
			return true
		}
	}
	return false
}

// Diff compares the oracle's membership with the engine's. It returns a human-readable list of
// differences, empty when they agree. Versions are compared only where the oracle knows them.
func Diff(oracle, got Membership) []string {
	var out []string
	for k, o := range oracle {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, "missing in engine: "+fmtMember(o))
		case o.Version != NoVersion && o.Version != g.Version:
			out = append(out, fmt.Sprintf("version of %s: SurrealDB %d, engine %d", fmtKey(k), o.Version, g.Version))
		}
	}
	for k, g := range got {
		if _, ok := oracle[k]; !ok {
			out = append(out, "extra in engine: "+fmtMember(g))
		}
	}
	sort.Strings(out)
	return out
}

func fmtKey(k memberKey) string {
	if k.Parent == "" && k.Rel == "" {
		return k.Key
	}
	return fmt.Sprintf("%s (parent %s, rel %s)", k.Key, k.Parent, k.Rel)
}

func fmtMember(m engine.Member) string {
	s := fmtKey(memberKey{m.Parent, m.Rel, m.Key})
	if m.Version != NoVersion {
		s += fmt.Sprintf(" v%d", m.Version)
	}
	return s
}

// FormatMembers renders a sorted membership one member per line.
func FormatMembers(ms []engine.Member) string {
	if len(ms) == 0 {
		return "  (none)\n"
	}
	var b strings.Builder
	for _, m := range ms {
		b.WriteString("  " + fmtMember(m) + "\n")
	}
	return b.String()
}
