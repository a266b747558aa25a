// Package http is the SSP's HTTP service (SPEC §1): the routes /ingest, /view/register,
// /view/unregister, /reset, /log, /debug/view/:view_id, /debug/deps (bearer auth) and /health,
// /version, /info, /metrics (public, with `Access-Control-Allow-Origin: *`), on gin.
//
// Every error answer is JSON `{"code","message"}`:
//
//	401 UNAUTHORIZED            missing/empty/non-Bearer Authorization header, or a wrong token
//	503 SSP_NOT_READY           gated routes (/ingest, /view/*) while bootstrapping or failed
//	503 SSP_BUSY                the ingest queue stayed full (with `Retry-After: 1`)
//	413 PAYLOAD_TOO_LARGE       body over Options.BodyLimit (default 8 MiB)
//	415 UNSUPPORTED_MEDIA_TYPE  a JSON route got a Content-Type other than application/json
//	400 BAD_REQUEST             malformed body or field, unsupported SurrealQL (message names it)
//	404 NOT_FOUND               unknown route or unknown view in /debug/view
//	405 METHOD_NOT_ALLOWED      known path, wrong method (with an `Allow` header)
//	500 INTERNAL                a handler failed or panicked (logged with its stack)
//
// Order of checks: a body announced larger than the limit is refused (413) before anything
// else, on every route, and no route reads more than the limit (/reset, which takes no body,
// reads and drops it first, so that an oversized chunked body is refused before the reset);
// then auth, then the Ready gate, then the content type, then the body itself. A request
// without a Content-Type header is read as JSON on every JSON route, /ingest included: the
// reference SSP's /ingest reads the raw body whatever its type, and its callers (Sp00ky's
// table events through SurrealDB's http::post, the scheduler's fan-out) must not be refused
// for a header; a client that sends no type means no other type. Any other type (curl's
// default form type, text/plain, …) is refused with 415.
//
// Successful POSTs other than /view/register answer 200 with an empty body, as the reference
// SSP does; its callers (SurrealDB events, the scheduler) look only at the status.
package http
