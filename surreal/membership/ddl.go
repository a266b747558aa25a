package membership

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

// EnsureUserTable defines the per-user list_ref table of uid (SPEC §2.2: `DEFINE TABLE
// OVERWRITE … PERMISSIONS FOR select WHERE $auth.id = user:<uid>, FOR create, update, delete
// WHERE false` and its fields), once per process per uid. Transaction conflicts are retried.
func (w *Writer) EnsureUserTable(ctx context.Context, uid string) error {
	if !ValidTableName(uid) {
		return fmt.Errorf("define list_ref table: user id %q is not [A-Za-z0-9_]+", uid)
	}
	st := w.userDDL(uid)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.defined {
		return nil
	}
	if err := w.ddl(ctx, userTableDDL(uid), nil); err != nil {
		return fmt.Errorf("define list_ref table %s: %w", UserTable(uid), err)
	}
	st.defined = true
	return nil
}

// userDDLState serializes the definition and removal of one user's table; other users' run
// at the same time (a definition waits for a database round trip, and every per-user writer
// checks its table before each flush).
type userDDLState struct {
	mu      sync.Mutex
	defined bool // this process defined the table (and did not remove it since)
}

func (w *Writer) userDDL(uid string) *userDDLState {
	w.ddlMu.Lock()
	defer w.ddlMu.Unlock()
	st := w.defined[uid]
	if st == nil {
		st = &userDDLState{}
		w.defined[uid] = st
	}
	return st
}

// EnsureGlobalTable defines `_00_list_ref` with its fields unless they exist already (the
// application's schema may define them).
func (w *Writer) EnsureGlobalTable(ctx context.Context) error {
	if err := w.ddl(ctx, globalTableDDL(), nil); err != nil {
		return fmt.Errorf("define list_ref table %s: %w", GlobalTable, err)
	}
	return nil
}

// ddl runs idempotent statements, retrying them whole on transaction conflicts.
func (w *Writer) ddl(ctx context.Context, surql string, vars map[string]any) error {
	var err error
	for attempt := 1; ; attempt++ {
		var rs []conn.Result
		rs, err = w.q.Query(ctx, surql, vars)
		if err == nil {
			err = conn.StatementErr(rs)
		}
		if err == nil || attempt >= w.opts.MaxAttempts || ctx.Err() != nil || !conn.IsConflict(err) {
			return err
		}
		if werr := conn.Sleep(ctx, conn.Backoff(w.opts.BaseBackoff, w.opts.MaxBackoff, attempt)); werr != nil {
			return fmt.Errorf("%w (last error: %v)", werr, err)
		}
	}
}

// DropUserTable removes the per-user list_ref table of uid (`REMOVE TABLE IF EXISTS`) and
// forgets the edges the writer tracked in it.
func (w *Writer) DropUserTable(ctx context.Context, uid string) error {
	if !ValidTableName(uid) {
		return fmt.Errorf("remove list_ref table: user id %q is not [A-Za-z0-9_]+", uid)
	}
	table := UserTable(uid)
	st := w.userDDL(uid)
	st.mu.Lock()
	defer st.mu.Unlock()
	w.mu.Lock()
	w.forgetTableLocked(table)
	w.mu.Unlock()
	st.defined = false
	if err := w.ddl(ctx, "REMOVE TABLE IF EXISTS "+table+";", nil); err != nil {
		return fmt.Errorf("remove list_ref table %s: %w", table, err)
	}
	return nil
}

func (w *Writer) forgetTableLocked(table string) {
	for ref := range w.views {
		if ref.table == table {
			delete(w.views, ref)
		}
	}
	delete(w.queue, table)
}

// ListRefTables returns `_00_list_ref` and every `_00_list_ref_user_*` table that exists,
// found with `INFO FOR DB`.
func (w *Writer) ListRefTables(ctx context.Context) ([]string, error) {
	rs, err := w.q.Query(ctx, "INFO FOR DB", nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		return nil, fmt.Errorf("list list_ref tables: %w", err)
	}
	info := rs[0].Value
	if info.Kind() == value.KindArray && info.Len() == 1 {
		info = info.Elems()[0]
	}
	var out []string
	for _, f := range info.Get("tables").Fields() {
		if f.Key == GlobalTable || (strings.HasPrefix(f.Key, UserTablePrefix) && ValidTableName(f.Key)) {
			out = append(out, f.Key)
		}
	}
	return out, nil
}

// ClearAll deletes every edge of every list_ref table (for /reset) and forgets all tracked
// membership and pending writes. The tables and their definitions stay.
func (w *Writer) ClearAll(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.views = map[viewRef]*viewState{}
	w.queue = map[string]*tableQueue{}
	tables, err := w.ListRefTables(ctx)
	if err != nil {
		return fmt.Errorf("clear edges: %w", err)
	}
	if len(tables) == 0 {
		return nil
	}
	var b strings.Builder
	vars := map[string]any{}
	b.WriteString("BEGIN TRANSACTION;\n")
	for i, t := range tables {
		fmt.Fprintf(&b, "DELETE type::table($t%d) RETURN NONE;\n", i)
		vars[fmt.Sprintf("t%d", i)] = t
	}
	b.WriteString("COMMIT TRANSACTION;")
	if err := w.ddl(ctx, b.String(), vars); err != nil {
		return fmt.Errorf("clear edges of %s: %w", strings.Join(tables, ", "), err)
	}
	return nil
}
