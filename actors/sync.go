package actors

import (
	"sync"
	"sync/atomic"
)

// stepAck counts the actors that still have to finish one ingest step: the coordinator holds one
// share until it has sent the step's deltas, every affected view actor holds one until it has
// applied its delta. When the last share is released, done is closed and release runs (it
// frees the ingest queue slot).
type stepAck struct {
	pending atomic.Int32
	done    chan struct{}
	err     error // set by the coordinator before it releases its share
	release func()
}

func newStepAck(release func()) *stepAck {
	a := &stepAck{done: make(chan struct{}), release: release}
	a.pending.Store(1)
	return a
}

// add takes n more shares (before they are handed out).
func (a *stepAck) add(n int) { a.pending.Add(int32(n)) }

// finish releases one share.
func (a *stepAck) finish() {
	if a.pending.Add(-1) == 0 {
		if a.release != nil {
			a.release()
		}
		close(a.done)
	}
}

// rvWait is the `_00_rv` wait of one change (SPEC §2.4): it completes once `_00_version` shows the
// change's record at its version, or when the wait gave up. Edge items of the change carry it;
// a writer flushes an item only after its wait (and the waits of the view's earlier items)
// completed.
type rvWait struct {
	mu     sync.Mutex
	fired  bool
	subs   []func()
	cancel func() // stops the polling; nil for a wait that polls nothing
}

// supersede ends the wait early because a later change of the same record arrived: the edges
// of this change are overwritten by that change's edges, so waiting for a version the record
// may never show again (UPDATE rv 4 → DELETE → CREATE rv 1) would only hold its views back.
func (w *rvWait) supersede() {
	if w == nil {
		return
	}
	if w.cancel != nil {
		w.cancel()
	}
	w.complete()
}

// isDone reports whether the wait completed. A nil wait is always done.
func (w *rvWait) isDone() bool {
	if w == nil {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// subscribe arranges for f to run once the wait completes; it returns false (and does not call
// f) when the wait completed already.
func (w *rvWait) subscribe(f func()) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired {
		return false
	}
	w.subs = append(w.subs, f)
	return true
}

// complete marks the wait done and runs the subscribers.
func (w *rvWait) complete() {
	w.mu.Lock()
	w.fired = true
	subs := w.subs
	w.subs = nil
	w.mu.Unlock()
	for _, f := range subs {
		f()
	}
}
