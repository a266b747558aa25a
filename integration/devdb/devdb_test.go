package devdb

import (
	"context"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/connection"
	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// testTimeout bounds every test, including a first-time `npm ci`.
const testTimeout = 4 * time.Minute

// eventTimeout bounds waiting for a live notification.
const eventTimeout = 10 * time.Second

func startServer(t *testing.T) (*Server, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatalf("devdb.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, ctx
}

func connect(t *testing.T, ctx context.Context, s *Server, ns, db string) *surrealdb.DB {
	t.Helper()
	conn, err := s.Connect(ctx, ns, db)
	if err != nil {
		t.Fatalf("Connect(%s, %s): %v", ns, db, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// query runs surql and returns each statement's result, failing the test on
// any error.
func query(t *testing.T, ctx context.Context, db *surrealdb.DB, surql string, vars map[string]any) []any {
	t.Helper()
	res, err := surrealdb.Query[any](ctx, db, surql, vars)
	if err != nil {
		t.Fatalf("query %q: %v", surql, err)
	}
	out := make([]any, len(*res))
	for i, r := range *res {
		if r.Status != "OK" {
			t.Fatalf("query %q: statement %d: %s %v", surql, i, r.Status, r.Error)
		}
		out[i] = r.Result
	}
	return out
}

func rows(t *testing.T, v any) []map[string]any {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("want []any rows, got %T %v", v, v)
	}
	out := make([]map[string]any, len(list))
	for i, r := range list {
		m, ok := r.(map[string]any)
		if !ok {
			t.Fatalf("row %d: want map[string]any, got %T", i, r)
		}
		out[i] = m
	}
	return out
}

func rid(table string, id any) models.RecordID { return models.NewRecordID(table, id) }

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestStartCloseAndVersion(t *testing.T) {
	s, ctx := startServer(t)
	if !strings.HasPrefix(s.URL(), "ws://127.0.0.1:") {
		t.Fatalf("URL() = %q", s.URL())
	}
	db := connect(t, ctx, s, "t", "t")
	v, err := db.Version(ctx)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if !strings.HasPrefix(v.Version, "3.") {
		t.Fatalf("Version = %q, want 3.x", v.Version)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("server still accepts connections on %s after Close", s.Addr())
	}
}

func TestRecordsLinksDatetimesAndSubqueries(t *testing.T) {
	s, ctx := startServer(t)
	db := connect(t, ctx, s, "app", "forum")

	query(t, ctx, db, `
		CREATE author:alice SET name = 'Alice', joined = d'2024-01-01T00:00:00Z',
			tags = ['admin', 'early'], address = { city: 'Paris', geo: { lat: 48.5, lng: 2.25 } },
			nickname = NULL;
		CREATE author:bob SET name = 'Bob', joined = d'2024-02-01T12:30:00Z', tags = [];
		CREATE thread:t1 SET title = 'Hello', author = author:alice, created = d'2024-03-01T00:00:00Z';
		CREATE thread:t2 SET title = 'Second', author = author:bob, created = d'2024-03-02T00:00:00Z';
		CREATE comment:c1 SET thread = thread:t1, author = author:bob, body = 'first', created = d'2024-03-01T01:00:00Z';
		CREATE comment:c2 SET thread = thread:t1, author = author:alice, body = 'second', created = d'2024-03-01T02:00:00Z';
		CREATE comment:c3 SET thread = thread:t1, author = author:bob, body = 'third', created = d'2024-03-01T03:00:00Z';
		CREATE comment:c4 SET thread = thread:t2, author = author:alice, body = 'only', created = d'2024-03-02T01:00:00Z';
	`, nil)

	// Scalars, nesting, NULL and absent fields, as generic Go values.
	alice := rows(t, query(t, ctx, db, `SELECT * FROM author:alice`, nil)[0])
	if len(alice) != 1 {
		t.Fatalf("author:alice rows = %d", len(alice))
	}
	a := alice[0]
	if got, want := a["id"], rid("author", "alice"); !reflect.DeepEqual(got, want) {
		t.Errorf("id = %#v, want %#v", got, want)
	}
	joined, ok := a["joined"].(models.CustomDateTime)
	if !ok || !joined.Time.Equal(mustTime(t, "2024-01-01T00:00:00Z")) {
		t.Errorf("joined = %T %v", a["joined"], a["joined"])
	}
	if got, want := a["tags"], []any{"admin", "early"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tags = %#v", got)
	}
	addr, _ := a["address"].(map[string]any)
	geo, _ := addr["geo"].(map[string]any)
	if addr["city"] != "Paris" || toFloat(geo["lat"]) != 48.5 || toFloat(geo["lng"]) != 2.25 {
		t.Errorf("address = %#v", a["address"])
	}
	if v, present := a["nickname"]; !present || v != nil {
		t.Errorf("nickname = %#v (present %v), want NULL -> nil", v, present)
	}
	if _, present := a["bio"]; present {
		t.Errorf("absent field bio is present: %#v", a["bio"])
	}

	// Typed decoding into a struct works too.
	type Author struct {
		ID      *models.RecordID      `json:"id"`
		Name    string                `json:"name"`
		Joined  models.CustomDateTime `json:"joined"`
		Tags    []string              `json:"tags"`
		Nick    *string               `json:"nickname"`
		Address *struct {
			City string `json:"city"`
		} `json:"address"`
	}
	typed, err := surrealdb.Select[Author](ctx, db, rid("author", "bob"))
	if err != nil {
		t.Fatalf("Select author:bob: %v", err)
	}
	if typed.Name != "Bob" || typed.ID.String() != "author:bob" || typed.Address != nil || len(typed.Tags) != 0 ||
		!typed.Joined.Time.Equal(mustTime(t, "2024-02-01T12:30:00Z")) {
		t.Errorf("typed author:bob = %+v", typed)
	}

	// Record links are followed with dot notation.
	linked := rows(t, query(t, ctx, db, `SELECT title, author.name AS author_name FROM thread ORDER BY title`, nil)[0])
	if len(linked) != 2 || linked[0]["author_name"] != "Alice" || linked[1]["author_name"] != "Bob" {
		t.Errorf("linked = %#v", linked)
	}

	// Subquery per parent row with $parent, ordered and limited.
	threads := rows(t, query(t, ctx, db, `
		SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY created LIMIT 2) AS comments
		FROM thread ORDER BY created`, nil)[0])
	if len(threads) != 2 {
		t.Fatalf("threads = %d, want 2", len(threads))
	}
	wantBodies := [][]string{{"first", "second"}, {"only"}}
	for i, th := range threads {
		comments := rows(t, th["comments"])
		var bodies []string
		for _, c := range comments {
			bodies = append(bodies, c["body"].(string))
			if !reflect.DeepEqual(c["thread"], th["id"]) {
				t.Errorf("comment %v thread = %#v, want %#v", c["id"], c["thread"], th["id"])
			}
		}
		if !reflect.DeepEqual(bodies, wantBodies[i]) {
			t.Errorf("thread %v comments = %v, want %v", th["id"], bodies, wantBodies[i])
		}
	}

	// Parameters: a record id and a datetime from Go.
	after := models.CustomDateTime{Time: mustTime(t, "2024-03-01T01:30:00Z")}
	t1 := rid("thread", "t1")
	bodies := query(t, ctx, db,
		`RETURN (SELECT body, created FROM comment WHERE thread = $thread AND created > $after ORDER BY created).body`,
		map[string]any{"thread": &t1, "after": &after})[0]
	if !reflect.DeepEqual(bodies, []any{"second", "third"}) {
		t.Errorf("parameterised select = %#v", bodies)
	}
	// By value works as well as by pointer.
	count := query(t, ctx, db, `RETURN count(SELECT * FROM comment WHERE author = $who AND created > $after)`,
		map[string]any{"who": rid("author", "bob"), "after": after})[0]
	if count != uint64(1) {
		t.Errorf("count for author:bob after %v (params by value) = %#v", after, count)
	}

	// Create via the SDK and read it back with Select.
	type Comment struct {
		ID      *models.RecordID      `json:"id,omitempty"`
		Thread  models.RecordID       `json:"thread"`
		Body    string                `json:"body"`
		Created models.CustomDateTime `json:"created"`
	}
	created, err := surrealdb.Create[Comment](ctx, db, rid("comment", "c5"), Comment{
		Thread: rid("thread", "t2"), Body: "sdk", Created: models.CustomDateTime{Time: mustTime(t, "2024-03-02T02:00:00Z")},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := surrealdb.Select[Comment](ctx, db, *created.ID)
	if err != nil {
		t.Fatalf("Select %v: %v", created.ID, err)
	}
	if got.Body != "sdk" || got.Thread != rid("thread", "t2") || !got.Created.Time.Equal(created.Created.Time) {
		t.Errorf("Select after Create = %+v", got)
	}
}

func TestGenericValueTypes(t *testing.T) {
	s, ctx := startServer(t)
	db := connect(t, ctx, s, "app", "types")
	r := query(t, ctx, db, `RETURN {
		int: 7, neg: -3, small_float: 1.5, float: 0.1, dec: 1.5dec, none: NONE, null: NULL,
		dt: d'2024-01-01T00:00:00Z', dur: 90m, uuid: u'0190c4a6-0000-7000-8000-000000000000',
		link: person:⟨a b⟩, composite: person:['x', 1]
	}; RETURN NONE; RETURN NULL`, nil)
	m := r[0].(map[string]any)
	checks := map[string]any{
		"int": uint64(7), "neg": int64(-3), "small_float": float32(1.5), "float": 0.1,
		"null": nil,
	}
	for k, want := range checks {
		if got := m[k]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %T %#v, want %T %#v", k, got, got, want, want)
		}
	}
	// NONE inside a returned object literal arrives as nil (CBOR tag 6);
	// a stored field set to NONE does not exist (see the stored record below).
	if v, present := m["none"]; !present || v != nil {
		t.Errorf("none = %#v (present %v), want nil", v, present)
	}
	stored := rows(t, query(t, ctx, db, `CREATE thing:1 SET gone = NONE, null = NULL`, nil)[0])[0]
	if _, present := stored["gone"]; present {
		t.Errorf("stored NONE field is present: %#v", stored)
	}
	if v, present := stored["null"]; !present || v != nil {
		t.Errorf("stored NULL field = %#v (present %v), want nil", v, present)
	}
	typeChecks := map[string]any{
		"dec": models.DecimalString(""), "dt": models.CustomDateTime{}, "dur": models.CustomDuration{},
		"uuid": models.UUID{}, "link": models.RecordID{}, "composite": models.RecordID{},
	}
	for k, want := range typeChecks {
		if reflect.TypeOf(m[k]) != reflect.TypeOf(want) {
			t.Errorf("%s is %T, want %T", k, m[k], want)
		}
	}
	if got := m["link"].(models.RecordID); got.Table != "person" || got.ID != "a b" {
		t.Errorf("link = %#v", got)
	}
	if r[1] != nil || r[2] != nil {
		t.Errorf("RETURN NONE / NULL = %#v / %#v, want nil / nil", r[1], r[2])
	}
}

func TestConnectionsAreIsolated(t *testing.T) {
	s, ctx := startServer(t)
	a := connect(t, ctx, s, "ns_a", "db")
	b := connect(t, ctx, s, "ns_b", "db")

	query(t, ctx, a, `CREATE item:1 SET owner = 'a'`, nil)
	query(t, ctx, b, `CREATE item:1 SET owner = 'b'`, nil) // no clash: another namespace

	for _, c := range []struct {
		db   *surrealdb.DB
		ns   string
		want string
	}{{a, "ns_a", "a"}, {b, "ns_b", "b"}} {
		r := query(t, ctx, c.db, `RETURN session::ns(); SELECT VALUE owner FROM item`, nil)
		if r[0] != c.ns || !reflect.DeepEqual(r[1], []any{c.want}) {
			t.Errorf("%s sees ns=%v owners=%v", c.ns, r[0], r[1])
		}
	}

	// A third connection in a fresh database does not see the table at all
	// (SurrealDB 3 reports a missing table as an error).
	c := connect(t, ctx, s, "ns_c", "db")
	res, err := surrealdb.Query[any](ctx, c, `SELECT * FROM item`, nil)
	if err == nil || res == nil || len(*res) != 1 || (*res)[0].Status != "ERR" {
		t.Errorf("SELECT from other namespace's table: res=%v err=%v", res, err)
	}

	// Variables set with let stay on their connection.
	if err := a.Let(ctx, "secret", "only-a"); err != nil {
		t.Fatalf("Let: %v", err)
	}
	if got := query(t, ctx, a, `RETURN $secret`, nil)[0]; got != "only-a" {
		t.Errorf("a: $secret = %#v", got)
	}
	if got := query(t, ctx, b, `RETURN $secret`, nil)[0]; got != nil {
		t.Errorf("b sees a's $secret = %#v", got)
	}
}

func TestAuthentication(t *testing.T) {
	s, ctx := startServer(t)

	db, err := surrealdb.FromEndpointURLString(ctx, s.URL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })

	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: s.User, Password: s.Pass + "-wrong"}); err == nil {
		t.Fatal("SignIn with a wrong password succeeded")
	}
	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: "nobody", Password: s.Pass}); err == nil {
		t.Fatal("SignIn as an unknown user succeeded")
	}
	if err := db.Use(ctx, "app", "auth"); err != nil {
		t.Fatalf("Use: %v", err)
	}
	// Not signed in: queries are refused, as on a real server.
	if _, err := surrealdb.Query[any](ctx, db, `CREATE x:1`, nil); err == nil {
		t.Fatal("query without signin succeeded")
	}
	token, err := db.SignIn(ctx, surrealdb.Auth{Username: s.User, Password: s.Pass})
	if err != nil || token == "" {
		t.Fatalf("SignIn as %s: token=%q err=%v", s.User, token, err)
	}
	if got := query(t, ctx, db, `CREATE x:1 RETURN VALUE id`, nil)[0]; !reflect.DeepEqual(got, []any{rid("x", uint64(1))}) {
		t.Errorf("CREATE after signin = %#v", got)
	}
	if err := db.Invalidate(ctx); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	if _, err := surrealdb.Query[any](ctx, db, `SELECT * FROM x`, nil); err == nil {
		t.Fatal("query after Invalidate succeeded")
	}
}

func TestCustomCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := Start(ctx, Options{User: "ad`min", Pass: `p"a\ss'`})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Close()
	db, err := s.Connect(ctx, "n", "d")
	if err != nil {
		t.Fatalf("Connect with custom credentials: %v", err)
	}
	defer db.Close(ctx)
	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: "root", Password: "root"}); err == nil {
		t.Fatal("default root/root still works with custom credentials")
	}
}

// waitNotification receives one notification or fails after eventTimeout.
func waitNotification(t *testing.T, ch <-chan connection.Notification) connection.Notification {
	t.Helper()
	select {
	case n, ok := <-ch:
		if !ok {
			t.Fatal("notification channel closed")
		}
		return n
	case <-time.After(eventTimeout):
		t.Fatalf("no live notification within %v", eventTimeout)
	}
	panic("unreachable")
}

func TestLiveQueryAcrossConnections(t *testing.T) {
	s, ctx := startServer(t)
	watcher := connect(t, ctx, s, "app", "live")
	writer := connect(t, ctx, s, "app", "live")
	other := connect(t, ctx, s, "app", "other")

	// SurrealDB 3 refuses LIVE SELECT on a table that does not exist yet.
	query(t, ctx, watcher, `DEFINE TABLE post SCHEMALESS`, nil)
	query(t, ctx, other, `DEFINE TABLE post SCHEMALESS`, nil)

	live, err := surrealdb.Query[models.UUID](ctx, watcher, `LIVE SELECT * FROM post WHERE published = true`, nil)
	if err != nil {
		t.Fatalf("LIVE SELECT: %v", err)
	}
	liveID := (*live)[0].Result.String()
	notes, err := watcher.LiveNotifications(liveID)
	if err != nil {
		t.Fatalf("LiveNotifications: %v", err)
	}
	// The RPC live method works as well, here with DIFF output.
	diffID, err := surrealdb.Live(ctx, watcher, models.Table("post"), true)
	if err != nil {
		t.Fatalf("Live: %v", err)
	}
	diffs, err := watcher.LiveNotifications(diffID.String())
	if err != nil {
		t.Fatalf("LiveNotifications(diff): %v", err)
	}

	// Writes to another database must not reach the watcher.
	query(t, ctx, other, `CREATE post:x SET published = true`, nil)
	query(t, ctx, writer, `CREATE post:draft SET published = false, title = 'draft'`, nil)
	query(t, ctx, writer, `CREATE post:p1 SET published = true, title = 'Hello', at = d'2024-01-01T00:00:00Z'`, nil)

	// The DIFF query sees every change: draft and p1. The engine's notification stream does not
	// promise the order of two writes from one connection (seen once in CI: p1 before draft), so
	// the test asks for both, in any order.
	seen := map[any]bool{}
	for range 2 {
		n := waitNotification(t, diffs)
		if n.Action != connection.CreateAction || n.ID == nil || n.ID.String() != diffID.String() {
			t.Fatalf("diff notification = %+v", n)
		}
		ops, _ := n.Result.([]any)
		op, _ := firstOf(ops).(map[string]any)
		value, _ := op["value"].(map[string]any)
		seen[value["id"]] = true
	}
	if !seen[rid("post", "draft")] || !seen[rid("post", "p1")] {
		t.Fatalf("diff notifications named %v, want post:draft and post:p1", seen)
	}

	// The filtered query only sees the published post.
	n := waitNotification(t, notes)
	if n.Action != connection.CreateAction || n.ID == nil || n.ID.String() != liveID {
		t.Fatalf("notification = %+v", n)
	}
	rec, ok := n.Result.(map[string]any)
	if !ok || rec["id"] != rid("post", "p1") || rec["title"] != "Hello" {
		t.Fatalf("notification result = %#v", n.Result)
	}
	if _, ok := rec["at"].(models.CustomDateTime); !ok {
		t.Errorf("notification datetime is %T", rec["at"])
	}

	query(t, ctx, writer, `UPDATE post:p1 SET title = 'Edited'`, nil)
	n = waitNotification(t, notes)
	if rec, _ := n.Result.(map[string]any); n.Action != connection.UpdateAction || rec["title"] != "Edited" {
		t.Fatalf("update notification = %+v", n)
	}
	_ = waitNotification(t, diffs) // UPDATE diff

	// KILL ends the live query with a final KILLED notification, as the real
	// server does; read it before dropping the channel.
	query(t, ctx, watcher, `KILL $id`, map[string]any{"id": (*live)[0].Result})
	n = waitNotification(t, notes)
	if n.Action != "KILLED" {
		t.Fatalf("after KILL: %+v", n)
	}
	if err := watcher.CloseLiveNotifications(liveID); err != nil {
		t.Fatalf("CloseLiveNotifications: %v", err)
	}

	query(t, ctx, writer, `DELETE post:p1`, nil)
	n = waitNotification(t, diffs)
	if n.Action != connection.DeleteAction {
		t.Fatalf("delete diff notification = %+v", n)
	}
	select {
	case extra, ok := <-notes:
		if ok {
			t.Fatalf("notification after KILL: %+v", extra)
		}
	default:
	}
}

