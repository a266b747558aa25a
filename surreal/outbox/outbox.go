// Package outbox reads and writes the rows of job tables (SPEC §8): the claim that makes one SSP
// the only runner of an attempt, the writes of its outcome (fenced on that claim), the sweep for
// claimable rows, and the operator's retry and kill. Every function is one query through a
// membership.Querier (which retries what is transient, re-sending the whole query: each query
// here is safe to re-send, a re-sent claim or fenced write simply finds its condition false).
// Record ids are always bound as variables.
//
// # The row
//
// Fields the application writes and the runner reads: status ("pending" starts a job), path,
// payload, retries (0), max_retries (3), retry_strategy ("linear" | "exponential"), timeout
// (seconds or a duration; honoured only when the table's timeout is overridable), errors.
//
// Fields the runner writes: status ("processing", "success", "failed", or "pending" again for a
// retry), assignee (the SSP id of the current or last claim), attempt (1, 2, … one per claim),
// lease_until (while processing), run_after (while a retry backs off), started_at (first claim),
// updated_at (every write), finished_at (success or failed), retries, errors (appended
// {code, reason}), result and result_truncated (on success).
//
// # Exactly one runner
//
// Claim is one conditional UPDATE: it turns a row that is pending (and not backing off), or
// processing with an expired lease, or processing under this SSP's own id (left by an earlier
// process of this SSP; the caller knows it runs nothing of the row), into processing with this
// SSP's id, the next attempt number and a lease. SurrealDB runs the statement's read and write
// in one transaction; of two concurrent claims one commits and the other conflicts, is re-sent
// and finds the condition false. Every later write (Finish, ExtendLease) is conditioned on the
// claim still standing — status processing, this SSP's id and this attempt — so a runner whose
// lease expired and whose job was claimed again cannot overwrite the new runner's row.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// Status values of a job row.
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusSuccess    = "success"
	StatusFailed     = "failed"
)

// Strategy is a job's retry_strategy.
type Strategy string

// The retry strategies (SPEC §8).
const (
	Linear      Strategy = "linear"
	Exponential Strategy = "exponential"
)

// Defaults of the row's fields (SPEC §8).
const (
	DefaultMaxRetries = 3
	// MaxTimeout bounds a row's own timeout.
	MaxTimeout = 24 * time.Hour
)

// Job is a claimed job row, its fields read and checked by Parse.
type Job struct {
	ID         value.Value // the record id
	Path       string
	Payload    value.Value
	Retries    int64
	MaxRetries int64
	Strategy   Strategy
	// Timeout is the row's own timeout (0 when absent, or when not overridable).
	Timeout  time.Duration
	Attempt  int64
	Assignee string
	// Errors is how many errors the row holds already.
	Errors int
}

// InvalidError is a row whose fields cannot make a job: each problem names the field, what it
// must be and what it is.
type InvalidError struct{ Problems []string }

func (e *InvalidError) Error() string {
	return "invalid job row: " + strings.Join(e.Problems, "; ")
}

// Parse reads a claimed row. A field of the wrong type or value is a problem of the returned
// *InvalidError; the Job then still carries what could be read (ID, Attempt, Retries when valid).
// The row's timeout is read only when overridable.
func Parse(row value.Value, overridable bool) (Job, error) {
	var problems []string
	bad := func(field, want string, v value.Value) {
		problems = append(problems, fmt.Sprintf("field %q must be %s, got %s", field, want, describe(v)))
	}
	j := Job{ID: row.Get("id"), Payload: row.Get("payload"), MaxRetries: DefaultMaxRetries, Strategy: Linear}
	if j.ID.Kind() != value.KindRecord {
		bad("id", "a record id", j.ID)
	}
	if a := row.Get("attempt"); a.Kind() == value.KindInt {
		j.Attempt = a.AsInt()
	} else {
		bad("attempt", "an integer", a)
	}
	if a := row.Get("assignee"); a.Kind() == value.KindString {
		j.Assignee = a.AsString()
	}
	switch p := row.Get("path"); {
	case p.IsNullish():
	case p.Kind() == value.KindString:
		j.Path = p.AsString()
	default:
		bad("path", "a string", p)
	}
	count := func(field string, def int64, limit int64) int64 {
		v := row.Get(field)
		if v.IsNullish() {
			return def
		}
		n, ok := wholeNumber(v)
		if !ok || n < 0 || n > limit {
			bad(field, fmt.Sprintf("a whole number from 0 to %d", limit), v)
			return def
		}
		return n
	}
	j.Retries = count("retries", 0, math.MaxInt32)
	j.MaxRetries = count("max_retries", DefaultMaxRetries, 1000)
	switch s := row.Get("retry_strategy"); {
	case s.IsNullish():
	case s.Kind() == value.KindString && strings.EqualFold(s.AsString(), string(Linear)):
	case s.Kind() == value.KindString && strings.EqualFold(s.AsString(), string(Exponential)):
		j.Strategy = Exponential
	default:
		bad("retry_strategy", `"linear" or "exponential"`, s)
	}
	if overridable {
		switch t := row.Get("timeout"); {
		case t.IsNullish():
		case t.Kind() == value.KindDuration && t.AsDuration() > 0 && t.AsDuration() <= MaxTimeout:
			j.Timeout = t.AsDuration()
		case t.IsNumber() && t.AsFloat() > 0 && t.AsFloat() <= MaxTimeout.Seconds():
			j.Timeout = time.Duration(t.AsFloat() * float64(time.Second))
		default:
			bad("timeout", "a positive number of seconds or a duration, at most 24h", t)
		}
	}
	switch e := row.Get("errors"); {
	case e.IsNullish():
	case e.Kind() == value.KindArray:
		j.Errors = e.Len()
	default:
		bad("errors", "an array", e)
	}
	if len(problems) > 0 {
		return j, &InvalidError{Problems: problems}
	}
	return j, nil
}

