package actors

import (
	"context"
	"time"
)

// inbox is the bounded mailbox of the ingest path (SPEC §4, backpressure): at most cap
// ingests are in flight — posted to the coordinator and not yet answered. A request that finds it full waits until its deadline for a place and is then refused
// (ErrBusy) without having been posted, so a refused change was never applied. It is a
// counting semaphore (a buffered channel) and nothing else: the coordinator decides on
// everything else about an ingest.
type inbox struct {
	slots chan struct{}
}

func newInbox(capacity int) *inbox {
	return &inbox{slots: make(chan struct{}, capacity)}
}

// enter takes a place, waiting until deadline; it returns ErrBusy when none freed up in time,
// or ctx's error.
func (b *inbox) enter(ctx context.Context, deadline time.Time) error {
	select {
	case b.slots <- struct{}{}:
		return nil // the usual case: no timer
	default:
	}
	wait := time.Until(deadline)
	if wait <= 0 {
		return ErrBusy
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave frees a place.
func (b *inbox) leave() { <-b.slots }

// len is the number of ingests in flight.
func (b *inbox) len() int { return len(b.slots) }
