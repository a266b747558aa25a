// Command ssp is the Sp00ky Sidecar Processor. Subcommands:
//
//	ssp replay    run an offline replay script (JSON lines on stdin, results on stdout)
//	ssp version   print the version
//	ssp serve     run the SSP (HTTP API) against SurrealDB
//	ssp dev       start the bundled dev SurrealDB and an SSP against it
//
// Exit codes: 0 success, 1 runtime error, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/replay"
)

// version is the SSP's version; release builds set it with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const usage = `Usage: ssp <command> [flags]

Commands:
  replay    run an offline replay: JSON lines on stdin, one result line per check on stdout
  version   print the version
  serve     run the SSP: HTTP API against SurrealDB (ssp serve -h for flags)
  dev       start the bundled dev SurrealDB and an SSP against it (ssp dev -h)
  help      print this help
`

func main() {
	// serve and dev handle SIGINT/SIGTERM themselves; replay ends at once, which loses nothing.
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks errors caused by a bad command line.
var errUsage = errors.New("usage error")

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "version":
		err = noFlags("version", rest, stderr, func() error {
			_, err := fmt.Fprintf(stdout, "ssp %s\n", version)
			return err
		})
	case "replay":
		err = noFlags("replay", rest, stderr, func() error {
			return replay.Run(ctx, stdin, stdout, engine.New(engine.Options{}))
		})
	case "serve":
		err = runServe(ctx, rest, stdout, stderr)
	case "dev":
		err = runDev(ctx, rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "ssp: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	default:
		fmt.Fprintf(stderr, "ssp %s: %v\n", args[0], err)
		return exitError
	}
}

// noFlags parses a subcommand that takes no flags or arguments, then runs fn.
func noFlags(name string, args []string, stderr io.Writer, fn func() error) error {
	fs := flag.NewFlagSet("ssp "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ssp %s: unexpected argument %q\n", name, fs.Arg(0))
		return errUsage
	}
	return fn()
}