func TestClientSessions(t *testing.T) {
	s, ctx := startServer(t)
	db := connect(t, ctx, s, "app", "main")

	sess, err := db.Attach(ctx)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if _, err := surrealdb.Query[any](ctx, sess, `RETURN 1`, nil); err == nil {
		t.Error("a new session should start unauthenticated")
	}
	if _, err := sess.SignIn(ctx, surrealdb.Auth{Username: s.User, Password: s.Pass}); err != nil {
		t.Fatalf("session SignIn: %v", err)
	}
	if err := sess.Use(ctx, "app", "side"); err != nil {
		t.Fatalf("session Use: %v", err)
	}
	got, err := surrealdb.Query[string](ctx, sess, `RETURN session::db()`, nil)
	if err != nil || (*got)[0].Result != "side" {
		t.Fatalf("session db = %v, %v", got, err)
	}
	if r := query(t, ctx, db, `RETURN session::db()`, nil)[0]; r != "main" {
		t.Errorf("main session db = %v after the extra session's Use", r)
	}
	if err := sess.Detach(ctx); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	if _, err := sess.Info(ctx); err == nil {
		t.Error("detached session still usable")
	}
}

func TestCloseTerminatesProcess(t *testing.T) {
	s, _ := startServer(t)
	pid := s.cmd.Process.Pid
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-s.done:
	default:
		t.Fatalf("process %d still running after Close", pid)
	}
	if s.cmd.ProcessState == nil || !s.cmd.ProcessState.Exited() || s.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("process state after Close = %v", s.cmd.ProcessState)
	}
}

