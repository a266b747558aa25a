package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Job defaults (SPEC §8).
const (
	DefaultJobTimeout     = 10 * time.Second
	DefaultJobConcurrency = 8
	maxJobConcurrency     = 1024
)

// JobTable configures one outbox table whose pending rows are POSTed to a backend (SPEC §8).
type JobTable struct {
	Table              string        // SurrealDB table holding the jobs
	Name               string        // human-readable backend name (defaults to Table)
	BaseURL            string        // http(s) URL the job's path is appended to
	AuthToken          Secret        // Bearer token; empty = no Authorization header
	Timeout            time.Duration // per-request timeout (default 10s)
	TimeoutOverridable bool          // a job row's own timeout is honoured
	Concurrency        int           // requests of this table in flight at once (default 8)
}

// Secret is a credential of the configuration. fmt, logrus and encoding/json print it as
// "<redacted>" ("" when unset), so a JobTable can be logged or shown whole; Reveal returns the
// text for the one place that sends it.
type Secret string

// String implements fmt.Stringer: "<redacted>", or "" when unset.
func (s Secret) String() string { return hide(string(s)) }

// GoString implements fmt.GoStringer (%#v) like String.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON implements json.Marshaler like String.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Reveal returns the secret's text.
func (s Secret) Reveal() string { return string(s) }

var tableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkTableName(t string) error {
	if !tableNameRE.MatchString(t) {
		return fmt.Errorf("table name %q must be letters, digits and _ not starting with a digit", t)
	}
	if strings.HasPrefix(t, "_00_") {
		return fmt.Errorf("table name %q must not start with _00_ (reserved for the SSP)", t)
	}
	return nil
}

// jobEntry is the job_tables entry shape (map values or array items).
type jobEntry struct {
	Table              *string         `json:"table"`
	Name               string          `json:"name"`
	BaseURL            string          `json:"base_url"`
	AuthToken          *string         `json:"auth_token"`
	Timeout            json.RawMessage `json:"timeout"`
	TimeoutOverridable bool            `json:"timeout_overridable"`
	Concurrency        *int            `json:"concurrency"`
}

// backendEntry is the sp00ky CLI's backends entry; fields unrelated to jobs are ignored.
type backendEntry struct {
	BaseURL string `json:"baseUrl"`
	Auth    *struct {
		Type  string `json:"type"`
		Token string `json:"token"`
	} `json:"auth"`
	Method *struct {
		Type  string `json:"type"`
		Table string `json:"table"`
	} `json:"method"`
	Timeout            json.RawMessage `json:"timeout"`
	TimeoutOverridable bool            `json:"timeoutOverridable"`
	Concurrency        *int            `json:"concurrency"`
}

// parseJobConfig reads the JSON job configuration in any accepted shape: an array of entries with
// "table", {"job_tables": {table: entry}} or {"job_tables": [entry…]}, and/or
// {"backends": {name: backend}}. Empty input, null and [] mean no job tables. All problems are
// returned, each prefixed with its path.
func parseJobConfig(data []byte) ([]JobTable, []error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil, nil
	}
	var top any
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, []error{fmt.Errorf("invalid JSON: %v", err)}
	}
	p := jobParser{seen: map[string]string{}}
	switch t := top.(type) {
	case []any:
		p.entryList("", data)
	case map[string]any:
		var obj map[string]json.RawMessage
		_ = json.Unmarshal(data, &obj) // cannot fail: top is an object
		known := false
		if raw, ok := obj["job_tables"]; ok {
			known = true
			p.jobTables(raw)
		}
		if raw, ok := obj["backends"]; ok {
			known = true
			p.backends(raw)
		}
		if !known {
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			p.errs = append(p.errs, fmt.Errorf("expected an array of entries or an object with job_tables and/or backends, got keys %v", keys))
		}
	default:
		p.errs = append(p.errs, fmt.Errorf("expected an array of entries or an object with job_tables and/or backends"))
	}
	sort.Slice(p.out, func(i, j int) bool { return p.out[i].Table < p.out[j].Table })
	return p.out, p.errs
}

type jobParser struct {
	out  []JobTable
	errs []error
	seen map[string]string // table → path of the entry that configured it
}

func (p *jobParser) fail(path string, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (p *jobParser) jobTables(raw json.RawMessage) {
	raw = bytes.TrimSpace(raw)
	switch {
	case bytes.Equal(raw, []byte("null")):
	case len(raw) > 0 && raw[0] == '[':
		p.entryList("job_tables", raw)
	case len(raw) > 0 && raw[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			p.fail("job_tables", "%v", err)
			return
		}
		for _, table := range sortedKeys(m) {
			path := fmt.Sprintf("job_tables.%s", table)
			var e jobEntry
			if err := decodeStrict(m[table], &e); err != nil {
				p.fail(path, "%v", err)
				continue
			}
			if e.Table != nil && *e.Table != table {
				p.fail(path, "table %q differs from its key %q", *e.Table, table)
				continue
			}
			p.entry(path, table, e)
		}
	default:
		p.fail("job_tables", "must be an object {table: entry} or an array of entries with \"table\"")
	}
}

func (p *jobParser) entryList(path string, raw json.RawMessage) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		p.fail(orRoot(path), "%v", err)
		return
	}
	for i, item := range items {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		var e jobEntry
		if err := decodeStrict(item, &e); err != nil {
			p.fail(ipath, "%v", err)
			continue
		}
		if e.Table == nil || *e.Table == "" {
			p.fail(ipath, "\"table\" is required")
			continue
		}
		p.entry(ipath, *e.Table, e)
	}
}

