package sspproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sp00ky/ssp/internal/wait"
)

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Binary builds `./cmd/ssp` once per test binary (`go build [-race]` in the module root) into
// a temporary folder and returns its path; the folder is removed by Cleanup.
func Binary(ctx context.Context) (string, error) {
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "ssp-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		built.bin, built.err = build(ctx, dir)
	})
	return built.bin, built.err
}

// Cleanup removes the folder of the binary Binary built (call it from TestMain after m.Run).
func Cleanup() {
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
}

func build(ctx context.Context, dir string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("build ssp: cannot locate the package source")
	}
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build ssp: no go command: %w", err)
	}
	bin := filepath.Join(dir, "ssp")
	args := []string{"build"}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "-o", bin, "./cmd/ssp")
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s in %s: %w: %s", strings.Join(args, " "), root, err, out)
	}
	return bin, nil
}

// Config says how to start one `ssp serve` subprocess.
type Config struct {
	Bin    string            // the ssp binary (Binary)
	Secret string            // SPKY_AUTH_SECRET, sent as the bearer token of every request
	Env    map[string]string // SPKY_* settings; SPKY_SSP_LISTEN_ADDR defaults to 127.0.0.1:0
	Label  string            // names the process in its log tail
}

// Proc is one running `ssp serve` subprocess.
type Proc struct {
	T      testing.TB
	Cmd    *exec.Cmd
	Base   string // http://127.0.0.1:PORT
	Secret string
	Logs   *TailBuffer // stderr and stdout ("stdout: " lines), the last 64 KiB
	Done   chan struct{}
	// Exited is the process's exit error; read it only after Done is closed.
	Exited error
}

// Start starts `ssp serve` in the binary's folder (no sp00ky.yml there) and returns once it
// printed its address (it may still be bootstrapping). It is killed at the end of the test; its
// log tail is logged when the test failed or $SSP_TEST_LOGS (or $E2E_SSP_LOGS) is set.
func Start(t testing.TB, cfg Config) *Proc {
	t.Helper()
	env := map[string]string{"SPKY_SSP_LISTEN_ADDR": "127.0.0.1:0", "SPKY_AUTH_SECRET": cfg.Secret}
	for k, v := range cfg.Env {
		env[k] = v
	}
	cmd := exec.Command(cfg.Bin, "serve")
	cmd.Dir = filepath.Dir(cfg.Bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GORACE=halt_on_error=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	setProcAttr(cmd)
	p := &Proc{T: t, Cmd: cmd, Secret: cfg.Secret, Logs: &TailBuffer{Max: 64 << 10}, Done: make(chan struct{})}
	cmd.Stderr = p.Logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s serve: %v", cfg.Bin, err)
	}
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://[0-9.]+:[0-9]+)`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.Logs.Write([]byte("stdout: " + line + "\n"))
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		p.Exited = cmd.Wait()
		close(p.Done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() || os.Getenv("SSP_TEST_LOGS") != "" || os.Getenv("E2E_SSP_LOGS") != "" {
			t.Logf("ssp (%s) log tail:\n%s", cfg.Label, p.Logs.String())
		}
	})
	select {
	case p.Base = <-addr:
	case <-p.Done:
		t.Fatalf("ssp serve exited before listening (%v): %s", p.Exited, p.Logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("ssp serve printed no address within a minute: %s", p.Logs.String())
	}
	return p
}

// Kill SIGKILLs the process (if still running) and waits for it.
func (p *Proc) Kill() {
	select {
	case <-p.Done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.Done
}

// WaitReady polls /health until it answers 200 {"status":"ready"}.
func (p *Proc) WaitReady(timeout time.Duration) {
	p.T.Helper()
	wait.For(p.T, timeout, 20*time.Millisecond, func() (bool, string) {
		select {
		case <-p.Done:
			p.T.Fatalf("ssp exited (%v) while waiting for ready: %s", p.Exited, p.Logs.String())
		default:
		}
		code, body, err := p.Do("GET", "/health", nil)
		if err != nil {
			return false, err.Error()
		}
		return code == 200 && strings.Contains(body, `"ready"`), fmt.Sprintf("/health %d %s", code, body)
	})
}

// Do sends one request with the bearer secret and returns status and body. A body that is not
// []byte is sent as JSON.
func (p *Proc) Do(method, path string, body any) (int, string, error) {
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
	req, err := http.NewRequest(method, p.Base+path, r)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+p.Secret)
	resp, err := Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// MustDo is Do that fails the test unless the status is want.
func (p *Proc) MustDo(method, path string, body any, want int) string {
	p.T.Helper()
	code, b, err := p.Do(method, path, body)
	if err != nil || code != want {
		p.T.Fatalf("%s %s: status %d (%v), want %d; body %s", method, path, code, err, want, b)
	}
	return b
}

// Metric returns the sum of every sample of the Prometheus metric name.
func (p *Proc) Metric(name string) float64 {
	p.T.Helper()
	code, body, err := p.Do("GET", "/metrics", nil)
	if err != nil || code != 200 {
		p.T.Fatalf("GET /metrics: %d %v", code, err)
	}
	return MetricSum(body, name)
}

// MetricSum returns the sum of every sample of metric name in a Prometheus text body.
func MetricSum(body, name string) float64 {
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

// Client is the HTTP client of Proc's requests.
var Client = &http.Client{Timeout: 30 * time.Second}

// TailBuffer keeps the last Max bytes written to it; safe for concurrent use.
type TailBuffer struct {
	mu  sync.Mutex
	Max int
	buf []byte
}

func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.Max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.Max:]...)
	}
	return len(p), nil
}

func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
