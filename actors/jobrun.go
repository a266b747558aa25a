package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/outbox"
	"github.com/sp00ky/ssp/surreal/value"
)

// Limits of what a job run stores on its row.
const (
	// maxJobResult bounds the response stored as `result` (SPEC §8: 64 KiB).
	maxJobResult = 64 << 10
	// maxJobReason bounds the response body stored as an error's reason.
	maxJobReason = 2 << 10
	// jobWriteTimeout bounds one database write of a run (the claim, an outcome).
	jobWriteTimeout = 30 * time.Second
	// jobRecordBudget is how long a run keeps re-sending its outcome write when SurrealDB
	// refuses it (for instance the row's event could not reach /ingest): losing it would send
	// the request again.
	jobRecordBudget = time.Minute
)

// Causes of a run's cancellation.
var (
	errJobKilled   = errors.New("killed")
	errJobShutdown = errors.New("interrupted: the SSP shut down during the request")
)

// jobRunner is what every run of one job table needs: the table's configuration, its HTTP
// client (redirects followed only on the backend's own scheme and host) and the database
// behind a counter of round trips. It is immutable; runs use it from their own goroutines.
type jobRunner struct {
	env                                              *env
	cfg                                              config.JobTable
	base                                             *url.URL
	client                                           *http.Client
	dbClaim, dbLease, dbOutcome, dbSweep, dbOperator membership.Querier // the database, each counting its round trips
	log                                              *logrus.Entry
	ssp                                              string
	visible                                          time.Duration // how long a claim waits for an offered row to become visible
}

func newJobRunner(e *env, jt config.JobTable) (*jobRunner, error) {
	base, err := url.Parse(jt.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("job table %s: base_url: %w", jt.Table, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = jt.Concurrency
	client := &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if !strings.EqualFold(req.URL.Scheme, base.Scheme) || !strings.EqualFold(req.URL.Host, base.Host) {
			return http.ErrUseLastResponse // never to another host: the answer is the redirect itself
		}
		return nil
	}}
	counted := func(op string) membership.Querier {
		return countingQuerier{q: e.db, n: e.m.jobQueries.WithLabelValues(jt.Table, op)}
	}
	return &jobRunner{
		env: e, cfg: jt, base: base, client: client, ssp: e.cfg.SSPID, visible: e.cfg.RVWaitTimeout,
		dbClaim: counted("claim"), dbLease: counted("lease"), dbOutcome: counted("outcome"), dbSweep: counted("sweep"), dbOperator: counted("operator"),
		log: e.log.WithFields(logrus.Fields{"job_table": jt.Table, "backend": jt.Name}),
	}, nil
}

// countingQuerier counts the round trips of the job runner (ssp_job_db_queries_total).
type countingQuerier struct {
	q membership.Querier
	n prometheus.Counter
}

func (c countingQuerier) Query(ctx context.Context, surql string, vars map[string]any) ([]conn.Result, error) {
	c.n.Inc()
	return c.q.Query(ctx, surql, vars)
}

// lease is how long a claim holds a job before another runner may take it over.
func (r *jobRunner) lease(timeout time.Duration) time.Duration {
	return timeout + r.env.cfg.JobLeaseGrace
}

// Outcomes of a run (ssp_job_runs_total; the first four end the job).
const (
	jobSuccess    = "success"
	jobFailed     = "failed"
	jobKilled     = "killed"
	jobInvalid    = "invalid"
	jobRetry      = "retry"
	jobReleased   = "released"
	jobNotClaimed = "not_claimed"
	jobMissing    = "missing"
	jobLostClaim  = "lost_claim"
	jobError      = "error"
)

// jobResult is what a run reports to its table actor.
type jobResult struct {
	outcome  string
	attempt  int64
	code     int           // the HTTP status, 0 for network errors
	reason   string        // the error recorded on the row, if any
	retryIn  time.Duration // outcome retry: the backoff, after which the actor offers it again
	duration time.Duration // of the request
	seen     outbox.Seen   // outcome not_claimed: what the claim found
	err      error         // outcome error, or an outcome that could not be recorded
}

