package membership

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

// The table-level operations below are stateless: each is one query through q (which retries
// what is transient), and whether a table was already defined by this process is the caller's
// state.

// run runs a query and returns its results, failing on any failed statement.
func run(ctx context.Context, q Querier, surql string, vars map[string]any) ([]conn.Result, error) {
	rs, err := q.Query(ctx, surql, vars)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	return rs, err
}

// DefineUserTable defines the per-user list_ref table of uid (SPEC §2.2: `DEFINE TABLE
// OVERWRITE … PERMISSIONS FOR select WHERE $auth.id = user:<uid>, FOR create, update, delete
// WHERE false` and its fields). It is idempotent; uid must satisfy ValidTableName.
func DefineUserTable(ctx context.Context, q Querier, uid string) error {
	if !ValidTableName(uid) {
		return fmt.Errorf("define list_ref table: user id %q is not [A-Za-z0-9_]+", uid)
	}
	if _, err := run(ctx, q, userTableDDL(uid), nil); err != nil {
		return fmt.Errorf("define list_ref table %s: %w", UserTable(uid), err)
	}
	return nil
}

// RemoveUserTable removes the per-user list_ref table of uid and its edges (`REMOVE TABLE IF
// EXISTS`); uid must satisfy ValidTableName.
func RemoveUserTable(ctx context.Context, q Querier, uid string) error {
	if !ValidTableName(uid) {
		return fmt.Errorf("remove list_ref table: user id %q is not [A-Za-z0-9_]+", uid)
	}
	table := UserTable(uid)
	if _, err := run(ctx, q, "REMOVE TABLE IF EXISTS "+table+";", nil); err != nil {
		return fmt.Errorf("remove list_ref table %s: %w", table, err)
	}
	return nil
}

// DefineGlobalTable defines `_00_list_ref` with its fields unless they exist already (the
// application's schema may define them).
func DefineGlobalTable(ctx context.Context, q Querier) error {
	if _, err := run(ctx, q, globalTableDDL(), nil); err != nil {
		return fmt.Errorf("define list_ref table %s: %w", GlobalTable, err)
	}
	return nil
}

// ListRefTables returns, sorted, `_00_list_ref` and every `_00_list_ref_user_*` table that
// exists, found with `INFO FOR DB`.
func ListRefTables(ctx context.Context, q Querier) ([]string, error) {
	tables, _, err := listRefTables(ctx, q)
	return tables, err
}

// listRefTables is ListRefTables, and whether `_00_query` exists.
func listRefTables(ctx context.Context, q Querier) (tables []string, queryTable bool, err error) {
	rs, err := run(ctx, q, "INFO FOR DB", nil)
	if err != nil {
		return nil, false, fmt.Errorf("list list_ref tables: %w", err)
	}
	info := rs[0].Value
	if info.Kind() == value.KindArray && info.Len() == 1 {
		info = info.Elems()[0]
	}
	for _, f := range info.Get("tables").Fields() {
		switch {
		case f.Key == QueryTable:
			queryTable = true
		case f.Key == GlobalTable || (strings.HasPrefix(f.Key, UserTablePrefix) && ValidTableName(f.Key)):
			tables = append(tables, f.Key)
		}
	}
	sort.Strings(tables)
	return tables, queryTable, nil
}

// ClearEdges deletes edges of every list_ref table in one transaction (for /reset): every edge
// when owner is "" (standalone), else only the edges whose `in` is the `_00_query` row of a
// view whose ssp_id is owner (none when `_00_query` does not exist). The tables and their
// definitions stay. Writers of those tables must Forget what they mirror.
func ClearEdges(ctx context.Context, q Querier, owner string) error {
	tables, queryTable, err := listRefTables(ctx, q)
	if err != nil {
		return fmt.Errorf("clear edges: %w", err)
	}
	if len(tables) == 0 || (owner != "" && !queryTable) {
		return nil
	}
	var b strings.Builder
	vars := map[string]any{}
	where := ""
	b.WriteString("BEGIN TRANSACTION;\n")
	if owner != "" {
		// The owner's views are read once; an edge's `in` is not followed (it may name a
		// table that does not exist, which fails the read).
		vars["own"], vars["qt"] = owner, QueryTable
		b.WriteString("LET $mine = SELECT VALUE id FROM type::table($qt) WHERE ssp_id = $own;\n")
		where = " WHERE in IN $mine"
	}
	for i, t := range tables {
		fmt.Fprintf(&b, "DELETE type::table($t%d)%s RETURN NONE;\n", i, where)
		vars[fmt.Sprintf("t%d", i)] = t
	}
	b.WriteString("COMMIT TRANSACTION;")
	if _, err := run(ctx, q, b.String(), vars); err != nil {
		return fmt.Errorf("clear edges of %s: %w", strings.Join(tables, ", "), err)
	}
	return nil
}
