// Command ssp-bench holds the SSP's benchmarks, kept out of the ssp binary so that it carries
// no workload generator:
//
//	ssp-bench engine   the view engine on the realistic workload, on one core (ssp-bench engine -h)
//	ssp-bench load     the service end to end: a dev SurrealDB, an `ssp serve` subprocess and
//	                   concurrent /ingest clients over loopback, or -ssps N behind the test
//	                   scheduler (ssp-bench load -h)
//	ssp-bench bootstrap  bootstrap and re-bootstrap of an SSP in scheduler mode through the
//	                   scheduler's proxy (ssp-bench bootstrap -h)
//	ssp-bench shapes   the database's cost per edge row and the LIVE notifications of candidate
//	                   SurrealQL shapes of the edge writes (ssp-bench shapes -h)
//
// Results and the commands that produced them are in BENCHMARKS.md.
// Exit codes: 0 success, 1 runtime error, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// pprofEnv is the SSP's variable for its pprof listener (ssp serve -h).
const pprofEnv = "SPKY_PPROF_ADDR"

const usage = `Usage: ssp-bench <command> [flags]

Commands:
  engine    benchmark the view engine on the realistic workload (ssp-bench engine -h)
  load      load benchmark: a dev SurrealDB, an ssp serve subprocess and concurrent /ingest clients (ssp-bench load -h);
            -ssps N: N subprocesses behind the test scheduler, /ingest at the scheduler
  bootstrap bootstrap and re-bootstrap time of an SSP in scheduler mode, through the scheduler's proxy (ssp-bench bootstrap -h)
  shapes    database CPU per edge row and LIVE notifications of candidate SurrealQL shapes of the edge writes (ssp-bench shapes -h)
`

// errUsage marks errors caused by a bad command line.
var errUsage = errors.New("usage error")

func main() {
	// No signal handling here: engine runs end at once on SIGINT, load handles its own.
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "engine":
		err = runBench(ctx, rest, stdout, stderr)
	case "load":
		err = runLoad(ctx, rest, stdout, stderr)
	case "bootstrap":
		err = runBoot(ctx, rest, stdout, stderr)
	case "shapes":
		err = runShapes(ctx, rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "ssp-bench: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	default:
		fmt.Fprintf(stderr, "ssp-bench %s: %v\n", args[0], err)
		return exitError
	}
}

// buildSSP builds ./cmd/ssp of this module into a temporary directory (removed with env) and
// returns the binary's path.
// newFlags returns the flag set of a subcommand: its errors and -h go to stderr, usage first.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs: flag.ErrHelp for -h, errUsage for anything else the flag
// package refused (it printed why).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func buildSSP(ctx context.Context, env *loadEnv) (string, error) {
	dir, err := os.MkdirTemp("", "ssp-bench-")
	if err != nil {
		return "", fmt.Errorf("build the ssp binary: %w", err)
	}
	env.closers = append(env.closers, func() error { return os.RemoveAll(dir) })
	bin := filepath.Join(dir, "ssp")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/sp00ky/ssp/cmd/ssp")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the ssp binary (go build ./cmd/ssp; or pass -ssp-bin): %w\n%s", err, out)
	}
	return bin, nil
}
