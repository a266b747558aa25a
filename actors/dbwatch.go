package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Messages of the dbwatch actor.
type (
	// pingTick: time to probe the database.
	pingTick struct{}
	// pinged carries a probe's result (the probe runs off the actor's goroutine).
	pinged struct {
		at  time.Time
		err error
	}
	// dbStatusReq asks for the database's reachability; answered with *DBStatus.
	dbStatusReq struct{}
)

// Reachability of the database in DBStatus.Status.
const (
	dbUnknown = "unknown" // no probe has answered yet
	dbUp      = "up"
	dbDown    = "down"
)

// defaultDBPingInterval is how often the dbwatch actor probes the database (Deps.DBPingInterval
// overrides it); a probe gives up after dbPingTimeout.
const (
	defaultDBPingInterval = 2 * time.Second
	dbPingTimeout         = 5 * time.Second
)

// dbwatchActor makes a database outage visible (issue 9: /health said ready while every edge
// write failed): it probes SurrealDB with one round trip every interval, without retries, and
// keeps whether the last probe answered, since when, the last error and the outages seen. An
// outage is logged once when it starts and once, with its duration, when it ends; ssp_db_up and
// ssp_db_outages_total follow it, and /health and /info show it. One probe at a time: a tick
// while a probe is in flight is skipped. Restart policy: restart (it starts over as unknown and
// knows again after one probe).
type dbwatchActor struct {
	env      *env
	interval time.Duration
	stop     func()
	probing  bool

	status     string
	since      time.Time // when status began
	checked    time.Time // the last probe's answer
	lastErr    string
	outages    int64
	lastOutage time.Duration
}

func newDBWatchActor(e *env, interval time.Duration) *dbwatchActor {
	if interval <= 0 {
		interval = defaultDBPingInterval
	}
	return &dbwatchActor{env: e, interval: interval, status: dbUnknown, since: time.Now()}
}

// Receive implements actor.Actor.
func (a *dbwatchActor) Receive(ctx actor.Context) {
	a.env.hooks.receive(kindDBWatch, kindDBWatch, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.stop = ticker(ctx.ActorSystem(), a.interval, ctx.Self(), &pingTick{})
		a.probe(ctx)
	case *actor.Stopping, *actor.Restarting:
		if a.stop != nil {
			a.stop()
			a.stop = nil
		}
	case *pingTick:
		a.probe(ctx)
	case *pinged:
		a.probing = false
		a.record(m)
	case *dbStatusReq:
		ctx.Respond(a.describe(time.Now()))
	case *describeReq:
		d := a.describe(time.Now())
		ctx.Respond(&actorState{state: map[string]any{"db": d.Status, "since": d.Since, "last_error": d.LastError,
			"outages": d.Outages, "interval_seconds": a.interval.Seconds()}})
	}
}

// probe starts one round trip unless one is in flight; its result comes back as pinged.
func (a *dbwatchActor) probe(ctx actor.Context) {
	if a.probing {
		return
	}
	a.probing = true
	self, sys, db := ctx.Self(), ctx.ActorSystem(), a.env.db
	go func() {
		pctx, cancel := context.WithTimeout(context.Background(), dbPingTimeout)
		defer cancel()
		err := db.Ping(pctx)
		sys.Root.Send(self, &pinged{at: time.Now(), err: err})
	}()
}

// record takes a probe's result: a change from up (or unknown) to down starts an outage, from
// down to up ends it.
func (a *dbwatchActor) record(p *pinged) {
	a.checked = p.at
	m, log := a.env.m, a.env.log
	if p.err != nil {
		a.lastErr = p.err.Error()
		if a.status != dbDown {
			a.status, a.since = dbDown, p.at
			a.outages++
			m.dbUp.Set(0)
			m.dbOutages.Inc()
			log.WithError(p.err).Warn("SurrealDB does not answer: edge rows and job outcomes wait until it does (see /health)")
		}
		return
	}
	switch a.status {
	case dbDown:
		a.lastOutage = p.at.Sub(a.since)
		log.WithField("outage", a.lastOutage.Round(time.Millisecond).String()).WithField("last_error", a.lastErr).
			Warn("SurrealDB answers again after an outage")
		fallthrough
	case dbUnknown:
		a.status, a.since = dbUp, p.at
		m.dbUp.Set(1)
	}
}

func (a *dbwatchActor) describe(now time.Time) *DBStatus {
	d := &DBStatus{Status: a.status, Since: a.since.UTC(), Outages: a.outages, LastOutageSeconds: a.lastOutage.Seconds()}
	if a.status == dbDown {
		d.LastError = a.lastErr
		d.DownSeconds = now.Sub(a.since).Seconds()
	}
	if !a.checked.IsZero() {
		d.CheckedAgoSeconds = now.Sub(a.checked).Seconds()
	}
	return d
}
