package devdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
)

// DefaultStartTimeout bounds how long Start waits for npm and the server when
// Options.StartTimeout is zero. It is generous because the first Start on a
// machine runs `npm ci`, which downloads about 40 MB.
const DefaultStartTimeout = 3 * time.Minute

// listeningPrefix starts the single line server.mjs prints once it accepts
// connections, followed by host:port.
const listeningPrefix = "DEVDB_LISTENING "

// Options configures Start. The zero value is ready to use.
type Options struct {
	// User is the root user defined in the fresh database ("root" if empty).
	User string
	// Pass is that user's password ("root" if empty).
	Pass string
	// StartTimeout bounds dependency installation plus server start-up
	// (DefaultStartTimeout if zero). The context passed to Start can cut it
	// shorter.
	StartTimeout time.Duration
	// Log, if set, receives the server's stderr (and npm's output).
	// Diagnostics are kept in memory regardless and appear in errors.
	Log io.Writer
	// Verbose makes the server log connections and request failures to
	// stderr (see Log).
	Verbose bool
	// Port is the TCP port to listen on (127.0.0.1); 0 picks a free one.
	Port int
	// AllowAnonymous lets connections that never signed in run queries with
	// full privileges, which is what the embedded engine does by itself.
	// By default devdb refuses them, like a real SurrealDB server.
	AllowAnonymous bool
	// AllowNet lets queries make outgoing network calls to any target
	// (`http::post` and friends), like `surreal start --allow-net`. Off by
	// default, as in SurrealDB.
	AllowNet bool
	// NetTargets lets queries reach these targets only ("host:port" or "host"),
	// like `surreal start --allow-net host:port`; ignored with AllowNet.
	NetTargets []string
}

// Server is a running devdb process: an in-memory SurrealDB 3 engine
// (`@surrealdb/node`) served over SurrealDB's WebSocket RPC protocol on a
// free loopback port. Close it when done.
type Server struct {
	// User is the root user name that SignIn accepts.
	User string
	// Pass is the root user's password.
	Pass string

	addr   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer
	done   chan struct{} // closed once the process has exited
	err    error         // cmd.Wait result, valid after done is closed

	closeOnce sync.Once
	closeErr  error
}

// Dir returns the folder holding server.mjs and package.json, found from
// this source file's location so that Start works from any test package.
func Dir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("devdb: cannot locate package source (runtime.Caller failed)")
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "server.mjs")); err != nil {
		return "", fmt.Errorf("devdb: server.mjs not found next to %s: %w", file, err)
	}
	return dir, nil
}

// Start installs the Node dependencies if needed (`npm ci`), starts
// `node server.mjs --port 0`, and returns once the server accepts
// connections. ctx bounds the start-up only; the server runs until Close.
// A missing `node` or `npm` is an error that says what to install.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.User == "" {
		opts.User = "root"
	}
	if opts.Pass == "" {
		opts.Pass = "root"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	dir, err := Dir()
	if err != nil {
		return nil, fmt.Errorf("start devdb: %w", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("start devdb: `node` not found in PATH (%w): install Node.js 20.6 or newer "+
			"with npm (e.g. `apt-get install nodejs npm`, or from https://nodejs.org), then rerun", err)
	}
	if err := ensureDeps(ctx, dir, logw); err != nil {
		return nil, fmt.Errorf("start devdb: %w", err)
	}

	args := []string{"server.mjs", "--port", strconv.Itoa(opts.Port), "--host", "127.0.0.1"}
	if opts.Verbose {
		args = append(args, "--verbose")
	}
	if opts.AllowAnonymous {
		args = append(args, "--allow-anonymous")
	}
	if opts.AllowNet {
		args = append(args, "--allow-net")
	}
	for _, t := range opts.NetTargets {
		args = append(args, "--allow-net-target", t)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEVDB_USER="+opts.User, "DEVDB_PASS="+opts.Pass)
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stderr = io.MultiWriter(stderr, logw)
	ready := make(chan string, 1)
	cmd.Stdout = &lineWatcher{prefix: listeningPrefix, found: ready, rest: logw}
	// The server exits when this pipe closes, so it cannot outlive this
	// process even if the test binary is killed.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start devdb: stdin pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start devdb: run %s: %w", node, err)
	}
	s := &Server{
		User:   opts.User,
		Pass:   opts.Pass,
		cmd:    cmd,
		stdin:  stdin,
		stderr: stderr,
		done:   make(chan struct{}),
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()

	select {
	case addr := <-ready:
		s.addr = addr
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("start devdb: server exited before listening (%v): %s", s.err, stderr.String())
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("start devdb: waiting for %q line: %w; server stderr: %s",
			strings.TrimSpace(listeningPrefix), ctx.Err(), stderr.String())
	}
}

// URL returns the server's WebSocket endpoint, "ws://127.0.0.1:PORT", in the
// form surrealdb.FromEndpointURLString expects (the SDK appends /rpc).
func (s *Server) URL() string {
	return "ws://" + s.addr
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	return s.addr
}

// Connect opens a Go SDK connection, signs in as the root user and selects
// namespace ns and database db. Close the returned DB when done.
func (s *Server) Connect(ctx context.Context, ns, db string) (*surrealdb.DB, error) {
	conn, err := surrealdb.FromEndpointURLString(ctx, s.URL())
	if err != nil {
		return nil, fmt.Errorf("devdb connect %s: %w", s.URL(), err)
	}
	if _, err := conn.SignIn(ctx, surrealdb.Auth{Username: s.User, Password: s.Pass}); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("devdb connect: signin as %s: %w", s.User, err)
	}
	if err := conn.Use(ctx, ns, db); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("devdb connect: use %s/%s: %w", ns, db, err)
	}
	return conn, nil
}

