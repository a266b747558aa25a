package membership

import (
	"context"
	"strings"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/sp00ky/ssp/surreal/value"
)

// TestTableDDL: the DDL functions are stateless — every call is one query, nothing is cached
// or retried here — and idempotent; RemoveUserTable takes the table's edges with it; user ids
// that may not be pasted into SurrealQL are refused without a query.
func TestTableDDL(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	tables := func() value.Value {
		t.Helper()
		return e.exec("INFO FOR DB", nil)[0].Value.Get("tables")
	}
	before := e.queries()
	for range 3 {
		if err := DefineUserTable(e.ctx, e.q, "alice"); err != nil {
			t.Fatalf("DefineUserTable: %v", err)
		}
	}
	if n := e.queries() - before; n != 3 {
		t.Fatalf("%d queries for three DefineUserTable calls, want 3", n)
	}
	info := e.exec("INFO FOR TABLE _00_list_ref_user_alice", nil)[0].Value
	tbDef := tables().Get("_00_list_ref_user_alice").AsString()
	for _, want := range []string{"SCHEMALESS", "FOR select WHERE $auth.id = (user:alice)", "FOR create, update, delete WHERE false"} {
		if !strings.Contains(tbDef, want) {
			t.Errorf("table definition %q lacks %q", tbDef, want)
		}
	}
	fields := info.Get("fields")
	for name, want := range map[string]string{
		"in": "TYPE record", "out": "TYPE record", "clientId": "TYPE string", "auth_id": "TYPE string",
		"version": "TYPE int", "parent": "TYPE none | record<_00_list_ref_user_alice>",
		"parent_rel": "TYPE none | string", "updatedAt": "TYPE datetime",
	} {
		if got := fields.Get(name).AsString(); !strings.Contains(got, want) {
			t.Errorf("field %s = %q, want %q", name, got, want)
		}
	}
	if err := e.writer(UserTable("alice")).ApplyDeltas(e.ctx, []ViewDelta{added("v", top("a:1", 1))}); err != nil {
		t.Fatal(err)
	}

	before = e.queries()
	for _, uid := range []string{"a-b", "", "x; REMOVE TABLE victim", "⟨a⟩"} {
		if err := DefineUserTable(e.ctx, e.q, uid); err == nil || !strings.Contains(err.Error(), "[A-Za-z0-9_]+") {
			t.Errorf("DefineUserTable(%q) = %v", uid, err)
		}
		if err := RemoveUserTable(e.ctx, e.q, uid); err == nil || !strings.Contains(err.Error(), "[A-Za-z0-9_]+") {
			t.Errorf("RemoveUserTable(%q) = %v", uid, err)
		}
	}
	if n := e.queries() - before; n != 0 {
		t.Fatalf("%d queries sent for invalid user ids", n)
	}

	for i := range 2 { // the second finds nothing to remove
		if err := RemoveUserTable(e.ctx, e.q, "alice"); err != nil {
			t.Fatalf("RemoveUserTable #%d: %v", i+1, err)
		}
		if got := tables().Get("_00_list_ref_user_alice"); !got.IsNone() {
			t.Fatalf("table still defined after RemoveUserTable: %s", got.SurQL())
		}
	}
	if err := DefineUserTable(e.ctx, e.q, "alice"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.edges(UserTable("alice"))); n != 0 {
		t.Fatalf("%d edges survived the table's removal", n)
	}

	// The global table is defined unless the application's schema did it already.
	e.exec("DEFINE TABLE _00_list_ref SCHEMALESS PERMISSIONS FULL", nil)
	for range 2 {
		if err := DefineGlobalTable(e.ctx, e.q); err != nil {
			t.Fatalf("DefineGlobalTable: %v", err)
		}
	}
	if def := tables().Get(GlobalTable).AsString(); !strings.Contains(def, "PERMISSIONS FULL") {
		t.Fatalf("DefineGlobalTable replaced the application's definition: %s", def)
	}
	if got := e.exec("INFO FOR TABLE _00_list_ref", nil)[0].Value.Get("fields").Get("parent").AsString(); !strings.Contains(got, "record<_00_list_ref>") {
		t.Fatalf("DefineGlobalTable did not add the missing fields: parent = %q", got)
	}
}

