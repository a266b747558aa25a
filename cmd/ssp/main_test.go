package main

import (
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		stdin     string
		code      int
		stdout    string // exact, unless stdoutHas is set
		stdoutHas string
		stderrHas string
	}{
		{name: "no args prints usage", args: nil, code: 2, stderrHas: "Usage: ssp <command>"},
		{name: "help", args: []string{"help"}, code: 0, stdoutHas: "Usage: ssp <command>"},
		{name: "-h", args: []string{"-h"}, code: 0, stdoutHas: "Usage: ssp <command>"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderrHas: `unknown command "frobnicate"`},
		{name: "version", args: []string{"version"}, code: 0, stdout: "ssp " + version + "\n"},
		{name: "version with argument", args: []string{"version", "x"}, code: 2, stderrHas: `unexpected argument "x"`},
		{name: "serve invalid setting", args: []string{"serve", "--ssp-ref-mode", "both"}, code: 2, stderrHas: "SPKY_SSP_REF_MODE"},
		{
			name:  "replay",
			args:  []string{"replay"},
			stdin: `{"register":{"id":"v","surql":"SELECT * FROM user"}}` + "\n" + `{"ingest":{"table":"user","op":"CREATE","id":"user:1","record":{}}}` + "\n" + `{"check":true}` + "\n",
			code:  0, stdout: `{"views":{"v":[{"key":"user:1","version":1}]}}` + "\n",
		},
		{name: "replay unknown flag", args: []string{"replay", "-x"}, code: 2, stderrHas: "flag provided but not defined: -x"},
		{name: "replay help", args: []string{"replay", "-h"}, code: 0, stderrHas: "Usage of ssp replay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(context.Background(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, tt.code, stderr.String())
			}
			if tt.stdoutHas != "" {
				if !strings.Contains(stdout.String(), tt.stdoutHas) {
					t.Errorf("stdout %q does not contain %q", stdout.String(), tt.stdoutHas)
				}
			} else if stdout.String() != tt.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderrHas) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.stderrHas)
			}
		})
	}
}

// The production binary links no test machinery: no `testing`, no workload generator, no
// oracle (they live in _test.go files, internal/ or cmd/ssp-bench).
func TestBinaryLinksNoTestMachinery(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/sp00ky/ssp/cmd/ssp").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{"testing", "github.com/sp00ky/ssp/internal/workload", "github.com/sp00ky/ssp/internal/naive",
		"github.com/sp00ky/ssp/integration/devdb/devdbtest", "github.com/sp00ky/ssp/integration/difftest"}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed too little to be a dependency list:\n%s", out)
	}
	for _, dep := range deps {
		if slices.Contains(forbidden, dep) {
			t.Errorf("the ssp binary links %s", dep)
		}
	}
}

// `ssp serve` never uses the test scheduler: only the file of `ssp dev --ssps` imports it.
func TestOnlyDevUsesTheTestScheduler(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var importers []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			if imp.Path.Value == `"github.com/sp00ky/ssp/integration/testscheduler"` {
				importers = append(importers, f)
			}
		}
	}
	if len(files) < 5 || fmt.Sprint(importers) != "[devcluster.go]" {
		t.Errorf("files importing the test scheduler: %v, want only devcluster.go (of %v)", importers, files)
	}
}
