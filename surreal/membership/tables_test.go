package membership

import (
	"context"
	"strings"
	"sync"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"
)

func TestEnsureUserTableDefinition(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	before := e.q.n.Load()
	for range 3 {
		if err := e.w.EnsureUserTable(e.ctx, "alice"); err != nil {
			t.Fatalf("EnsureUserTable: %v", err)
		}
	}
	if n := e.q.n.Load() - before; n != 1 {
		t.Fatalf("%d DDL queries for three EnsureUserTable calls, want 1", n)
	}
	info := e.exec("INFO FOR TABLE _00_list_ref_user_alice", nil)[0].Value
	tbDef := e.exec("INFO FOR DB", nil)[0].Value.Get("tables").Get("_00_list_ref_user_alice").AsString()
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
	// Concurrent first registrations of one user define the table once.
	before = e.q.n.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.w.EnsureUserTable(e.ctx, "carol")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent EnsureUserTable: %v", err)
		}
	}
	if n := e.q.n.Load() - before; n != 1 {
		t.Fatalf("%d DDL queries for eight concurrent calls, want 1", n)
	}
	if err := e.w.EnsureUserTable(e.ctx, "a-b"); err == nil {
		t.Fatal("EnsureUserTable accepted an id that is not [A-Za-z0-9_]+")
	}
	if err := e.w.DropUserTable(e.ctx, "alice"); err != nil {
		t.Fatalf("DropUserTable: %v", err)
	}
	if got := e.exec("INFO FOR DB", nil)[0].Value.Get("tables").Get("_00_list_ref_user_alice"); !got.IsNone() {
		t.Fatalf("table still defined after DropUserTable: %s", got.SurQL())
	}
	if err := e.w.DropUserTable(e.ctx, "alice"); err != nil {
		t.Fatalf("second DropUserTable: %v", err)
	}
	// Dropping forgets the definition: the next Ensure defines it again.
	if err := e.w.EnsureUserTable(e.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := e.exec("INFO FOR DB", nil)[0].Value.Get("tables").Get("_00_list_ref_user_alice"); got.IsNone() {
		t.Fatal("table not defined again after a drop")
	}
	if err := e.w.EnsureGlobalTable(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.w.EnsureGlobalTable(e.ctx); err != nil {
		t.Fatalf("second EnsureGlobalTable: %v", err)
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
		if err := e.w.EnsureUserTable(e.ctx, uid); err != nil {
			t.Fatal(err)
		}
	}
	err := e.w.ApplyDeltas(e.ctx, []ViewDelta{
		{ViewKey: "va", Table: TableFor(RefDedicated, "user:alice"), ClientID: "c", AuthID: "user:alice",
			Delta: deltaAdded(top("thread:1", 1), sub("thread:1", "comments", "comment:1", 2))},
		{ViewKey: "vb", Table: TableFor(RefDedicated, "user:bob"), ClientID: "c", AuthID: "user:bob",
			Delta: deltaAdded(top("thread:2", 1))},
	})
	if err != nil {
		t.Fatal(err)
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
