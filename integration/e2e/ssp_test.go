package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// secret is the bearer secret of every SSP the tests start.
const secret = "e2e-secret"

// sspConfig says how to start one `ssp serve` subprocess.
type sspConfig struct {
	DB      string // database name in the shared dev SurrealDB (namespace e2e)
	RefMode string // dedicated or single
	Env     map[string]string
}

// sspProc is one running `ssp serve` subprocess.
type sspProc struct {
	t      *testing.T
	id     string // SPKY_SSP_ID in scheduler mode
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	logs   *tailBuffer
	done   chan struct{}
	exited error
}

// startSSP starts `ssp serve` listening on a free loopback port and returns once it printed its
// address (it may still be bootstrapping). It is killed at the end of the test.
func startSSP(t *testing.T, cfg sspConfig) *sspProc {
	t.Helper()
	srv, bin := setup(t)
	env := map[string]string{
		"SPKY_SSP_LISTEN_ADDR":           "127.0.0.1:0",
		"SPKY_AUTH_SECRET":               secret,
		"SPKY_DB_WS":                     srv.URL(),
		"SPKY_DB_USER":                   srv.User,
		"SPKY_DB_PASS":                   srv.Pass,
		"SPKY_DB_NS":                     "e2e",
		"SPKY_DB_NAME":                   cfg.DB,
		"SPKY_SSP_REF_MODE":              cfg.RefMode,
		"TTL_CLEANUP_INTERVAL_SECS":      "3600",
		"SPKY_METRICS_FLUSH_INTERVAL_MS": "500",
		"SPKY_LOG_LEVEL":                 "info",
	}
	for k, v := range cfg.Env {
		env[k] = v
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = shared.tmp // no sp00ky.yml there
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GORACE=halt_on_error=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	setProcAttr(cmd)
	p := &sspProc{t: t, cmd: cmd, logs: &tailBuffer{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stderr = p.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s serve: %v", bin, err)
	}
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://[0-9.]+:[0-9]+)`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.logs.Write([]byte("stdout: " + line + "\n"))
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		p.exited = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() || os.Getenv("E2E_SSP_LOGS") != "" {
			t.Logf("ssp (%s, db %s) log tail:\n%s", cfg.RefMode, cfg.DB, p.logs.String())
		}
	})
	select {
	case p.base = <-addr:
	case <-p.done:
		t.Fatalf("ssp serve exited before listening (%v): %s", p.exited, p.logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("ssp serve printed no address within a minute: %s", p.logs.String())
	}
	return p
}

// kill SIGKILLs the process (if still running) and waits for it.
func (p *sspProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// ready polls /health until it answers 200 {"status":"ready"}.
func (p *sspProc) waitReady(timeout time.Duration) {
	p.t.Helper()
	waitFor(p.t, timeout, 20*time.Millisecond, func() (bool, string) {
		select {
		case <-p.done:
			p.t.Fatalf("ssp exited (%v) while waiting for ready: %s", p.exited, p.logs.String())
		default:
		}
		code, body, err := p.do("GET", "/health", nil)
		if err != nil {
			return false, err.Error()
		}
		return code == 200 && strings.Contains(body, `"ready"`), fmt.Sprintf("/health %d %s", code, body)
	})
}

// do sends one request with the bearer secret and returns status and body.
func (p *sspProc) do(method, path string, body any) (int, string, error) {
	var r io.Reader
	if body != nil {
		switch b := body.(type) {
		case []byte:
			r = bytes.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				return 0, "", err
			}
			r = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, p.base+path, r)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustDo is do that fails the test unless the status is want.
func (p *sspProc) mustDo(method, path string, body any, want int) string {
	p.t.Helper()
	code, b, err := p.do(method, path, body)
	if err != nil || code != want {
		p.t.Fatalf("%s %s: status %d (%v), want %d; body %s", method, path, code, err, want, b)
	}
	return b
}

// metric returns the sum of every sample of the Prometheus metric name.
func (p *sspProc) metric(name string) float64 {
	p.t.Helper()
	code, body, err := p.do("GET", "/metrics", nil)
	if err != nil || code != 200 {
		p.t.Fatalf("GET /metrics: %d %v", code, err)
	}
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// tailBuffer keeps the last max bytes written to it; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// view is one live query of the corpus.
type view struct {
	Key    string         // view key: registered as _00_query:<Key>
	SurQL  string         // the SELECT
	Params map[string]any // JSON params as the client sends them (records as "tb:key" strings)
	Owner  string         // params.auth.id, "" when unowned
	Client string
	Subs   []sub // the subquery fields of the projection
}

// sub is one subquery field of a projection: its output name, whether it is `(…)[0]` (one row
// or NONE), and its own subquery fields. The oracle reads members off SurrealDB's answer with it.
type sub struct {
	Name   string
	Single bool
	Subs   []sub
}

// register registers v over HTTP (POST /view/register).
func (p *sspProc) register(v view) {
	p.t.Helper()
	body := map[string]any{"id": "_00_query:" + v.Key, "surql": v.SurQL, "clientId": v.Client, "ttl": "1h"}
	if v.Params != nil {
		body["params"] = v.Params
	}
	p.mustDo("POST", "/view/register", body, 200)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