// wholeNumber reads an int, or a float without fraction.
func wholeNumber(v value.Value) (int64, bool) {
	switch v.Kind() {
	case value.KindInt:
		return v.AsInt(), true
	case value.KindFloat:
		f := v.AsFloat()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
	}
	return 0, false
}

// describe names a value's kind and, for short scalars, the value.
func describe(v value.Value) string {
	switch v.Kind() {
	case value.KindNone, value.KindNull, value.KindArray, value.KindObject:
		return v.Kind().String()
	}
	s := v.SurQL()
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return v.Kind().String() + " " + s
}

// Backoff is the wait before the next attempt of a job that has failed retries times (retries
// already counting the failure): linear 200 ms × (retries+1), exponential 200 ms × 2^retries
// (SPEC §8), at most maxBackoff, times a jitter factor from 0.8 to 1.2 (rnd in [0, 1); nil
// draws one).
func Backoff(s Strategy, retries int64, rnd func() float64) time.Duration {
	const unit = 200 * time.Millisecond
	var d time.Duration
	switch {
	case s == Exponential && retries >= 20:
		d = maxBackoff
	case s == Exponential:
		d = unit << retries
	default:
		d = unit * time.Duration(retries+1)
	}
	d = min(d, maxBackoff)
	if rnd == nil {
		rnd = rand.Float64
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rnd()))
}

// maxBackoff caps Backoff.
const maxBackoff = 10 * time.Minute

// Seen is what a claim or operator action found instead: the row's status, assignee and
// attempt. Exists is false when the row does not exist (or is not visible yet).
type Seen struct {
	Exists   bool
	Status   string
	Assignee string
	Attempt  int64
	// RunAfter is when a backing-off pending row may be claimed (zero when it may now).
	RunAfter time.Time
}

func seenOf(v value.Value) Seen {
	if v.Kind() != value.KindObject {
		return Seen{}
	}
	s := Seen{Exists: true, Status: v.Get("status").AsString(), Assignee: v.Get("assignee").AsString()}
	if a := v.Get("attempt"); a.Kind() == value.KindInt {
		s.Attempt = a.AsInt()
	}
	if r := v.Get("run_after"); r.Kind() == value.KindDatetime {
		s.RunAfter = r.AsTime()
	}
	return s
}

// seenSelect reads what seenOf needs.
const seenSelect = `(SELECT status, assignee, attempt, run_after FROM ONLY $id)`

// errorsAppend appends $error to the row's errors; a non-array value found there is kept in
// front of it as {code: 0, reason, value} (it is not lost).
const errorsAppend = `errors = IF type::is_array(errors) THEN array::append(errors, $error) ELSE ` +
	`array::append(IF errors = NONE OR errors = NULL THEN [] ELSE ` +
	`[{ code: 0, reason: 'the earlier value of errors, which was not an array', value: errors }] END, $error) END`

// claimable is the condition under which Claim takes a row.
const claimable = `(status = 'pending' AND NOT (run_after > $now)) OR ` +
	`(status = 'processing' AND (NOT (lease_until >= $now) OR assignee = $ssp))`

