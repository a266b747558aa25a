// Package actors is the SSP's actor system (SPEC §4) on github.com/asynkron/protoactor-go: it
// keeps every registered view materialized while changes are ingested, writes each view's
// membership into SurrealDB, bootstraps from the database, sweeps expired views and flushes view
// metrics. *Service implements API, which the HTTP layer calls.
//
// # Topology
//
//	coordinator                  owns the engine; supervisor (OneForOne) of:
//	├── view actor ×N            one per registered view key
//	└── list_ref writer ×M       one per list_ref table (_00_list_ref, _00_list_ref_user_<uid>)
//	ttl                          TTL sweep every TTL_CLEANUP_INTERVAL_SECS while ready
//	metrics                      dirty views' _00_query metrics every SPKY_METRICS_FLUSH_INTERVAL_MS
//
// # Message flow of an ingest
//
// Service.Ingest takes a slot of the bounded ingest queue (Config.IngestQueue slots; when none
// frees up within Config.IngestWait it returns ErrBusy and nothing was accepted), then sends the
// change to the coordinator. The coordinator applies it to the engine as one step, starts the
// change's `_00_rv` wait (SPEC §2.4) when it has one, and sends each affected view's delta to that
// view's actor. A view actor applies the delta to its published membership, records the step in
// its metrics and sends an edge item to the writer of its table, then acknowledges. Ingest
// returns once every affected view actor acknowledged (the slot is freed then): all affected
// views have the change in memory, and the database writes follow in the background.
//
// # Step consistency
//
// Only the coordinator touches the engine, one message at a time: step N is applied to the base
// rows and to every view's operator state, and its deltas are sent, before step N+1 starts. View
// actors never read base data; they receive finished per-step deltas in step order over their
// mailbox (FIFO from the one sender). So no view's output for step N can reflect step N+1, even
// though view actors run concurrently with later steps.
//
// # Edge writes and their order
//
// A writer keeps, per view, a FIFO of edge items (and whole-view removals) in arrival order,
// which is the view's step order. An item is written only when its `_00_rv` wait and those of
// the view's earlier items are done; items of other views are not held back by it. Everything
// ready is handed to the table's membership.Writer in one flush (one transaction per flush;
// deterministic edge ids make retries and replays idempotent). A flush that fails (the
// connection already retried what was transient) stays pending in the membership.Writer and is
// written by the writer's next flush, which a backoff timer schedules (100 ms doubling to 5 s);
// failures are counted in ssp_edge_write_failures_total; nothing is dropped. Table-level operations (dropping a user's
// table, reconciling) are barriers: they run once everything queued before them is written.
// When a view key is re-registered right after its previous incarnation was retired, the new
// actor writes only after the old one queued its edge removal.
//
// # Failures and restarts
//
// A view actor that panics is restarted by the coordinator (OneForOne); the restart is counted
// in ssp_actor_restarts_total{kind} and in the view's /debug/view actor state (restarts,
// last_error). Its published membership lives outside the actor instance, so the new instance
// asks the coordinator for the engine's current membership (the reply queues behind every step
// already sent to it) and writes exactly the difference. The step that crashed it still
// completes for the ingest caller. Writers keep their queues across restarts the same way. The
// coordinator itself never panics out of a message (engine panics become errors).
//
// # Bootstrap, shutdown
//
// Start begins the standalone bootstrap (SPEC §5) in the background: tables are loaded page by
// page, `_00_query` rows are re-registered without writing edges, and then every list_ref table
// is reconciled with the computed membership; transient failures retry the whole attempt
// (Deps.BootstrapAttempts, Deps.BootstrapRetryDelay) before the status becomes failed.
// Shutdown refuses new work (ErrShuttingDown), waits for in-flight steps, lets view actors
// forward their last items, drains every writer (including pending `_00_rv` waits), flushes the
// view metrics, then stops the actors.
package actors
