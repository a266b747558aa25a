// Package actors will hold the SSP's actor system (issue 3): one actor per registered view, per
// per-user list_ref writer and for the scheduler link, supervised so a failed view is rebuilt
// from the base data while the rest of the SSP keeps serving (SPEC §4).
package actors
