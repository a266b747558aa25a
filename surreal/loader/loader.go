// Package loader reads the base data the SSP bootstraps from (SPEC §5): the table list from
// `INFO FOR DB` (every table not starting with `_00_`) and each table's rows, paged by record
// id (keyset paging, so concurrent deletes cannot make it skip rows). It also reads each table's
// schema hint (Schema: the field types of `INFO FOR TABLE … STRUCTURE`, see package schema).
//
// The queries go through a Source. QuerierSource runs them with bound variables on anything
// that queries SurrealDB like a *conn.Conn (Querier); scheduler mode will provide a Source that
// runs them through the scheduler's /proxy/query endpoint (SPEC §6.2). A failed read is
// returned, never retried here: the connection retries transient failures itself.
package loader

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/schema"
	"github.com/sp00ky/ssp/surreal/value"
)

// The loader's queries. Variables: $tb the table name, $n the page size, $last the last id of
// the previous page.
const (
	QueryInfo      = "INFO FOR DB"
	QueryTableInfo = "INFO FOR TABLE $tb STRUCTURE"
	QueryFirstPage = "SELECT * FROM type::table($tb) ORDER BY id LIMIT $n"
	QueryNextPage  = "SELECT * FROM type::table($tb) WHERE id > $last ORDER BY id LIMIT $n"
	// The Versioned queries also project each row's committed version from Sp00ky's
	// `_00_version` table as `_00_rv` (NONE when the row has no version row), so that
	// bootstrapped rows carry the same version as the ingests of Sp00ky's events.
	QueryFirstPageVersioned = "SELECT *, " + versionField + " FROM type::table($tb) ORDER BY id LIMIT $n"
	QueryNextPageVersioned  = "SELECT *, " + versionField + " FROM type::table($tb) WHERE id > $last ORDER BY id LIMIT $n"
)

const versionField = "(SELECT VALUE version FROM ONLY " + membership.VersionTable + " WHERE record_id = $parent.id LIMIT 1) AS _00_rv"

// Source runs one read-only SurrealQL statement with its variables bound and returns the
// statement's result (for a SELECT, an array of row objects). A source that can only send
// query text must render the variables as SurrealQL literals.
type Source interface {
	QueryValue(ctx context.Context, surql string, vars map[string]value.Value) (value.Value, error)
}

// Querier runs SurrealQL with bound variables (values of type value.Value among them); a
// *conn.Conn is one.
type Querier interface {
	Query(ctx context.Context, surql string, vars map[string]any) ([]conn.Result, error)
}

// QuerierSource is a Source on a Querier, such as a SurrealDB connection.
type QuerierSource struct {
	Q Querier
}

// QueryValue runs surql through the Querier and returns its last statement's result.
func (s QuerierSource) QueryValue(ctx context.Context, surql string, vars map[string]value.Value) (value.Value, error) {
	bound := make(map[string]any, len(vars))
	for k, v := range vars {
		bound[k] = v
	}
	rs, err := s.Q.Query(ctx, surql, bound)
	if err != nil {
		return value.Value{}, err
	}
	if len(rs) == 0 {
		return value.Value{}, errors.New("no result")
	}
	last := rs[len(rs)-1]
	if last.Err != nil {
		return value.Value{}, last.Err
	}
	return last.Value, nil
}

// Loader reads tables through a Source.
type Loader struct {
	src Source
	// versioned records whether the last table listing saw membership.VersionTable: LoadTable then reads
	// each row's `_00_rv` from it (SurrealDB fails a query that reads a missing table).
	versioned atomic.Bool
}

// New returns a Loader reading from src.
func New(src Source) *Loader {
	return &Loader{src: src}
}

// TableDefinitions returns every table of the database with its DEFINE TABLE statement, as
// `INFO FOR DB` reports them (internal `_00_` tables included).
func (l *Loader) TableDefinitions(ctx context.Context) (map[string]string, error) {
	info, err := l.src.QueryValue(ctx, QueryInfo, nil)
	if err != nil {
		return nil, fmt.Errorf("list tables (INFO FOR DB): %w", err)
	}
	defs, err := tableDefs(info)
	if err != nil {
		return nil, fmt.Errorf("list tables (INFO FOR DB): %w", err)
	}
	_, ok := defs[membership.VersionTable]
	l.versioned.Store(ok)
	return defs, nil
}

