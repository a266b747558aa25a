package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat (100 on every Linux
// architecture Go supports).
const clockTicks = 100

// procUsage returns the CPU time (user + system) and the resident set size of process pid.
func procUsage(pid int) (cpu time.Duration, rss uint64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces: fields count after ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("read CPU time of process %d: malformed /proc stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("read CPU time of process %d: short /proc stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	pages, err3 := strconv.ParseInt(f[21], 10, 64) // field 24, rss in pages
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("read CPU time of process %d: malformed /proc stat", pid)
	}
	cpu = time.Duration(utime+stime) * time.Second / clockTicks
	return cpu, uint64(pages) * uint64(os.Getpagesize()), nil
}

// childWithArg returns the pid of a child process of this process whose command line has an
// argument ending in suffix (0 if none).
func childWithArg(suffix string) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", os.Getpid()))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(s)
			if err != nil {
				continue
			}
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil {
				continue
			}
			for _, arg := range strings.Split(string(cmdline), "\x00") {
				if strings.HasSuffix(arg, suffix) {
					return pid
				}
			}
		}
	}
	return 0
}

// dieWithParent makes cmd's process receive SIGTERM when this process ends.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
