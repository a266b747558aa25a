// Package testscheduler is a test double of the Sp00ky scheduler (scheduler-protocol.md beside
// SPEC.md): a Go service that speaks the real scheduler's HTTP protocol to SSPs, so that the
// SSP's scheduler mode can be tested — and run by `ssp dev --ssps N` — without the upstream Rust
// service. It does not import `testing`.
//
// Start clones the source SurrealDB database (every table not starting with `_00_`, plus
// `_00_query`) into a replica database on the same server (namespace Options.NS, database
// `<db>_replica_<port>` unless Options.ReplicaDB names one), then serves:
//
//   - POST /ingest: seq = ++counter, appended to the log and to the global buffer, fanned out to
//     every ready SSP one after another (with `job_assignee`), buffered per SSP that is not ready.
//   - POST /ssp/register, /ssp/heartbeat: the SSP pool, health polling, replay (global buffer
//     events after the SSP's snapshot, then its own buffer: events that arrived during the
//     bootstrap reach it twice), buffer overflow and resync flags (409), heartbeat timeout.
//   - POST /proxy/query (the replica at the frozen snapshot, as plain JSON), /proxy/signin,
//     /proxy/use.
//   - POST /view/register, /view/unregister: assignment to the ready SSP with the fewest views;
//     an id already assigned stays on its SSP (the upstream defect is fixed unless switched on).
//   - GET /health, /info, /metrics.
//
// The replica only moves forward through the periodic updater (Options.UpdateInterval, 300 s by
// default, as upstream) or ApplyNow, and never while an SSP bootstraps (frozen). Methods of
// Scheduler inspect its state (Log, SSPs, Assignments, Requests, Heartbeats, …) and switch test
// behaviours (ForceHeartbeat, LieTableHash, FailRegistrations, HoldCloning via Options, Defects,
// Reassign, …); all are safe for concurrent use.
//
// # Choices where the protocol leaves the real scheduler's behaviour open
//
//   - Ingests are serialised (seq assignment and fan-out), so every SSP receives events in seq
//     order; an SSP must not call /ingest synchronously from its own /ingest handler.
//   - Replayed and drained events are sent as fanned out: with the `job_assignee` picked when
//     the event arrived (none if no SSP was ready then).
//   - Ties of the fewest-views strategy go to the smallest ssp_id. Views are keyed by view key
//     (SPEC §1.2), so `v1` and `_00_query:v1` are one view.
//   - A flagged SSP gets 409 on every heartbeat until it registers again; overflow and hash
//     mismatch 409s carry `"clean": false`.
//   - Only ready SSPs are subject to the heartbeat timeout (a bootstrap has its own timeout);
//     an aborted bootstrap (failed, timed out) drops the SSP and its assignments.
//   - /proxy/query wraps every non-array result in a one-element array (NONE and NULL: `[]`),
//     and answers `[]` to any statement that fails because a table does not exist — also a
//     table read inside a subquery, as upstream does.
//   - Rows are stored typed in the replica (the ingest JSON classified as the SSP classifies it),
//     so the replica answers like SurrealDB and its hashes equal the SSP's.
package testscheduler
