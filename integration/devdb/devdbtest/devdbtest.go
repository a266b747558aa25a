// Package devdbtest holds the test-only helpers of the dev SurrealDB: the TestMain of packages that share one.
package devdbtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sp00ky/ssp/integration/devdb"
)

// RunTests is the TestMain of a test binary that shares one dev SurrealDB: it starts the server
// with opts, hands it to use, runs the tests, stops the server and exits with the tests' code. A
// server that cannot start fails the whole binary with the reason (tests are never skipped).
func RunTests(m *testing.M, opts devdb.Options, use func(*devdb.Server)) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	s, err := devdb.Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "devdb:", err)
		os.Exit(1)
	}
	use(s)
	code := m.Run()
	_ = s.Close()
	os.Exit(code)
}
