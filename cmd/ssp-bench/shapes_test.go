package main

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/integration/devdb"
)

func TestShapesFlags(t *testing.T) {
	tests := []flagCase{
		{"help", []string{"shapes", "-h"}, 0, "ON DUPLICATE KEY UPDATE"},
		{"argument", []string{"shapes", "now"}, 2, `unexpected argument "now"`},
		{"zero rows", []string{"shapes", "-rows", "0"}, 2, "-rows must be at least 1"},
		{"zero batch", []string{"shapes", "-batch", "0"}, 2, "-batch must be at least 1"},
		{"zero rounds", []string{"shapes", "-rounds", "0"}, 2, "-rounds must be at least 1"},
		{"zero views", []string{"shapes", "-views", "0"}, 2, "-views must be at least 1"},
		{"remote db", []string{"shapes", "-db", "ws://10.0.0.8:8000"}, 2, "not on loopback"},
		{"db without scheme", []string{"shapes", "-db", "127.0.0.1:8000"}, 2, "want a URL"},
	}
	checkFlagCases(t, tests)
}

// TestShapesShort runs every shape over 40 rows against the dev SurrealDB and checks the table:
// a line per shape and phase, and for the SSP's shape and the INSERT shape exactly one
// notification per row of the phase's action, the rows as expected, and a database CPU figure.
func TestShapesShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr strings.Builder
	if code := run(ctx, []string{"shapes", "-rows", "40", "-batch", "10", "-rounds", "1", "-views", "4"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.Contains(lines[0], "cores") || !strings.Contains(lines[0], "load average") {
		t.Errorf("first line %q does not describe the machine", lines[0])
	}
	if !strings.HasPrefix(lines[len(lines)-1], "load average at the end: ") {
		t.Errorf("last line %q", lines[len(lines)-1])
	}
	wantRows := [numPhases]string{"40 v1 ✓", "40 v2 ✓", "0 rows ✓"}
	for _, sh := range edgeShapes {
		for ph := range numPhases {
			line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sh.name) + ` +` + phaseNames[ph] + ` +(\S+) +(\S+) +(.*)$`).FindStringSubmatch(out)
			if line == nil {
				t.Errorf("no line for %s, %s:\n%s", sh.name, phaseNames[ph], out)
				continue
			}
			if sh.name != "per-row UPSERT" && !strings.HasPrefix(sh.name, "INSERT") {
				continue
			}
			for i, col := range []string{"db-µs/row", "wall-µs/row"} {
				if x, err := strconv.ParseFloat(line[i+1], 64); err != nil || x <= 0 {
					t.Errorf("%s, %s: %s is %q, want a positive number", sh.name, phaseNames[ph], col, line[i+1])
				}
			}
			want := regexp.MustCompile(`^40 ` + string(phaseAction[ph]) + ` ✓ +` + regexp.QuoteMeta(wantRows[ph]) + `$`)
			if !want.MatchString(line[3]) {
				t.Errorf("%s, %s: notifications and rows %q, want 40 %s ✓ and %s", sh.name, phaseNames[ph], line[3], phaseAction[ph], wantRows[ph])
			}
		}
	}
}

// Without -live the statements are measured alone: no notifications are checked ("-"), the rows
// still are.
func TestShapesWithoutLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr strings.Builder
	if code := run(ctx, []string{"shapes", "-rows", "20", "-batch", "10", "-rounds", "1", "-views", "2", "-live=false"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "no LIVE SELECT (-live=false)") {
		t.Errorf("the header does not say there is no LIVE SELECT:\n%s", out)
	}
	wantRows := [numPhases]string{"20 v1 ✓", "20 v2 ✓", "0 rows ✓"}
	for _, sh := range edgeShapes {
		for ph := range numPhases {
			want := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sh.name) + ` +` + phaseNames[ph] + ` +\S+ +\S+ +- +` + regexp.QuoteMeta(wantRows[ph]) + `$`)
			if !want.MatchString(out) {
				t.Errorf("%s, %s: no line with notifications - and rows %s:\n%s", sh.name, phaseNames[ph], wantRows[ph], out)
			}
		}
	}
}

