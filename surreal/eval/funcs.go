package eval

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// function is one supported pure function: its arity and its body over evaluated arguments.
type function struct {
	arity int
	call  func(name string, args []value.Value) (value.Value, error)
}

// Functions lists the names of the functions Eval implements (lower-case, fully qualified).
func Functions() []string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	return names
}

var functions = map[string]function{
	"string::lowercase":   {1, strFn(func(s string) value.Value { return value.String(strings.ToLower(s)) })},
	"string::uppercase":   {1, strFn(func(s string) value.Value { return value.String(strings.ToUpper(s)) })},
	"string::len":         {1, strFn(func(s string) value.Value { return value.Int(int64(utf8.RuneCountInString(s))) })},
	"string::trim":        {1, strFn(func(s string) value.Value { return value.String(strings.TrimSpace(s)) })},
	"string::starts_with": {2, str2Fn(strings.HasPrefix)},
	"string::ends_with":   {2, str2Fn(strings.HasSuffix)},
	"string::contains":    {2, str2Fn(strings.Contains)},
	"array::len":          {1, arrFn(func(a []value.Value) value.Value { return value.Int(int64(len(a))) })},
	"array::first": {1, arrFn(func(a []value.Value) value.Value {
		if len(a) == 0 {
			return value.None()
		}
		return a[0]
	})},
	"array::last": {1, arrFn(func(a []value.Value) value.Value {
		if len(a) == 0 {
			return value.None()
		}
		return a[len(a)-1]
	})},
	"math::abs": {1, mathAbs},
}

func evalCall(c *surql.Call, env *Env) (value.Value, error) {
	fn, ok := functions[c.Name]
	if !ok {
		return value.None(), fmt.Errorf("unsupported function %s() at %s", c.Name, c.Pos)
	}
	if len(c.Args) != fn.arity {
		return value.None(), fmt.Errorf("incorrect arguments for function %s() at %s: expected %d argument(s), got %d", c.Name, c.Pos, fn.arity, len(c.Args))
	}
	args := make([]value.Value, len(c.Args))
	for i, a := range c.Args {
		v, err := EvalErr(a, env)
		if err != nil {
			return value.None(), err
		}
		args[i] = v
	}
	v, err := fn.call(c.Name, args)
	if err != nil {
		return value.None(), fmt.Errorf("%w at %s", err, c.Pos)
	}
	return v, nil
}

func wrongType(name string, n int, want string, got value.Value) error {
	return fmt.Errorf("incorrect arguments for function %s(): argument %d was the wrong type, expected %s but found %s", name, n, want, got.SurQL())
}

func strFn(f func(string) value.Value) func(string, []value.Value) (value.Value, error) {
	return func(name string, args []value.Value) (value.Value, error) {
		s, ok := text(args[0])
		if !ok {
			return value.None(), wrongType(name, 1, "string", args[0])
		}
		return f(s), nil
	}
}

func str2Fn(f func(string, string) bool) func(string, []value.Value) (value.Value, error) {
	return func(name string, args []value.Value) (value.Value, error) {
		a, ok := text(args[0])
		if !ok {
			return value.None(), wrongType(name, 1, "string", args[0])
		}
		b, ok := text(args[1])
		if !ok {
			return value.None(), wrongType(name, 2, "string", args[1])
		}
		return value.Bool(f(a, b)), nil
	}
}

func arrFn(f func([]value.Value) value.Value) func(string, []value.Value) (value.Value, error) {
	return func(name string, args []value.Value) (value.Value, error) {
		if args[0].Kind() != value.KindArray {
			return value.None(), wrongType(name, 1, "array", args[0])
		}
		return f(args[0].Elems()), nil
	}
}

func mathAbs(name string, args []value.Value) (value.Value, error) {
	v := args[0]
	switch v.Kind() {
	case value.KindInt:
		i := v.AsInt()
		if i == math.MinInt64 {
			return value.None(), fmt.Errorf("failed to compute %s(%d): arithmetic overflow", name, i)
		}
		if i < 0 {
			i = -i
		}
		return value.Int(i), nil
	case value.KindFloat:
		return value.Float(math.Abs(v.AsFloat())), nil
	}
	return value.None(), wrongType(name, 1, "number", v)
}
