package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoadFlags(t *testing.T) {
	tests := []flagCase{
		{"help", []string{"load", "-h"}, 0, "-soak-every"},
		{"argument", []string{"load", "now"}, 2, `unexpected argument "now"`},
		{"bad views", []string{"load", "-views", "many"}, 2, `"many" is not a count`},
		{"zero views", []string{"load", "-views", "0"}, 2, "-views counts must be at least 1"},
		{"zero clients", []string{"load", "-clients", "0"}, 2, "-clients must be at least 1"},
		{"unbounded", []string{"load", "-duration", "0"}, 2, "-duration 0 needs -count"},
		{"negative count", []string{"load", "-count", "-1"}, 2, "-count must not be negative"},
		{"negative rate", []string{"load", "-rate", "-5"}, 2, "-rate must not be negative"},
		{"negative sample", []string{"load", "-sample", "-1"}, 2, "-sample must not be negative"},
		{"soak with two cells", []string{"load", "-soak", "1m", "-views", "100,1000"}, 2, "give a single -views count"},
		{"soak with count", []string{"load", "-soak", "1m", "-views", "100", "-count", "5"}, 2, "exclude each other"},
		{"soak interval", []string{"load", "-soak-every", "0s"}, 2, "-soak-every must be positive"},
		{"ref mode", []string{"load", "-ref-mode", "both"}, 2, "-ref-mode must be dedicated or single"},
		{"remote db", []string{"load", "-db", "ws://10.0.0.8:8000"}, 2, "not on loopback"},
		{"db without scheme", []string{"load", "-db", "127.0.0.1:8000"}, 2, "want a URL"},
		{"remote pprof", []string{"load", "-pprof", "0.0.0.0:6060"}, 2, "must be a loopback host:port"},
		{"bad backlog", []string{"load", "-edge-backlog", "-2"}, 2, "-edge-backlog must be -1"},
		{"negative window", []string{"load", "-window", "-1"}, 2, "-window must not be negative"},
		{"unknown flag", []string{"load", "-fast"}, 2, "flag provided but not defined: -fast"},
		{"negative ssps", []string{"load", "-ssps", "-1"}, 2, "-ssps must be 0 (standalone) to 16, got -1"},
		{"too many ssps", []string{"load", "-ssps", "17"}, 2, "-ssps must be 0 (standalone) to 16, got 17"},
		{"pprof of several ssps", []string{"load", "-ssps", "2", "-pprof", "127.0.0.1:6060"}, 2, "use it with -ssps 0 or 1"},
		{"compare with a missing binary", []string{"load", "-compare", "/nonexistent/ssp"}, 2, `-compare "/nonexistent/ssp"`},
		{"compare a directory", []string{"load", "-compare", "."}, 2, "is not an executable ssp binary"},
		{"compare without rounds", []string{"load", "-compare", "/bin/sh", "-rounds", "0"}, 2, "-rounds 0: at least 1"},
		{"floor of scheduler mode", []string{"load", "-floor", "-ssps", "2"}, 2, "-floor measures one SSP"},
		{"compare a soak", []string{"load", "-compare", "/bin/sh", "-soak", "1m", "-views", "100"}, 2, "-compare does not combine with -soak"},
	}
	checkFlagCases(t, tests)
}

// TestLoadShort runs a small load against a real dev SurrealDB and an `ssp serve` subprocess
// (built by ssp-load from ./cmd/ssp) and checks the table, not the speed.
func TestLoadShort(t *testing.T) {
	loadShort(t, "SSP subprocess")
}

// TestLoadShortScheduled is TestLoadShort through the test scheduler with two SSPs behind it.
func TestLoadShortScheduled(t *testing.T) {
	loadShort(t, "scheduler mode: 2 SSP subprocess(es) behind the test scheduler", "-ssps", "2")
}

