package e2e

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/internal/sspproc"
	"github.com/sp00ky/ssp/internal/wait"
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
	sspproc.Cleanup()
	os.Exit(code)
}

// setup starts the shared dev SurrealDB (network capability on) and builds the ssp binary, once.
func setup(t *testing.T) (*devdb.Server, string) {
	t.Helper()
	shared.once.Do(func() {
		shared.err = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			bin, err := sspproc.Binary(ctx)
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
var waitFor = wait.For
