package surql

import (
	"errors"
	"testing"
)

// validQueries parse successfully; they seed the round-trip test and the fuzzer.
var validQueries = []string{
	// The example queries views use.
	"SELECT * FROM thread WHERE author = $auth.id ORDER BY created_at DESC LIMIT 20",
	"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY created_at DESC LIMIT 5) AS comments FROM thread WHERE id = $id",
	"SELECT *, (SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM comment WHERE $parent.id = thread AND (score > 3 OR pinned = true) ORDER BY score DESC, id ASC LIMIT 3 START 1) AS comments FROM thread",
	"SELECT id, title AS t, author.name FROM thread WHERE tags CONTAINSANY ['go', \"rust\"] AND meta.views >= -5.5 AND deleted IS NONE AND archived != NULL ORDER BY t ASC START 2 LIMIT 10;",
	"SELECT * FROM event WHERE at > d'2024-01-01T00:00:00Z' AND string::lowercase(name) CONTAINS 'x' AND array::len(tags) IN [1,2,3] AND !(a = 1)",
	// Three levels of correlated subqueries with their own clauses.
	`SELECT *,
	   (SELECT *,
	      (SELECT *, (SELECT * FROM vote WHERE reply = $parent.id AND user = $auth.id LIMIT 1)[0] AS my_vote
	       FROM reply WHERE comment = $parent.id AND $parent.thread = $id ORDER BY at LIMIT $n START 0) AS replies
	    FROM comment WHERE thread = $parent.id ORDER BY score DESC START AT 1 LIMIT BY 3) AS comments
	 FROM thread WHERE author = $auth.id`,
	"SELECT * FROM thread WHERE (SELECT * FROM user WHERE id = $auth.id LIMIT 1)[0] = $x OR public = true",
	"SELECT * FROM thread WHERE id IN (SELECT * FROM pin WHERE user = $auth.id)",
	// Every operator, keyword and symbol forms.
	"SELECT * FROM t WHERE a = 1 AND b == 2 AND c != 3 AND d > 4 AND e >= 5 AND f < 6 AND g <= 7",
	"SELECT * FROM t WHERE a IS 1 OR b IS NOT 2 OR c is not NULL",
	"SELECT * FROM t WHERE a CONTAINS 1 AND b CONTAINSNOT 2 AND c CONTAINSALL [1] AND d CONTAINSANY [2] AND e CONTAINSNONE [3]",
	"SELECT * FROM t WHERE a INSIDE [1] AND b IN [2] AND c NOT IN [3] AND d NOTINSIDE [4] AND e ALLINSIDE [5] AND f ANYINSIDE [6] AND g NONEINSIDE [7]",
	"SELECT * FROM t WHERE a ∋ 1 AND b ∌ 2 AND c ⊇ [1] AND d ⊃ [2] AND e ⊅ [3] AND f ∈ [4] AND g ∉ [5] AND h ⊆ [6] AND i ⊂ [7] AND j ⊄ [8]",
	"SELECT * FROM t WHERE a && b || c AND !d OR NOT(e)",
	"SELECT * FROM t WHERE a + b * c - d / e > -f AND -(g) < 2 × 3 ÷ 4",
	"SELECT * FROM t WHERE (a + b) * (c - d) = 1 AND a - (b - c) = 2 AND (a = b) = c",
	"select * from t where a = 1 and b = 2 order by a, b desc limit 1 start 1",
	// Literals.
	"SELECT * FROM t WHERE a = 'it\\'s' OR a = \"dq \\\"x\\\"\" OR a = s'plain' OR a = s\"plain\"",
	"SELECT * FROM t WHERE a = '\\n\\r\\t\\b\\f\\0\\\\\\`' OR a = '\\u00e9\\u{1F600}' OR a = 'é⟨⟩'",
	"SELECT * FROM t WHERE a = 0 OR a = -0 OR a = 9223372036854775807 OR a = -9223372036854775808",
	"SELECT * FROM t WHERE a = 1.5 OR a = 1e3 OR a = 1.5e-3 OR a = 2E+2 OR a = 1.5f OR a = 3f OR a = 1.5dec OR a = 7dec OR a = -0.25",
	"SELECT * FROM t WHERE a = true OR a = FALSE OR a = null OR a = NONE",
	"SELECT * FROM t WHERE a = [] OR a = [1, 'x', [true], {k: 1}] OR a = [1, $p] OR a = [1, 2,]",
	"SELECT * FROM t WHERE a = {} OR a = { k: 1, 'quoted key': 'v', \"dq\": [1], 2: null } OR a = { k: $p, n: { m: $q.r } }",
	"SELECT * FROM t WHERE a = user:1 OR a = user:abc OR a = user:⟨a b⟩ OR a = user:`c d` OR a = user:-7 OR a = user:1abc OR a = ⟨odd table⟩:x",
	"SELECT * FROM t WHERE a = r'user:1' OR a = r\"user:⟨a b⟩\"",
	"SELECT * FROM t WHERE a = user:⟨x\\⟩y⟩ OR a = user:`b\\`c` OR a = `t\\nx`:`k\\\\` OR `odd\\u{1}name` = NaN OR b = Infinity",
	"SELECT * FROM t WHERE at > d'2024-01-01T00:00:00Z' AND at < d\"2024-06-01T12:30:00.123456789+02:00\" AND at != d'2024-02-03'",
	"SELECT * FROM t WHERE age > 30s OR age > 1h30m OR age > 500ms OR age < 2w OR age < 1y OR age < 3d OR age > 10us OR age > 10µs OR age > 7ns OR age > -5s",
	// Params and paths.
	"SELECT * FROM t WHERE a = $p AND b = $p.x.y AND c = $parent.id AND d = $auth.id AND e = $this",
	"SELECT a.b.c, a[0], a[1].b, a['x y'], `weird name`, ⟨other⟩.`x`, `select` FROM t",
	// Field list forms.
	"SELECT *, (SELECT * FROM c WHERE p = $parent.id) AS cs, x AS `odd alias` FROM t",
	"SELECT a, *, b AS c FROM t ORDER BY c",
	"SELECT a + 1 AS n, string::uppercase(name) AS up, [a, b] AS pair, { x: a } AS obj, 'lit' AS l FROM t",
	"SELECT title FROM thread ORDER BY title COLLATE NUMERIC DESC",
	"SELECT * FROM t ORDER a NUMERIC COLLATE ASC, b DESCENDING, c ASCENDING",
	"SELECT * FROM `my table` WHERE x = 1",
	"SELECT * FROM ⟨my table⟩",
	"SELECT * FROM t LIMIT $limit START $start",
	"SELECT * FROM t START 5",
	// SELECT VALUE (in subqueries) and FROM a record id.
	"SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE author = $parent.author ORDER BY id LIMIT 3)",
	"SELECT * FROM t WHERE (SELECT VALUE x.y FROM u ORDER BY x.y DESC) CONTAINS z",
	"SELECT * FROM user:1",
	"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS c FROM thread:⟨a-b⟩ WHERE x = 1",
	"SELECT * FROM r'user:⟨odd id⟩'",
	"SELECT * FROM ⟨odd table⟩:`k y`",
	"SELECT * FROM t LIMIT 0",
	// Functions.
	"SELECT * FROM t WHERE string::starts_with(name, 'a') AND string::ends_with(name, 'z') AND string::contains(name, 'm') AND string::len(string::trim(name)) > 2",
	"SELECT * FROM t WHERE array::first(tags) = 'a' AND array::last(tags) = 'z' AND math::abs(score) < 10 AND STRING::LOWERCASE(n) = 'x'",
	// Keywords used as field and table names, as SurrealDB allows.
	"SELECT in, out, value, start AS s FROM likes WHERE in = $auth.id AND out IN $posts AND start > 5 AND order = 1 ORDER BY s",
	"SELECT * FROM order WHERE group = 'x' AND version IN [1] AND `select` = 1 AND not = 2 AND `info` = 3 ORDER BY start DESC, limit LIMIT 5",
	"SELECT * FROM from",
	// Whitespace and comments.
	"-- leading comment\nSELECT * /* block */ FROM t # hash\n WHERE a = 1 // slashes\n;",
	"\n\n  SELECT\t*\r\nFROM\tt  ;  ",
}