// run is one run of a job, on its own goroutine: claim the row (waiting for it to become
// visible: Sp00ky's events call /ingest from inside the writer's transaction), check its
// fields, send the request, and write the outcome fenced on the claim. ctx is cancelled with
// errJobKilled or errJobShutdown to end the request; database work is not cut short by it.
// claimed is called once the claim is won, with the attempt number.
func (r *jobRunner) run(ctx context.Context, id value.Value, claimed func(attempt int64)) jobResult {
	row, seen, ok, err := r.claim(ctx, id)
	switch {
	case err != nil:
		return jobResult{outcome: jobError, err: err}
	case !ok && !seen.Exists:
		return jobResult{outcome: jobMissing, seen: seen}
	case !ok:
		return jobResult{outcome: jobNotClaimed, seen: seen}
	}
	job, perr := outbox.Parse(row, r.cfg.TimeoutOverridable)
	claimed(job.Attempt)
	res := jobResult{attempt: job.Attempt}
	target, uerr := r.target(job.Path)
	if perr == nil && uerr != nil {
		perr = &outbox.InvalidError{Problems: []string{uerr.Error()}}
	}
	if perr != nil {
		// A row the runner cannot read ends failed, with the reason on it.
		res.outcome, res.reason = jobInvalid, perr.Error()
		return r.record(job, res, outbox.Outcome{Status: outbox.StatusFailed, Error: &outbox.ErrorEntry{Reason: res.reason}})
	}
	timeout := r.cfg.Timeout
	if job.Timeout > 0 {
		timeout = job.Timeout
	}
	if timeout > r.cfg.Timeout {
		// The claim's lease covers the table's timeout; this row asks for longer.
		wctx, cancel := context.WithTimeout(context.Background(), jobWriteTimeout)
		ok, err := outbox.ExtendLease(wctx, r.dbLease, job.ID, r.ssp, job.Attempt, r.lease(timeout))
		cancel()
		if err != nil || !ok {
			res.outcome, res.err = jobLostClaim, err
			return res
		}
	}
	var o outbox.Outcome
	res.code, res.reason, o, res.duration = r.deliver(ctx, job, target, timeout)
	switch cause := context.Cause(ctx); {
	case o.Status == outbox.StatusSuccess:
		res.outcome = jobSuccess // answered before a kill or shutdown could stop it
	case errors.Is(cause, errJobKilled):
		res.outcome, res.code, res.reason = jobKilled, 0, errJobKilled.Error()
		o = outbox.Outcome{Status: outbox.StatusFailed, Error: &outbox.ErrorEntry{Reason: res.reason}}
	case errors.Is(cause, errJobShutdown):
		// Pending again at once, for whichever runner claims it next (no retry is used up).
		res.outcome, res.code, res.reason = jobReleased, 0, errJobShutdown.Error()
		o = outbox.Outcome{Status: outbox.StatusPending, Error: &outbox.ErrorEntry{Reason: res.reason}}
	default:
		retries := job.Retries + 1
		o.Retries = &retries
		if retries >= job.MaxRetries {
			res.outcome, o.Status = jobFailed, outbox.StatusFailed
		} else {
			res.outcome, o.Status = jobRetry, outbox.StatusPending
			o.Backoff = outbox.Backoff(job.Strategy, retries, nil)
			res.retryIn = o.Backoff
		}
	}
	return r.record(job, res, o)
}

// claim claims the row, polling while it does not exist yet (10, 20, 40, 80, 80… ms, for at
// most the `_00_rv` wait's timeout) unless ctx ends. A row found claimable right after the
// claim missed it (it became visible between the claim's UPDATE and its SELECT) is claimed
// again. The claim itself is not cut short by ctx: a claim that was sent is answered, so its
// outcome is known.
func (r *jobRunner) claim(ctx context.Context, id value.Value) (value.Value, outbox.Seen, bool, error) {
	deadline := time.Now().Add(r.visible)
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(context.Background(), jobWriteTimeout)
		row, seen, ok, err := outbox.Claim(wctx, r.dbClaim, id, r.ssp, r.lease(r.cfg.Timeout))
		cancel()
		missed := !seen.Exists || (seen.Status == outbox.StatusPending && !seen.RunAfter.After(time.Now()))
		if err != nil || ok || !missed || time.Now().After(deadline) || ctx.Err() != nil {
			return row, seen, ok, err
		}
		if conn.Sleep(ctx, min(conn.Backoff(10*time.Millisecond, 80*time.Millisecond, attempt), time.Until(deadline))) != nil {
			return row, seen, ok, nil
		}
	}
}

// target is the job's URL: base_url + path (one "/" between them), which must stay on the
// backend's scheme and host.
func (r *jobRunner) target(path string) (string, error) {
	raw := r.cfg.BaseURL
	if path != "" {
		raw = strings.TrimRight(raw, "/") + "/" + strings.TrimLeft(path, "/")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("field \"path\" %q does not make a URL with the base URL: %v", path, err)
	}
	if !strings.EqualFold(u.Scheme, r.base.Scheme) || !strings.EqualFold(u.Host, r.base.Host) || u.User.String() != r.base.User.String() {
		return "", fmt.Errorf("field \"path\" %q leads away from the backend's host", path)
	}
	return raw, nil
}