func TestMissingNodeIsAnError(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Start(ctx, Options{})
	if err == nil || !strings.Contains(err.Error(), "install Node.js") {
		t.Fatalf("Start without node: %v", err)
	}
}

func firstOf(list []any) any {
	if len(list) == 0 {
		return nil
	}
	return list[0]
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case int:
		return float64(x)
	}
	return -1
}

func TestInteractiveTransaction(t *testing.T) {
	s, ctx := startServer(t)
	db := connect(t, ctx, s, "app", "txn")
	other := connect(t, ctx, s, "app", "txn")
	query(t, ctx, db, `DEFINE TABLE account SCHEMALESS`, nil)

	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := surrealdb.Query[any](ctx, tx, `CREATE account:1 SET balance = 10`, nil); err != nil {
		t.Fatalf("query in transaction: %v", err)
	}
	if got := query(t, ctx, other, `SELECT * FROM account`, nil)[0]; !reflect.DeepEqual(got, []any{}) {
		t.Errorf("uncommitted write visible to another connection: %#v", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := query(t, ctx, other, `SELECT VALUE balance FROM account`, nil)[0]; !reflect.DeepEqual(got, []any{uint64(10)}) {
		t.Errorf("after commit: %#v", got)
	}

	tx, err = db.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := surrealdb.Query[any](ctx, tx, `UPDATE account:1 SET balance = 0`, nil); err != nil {
		t.Fatalf("query in transaction: %v", err)
	}
	if err := tx.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got := query(t, ctx, other, `SELECT VALUE balance FROM account`, nil)[0]; !reflect.DeepEqual(got, []any{uint64(10)}) {
		t.Errorf("after cancel: %#v", got)
	}
}

func TestConcurrentRequests(t *testing.T) {
	s, ctx := startServer(t)
	db := connect(t, ctx, s, "app", "concurrent")
	// Defined up front: concurrent first writes that each create the table
	// implicitly can fail with a retryable "Transaction conflict".
	query(t, ctx, db, `DEFINE TABLE event SCHEMALESS`, nil)
	const workers, each = 8, 25
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if _, err := surrealdb.Query[any](ctx, db, `CREATE event SET worker = $w, n = $n`,
					map[string]any{"w": w, "n": i}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent CREATE: %v", err)
		}
	}
	if got := query(t, ctx, db, `RETURN count(SELECT * FROM event)`, nil)[0]; got != uint64(workers*each) {
		t.Errorf("count = %#v, want %d", got, workers*each)
	}
}
