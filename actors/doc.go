// Package actors is the SSP's actor system (SPEC §4) on github.com/asynkron/protoactor-go: it
// keeps every registered view materialized while changes are ingested, writes each view's
// membership into SurrealDB, bootstraps from the database, sweeps expired views and flushes
// view metrics, and runs the outbox jobs of the job tables. *Service is the facade the HTTP
// layer calls (API); it holds no state of the SSP and only sends messages.
//
// # The supervision tree
//
//	ssp (root)              lifecycle: status, bootstrap and reset jobs, shutdown      root.go
//	├── coordinator         the engine; steps strictly in order                        coordinator.go
//	├── views               supervisor + router of the view actors                     views.go
//	│   └── view ×N         one per registered view key                                view.go
//	├── writers             supervisor + router of the writer actors, by table         writers.go
//	│   └── writer ×M       one per list_ref table (_00_list_ref, _00_list_ref_user_*) writer.go
//	├── versions            the `_00_rv` waits (SPEC §2.4)                             versions.go
//	├── housekeeping        supervisor                                                 housekeeping.go
//	│   ├── queries         every write of `_00_query` rows                            queries.go
//	│   ├── ttl             the TTL sweep (SPEC §7)                                    ttl.go
//	│   ├── metrics         view metrics → `_00_query`                                 flusher.go
//	│   ├── schema          re-reads the tables' field types (package schema)         schema.go
//	│   └── dbwatch         probes SurrealDB every 2 s: /health's db, ssp_db_up         dbwatch.go
//	├── scheduler           scheduler mode only: the link (package scheduler)          ../scheduler
//	├── jobs                job tables only: supervisor + router of the job tables     jobs.go
//	│   └── job_table ×J    one per job table: its queue, runs, backoffs, sweep        jobtable.go, jobrun.go
//	└── job                 a bootstrap (SPEC §5, §6.5) or a /reset while one runs     bootstrap.go, reset.go
//
// # Scheduler mode
//
// With Deps.Scheduler the root spawns the scheduler link, which registers at once; the first
// bootstrap waits for its snapshot (Registered), reads it through the scheduler's query proxy
// and verifies it against the table hashes (a mismatch loads it again, a second registers
// again, a third fails). A heartbeat answered 404/409 (Resync) makes the root have the link
// register again while the SSP still serves, and the registration's answer starts an
// in-process re-bootstrap: a fresh engine is loaded while the current one keeps answering,
// then the views are re-materialized and the writers write the differences. A coordinator
// restart, or Rebootstrap, registers again first too. Views are owned (SPEC §6.7): the writers
// claim a view registered here, their transactions are fenced per view, and a view found
// registered on another SSP is dropped without its edges (viewMoved). GET /debug/actors shows the live tree: every supervisor lists its
// children (kind, name, pid, mailbox depth, restarts, last failure) and every actor
// describes its own state (debug.go).
//
// Every actor owns its state: nothing of it is touched by another goroutine, and there are no
// locks between actors. Actors talk only by messages, which are named types declared in the
// actor's own file; a request that needs an answer is a protoactor RequestFuture answered with
// ctx.Respond (or, when another actor finishes the work, sent to the requester it was handed).
// The only things several actors read are immutable (env: configuration, logger, metrics,
// test hooks, the database behind its interfaces). Actors whose work is waiting for I/O (a
// writer's transaction, the queries actor's row writes, a job) block their own mailbox and
// nobody else's; the coordinator, the views and the supervisors never wait for anyone.
//
// # The data path
//
//	http → Service.Ingest → coordinator → views → view → writers → writer → SurrealDB
//
// Service.Ingest takes a place in the inbox (the bounded mailbox of the ingest path:
// Config.IngestQueue places; none free within Config.IngestWait → ErrBusy, nothing applied)
// and asks the coordinator. The coordinator refuses it unless the root opened the gate
// (ready), parks it while the writers are more than Config.EdgeBacklog writes behind (refused
// with ErrBusy at its deadline, never applied), else applies it to the engine as one step,
// tells the versions actor about its `_00_rv`, hands the step's deltas to the views supervisor
// and answers. The views supervisor routes each delta to its view actor. A view actor applies
// its delta to its published membership, records the step in its metrics and sends an edge
// write to its table's writer (through the writers supervisor, which routes by table and
// starts writers on demand). Database writes follow in the background.
//
// What a 200 means: the engine has the change, and every affected view has it in its mailbox
// ahead of anything sent after the answer — a request to a view (GET /debug/view, a
// registration) goes through the coordinator and the views supervisor, or follows one of
// their answers, so it is queued behind the change. Every read after the 200 sees it.
//
// Step consistency: only the coordinator touches the engine, one message at a time, so step N
// is applied to the base rows and every view before step N+1 starts. View actors never read
// base data; they receive finished per-step deltas in step order (FIFO along one path). So no
// view's output for step N can reflect step N+1, although views run concurrently with later
// steps. Requests of one kind always travel the same path, so what a client reads after a 200
// (for instance /debug/view) is queued behind that step.
//
// Edge writes: a writer keeps, per view, a queue of writes in arrival order (the view's step
// order). A delta is written once its `_00_rv` wait and those of the view's earlier writes
// ended (the versions actor says so); other views are not held back. Everything ready goes to
// the table's membership.Writer in one flush (one transaction per flush; deterministic edge
// ids make retries and replays idempotent). A failed flush stays pending there and goes out
// again with the next flush, after a backoff (100 ms doubling to 5 s): nothing is dropped. The
// database connection is the one retry layer (surreal/conn); nothing here loops on a query.
// Table operations (removing a user's table, reconciling) run once everything queued before
// them is written. A view key registered again right after it was retired starts its new
// actor only when the old one has sent its last writes.
//
// # Job tables (SPEC §8)
//
//	http → Service.Ingest → (accepted) → jobs → job_table → run goroutine → SurrealDB, backend
//
// After the coordinator accepted a change, Service.Ingest offers a job to the jobs supervisor
// when the table is a job table, the change is a CREATE, UPDATE or MERGE whose record says
// status "pending", and the SSP runs standalone or job_assignee is its id (a replay from the
// scheduler carries none). The supervisor routes it to the table's actor, which queues it
// (Config.JobQueue places; a job known there already is a duplicate; a full queue drops the
// offer — the row stays pending for the sweep) and starts at most the table's concurrency of
// runs. A run is a goroutine reporting back as messages: it claims the row (package
// surreal/outbox: one conditional UPDATE makes exactly one SSP the runner of an attempt; it
// polls while the row is not visible yet, since Sp00ky's events post to /ingest from inside
// the writer's transaction), checks its fields (a row it cannot read fails, the reason on
// it), sends the request, and writes the outcome fenced on its claim — success, a retry
// (pending, run_after = now + backoff; the actor offers it again when the backoff ends),
// failed. An outcome write SurrealDB refuses is re-sent for a minute (it is fenced, so that is
// safe; losing it would send the request again). The actor keeps the cancel function of each
// run: /job/kill cancels the request, a shutdown cancels what is still running after half its
// time (the job is released: pending again). Every JobSweepInterval, and at once when a
// bootstrap ends, the actor sweeps its table for rows a claim would take (pending — in
// scheduler mode only once unchanged for JobPendingGrace, so another SSP's assigned job is not
// snatched first —, processing with an expired lease, or processing under this SSP's id and
// not running here: left by an earlier process) and offers them.
//
// # Failures and restarts
//
// Every supervisor counts a child's failure (ssp_actor_restarts_total{kind}, and the child's
// restarts and last error in /debug/actors and /debug/view), logs it and restarts the child
// after a delay that grows with its failures of the last minute (10 ms each), so an actor
// that fails on every message does not spin. The message an actor failed on is lost
// (protoactor drops it); each level makes good what it carried:
//   - view: the new incarnation asks the coordinator for its whole registration (membership,
//     table, owner data; the answer comes behind every step already routed to it) and hands
//     it to its writer as the view's whole membership; the writer writes exactly the
//     difference. A view that fails on its retirement is told again.
//   - writer: restarts with its queue (its state outlives the incarnation) and asks again for
//     the `_00_rv` waits it was told about. An edge write it failed on is made good by the
//     table's views writing their membership again; a table removal or a forget/drain round
//     is repeated; a reconcile or table definition is answered with the failure.
//   - coordinator: answers the request it failed on with the failure, restarts with an empty
//     engine and a new epoch (a bootstrap attempt that began before fails instead of going on
//     over the empty engine) and refuses work; the root re-bootstraps in process (views kept,
//     edges reconciled).
//   - queries (answers the registration it failed on), ttl, metrics, schema, dbwatch, versions (its waits end:
//     the edges are written without them): restart.
//   - job: not restarted (it would start over); its failure ends it.
//   - job_table: restarts with its state (queue, runs, backoffs outlive the incarnation); an
//     operator action it failed on is answered with the failure, a run's report is handed to
//     the new incarnation once (a run frees its place first thing), and an offer or sweep
//     answer it lost is found again by the next sweep.
//
// Supervisors themselves never fail (a panic is logged), since a restarted supervisor would
// stop its children.
//
// A user DELETE removes the user's table behind the edge writes queued before it; writes of
// that step still on their way (they travel through the view actors, which the removal does
// not wait for) reach a tombstone in the writers supervisor and are discarded, until the table
// is defined again (the user signs up again, or a view of theirs is registered).
//
// # Bootstrap, reset, shutdown
//
// The root runs administrative jobs one at a time in a child actor: the first bootstrap, an
// in-process re-bootstrap (Rebootstrap; also after a coordinator restart), a /reset. While a
// bootstrap runs the status is bootstrapping and the coordinator refuses work. Shutdown first
// drains the job tables (DrainJobs: no more claims, running requests end or are cancelled and
// released), then refuses new work, ends a running job, lets the coordinator finish what it accepted, stops
// the TTL sweeps, lets every view actor forward its last writes, drains every writer
// (including pending `_00_rv` waits), flushes the view metrics, then stops the tree.
package actors
