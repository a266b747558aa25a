package value

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// isIdent reports whether s is a plain SurrealQL identifier: letters, digits and underscores,
// not starting with a digit.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

func isKeyChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// ParseRecord parses the text form of a record id: `table:key` where table is an identifier (or
// ⟨…⟩/backtick quoted) and key is an integer, an identifier-like word, or ⟨…⟩/backtick-quoted text.
// Array and object keys are not recognised here (the SurrealQL parser handles them).
func ParseRecord(s string) (Value, bool) {
	tb, rest, ok := splitTable(s)
	if !ok {
		return Value{}, false
	}
	key, ok := parseKey(rest)
	if !ok {
		return Value{}, false
	}
	return Record(tb, key), true
}

func splitTable(s string) (table, rest string, ok bool) {
	if strings.HasPrefix(s, "`") {
		end := strings.Index(s[1:], "`")
		if end < 0 || len(s) < end+3 || s[end+2] != ':' {
			return "", "", false
		}
		return s[1 : end+1], s[end+3:], s[1:end+1] != ""
	}
	if strings.HasPrefix(s, "⟨") {
		end := strings.Index(s, "⟩")
		if end < 0 || len(s) < end+len("⟩")+1 || s[end+len("⟩")] != ':' {
			return "", "", false
		}
		t := s[len("⟨"):end]
		return t, s[end+len("⟩")+1:], t != ""
	}
	i := strings.IndexByte(s, ':')
	if i <= 0 || !isIdent(s[:i]) {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// RecordKey returns the key that text spells as the key part of a record id (`1` → the int 1,
// `⟨a b⟩` → "a b", `abc` → "abc"), or text itself as a string key when it spells none. The JSON
// shapes {tb, id} and {table, key} of a record id carry their key this way.
func RecordKey(text string) Value {
	if k, ok := parseKey(text); ok {
		return k
	}
	return String(text)
}

func parseKey(s string) (Value, bool) {
	switch {
	case s == "":
		return Value{}, false
	case strings.HasPrefix(s, "⟨") && strings.HasSuffix(s, "⟩") && len(s) >= len("⟨⟩"):
		return String(unescapeKey(s[len("⟨"):len(s)-len("⟩")], "⟩")), true
	case strings.HasPrefix(s, "`") && strings.HasSuffix(s, "`") && len(s) >= 2:
		return String(unescapeKey(s[1:len(s)-1], "`")), true
	}
	if isDigits(s) || (s[0] == '-' && isDigits(s[1:])) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return Int(n), true
		}
		return String(s), true
	}
	if isKeyChars(s) {
		return String(s), true
	}
	return Value{}, false
}

func unescapeKey(s, closer string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`+closer, closer), `\\`, `\`)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// RecordString renders a record value's text form `table:key` the way SurrealDB prints it: an
// integer key as digits, an identifier-like key bare, any other text key inside ⟨…⟩.
func RecordString(v Value) string {
	if v.kind != KindRecord {
		return ""
	}
	tb := v.s
	if !isIdent(tb) {
		tb = "⟨" + strings.ReplaceAll(tb, "⟩", `\⟩`) + "⟩"
	}
	return tb + ":" + keyString(v.recKey())
}

func keyString(k Value) string {
	switch k.kind {
	case KindInt:
		return strconv.FormatInt(int64(k.n), 10)
	case KindString:
		if isKeyChars(k.s) && !isDigits(k.s) {
			return k.s
		}
		return "⟨" + strings.ReplaceAll(strings.ReplaceAll(k.s, `\`, `\\`), "⟩", `\⟩`) + "⟩"
	}
	return k.SurQL()
}

// ParseDatetime parses an RFC 3339 datetime with a date, a time and a zone (`Z` or ±hh:mm).
func ParseDatetime(s string) (Value, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' {
		return Value{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Value{}, false
	}
	return Datetime(t), true
}

// durationUnits lists SurrealDB's duration units, longest spelling first so `ms` wins over `m`.
var durationUnits = []struct {
	name string
	d    time.Duration
}{
	{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"µs", time.Microsecond}, {"ms", time.Millisecond},
	{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour},
	{"w", 7 * 24 * time.Hour}, {"y", 365 * 24 * time.Hour},
}

// ParseDuration parses a SurrealDB duration such as `30s`, `10m`, `1h30m`, `1d`, `2w`, `500ms`.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q: expected a number at %q", s, rest)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %w", s, err)
		}
		rest = rest[i:]
		var unit time.Duration
		for _, u := range durationUnits {
			if strings.HasPrefix(rest, u.name) {
				unit = u.d
				rest = rest[len(u.name):]
				break
			}
		}
		if unit == 0 {
			return 0, fmt.Errorf("invalid duration %q: unknown unit at %q (use ns, us, ms, s, m, h, d, w, y)", s, rest)
		}
		if n > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return 0, fmt.Errorf("invalid duration %q: too large", s)
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}

// FormatDuration renders d in SurrealDB's compact form, e.g. `1h30m`, `500ms`, `0ns`.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0ns"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"y", 365 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour},
		{"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}, {"µs", time.Microsecond}, {"ns", 1}} {
		if d >= u.d {
			fmt.Fprintf(&b, "%d%s", d/u.d, u.name)
			d %= u.d
		}
	}
	return b.String()
}

// SurQL renders v as a SurrealQL literal (used in error messages, debugging and tests).
func (v Value) SurQL() string {
	switch v.kind {
	case KindNone:
		return "NONE"
	case KindNull:
		return "NULL"
	case KindBool:
		if v.n == 1 {
			return "true"
		}
		return "false"
	case KindInt:
		return strconv.FormatInt(int64(v.n), 10)
	case KindFloat:
		f := math.Float64frombits(v.n)
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEN") {
			s += "f"
		}
		return s
	case KindString:
		return strconv.Quote(v.s)
	case KindDuration:
		return FormatDuration(time.Duration(int64(v.n)))
	case KindDatetime:
		return "d'" + v.AsTime().Format(time.RFC3339Nano) + "'"
	case KindArray:
		parts := make([]string, 0, v.Len())
		for _, e := range v.Elems() {
			parts = append(parts, e.SurQL())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case KindObject:
		parts := make([]string, 0, v.Len())
		for _, f := range v.Fields() {
			k := f.Key
			if !isKeyChars(k) {
				k = strconv.Quote(k)
			}
			parts = append(parts, k+": "+f.Val.SurQL())
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case KindRecord:
		return RecordString(v)
	}
	return "?"
}
