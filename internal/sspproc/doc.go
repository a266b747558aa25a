// Package sspproc is test machinery for tests that run the SSP as it runs in production: a
// real `ssp serve` subprocess (built once per test binary, with -race when the test binary has
// it), its HTTP API and /metrics, and a checker of the edge rows it writes into SurrealDB's
// list_ref tables (SPEC §2) against the membership a test expects.
//
// It is imported only by tests (integration/e2e, integration/difftest); the ssp binary links
// none of it.
package sspproc