// deliver sends the request and reads its answer: the HTTP status (0 for a network error, a
// timeout or a cancellation), the reason of a failure, the outcome to record (success with the
// result, or failed to be decided by the caller) and the request's duration.
func (r *jobRunner) deliver(ctx context.Context, job outbox.Job, target string, timeout time.Duration) (int, string, outbox.Outcome, time.Duration) {
	failed := func(code int, reason string) outbox.Outcome {
		return outbox.Outcome{Status: outbox.StatusFailed, Error: &outbox.ErrorEntry{Code: code, Reason: reason}}
	}
	body, err := payloadJSON(job.Payload)
	if err != nil {
		return 0, err.Error(), failed(0, err.Error()), 0
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error(), failed(0, err.Error()), 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sp00ky-ssp/"+r.env.version)
	req.Header.Set("Idempotency-Key", fmt.Sprintf("%s:%d", value.RecordString(job.ID), job.Attempt))
	if tok := r.cfg.AuthToken.Reveal(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	start := time.Now()
	resp, err := r.client.Do(req)
	var data []byte
	if err == nil {
		limit := int64(maxJobReason)
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			limit = maxJobResult
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
		_ = resp.Body.Close()
	}
	took := time.Since(start)
	r.env.m.jobDuration.WithLabelValues(r.cfg.Table).Observe(took.Seconds())
	attempts := r.env.m.jobAttempts
	if err != nil {
		reason := err.Error()
		label := "network"
		switch {
		case ctx.Err() != nil:
			reason, label = context.Cause(ctx).Error(), "cancelled"
		case errors.Is(err, context.DeadlineExceeded) || rctx.Err() != nil:
			reason, label = fmt.Sprintf("timeout after %s: %v", timeout, err), "timeout"
		}
		attempts.WithLabelValues(r.cfg.Table, label).Inc()
		return 0, truncate(reason, maxJobReason), failed(0, truncate(reason, maxJobReason)), took
	}
	attempts.WithLabelValues(r.cfg.Table, fmt.Sprintf("%dxx", resp.StatusCode/100)).Inc()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		reason := strings.TrimSpace(strings.ToValidUTF8(string(data), "\uFFFD"))
		if len(data) > maxJobReason {
			reason = truncate(reason, maxJobReason)
		}
		if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
			reason = strings.TrimSpace(fmt.Sprintf("redirect to %s not followed (only the backend's own host is): %s", loc, reason))
		}
		if reason == "" {
			reason = http.StatusText(resp.StatusCode)
		}
		return resp.StatusCode, reason, failed(resp.StatusCode, reason), took
	}
	result, truncated := jobResultValue(data)
	return resp.StatusCode, "", outbox.Outcome{Status: outbox.StatusSuccess, Result: result, Truncated: truncated}, took
}

// record writes the outcome, fenced on the claim. SurrealDB may refuse it for a while (the
// row's event could not post to /ingest): it is re-sent, safely since it is fenced, within
// jobRecordBudget; a write still refused leaves the row processing under this SSP, and the
// next sweep claims it again.
func (r *jobRunner) record(job outbox.Job, res jobResult, o outbox.Outcome) jobResult {
	deadline := time.Now().Add(jobRecordBudget)
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(context.Background(), jobWriteTimeout)
		ok, err := outbox.Finish(wctx, r.dbOutcome, job.ID, r.ssp, job.Attempt, o)
		cancel()
		switch {
		case err == nil && ok:
			return res
		case err == nil:
			res.outcome, res.retryIn = jobLostClaim, 0
			return res
		case time.Now().After(deadline):
			res.outcome, res.retryIn, res.err = jobError, 0, err
			return res
		}
		r.log.WithFields(logrus.Fields{"job": value.RecordString(job.ID), "attempt": job.Attempt, "try": attempt}).WithError(err).
			Warn("job outcome not recorded; trying again")
		_ = conn.Sleep(context.Background(), conn.Backoff(100*time.Millisecond, 5*time.Second, attempt))
	}
}

// payloadJSON is the request body: the payload as JSON (records and datetimes as strings); a
// string payload holding a JSON object or array is sent as that JSON.
func payloadJSON(p value.Value) ([]byte, error) {
	if p.Kind() == value.KindString {
		s := strings.TrimSpace(p.AsString())
		if (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) && json.Valid([]byte(s)) {
			return []byte(s), nil
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("field \"payload\" cannot be sent as JSON: %v", err)
	}
	return b, nil
}

// jobResultValue is what a 2xx answer stores as `result`: its JSON as plain values (strings
// stay strings), nil when empty, the text when it is not JSON; a body over maxJobResult is
// stored as its first maxJobResult bytes of text, flagged truncated.
func jobResultValue(data []byte) (any, bool) {
	if len(data) > maxJobResult {
		return truncateUTF8(data[:maxJobResult]), true
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err == nil && !dec.More() {
		return plainJSON(x), false
	}
	return strings.ToValidUTF8(string(data), "\uFFFD"), false
}

// plainJSON turns json.Number into int64 or float64, recursively.
func plainJSON(x any) any {
	switch t := x.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, v := range t {
			t[k] = plainJSON(v)
		}
	case []any:
		for i, v := range t {
			t[i] = plainJSON(v)
		}
	}
	return x
}

// truncate cuts s to at most n bytes (on a rune boundary), marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncateUTF8([]byte(s[:n])) + "… (truncated)"
}

// truncateUTF8 drops a rune cut in two at the end of b and replaces invalid bytes.
func truncateUTF8(b []byte) string {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				b = b[:i]
			}
			break
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