// TestShapesReportBrokenShapes: shapes that write nothing, write the wrong version, delete and
// re-create instead of updating, or are rejected by SurrealDB are reported as such.
func TestShapesReportBrokenShapes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devdb.Start(ctx, devdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	log := logrus.New()
	log.SetOutput(io.Discard)
	env := &shapesEnv{url: srv.URL(), user: srv.User, pass: srv.Pass, log: log, run: time.Now().UnixNano(), silence: 300 * time.Millisecond, live: true}
	rows := edgeRows(20, 3)
	perRow := edgeShapes[0].body
	tests := []struct {
		name  string
		body  func(ph int, rows []edgeRow) (string, map[string]any)
		notes [numPhases]string
		rows  [numPhases]string
	}{
		{"nothing written", func(int, []edgeRow) (string, map[string]any) { return "LET $x = 1;\n", nil },
			[numPhases]string{"none ✗", "none ✗", "none ✗"},
			[numPhases]string{"0 rows: 20 missing, 0 not v1, 0 unexpected ✗", "0 rows: 20 missing, 0 not v2, 0 unexpected ✗", "0 rows ✓"}},
		{"version kept", func(ph int, rs []edgeRow) (string, map[string]any) {
			if ph == phaseUpdate {
				ph = phaseCreate
			}
			return perRow(ph, rs)
		},
			[numPhases]string{"20 CREATE ✓", "20 UPDATE ✓", "20 DELETE ✓"}, // updatedAt changed
			[numPhases]string{"20 v1 ✓", "20 rows: 0 missing, 20 not v2, 0 unexpected ✗", "0 rows ✓"}},
		{"delete and create", func(ph int, rs []edgeRow) (string, map[string]any) {
			if ph != phaseUpdate {
				return perRow(ph, rs)
			}
			del, vars := perRow(phaseDelete, rs)
			ups, uvars := perRow(phaseUpdate, rs)
			for k, v := range uvars {
				vars[k] = v
			}
			return del + ups, vars
		},
			[numPhases]string{"20 CREATE ✓", "20 CREATE, 20 DELETE ✗", "20 DELETE ✓"},
			[numPhases]string{"20 v1 ✓", "20 v2 ✓", "0 rows ✓"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := runShape(ctx, env, edgeShape{tt.name, tt.body}, rows, 5, strings.ReplaceAll(tt.name, " ", "_"))
			if err != nil {
				t.Fatal(err)
			}
			for ph, r := range res {
				if r.failed != "" || r.skipped {
					t.Fatalf("%s: failed %q, skipped %v", phaseNames[ph], r.failed, r.skipped)
				}
				if r.notes != tt.notes[ph] {
					t.Errorf("%s: notifications %q, want %q", phaseNames[ph], r.notes, tt.notes[ph])
				}
				if r.rows != tt.rows[ph] {
					t.Errorf("%s: rows %q, want %q", phaseNames[ph], r.rows, tt.rows[ph])
				}
			}
		})
	}
	t.Run("rejected", func(t *testing.T) {
		bad := func(int, []edgeRow) (string, map[string]any) { return "UPSERT $v0 CONTNT $c0;\n", nil }
		res, err := runShape(ctx, env, edgeShape{"rejected", bad}, rows, 5, "rejected")
		if err != nil {
			t.Fatal(err)
		}
		if res[phaseCreate].failed == "" || !res[phaseUpdate].skipped || !res[phaseDelete].skipped {
			t.Fatalf("want create failed, update and delete skipped: %+v", res)
		}
		if line := shapeLine("rejected", phaseCreate, res[:1]); !strings.Contains(line, "failed: ") || !strings.Contains(line, "CONTNT") {
			t.Errorf("line %q does not say failed with SurrealDB's message", line)
		}
		if line := shapeLine("rejected", phaseUpdate, res[1:2]); !strings.Contains(line, "skipped") {
			t.Errorf("line %q does not say skipped", line)
		}
	})
}