// Tables returns the names of the base-data tables (every table not starting with `_00_`),
// sorted.
func (l *Loader) Tables(ctx context.Context) ([]string, error) {
	defs, err := l.TableDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(defs))
	for name := range defs {
		if !membership.IsInternal(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// tableDefs reads the `tables` field of an INFO FOR DB result, which may come as an object or
// as a one-element array holding it.
func tableDefs(info value.Value) (map[string]string, error) {
	if info.Kind() == value.KindArray {
		if info.Len() != 1 {
			return nil, fmt.Errorf("unexpected result: an array of %d elements", info.Len())
		}
		info = info.Elems()[0]
	}
	if info.Kind() != value.KindObject {
		return nil, fmt.Errorf("unexpected result of kind %s, want an object", info.Kind())
	}
	tables := info.Get("tables")
	switch tables.Kind() {
	case value.KindNone, value.KindNull:
		return map[string]string{}, nil
	case value.KindObject:
	default:
		return nil, fmt.Errorf("unexpected `tables` of kind %s, want an object", tables.Kind())
	}
	out := make(map[string]string, tables.Len())
	for _, f := range tables.Fields() {
		out[f.Key] = f.Val.AsString()
	}
	return out, nil
}

// LoadTable reads every row of table in record-id order, pageSize rows at a time
// (SPKY_SSP_BOOTSTRAP_PAGE_SIZE; it must be positive), and calls fn with each non-empty page;
// each row's id is a record (not spelled, see package value, even from a JSON source). It stops at the
// first error, from the source or from fn. When the last Tables or TableDefinitions call saw
// membership.VersionTable, every row carries its committed version as `_00_rv` (QueryFirstPageVersioned).
func (l *Loader) LoadTable(ctx context.Context, table string, pageSize int, fn func(rows []value.Value) error) error {
	if pageSize <= 0 {
		return fmt.Errorf("load table %s: page size %d must be positive", table, pageSize)
	}
	vars := map[string]value.Value{"tb": value.String(table), "n": value.Int(int64(pageSize))}
	q, next := QueryFirstPage, QueryNextPage
	if l.versioned.Load() {
		q, next = QueryFirstPageVersioned, QueryNextPageVersioned
	}
	for page := 1; ; page++ {
		res, err := l.src.QueryValue(ctx, q, vars)
		if err != nil {
			return fmt.Errorf("load table %s page %d: %w", table, page, err)
		}
		if res.Kind() != value.KindArray {
			return fmt.Errorf("load table %s page %d: result of kind %s, want an array of rows", table, page, res.Kind())
		}
		rows := res.Elems()
		if len(rows) == 0 {
			return nil
		}
		copied := false
		for i, r := range rows {
			// A row's id is a record, whatever the wire made of it (plain JSON spells it).
			if id := r.Get("id"); id.Kind() == value.KindRecord {
				if _, spelled := id.Spelling(); spelled {
					if !copied { // values are immutable: change a copy
						rows, copied = append([]value.Value(nil), rows...), true
					}
					rows[i] = r.With("id", id.Unspelled())
				}
			}
		}
		last := rows[len(rows)-1].Get("id")
		if last.Kind() != value.KindRecord {
			return fmt.Errorf("load table %s page %d: row without a record id: %s", table, page, rows[len(rows)-1].SurQL())
		}
		if err := fn(rows); err != nil {
			return fmt.Errorf("load table %s page %d: %w", table, page, err)
		}
		if len(rows) < pageSize {
			return nil
		}
		vars["last"] = last
		q = next
	}
}

// Schema reads the schema hint of table from `INFO FOR TABLE … STRUCTURE`: which field paths
// SurrealDB types as strings and which as record links. A table that is not defined has none.
func (l *Loader) Schema(ctx context.Context, table string) (schema.Table, error) {
	info, err := l.src.QueryValue(ctx, QueryTableInfo, map[string]value.Value{"tb": value.String(table)})
	if err != nil {
		return schema.Table{}, fmt.Errorf("read the schema of table %s (INFO FOR TABLE): %w", table, err)
	}
	t, err := schema.FromInfo(info)
	if err != nil {
		return schema.Table{}, fmt.Errorf("read the schema of table %s (INFO FOR TABLE): %w", table, err)
	}
	return t, nil
}

// Schemas reads the schema hints of tables (Schema); tables whose hint is empty are left out.
func (l *Loader) Schemas(ctx context.Context, tables []string) (map[string]schema.Table, error) {
	out := map[string]schema.Table{}
	for _, t := range tables {
		h, err := l.Schema(ctx, t)
		if err != nil {
			return nil, err
		}
		if !h.IsZero() {
			out[t] = h
		}
	}
	return out, nil
}
