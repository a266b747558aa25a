package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// defaultAskTimeout bounds a request whose context has no deadline.
const defaultAskTimeout = time.Minute

// errNoAnswer is the error of a request that timed out or whose actor is gone.
var errNoAnswer = errors.New("actor did not answer")

// request sends msg to pid with protoactor's RequestFuture and waits for the answer, at most
// until ctx's deadline (or defaultAskTimeout without one). The answer must be of type T; an
// answer that is an error is returned as the error.
func request[T any](ctx context.Context, root *actor.RootContext, pid *actor.PID, msg any) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	timeout := defaultAskTimeout
	dl, hasDeadline := ctx.Deadline()
	if hasDeadline {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return zero, context.DeadlineExceeded
		}
	}
	res, err := root.RequestFuture(pid, msg, timeout).Result()
	if err != nil {
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		if hasDeadline && !time.Now().Before(dl) {
			return zero, context.DeadlineExceeded // the future's timer fired a moment before ctx's
		}
		return zero, fmt.Errorf("%w: %s: %T: %v", errNoAnswer, pid.Id, msg, err)
	}
	return answerAs[T](pid, msg, res)
}

// requestFrom is request from inside an actor: it blocks the calling actor until the answer
// arrives, timeout passes or ctx ends. Only actors whose work is to wait (the bootstrap and
// reset jobs, the queries and ttl actors) use it, and only towards actors that never wait on
// them.
func requestFrom[T any](ctx context.Context, actx actor.Context, pid *actor.PID, msg any, timeout time.Duration) (T, error) {
	var zero T
	fut := actx.RequestFuture(pid, msg, timeout)
	var res any
	var err error
	if ctx.Done() == nil {
		res, err = fut.Result()
	} else {
		type result struct {
			res any
			err error
		}
		ch := make(chan result, 1)
		go func() {
			r, e := fut.Result()
			ch <- result{r, e}
		}()
		select {
		case r := <-ch:
			res, err = r.res, r.err
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
	if err != nil {
		return zero, fmt.Errorf("%w: %s: %T: %v", errNoAnswer, pid.Id, msg, err)
	}
	return answerAs[T](pid, msg, res)
}

// answerAs returns an answer as T: an error answer is returned as the error.
func answerAs[T any](pid *actor.PID, msg, res any) (T, error) {
	var zero T
	switch r := res.(type) {
	case T:
		return r, nil
	case error:
		return zero, r
	case *actor.DeadLetterResponse:
		return zero, fmt.Errorf("%w (%s is gone; %T)", ErrShuttingDown, pid.Id, msg)
	}
	return zero, fmt.Errorf("actor %s answered %T with %T", pid.Id, msg, res)
}

// done is the answer of a request that succeeded and carries nothing.
type done struct{}

// reply answers the sender of the message being processed: err when it is not nil, else ok.
func reply(ctx actor.Context, ok any, err error) {
	if ctx.Sender() == nil {
		return
	}
	if err != nil {
		ctx.Respond(err)
		return
	}
	ctx.Respond(ok)
}

// answer sends a late answer to a requester remembered from an earlier message.
func answer(ctx actor.SenderContext, to *actor.PID, ok any, err error) {
	if to == nil {
		return
	}
	if err != nil {
		ctx.Send(to, err)
		return
	}
	ctx.Send(to, ok)
}

// after sends msg to pid once d has passed (a timer message to an actor, usually itself).
func after(sys *actor.ActorSystem, d time.Duration, pid *actor.PID, msg any) *time.Timer {
	return time.AfterFunc(d, func() { sys.Root.Send(pid, msg) })
}

// ticker sends msg to pid every d until the returned stop is called.
func ticker(sys *actor.ActorSystem, d time.Duration, pid *actor.PID, msg any) (stop func()) {
	t := time.NewTicker(d)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				sys.Root.Send(pid, msg)
			case <-quit:
				return
			}
		}
	}()
	return func() { t.Stop(); close(quit) }
}
