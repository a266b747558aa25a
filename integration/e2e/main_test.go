package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/surreal/conn"
)

// Shared by every test of the package: one dev SurrealDB (each test uses its own database)
// and one `ssp` binary.
var (
	shared struct {
		once    sync.Once
		err     error
		db      *devdb.Server
		bin     string
		tmp     string
		buildOK bool
	}
	dbSeq atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.db != nil {
		if err := shared.db.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close devdb:", err)
		}
	}
	if shared.tmp != "" {
		_ = os.RemoveAll(shared.tmp)
	}
	os.Exit(code)
}

// setup starts the shared dev SurrealDB (network capability on) and builds the ssp binary, once.
func setup(t *testing.T) (*devdb.Server, string) {
	t.Helper()
	shared.once.Do(func() {
		shared.err = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			tmp, err := os.MkdirTemp("", "ssp-e2e-")
			if err != nil {
				return err
			}
			shared.tmp = tmp
			bin, err := buildSSP(ctx, tmp)
			if err != nil {
				return err
			}
			shared.bin = bin
			db, err := devdb.Start(ctx, devdb.Options{AllowNet: true})
			if err != nil {
				return err
			}
			shared.db = db
			return nil
		}()
	})
	if shared.err != nil {
		t.Fatalf("e2e setup: %v", shared.err)
	}
	return shared.db, shared.bin
}

// buildSSP runs `go build [-race] -o <dir>/ssp ./cmd/ssp` in the module root.
func buildSSP(ctx context.Context, dir string) (string, error) {
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

// newDatabase returns a fresh database name in the shared dev SurrealDB and a root connection
// to it (closed at the end of the test).
func newDatabase(t *testing.T, ctx context.Context, prefix string) (string, *conn.Conn) {
	t.Helper()
	srv, _ := setup(t)
	name := fmt.Sprintf("%s%d", prefix, dbSeq.Add(1))
	db, err := conn.Dial(ctx, conn.Config{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: "e2e", DB: name})
	if err != nil {
		t.Fatalf("connect to database %s: %v", name, err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	return name, db
}

// exec runs surql and fails the test on any error.
func exec1(t *testing.T, ctx context.Context, db *conn.Conn, surql string, vars map[string]any) []conn.Result {
	t.Helper()
	rs, err := db.Query(ctx, surql, vars)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		t.Fatalf("query %.200q: %v", surql, err)
	}
	return rs
}

// waitFor polls cond until it holds, failing the test at the deadline with cond's last reason.
func waitFor(t *testing.T, timeout, every time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %s: %s", timeout, why)
		}
		<-tick.C
	}
}
