package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/connection"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/sp00ky/ssp/surreal/value"
)

// recordUser is a client signed up through the record access method `account`.
type recordUser struct {
	db     *surrealdb.DB
	authID string // user:<uid>
	table  string // _00_list_ref_user_<uid>
}

// signUp opens a new SDK connection and signs a user up with name.
func signUp(t *testing.T, ctx context.Context, dbName, name string) recordUser {
	t.Helper()
	srv, _ := setup(t)
	db, err := surrealdb.FromEndpointURLString(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	if err := db.Use(ctx, "e2e", dbName); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SignUp(ctx, map[string]any{"NS": "e2e", "DB": dbName, "AC": "account", "name": name}); err != nil {
		t.Fatalf("sign up %s: %v", name, err)
	}
	res, err := surrealdb.Query[models.RecordID](ctx, db, "RETURN $auth.id", nil)
	if err != nil {
		t.Fatalf("$auth.id of %s: %v", name, err)
	}
	id := (*res)[0].Result
	uid := fmt.Sprint(id.ID)
	if id.Table != "user" || !validName(uid) {
		t.Fatalf("$auth.id of %s = %#v", name, id)
	}
	return recordUser{db: db, authID: "user:" + uid, table: userTable(uid)}
}

// selectOuts runs `SELECT * FROM <table>` as the record user and returns the edges' out records.
func (u recordUser) selectOuts(ctx context.Context, table string) ([]string, error) {
	res, err := surrealdb.Query[[]map[string]any](ctx, u.db, "SELECT * FROM type::table($tb)", map[string]any{"tb": table})
	if err != nil {
		return nil, err
	}
	if r := (*res)[0]; r.Error != nil {
		return nil, r.Error
	}
	var outs []string
	for _, row := range (*res)[0].Result {
		id, ok := row["out"].(models.RecordID)
		if !ok {
			return nil, fmt.Errorf("row without a record out: %#v", row)
		}
		outs = append(outs, fmt.Sprintf("%s:%v", id.Table, id.ID))
	}
	return outs, nil
}

// TestDedicatedRecordAccess: in dedicated mode a client signed in as user A reads and
// LIVE-subscribes to A's own list_ref table and sees none of B's edges.
func TestDedicatedRecordAccess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mode := dedicated
	name, db := newDatabase(t, ctx, "access")
	proxy := newIngestProxy(t)
	exec1(t, ctx, db, schemaSQL(proxy.URL(), true), nil)
	ssp := startSSP(t, sspConfig{DB: name, RefMode: string(mode)})
	proxy.setTarget(ssp.Base)
	ssp.WaitReady(time.Minute)

	a := signUp(t, ctx, name, "alice")
	b := signUp(t, ctx, name, "bob")
	// Signing up created the user rows; their events made the SSP define each user's table
	// (without waiting for it inside /ingest: the writer defines it at once, and a
	// registration of the user's views waits for it).
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range []recordUser{a, b} {
		for {
			tables, err := listRefTables(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(tables, u.table) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after sign-up, %s is missing (tables %v)", u.table, tables)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	authOf := func(u recordUser) map[string]any { return map[string]any{"auth": map[string]any{"id": u.authID}} }
	views := []view{
		{Key: "a_threads", SurQL: "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread WHERE author = $auth.id",
			Params: authOf(a), Owner: a.authID, Client: "client-a", Subs: []sub{{Name: "comments"}}},
		{Key: "b_threads", SurQL: "SELECT * FROM thread WHERE author = $auth.id", Params: authOf(b), Owner: b.authID, Client: "client-b"},
	}
	for _, v := range views {
		ssp.register(v)
	}
	r := &runner{db: db, writers: 1}
	rec := func(tb, key string) value.Value { return value.Record(tb, value.String(key)) }
	userRec := func(u recordUser) value.Value { v, _ := value.ParseRecord(u.authID); return v }
	thread := func(key string, u recordUser) write {
		return write{op: "CREATE", id: rec("thread", key), content: value.ObjectFromMap(map[string]value.Value{
			"title": value.String("t " + key), "author": userRec(u), "score": value.Int(1),
			"tags": value.Array(nil), "created": value.Datetime(baseTime),
		})}
	}
	comment := write{op: "CREATE", id: rec("comment", "ca1"), content: value.ObjectFromMap(map[string]value.Value{
		"thread": rec("thread", "a1"), "author": userRec(b), "body": value.String("hi"), "score": value.Int(1),
		"created": value.Datetime(baseTime),
	})}
	if err := r.run(ctx, []write{thread("a1", a), thread("b1", b), comment}); err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, db, ssp, views, mode, true)

	// A reads its own edges (top-level thread and the comment under it), nothing of B's.
	outs, err := a.selectOuts(ctx, a.table)
	if err != nil {
		t.Fatalf("A selects its table %s: %v", a.table, err)
	}
	if got := fmt.Sprint(sortedStrings(outs)); got != "[comment:ca1 thread:a1]" {
		t.Fatalf("A reads %s from its own table, want [comment:ca1 thread:a1]", got)
	}
	for _, tb := range []string{b.table, globalTable} {
		if outs, err := a.selectOuts(ctx, tb); err == nil && len(outs) > 0 {
			t.Fatalf("A reads %v from %s", outs, tb)
		}
	}
	if outs, err := b.selectOuts(ctx, a.table); err == nil && len(outs) > 0 {
		t.Fatalf("B reads %v from A's table", outs)
	}
	if outs, err := b.selectOuts(ctx, b.table); err != nil || fmt.Sprint(outs) != "[thread:b1]" {
		t.Fatalf("B reads %v (%v) from its own table, want [thread:b1]", outs, err)
	}

	// LIVE: A subscribes to its table (and tries B's). B's view changes first, then A's:
	// the first notification A gets is A's new edge, and nothing arrives from B's table.
	liveA, err := surrealdb.Live(ctx, a.db, models.Table(a.table), false)
	if err != nil {
		t.Fatalf("A: LIVE SELECT on its table: %v", err)
	}
	notesA, err := a.db.LiveNotifications(liveA.String())
	if err != nil {
		t.Fatal(err)
	}
	var notesB chan connection.Notification
	if liveB, err := surrealdb.Live(ctx, a.db, models.Table(b.table), false); err == nil {
		if notesB, err = a.db.LiveNotifications(liveB.String()); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("A: LIVE SELECT on B's table refused: %v", err)
	}
	if err := r.run(ctx, []write{thread("b2", b)}); err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, db, ssp, views, mode, true) // B's new edge is in SurrealDB
	if err := r.run(ctx, []write{thread("a2", a)}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-notesA:
		row, _ := n.Result.(map[string]any)
		out, _ := row["out"].(models.RecordID)
		if n.Action != connection.CreateAction || fmt.Sprintf("%s:%v", out.Table, out.ID) != "thread:a2" {
			t.Fatalf("A's first live notification = %s %#v, want CREATE of the edge of thread:a2", n.Action, n.Result)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("A got no live notification for its new edge within 30s")
	}
	converge(t, ctx, db, ssp, views, mode, true)
	select {
	case n := <-notesB:
		t.Fatalf("A got a live notification from B's table: %s %#v", n.Action, n.Result)
	default:
	}
}

func sortedStrings(xs []string) []string {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return sortedKeys(m)
}
