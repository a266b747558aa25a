// Package membership writes what the SSP keeps in SurrealDB (SPEC §2): the edge rows that
// record each view's members in the list_ref tables (`_00_list_ref` and the per-user
// `_00_list_ref_user_<uid>`), the `_00_query` rows of the views, and the `_00_version` wait
// that keeps an edge from being visible before the row it points at.
//
// Every record id, alias and key is bound as a query variable; only table names that passed
// ValidTableName appear in SurrealQL text (DDL cannot take them as variables).
//
// Nothing here retries or sleeps (WaitVersion's polling aside, which waits for another
// transaction rather than retrying a failure): every write is one query through a Querier,
// which retries transient failures itself (package conn). A Writer owns one list_ref table and
// is owned by one goroutine; the table-level operations (DefineUserTable, RemoveUserTable,
// DefineGlobalTable, ListRefTables, ClearEdges) are stateless functions.
//
// View ownership (SPEC §6.7): when several SSPs share the database, each view's `_00_query`
// row names its SSP in ssp_id. A Writer with an Owner claims views (ClaimView) and skips and
// reports the views another SSP claimed (fencing, see Writer); Reconcile, ClearEdges and the
// Store's reads take an owner or a scope so that an SSP touches only its own views. An empty
// owner means standalone: every view is this SSP's.
package membership

import (
	"fmt"
	"strings"

	"github.com/sp00ky/ssp/surreal/value"
)

// RefMode says where edges go (SPKY_SSP_REF_MODE).
type RefMode string

// The ref modes.
const (
	// RefDedicated puts the edges of a view owned by user:<uid> into _00_list_ref_user_<uid>.
	RefDedicated RefMode = "dedicated"
	// RefSingle puts every edge into _00_list_ref.
	RefSingle RefMode = "single"
)

// ParseRefMode reads a ref mode case-insensitively; empty means RefDedicated.
func ParseRefMode(s string) (RefMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", string(RefDedicated):
		return RefDedicated, nil
	case string(RefSingle):
		return RefSingle, nil
	}
	return "", fmt.Errorf("unknown ref mode %q: use %q or %q", s, RefDedicated, RefSingle)
}

// InternalPrefix starts the name of every table of the SSP and of Sp00ky itself (`_00_query`,
// `_00_list_ref*`, `_00_version`, `_00_rv`, …): none of them is base data (SPEC §1.1).
const InternalPrefix = "_00_"

// IsInternal reports whether table is one of the SSP's or Sp00ky's own tables.
func IsInternal(table string) bool { return strings.HasPrefix(table, InternalPrefix) }

// Table names of the SSP.
const (
	// GlobalTable holds every edge in single mode and the edges of views without a usable owner
	// in dedicated mode.
	GlobalTable = "_00_list_ref"
	// UserTablePrefix starts the name of every per-user list_ref table.
	UserTablePrefix = "_00_list_ref_user_"
	// QueryTable holds one row per view.
	QueryTable = "_00_query"
	// VersionTable holds the committed version of every row (written by Sp00ky's schema events).
	VersionTable = "_00_version"
)

// ValidTableName reports whether name may be pasted into SurrealQL text: non-empty and only
// ASCII letters, digits and underscores.
func ValidTableName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// UserID returns the uid of an owner id: authID without a leading `user:`, when what remains
// is non-empty and only [A-Za-z0-9_]. ok is false otherwise (such owners use GlobalTable).
func UserID(authID string) (uid string, ok bool) {
	uid = strings.TrimPrefix(authID, "user:")
	if !ValidTableName(uid) {
		return "", false
	}
	return uid, true
}

// UserTable returns the per-user list_ref table of uid (which must satisfy UserID's rule).
func UserTable(uid string) string {
	return UserTablePrefix + uid
}

// TableFor returns the list_ref table for the edges of a view owned by authID (SPEC §2.2):
// GlobalTable in single mode; in dedicated mode the owner's UserTable when UserID accepts
// authID, else GlobalTable.
func TableFor(mode RefMode, authID string) string {
	if mode == RefSingle {
		return GlobalTable
	}
	if uid, ok := UserID(authID); ok {
		return UserTable(uid)
	}
	return GlobalTable
}

// QueryRecord returns the record id `_00_query:<key>` of a view (the key is always a string
// key, so `_00_query:⟨123⟩` for the key "123").
func QueryRecord(key string) value.Value {
	return value.Record(QueryTable, value.String(key))
}

// userTableDDL returns the statements defining the per-user table of uid (SPEC §2.2).
// uid must satisfy ValidTableName.
func userTableDDL(uid string) string {
	tb := UserTable(uid)
	var b strings.Builder
	fmt.Fprintf(&b, "DEFINE TABLE OVERWRITE %s SCHEMALESS PERMISSIONS FOR select WHERE $auth.id = user:%s, "+
		"FOR create, update, delete WHERE false;\n", tb, uid)
	writeFields(&b, tb, "OVERWRITE")
	return b.String()
}

// globalTableDDL returns the statements defining GlobalTable unless the application's schema
// already did: every signed-in user may read the edges of their own views.
func globalTableDDL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "DEFINE TABLE IF NOT EXISTS %s SCHEMALESS PERMISSIONS FOR select WHERE auth_id = <string>$auth.id, "+
		"FOR create, update, delete WHERE false;\n", GlobalTable)
	writeFields(&b, GlobalTable, "IF NOT EXISTS")
	return b.String()
}

func writeFields(b *strings.Builder, tb, mode string) {
	for _, f := range []struct{ name, typ string }{
		{"in", "TYPE record"},
		{"out", "TYPE record"},
		{"clientId", "TYPE string"},
		{"auth_id", "TYPE string"},
		{"version", "TYPE int"},
		{"parent", "TYPE option<record<" + tb + ">>"},
		{"parent_rel", "TYPE option<string>"},
		{"updatedAt", "TYPE datetime VALUE time::now()"},
	} {
		fmt.Fprintf(b, "DEFINE FIELD %s %s ON TABLE %s %s;\n", mode, f.name, tb, f.typ)
	}
}