// TestUserTablePermissions signs up two record users: each reads only the edges of the table
// named after them, and neither can write there. (`$auth.id` reads the user's own record, so
// the user table must let a user select itself, as applications' schemas do.)
func TestUserTablePermissions(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	e.exec("DEFINE TABLE user SCHEMALESS PERMISSIONS FOR select WHERE id = $auth, FOR create, update, delete NONE", nil)
	e.exec("DEFINE ACCESS account ON DATABASE TYPE RECORD "+
		"SIGNUP (CREATE type::record('user', $uid)) SIGNIN (SELECT * FROM type::record('user', $uid)) DURATION FOR SESSION 1h", nil)
	for _, uid := range []string{"alice", "bob"} {
		if err := DefineUserTable(e.ctx, e.q, uid); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []ViewDelta{
		{ViewKey: "va", ClientID: "c", AuthID: "user:alice",
			Delta: deltaAdded(top("thread:1", 1), sub("thread:1", "comments", "comment:1", 2))},
		{ViewKey: "vb", ClientID: "c", AuthID: "user:bob",
			Delta: deltaAdded(top("thread:2", 1))},
	} {
		if err := e.writer(TableFor(RefDedicated, d.AuthID)).ApplyDeltas(e.ctx, []ViewDelta{d}); err != nil {
			t.Fatal(err)
		}
	}
	alice := e.recordUser("alice")
	bob := e.recordUser("bob")
	read := func(db *surrealdb.DB, table string) (int, error) {
		res, err := surrealdb.Query[[]map[string]any](e.ctx, db, "SELECT out, version FROM type::table($tb) WHERE parent IS NONE; "+
			"SELECT out, version FROM type::table($tb) WHERE parent IS NOT NONE", map[string]any{"tb": table})
		if err != nil {
			return 0, err
		}
		return len((*res)[0].Result) + len((*res)[1].Result), nil
	}
	if n, err := read(alice, "_00_list_ref_user_alice"); err != nil || n != 2 {
		t.Fatalf("alice reads %d of her edges (%v), want 2", n, err)
	}
	if n, err := read(bob, "_00_list_ref_user_alice"); err == nil && n != 0 {
		t.Fatalf("bob reads %d of alice's edges", n)
	}
	if n, err := read(bob, "_00_list_ref_user_bob"); err != nil || n != 1 {
		t.Fatalf("bob reads %d of his edges (%v), want 1", n, err)
	}
	_, _ = surrealdb.Query[any](e.ctx, alice, "CREATE _00_list_ref_user_alice SET version = 9; DELETE _00_list_ref_user_alice", nil)
	if rows := e.edges("_00_list_ref_user_alice"); len(rows) != 2 {
		t.Fatalf("alice changed her list_ref table: %+v", rows)
	}
}

func (e *env) recordUser(uid string) *surrealdb.DB {
	e.t.Helper()
	db, err := surrealdb.FromEndpointURLString(e.ctx, srv.URL())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = db.Close(context.Background()) })
	if err := db.Use(e.ctx, e.ns, e.db); err != nil {
		e.t.Fatal(err)
	}
	if _, err := db.SignUp(e.ctx, map[string]any{"NS": e.ns, "DB": e.db, "AC": "account", "uid": uid}); err != nil {
		e.t.Fatalf("signup %s: %v", uid, err)
	}
	res, err := surrealdb.Query[any](e.ctx, db, "RETURN $auth.id", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if id, ok := (*res)[0].Result.(models.RecordID); !ok || id.Table != "user" || id.ID != uid {
		e.t.Fatalf("$auth.id of %s = %#v", uid, (*res)[0].Result)
	}
	return db
}
