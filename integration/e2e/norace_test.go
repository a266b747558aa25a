//go:build !race

package e2e

// raceEnabled reports that the test binary has the race detector; the ssp binary gets it too.
const raceEnabled = false
