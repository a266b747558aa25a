package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/membership"
)

// envOf returns a lookup over m (no process environment involved).
func envOf(m map[string]string) LookupFunc {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeFile writes a sp00ky.yml into a temp dir and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sp00ky.yml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, args []string, env map[string]string) Config {
	t.Helper()
	cfg, err := Load(args, envOf(env))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, nil, nil)
	want := Config{
		ListenAddr: "0.0.0.0:8667", DBWS: "ws://127.0.0.1:8000", DBUser: "root", DBPass: "root",
		DBNS: "main", DBName: "app", RefMode: membership.RefDedicated, TTLCleanupInterval: 60 * time.Second, SchemaRefreshInterval: 30 * time.Second,
		CRDTCacheSize: 10000, BootstrapPageSize: 500, BootstrapBuffer: 50000, HeartbeatInterval: 5 * time.Second, RegisterMaxWait: 180 * time.Second,
		LogLevel: logrus.InfoLevel, LogFormat: LogFormatText, BodyLimit: 8 << 20,
		MetricsFlushInterval: 2 * time.Second, IngestQueue: 1024, IngestWait: 2 * time.Second, EdgeBacklog: 20000,
		ShutdownTimeout: 30 * time.Second, RVWaitTimeout: 5 * time.Second,
		JobQueue: 1024, JobSweepInterval: 10 * time.Second, JobPendingGrace: 30 * time.Second, JobLeaseGrace: 30 * time.Second,
	}
	if !regexp.MustCompile(`^ssp-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(cfg.SSPID) {
		t.Errorf("SSPID = %q, want ssp-<uuid v4>", cfg.SSPID)
	}
	cfg.SSPID = ""
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
	if other := mustLoad(t, nil, nil); other.SSPID == "" || other.SSPID == cfg.SSPID {
		t.Errorf("second default SSPID %q should be fresh", other.SSPID)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "db:\n  ns: from-file\nSPKY_DB_NAME: file-db\nhttp: x\nttl:\n  cleanup_interval_secs: 7\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(Config) bool
	}{
		{"file over default", nil, map[string]string{"SPKY_CONFIG_PATH": file},
			func(c Config) bool {
				return c.DBNS == "from-file" && c.DBName == "file-db" && c.TTLCleanupInterval == 7*time.Second
			}},
		{"env over file", nil, map[string]string{"SPKY_CONFIG_PATH": file, "SPKY_DB_NS": "from-env", "SPKY_DB_NAME": "env-db", "TTL_CLEANUP_INTERVAL_SECS": "9"},
			func(c Config) bool {
				return c.DBNS == "from-env" && c.DBName == "env-db" && c.TTLCleanupInterval == 9*time.Second
			}},
		{"flag over env", []string{"--db-ns", "from-flag", "--db-name=flag-db", "--ttl-cleanup-interval-secs=11"},
			map[string]string{"SPKY_CONFIG_PATH": file, "SPKY_DB_NS": "from-env", "SPKY_DB_NAME": "env-db", "TTL_CLEANUP_INTERVAL_SECS": "9"},
			func(c Config) bool {
				return c.DBNS == "from-flag" && c.DBName == "flag-db" && c.TTLCleanupInterval == 11*time.Second
			}},
		{"config flag over env path", []string{"--config", file}, map[string]string{"SPKY_CONFIG_PATH": "/nonexistent/x.yml"},
			func(c Config) bool { return c.DBNS == "from-file" && c.ConfigFile == file }},
		{"empty env counts as unset", nil, map[string]string{"SPKY_CONFIG_PATH": file, "SPKY_DB_NS": ""},
			func(c Config) bool { return c.DBNS == "from-file" }},
		{"empty and null file values count as unset", nil, map[string]string{"SPKY_CONFIG_PATH": writeFile(t, "db:\n  ns: ''\n  name: ~\n")},
			func(c Config) bool { return c.DBNS == "main" && c.DBName == "app" }},
		{"empty file", nil, map[string]string{"SPKY_CONFIG_PATH": writeFile(t, "")},
			func(c Config) bool { return c.DBNS == "main" && c.ConfigFile != "" }},
		{"old config path name", nil, map[string]string{"SPOOKY_CONFIG_PATH": file},
			func(c Config) bool { return c.DBNS == "from-file" }},
		{"new secret name wins over old", nil, map[string]string{"SPKY_AUTH_SECRET": "new", "SPOOKY_AUTH_SECRET": "old"},
			func(c Config) bool { return c.AuthSecret == "new" }},
		{"old secret name as fallback", nil, map[string]string{"SPOOKY_AUTH_SECRET": "old"},
			func(c Config) bool { return c.AuthSecret == "old" }},
		{"job config env over file sections", nil, map[string]string{
			"SPKY_CONFIG_PATH": writeFile(t, "job_tables:\n  filejob: {base_url: 'http://f'}\n"),
			"SPKY_JOB_CONFIG":  `[{"table":"envjob","base_url":"http://e"}]`},
			func(c Config) bool { return len(c.JobTables) == 1 && c.JobTables[0].Table == "envjob" }},
		{"job config flag over env", []string{`--job-config=[{"table":"flagjob","base_url":"http://f"}]`},
			map[string]string{"SPKY_JOB_CONFIG": `[{"table":"envjob","base_url":"http://e"}]`},
			func(c Config) bool { return len(c.JobTables) == 1 && c.JobTables[0].Table == "flagjob" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if cfg := mustLoad(t, tt.args, tt.env); !tt.want(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

func TestExampleFileBothKeyStyles(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, nil, map[string]string{"SPKY_CONFIG_PATH": "testdata/sp00ky.example.yml"})
	checks := []struct {
		name      string
		got, want any
	}{
		{"ListenAddr", cfg.ListenAddr, "127.0.0.1:9000"},
		{"RefMode", cfg.RefMode, membership.RefSingle},
		{"BootstrapPageSize", cfg.BootstrapPageSize, 250},
		{"DBWS", cfg.DBWS, "wss://db.example.com/rpc"},
		{"DBNS", cfg.DBNS, "prod"},
		{"DBName", cfg.DBName, "shop"},
		{"DBUser", cfg.DBUser, "admin"},
		{"DBPass", cfg.DBPass, "file-pass"},
		{"HeartbeatInterval", cfg.HeartbeatInterval, 1500 * time.Millisecond},
		{"RegisterMaxWait", cfg.RegisterMaxWait, 45 * time.Second},
		{"LogLevel", cfg.LogLevel, logrus.DebugLevel},
		{"LogFormat", cfg.LogFormat, LogFormatJSON},
		{"BodyLimit", cfg.BodyLimit, int64(512 << 10)},
		{"CRDTFields", cfg.CRDTFields, map[string][]string{"Thread": {"content", "title"}}},
		{"JobTables", cfg.JobTables, []JobTable{{Table: "Job", Name: "api", BaseURL: "http://host.docker.internal:3660",
			AuthToken: "THIS_IS_TOP_SECRET", Timeout: 10 * time.Second, Concurrency: DefaultJobConcurrency}}},
		{"ConfigFile", cfg.ConfigFile, "testdata/sp00ky.example.yml"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestFileLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"missing default file is fine", nil, nil, ""},
		{"missing explicit file", nil, map[string]string{"SPKY_CONFIG_PATH": filepath.Join(t.TempDir(), "nope.yml")}, "nope.yml"},
		{"missing file via flag", []string{"--config", filepath.Join(t.TempDir(), "gone.yml")}, nil, "gone.yml"},
		{"bad yaml", nil, map[string]string{"SPKY_CONFIG_PATH": writeFile(t, "db: [unclosed\n")}, "invalid YAML"},
		{"both key styles disagree", nil, map[string]string{"SPKY_CONFIG_PATH": writeFile(t, "db:\n  ns: a\nSPKY_DB_NS: b\n")}, "keep one"},
		{"list for a scalar", nil, map[string]string{"SPKY_CONFIG_PATH": writeFile(t, "db:\n  ns: [a, b]\n")}, "SPKY_DB_NS"},
		{"job config twice in file", nil, map[string]string{"SPKY_CONFIG_PATH": writeFile(t,
			"job:\n  config: '[]'\njob_tables:\n  j: {base_url: 'http://x'}\n")}, "keep one"},
		{"unknown flag", []string{"--nope"}, nil, "unknown flag"},
		{"positional argument", []string{"serve"}, nil, `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.args, envOf(tt.env))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("agreeing key styles are fine", func(t *testing.T) {
		t.Parallel()
		cfg := mustLoad(t, nil, map[string]string{"SPKY_CONFIG_PATH": writeFile(t, "db:\n  ns: a\nspky_db_ns: a\n")})
		if cfg.DBNS != "a" {
			t.Errorf("DBNS = %q", cfg.DBNS)
		}
	})
}

func TestInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env, value string
		want       []string // substrings of the error
	}{
		{"SPKY_SSP_LISTEN_ADDR", "8667", []string{"host:port"}},
		{"SPKY_SSP_LISTEN_ADDR", "localhost:http", []string{"port 1-65535"}},
		{"SPKY_SSP_LISTEN_ADDR", "0.0.0.0:70000", []string{"port 1-65535"}},
		{"SPKY_SSP_ADVERTISE_ADDR", ":8667", []string{"host required"}},
		{"SPKY_SSP_ADVERTISE_ADDR", "ftp://x:1", []string{"scheme http or https"}},
		{"SPKY_SSP_REF_MODE", "shared", []string{"allowed: dedicated, single"}},
		{"SPKY_SSP_REF_MODE", "  ", []string{"allowed: dedicated, single"}},
		{"TTL_CLEANUP_INTERVAL_SECS", "abc", []string{"whole number > 0"}},
		{"TTL_CLEANUP_INTERVAL_SECS", "0", []string{"must be > 0"}},
		{"TTL_CLEANUP_INTERVAL_SECS", "-5", []string{"must be > 0"}},
		{"TTL_CLEANUP_INTERVAL_SECS", "60s", []string{"whole number"}},
		{"HEARTBEAT_INTERVAL_MS", "1.5", []string{"whole number > 0"}},
		{"SPKY_SSP_REGISTER_MAX_WAIT_SECS", "0", []string{"must be > 0"}},
		{"SPKY_SSP_REGISTER_MAX_WAIT_SECS", "3m", []string{"whole number > 0"}},
		{"SPKY_METRICS_FLUSH_INTERVAL_MS", "0", []string{"must be > 0"}},
		{"SPKY_SHUTDOWN_TIMEOUT_SECS", "x", []string{"whole number > 0"}},
		{"SPKY_RV_WAIT_TIMEOUT_MS", "0", []string{"must be > 0"}},
		{"SPKY_INGEST_WAIT_MS", "-1", []string{"must be >= 0"}},
		{"SPKY_INGEST_QUEUE", "0", []string{"must be > 0"}},
		{"SPKY_CRDT_CACHE_SIZE", "big", []string{"whole number > 0"}},
		{"SPKY_SSP_BOOTSTRAP_PAGE_SIZE", "99999999999999", []string{"at most"}},
		{"SPKY_SSP_BOOTSTRAP_BUFFER", "-1", []string{"must be >= 0"}},
		{"SPKY_SCHEDULER_URL", "localhost:9667", []string{"scheme http or https"}},
		{"SPKY_SCHEDULER_URL", "ws://sched:9667", []string{`scheme "ws"`}},
		{"SPKY_DB_WS", "127.0.0.1:8000", []string{"scheme ws, wss, http or https"}},
		{"SPKY_DB_WS", "tcp://db:8000", []string{`scheme "tcp"`}},
		{"SPKY_JOB_CONFIG", `{"job_tables": {`, []string{"invalid JSON"}},
		{"SPKY_CRDT_FIELDS", `{"thread": "content"}`, []string{`{"<table>": ["<field>"`}},
		{"SPKY_LOG_LEVEL", "verbose", []string{"allowed: trace, debug, info, warn, error"}},
		{"SPKY_LOG_FORMAT", "xml", []string{"allowed: text, json"}},
		{"SPKY_BODY_LIMIT", "8 parsecs", []string{"KiB, MiB"}},
		{"SPKY_BODY_LIMIT", "0", []string{"positive byte count"}},
		{"SPKY_SSP_ID", "ssp one", []string{"spaces"}},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			_, err := Load(nil, envOf(map[string]string{tt.env: tt.value}))
			if err == nil {
				t.Fatalf("%s=%q accepted", tt.env, tt.value)
			}
			for _, w := range append([]string{tt.env, "from env " + tt.env}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestInvalidValueSources(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "ssp:\n  ref_mode: weird\nHEARTBEAT_INTERVAL_MS: soon\n")
	_, err := Load([]string{"--log-level=loud"}, envOf(map[string]string{"SPKY_CONFIG_PATH": file}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		`SPKY_SSP_REF_MODE="weird" (from file ` + file + ` key ssp.ref_mode)`,
		`HEARTBEAT_INTERVAL_MS="soon" (from file ` + file + ` key HEARTBEAT_INTERVAL_MS)`,
		`SPKY_LOG_LEVEL="loud" (from flag --log-level)`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	t.Parallel()
	_, err := Load([]string{"--ssp-listen-addr=nohost"}, envOf(map[string]string{
		"SPKY_SSP_REF_MODE":         "both",
		"TTL_CLEANUP_INTERVAL_SECS": "never",
		"SPKY_SCHEDULER_URL":        "sched",
		"SPKY_JOB_CONFIG":           `[{"table":"1bad","base_url":"ftp://x"}]`,
		"SPKY_DB_PASS":              "hunter2",
		"SPKY_DB_WS":                "mysql://hunter2",
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, w := range []string{"SPKY_SSP_LISTEN_ADDR", "SPKY_SSP_REF_MODE", "TTL_CLEANUP_INTERVAL_SECS",
		"SPKY_SCHEDULER_URL", "SPKY_DB_WS", `SPKY_JOB_CONFIG (from env SPKY_JOB_CONFIG): [0]: table name "1bad"`, `"ftp://x"`} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if n := strings.Count(msg, "\n"); n < 6 {
		t.Errorf("want one line per problem (>= 7 lines), got %d:\n%s", n+1, msg)
	}
}

func TestSecretNotEchoedInErrors(t *testing.T) {
	t.Parallel()
	// Secrets accept any text, so provoke a problem next to one and check it is not echoed.
	_, err := Load(nil, envOf(map[string]string{"SPKY_DB_PASS": "hunter2", "SPKY_SSP_REF_MODE": "x",
		"SPKY_DB_WS":      "tcp://u:url-secret@db:8000",
		"SPKY_JOB_CONFIG": `{"job_tables":{"j":{"base_url":"nope","auth_token":"tok-secret"}}}`}))
	if err == nil || !strings.Contains(err.Error(), "SPKY_DB_WS") {
		t.Fatalf("error %v", err)
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "tok-secret") || strings.Contains(msg, "url-secret") {
		t.Fatalf("error %v", err)
	}
}

func TestJobConfigShapes(t *testing.T) {
	t.Parallel()
	jt := func(table, name, url, token string, timeout time.Duration, over bool, conc int) JobTable {
		return JobTable{Table: table, Name: name, BaseURL: url, AuthToken: Secret(token), Timeout: timeout, TimeoutOverridable: over, Concurrency: conc}
	}
	tests := []struct {
		name string
		json string
		want []JobTable
	}{
		{"empty", ``, nil},
		{"null", `null`, nil},
		{"empty array", `[]`, nil},
		{"map form", `{"job_tables": {"job": {"name": "API", "base_url": "https://api.example.com/", "auth_token": "t",
			"timeout": 30, "timeout_overridable": true, "concurrency": 8}}}`,
			[]JobTable{jt("job", "API", "https://api.example.com", "t", 30*time.Second, true, 8)}},
		{"map form defaults", `{"job_tables": {"mail": {"base_url": "http://mail"}}}`,
			[]JobTable{jt("mail", "mail", "http://mail", "", 10*time.Second, false, 8)}},
		{"array under job_tables", `{"job_tables": [{"table": "b", "base_url": "http://b", "timeout": "1m30s"},
			{"table": "a", "base_url": "http://a", "timeout": null, "auth_token": null}]}`,
			[]JobTable{jt("a", "a", "http://a", "", 10*time.Second, false, 8), jt("b", "b", "http://b", "", 90*time.Second, false, 8)}},
		{"bare array", `[{"name": "n", "table": "job", "base_url": "http://x", "timeout": 2.5}]`,
			[]JobTable{jt("job", "n", "http://x", "", 2500*time.Millisecond, false, 8)}},
		{"backends", `{"backends": {
			"api": {"type": "http", "baseUrl": "http://h:3660", "auth": {"type": "token", "token": "S"},
			        "method": {"type": "outbox", "table": "job", "schema": "./x.surql"}},
			"rpc": {"type": "http", "baseUrl": "http://r", "method": {"type": "rpc"}},
			"bare": {"type": "http"}}}`,
			[]JobTable{jt("job", "api", "http://h:3660", "S", 10*time.Second, false, 8)}},
		{"job_tables and backends together", `{"job_tables": {"a": {"base_url": "http://a"}},
			"backends": {"b": {"baseUrl": "http://b", "method": {"type": "outbox", "table": "b"}}}}`,
			[]JobTable{jt("a", "a", "http://a", "", 10*time.Second, false, 8), jt("b", "b", "http://b", "", 10*time.Second, false, 8)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, errs := parseJobConfig([]byte(tt.json))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestJobConfigInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want []string
	}{
		{"not JSON", `{job_tables}`, []string{"invalid JSON"}},
		{"wrong top type", `"job"`, []string{"expected an array of entries or an object"}},
		{"unknown top keys", `{"jobs": {}}`, []string{"job_tables and/or backends", "[jobs]"}},
		{"job_tables a string", `{"job_tables": "job"}`, []string{"job_tables: must be an object"}},
		{"missing table in array", `[{"base_url": "http://x"}]`, []string{`[0]: "table" is required`}},
		{"missing base url", `{"job_tables": {"job": {"name": "x"}}}`, []string{"job_tables.job: base URL is required"}},
		{"bad base url", `{"job_tables": {"job": {"base_url": "api.example.com"}}}`, []string{"job_tables.job: base URL", "scheme http or https"}},
		{"bad table name", `[{"table": "my-table", "base_url": "http://x"}]`, []string{`table name "my-table"`}},
		{"reserved table", `[{"table": "_00_query", "base_url": "http://x"}]`, []string{"_00_"}},
		{"typo key", `{"job_tables": {"job": {"baseUrl": "http://x"}}}`, []string{`unknown field "baseUrl"`, "allowed keys"}},
		{"key and table differ", `{"job_tables": {"job": {"table": "other", "base_url": "http://x"}}}`, []string{"differs from its key"}},
		{"bad timeout", `[{"table": "j", "base_url": "http://x", "timeout": "soon"}]`, []string{"timeout must be a positive number of seconds"}},
		{"negative timeout", `[{"table": "j", "base_url": "http://x", "timeout": -1}]`, []string{"timeout must be"}},
		{"bad concurrency", `[{"table": "j", "base_url": "http://x", "concurrency": 0}]`, []string{"concurrency must be between 1 and"}},
		{"duplicate table", `[{"table": "j", "base_url": "http://x"}, {"table": "j", "base_url": "http://y"}]`, []string{`[1]: table "j" is already configured by [0]`}},
		{"outbox without table", `{"backends": {"api": {"baseUrl": "http://x", "method": {"type": "outbox"}}}}`, []string{"backends.api: method.table is required"}},
		{"outbox without url", `{"backends": {"api": {"method": {"type": "outbox", "table": "job"}}}}`, []string{"backends.api: base URL is required"}},
		{"unknown auth type", `{"backends": {"api": {"baseUrl": "http://x", "auth": {"type": "basic"}, "method": {"type": "outbox", "table": "job"}}}}`,
			[]string{`auth.type "basic"`, "allowed: token, none"}},
		{"backends not a map", `{"backends": []}`, []string{"backends: must be an object"}},
		{"base url with query", `[{"table": "j", "base_url": "http://x/api?k=v"}]`, []string{"[0]: base URL", "must not have a query or fragment"}},
		{"base url with fragment", `[{"table": "j", "base_url": "https://x/api#top"}]`, []string{"must not have a query or fragment"}},
		{"base url scheme", `[{"table": "j", "base_url": "ws://x"}]`, []string{`got scheme "ws"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, errs := parseJobConfig([]byte(tt.json))
			if len(errs) == 0 {
				t.Fatalf("accepted: %+v", got)
			}
			msg := errors.Join(errs...).Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	t.Run("several problems reported", func(t *testing.T) {
		t.Parallel()
		_, errs := parseJobConfig([]byte(`[{"table": "1x", "base_url": "http://x"}, {"table": "ok", "base_url": "nope", "concurrency": -1}]`))
		if len(errs) != 3 {
			t.Errorf("want 3 problems, got %d: %v", len(errs), errs)
		}
	})
}

// TestSecretPrinting: a JobTable printed whole (fmt, JSON, a logrus field) never shows its token.
func TestSecretPrinting(t *testing.T) {
	t.Parallel()
	jt := JobTable{Table: "job", BaseURL: "http://x", AuthToken: "tok-s3cret"}
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	log.WithField("table", jt).WithField("token", jt.AuthToken).Info("x")
	log.SetFormatter(&logrus.JSONFormatter{})
	log.WithField("table", jt).Info("x")
	b, err := json.Marshal(jt)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %q", jt, jt, jt, jt.AuthToken, jt.AuthToken), string(b), buf.String()} {
		if strings.Contains(out, "tok-s3cret") || !strings.Contains(out, "redacted") {
			t.Errorf("printed %s", out)
		}
	}
	if jt.AuthToken.Reveal() != "tok-s3cret" || Secret("").String() != "" {
		t.Error("Reveal or an unset secret")
	}
	// A password in the base URL of a rejected entry is not echoed either.
	_, errs := parseJobConfig([]byte(`[{"table": "j", "base_url": "http://u:pw-s3cret@x/?q", "auth_token": "tok-s3cret"}]`))
	if msg := errors.Join(errs...).Error(); len(errs) == 0 || strings.Contains(msg, "s3cret") {
		t.Errorf("errors %q", msg)
	}
}

func TestJobSettings(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, nil, nil)
	if cfg.JobQueue != 1024 || cfg.JobSweepInterval != 10*time.Second || cfg.JobPendingGrace != 30*time.Second || cfg.JobLeaseGrace != 30*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg = mustLoad(t, []string{"--job-queue=5"}, map[string]string{"SPKY_JOB_SWEEP_INTERVAL_MS": "250", "SPKY_JOB_PENDING_GRACE_MS": "0", "SPKY_JOB_LEASE_GRACE_MS": "1500"})
	if cfg.JobQueue != 5 || cfg.JobSweepInterval != 250*time.Millisecond || cfg.JobPendingGrace != 0 || cfg.JobLeaseGrace != 1500*time.Millisecond {
		t.Errorf("set: %+v", cfg)
	}
	_, err := Load(nil, envOf(map[string]string{"SPKY_JOB_QUEUE": "0", "SPKY_JOB_LEASE_GRACE_MS": "soon"}))
	if err == nil || !strings.Contains(err.Error(), `SPKY_JOB_QUEUE="0"`) || !strings.Contains(err.Error(), `SPKY_JOB_LEASE_GRACE_MS="soon"`) {
		t.Errorf("err = %v", err)
	}
}

func TestJobConfigFromFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yml string
		want      []string // tables
	}{
		{"job_tables map", "job_tables:\n  Outbox:\n    base_url: http://x\n    timeout: 5\n", []string{"Outbox"}},
		{"job_tables list", "job_tables:\n  - {table: a, base_url: 'http://a'}\n", []string{"a"}},
		{"env-style key with JSON text", "SPKY_JOB_CONFIG: '[{\"table\":\"j\",\"base_url\":\"http://j\"}]'\n", []string{"j"}},
		{"nested key with YAML", "job:\n  config:\n    job_tables:\n      k: {base_url: 'http://k'}\n", []string{"k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, nil, map[string]string{"SPKY_CONFIG_PATH": writeFile(t, tt.yml)})
			var got []string
			for _, j := range cfg.JobTables {
				got = append(got, j.Table)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("tables %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("invalid entry names the file", func(t *testing.T) {
		t.Parallel()
		file := writeFile(t, "backends:\n  api: {baseUrl: 'nope', method: {type: outbox, table: job}}\n")
		_, err := Load(nil, envOf(map[string]string{"SPKY_CONFIG_PATH": file}))
		if err == nil || !strings.Contains(err.Error(), "SPKY_JOB_CONFIG (from file "+file+" keys job_tables/backends): backends.api") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestCRDTFields(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, nil, map[string]string{"SPKY_CRDT_FIELDS": `{"thread": ["content"], "doc": []}`})
	if want := map[string][]string{"thread": {"content"}, "doc": {}}; !reflect.DeepEqual(cfg.CRDTFields, want) {
		t.Errorf("CRDTFields = %v", cfg.CRDTFields)
	}
	_, err := Load(nil, envOf(map[string]string{"SPKY_CRDT_FIELDS": `{"bad-table": [""]}`}))
	if err == nil || !strings.Contains(err.Error(), `"bad-table"`) || !strings.Contains(err.Error(), "empty field name") {
		t.Errorf("error %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"8388608", 8 << 20}, {"8MiB", 8 << 20}, {"512KiB", 512 << 10}, {"512 kib", 512 << 10},
		{"1GiB", 1 << 30}, {"10MB", 10_000_000}, {"2kb", 2000}, {"100B", 100},
	}
	for _, tt := range tests {
		if got, err := parseByteSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "1.5MiB", "1TiB", "99999999999GiB"} {
		if _, err := parseByteSize(bad); err == nil {
			t.Errorf("parseByteSize(%q) accepted", bad)
		}
	}
}

func TestValidValuesNormalised(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, nil, map[string]string{
		"SPKY_SSP_REF_MODE": "SINGLE", "SPKY_SCHEDULER_URL": "http://sched:9667/", "SPKY_LOG_LEVEL": "WARN",
		"SPKY_SSP_LISTEN_ADDR": ":0", "SPKY_SSP_ADVERTISE_ADDR": "10.0.0.3:8667", "SPKY_INGEST_WAIT_MS": "0",
		"SPKY_SSP_ID": "ssp-primary-01", "SPKY_DB_WS": "http://db:8000/rpc", "SPKY_SSP_REGISTER_MAX_WAIT_SECS": "30",
	})
	if cfg.RefMode != membership.RefSingle || cfg.SchedulerURL != "http://sched:9667" || cfg.LogLevel != logrus.WarnLevel ||
		cfg.ListenAddr != ":0" || cfg.IngestWait != 0 || cfg.SSPID != "ssp-primary-01" || cfg.DBWS != "http://db:8000/rpc" ||
		cfg.RegisterMaxWait != 30*time.Second {
		t.Errorf("unexpected %+v", cfg)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	_, err := Load([]string{"--help"}, nil)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v, want ErrHelp", err)
	}
	u := Usage()
	for _, w := range []string{"--config", "--ssp-listen-addr", "SPKY_SSP_LISTEN_ADDR", "--job-config", "--rv-wait-timeout-ms"} {
		if !strings.Contains(u, w) {
			t.Errorf("usage lacks %q", w)
		}
	}
}

func TestRedactedAndSchedulerEnv(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, nil, map[string]string{
		"SPKY_AUTH_SECRET": "s3cret-auth", "SPKY_DB_PASS": "s3cret-db", "SPKY_DB_WS": "ws://u:s3cret-url@db:8000",
		"SPKY_JOB_CONFIG":    `[{"table":"job","base_url":"http://x","auth_token":"s3cret-job"}]`,
		"SPKY_SCHEDULER_URL": "http://sched:9667", "SPKY_SSP_ID": "ssp-1",
	})
	red := cfg.Redacted()
	b, err := json.Marshal(red)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cret") {
		t.Errorf("Redacted leaks a secret: %s", b)
	}
	for _, s := range settings() {
		if _, ok := red[s.env]; !ok {
			t.Errorf("Redacted lacks %s", s.env)
		}
	}
	if red["SPKY_AUTH_SECRET"] != redacted || red["SPKY_DB_NS"] != "main" || red["TTL_CLEANUP_INTERVAL_SECS"] != int64(60) {
		t.Errorf("Redacted = %v", red)
	}
	if unset := mustLoad(t, nil, nil).Redacted(); unset["SPKY_AUTH_SECRET"] != "" {
		t.Errorf("unset secret shown as %v", unset["SPKY_AUTH_SECRET"])
	}

	env := cfg.SchedulerEnv()
	b, _ = json.Marshal(env)
	if strings.Contains(string(b), "s3cret") || env["SPKY_DB_PASS"] != "" || env["SPKY_AUTH_SECRET"] != "" {
		t.Errorf("SchedulerEnv leaks a secret: %s", b)
	}
	want := map[string]string{"SPKY_SSP_ID": "ssp-1", "SPKY_SCHEDULER_URL": "http://sched:9667", "SPKY_DB_NS": "main",
		"HEARTBEAT_INTERVAL_MS": "5000", "SPKY_SSP_REF_MODE": "dedicated", "SPKY_SSP_LISTEN_ADDR": "0.0.0.0:8667"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("SchedulerEnv[%s] = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["SPKY_SSP_ADVERTISE_ADDR"]; ok {
		t.Errorf("unset advertise address sent: %v", env)
	}
}

func TestAdvertiseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		listen, advertise, hostname, want string
	}{
		{"0.0.0.0:8667", "10.1.1.3:8667", "h", "http://10.1.1.3:8667"},
		{"0.0.0.0:8667", "https://ssp.example.com", "h", "https://ssp.example.com"},
		{"0.0.0.0:8667", "", "box", "http://box:8667"},
		{":8667", "", "", "http://127.0.0.1:8667"},
		{"[::]:8667", "", "box", "http://box:8667"},
		{"10.0.0.2:8667", "", "box", "http://10.0.0.2:8667"},
	}
	for _, tt := range tests {
		c := Config{ListenAddr: tt.listen, AdvertiseAddr: tt.advertise}
		if got := c.AdvertiseURL(tt.hostname); got != tt.want {
			t.Errorf("AdvertiseURL(%+v, %q) = %q, want %q", c, tt.hostname, got, tt.want)
		}
	}
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format LogFormat
		check  func(string) bool
	}{
		{LogFormatJSON, func(s string) bool {
			var m map[string]any
			return json.Unmarshal([]byte(s), &m) == nil && m["msg"] == "hello" && m["level"] == "debug" && m["k"] == "v"
		}},
		{LogFormatText, func(s string) bool { return strings.Contains(s, "msg=hello") && strings.Contains(s, "k=v") }},
	}
	for _, tt := range tests {
		log := NewLogger(Config{LogLevel: logrus.DebugLevel, LogFormat: tt.format})
		var buf bytes.Buffer
		log.SetOutput(&buf)
		log.Trace("hidden")
		log.WithField("k", "v").Debug("hello")
		if out := buf.String(); strings.Contains(out, "hidden") || !tt.check(strings.TrimSpace(out)) {
			t.Errorf("%s output %q", tt.format, out)
		}
	}
}
