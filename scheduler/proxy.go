package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// DefaultProxyTimeout bounds one /proxy/query request when ProxySource.Timeout is zero.
const DefaultProxyTimeout = time.Minute

// ProxySource is a loader.Source on the scheduler's POST /proxy/query (SPEC §6.2), which
// answers from the replica at the snapshot frozen for this SSP's bootstrap.
//
// The proxy takes query text only, so QueryValue writes the bound variables into the text as
// SurrealQL literals. It answers plain JSON (record ids, links and datetimes as strings), which
// QueryValue classifies exactly as /ingest records are (value.ObjectFromAny for every object
// row, value.FromAny for anything else).
//
// List the tables through the same ProxySource (loader.New(proxy).Tables): the replica holds no
// `_00_version`, so the loader then pages with its plain queries. A query that reads
// `_00_version` (the loader's versioned pages, chosen when the table list came from a database
// that has the table) is refused with an error, because the proxy would answer it with `[]`
// and the table would look empty.
type ProxySource struct {
	SchedulerURL string        // the scheduler's base URL
	Client       *http.Client  // nil: http.DefaultClient
	Timeout      time.Duration // per query; 0: DefaultProxyTimeout
}

var _ loader.Source = (*ProxySource)(nil)

// ErrProxyQuery is wrapped by the errors of the proxy's refusals (a status other than 200).
var ErrProxyQuery = errors.New("scheduler proxy query failed")

