// Package wait is the tests' one way to wait for a condition: poll it until it holds, with a
// deadline, instead of sleeping and hoping. It is test machinery (it imports testing); no
// production package imports it.
package wait

import (
	"testing"
	"time"
)

// For polls cond every `every` until it holds, failing the test at the deadline with cond's
// last reason.
func For(t testing.TB, timeout, every time.Duration, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %s: %s", timeout, why)
		}
		<-tick.C
	}
}