// loadShort runs a small load with extra flags and checks the table and that the first line
// names mode.
func loadShort(t *testing.T, mode string, extra ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr strings.Builder
	args := []string{"load", "-views", "6", "-rows", "300", "-count", "400", "-duration", "0",
		"-clients", "4", "-sample", "10", "-seed", "3"}
	args = append(args, extra...)
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	header := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "views ") {
			header = i
		}
	}
	if header < 0 || header+1 >= len(lines) {
		t.Fatalf("no table in the output:\n%s", out)
	}
	if !strings.Contains(lines[0], mode) || !strings.Contains(lines[0], "cores") {
		t.Errorf("first line %q does not describe the machine and the SSP mode", lines[0])
	}
	cols := strings.Fields(lines[header])
	if !slices.Equal(cols, loadColumns) {
		t.Fatalf("columns %q, want %q", cols, loadColumns)
	}
	row := strings.Fields(lines[header+1])
	if len(row) != len(cols) {
		t.Fatalf("row %q has %d fields for %d columns", lines[header+1], len(row), len(cols))
	}
	cell := func(name string) string { return row[slices.Index(cols, name)] }
	if cell("views") != "6" {
		t.Errorf("views = %s, want 6", cell("views"))
	}
	// 400 ingests plus the deletions of the lag probes that were seen in time.
	if n, err := strconv.Atoi(cell("ingests")); err != nil || n < 400 || n > 440 {
		t.Errorf("ingests = %s, want 400 to 440", cell("ingests"))
	}
	if strings.Contains(stderr.String(), "fanned out") {
		t.Errorf("the SSPs did not apply every ingest: %s", stderr.String())
	}
	if cell("errors") != "0" {
		t.Errorf("errors = %s, want 0 (stderr: %s)", cell("errors"), stderr.String())
	}
	lagN, _, _ := strings.Cut(cell("lag-n"), "/")
	if n, err := strconv.Atoi(lagN); err != nil || n < 1 || n > 40 {
		t.Errorf("lag-n = %s, want 1 to 40 samples of the 40 probes", cell("lag-n"))
	}
	for _, c := range []string{"p50", "p99", "clag50", "clag95", "lag50", "lag95", "rss", "heap"} {
		if cell(c) == "-" {
			t.Errorf("column %s is empty: %s", c, lines[header+1])
		}
	}
	if !strings.HasPrefix(lines[len(lines)-1], "load average at the end: ") {
		t.Errorf("last line %q", lines[len(lines)-1])
	}
	summary := regexp.MustCompile(`(?m)^summary \S+ views=6 ingest/s=[0-9]+ p99=\S+ cpu/ing=\S+ db-cpu/ing=\S+ edges/ing=[0-9.]+ rows/ing=[0-9.]+ flush/ing=[0-9.]+ lag95=\S+$`)
	if !summary.MatchString(out) {
		t.Errorf("no summary line for the cell:\n%s", out)
	}
}

// TestLoadFloor runs a small -floor cell: every measured ingest names a table of the SSP's own,
// which it answers 200 without applying, so nothing reaches the writers and no ingest fails.
func TestLoadFloor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr strings.Builder
	args := []string{"load", "-views", "4", "-rows", "200", "-count", "300", "-duration", "0", "-clients", "4", "-floor"}
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "lag probes off (-floor") {
		t.Errorf("the header does not say the cell measures the floor:\n%s", out)
	}
	summary := regexp.MustCompile(`(?m)^summary \S+ views=4 ingest/s=[0-9]+ p99=\S+ cpu/ing=\S+ db-cpu/ing=\S+ edges/ing=0\.00 rows/ing=0\.00 flush/ing=0\.00 lag95=-$`)
	if !summary.MatchString(out) {
		t.Errorf("want a summary with no edge writes and no lag:\n%s\nstderr:\n%s", out, stderr.String())
	}
	row := regexp.MustCompile(`(?m)^\s+4\s+300\s+\S+\s+\S+\s+\S+\s+0\s+0\s`)
	if !row.MatchString(out) {
		t.Errorf("want 300 ingests, none busy or failed:\n%s", out)
	}
}

// TestLoadCompare runs one round of -compare of the current code against a binary built from it:
// both binaries run the cell, in turn, and the medians and their ratio are printed.
func TestLoadCompare(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	other := filepath.Join(t.TempDir(), "ssp")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", other, "github.com/sp00ky/ssp/cmd/ssp").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var stdout, stderr strings.Builder
	args := []string{"load", "-views", "4", "-rows", "200", "-count", "150", "-duration", "0", "-clients", "4", "-sample", "10",
		"-compare", other, "-rounds", "1"}
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, re := range []string{
		`(?m)^summary this#1 views=4 `, `(?m)^summary other#1 views=4 `,
		`(?m)^summary this\(median of 1\) views=4 `, `(?m)^summary other\(median of 1\) views=4 `,
		`(?m)^ratio this/other views=4 ingest/s=[0-9.]+ p99=[0-9.]+ cpu/ing=[0-9.]+ db-cpu/ing=\S+ edges/ing=[0-9.]+ rows/ing=\S+ flush/ing=\S+ lag95=\S+$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
}

func TestMedianAndRatio(t *testing.T) {
	if m := median([]float64{3, -1, 1, 2}); m != 2 {
		t.Errorf("median = %v, want 2 (the unknown -1 left out)", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median = %v, want 2.5", m)
	}
	if m := median([]float64{-1}); m != -1 {
		t.Errorf("median of unknowns = %v, want -1", m)
	}
	a := cellSummary{views: 100, perSec: 2000, p99: 2 * time.Millisecond, cpuPerIng: 50 * time.Microsecond, dbCPUPerIn: -1, edgesPerIn: 3, rowsPerIn: -1, flushPerIn: 1, lag95: 10 * time.Millisecond}
	b := cellSummary{views: 100, perSec: 1000, p99: 4 * time.Millisecond, cpuPerIng: 100 * time.Microsecond, dbCPUPerIn: 80 * time.Microsecond, edgesPerIn: 6, rowsPerIn: 4, flushPerIn: 4, lag95: 20 * time.Millisecond}
	if got, want := ratioLine(a, b), "ratio this/other views=100 ingest/s=2.00 p99=0.50 cpu/ing=0.50 db-cpu/ing=- edges/ing=0.50 rows/ing=- flush/ing=0.25 lag95=0.50"; got != want {
		t.Errorf("ratioLine = %q, want %q", got, want)
	}
}
