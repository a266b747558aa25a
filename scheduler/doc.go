// Package scheduler will hold the SSP's side of scheduler mode (SPEC §6): registration with the
// scheduler, bootstrap through its query proxy, table-hash verification and the heartbeat loop.
package scheduler
