package surql

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/sp00ky/ssp/surreal/value"
)

// dump renders a tree as a compact S-expression so tests can assert its shape.
func dump(e Expr) string {
	switch x := e.(type) {
	case nil:
		return "<nil>"
	case *Literal:
		return literalString(x.Val)
	case *Param:
		return ExprString(x)
	case *Idiom:
		return x.String()
	case *Binary:
		return fmt.Sprintf("(%s %s %s)", x.Op, dump(x.L), dump(x.R))
	case *Unary:
		op := "!"
		if x.Op == OpNeg {
			op = "neg"
		}
		return fmt.Sprintf("(%s %s)", op, dump(x.X))
	case *ArrayExpr:
		parts := make([]string, len(x.Elems))
		for i, el := range x.Elems {
			parts[i] = dump(el)
		}
		return "(array " + strings.Join(parts, " ") + ")"
	case *ObjectExpr:
		parts := make([]string, len(x.Keys))
		for i, k := range x.Keys {
			parts[i] = k + ":" + dump(x.Values[i])
		}
		return "(object " + strings.Join(parts, " ") + ")"
	case *Call:
		parts := []string{"call", x.Name}
		for _, a := range x.Args {
			parts = append(parts, dump(a))
		}
		return "(" + strings.Join(parts, " ") + ")"
	case *Subquery:
		idx := ""
		if x.Index != nil {
			idx = fmt.Sprintf("[%d]", *x.Index)
		}
		return "(subquery" + idx + " " + dumpSelect(x.Select) + ")"
	}
	return fmt.Sprintf("<%T>", e)
}

func dumpSelect(s *Select) string {
	var parts []string
	if s.Star {
		parts = append(parts, "*")
	}
	for _, f := range s.Fields {
		d := dump(f.Expr)
		if f.Alias != "" {
			d += " as " + f.Alias
		}
		parts = append(parts, d)
	}
	out := "select " + strings.Join(parts, ", ") + " from " + s.From
	if s.Where != nil {
		out += " where " + dump(s.Where)
	}
	for i, t := range s.Order {
		if i == 0 {
			out += " order"
		}
		out += " " + t.Path.String()
		if t.Collate {
			out += " collate"
		}
		if t.Numeric {
			out += " numeric"
		}
		if t.Desc {
			out += " desc"
		}
	}
	if s.Limit != nil {
		out += " limit " + dump(s.Limit)
	}
	if s.Start != nil {
		out += " start " + dump(s.Start)
	}
	return out
}

// stripPos zeroes every position in a tree so trees from different texts can be compared.
func stripPos(x any) {
	walkStrip(reflect.ValueOf(x))
}

var (
	posType   = reflect.TypeOf(Pos{})
	valueType = reflect.TypeOf(value.Value{})
)

func walkStrip(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrip(v.Elem())
		}
	case reflect.Struct:
		switch v.Type() {
		case posType:
			if v.CanSet() {
				v.Set(reflect.Zero(posType))
			}
			return
		case valueType:
			return
		}
		for i := 0; i < v.NumField(); i++ {
			walkStrip(v.Field(i))
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkStrip(v.Index(i))
		}
	}
}

// sameTree reports whether two statements are equal apart from positions.
func sameTree(a, b *Select) bool {
	stripPos(a)
	stripPos(b)
	return reflect.DeepEqual(a, b)
}
