package e2e

import (
	"context"
	"fmt"
	"regexp"

	"github.com/sp00ky/ssp/internal/sspproc"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

var authRE = regexp.MustCompile(`\$auth\b`)

// expect runs every view on SurrealDB with its params and reads the membership off the answer:
// each top-level row's id, and for each subquery field (view.Subs) its rows' ids with the
// holding row as parent and the field's name as rel, recursively. Versions come from `_00_version`.
// SurrealDB does not let a client set `$auth`, so the view's `$auth` is renamed to a bound
// `$__auth` (the SSP defines `$auth` as the view's `params.auth`).
func expect(ctx context.Context, db *conn.Conn, views []view, mode refMode) (map[string]*sspproc.Expected, error) {
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
	out := map[string]*sspproc.Expected{}
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
		e := &sspproc.Expected{Table: tableFor(mode, v.Owner), Client: v.Client, Owner: v.Owner, Members: map[mkey]int64{}, Top: map[string]bool{}}
		if err := walk(e, v.Subs, rs[0].Value, "", "", false, versions); err != nil {
			return nil, fmt.Errorf("view %s: %w", v.Key, err)
		}
		out[v.Key] = e
	}
	return out, nil
}

// walk adds the members of rows (under parent and rel) to e.
func walk(e *sspproc.Expected, subs []sub, rows value.Value, parent, rel string, single bool, versions map[string]int64) error {
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
		e.Members[mkey{Parent: parent, Rel: rel, Key: key}] = ver
		if parent == "" {
			e.Top[key] = true
		}
		for _, sq := range subs {
			if err := walk(e, sq.Subs, row.Get(sq.Name), key, sq.Name, sq.Single, versions); err != nil {
				return err
			}
		}
	}
	return nil
}