// Claim tries to make this SSP (ssp) the runner of the next attempt of row id: pending (not
// backing off), or processing with an expired lease or under ssp itself (the caller must run
// nothing of the row), becomes processing with assignee ssp, attempt + 1 and lease_until = now +
// lease. It returns the claimed row (ok), or what it found instead.
func Claim(ctx context.Context, q membership.Querier, id value.Value, ssp string, lease time.Duration) (row value.Value, seen Seen, ok bool, err error) {
	query := `LET $now = time::now();
LET $claimed = (UPDATE $id SET status = 'processing', assignee = $ssp,
	attempt = (IF type::is_int(attempt) THEN attempt ELSE 0 END) + 1,
	lease_until = $now + $lease, run_after = NONE,
	started_at = IF type::is_datetime(started_at) THEN started_at ELSE $now END, updated_at = $now
	WHERE ` + claimable + ` RETURN AFTER);
RETURN IF array::len($claimed) > 0 THEN { claimed: $claimed[0] } ELSE { seen: ` + seenSelect + ` } END;`
	v, err := last(ctx, q, query, map[string]any{"id": id, "ssp": ssp, "lease": value.Duration(lease)})
	if err != nil {
		return value.None(), Seen{}, false, fmt.Errorf("claim job %s: %w", value.RecordString(id), err)
	}
	if c := v.Get("claimed"); c.Kind() == value.KindObject {
		return c, Seen{}, true, nil
	}
	return value.None(), seenOf(v.Get("seen")), false, nil
}

// ExtendLease moves the lease of a claimed attempt to now + lease; false when the claim is
// lost.
func ExtendLease(ctx context.Context, q membership.Querier, id value.Value, ssp string, attempt int64, lease time.Duration) (bool, error) {
	v, err := last(ctx, q, `UPDATE $id SET lease_until = time::now() + $lease WHERE `+fence+` RETURN VALUE id;`,
		map[string]any{"id": id, "ssp": ssp, "attempt": attempt, "lease": value.Duration(lease)})
	if err != nil {
		return false, fmt.Errorf("extend the lease of job %s: %w", value.RecordString(id), err)
	}
	return v.Len() > 0, nil
}

// fence is the condition of every write of a claimed attempt: the claim still stands.
const fence = `status = 'processing' AND assignee = $ssp AND attempt = $attempt`

// ErrorEntry is one element of a row's errors.
type ErrorEntry struct {
	// Code is the HTTP status, or 0 for a network error, a timeout, a cancellation or an
	// invalid row.
	Code int
	// Reason is the response body (truncated) or the error.
	Reason string
}

func (e ErrorEntry) bind() map[string]any {
	return map[string]any{"code": int64(e.Code), "reason": e.Reason}
}

// Outcome is the write that ends a claimed attempt.
type Outcome struct {
	// Status is the row's new status: success, failed, or pending (a retry, or a release).
	Status string
	// Retries, when set, is the row's new retries.
	Retries *int64
	// Error, when set, is appended to errors.
	Error *ErrorEntry
	// Result is the response (plain Go JSON values: map[string]any, []any, string, int64,
	// float64, bool, nil) written on success; Truncated flags a result cut to a string.
	Result    any
	Truncated bool
	// Backoff, on a retry, sets run_after = now + Backoff: no claim takes the row before.
	Backoff time.Duration
}

// Finish writes the outcome of attempt (fenced on the claim ssp/attempt); false when the claim
// was lost (the lease expired and the job was claimed again, or an operator changed the row).
func Finish(ctx context.Context, q membership.Querier, id value.Value, ssp string, attempt int64, o Outcome) (bool, error) {
	set := []string{"status = $status", "lease_until = NONE", "updated_at = time::now()"}
	vars := map[string]any{"id": id, "ssp": ssp, "attempt": attempt, "status": o.Status}
	if o.Retries != nil {
		set = append(set, "retries = $retries")
		vars["retries"] = *o.Retries
	}
	if o.Error != nil {
		set = append(set, errorsAppend)
		vars["error"] = o.Error.bind()
	}
	switch o.Status {
	case StatusSuccess:
		set = append(set, "result = $result", "result_truncated = IF $truncated THEN true ELSE NONE END", "finished_at = time::now()")
		vars["result"], vars["truncated"] = o.Result, o.Truncated
	case StatusFailed:
		set = append(set, "finished_at = time::now()")
	case StatusPending:
		set = append(set, "run_after = IF $backoff > 0s THEN time::now() + $backoff ELSE NONE END")
		vars["backoff"] = value.Duration(o.Backoff)
	default:
		return false, fmt.Errorf("finish job %s: status %q is not an outcome", value.RecordString(id), o.Status)
	}
	v, err := last(ctx, q, `UPDATE $id SET `+strings.Join(set, ", ")+` WHERE `+fence+` RETURN VALUE id;`, vars)
	if err != nil {
		return false, fmt.Errorf("record the outcome of job %s: %w", value.RecordString(id), err)
	}
	return v.Len() > 0, nil
}

