//go:build !linux

package scheduler

import "time"

// processCPU is not implemented on this platform: heartbeats send cpu_usage null.
func processCPU() (time.Duration, bool) { return 0, false }

// processRSS is not implemented on this platform: heartbeats send memory_usage null.
func processRSS() (uint64, bool) { return 0, false }
