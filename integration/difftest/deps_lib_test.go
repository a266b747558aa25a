package difftest

import "github.com/sp00ky/ssp/surreal/surql"

// linkTargets maps the workload's link fields to the table they point into (gen.go).
var linkTargets = map[string]string{"author": "user", "thread": "thread", "parent": "comment", "owner": "user"}

// readTables returns the tables a view's result can depend on: the FROM table of every SELECT in
// it (subqueries included) and the target of every link a field path may step through. It is
// conservative: a path step named like a link field counts even where it is a plain field.
// SurrealDB's answer to a view cannot change while none of these tables is written, which lets a
// step skip re-running such views on SurrealDB (the engine is still checked against the last
// answer).
func readTables(sel *surql.Select) map[string]bool {
	out := map[string]bool{}
	addSelect(sel, out)
	return out
}

func addSelect(sel *surql.Select, out map[string]bool) {
	out[sel.From] = true
	for _, f := range sel.Fields {
		addExpr(f.Expr, out)
	}
	addExpr(sel.Where, out)
	addExpr(sel.Limit, out)
	addExpr(sel.Start, out)
	for _, o := range sel.Order {
		if o.Path != nil {
			addExpr(o.Path, out)
		}
	}
}

func addPath(parts []string, out map[string]bool) {
	for i := 0; i+1 < len(parts); i++ {
		if t, ok := linkTargets[parts[i]]; ok {
			out[t] = true
		}
	}
}

func addExpr(e surql.Expr, out map[string]bool) {
	switch x := e.(type) {
	case nil, *surql.Literal:
	case *surql.Idiom:
		names := make([]string, 0, len(x.Parts))
		for _, p := range x.Parts {
			if !p.IsIndex {
				names = append(names, p.Name)
			}
		}
		addPath(names, out)
	case *surql.Param:
		addPath(x.Path, out)
	case *surql.Binary:
		addExpr(x.L, out)
		addExpr(x.R, out)
	case *surql.Unary:
		addExpr(x.X, out)
	case *surql.ArrayExpr:
		for _, el := range x.Elems {
			addExpr(el, out)
		}
	case *surql.ObjectExpr:
		for _, v := range x.Values {
			addExpr(v, out)
		}
	case *surql.Call:
		for _, a := range x.Args {
			addExpr(a, out)
		}
	case *surql.Subquery:
		addSelect(x.Select, out)
	default:
		for _, t := range Tables { // an expression this walk does not know: assume the worst
			out[t] = true
		}
	}
}