// Retry is the operator's retry: a failed row becomes pending again with retries 0 (its errors
// are kept). It returns whether it did, and what it found otherwise.
func Retry(ctx context.Context, q membership.Querier, id value.Value) (bool, Seen, error) {
	query := `LET $done = (UPDATE $id SET status = 'pending', retries = 0, run_after = NONE, lease_until = NONE,
	finished_at = NONE, updated_at = time::now() WHERE status = 'failed' RETURN VALUE id);
RETURN IF array::len($done) > 0 THEN { done: true } ELSE { seen: ` + seenSelect + ` } END;`
	v, err := last(ctx, q, query, map[string]any{"id": id})
	if err != nil {
		return false, Seen{}, fmt.Errorf("retry job %s: %w", value.RecordString(id), err)
	}
	if v.Get("done").AsBool() {
		return true, Seen{}, nil
	}
	return false, seenOf(v.Get("seen")), nil
}

// Kill is the operator's kill of a row no request of this process runs: pending, or processing
// under this SSP's id (left by an earlier process), becomes failed with {code: 0, reason} in
// errors. It returns whether it did, and what it found otherwise.
func Kill(ctx context.Context, q membership.Querier, id value.Value, ssp, reason string) (bool, Seen, error) {
	query := `LET $done = (UPDATE $id SET status = 'failed', ` + errorsAppend + `, lease_until = NONE, run_after = NONE,
	finished_at = time::now(), updated_at = time::now()
	WHERE status = 'pending' OR (status = 'processing' AND assignee = $ssp) RETURN VALUE id);
RETURN IF array::len($done) > 0 THEN { done: true } ELSE { seen: ` + seenSelect + ` } END;`
	v, err := last(ctx, q, query, map[string]any{"id": id, "ssp": ssp, "error": ErrorEntry{Reason: reason}.bind()})
	if err != nil {
		return false, Seen{}, fmt.Errorf("kill job %s: %w", value.RecordString(id), err)
	}
	if v.Get("done").AsBool() {
		return true, Seen{}, nil
	}
	return false, seenOf(v.Get("seen")), nil
}

// Sweep lists up to limit rows of table a claim would take now, oldest change first: pending
// (not backing off) and unchanged for at least grace, or processing with an expired lease or
// under this SSP's id. A table that does not exist yet has none.
func Sweep(ctx context.Context, q membership.Querier, table, ssp string, grace time.Duration, limit int) ([]value.Value, error) {
	if limit <= 0 {
		return nil, nil
	}
	query := `LET $now = time::now();
SELECT id, updated_at FROM type::table($table)
	WHERE (status = 'pending' AND NOT (run_after > $now) AND NOT (updated_at > $now - $grace))
	OR (status = 'processing' AND (NOT (lease_until >= $now) OR assignee = $ssp))
	ORDER BY updated_at LIMIT $limit;`
	v, err := last(ctx, q, query, map[string]any{"table": table, "ssp": ssp, "grace": value.Duration(grace), "limit": int64(limit)})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil, nil
		}
		return nil, fmt.Errorf("sweep job table %s: %w", table, err)
	}
	ids := make([]value.Value, 0, v.Len())
	for _, r := range v.Elems() {
		if id := r.Get("id"); id.Kind() == value.KindRecord {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Row reads one row (NONE when it does not exist), for tests and tools.
func Row(ctx context.Context, q membership.Querier, id value.Value) (value.Value, error) {
	return last(ctx, q, `SELECT * FROM ONLY $id;`, map[string]any{"id": id})
}

// ErrStatement is wrapped by the errors of a statement SurrealDB executed and reported as
// failed (as opposed to a connection failure).
var ErrStatement = errors.New("statement failed")

// last runs a query and returns its last statement's value; a failed statement is an error.
func last(ctx context.Context, q membership.Querier, query string, vars map[string]any) (value.Value, error) {
	rs, err := q.Query(ctx, query, vars)
	if err != nil {
		return value.None(), err
	}
	if err := conn.StatementErr(rs); err != nil {
		return value.None(), fmt.Errorf("%w: %w", ErrStatement, err)
	}
	if len(rs) == 0 {
		return value.None(), errors.New("no result")
	}
	return rs[len(rs)-1].Value, nil
}
