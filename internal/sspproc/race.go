//go:build race

package sspproc

// raceEnabled reports that the test binary has the race detector; the ssp binary gets it too.
const raceEnabled = true
