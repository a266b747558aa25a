// Package devdb runs a real SurrealDB 3 for development and tests, without a
// surreal binary or Docker.
//
// The database is the embedded engine of the `@surrealdb/node` npm package
// (pinned to 3.0.3, which contains SurrealDB 3.0.2), wrapped by server.mjs in
// this folder into a server that speaks SurrealDB's WebSocket RPC protocol
// (CBOR). The Go SDK github.com/surrealdb/surrealdb.go connects to it
// unchanged. Storage is in memory, so every Start gets an empty database.
// Node.js 20.6+ and npm must be installed; Start runs `npm ci` here the first
// time (about 5 s) and then takes about 0.3 s.
//
// # Use in tests
//
//	srv, err := devdb.Start(ctx, devdb.Options{})
//	if err != nil {
//		t.Fatal(err) // explains what to install if node/npm are missing
//	}
//	defer srv.Close()
//	db, err := srv.Connect(ctx, "app", "test") // signed in as root, ns/db selected
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer db.Close(ctx)
//
//	res, err := surrealdb.Query[any](ctx, db,
//		`SELECT * FROM thread WHERE author = $who`,
//		map[string]any{"who": models.NewRecordID("author", "alice")})
//	// err joins the errors of failed statements; res is still filled in.
//	// (*res)[i].Status is "OK" or "ERR"; (*res)[i].Result is statement i's value.
//
// Without devdb, `npm start` in this folder serves the same database on
// ws://127.0.0.1:8000 (user root, password root) for manual work.
//
// # Go values returned by surrealdb.Query[any] (SDK v1.3.0)
//
// Observed against this server; the generic decoding is the SDK's:
//
//   - a SELECT statement's result: []any whose rows are map[string]any
//   - object: map[string]any; array: []any; string: string; bool: bool
//   - record id: models.RecordID{Table string, ID any}; ID is string for
//     person:alice and person:⟨a b⟩, uint64 for person:1, int64 for person:-2,
//     []any for person:['x', 1], map[string]any for person:{k: 'v'}
//   - datetime: models.CustomDateTime (embeds time.Time, in UTC)
//   - duration: models.CustomDuration; decimal (1.5dec): models.DecimalString;
//     uuid: models.UUID
//   - NULL: nil. NONE: nil as a value (RETURN NONE, or inside an object
//     literal); a record field set to NONE is absent from the row map
//   - integers: uint64 when >= 0, int64 when negative
//   - floats: float32 when the value fits a float32 exactly (1.5, 10.0),
//     float64 otherwise (0.1, math::pi), so convert with a type switch
//
// As query parameters, models.RecordID and models.CustomDateTime work by
// value or by pointer. Typed decoding (surrealdb.Query[[]MyStruct],
// surrealdb.Select[MyStruct]) uses `json` struct tags.
//
// # SurrealDB 3 behaviour worth knowing
//
//   - SELECT (and LIVE SELECT) on a table that was never defined or written is
//     an error ("The table 'x' does not exist"), not an empty result.
//   - ORDER BY fields must be part of the selection.
//   - Integer division truncates: 7 / 2 = 3; 1 / 0 is NaN.
//   - Concurrent first writes to a table that does not exist yet may fail
//     with a retryable "Transaction conflict"; DEFINE TABLE it first.
//   - KILL sends the client a final notification with Action "KILLED" before
//     the KILL reply. The SDK's Kill closes the notification channel when the
//     reply arrives; read until "KILLED" (or stop reading) before closing it.
//
// # Differences from `surreal start`
//
// The embedded engine treats a session that has not signed in as fully
// privileged. devdb refuses such sessions everything but signin, signup,
// authenticate, use, let/unset, info, version, ping and session management,
// as a real server without guest access does (Options.AllowAnonymous turns
// that off). Each WebSocket connection gets its own engine session, so `use`,
// `let` and sign-in never leak between connections; sessions created with
// DB.Attach and transactions (DB.Begin) work. Live queries are killed when
// their connection closes. Only the "cbor" subprotocol is spoken.
package devdb
