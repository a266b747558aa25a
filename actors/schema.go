package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/schema"
)

// Messages of the schema actor.
type (
	// schemaTick: time to read the tables' field types again.
	schemaTick struct{}
	// setSchemaReq gives the coordinator the schema hints of every base table (tables missing
	// from hints have none). A bootstrap's (epoch set) goes to the engine being loaded, before
	// its rows; a refresh's (epoch 0) goes to the running engine, and the rows whose spelled
	// values a changed hint resolves are stepped as ordinary changes. Answered with
	// schemaApplied.
	setSchemaReq struct {
		hints map[string]schema.Table
		epoch uint64
	}
	schemaApplied struct {
		tables []string // whose hint changed
		rows   int      // re-resolved rows
	}
)

// schemaActor re-reads the field types of the base tables (`INFO FOR TABLE … STRUCTURE`, see
// package schema) every Config.SchemaRefreshInterval while the SSP is ready and hands them to
// the coordinator. This periodic read (and the one of every bootstrap) is how the SSP learns
// of a `DEFINE FIELD` or `REMOVE FIELD`; package schema says what a change between two reads
// can leave behind. It reads SurrealDB directly in both modes (the scheduler's proxy serves
// rows, not table definitions).
type schemaActor struct {
	env  *env
	pids pids
	stop func()
	last time.Time // of the last read that succeeded
}

func newSchemaActor(e *env, p pids) *schemaActor { return &schemaActor{env: e, pids: p} }

// Receive implements actor.Actor.
func (a *schemaActor) Receive(ctx actor.Context) {
	a.env.hooks.receive(kindSchema, kindSchema, ctx.Message())
	switch ctx.Message().(type) {
	case *actor.Started:
		if iv := a.env.cfg.SchemaRefreshInterval; iv > 0 {
			a.stop = ticker(ctx.ActorSystem(), iv, ctx.Self(), &schemaTick{})
		}
	case *actor.Stopping, *actor.Restarting:
		if a.stop != nil {
			a.stop()
			a.stop = nil
		}
	case *schemaTick:
		a.refresh(ctx)
	case *describeReq:
		st := map[string]any{"interval_seconds": a.env.cfg.SchemaRefreshInterval.Seconds()}
		if !a.last.IsZero() {
			st["last_read"] = a.last.UTC().Format(time.RFC3339)
		}
		ctx.Respond(&actorState{state: st})
	}
}

func (a *schemaActor) refresh(ctx actor.Context) {
	st, err := requestFrom[*statusReply](context.Background(), ctx, a.pids.root, &statusReq{}, 5*time.Second)
	if err != nil || st.status != StatusReady {
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	hints, err := readSchemas(cctx, a.env)
	if err != nil {
		a.env.log.WithError(err).Warn("schema refresh: read the tables' field types")
		return
	}
	a.last = time.Now()
	res, err := requestFrom[*schemaApplied](cctx, ctx, a.pids.coordinator, &setSchemaReq{hints: hints}, queryTimeout)
	if err != nil {
		a.env.log.WithError(err).Warn("schema refresh: apply the field types")
		return
	}
	if len(res.tables) > 0 {
		a.env.log.WithFields(logrus.Fields{"tables": res.tables, "rows": res.rows}).Info("schema refresh: field types changed")
	}
}

// readSchemas reads the schema hints of every base table from SurrealDB itself.
func readSchemas(ctx context.Context, e *env) (map[string]schema.Table, error) {
	l := loader.New(loader.QuerierSource{Q: e.db})
	tables, err := l.Tables(ctx)
	if err != nil {
		return nil, err
	}
	return l.Schemas(ctx, tables)
}
