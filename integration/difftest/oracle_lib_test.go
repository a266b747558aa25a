package difftest

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// compiled is a corpus view prepared for the oracle.
type compiled struct {
	View
	idx  int
	sel  *surql.Select
	deps map[string]bool // tables the result depends on (readTables)
	text string          // the statements run on SurrealDB: LETs for its params, then the view
	vars map[string]any  // the query variables the LETs read
}

var paramRE = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)
var authRE = regexp.MustCompile(`\$auth\b`)

// compile parses v and builds the SurrealQL that runs it on SurrealDB inside a batch of many
// views. The view's text is run as is, except that `$auth` becomes `$__auth`: SurrealDB does not
// let a client set `$auth` (it is the signed-in record user), and the SSP defines `$auth` as the
// view's `params.auth`. Each parameter the text mentions is set with a LET right before it (to
// NONE when the params lack it), so that views sharing a parameter name do not see each other's
// values.
func compile(idx int, v View) (*compiled, error) {
	sel, err := surql.ParseSelect(v.SurQL)
	if err != nil {
		return nil, fmt.Errorf("parse view %s: %w", v.ID, err)
	}
	body := strings.TrimSpace(v.SurQL)
	body = strings.TrimRight(body, "; \t\n")
	body = authRE.ReplaceAllString(body, "$$__auth")
	c := &compiled{View: v, idx: idx, sel: sel, deps: readTables(sel), vars: map[string]any{}}
	seen := map[string]bool{}
	var lets []string
	for _, m := range paramRE.FindAllStringSubmatch(body, -1) {
		name := m[1]
		if seen[name] || name == "parent" || name == "this" {
			continue
		}
		seen[name] = true
		pname := name
		if name == "__auth" {
			pname = "auth"
		}
		val := v.Params.Get(pname)
		x, err := toSurreal(val)
		if err != nil {
			return nil, fmt.Errorf("view %s: param %s: %w", v.ID, pname, err)
		}
		varName := fmt.Sprintf("__v%d_%s", idx, name)
		c.vars[varName] = x
		lets = append(lets, fmt.Sprintf("LET $%s = $%s;", name, varName))
	}
	sort.Strings(lets)
	c.text = strings.Join(append(lets, body+";"), "\n")
	return c, nil
}

// stmtCount is the number of statements compiled text holds.
func (c *compiled) stmtCount() int { return len(c.vars) + 1 }

// batch is the views' part of a step's query: the statements of every active view, and where
// each view's SELECT result sits among the statements.
type batch struct {
	text  string
	vars  map[string]any
	views []*compiled
	at    []int // statement index (relative to the batch's first statement) of each view's SELECT
	n     int   // statements in the batch
}

func newBatch(views []*compiled) *batch {
	b := &batch{vars: map[string]any{}, views: views}
	var sb strings.Builder
	for _, c := range views {
		sb.WriteString(c.text)
		sb.WriteByte('\n')
		for k, v := range c.vars {
			b.vars[k] = v
		}
		b.n += c.stmtCount()
		b.at = append(b.at, b.n-1)
	}
	b.text = sb.String()
	return b
}

// writeStmt is the SurrealQL of a write, reading $__tb, $__id and $__c. Records and datetimes in
// the content are real SurrealDB records and datetimes (see toSurreal).
func writeStmt(op Op) string {
	switch op {
	case OpMerge:
		return "UPSERT type::record($__tb, $__id) MERGE $__c RETURN NONE;"
	case OpDelete:
		return "DELETE type::record($__tb, $__id);"
	}
	return "UPSERT type::record($__tb, $__id) CONTENT $__c RETURN NONE;"
}

const readBack = "SELECT * FROM ONLY type::record($__tb, $__id);"

// stepResult is what one round trip returns: the row as stored after the write (nil when it is
// absent) and each view's raw result.
type stepResult struct {
	row   any
	views []any
}

// runStep runs the write w (if non-nil), reads the row back and runs every view of b, all in one
// query call.
func runStep(ctx context.Context, db *surrealdb.DB, w *Write, b *batch) (*stepResult, error) {
	vars := make(map[string]any, len(b.vars)+3)
	for k, v := range b.vars {
		vars[k] = v
	}
	var sb strings.Builder
	pre := 0
	if w != nil {
		vars["__tb"] = w.Table
		k := w.ID.Key()
		if k.Kind() == value.KindInt {
			vars["__id"] = k.AsInt()
		} else {
			vars["__id"] = k.AsString()
		}
		content := w.Content
		if content.IsNone() {
			content = value.ObjectOf(nil)
		}
		c, err := toSurreal(content)
		if err != nil {
			return nil, fmt.Errorf("content of %s: %w", value.RecordString(w.ID), err)
		}
		vars["__c"] = c
		sb.WriteString(writeStmt(w.Op))
		sb.WriteByte('\n')
		sb.WriteString(readBack)
		sb.WriteByte('\n')
		pre = 2
	}
	sb.WriteString(b.text)
	res, err := surrealdb.Query[any](ctx, db, sb.String(), vars)
	if res == nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	rs := *res
	if len(rs) != pre+b.n {
		return nil, fmt.Errorf("query returned %d results for %d statements (error: %v)", len(rs), pre+b.n, err)
	}
	for i, r := range rs {
		if r.Error != nil {
			return nil, fmt.Errorf("%s: %w", describeStmt(i, pre, w, b), r.Error)
		}
	}
	out := &stepResult{views: make([]any, len(b.views))}
	if w != nil {
		out.row = rs[1].Result
	}
	for i := range b.views {
		out.views[i] = rs[pre+b.at[i]].Result
	}
	return out, nil
}

func describeStmt(i, pre int, w *Write, b *batch) string {
	if i < pre {
		return fmt.Sprintf("%s %s", w.Op, value.RecordString(w.ID))
	}
	for j, at := range b.at {
		if i-pre <= at {
			return fmt.Sprintf("view %s (%s)", b.views[j].ID, b.views[j].SurQL)
		}
	}
	return fmt.Sprintf("statement %d", i)
}
