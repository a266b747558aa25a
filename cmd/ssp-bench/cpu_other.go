//go:build !unix

package main

import "time"

// processCPU reports that the process CPU time is not known on this platform.
func processCPU() (time.Duration, bool) { return 0, false }
