package difftest

import (
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

// View is one live query of the corpus: its id, SurrealQL and params (an object, or NONE).
type View struct {
	ID     string
	SurQL  string
	Params value.Value
}

func obj(kv ...any) value.Value {
	fs := make([]value.Field, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		fs = append(fs, value.Field{Key: kv[i].(string), Val: kv[i+1].(value.Value)})
	}
	return value.ObjectOf(fs)
}

func strArr(ss ...string) value.Value {
	out := make([]value.Value, len(ss))
	for i, s := range ss {
		out[i] = value.String(s)
	}
	return value.Array(out)
}

func rec(tb string, key any) value.Value {
	switch k := key.(type) {
	case int:
		return value.Record(tb, value.Int(int64(k)))
	case string:
		return value.Record(tb, value.String(k))
	}
	panic("rec: key must be int or string")
}

// Corpus returns the differential test's views. Together they use every construct of SPEC §3
// (also FROM table:key, SELECT VALUE subqueries in WHERE, unaliased subquery fields, fields
// typed string or record next to untyped ones, and windows where ties decide membership):
// each comparison and containment operator, AND/OR/NOT/!, parentheses, IS [NOT] NONE/NULL,
// literals of every kind, $params with paths, $auth.id, field paths, link paths, the allowed
// functions, ORDER BY single/multi/ASC/DESC over strings, numbers, datetimes and mixed types,
// ORDER BY without LIMIT, LIMIT windows with ties, START, LIMIT without ORDER BY, projections with
// aliases, `(subquery) AS x`, `(subquery)[0] AS x`, correlated subqueries with $parent in several
// positions, three-level nesting with ORDER BY/LIMIT inside, and uncorrelated subqueries.
//
// Rules the corpus follows because of SurrealDB 3 itself (see the package doc): every SELECT
// projects `id` (or `*`) so members can be read off the result; ORDER BY fields are projected;
// an ORDER BY whose window (LIMIT/START) can cut through ties uses a literal LIMIT with
// START+LIMIT ≤ 1000 (SurrealDB's stable top-k) or ends with a unique key (`id`), because
// SurrealDB's full sort is unstable.
func Corpus() []View {
	d2 := value.Datetime(time.Date(2024, 1, 2, 12, 30, 0, 0, time.UTC))
	return []View{
		// Plain scans and comparisons.
		{ID: "all_users", SurQL: "SELECT * FROM user"},
		{ID: "age_gt", SurQL: "SELECT * FROM user WHERE age > 19"},
		{ID: "age_range", SurQL: "SELECT * FROM user WHERE age >= 19 AND age <= 20.5"},
		{ID: "age_lt_or_null", SurQL: "SELECT * FROM user WHERE age < 20 OR age IS NULL"},
		{ID: "age_none", SurQL: "SELECT * FROM user WHERE age IS NONE"},
		{ID: "age_not_none_ne", SurQL: "SELECT * FROM user WHERE age IS NOT NONE AND age != 20"},
		{ID: "active_eq", SurQL: "SELECT * FROM user WHERE active == true"},
		{ID: "not_active", SurQL: "SELECT * FROM user WHERE !active"},
		{ID: "not_paren", SurQL: "SELECT * FROM user WHERE NOT (active = true AND age > 19)"},
		{ID: "active_is_false", SurQL: "SELECT * FROM user WHERE active IS false OR active IS NOT NULL AND name = 'Ann'"},
		// Containment.
		{ID: "tags_contains", SurQL: "SELECT * FROM user WHERE tags CONTAINS 'go'"},
		{ID: "tags_containsnot", SurQL: "SELECT * FROM user WHERE tags CONTAINSNOT 'rust'"},
		{ID: "tags_containsall", SurQL: "SELECT * FROM user WHERE tags CONTAINSALL ['go', 'js']"},
		{ID: "tags_containsany", SurQL: "SELECT * FROM user WHERE tags CONTAINSANY $langs", Params: obj("langs", strArr("rust", "zig"))},
		{ID: "tags_containsnone", SurQL: "SELECT * FROM thread WHERE tags CONTAINSNONE ['go']"},
		{ID: "name_inside", SurQL: "SELECT * FROM user WHERE name INSIDE ['ann', 'bob']"},
		{ID: "name_in_param", SurQL: "SELECT * FROM user WHERE name IN $names", Params: obj("names", strArr("cid", "Ann"))},
		{ID: "name_not_in", SurQL: "SELECT * FROM user WHERE name NOT IN ['ann', 'dee'] AND name NOTINSIDE ['bob']"},
		{ID: "tags_allinside", SurQL: "SELECT * FROM thread WHERE tags ALLINSIDE ['go', 'rust']"},
		{ID: "tags_anyinside", SurQL: "SELECT * FROM thread WHERE tags ANYINSIDE ['js']"},
		{ID: "tags_noneinside", SurQL: "SELECT * FROM thread WHERE tags NONEINSIDE ['go', 'js']"},
		{ID: "title_contains_str", SurQL: "SELECT * FROM thread WHERE title CONTAINS 'ell'"},
		// Paths, links, literals, params.
		{ID: "author_in_records", SurQL: "SELECT * FROM comment WHERE author IN $authors", Params: obj("authors", value.Array([]value.Value{rec("user", 1), rec("user", "ann"), rec("user", "10")}))},
		{ID: "ne_with_absent", SurQL: "SELECT * FROM thread WHERE score != 1 AND title != 'news'"},
		{ID: "meta_views", SurQL: "SELECT * FROM thread WHERE meta.views >= 2"},
		{ID: "deep_path", SurQL: "SELECT * FROM user WHERE profile.address.city = 'oslo'"},
		{ID: "author_param", SurQL: "SELECT * FROM thread WHERE author = $user", Params: obj("user", rec("user", 1))},
		{ID: "author_literal", SurQL: "SELECT * FROM thread WHERE author = user:⟨10⟩ OR author = user:10"},
		{ID: "author_auth", SurQL: "SELECT * FROM thread WHERE author = $auth.id AND pinned != true", Params: obj("auth", obj("id", rec("user", "ann")))},
		{ID: "link_path", SurQL: "SELECT * FROM thread WHERE author.name = 'ann'"},
		{ID: "link_path_2hop", SurQL: "SELECT * FROM comment WHERE thread.author.active = true"},
		{ID: "created_after", SurQL: "SELECT * FROM thread WHERE created > d'2024-01-02T00:00:00Z'"},
		{ID: "created_param", SurQL: "SELECT * FROM comment WHERE created <= $since", Params: obj("since", d2)},
		{ID: "score_neg_float", SurQL: "SELECT * FROM thread WHERE score = -1 OR score = 1.5"},
		{ID: "meta_object_eq", SurQL: "SELECT * FROM thread WHERE meta = { views: 1, flags: [] }"},
		{ID: "tags_array_eq", SurQL: "SELECT * FROM thread WHERE tags = ['go']"},
		{ID: "pinned_null", SurQL: "SELECT * FROM thread WHERE pinned IS NULL OR pinned IS NONE"},
		{ID: "param_path", SurQL: "SELECT * FROM thread WHERE score >= $cfg.min.score AND title != $cfg.skip", Params: obj("cfg", obj("min", obj("score", value.Int(1)), "skip", value.String("news")))},
		{ID: "duration_cmp", SurQL: "SELECT * FROM comment WHERE score < 1h AND created > 1h"},
		{ID: "parent_link", SurQL: "SELECT * FROM comment WHERE parent IS NOT NONE AND parent.score >= 0"},
		// Functions.
		{ID: "fn_lowercase", SurQL: "SELECT * FROM user WHERE name IS NOT NONE AND name IS NOT NULL AND string::lowercase(name) = 'ann'"},
		{ID: "fn_strings", SurQL: "SELECT * FROM thread WHERE title != NONE AND title != NULL AND (string::starts_with(title, 'item') OR string::contains(title, 'ew'))"},
		{ID: "fn_array_len", SurQL: "SELECT * FROM thread WHERE tags IS NOT NONE AND tags IS NOT NULL AND array::len(tags) >= 2"},
		// Projections, ORDER BY, LIMIT, START.
		{ID: "proj_alias", SurQL: "SELECT id, title AS t, meta.views AS v, author.name FROM thread WHERE score > 0"},
		{ID: "order_no_limit", SurQL: "SELECT id, title, score FROM thread ORDER BY score DESC"},
		{ID: "top_score", SurQL: "SELECT * FROM thread ORDER BY score DESC LIMIT 3"},
		{ID: "multi_order", SurQL: "SELECT * FROM thread ORDER BY title ASC, score DESC LIMIT 4 START 1"},
		{ID: "latest_comments", SurQL: "SELECT * FROM comment ORDER BY created DESC LIMIT 5"},
		{ID: "age_order_mixed", SurQL: "SELECT * FROM user ORDER BY age LIMIT 3"},
		{ID: "age_order_desc_start", SurQL: "SELECT * FROM user ORDER BY age DESC START 2 LIMIT 3"},
		{ID: "name_order_collate", SurQL: "SELECT * FROM user ORDER BY name COLLATE LIMIT 2"},
		{ID: "title_order_numeric", SurQL: "SELECT * FROM thread ORDER BY title NUMERIC DESC LIMIT 2"},
		{ID: "limit_no_order", SurQL: "SELECT * FROM comment LIMIT 5"},
		{ID: "limit_start_no_order", SurQL: "SELECT * FROM comment WHERE score > 0 LIMIT 3 START 2"},
		{ID: "start_no_limit", SurQL: "SELECT * FROM comment START 4"},
		{ID: "order_alias", SurQL: "SELECT id, title AS t, meta.views AS v FROM thread WHERE score > 0 ORDER BY v DESC, t LIMIT 3"},
		{ID: "order_link_alias", SurQL: "SELECT id, author.name AS an FROM thread ORDER BY an DESC LIMIT 3"},
		{ID: "order_nested", SurQL: "SELECT * FROM thread ORDER BY meta.views DESC LIMIT 2"},
		{ID: "order_id_desc", SurQL: "SELECT * FROM comment ORDER BY id DESC LIMIT 3"},
		{ID: "order_record", SurQL: "SELECT * FROM thread ORDER BY author DESC LIMIT 3"},
		{ID: "order_array", SurQL: "SELECT * FROM user ORDER BY tags DESC, joined LIMIT 3"},
		{ID: "order_object", SurQL: "SELECT * FROM thread ORDER BY meta LIMIT 3"},
		{ID: "order_bool_start", SurQL: "SELECT * FROM thread ORDER BY pinned DESC, created DESC LIMIT 2 START 1"},
		{ID: "limit_param_unique", SurQL: "SELECT * FROM comment ORDER BY score DESC, id LIMIT $n", Params: obj("n", value.Int(4))},
		// Subqueries.
		{ID: "sub_comments", SurQL: "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread"},
		{ID: "sub_top2", SurQL: "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY score DESC LIMIT 2) AS top FROM thread WHERE score >= 1"},
		{ID: "sub_index0", SurQL: "SELECT *, (SELECT * FROM user WHERE id = $parent.author)[0] AS author_row FROM thread"},
		{ID: "sub_index0_proj", SurQL: "SELECT id, body, (SELECT id, name FROM user WHERE id = $parent.author LIMIT 1)[0] AS who FROM comment WHERE score >= 0"},
		{ID: "sub_index0_ordered", SurQL: "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY created DESC, score LIMIT 1)[0] AS latest FROM thread"},
		{ID: "sub_parent_left", SurQL: "SELECT id, name, (SELECT id, title FROM thread WHERE $parent.id = author OR ($parent.active = false AND pinned = true)) AS threads FROM user"},
		{ID: "sub_parent_contains", SurQL: "SELECT id, tags, (SELECT id FROM thread WHERE tags CONTAINSANY $parent.tags AND created >= $parent.joined ORDER BY id LIMIT 2) AS related FROM user WHERE active = true"},
		{ID: "sub_three_levels", SurQL: "SELECT *, (SELECT *, (SELECT *, (SELECT * FROM user WHERE id = $parent.author)[0] AS who FROM comment WHERE parent = $parent.id ORDER BY created DESC LIMIT 2) AS replies FROM comment WHERE thread = $parent.id ORDER BY score DESC LIMIT 3) AS comments FROM thread WHERE pinned = true"},
		{ID: "sub_uncorrelated", SurQL: "SELECT *, (SELECT * FROM user WHERE active = true ORDER BY name LIMIT 2) AS featured FROM thread WHERE score > 1"},
		{ID: "sub_auth", SurQL: "SELECT *, (SELECT * FROM comment WHERE author = $auth.id AND thread = $parent.id) AS mine FROM thread WHERE author = $auth.id OR author IS NONE", Params: obj("auth", obj("id", rec("user", 2)))},
		{ID: "sub_in_where", SurQL: "SELECT * FROM thread WHERE array::len((SELECT id FROM comment WHERE thread = $parent.id)) >= 2"},
		// Strings vs record links (schemaDDL): user.handle and user.aliases are typed string,
		// thread.owner record<user>; comment.note is untyped text (today's rule: a string
		// equals the record it spells, so only string comparisons are asked of it).
		{ID: "handle_str", SurQL: "SELECT * FROM user WHERE handle = 'user:1' OR handle = 'user:`10`'"},
		{ID: "handle_rec", SurQL: "SELECT * FROM user WHERE handle = user:1 OR handle = user:ann OR handle = user:⟨10⟩ OR name = 'bob'"},
		{ID: "handle_in_ids", SurQL: "SELECT * FROM user WHERE handle IN (SELECT VALUE id FROM user WHERE active = true) OR handle = $h OR handle = 'ann'", Params: obj("h", rec("thread", 2))},
		{ID: "handle_order", SurQL: "SELECT * FROM user ORDER BY handle DESC LIMIT 3"},
		{ID: "handle_sub", SurQL: "SELECT id, handle, (SELECT id FROM user WHERE id = $parent.handle) AS same FROM user"},
		{ID: "handle_fn", SurQL: "SELECT * FROM user WHERE handle IS NOT NONE AND string::starts_with(handle, 'user:') AND handle.name IS NONE"},
		{ID: "aliases_str", SurQL: "SELECT * FROM user WHERE aliases CONTAINS 'user:1' OR aliases CONTAINS user:1 OR aliases CONTAINSANY [thread:ta]"},
		{ID: "owner_rec", SurQL: "SELECT * FROM thread WHERE owner = user:1 OR owner = $u OR owner = 'user:2'", Params: obj("u", rec("user", "ann"))},
		{ID: "owner_link", SurQL: "SELECT * FROM thread WHERE owner.active = true ORDER BY owner DESC LIMIT 4"},
		{ID: "owner_sub", SurQL: "SELECT *, (SELECT * FROM user WHERE id = $parent.owner)[0] AS o FROM thread WHERE owner IS NOT NONE"},
		{ID: "note_str", SurQL: "SELECT * FROM comment WHERE note = 'thread:1' OR note IN ['plain', 'user:1']"},
		// Unaliased subquery fields: named as SurrealDB names them (the rel of their members).
		{ID: "unaliased_sub", SurQL: "SELECT id, (SELECT id, body FROM comment WHERE thread = $parent.id ORDER BY id DESC LIMIT 2) FROM thread"},
		{ID: "unaliased_index", SurQL: "SELECT *, (SELECT * FROM user WHERE id = $parent.author)[0] FROM thread WHERE pinned = true"},
		{ID: "unaliased_nested", SurQL: "SELECT id, (SELECT id, (SELECT id FROM user WHERE id = $parent.author LIMIT 1) FROM comment WHERE thread = $parent.id AND score IS NOT NONE) FROM thread WHERE score >= 1"},
		{ID: "unaliased_odd", SurQL: "SELECT id, (SELECT id, created FROM comment WHERE thread == $parent.id AND (score IS 1 OR score = 1.5 OR score IN [-1, 0]) AND body NOT IN [\"meh\"] AND created >= d'2024-01-02' AND !(body = 'lol') ORDER BY created DESC, id LIMIT 3) FROM thread"},
		{ID: "unaliased_value", SurQL: "SELECT id, (SELECT id FROM comment WHERE thread = $parent.id AND author IN (SELECT VALUE id FROM user WHERE active = true)) FROM thread"},
		// FROM one record.
		{ID: "from_record", SurQL: "SELECT * FROM user:1"},
		{ID: "from_record_odd", SurQL: "SELECT * FROM user:⟨10⟩"},
		{ID: "from_record_sub", SurQL: "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY score DESC, id LIMIT 2) AS top FROM thread:ta WHERE score >= 0"},
		{ID: "from_record_where", SurQL: "SELECT id, score FROM comment:c_x WHERE score > 0"},
		// SELECT VALUE subqueries in WHERE, correlated or not.
		{ID: "value_in", SurQL: "SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE pinned = true)"},
		{ID: "value_in_corr", SurQL: "SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE author = $parent.author)"},
		{ID: "value_contains", SurQL: "SELECT * FROM comment WHERE (SELECT VALUE id FROM thread WHERE score >= 1) CONTAINS thread"},
		{ID: "value_inside_window", SurQL: "SELECT * FROM comment WHERE thread INSIDE (SELECT VALUE id FROM thread WHERE score > 0 ORDER BY id DESC LIMIT 3)"},
		{ID: "value_not_in", SurQL: "SELECT * FROM thread WHERE id NOT IN (SELECT VALUE thread FROM comment WHERE score > 1)"},
		{ID: "value_users", SurQL: "SELECT * FROM user WHERE id IN (SELECT VALUE author FROM thread WHERE pinned = true) AND id NOTINSIDE (SELECT VALUE author FROM comment WHERE body = 'lol')"},
		{ID: "value_in_sub", SurQL: "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id AND author IN (SELECT VALUE id FROM user WHERE active = true)) AS c FROM thread"},
		{ID: "value_nested", SurQL: "SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE author IN (SELECT VALUE id FROM user WHERE active = true))"},
		{ID: "value_anyinside", SurQL: "SELECT * FROM thread WHERE [author] ANYINSIDE (SELECT VALUE author FROM comment WHERE thread = $parent.id)"},
		{ID: "value_index", SurQL: "SELECT * FROM thread WHERE (SELECT VALUE score FROM comment WHERE thread = $parent.id ORDER BY score DESC LIMIT 1)[0] >= 2"},
		{ID: "value_count", SurQL: "SELECT * FROM user WHERE array::len((SELECT VALUE id FROM thread WHERE author = $parent.id)) >= 2"},
		// Ties on every ORDER BY key decide the window: ordered by record id (literal LIMIT,
		// START+LIMIT <= 1000, where SurrealDB's top-k is stable).
		{ID: "ties_bool", SurQL: "SELECT * FROM user ORDER BY active LIMIT 2"},
		{ID: "ties_desc_start", SurQL: "SELECT * FROM thread ORDER BY pinned DESC LIMIT 3 START 2"},
		{ID: "ties_none", SurQL: "SELECT * FROM comment ORDER BY nothing LIMIT 3 START 1"},
		{ID: "ties_multi", SurQL: "SELECT * FROM comment ORDER BY body DESC, score LIMIT 4 START 3"},
		{ID: "ties_sub", SurQL: "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY body LIMIT 1) AS first FROM thread"},
		{ID: "ties_sub_index", SurQL: "SELECT *, (SELECT * FROM comment WHERE author = $parent.id ORDER BY score DESC LIMIT 2 START 1)[0] AS second FROM user"},
		{ID: "ties_value", SurQL: "SELECT * FROM comment WHERE thread IN (SELECT VALUE thread FROM comment WHERE score >= 0 ORDER BY thread LIMIT 3)"},
	}
}
