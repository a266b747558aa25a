package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/internal/wait"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/tablehash"
	"github.com/sp00ky/ssp/surreal/value"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond every 20 ms until it holds or timeout passes; why explains a failure.
func waitFor(t *testing.T, timeout time.Duration, cond func() (ok bool, why string)) {
	t.Helper()
	wait.For(t, timeout, 20*time.Millisecond, cond)
}

// client talks to one SSP over HTTP.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) call(method, path, body string) (int, string) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := nethttp.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c client) mustCall(method, path, body string, want int) string {
	c.t.Helper()
	code, b := c.call(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, code, want, b)
	}
	return b
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// edges reads `in|out@version` of every edge row of table whose in is one of the given views.
func edges(ctx context.Context, t *testing.T, db *conn.Conn, table string) []string {
	t.Helper()
	rs, err := db.Query(ctx, "SELECT in, out, version FROM type::table($tb)", map[string]any{"tb": table})
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	var out []string
	for _, row := range rs[0].Value.Elems() {
		out = append(out, fmt.Sprintf("%s|%s@%d", value.RecordString(row.Get("in")), value.RecordString(row.Get("out")), row.Get("version").AsInt()))
	}
	sort.Strings(out)
	return out
}

// startServe runs `ssp serve` in-process with the environment set by the caller and returns the
// API base URL and the channel that receives the exit code.
func startServe(t *testing.T, args []string) (string, <-chan int, *syncBuffer) {
	t.Helper()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), args, nil, stdout, stderr) }()
	re := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	var base string
	waitFor(t, 3*time.Minute, func() (bool, string) {
		select {
		case code := <-done:
			t.Fatalf("ssp %s exited with %d: %s", args[0], code, stderr.String())
		default:
		}
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			return true, ""
		}
		return false, "no 'listening on' line; stdout: " + stdout.String()
	})
	return base, done, stdout
}