// QueryValue runs surql (vars written in as literals) through /proxy/query and returns its
// first statement's result.
func (p *ProxySource) QueryValue(ctx context.Context, surql string, vars map[string]value.Value) (value.Value, error) {
	q, err := renderQuery(surql, vars)
	if err != nil {
		return value.Value{}, fmt.Errorf("proxy query %s: %w", abbreviate(surql), err)
	}
	if strings.Contains(surql, membership.VersionTable) {
		return value.Value{}, fmt.Errorf("proxy query %s: it reads %s, which the scheduler's replica does not hold "+
			"(the proxy would answer [] and the rows would be lost); list the tables through the proxy too, "+
			"so that the loader pages without it", abbreviate(surql), membership.VersionTable)
	}
	body, err := json.Marshal(map[string]string{"query": q})
	if err != nil {
		return value.Value{}, fmt.Errorf("proxy query %s: encode: %w", abbreviate(q), err)
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultProxyTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target := strings.TrimRight(p.SchedulerURL, "/") + "/proxy/query"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return value.Value{}, fmt.Errorf("proxy query %s: %w", abbreviate(q), err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return value.Value{}, fmt.Errorf("proxy query %s: POST %s: %w", abbreviate(q), target, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return value.Value{}, fmt.Errorf("proxy query %s: read the %d answer: %w", abbreviate(q), resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return value.Value{}, fmt.Errorf("%w: %s: POST %s answered %d %s: %s", ErrProxyQuery, abbreviate(q), target,
			resp.StatusCode, http.StatusText(resp.StatusCode), quote(answer))
	}
	v, err := decodeResult(answer)
	if err != nil {
		return value.Value{}, fmt.Errorf("proxy query %s: %w", abbreviate(q), err)
	}
	return v, nil
}

// decodeResult reads a /proxy/query answer (one JSON value) into a value classified as /ingest
// records are: a JSON object, alone or as an element of the top-level array (a row, the
// object of INFO FOR DB), with value.ObjectFromAny, so that it stays an object whatever its
// fields; everything else with value.FromAny. Integers stay integers.
func decodeResult(data []byte) (value.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return value.Value{}, fmt.Errorf("decode the answer: %w: %s", err, quote(data))
	}
	if _, err := dec.Token(); err != io.EOF {
		return value.Value{}, fmt.Errorf("decode the answer: more than one JSON value: %s", quote(data))
	}
	row := func(x any) (value.Value, error) {
		if m, ok := x.(map[string]any); ok {
			return value.ObjectFromAny(m)
		}
		return value.FromAny(x)
	}
	arr, ok := x.([]any)
	if !ok {
		v, err := row(x)
		if err != nil {
			return value.Value{}, fmt.Errorf("decode the answer: %w", err)
		}
		return v, nil
	}
	out := make([]value.Value, len(arr))
	for i, e := range arr {
		v, err := row(e)
		if err != nil {
			return value.Value{}, fmt.Errorf("decode the answer: [%d]: %w", i, err)
		}
		out[i] = v
	}
	return value.Array(out), nil
}

// renderQuery writes vars into surql: every `$name` outside string literals and quoted
// identifiers whose name is in vars becomes the value's SurrealQL literal (literal). Other
// parameters ($parent, $this, …) are left as they are.
func renderQuery(surql string, vars map[string]value.Value) (string, error) {
	if len(vars) == 0 {
		return surql, nil
	}
	lits := make(map[string]string, len(vars))
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		lit, err := literal(vars[k])
		if err != nil {
			return "", fmt.Errorf("variable $%s: %w", k, err)
		}
		lits[k] = lit
	}
	var b strings.Builder
	for i := 0; i < len(surql); {
		c := surql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			end := closing(surql, i+1, string(c))
			b.WriteString(surql[i:end])
			i = end
		case strings.HasPrefix(surql[i:], "⟨"):
			end := closing(surql, i+len("⟨"), "⟩")
			b.WriteString(surql[i:end])
			i = end
		case c == '$':
			j := i + 1
			for j < len(surql) && isParamChar(surql[j]) {
				j++
			}
			if lit, ok := lits[surql[i+1:j]]; ok && j > i+1 {
				b.WriteString(lit)
			} else {
				b.WriteString(surql[i:j])
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// closing returns the index after the closer that ends a quoted part whose text starts at
// from (a backslash escapes the next character), or len(s) when it is not closed.
func closing(s string, from int, closer string) int {
	for i := from; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], closer) {
			return i + len(closer)
		}
	}
	return len(s)
}

func isParamChar(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// literal renders v as a SurrealQL literal that SurrealDB reads back as v. It is the value
// model's printer (Value.SurQL) where that is exact (none, null, booleans, integers, finite
// floats, datetimes, durations), with what it does not spell safely done here: strings in
// double quotes with only the escapes SurrealQL knows (`\\`, `\"`, `\n`, `\r`, `\t`, `\u{…}`);
// record ids as `type::record("<table>", <key>)`, so that no table or key text needs
// SurrealQL's identifier quoting; NaN and infinities as NaN, math::inf, math::neg_inf; object
// keys as strings. Invalid UTF-8 and negative durations are errors.
func literal(v value.Value) (string, error) {
	var b strings.Builder
	if err := writeLiteral(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeLiteral(b *strings.Builder, v value.Value) error {
	switch v.Kind() {
	case value.KindString:
		return writeString(b, v.AsString())
	case value.KindFloat:
		switch f := v.AsFloat(); {
		case math.IsNaN(f):
			b.WriteString("NaN")
		case math.IsInf(f, 1):
			b.WriteString("math::inf")
		case math.IsInf(f, -1):
			b.WriteString("math::neg_inf")
		default:
			b.WriteString(v.SurQL())
		}
	case value.KindDuration:
		if v.AsDuration() < 0 {
			return fmt.Errorf("negative duration %s has no SurrealQL literal", v.SurQL())
		}
		b.WriteString(v.SurQL())
	case value.KindRecord:
		b.WriteString("type::record(")
		if err := writeString(b, v.Table()); err != nil {
			return fmt.Errorf("record table: %w", err)
		}
		b.WriteString(", ")
		if err := writeLiteral(b, v.Key()); err != nil {
			return fmt.Errorf("record key: %w", err)
		}
		b.WriteByte(')')
	case value.KindArray:
		b.WriteByte('[')
		for i, e := range v.Elems() {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeLiteral(b, e); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		b.WriteByte(']')
	case value.KindObject:
		b.WriteByte('{')
		for i, f := range v.Fields() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte(' ')
			if err := writeString(b, f.Key); err != nil {
				return fmt.Errorf("object key: %w", err)
			}
			b.WriteString(": ")
			if err := writeLiteral(b, f.Val); err != nil {
				return fmt.Errorf("%s: %w", f.Key, err)
			}
		}
		b.WriteString(" }")
	default: // none, null, bool, int, datetime
		b.WriteString(v.SurQL())
	}
	return nil
}

// writeString writes s as a double-quoted SurrealQL string.
func writeString(b *strings.Builder, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("string %q is not valid UTF-8", s)
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029:
			b.WriteString(`\u{` + strconv.FormatInt(int64(r), 16) + `}`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return nil
}

// abbreviate shortens a query for error messages.
func abbreviate(q string) string {
	if len(q) > 200 {
		return strings.ToValidUTF8(q[:197], "") + "..."
	}
	return q
}
