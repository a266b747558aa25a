package actors

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/scheduler"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/membership"
)

// Database is the SurrealDB the actors read and write, as small as they need it:
// membership.Querier for every statement (conn.Conn is the one retry layer behind it) and the
// server version for /info. *conn.Conn implements it.
type Database interface {
	membership.Querier
	Version(ctx context.Context) (string, error)
	// Ping is one round trip without retries: the dbwatch actor's probe.
	Ping(ctx context.Context) error
}

// Hooks let tests act inside the actors. Production leaves them nil.
type Hooks struct {
	// ViewDelta runs inside a view actor before it applies a step's delta; a panic there
	// crashes that actor (its supervisor restarts and rebuilds it).
	ViewDelta func(key string, d engine.Delta)
	// Step runs inside the coordinator before each ingest step; blocking it stalls the queue.
	Step func(c engine.Change)
	// Receive runs at the start of every message of every actor (kind as in /debug/actors,
	// name: the view key, the table, …); a panic there crashes that actor.
	Receive func(kind, name string, msg any)
}

func (h Hooks) receive(kind, name string, msg any) {
	if h.Receive != nil {
		h.Receive(kind, name, msg)
	}
}

// env is what every actor of one SSP reads and none writes: the configuration, the logger,
// the metrics (Prometheus collectors are safe for concurrent use by design), the test hooks
// and the database behind its interfaces. New builds it once; it holds no mutable state.
type env struct {
	cfg        config.Config
	log        *logrus.Logger
	m          *metrics
	hooks      Hooks
	db         Database
	store      *membership.Store
	source     loader.Source
	version    string
	writerOpts membership.WriterOptions
	// bootAttempts and bootDelay bound the bootstrap's whole attempts (SPEC §5).
	bootAttempts int
	bootDelay    time.Duration
	// pingEvery is how often the dbwatch actor probes the database.
	pingEvery time.Duration
	// link is the scheduler link's configuration in scheduler mode (SPEC §6), nil standalone.
	link *scheduler.LinkConfig
	// owner is this SSP's id in scheduler mode, "" standalone: the views it restores, sweeps,
	// reconciles and writes are those whose `_00_query` row names it (SPEC §6.7).
	owner string
	// jobTables are the configured job tables by table name (SPEC §8).
	jobTables map[string]config.JobTable
}

// newEdgeWriter returns the membership.Writer of one list_ref table (owned by its writer
// actor).
func (e *env) newEdgeWriter(table string) *membership.Writer {
	o := e.writerOpts
	o.Log = e.log.WithField("table", table)
	o.Owner = e.owner
	if o.Parallel == 0 {
		o.Parallel = defaultWriterParallel
	}
	return membership.NewWriter(e.db, table, o)
}

// defaultWriterParallel is membership.WriterOptions.Parallel unless Deps.EdgeWriter sets it:
// a big flush of one table (the shared _00_list_ref above all) runs as two concurrent
// transactions, so its edges are not limited to one database thread.
const defaultWriterParallel = 2

// tableOf returns the list_ref table of a view owned by authID (SPEC §2.2).
func (e *env) tableOf(authID string) string {
	return membership.TableFor(e.cfg.RefMode, authID)
}

// userTableOf returns the per-user list_ref table and uid of a user record id (dedicated mode
// only); ok is false otherwise.
func (e *env) userTableOf(userID string) (table, uid string, ok bool) {
	if e.cfg.RefMode != membership.RefDedicated {
		return "", "", false
	}
	uid, ok = membership.UserID(userID)
	if !ok {
		return "", "", false
	}
	return membership.UserTable(uid), uid, true
}