// TestServeEndToEnd runs `ssp serve` against the dev SurrealDB: bootstrap, registration and
// ingest over HTTP, edges in SurrealDB, the debug, info and metrics routes, and a SIGTERM that
// drains every pending edge write before the process would exit.
func TestServeEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv, err := devdb.Start(ctx, devdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	db, err := conn.Dial(ctx, conn.Config{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: "e2e", DB: "app"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	if rs, err := db.Query(ctx, "CREATE thread:0 SET title = 'zero', active = true; CREATE user:alice SET name = 'Alice'", nil); err != nil || conn.StatementErr(rs) != nil {
		t.Fatalf("seed: %v %v", err, conn.StatementErr(rs))
	}

	for k, v := range map[string]string{
		"SPKY_DB_WS": srv.URL(), "SPKY_DB_USER": srv.User, "SPKY_DB_PASS": srv.Pass, "SPKY_DB_NS": "e2e", "SPKY_DB_NAME": "app",
		"SPKY_SSP_LISTEN_ADDR": "127.0.0.1:0", "SPKY_AUTH_SECRET": "e2e-secret", "SPKY_SSP_ID": "ssp-e2e",
		"SPKY_METRICS_FLUSH_INTERVAL_MS": "50", "SPKY_LOG_LEVEL": "warn", "SPKY_SSP_REF_MODE": "dedicated",
		"SPKY_CONFIG_PATH": "",
	} {
		t.Setenv(k, v)
	}
	base, done, _ := startServe(t, []string{"serve"})
	c := client{t: t, base: base, token: "e2e-secret"}
	waitFor(t, time.Minute, func() (bool, string) {
		code, body := c.call("GET", "/health", "")
		return code == 200, fmt.Sprintf("/health %d %s", code, body)
	})

	// Auth is enforced; registration returns the bootstrapped member.
	if code, _ := (client{t: t, base: base, token: "wrong"}).call("POST", "/ingest", `{}`); code != 401 {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	type member struct {
		Key     string `json:"key"`
		Version int64  `json:"version"`
	}
	type registered struct {
		ViewID  string   `json:"view_id"`
		Records []member `json:"records"`
	}
	reg := decode[registered](t, c.mustCall("POST", "/view/register", `{"id":"_00_query:owned","surql":"SELECT * FROM thread WHERE active = true",`+
		`"clientId":"c1","ttl":"1h","params":"{ auth: { id: user:alice } }"}`, 200))
	if reg.ViewID != "owned" || len(reg.Records) != 1 || reg.Records[0] != (member{"thread:0", 1}) {
		t.Fatalf("register owned: %+v", reg)
	}
	reg = decode[registered](t, c.mustCall("POST", "/view/register", `{"id":"inactive","surreal_ql":"SELECT * FROM thread WHERE active = false",`+
		`"client_id":"c2","ttl":"1h"}`, 200))
	if reg.ViewID != "inactive" || len(reg.Records) != 0 {
		t.Fatalf("register inactive: %+v", reg)
	}
	code, body := c.call("POST", "/view/register", `{"id":"bad","surql":"SELECT * FROM thread ORDER BY rand()","clientId":"c","ttl":"1h"}`)
	if code != 400 || !strings.Contains(body, "BAD_REQUEST") {
		t.Fatalf("unsupported query: %d %s, want 400 BAD_REQUEST", code, body)
	}

	c.mustCall("POST", "/ingest", `{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"one","active":true},"hash":""}`, 200)
	c.mustCall("POST", "/ingest", `{"table":"thread","op":"CREATE","id":"thread:2","record":{"title":"two","active":false}}`, 200)
	if code, body := c.call("POST", "/ingest", `{"table":"thread","op":"CREATE","id":"nope"}`); code != 400 {
		t.Fatalf("bad ingest: %d %s", code, body)
	}

	wantOwned := []string{"_00_query:owned|thread:0@1", "_00_query:owned|thread:1@1"}
	wantShared := []string{"_00_query:inactive|thread:2@1"}
	waitFor(t, time.Minute, func() (bool, string) {
		o, s := edges(ctx, t, db, "_00_list_ref_user_alice"), edges(ctx, t, db, "_00_list_ref")
		return fmt.Sprint(o) == fmt.Sprint(wantOwned) && fmt.Sprint(s) == fmt.Sprint(wantShared), fmt.Sprintf("user table %v, shared %v", o, s)
	})

	// Debug routes show the same membership and the actor.
	type debugView struct {
		ViewID string   `json:"view_id"`
		Cache  []member `json:"cache"`
		Actor  struct {
			PID string `json:"pid"`
		} `json:"actor"`
	}
	dv := decode[debugView](t, c.mustCall("GET", "/debug/view/_00_query:owned", "", 200))
	sort.Slice(dv.Cache, func(i, j int) bool { return dv.Cache[i].Key < dv.Cache[j].Key })
	if dv.ViewID != "owned" || fmt.Sprint(dv.Cache) != "[{thread:0 1} {thread:1 1}]" || dv.Actor.PID == "" {
		t.Fatalf("debug view: %+v", dv)
	}
	c.mustCall("GET", "/debug/view/nope", "", 404)
	deps := decode[struct {
		DependencyMap map[string][]string `json:"dependency_map"`
		ViewCount     int                 `json:"view_count"`
	}](t, c.mustCall("GET", "/debug/deps", "", 200))
	sort.Strings(deps.DependencyMap["thread"])
	if deps.ViewCount != 2 || fmt.Sprint(deps.DependencyMap["thread"]) != "[inactive owned]" {
		t.Fatalf("debug deps: %+v", deps)
	}

	// /info: one entry, the table's row count and its §6.4 hash.
	infos := decode[[]struct {
		ID            string            `json:"id"`
		Status        string            `json:"status"`
		Views         int               `json:"views"`
		RefMode       string            `json:"ref_mode"`
		CircuitTables map[string]int    `json:"circuit_tables"`
		CircuitHashes map[string]string `json:"circuit_hashes"`
	}](t, (client{t: t, base: base}).mustCall("GET", "/info", "", 200))
	row := func(id int, title string, active bool) value.Value {
		return value.ObjectOf([]value.Field{{Key: "id", Val: value.Record("thread", value.Int(int64(id)))},
			{Key: "title", Val: value.String(title)}, {Key: "active", Val: value.Bool(active)}})
	}
	wantHash := tablehash.Hash("thread", []value.Value{row(0, "zero", true), row(1, "one", true), row(2, "two", false)})
	if len(infos) != 1 || infos[0].ID != "ssp-e2e" || infos[0].Status != "ready" || infos[0].Views != 2 || infos[0].RefMode != "dedicated" ||
		infos[0].CircuitTables["thread"] != 3 || infos[0].CircuitHashes["thread"] != wantHash {
		t.Fatalf("info: %+v; want thread hash %s", infos, wantHash)
	}
	metrics := (client{t: t, base: base}).mustCall("GET", "/metrics", "", 200)
	for _, m := range []string{"ssp_ingest_total", "ssp_views 2", "ssp_edge_writes_total", `ssp_http_requests_total{code="200",method="POST",route="/ingest"} 2`} {
		if !strings.Contains(metrics, m) {
			t.Fatalf("/metrics lacks %q:\n%s", m, metrics)
		}
	}

	// A burst of ingests, then SIGTERM at once: the shutdown writes every pending edge.
	const burst = 40
	for i := 100; i < 100+burst; i++ {
		c.mustCall("POST", "/ingest", fmt.Sprintf(`{"table":"thread","op":"CREATE","id":"thread:%d","record":{"title":"t%d","active":true}}`, i, i), 200)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("ssp serve exited with %d after SIGTERM, want 0", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("ssp serve did not stop within a minute of SIGTERM")
	}
	if got := edges(ctx, t, db, "_00_list_ref_user_alice"); len(got) != 2+burst {
		t.Fatalf("after the drain the user table holds %d edges, want %d", len(got), 2+burst)
	}
	if _, err := nethttp.Get(base + "/health"); err == nil {
		t.Fatal("the HTTP API still answers after the shutdown")
	}
}

func TestServeConfigErrors(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		code      int
		stdoutHas string
		stderrHas []string
	}{
		{"help", []string{"serve", "-h"}, 0, "--ssp-listen-addr", nil},
		{"help names the pprof listener", []string{"serve", "-h"}, 0, "SPKY_PPROF_ADDR", nil},
		{"every invalid setting named", []string{"serve", "--ssp-ref-mode", "both", "--ssp-listen-addr", "nowhere", "--heartbeat-interval-ms", "soon"}, 2, "",
			[]string{"SPKY_SSP_REF_MODE", "SPKY_SSP_LISTEN_ADDR", "HEARTBEAT_INTERVAL_MS"}},
		{"unknown flag", []string{"serve", "--nope"}, 2, "", []string{"unknown flag: --nope"}},
		{"scheduler url not http", []string{"serve", "--scheduler-url", "ws://127.0.0.1:9667"}, 2, "", []string{"SPKY_SCHEDULER_URL"}},
		{"dev help", []string{"dev", "-h"}, 0, "--db-port", nil},
		{"dev bad port", []string{"dev", "--db-port", "x"}, 2, "", []string{`--db-port "x" is not a port number`}},
		{"dev invalid setting", []string{"dev", "--db-port=0", "--ssp-ref-mode", "both"}, 2, "", []string{"SPKY_SSP_REF_MODE"}},
		{"dev bad ssps", []string{"dev", "--ssps", "lots"}, 2, "", []string{`--ssps "lots" is not a number of SSPs (0-32)`, "Usage: ssp dev"}},
		{"dev ssps with a scheduler", []string{"dev", "--ssps", "2", "--scheduler-url", "http://127.0.0.1:9667", "--ssp-id", "a",
			"--ssp-advertise-addr", "10.0.0.1:8667"}, 2, "", []string{"unset SPKY_SCHEDULER_URL", "unset SPKY_SSP_ID", "unset SPKY_SSP_ADVERTISE_ADDR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SPKY_CONFIG_PATH", "")
			var stdout, stderr strings.Builder
			code := run(context.Background(), tt.args, nil, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdoutHas) {
				t.Fatalf("stdout lacks %q: %s", tt.stdoutHas, stdout.String())
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(stderr.String(), s) {
					t.Fatalf("stderr lacks %q: %s", s, stderr.String())
				}
			}
		})
	}
}

func TestServeDBUnreachable(t *testing.T) {
	t.Setenv("SPKY_CONFIG_PATH", "")
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Port 1 on loopback refuses connections at once.
	code := run(ctx, []string{"serve", "--db-ws", "ws://127.0.0.1:1", "--ssp-listen-addr", "127.0.0.1:0", "--log-level", "error"}, nil, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "connect to SurrealDB at ws://127.0.0.1:1 (SPKY_DB_WS)") {
		t.Fatalf("exit %d, stderr %s; want 1 naming SPKY_DB_WS", code, stderr.String())
	}
}

func TestDevFlags(t *testing.T) {
	tests := []struct {
		args []string
		want devOptions
		rest []string
		err  string
	}{
		{nil, devOptions{dbPort: 8000, schedPort: 9667}, nil, ""},
		{[]string{"--db-port", "9000", "--log-level", "debug"}, devOptions{dbPort: 9000, schedPort: 9667}, []string{"--log-level", "debug"}, ""},
		{[]string{"--ssp-listen-addr=:1", "-db-port=0"}, devOptions{schedPort: 9667}, []string{"--ssp-listen-addr=:1"}, ""},
		{[]string{"--ssps", "3", "--scheduler-port=0", "-v"}, devOptions{dbPort: 8000, ssps: 3}, []string{"-v"}, ""},
		{[]string{"--ssps=32"}, devOptions{dbPort: 8000, ssps: 32, schedPort: 9667}, nil, ""},
		{[]string{"--db-port"}, devOptions{}, nil, "--db-port needs a number"},
		{[]string{"--db-port", "70000"}, devOptions{}, nil, "is not a port number"},
		{[]string{"--ssps", "-1"}, devOptions{}, nil, `--ssps "-1" is not a number of SSPs (0-32)`},
		{[]string{"--ssps", "33"}, devOptions{}, nil, `--ssps "33" is not a number of SSPs (0-32)`},
		{[]string{"--ssps=two"}, devOptions{}, nil, `--ssps "two" is not a number of SSPs`},
		{[]string{"--ssps", "2", "--scheduler-port", "x"}, devOptions{}, nil, `--scheduler-port "x" is not a port number`},
		{[]string{"--scheduler-port", "9000"}, devOptions{}, nil, "--scheduler-port needs --ssps"},
	}
	for _, tt := range tests {
		got, rest, err := devFlags(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("devFlags(%q) error %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || fmt.Sprint(rest) != fmt.Sprint(tt.rest) {
			t.Errorf("devFlags(%q) = %+v, %q, %v; want %+v, %q", tt.args, got, rest, err, tt.want, tt.rest)
		}
	}
}

// TestDev runs `ssp dev` on free ports: the banner appears once the SSP is ready, the example
// requests work, and cancelling stops the SSP and the database.
func TestDev(t *testing.T) {
	for _, k := range []string{"SPKY_CONFIG_PATH", "SPKY_AUTH_SECRET", "SPKY_DB_WS", "SPKY_SSP_LISTEN_ADDR"} {
		t.Setenv(k, "")
	}
	t.Setenv("SPKY_LOG_LEVEL", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	port, err := freePort() // a fixed port: the dev database may reach the SSP there
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- run(ctx, []string{"dev", "--db-port", "0", "--ssp-listen-addr", fmt.Sprintf("127.0.0.1:%d", port)}, nil, stdout, stderr)
	}()
	re := regexp.MustCompile(`SSP HTTP API\s+(http://[0-9.:]+)`)
	var base string
	waitFor(t, 3*time.Minute, func() (bool, string) {
		select {
		case code := <-done:
			t.Fatalf("ssp dev exited with %d: %s", code, stderr.String())
		default:
		}
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			return true, ""
		}
		return false, "no banner; stdout: " + stdout.String()
	})
	for _, s := range []string{"SurrealDB      ws://127.0.0.1:", "/view/register", "/ingest", "Bearer dev", "DEFINE EVENT _00_thread_mutation"} {
		if !strings.Contains(stdout.String(), s) {
			t.Fatalf("banner lacks %q:\n%s", s, stdout.String())
		}
	}
	c := client{t: t, base: base, token: "dev"}
	c.mustCall("GET", "/health", "", 200)
	c.mustCall("POST", "/view/register", `{"id":"_00_query:demo","surql":"SELECT * FROM thread WHERE active = true","clientId":"me","ttl":"1h"}`, 200)
	c.mustCall("POST", "/ingest", `{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"Hello","active":true}}`, 200)
	if body := c.mustCall("GET", "/debug/view/demo", "", 200); !strings.Contains(body, `"key":"thread:1"`) {
		t.Fatalf("debug view after the example: %s", body)
	}

	// The banner's events, installed in the dev database, bring an app's write to the SSP: the
	// database may reach the SSP's address (issue 9: it had no network access at all).
	dbRE := regexp.MustCompile(`SurrealDB\s+(ws://[0-9.:]+)\s+\(user (\S+), pass (\S+), namespace (\S+), database (\S+);`)
	m := dbRE.FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no database line in the banner:\n%s", stdout.String())
	}
	db, err := conn.Dial(ctx, conn.Config{URL: m[1], User: m[2], Pass: m[3], NS: m[4], DB: m[5]})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	banner := stdout.String()
	events := banner[strings.Index(banner, "DEFINE EVENT _00_thread_mutation"):strings.Index(banner, "\nStop with Ctrl-C")]
	if rs, err := db.Query(ctx, events+"; CREATE thread:2 SET title = 'From the app', active = true;", nil); err != nil || conn.StatementErr(rs) != nil {
		t.Fatalf("install the banner's events and write: %v %v", err, conn.StatementErr(rs))
	}
	if body := c.mustCall("GET", "/debug/view/demo", "", 200); !strings.Contains(body, `"key":"thread:2"`) {
		t.Fatalf("the app's write did not reach the SSP through the events: %s", body)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("ssp dev exited with %d: %s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("ssp dev did not stop within a minute")
	}
}

// TestDevCluster runs `ssp dev --ssps 2` on free ports: the banner names the scheduler and
// both SSPs once the scheduler counts them ready; a view registered through the scheduler
// lands on one SSP, an ingest through it reaches both, and cancelling stops everything.
func TestDevCluster(t *testing.T) {
	for _, k := range []string{"SPKY_CONFIG_PATH", "SPKY_AUTH_SECRET", "SPKY_DB_WS", "SPKY_SSP_LISTEN_ADDR", "SPKY_SCHEDULER_URL", "SPKY_SSP_ID"} {
		t.Setenv(k, "")
	}
	t.Setenv("SPKY_LOG_LEVEL", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--db-port", "0", "--ssps", "2", "--scheduler-port", "0", "--ssp-listen-addr", "127.0.0.1:0"}, nil, stdout, stderr)
	}()
	schedRE := regexp.MustCompile(`Scheduler\s+(http://[0-9.:]+)`)
	sspRE := regexp.MustCompile(`SSP (ssp-[0-9]+)\s+(http://[0-9.:]+)`)
	waitFor(t, 3*time.Minute, func() (bool, string) {
		select {
		case code := <-done:
			t.Fatalf("ssp dev exited with %d: %s", code, stderr.String())
		default:
		}
		return strings.Contains(stdout.String(), "Stop with Ctrl-C"), "no banner; stdout: " + stdout.String()
	})
	banner := stdout.String()
	m := schedRE.FindStringSubmatch(banner)
	ssps := map[string]string{}
	for _, s := range sspRE.FindAllStringSubmatch(banner, -1) {
		ssps[s[1]] = s[2]
	}
	if m == nil || len(ssps) != 2 || ssps["ssp-1"] == "" || ssps["ssp-2"] == "" {
		t.Fatalf("banner without the scheduler and ssp-1, ssp-2:\n%s", banner)
	}
	for _, s := range []string{m[1] + "/view/register", m[1] + "/ingest", "Bearer dev"} {
		if !strings.Contains(banner, s) {
			t.Fatalf("banner lacks %q:\n%s", s, banner)
		}
	}
	sched := client{t: t, base: m[1]}
	body := sched.mustCall("POST", "/view/register", `{"id":"_00_query:demo","surql":"SELECT * FROM thread WHERE active = true","clientId":"me","ttl":"1h"}`, 200)
	owner := decode[struct {
		SSPID string `json:"ssp_id"`
	}](t, body).SSPID
	if ssps[owner] == "" {
		t.Fatalf("the view went to %q, not one of the banner's SSPs: %s", owner, body)
	}
	sched.mustCall("POST", "/ingest", `{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"Hello","active":true}}`, 200)
	for id, base := range ssps {
		c := client{t: t, base: base, token: "dev"}
		code, view := c.call("GET", "/debug/view/demo", "")
		switch {
		case id == owner && (code != 200 || !strings.Contains(view, `"key":"thread:1"`)):
			t.Errorf("%s serves the view, yet /debug/view/demo = %d %s", id, code, view)
		case id != owner && code != 404:
			t.Errorf("%s does not serve the view, yet /debug/view/demo = %d", id, code)
		}
		if info := c.mustCall("GET", "/info", "", 200); !strings.Contains(info, `"thread":1`) {
			t.Errorf("%s did not get the ingest through the scheduler: /info %s", id, info)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("ssp dev exited with %d: %s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("ssp dev did not stop within a minute")
	}
}

func TestNetTargets(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"127.0.0.1:8667", "[127.0.0.1:8667 localhost:8667]"},
		{"0.0.0.0:8667", "[127.0.0.1:8667 localhost:8667]"},
		{"[::]:8667", "[127.0.0.1:8667 localhost:8667]"},
		{"10.1.2.3:9000", "[127.0.0.1:9000 localhost:9000 10.1.2.3:9000]"},
		{"devbox:9000", "[127.0.0.1:9000 localhost:9000 devbox:9000]"},
		{"127.0.0.1:0", "[]"},
		{"nonsense", "[]"},
	} {
		if got := fmt.Sprint(netTargets(c.addr)); got != c.want {
			t.Errorf("netTargets(%q) = %s, want %s", c.addr, got, c.want)
		}
	}
}
