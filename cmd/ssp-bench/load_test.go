package main

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoadFlags(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		code      int
		stderrHas string
	}{
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderrHas) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.stderrHas)
			}
			if tt.code == 2 && stdout.Len() > 0 {
				t.Errorf("a usage error printed to stdout: %q", stdout.String())
			}
		})
	}
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
}
