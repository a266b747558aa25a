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
package testscheduler
