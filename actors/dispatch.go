package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// pinnedDispatcher runs one actor's mailbox on a single long-lived goroutine instead of a new
// goroutine per burst of messages (protoactor's default). The actors on the path of every
// ingest use one: the coordinator runs the engine, whose deep call stacks made every fresh
// goroutine grow and copy its stack again, and the views and writers supervisors route every
// step and edge write. Use one per actor: the mailbox schedules at most one run at a time,
// which the one-slot queue always has room for.
type pinnedDispatcher struct {
	work      chan func()
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ actor.Dispatcher = (*pinnedDispatcher)(nil)

// pinnedThroughput is the number of messages a run handles before yielding the processor,
// protoactor's default.
const pinnedThroughput = 300

func newPinnedDispatcher() *pinnedDispatcher {
	d := &pinnedDispatcher{work: make(chan func(), 1), quit: make(chan struct{}), done: make(chan struct{})}
	go d.loop()
	return d
}

func (d *pinnedDispatcher) loop() {
	defer close(d.done)
	for {
		select {
		case fn := <-d.work:
			fn()
		case <-d.quit:
			return
		}
	}
}

// Schedule implements actor.Dispatcher. After close it falls back to a fresh goroutine, so
// a late message is still processed.
func (d *pinnedDispatcher) Schedule(fn func()) {
	select {
	case <-d.quit:
		go fn()
		return
	default:
	}
	select {
	case d.work <- fn:
	case <-d.quit:
		go fn()
	}
}

// Throughput implements actor.Dispatcher.
func (d *pinnedDispatcher) Throughput() int { return pinnedThroughput }

// close ends the goroutine once the run in progress, if any, returns.
func (d *pinnedDispatcher) close() {
	d.closeOnce.Do(func() { close(d.quit) })
	<-d.done
}

// hotPath are the pinned dispatchers of the actors every ingest goes through.
type hotPath struct {
	coordinator, views, writers *pinnedDispatcher
}

func newHotPath() *hotPath {
	return &hotPath{coordinator: newPinnedDispatcher(), views: newPinnedDispatcher(), writers: newPinnedDispatcher()}
}

func (h *hotPath) close() {
	h.coordinator.close()
	h.views.close()
	h.writers.close()
}
