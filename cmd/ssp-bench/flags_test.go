package main

import (
	"context"
	"strings"
	"testing"
)

// flagCase is one command line of a flag test: the exit code it must end with and a part of
// what it must print to stderr.
type flagCase struct {
	name      string
	args      []string
	code      int
	stderrHas string
}

// checkFlagCases runs each case as a subtest of t. A usage error (exit code 2) must print
// nothing to stdout.
func checkFlagCases(t *testing.T, cases []flagCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != tt.code {
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
