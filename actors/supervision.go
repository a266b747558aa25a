package actors

import (
	"fmt"
	"runtime/debug"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"
)

// Actor kinds, as /debug/actors and ssp_actor_restarts_total{kind} name them.
const (
	kindRoot         = "root"
	kindCoordinator  = "coordinator"
	kindViews        = "views"
	kindView         = "view"
	kindWriters      = "writers"
	kindWriter       = "writer"
	kindVersions     = "versions"
	kindHousekeeping = "housekeeping"
	kindQueries      = "queries"
	kindTTL          = "ttl"
	kindFlusher      = "metrics"
	kindSchema       = "schema"
	kindDBWatch      = "dbwatch"
	kindJob          = "job"
	kindScheduler    = "scheduler"
	kindJobs         = "jobs"
	kindJobTable     = "job_table"
)

// child is what a supervisor knows of one of its children: it owns this record (restarts and
// the last failure are counted by the supervisor, which is the one that handles them).
type child struct {
	kind, name string
	pid        *actor.PID
	depth      *mailboxDepth
	restarts   int
	lastErr    string
}

// supervision is a supervisor actor's record of its children and its restart policy: every
// failure of a child is counted (ssp_actor_restarts_total{kind}), logged with its reason and
// the message that caused it, remembered on the child for /debug, and then handled by restart
// — after a delay that grows with the failures of the last minute (10 ms per failure), so an
// actor that fails on every message does not spin; a view, writer or housekeeping actor is
// never given up. The message a child failed on is lost (protoactor drops it); onFailure, if
// set, runs first with it and adds the policy of the level: what to do so that nothing is lost
// (a view rebuilds itself, a writer's views write their membership again, …), or that the
// child is stopped instead (a job: its failure ends it).
//
// It is embedded in the supervisor actor, so protoactor calls HandleFailure on the
// supervisor's own goroutine: the records are touched by that goroutine only.
type supervision struct {
	env       *env
	byPID     map[string]*child
	restart   actor.SupervisorStrategy
	stop      actor.SupervisorStrategy
	onFailure func(c *child, reason, message any) (stop bool)
}

// Restart delays: the Nth failure of a child within restartWindow restarts it after
// N × restartBackoff.
const (
	restartWindow  = time.Minute
	restartBackoff = 10 * time.Millisecond
)

func newSupervision(e *env) *supervision {
	return &supervision{
		env:     e,
		byPID:   map[string]*child{},
		restart: actor.NewExponentialBackoffStrategy(restartWindow, restartBackoff),
		stop:    actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective }),
	}
}

// HandleFailure implements actor.SupervisorStrategy.
func (s *supervision) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, pid *actor.PID, rs *actor.RestartStatistics, reason, message any) {
	c := s.byPID[pid.Id]
	kind, name := "unknown", pid.Id
	if c != nil {
		kind, name = c.kind, c.name
		c.restarts++
		c.lastErr = fmt.Sprint(reason)
		c.depth.n.Add(-1) // the message it failed on was counted in and will never be processed
	}
	stop := false
	if s.onFailure != nil && c != nil {
		stop = s.onFailure(c, reason, message)
	}
	fields := logrus.Fields{"actor": pid.Id, "kind": kind, "name": name, "reason": fmt.Sprint(reason), "message": fmt.Sprintf("%T", message)}
	if stop {
		s.env.log.WithFields(fields).Error("actor failed; its supervisor stops it")
		s.stop.HandleFailure(sys, sup, pid, rs, reason, message)
		return
	}
	s.env.m.restarts.WithLabelValues(kind).Inc()
	s.env.log.WithFields(fields).Error("actor failed; its supervisor restarts it")
	s.restart.HandleFailure(sys, sup, pid, rs, reason, message)
}

// spawn starts a child of ctx named name (unique among ctx's children) and records it.
func (s *supervision) spawn(ctx actor.Context, kind, name, id string, producer actor.Producer, opts ...actor.PropsOption) (*child, error) {
	depth := &mailboxDepth{}
	pid, err := ctx.SpawnNamed(props(depth, producer, opts...), id)
	if err != nil {
		return nil, fmt.Errorf("spawn %s %s: %w", kind, name, err)
	}
	c := &child{kind: kind, name: name, pid: pid, depth: depth}
	s.byPID[pid.Id] = c
	return c, nil
}

// forget drops the record of a child that terminated and returns it (nil if unknown).
func (s *supervision) forget(pid *actor.PID) *child {
	c := s.byPID[pid.Id]
	delete(s.byPID, pid.Id)
	return c
}

// list describes the children for /debug/actors, sorted by kind and name.
func (s *supervision) list() []childEntry {
	out := make([]childEntry, 0, len(s.byPID))
	for _, c := range s.byPID {
		out = append(out, c.entry())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (c *child) entry() childEntry {
	return childEntry{Kind: c.kind, Name: c.name, PID: c.pid, Mailbox: c.depth.len(), Restarts: c.restarts, LastError: c.lastErr}
}

// guard runs an actor's handler and turns a panic into a log line instead of a failure. Only
// supervisors use it: a supervisor that restarted would stop its children, so it must never
// fail (its own state is small and stays consistent message by message).
func guard(e *env, kind string, ctx actor.Context, handle func()) {
	defer func() {
		if r := recover(); r != nil {
			e.log.WithFields(logrus.Fields{"kind": kind, "actor": ctx.Self().Id, "panic": fmt.Sprint(r),
				"message": fmt.Sprintf("%T", ctx.Message()), "stack": string(debug.Stack())}).Error("supervisor recovered from a panic")
		}
	}()
	handle()
}
