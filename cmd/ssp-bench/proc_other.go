//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"time"
)

// procUsage is only implemented on Linux.
func procUsage(pid int) (time.Duration, uint64, error) {
	return 0, 0, errors.New("process CPU and RSS are only read on Linux")
}

// childWithArg is only implemented on Linux.
func childWithArg(string) int { return 0 }

// dieWithParent is only implemented on Linux.
func dieWithParent(*exec.Cmd) {}