func TestRoundTrip(t *testing.T) {
	for _, q := range validQueries {
		s, err := ParseSelect(q)
		if err != nil {
			t.Errorf("ParseSelect(%q): %v", q, err)
			continue
		}
		printed := s.String()
		again, err := ParseSelect(printed)
		if err != nil {
			t.Errorf("re-parse of %q (printed from %q): %v", printed, q, err)
			continue
		}
		if printedAgain := again.String(); printedAgain != printed {
			t.Errorf("printing is not stable:\n first: %s\nsecond: %s", printed, printedAgain)
		}
		if !sameTree(s, again) {
			t.Errorf("round trip changed the tree of %q:\n before: %s\n  after: %s", q, dumpSelect(s), dumpSelect(again))
		}
	}
}

func TestParseSelectTree(t *testing.T) {
	tests := []struct {
		q, want string
	}{
		{"SELECT * FROM thread", "select * from thread"},
		{"SELECT * FROM thread WHERE author = $auth.id ORDER BY created_at DESC LIMIT 20",
			"select * from thread where (= author $auth.id) order created_at desc limit 20"},
		{"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY created_at DESC LIMIT 5) AS comments FROM thread WHERE id = $id",
			"select *, (subquery select * from comment where (= thread $parent.id) order created_at desc limit 5) as comments from thread where (= id $id)"},
		{"SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM comment",
			"select *, (subquery[0] select * from user where (= id $parent.author) limit 1) as author from comment"},
		{"SELECT id, title AS t, author.name FROM thread WHERE tags CONTAINSANY ['go', \"rust\"] AND meta.views >= -5.5 ORDER BY t ASC START 2 LIMIT 10;",
			"select id, title as t, author.name from thread where (AND (CONTAINSANY tags ['go', 'rust']) (>= meta.views -5.5)) order t limit 10 start 2"},
		// Precedence: OR < AND < equality < relation < +- < */ < prefix.
		{"SELECT * FROM t WHERE a OR b AND c", "select * from t where (OR a (AND b c))"},
		{"SELECT * FROM t WHERE a AND b OR c", "select * from t where (OR (AND a b) c)"},
		{"SELECT * FROM t WHERE a = 1 AND b = 2", "select * from t where (AND (= a 1) (= b 2))"},
		{"SELECT * FROM t WHERE a = b IN c", "select * from t where (= a (IN b c))"},
		{"SELECT * FROM t WHERE a < b = c", "select * from t where (= (< a b) c)"},
		{"SELECT * FROM t WHERE a + b * c > d - e", "select * from t where (> (+ a (* b c)) (- d e))"},
		{"SELECT * FROM t WHERE a - b - c = 0", "select * from t where (= (- (- a b) c) 0)"},
		{"SELECT * FROM t WHERE !a = b", "select * from t where (= (! a) b)"},
		{"SELECT * FROM t WHERE !(a = b) AND NOT(c)", "select * from t where (AND (! (= a b)) (! c))"},
		{"SELECT * FROM t WHERE -a * b = -5", "select * from t where (= (* (neg a) b) -5)"},
		{"SELECT * FROM t WHERE a IS NOT NONE AND b IS NULL", "select * from t where (AND (IS NOT a NONE) (IS b NULL))"},
		{"SELECT * FROM t WHERE a NOT IN [1, 2] OR b ∉ $s", "select * from t where (OR (NOT IN a [1, 2]) (NOT IN b $s))"},
		{"SELECT * FROM t WHERE (a = 1) = true", "select * from t where (= (= a 1) true)"},
		// Literals.
		{"SELECT * FROM t WHERE a = [1, $p, [2]]", "select * from t where (= a (array 1 $p [2]))"},
		{"SELECT * FROM t WHERE a = { k: $p, n: 1 }", "select * from t where (= a (object k:$p n:1))"},
		{"SELECT * FROM t WHERE a = { b: 1, 'c d': [true] }", "select * from t where (= a { b: 1, 'c d': [true] })"},
		{"SELECT * FROM t WHERE a = user:1 OR a = user:⟨1⟩ OR a = 'user:1'", "select * from t where (OR (OR (= a user:1) (= a user:⟨1⟩)) (= a 'user:1'))"},
		{"SELECT * FROM t WHERE a = 1.5dec OR a = 2f OR a = 1e3", "select * from t where (OR (OR (= a 1.5) (= a 2f)) (= a 1000f))"},
		{"SELECT * FROM t WHERE a = -9223372036854775808", "select * from t where (= a -9223372036854775808)"},
		{"SELECT * FROM t WHERE a > 1h30m AND b > -5s", "select * from t where (AND (> a 1h30m) (> b (neg 5s)))"},
		{"SELECT * FROM t WHERE a = d'2024-01-01' AND b = d'2024-01-01T02:00:00+02:00'",
			"select * from t where (AND (= a d'2024-01-01T00:00:00Z') (= b d'2024-01-01T00:00:00Z'))"},
		{"SELECT * FROM t WHERE a = 'a\\'b\\u0041\\u{42}'", "select * from t where (= a 'a\\'bAB')"},
		// Keywords as names.
		{"SELECT in, out, start FROM likes WHERE in = $auth.id AND start IN [1] ORDER BY start DESC", "select in, out, start from likes where (AND (= in $auth.id) (IN start [1])) order start desc"},
		{"SELECT * FROM order WHERE not = 1 OR `select`", "select * from order where (OR (= not 1) select)"},
		// Paths, calls, modifiers.
		{"SELECT a[0].b, a['x'], $p.q FROM t", "select a[0].b, a.x, $p.q from t"},
		{"SELECT * FROM t WHERE String::LowerCase(name) = 'x'", "select * from t where (= (call string::lowercase name) 'x')"},
		{"SELECT * FROM t ORDER BY a COLLATE NUMERIC DESC, b", "select * from t order a collate numeric desc b"},
		{"SELECT * FROM t ORDER a DESC NUMERIC", "select * from t order a numeric desc"},
		{"SELECT * FROM t START AT 3 LIMIT BY $n", "select * from t limit $n start 3"},
	}
	for _, tt := range tests {
		s, err := ParseSelect(tt.q)
		if err != nil {
			t.Errorf("ParseSelect(%q): %v", tt.q, err)
			continue
		}
		if got := dumpSelect(s); got != tt.want {
			t.Errorf("ParseSelect(%q)\n got: %s\nwant: %s", tt.q, got, tt.want)
		}
	}
}

