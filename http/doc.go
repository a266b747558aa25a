// Package http will hold the SSP's HTTP service (issue 3): the routes of SPEC §1 (/ingest,
// /view/register, /view/unregister, /reset, /log, /debug/*, /health, /version, /info, /metrics),
// bearer auth, readiness gating and JSON errors.
package http
