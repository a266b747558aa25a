package scheduler

import "time"

// procSample is one reading of this process's CPU time and resident memory, for the heartbeat's
// cpu_usage and memory_usage. A figure the platform does not give is marked absent.
type procSample struct {
	at    time.Time
	cpu   time.Duration // user + system CPU time of every thread since the process started
	cpuOK bool
	rss   uint64 // resident set size in bytes
	rssOK bool
}

// sampleProc reads this process's figures now.
func sampleProc() procSample {
	s := procSample{at: time.Now()}
	s.cpu, s.cpuOK = processCPU()
	s.rss, s.rssOK = processRSS()
	return s
}

// cpuPercent is the percent of one core this process used between prev and cur (100 = one core
// busy the whole time; more with several threads busy), or nil when a sample lacks CPU time or
// no time passed between them.
func cpuPercent(prev, cur procSample) *float64 {
	wall := cur.at.Sub(prev.at)
	if !prev.cpuOK || !cur.cpuOK || wall <= 0 {
		return nil
	}
	p := max(float64(cur.cpu-prev.cpu), 0) / float64(wall) * 100
	return &p
}

// rssMiB is s's resident memory in MiB, or nil when the platform gives none.
func rssMiB(s procSample) *float64 {
	if !s.rssOK {
		return nil
	}
	m := float64(s.rss) / (1 << 20)
	return &m
}