// Close stops the server (SIGTERM and closing its stdin, SIGKILL after ten
// seconds) and waits for the process to exit. It is safe to call more than
// once; later calls return the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		_ = s.stdin.Close()
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = s.cmd.Process.Kill()
		}
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			s.closeErr = fmt.Errorf("close devdb: server ignored SIGTERM and was killed; stderr: %s", s.stderr.String())
			return
		}
		var exitErr *exec.ExitError
		if s.err != nil && !(errors.As(s.err, &exitErr) && !exitErr.Exited()) {
			s.closeErr = fmt.Errorf("close devdb: %w; stderr: %s", s.err, s.stderr.String())
		}
	})
	return s.closeErr
}

// Stderr returns the last 16 KiB the server wrote to stderr.
func (s *Server) Stderr() string {
	return s.stderr.String()
}

// ensureDeps runs `npm ci` in dir unless node_modules is installed and
// newer than package-lock.json. A file lock keeps concurrent test binaries
// from installing at the same time.
func ensureDeps(ctx context.Context, dir string, logw io.Writer) error {
	if depsInstalled(dir) {
		return nil
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".npm-install.lock"))
	if err != nil {
		return fmt.Errorf("lock node_modules: %w", err)
	}
	defer unlock()
	if depsInstalled(dir) {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("`npm` not found in PATH (%w): install npm (it ships with Node.js; "+
			"on Debian `apt-get install npm`), or run `npm ci` in %s yourself", err, dir)
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, logw)
	cmd.Stderr = io.MultiWriter(&out, logw)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci in %s: %w: %s", dir, err, strings.TrimSpace(out.String()))
	}
	if !depsInstalled(dir) {
		return fmt.Errorf("npm ci in %s finished but node_modules is incomplete: %s", dir, strings.TrimSpace(out.String()))
	}
	return nil
}

func depsInstalled(dir string) bool {
	for _, p := range []string{"@surrealdb/node/package.json", "ws/package.json"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(p))); err != nil {
			return false
		}
	}
	hidden, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return false
	}
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return true
	}
	return !hidden.ModTime().Before(lock.ModTime())
}

// lineWatcher is the server's stdout: it hands the address from the first
// line starting with prefix to found, and copies everything else to rest.
type lineWatcher struct {
	prefix string
	found  chan<- string
	rest   io.Writer
	buf    []byte
	seen   bool
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.buf[:i]), "\r")
		w.buf = w.buf[i+1:]
		if !w.seen && strings.HasPrefix(line, w.prefix) {
			w.seen = true
			w.found <- strings.TrimSpace(strings.TrimPrefix(line, w.prefix))
			continue
		}
		_, _ = io.WriteString(w.rest, line+"\n")
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it.
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
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return "(empty)"
	}
	return s
}