func TestParseSelectPositions(t *testing.T) {
	q := "SELECT *,\n  (SELECT * FROM c WHERE p = $parent.id)[0] AS x\nFROM ⟨tâble⟩ WHERE `é` = 'ü' AND n > -2"
	s, err := ParseSelect(q)
	if err != nil {
		t.Fatal(err)
	}
	sq := s.Fields[0].Expr.(*Subquery)
	where := s.Where.(*Binary)
	left := where.L.(*Binary)
	right := where.R.(*Binary)
	tests := []struct {
		name string
		got  Pos
		want Pos
	}{
		{"select", s.Pos, Pos{1, 1, 0}},
		{"field", s.Fields[0].Pos, Pos{2, 3, 12}},
		{"subquery", sq.Pos, Pos{2, 3, 12}},
		{"inner select", sq.Select.Pos, Pos{2, 4, 13}},
		{"inner from", sq.Select.FromPos, Pos{2, 18, 27}},
		{"inner param", sq.Select.Where.(*Binary).R.ExprPos(), Pos{2, 30, 39}},
		{"from", s.FromPos, Pos{3, 6, 64}},
		{"and", where.Pos, Pos{3, 30, 95}},
		{"é", left.L.ExprPos(), Pos{3, 20, 83}},
		{"=", left.Pos, Pos{3, 24, 88}},
		{"'ü'", left.R.ExprPos(), Pos{3, 26, 90}},
		{"-2", right.R.ExprPos(), Pos{3, 38, 103}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseSelectErrors(t *testing.T) {
	tests := []struct {
		q, want string
	}{
		// Syntax errors name what was expected and what was found.
		{"", "expected a SELECT statement but found the end of the query at 1:1"},
		{"SELEC * FROM t", `expected a SELECT statement but found "SELEC" at 1:1`},
		{"SELECT * FROM thread WHERE author = ORDER BY x", `expected an expression after "=" but found "ORDER" at 1:37`},
		{"SELECT * FROM thread WHERE a = 1 FOO", `unexpected "FOO" after the statement at 1:34`},
		{"SELECT * FROM t WHERE a = 1 AND", `expected an expression after "AND" but found the end of the query at 1:32`},
		{"SELECT FROM t", `expected an expression after "SELECT" but found "FROM" at 1:8`},
		{"SELECT * t", `expected "," or FROM after the selected fields but found "t" at 1:10`},
		{"SELECT * FROM", "expected a table name after FROM but found the end of the query at 1:14"},
		{"SELECT * FROM WHERE a = 1", `expected a table name after FROM but found "WHERE" at 1:15`},
		{"SELECT * FROM t WHERE LIMIT 5", `expected an expression after "WHERE" but found "LIMIT" at 1:23`},
		{"SELECT a, FROM t", `expected an expression after "," but found "FROM" at 1:11`},
		{"SELECT *, * FROM t", `"*" appears twice in the selected fields at 1:11`},
		{"SELECT * FROM t WHERE (a = 1", `expected ")" to close the "(" at 1:23 but found the end of the query at 1:29`},
		{"SELECT * FROM t WHERE a = [1, 2", `expected "," or "]" to close the array at 1:27 but found the end of the query at 1:32`},
		{"SELECT * FROM t WHERE a = {b 1}", `expected ":" after the object key "b" but found "1" at 1:30`},
		{"SELECT * FROM t WHERE a = 'abc", "unterminated string: missing closing ' at 1:27"},
		{"SELECT * FROM t WHERE a = 'a\\qb'", `invalid escape sequence "\q" in a string at 1:29`},
		{"SELECT * FROM t /* x", `unterminated comment: missing "*/" at 1:17`},
		{"SELECT * FROM t WHERE a = 1 = 2", `chained comparison "=" has no defined associativity; add parentheses at 1:29`},
		{"SELECT * FROM t WHERE a < b < c", `chained comparison "<" has no defined associativity; add parentheses at 1:29`},
		{"SELECT * FROM t WHERE a IN b CONTAINS c", `chained comparison "CONTAINS" has no defined associativity; add parentheses at 1:30`},
		{"SELECT * FROM t WHERE a NOT b", `expected IN after NOT but found "b" at 1:29`},
		{"SELECT * FROM t WHERE NOT a = 1", `expected "(" after NOT but found "a" (SurrealQL negates with !expr or NOT(expr)) at 1:27`},
		{"SELECT * FROM t WHERE a = 12abc", `invalid number or duration "12abc" at 1:27`},
		{"SELECT * FROM t WHERE a = 1.5x", `invalid number "1.5x" at 1:27`},
		{"SELECT * FROM t WHERE a = 9223372036854775808", "integer 9223372036854775808 is out of range (64-bit) at 1:27"},
		{"SELECT * FROM t WHERE a = -9223372036854775809", "integer -9223372036854775809 is out of range (64-bit) at 1:27"},
		{"SELECT * FROM t WHERE a = d'2024-13-01'", "invalid datetime d'2024-13-01': expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm) at 1:27"},
		{"SELECT * FROM t WHERE a = d'2024-01-01T00:00:00'", "invalid datetime d'2024-01-01T00:00:00': expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm) at 1:27"},
		{"SELECT * FROM t WHERE a = d'3000-01-01'", "invalid datetime d'3000-01-01': years must be between 1678 and 2261 at 1:27"},
		{"SELECT * FROM t WHERE a = r'nope'", "invalid record id r'nope' (expected table:key) at 1:27"},
		{"SELECT * FROM t WHERE a = user:", `expected a record key after "user:" at 1:32`},
		{"SELECT * FROM t WHERE a = $", `expected a parameter name after "$" at 1:27`},
		{"SELECT * FROM t WHERE a = 1 ;;", `unexpected ";" after the statement at 1:30`},
		{"SELECT * FROM t WHERE a = §", "unexpected character '§' at 1:27"},
		{"SELECT * FROM t WHERE a = \xff", "invalid UTF-8 in the query at 1:27"},
		{"SELECT * FROM t WHERE string::len(a, b) > 1", "string::len takes 1 argument(s) but got 2 at 1:23"},
		{"SELECT * FROM t WHERE string::starts_with(a) ", "string::starts_with takes 2 argument(s) but got 1 at 1:23"},
		{"SELECT * FROM t WHERE string::len", `expected "(" after the function name string::len but found the end of the query at 1:34`},
		{"SELECT * FROM t WHERE a.", `expected a field name after "." but found the end of the query at 1:25`},
		{"SELECT * FROM t WHERE a[x]", `expected an array index or a quoted field name after "[" but found "x" at 1:25`},
		{"SELECT * FROM t LIMIT -1", "LIMIT must be a non-negative integer or a $parameter but found -1 at 1:23"},
		{"SELECT * FROM t LIMIT 1.5", "LIMIT must be a non-negative integer or a $parameter but found 1.5 at 1:23"},
		{"SELECT * FROM t START 'x'", "START must be a non-negative integer or a $parameter but found 'x' at 1:23"},
		{"SELECT * FROM t LIMIT 1 + 1", "LIMIT must be a non-negative integer or a $parameter but found 1 + 1 at 1:23"},
		{"SELECT * FROM t LIMIT 1 LIMIT 2", "LIMIT appears twice in the statement at 1:25"},
		{"SELECT * FROM t LIMIT 1 WHERE a = 1", "misplaced WHERE: clauses must come in the order WHERE, ORDER BY, LIMIT/START at 1:25"},
		{"SELECT * FROM t ORDER BY a WHERE a = 1", "misplaced WHERE: clauses must come in the order WHERE, ORDER BY, LIMIT/START at 1:28"},
		{"SELECT * FROM t ORDER BY a DESC ASC", "ASC repeats an ORDER BY modifier of a at 1:33"},
		{"SELECT title FROM t ORDER BY created_at", "ORDER BY created_at: the field is not selected (add it to the SELECT list or select *) at 1:30"},
		{"SELECT a FROM t WHERE x = (SELECT b FROM u ORDER BY c)", "ORDER BY c: the field is not selected (add it to the SELECT list or select *) at 1:53"},
		{"SELECT * FROM t WHERE x = (SELECT * FROM u LIMIT 1 WHERE a)", "misplaced WHERE: clauses must come in the order WHERE, ORDER BY, LIMIT/START at 1:52"},
		{"SELECT a AS `` FROM t", "an alias cannot be empty at 1:13"},
		{"SELECT * FROM t WHERE a = " + nest(200), "the query is nested too deeply at 1:154"},
		// Unsupported constructs are named, with Unsupported set.
		{"SELECT * FROM thread WHERE a = 1 GROUP BY x", "unsupported: GROUP BY (views support neither GROUP BY nor aggregate functions) at 1:34"},
		{"SELECT count() FROM t GROUP ALL", "unsupported: count() (views support neither aggregate functions nor GROUP BY) at 1:8"},
		{"SELECT * FROM t GROUP ALL", "unsupported: GROUP ALL (views support neither GROUP BY nor aggregate functions) at 1:17"},
		{"SELECT * FROM t SPLIT tags", "unsupported: SPLIT at 1:17"},
		{"SELECT * FROM t FETCH author", "unsupported: FETCH at 1:17"},
		{"SELECT * FROM t LIMIT 5 FETCH author", "unsupported: FETCH at 1:25"},
		{"SELECT * FROM t TIMEOUT 5s", "unsupported: TIMEOUT at 1:17"},
		{"SELECT * FROM t PARALLEL", "unsupported: PARALLEL at 1:17"},
		{"SELECT * FROM t EXPLAIN", "unsupported: EXPLAIN at 1:17"},
		{"SELECT * FROM t WITH INDEX idx", "unsupported: WITH INDEX at 1:17"},
		{"SELECT * FROM t WITH NOINDEX", "unsupported: WITH NOINDEX at 1:17"},
		{"SELECT * FROM t VERSION d'2024-01-01'", "unsupported: VERSION at 1:17"},
		{"SELECT * FROM t TEMPFILES", "unsupported: TEMPFILES at 1:17"},
		{"SELECT * OMIT password FROM t", "unsupported: OMIT at 1:10"},
		{"SELECT VALUE name AS n FROM t", "SELECT VALUE takes one expression without an alias at 1:19"},
		{"SELECT VALUE id, name FROM t", "SELECT VALUE takes one expression; select fields without VALUE at 1:16"},
		{"SELECT * FROM user:[1, 2]", "unsupported: record id with an array key (user:[…]) at 1:15"},
		{"SELECT * FROM user:1..4", "unsupported: record id range (user:1..) at 1:15"},
		{"SELECT * FROM user:1, user:2", "unsupported: several FROM targets (FROM user, …) at 1:21"},
		{"SELECT * FROM user:1.name", "unsupported: a field access on user:1 at 1:21"},
		{"SELECT * FROM ONLY t", "unsupported: FROM ONLY at 1:15"},
		{"SELECT * FROM a, b", "unsupported: several FROM targets (FROM a, …) at 1:16"},
		{"SELECT * FROM (SELECT * FROM t)", "unsupported: FROM a subquery or expression at 1:15"},
		{"SELECT * FROM $table", "unsupported: FROM a parameter ($table) at 1:15"},
		{"SELECT * FROM type::table($t)", "unsupported: FROM a function call at 1:15"},
		{"SELECT ->likes->post FROM user", "unsupported: graph traversal (->) at 1:8"},
		{"SELECT <-likes<-user FROM post", "unsupported: graph traversal (<-) at 1:8"},
		{"SELECT * FROM t WHERE a->b = 1", "unsupported: graph traversal (->) at 1:24"},
		{"SELECT * FROM t WHERE a<-b = 1", "unsupported: graph traversal (<-) at 1:24"},
		{"SELECT * FROM t WHERE a ~ 'x'", "unsupported: the fuzzy match operator ~ at 1:25"},
		{"SELECT * FROM t WHERE a !~ 'x'", "unsupported: the fuzzy match operator !~ at 1:25"},
		{"SELECT * FROM t WHERE a ?~ 'x'", "unsupported: the fuzzy match operator ?~ at 1:25"},
		{"SELECT * FROM t WHERE a *~ 'x'", "unsupported: the fuzzy match operator *~ at 1:25"},
		{"SELECT * FROM t WHERE a @@ 'x'", "unsupported: the full-text MATCHES operator @@ at 1:25"},
		{"SELECT * FROM t WHERE a ?? b", "unsupported: the operator ?? at 1:25"},
		{"SELECT * FROM t WHERE a % 2 = 0", "unsupported: the operator % at 1:25"},
		{"SELECT * FROM t WHERE a ** 2 = 4", "unsupported: the operator ** at 1:25"},
		{"SELECT * FROM t WHERE a *= 2", "unsupported: the operator *= at 1:25"},
		{"SELECT * FROM t WHERE a OUTSIDE b", "unsupported: the geometry operator OUTSIDE at 1:25"},
		{"SELECT * FROM t WHERE a IN 1..5", "unsupported: ranges (..) at 1:29"},
		{"SELECT * FROM t WHERE at > time::now() - 1d", "unsupported: time::now() (not deterministic; a view cannot depend on the clock) at 1:28"},
		{"SELECT * FROM t ORDER BY rand()", "unsupported: ORDER BY RAND() (not deterministic) at 1:26"},
		{"SELECT * FROM t ORDER BY a, rand", "ORDER BY RAND needs \"()\"; write `rand` for a field of that name at 1:29"},
		{"SELECT * FROM t WHERE info = 1", "INFO starts a statement here; write `info` for a field of that name at 1:23"},
		{"SELECT * FROM t WHERE a = 1 AND select = 1", "unsupported: a subquery without parentheses; write (SELECT …) at 1:33"},
		{"SELECT * FROM t WHERE sleep(1)", "unsupported: function sleep at 1:23"},
		{"SELECT * FROM t WHERE a = rand::uuid()", "unsupported: rand::uuid() (not deterministic; a view cannot depend on randomness) at 1:27"},
		{"SELECT math::sum(x) AS s FROM t", "unsupported: function math::sum (views support neither aggregate functions nor GROUP BY) at 1:8"},
		{"SELECT * FROM t WHERE fn::mine(a)", "unsupported: function fn::mine at 1:23"},
		{"SELECT * FROM t WHERE string::concat(a, b) = 'x'", "unsupported: function string::concat at 1:23"},
		{"SELECT * FROM t WHERE a = u'0191f4c2-1b0c-7d3e-8f00-000000000000'", "unsupported: uuid literals (u'…') at 1:27"},
		{"SELECT * FROM t WHERE a = b'00ff'", "unsupported: bytes literals (b'…') at 1:27"},
		{"SELECT * FROM t WHERE a = user:[1, 2]", "unsupported: record id with an array key (user:[…]) at 1:27"},
		{"SELECT * FROM t WHERE a = user:{a: 1}", "unsupported: record id with an object key (user:{…}) at 1:27"},
		{"SELECT * FROM t WHERE a = user:ulid()", "unsupported: generated record id user:ulid() at 1:27"},
		{"SELECT * FROM t WHERE a = user:1..5", "unsupported: record id range (user:1..) at 1:27"},
		{"SELECT * FROM t WHERE a = user:u'0191f4c2-1b0c-7d3e-8f00-000000000000'", "unsupported: record id with a u'…' key at 1:27"},
		{"SELECT * FROM t WHERE a.* = 1", "unsupported: all-fields paths (.*) at 1:24"},
		{"SELECT * FROM t WHERE a[*] = 1", "unsupported: all-elements paths (a[*]) at 1:24"},
		{"SELECT * FROM t WHERE a[WHERE b = 1] = 1", "unsupported: filters in paths (a[WHERE …]) at 1:24"},
		{"SELECT * FROM t WHERE a[-1] = 1", "unsupported: negative indexes (a[-…]) at 1:24"},
		{"SELECT * FROM t WHERE a[$i] = 1", "unsupported: computed indexes (a[$…]) at 1:24"},
		{"SELECT * FROM t WHERE a.len() = 1", "unsupported: method calls (.len()) at 1:24"},
		{"SELECT * FROM t WHERE $p[0] = 1", "unsupported: indexing a parameter ($p[…]) at 1:25"},
		{"SELECT * FROM t WHERE user:1.name = 'x'", "unsupported: a field access on user:1 at 1:29"},
		{"SELECT * FROM t WHERE [1, 2][0] = 1", "unsupported: indexing [1, 2] at 1:29"},
		{"SELECT * FROM t WHERE (SELECT * FROM u)[0].x = 1", "unsupported: a field access on (SELECT * FROM u)[0] at 1:43"},
		{"SELECT * FROM t WHERE (SELECT * FROM u)[0][1] = 1", "unsupported: indexing (SELECT * FROM u)[0] at 1:43"},
		{"SELECT * FROM t WHERE a = 'x\\⟩'", `invalid escape sequence "\⟩" in a string at 1:29`},
		{"SELECT * FROM t WHERE `a\\q` = 1", `invalid escape sequence "\q" in a quoted identifier at 1:25`},
		{"SELECT * FROM t WHERE ⟨a = 1", "unterminated quoted identifier: missing closing ⟩ at 1:23"},
		{"SELECT * FROM t WHERE (SELECT * FROM u)[-1] = 1", "unsupported: this index on a subquery (only a non-negative integer such as [0]) at 1:41"},
		{"SELECT * FROM t WHERE a IN SELECT * FROM u", "unsupported: a subquery without parentheses; write (SELECT …) at 1:28"},
		{"SELECT * FROM t WHERE a = (DELETE u)", "unsupported: DELETE statement in a subquery (subqueries must be SELECT) at 1:28"},
		{"SELECT * FROM t WHERE a = <int> b", "unsupported: type casts (<type> value) at 1:27"},
		{"SELECT * FROM t WHERE a = (1, 2)", "unsupported: geometry points and tuples ((a, b)) at 1:27"},
		{"SELECT * FROM t WHERE a = /x/", "unsupported: regex literals (/…/) at 1:27"},
		{"SELECT * FROM t WHERE a = +b", "unsupported: unary + at 1:27"},
		{"SELECT * FROM t ORDER BY a + 1", "unsupported: ORDER BY an expression (a + 1); order by a field path or an alias at 1:26"},
		{"SELECT a.b AS c.d FROM t", "unsupported: a field path as an alias (AS c…); use a plain name at 1:16"},
		{"DELETE thread WHERE a = 1", "unsupported: DELETE statement (a view must be a single SELECT) at 1:1"},
		{"LET $a = 1; SELECT * FROM t", "unsupported: LET statement (a view must be a single SELECT) at 1:1"},
		{"BEGIN; SELECT * FROM t; COMMIT;", "unsupported: BEGIN statement (a view must be a single SELECT) at 1:1"},
		{"SELECT * FROM t; SELECT * FROM u", "unsupported: several statements (a view must be a single SELECT) at 1:18"},
	}
	for _, tt := range tests {
		s, err := ParseSelect(tt.q)
		if err == nil {
			t.Errorf("ParseSelect(%q) = %s, want error %q", tt.q, dumpSelect(s), tt.want)
			continue
		}
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("ParseSelect(%q) error %T is not *Error", tt.q, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseSelect(%q)\n got error: %s\nwant error: %s", tt.q, err, tt.want)
		}
		wantUnsupported := len(tt.want) > 12 && tt.want[:12] == "unsupported:"
		if perr.Unsupported != wantUnsupported {
			t.Errorf("ParseSelect(%q): Unsupported = %v, want %v", tt.q, perr.Unsupported, wantUnsupported)
		}
	}
}

// nest returns n nested parentheses around 1.
func nest(n int) string {
	s := "1"
	for i := 0; i < n; i++ {
		s = "(" + s + ")"
	}
	return s
}

func TestExprString(t *testing.T) {
	tests := []struct {
		q, want string
	}{
		{"a OR b AND c", "a OR b AND c"},
		{"(a OR b) AND c", "(a OR b) AND c"},
		{"a - (b - c)", "a - (b - c)"},
		{"(a - b) - c", "a - b - c"},
		{"(a = b) = c", "(a = b) = c"},
		{"a = (b = c)", "a = (b = c)"},
		{"a = b IN c", "a = b IN c"},
		{"(a = b) IN c", "(a = b) IN c"},
		{"!(a AND b)", "!(a AND b)"},
		{"!a", "!a"},
		{"NOT(a)", "NOT(a)"},
		{"- (5)", "-(5)"},
		{"-(-5)", "-(-5)"},
		{"- -a", "-(-a)"},
		{"a - -5", "a - -5"},
		{"-5s", "-(5s)"},
		{"1.0", "1f"},
		{"1e21", "1e+21"},
		{"'a\nb\\'c' + \"d\"", `'a\nb\'c' + 'd'`},
		{"`select` + `a b`.c + sel", "`select` + `a b`.c + sel"},
		{"{ 'a b': 1, c: $d }", "{ 'a b': 1, c: $d }"},
		{"{ b: 2, a: 1 }", "{ b: 2, a: 1 }"},
		{"⟨a⟩:⟨x y⟩ + `b c`:1 + t:⟨12⟩ + t:`a⟩b`", "a:⟨x y⟩ + ⟨b c⟩:1 + t:⟨12⟩ + t:`a⟩b`"},
		{"d'2024-05-06T07:08:09.5+01:00'", "d'2024-05-06T06:08:09.5Z'"},
		{"(SELECT * FROM u WHERE a = $parent.b LIMIT 1)[0]", "(SELECT * FROM u WHERE a = $parent.b LIMIT 1)[0]"},
	}
	for _, tt := range tests {
		s, err := ParseSelect("SELECT " + tt.q + " AS x FROM t")
		if err != nil {
			t.Errorf("parse %q: %v", tt.q, err)
			continue
		}
		if got := ExprString(s.Fields[0].Expr); got != tt.want {
			t.Errorf("ExprString(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestFieldName(t *testing.T) {
	s, err := ParseSelect("SELECT a.b, c AS d, string::len(e), (SELECT * FROM u) AS f FROM t")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.b", "d", "string::len(e)", "f"}
	for i, f := range s.Fields {
		if got := f.Name(); got != want[i] {
			t.Errorf("field %d: Name() = %q, want %q", i, got, want[i])
		}
	}
}
