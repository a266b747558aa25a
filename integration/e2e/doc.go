// Package e2e holds the production-shaped end-to-end tests of the SSP (issue 3, "Tests"): the
// `ssp` binary is built once per test run and started as a subprocess (`ssp serve`, configured
// through SPKY_* variables, SIGKILLable) against the dev SurrealDB of integration/devdb, started
// with its network capability on. The dev database gets the per-table events that Sp00ky's CLI
// installs (bump `_00_version`, send the plain row with `_00_rv` to the SSP's /ingest with
// `http::post` and the bearer secret), so a write into SurrealDB reaches the SSP the way it does
// in production; the tests then compare the edge rows in SurrealDB with the membership that
// SurrealDB's own answer to each view implies.
//
// Scheduler mode (sched_*_test.go) is tested as it runs in production: the test scheduler of
// integration/testscheduler runs in the test process, the database's events post every change
// to its /ingest, it fans them out to `ssp serve` processes started with SPKY_SCHEDULER_URL,
// and views are registered through it. Each test ends with the edge rows of all SSPs together
// equal to SurrealDB's answers, every view served by the SSP it is assigned to.
//
// The package has no non-test code besides this comment. Run it with
//
//	go test -race ./integration/e2e/
//
// When the test binary has the race detector, the `ssp` binary is built with it too.
//
// # SurrealDB 3 facts the tests rely on (@surrealdb/node 3.0.3)
//
//   - `http::post` inside an event is refused ("Access to network target … is not allowed")
//     unless the engine's capabilities allow network targets (devdb Options.AllowNet).
//   - A failing `http::post` in an event — connection refused, or any non-2xx answer such as the
//     SSP's 503 while it bootstraps — fails the statement and rolls the user's write back. With
//     the SSP down, writes to tables with Sp00ky's events fail.
//   - `http::post` sends objects as JSON with records and datetimes as strings; a NONE field of
//     the payload object becomes JSON null. The CLI's events send every declared field, so the
//     test schema always sets every field (an absent field would reach the SSP as NULL).
//   - Events run for record users too (sign-up creates the user row and its `_00_version` row).
package e2e
