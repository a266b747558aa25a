//go:build !linux

package sspproc

import "os/exec"

// setProcAttr does nothing where the kernel cannot tie the SSP's life to the test binary's.
func setProcAttr(*exec.Cmd) {}
