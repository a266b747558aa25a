package e2e

// corpus returns the views the workload tests register: filters, ORDER BY/LIMIT/START
// windows, a record param, per-user views through `$auth.id` (one with a second param),
// correlated subqueries with ORDER BY and LIMIT, a two-level nested subquery, `(…)[0]`, and
// `$auth` inside a subquery. ORDER BYs end with `id` or run as SurrealDB's stable top-k, so
// SurrealDB's answer is deterministic.
func corpus() []view {
	auth := func(uid string) map[string]any { return map[string]any{"auth": map[string]any{"id": "user:" + uid}} }
	vs := []view{
		{Key: "hot", SurQL: "SELECT * FROM thread WHERE score > 5"},
		{Key: "top5", SurQL: "SELECT * FROM thread ORDER BY score DESC, id LIMIT 5"},
		{Key: "tagged_go", SurQL: "SELECT id, title, score FROM thread WHERE tags CONTAINS 'go' AND score >= 2 ORDER BY score, id LIMIT 4 START 1"},
		{Key: "thread_t1", SurQL: "SELECT * FROM comment WHERE thread = $thread AND body != 'spam'",
			Params: map[string]any{"thread": "thread:t1"}},
		{Key: "active_users", SurQL: "SELECT * FROM user WHERE active = true ORDER BY name, id LIMIT 4"},
		{Key: "old_users", SurQL: "SELECT * FROM user WHERE age IN [30, 41, 55] ORDER BY age DESC, id LIMIT 3 START 1"},
		{Key: "alice_threads", SurQL: "SELECT * FROM thread WHERE author = $auth.id", Params: auth("alice"), Owner: "user:alice"},
		{Key: "bob_comments", SurQL: "SELECT * FROM comment WHERE author = $auth.id ORDER BY created DESC, id LIMIT 3",
			Params: auth("bob"), Owner: "user:bob"},
		{Key: "alice_min", SurQL: "SELECT * FROM thread WHERE author = $auth.id AND score >= $min ORDER BY created, id LIMIT 3",
			Params: map[string]any{"auth": map[string]any{"id": "user:alice"}, "min": 3}, Owner: "user:alice"},
		{Key: "recent", SurQL: "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY created DESC, id LIMIT 2) AS recent FROM thread WHERE score >= 4",
			Subs: []sub{{Name: "recent"}}},
		{Key: "nested", SurQL: "SELECT *, (SELECT *, (SELECT * FROM comment WHERE thread = $parent.id AND score > 1 LIMIT 2) AS comments " +
			"FROM thread WHERE author = $parent.id ORDER BY score DESC, id LIMIT 2) AS threads FROM user WHERE active = true",
			Params: auth("carol"), Owner: "user:carol", Subs: []sub{{Name: "threads", Subs: []sub{{Name: "comments"}}}}},
		{Key: "with_author", SurQL: "SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS au FROM thread WHERE tags CONTAINS 'db'",
			Subs: []sub{{Name: "au", Single: true}}},
		{Key: "bob_mine", SurQL: "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id AND author = $auth.id ORDER BY id) AS mine " +
			"FROM thread WHERE author = $auth.id OR score = 9", Params: auth("bob"), Owner: "user:bob", Subs: []sub{{Name: "mine"}}},
		{Key: "clean", SurQL: "SELECT * FROM comment WHERE score IN [1, 2, 3] AND body != 'spam' ORDER BY score DESC, created, id LIMIT 6"},
	}
	for i := range vs {
		vs[i].Client = "client-" + vs[i].Key
	}
	return vs
}
