package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/connection"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/sp00ky/ssp/surreal/value"
)

// TestLiveNotificationPerEdgeChange: a client LIVE-subscribed to its list_ref table gets exactly
// one notification per edge added (CREATE), changed (UPDATE: a new version) and removed
// (DELETE), never a delete-and-create for a change nor a notification that changes nothing.
// 30 threads × 3 views are created, updated and deleted, in both ref modes: 90 of each, then a
// sentinel thread's 3 creates mark the end. Any change of the edge statements' shape must keep
// this (issue 9).
func TestLiveNotificationPerEdgeChange(t *testing.T) {
	for _, mode := range []refMode{dedicated, single} {
		t.Run(string(mode), func(t *testing.T) { liveNotificationPerEdgeChange(t, mode) })
	}
}

func liveNotificationPerEdgeChange(t *testing.T, mode refMode) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name, db := newDatabase(t, ctx, "live")
	proxy := newIngestProxy(t)
	exec1(t, ctx, db, schemaSQL(proxy.URL(), false), nil)
	ssp := startSSP(t, sspConfig{DB: name, RefMode: string(mode)})
	proxy.setTarget(ssp.Base)
	ssp.WaitReady(time.Minute)

	r := &runner{db: db, writers: 1}
	owner := value.Record("user", value.String("u1"))
	if err := r.run(ctx, []write{{op: "CREATE", id: owner, content: value.ObjectFromMap(map[string]value.Value{
		"name": value.String("u1"), "age": value.Int(30), "active": value.Bool(true), "tags": value.Array(nil),
	})}}); err != nil {
		t.Fatal(err)
	}
	auth := map[string]any{"auth": map[string]any{"id": "user:u1"}}
	views := []view{
		{Key: "all", SurQL: "SELECT * FROM thread", Params: auth, Owner: "user:u1", Client: "c"},
		{Key: "scored", SurQL: "SELECT * FROM thread WHERE score >= 0", Params: auth, Owner: "user:u1", Client: "c"},
		{Key: "top", SurQL: "SELECT * FROM thread ORDER BY score DESC LIMIT 100", Params: auth, Owner: "user:u1", Client: "c"},
	}
	for _, v := range views {
		ssp.register(v)
	}
	table := globalTable
	if mode == dedicated {
		table = userTable("u1")
	}

	srv, _ := setup(t)
	live, err := surrealdb.FromEndpointURLString(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Close(context.Background()) })
	if _, err := live.SignIn(ctx, surrealdb.Auth{Username: srv.User, Password: srv.Pass}); err != nil {
		t.Fatal(err)
	}
	if err := live.Use(ctx, "e2e", name); err != nil {
		t.Fatal(err)
	}
	id, err := surrealdb.Live(ctx, live, models.Table(table), false)
	if err != nil {
		t.Fatalf("LIVE SELECT * FROM %s: %v", table, err)
	}
	notes, err := live.LiveNotifications(id.String())
	if err != nil {
		t.Fatal(err)
	}

	const n = 30
	thread := func(op string, i, title int) write {
		w := write{op: op, id: value.Record("thread", value.String(fmt.Sprintf("t%d", i)))}
		if op != "DELETE" {
			w.content = value.ObjectFromMap(map[string]value.Value{
				"title": value.String(fmt.Sprintf("title %d", title)), "author": owner, "score": value.Int(int64(i)),
				"tags": value.Array(nil), "created": value.Datetime(baseTime),
			})
		}
		return w
	}
	for _, op := range []string{"CREATE", "UPDATE", "DELETE"} {
		var ws []write
		for i := 0; i < n; i++ {
			ws = append(ws, thread(op, i, map[string]int{"CREATE": 1, "UPDATE": 2}[op])) // a new title: a new version
		}
		if err := r.run(ctx, ws); err != nil {
			t.Fatal(err)
		}
		converge(t, ctx, db, ssp, views, mode, true)
	}
	if err := r.run(ctx, []write{thread("CREATE", n, 1)}); err != nil { // the sentinel
		t.Fatal(err)
	}
	converge(t, ctx, db, ssp, views, mode, true)

	// Replay the notifications onto a copy of the table until the sentinel's three edges came.
	rows := map[string]int64{} // edge id → version
	counts := map[connection.Action]int{}
	sentinel, total := 0, 0
	deadline := time.After(time.Minute)
	for sentinel < len(views) {
		var note connection.Notification
		select {
		case note = <-notes:
		case <-deadline:
			t.Fatalf("%d notifications (%v) and %d of the sentinel's after a minute", total, counts, sentinel)
		}
		row, _ := note.Result.(map[string]any)
		rid, _ := row["id"].(models.RecordID)
		out, _ := row["out"].(models.RecordID)
		key := fmt.Sprintf("%v", rid.ID)
		version := fmt.Sprint(row["version"])
		if fmt.Sprintf("%v", out.ID) == fmt.Sprintf("t%d", n) {
			sentinel++
			continue
		}
		total++
		counts[note.Action]++
		prev, present := rows[key]
		switch note.Action {
		case connection.CreateAction:
			if present {
				t.Fatalf("CREATE of edge %s, which exists", key)
			}
			var v int64
			fmt.Sscan(version, &v)
			rows[key] = v
		case connection.UpdateAction:
			var v int64
			fmt.Sscan(version, &v)
			if !present || v == prev {
				t.Fatalf("UPDATE of edge %s (present %v, version %d → %d): a notification that changes nothing", key, present, prev, v)
			}
			rows[key] = v
		case connection.DeleteAction:
			if !present {
				t.Fatalf("DELETE of edge %s, which does not exist", key)
			}
			delete(rows, key)
		default:
			t.Fatalf("notification %s %#v", note.Action, note.Result)
		}
	}
	want := map[connection.Action]int{connection.CreateAction: n * len(views), connection.UpdateAction: n * len(views),
		connection.DeleteAction: n * len(views)}
	if fmt.Sprint(counts) != fmt.Sprint(want) || len(rows) != 0 {
		t.Fatalf("notifications %v, want %v (one per edge change); %d edges left", counts, want, len(rows))
	}
	t.Logf("%s: %d notifications for %d edge changes", table, total, 3*n*len(views))
}