func (p *jobParser) entry(path, table string, e jobEntry) {
	jt := JobTable{Table: table, Name: e.Name, BaseURL: e.BaseURL, TimeoutOverridable: e.TimeoutOverridable}
	if e.AuthToken != nil {
		jt.AuthToken = Secret(*e.AuthToken)
	}
	p.finish(path, jt, e.Timeout, e.Concurrency)
}

func (p *jobParser) backends(raw json.RawMessage) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		p.fail("backends", "must be an object {name: backend}")
		return
	}
	for _, name := range sortedKeys(m) {
		path := "backends." + name
		var b backendEntry
		if err := json.Unmarshal(m[name], &b); err != nil {
			p.fail(path, "%v", err)
			continue
		}
		if b.Method == nil || !strings.EqualFold(b.Method.Type, "outbox") {
			continue // not an outbox backend: no job table
		}
		if b.Method.Table == "" {
			p.fail(path, "method.table is required for an outbox backend")
			continue
		}
		jt := JobTable{Table: b.Method.Table, Name: name, BaseURL: b.BaseURL, TimeoutOverridable: b.TimeoutOverridable}
		if b.Auth != nil {
			switch strings.ToLower(b.Auth.Type) {
			case "token":
				jt.AuthToken = Secret(b.Auth.Token)
			case "", "none":
			default:
				p.fail(path, "auth.type %q is not supported; allowed: token, none", b.Auth.Type)
				continue
			}
		}
		p.finish(path, jt, b.Timeout, b.Concurrency)
	}
}

// finish applies defaults, validates and records jt.
func (p *jobParser) finish(path string, jt JobTable, timeout json.RawMessage, concurrency *int) {
	n := len(p.errs)
	if err := checkTableName(jt.Table); err != nil {
		p.fail(path, "%v", err)
	}
	if jt.BaseURL == "" {
		p.fail(path, "base URL is required")
	} else if err := checkBaseURL(jt.BaseURL); err != nil {
		p.fail(path, "base URL %q %v", hideURLPassword(jt.BaseURL), err)
	}
	jt.BaseURL = strings.TrimRight(jt.BaseURL, "/")
	if jt.Name == "" {
		jt.Name = jt.Table
	}
	jt.Timeout = DefaultJobTimeout
	if d, err := parseJobTimeout(timeout); err != nil {
		p.fail(path, "timeout %v", err)
	} else if d > 0 {
		jt.Timeout = d
	}
	jt.Concurrency = DefaultJobConcurrency
	if concurrency != nil {
		if *concurrency < 1 || *concurrency > maxJobConcurrency {
			p.fail(path, "concurrency must be between 1 and %d", maxJobConcurrency)
		} else {
			jt.Concurrency = *concurrency
		}
	}
	if prev, dup := p.seen[jt.Table]; dup {
		p.fail(path, "table %q is already configured by %s", jt.Table, prev)
	}
	if len(p.errs) > n {
		return
	}
	p.seen[jt.Table] = path
	p.out = append(p.out, jt)
}

// checkBaseURL accepts an absolute http(s) URL with a host and no query or fragment (the job's
// path is appended to it).
func checkBaseURL(raw string) error {
	if err := checkURL(raw, "http", "https"); err != nil {
		return err
	}
	u, _ := url.Parse(strings.TrimSpace(raw)) // checkURL parsed it
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return errors.New("must not have a query or fragment (the job's path is appended to it)")
	}
	return nil
}

// parseJobTimeout reads seconds (a number, or a numeric string) or a Go duration string ("1m30s");
// absent or null yields 0 (use the default).
func parseJobTimeout(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, nil
	}
	const want = "must be a positive number of seconds or a duration like \"30s\""
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, errors.New(want)
	}
	var d time.Duration
	switch t := v.(type) {
	case float64:
		d = time.Duration(t * float64(time.Second))
	case string:
		if secs, err := strconv.ParseFloat(t, 64); err == nil {
			d = time.Duration(secs * float64(time.Second))
		} else if d, err = time.ParseDuration(t); err != nil {
			return 0, errors.New(want)
		}
	default:
		return 0, errors.New(want)
	}
	if d <= 0 || d > 24*time.Hour {
		return 0, errors.New(want + " (at most 24h)")
	}
	return d, nil
}

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%v (allowed keys: table, name, base_url, auth_token, timeout, timeout_overridable, concurrency)", err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}

// parseCRDTFields reads {"<table>": ["<field>", …]}; empty input means no allow-list (nil).
func parseCRDTFields(data []byte) (map[string][]string, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil, nil
	}
	var m map[string][]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("must be a JSON object {\"<table>\": [\"<field>\", …]}: %v", err)
	}
	var problems []string
	for _, t := range sortedKeys(m) {
		if err := checkTableName(t); err != nil {
			problems = append(problems, err.Error())
		}
		for _, f := range m[t] {
			if strings.TrimSpace(f) == "" {
				problems = append(problems, fmt.Sprintf("table %q has an empty field name", t))
			}
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return m, nil
}
