//go:build linux

package sspproc

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel SIGKILL the SSP when the test binary dies.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
