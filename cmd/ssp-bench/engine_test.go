package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRunEngineFlags(t *testing.T) {
	tests := []flagCase{
		{"no command", nil, 2, "Usage: ssp-bench <command>"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"engine help", []string{"engine", "-h"}, 0, "-changes"},
		{"engine bad views", []string{"engine", "-views", "ten"}, 2, `"ten" is not a count`},
		{"engine zero changes", []string{"engine", "-changes", "0"}, 2, "-changes must be at least 1"},
		{"engine argument", []string{"engine", "now"}, 2, `unexpected argument "now"`},
	}
	checkFlagCases(t, tests)
}

func TestBenchSmall(t *testing.T) {
	var stdout, stderr strings.Builder
	args := []string{"engine", "-views", "20,0", "-rows", "200", "-changes", "300", "-seed", "4"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header, column names and 2 rows, got:\n%s", stdout.String())
	}
	if !regexp.MustCompile(`^ssp-bench engine: GOMAXPROCS=1, go\S+ \S+/\S+, CPU .+, seed 4, 300 changes per cell$`).MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	if f := strings.Fields(lines[1]); !slices.Equal(f, []string{"views", "rows", "load", "register", "changes/s", "p50", "p99", "cpu/ch", "allocs/ch", "deltas/ch", "B/row", "B/view", "members"}) {
		t.Errorf("columns %q", lines[1])
	}
	for i, want := range []string{"20", "0"} {
		f := strings.Fields(lines[2+i])
		if len(f) != 13 || f[0] != want || f[1] != "200" {
			t.Errorf("row %q: want 13 columns starting %s 200", lines[2+i], want)
		}
	}
	if f := strings.Fields(lines[2]); len(f) == 13 && f[12] == "0" {
		t.Errorf("20 views over 200 rows have no members: %q", lines[2])
	}
}

func TestIntList(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"10", []int{10}, false},
		{"1k,10K, 100k", []int{1000, 10000, 100000}, false},
		{"2m", []int{2000000}, false},
		{"0", []int{0}, false},
		{"", nil, true},
		{"1,,2", nil, true},
		{"-5", nil, true},
		{"1x", nil, true},
	}
	for _, tt := range tests {
		var got []int
		err := intList(&got)(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("intList(%q) error %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !slices.Equal(got, tt.want) {
			t.Errorf("intList(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i))
	}
	tests := []struct {
		data []time.Duration
		p    int
		want time.Duration
	}{
		{d, 50, 100},
		{d, 99, 198},
		{d, 100, 200},
		{d[:1], 50, 1},
		{d[:1], 99, 1},
		{d[:3], 50, 2},
	}
	for _, tt := range tests {
		if got := percentile(tt.data, tt.p); got != tt.want {
			t.Errorf("percentile(%d values, %d) = %d, want %d", len(tt.data), tt.p, got, tt.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	durs := map[time.Duration]string{
		500: "500ns", 1500: "1.5µs", 2500 * time.Microsecond: "2.50ms", 3 * time.Second: "3.00s",
	}
	for d, want := range durs {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%d) = %s, want %s", d, got, want)
		}
	}
	bytes := map[float64]string{12: "12B", 2048: "2.0KiB", 3 << 20: "3.0MiB", -4096: "-4.0KiB"}
	for b, want := range bytes {
		if got := fmtBytes(b); got != want {
			t.Errorf("fmtBytes(%v) = %s, want %s", b, got, want)
		}
	}
}
