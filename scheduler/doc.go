// Package scheduler is the SSP's side of the scheduler wire protocol (SPEC §6,
// scheduler-protocol.md): the link actor that registers this SSP with the Sp00ky scheduler and
// heartbeats while the SSP is ready, and the loader source that reads the bootstrap snapshot
// through the scheduler's query proxy. It does not import the actors package; the SSP's root
// actor spawns the link and reacts to what it reports.
//
// # The link (NewLink)
//
// A protoactor actor, a child of the root. Its state lives with its producer, so a restart by
// its supervisor keeps the registration and the counters.
//
//	parent → link   Register{Reason}           register again (fresh snapshot)
//	                StateReq{}                 answered *State (for /debug/scheduler, /info)
//	link → parent   *ProbeReq (RequestFuture)  the parent answers ProbeReply{Ready, Views}
//	                *Registered                snapshot_seq and table_hashes of a 2xx answer
//	                *RegisterFailed            a 4xx, or the wait budget spent
//	                *Resync                    a heartbeat got 404 or 409
//
// Registration (POST /ssp/register): on the first start and on every Register; each attempt
// times out after 10 s; transport errors and 5xx are retried after 1 s, doubling to 10 s,
// within SPKY_SSP_REGISTER_MAX_WAIT_SECS (a 503, the scheduler still cloning, restarts that
// budget); any other 4xx ends it. Attempts are timer messages, never a blocked mailbox.
//
// Heartbeat (POST /ssp/heartbeat): every HEARTBEAT_INTERVAL_MS while registered, no
// registration running, no resync pending, and the parent says ready; with the view count and
// this process's CPU (percent of one core since the last heartbeat) and RSS (MiB). 404 and 409
// (plain text or JSON `{"reason","clean"}`) stop the heartbeats and send Resync; the parent
// answers Register. Other answers are logged and counted, and heartbeats go on. No heartbeat is
// sent before the first registration succeeded.
//
// Metrics: ssp_scheduler_heartbeats_total{answer}, ssp_scheduler_registrations_total{result},
// ssp_scheduler_registration_duration_seconds.
//
// # Bootstrap reads (ProxySource)
//
// A loader.Source on POST /proxy/query: variables written into the text as SurrealQL
// literals, the plain-JSON answer classified exactly as /ingest records are. List the tables
// through it too (the replica has no `_00_version`, so the loader pages without versions); it
// refuses a query that reads `_00_version`, which the proxy would answer with `[]`.
package scheduler
