package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestBootFlags(t *testing.T) {
	tests := []flagCase{
		{"help", []string{"bootstrap", "-h"}, 0, "-rebootstraps"},
		{"argument", []string{"bootstrap", "now"}, 2, `unexpected argument "now"`},
		{"bad rows", []string{"bootstrap", "-rows", "lots"}, 2, `"lots" is not a count`},
		{"zero rows", []string{"bootstrap", "-rows", "0"}, 2, "-rows counts must be at least 1"},
		{"negative views", []string{"bootstrap", "-views", "-1"}, 2, "-views must not be negative"},
		{"negative rebootstraps", []string{"bootstrap", "-rebootstraps", "-1"}, 2, "-rebootstraps must not be negative"},
		{"page size", []string{"bootstrap", "-page-size", "0"}, 2, "-page-size must be at least 1"},
	}
	checkFlagCases(t, tests)
}

// TestBootPoll: a short bootstrap is polled every 5 ms, a long one less often, never less
// than every 100 ms.
func TestBootPoll(t *testing.T) {
	for _, tt := range []struct{ elapsed, want time.Duration }{
		{0, 5 * time.Millisecond},
		{500 * time.Millisecond, 5 * time.Millisecond},
		{2 * time.Second, 10 * time.Millisecond},
		{10 * time.Second, 50 * time.Millisecond},
		{90 * time.Second, 100 * time.Millisecond},
	} {
		if got := bootPoll(tt.elapsed); got != tt.want {
			t.Errorf("bootPoll(%s) = %s, want %s", tt.elapsed, got, tt.want)
		}
	}
}

// TestBootShort bootstraps an SSP over 500 rows through the test scheduler and re-bootstraps
// it twice, and checks the table: one line each, every row loaded each time.
func TestBootShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr strings.Builder
	if code := run(ctx, []string{"bootstrap", "-rows", "500", "-views", "5", "-rebootstraps", "2", "-page-size", "64"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var rows [][]string
	for _, l := range strings.Split(stdout.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "500" {
			rows = append(rows, f)
		}
	}
	if len(rows) != 3 || rows[0][1] != "bootstrap" || rows[1][1] != "rebootstrap" || rows[2][2] != "2" {
		t.Fatalf("want a bootstrap and 2 re-bootstraps:\n%s", stdout.String())
	}
	for _, r := range rows {
		// … loaded rows/s pool cpu rss
		if loaded := r[len(r)-5]; loaded != "500" {
			t.Errorf("loaded %s rows, want 500: %q", loaded, r)
		}
	}
}
