package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/integration/testscheduler"
	"github.com/sp00ky/ssp/internal/workload"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

const bootUsage = `Usage: ssp-bench bootstrap [flags]

Bootstrap and re-bootstrap of an SSP in scheduler mode, through the scheduler's /proxy/query.
For every -rows count: a fresh dev SurrealDB gets the initial rows of the workload of package
internal/workload (written directly: data that exists before the SSP starts), the test scheduler
(integration/testscheduler, in this process) clones it into its replica, and one ` + "`ssp serve`" + `
subprocess (-ssp-bin, built from ./cmd/ssp when not given) starts in scheduler mode, registers,
loads the snapshot page by page through the proxy and checks it against the table hashes. Then
-views views of the workload are registered through the scheduler, and -rebootstraps times the
scheduler answers the SSP's heartbeat 409 (JSON, "resync requested"): the SSP registers again and
re-bootstraps in process, keeping its views. Nothing is ingested meanwhile.

Columns, one line per bootstrap: rows; what (bootstrap, rebootstrap N); ready = from the
process start (bootstrap) or the forced 409 (re-bootstrap) to /health ready; register = the
registration (the scheduler hashes its replica before it answers); job = the SSP's bootstrap
job (ssp_bootstrap_duration_seconds: pages through the proxy, table hashes, views
re-materialized, edges reconciled); loaded = rows loaded (ssp_bootstrap_rows); rows/s =
loaded / job; pool = to ready in the scheduler's pool (its health poll every 50 ms, then the
replay); cpu = the SSP's CPU time over ready; rss = the SSP's resident set after.

Flags:
`

// bootFlags are the options of `ssp-bench bootstrap`.
type bootFlags struct {
	rows         []int
	views        int
	rebootstraps int
	pageSize     int
	seed         int64
	sspBin       string
	verbose      bool
}

func parseBootFlags(args []string, stderr io.Writer) (bootFlags, error) {
	f := bootFlags{rows: []int{10_000, 100_000}}
	fs := newFlags("ssp-bench bootstrap", bootUsage, stderr)
	fs.Func("rows", "comma-separated initial row counts, k suffix allowed, one run each (default 10k,100k)", intList(&f.rows))
	fs.IntVar(&f.views, "views", 100, "views of the workload registered through the scheduler before the re-bootstraps")
	fs.IntVar(&f.rebootstraps, "rebootstraps", 3, "re-bootstraps forced by a heartbeat 409, one after another")
	fs.IntVar(&f.pageSize, "page-size", 500, "SPKY_SSP_BOOTSTRAP_PAGE_SIZE of the SSP (rows per /proxy/query page)")
	fs.Int64Var(&f.seed, "seed", 1, "workload seed")
	fs.StringVar(&f.sspBin, "ssp-bin", "", "the ssp binary to run as `ssp serve` (default: go build ./cmd/ssp into a temporary directory)")
	fs.BoolVar(&f.verbose, "v", false, "copy the SSP's, the scheduler's and the database's logs to stderr")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	bad := func(format string, a ...any) (bootFlags, error) {
		fmt.Fprintf(stderr, "ssp-bench bootstrap: "+format+"\n", a...)
		return f, errUsage
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case len(f.rows) == 0:
		return bad("-rows needs at least one count")
	case f.views < 0:
		return bad("-views must not be negative, got %d", f.views)
	case f.rebootstraps < 0:
		return bad("-rebootstraps must not be negative, got %d", f.rebootstraps)
	case f.pageSize < 1:
		return bad("-page-size must be at least 1, got %d", f.pageSize)
	}
	for _, r := range f.rows {
		if r < 1 {
			return bad("-rows counts must be at least 1, got %d", r)
		}
	}
	return f, nil
}

// bootLine is one measured bootstrap.
type bootLine struct {
	rows     int
	what     string
	ready    time.Duration
	register time.Duration
	job      time.Duration
	loaded   float64
	pool     time.Duration
	cpu      time.Duration
	rss      uint64
}

// runBoot implements `ssp-bench bootstrap`.
func runBoot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseBootFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "ssp-bench bootstrap: %s %s/%s, CPU %s, %d cores, commit %s, SSP subprocess behind the test scheduler (in this process), load average %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), runtime.NumCPU(), commitID(), loadAverage())
	fmt.Fprintf(stdout, "workload seed %d, %d views, %d forced 409s, page size %d, nothing ingested meanwhile\n", f.seed, f.views, f.rebootstraps, f.pageSize)
	fmt.Fprintf(stdout, "%8s %-13s %9s %9s %9s %8s %8s %9s %8s %9s\n", "rows", "what", "ready", "register", "job", "loaded", "rows/s", "pool", "cpu", "rss")
	for _, rows := range f.rows {
		lines, err := bootCell(ctx, f, rows)
		for _, l := range lines {
			rate := "-"
			if l.job > 0 {
				rate = fmt.Sprintf("%.0f", l.loaded/l.job.Seconds())
			}
			fmt.Fprintf(stdout, "%8d %-13s %9s %9s %9s %8.0f %8s %9s %8s %9s\n", l.rows, l.what, fmtDur(l.ready), fmtDur(l.register),
				fmtDur(l.job), l.loaded, rate, fmtDur(l.pool), fmtDur(l.cpu), fmtSize(l.rss))
		}
		if err != nil {
			return fmt.Errorf("%d rows: %w", rows, err)
		}
	}
	fmt.Fprintf(stdout, "load average at the end: %s\n", loadAverage())
	return nil
}

// bootCell measures the bootstrap and the re-bootstraps of one SSP over rows initial rows.
func bootCell(ctx context.Context, f bootFlags, rows int) (lines []bootLine, err error) {
	env := &loadEnv{ns: "boot", db: "bench", dbUser: "root", dbPass: "root"}
	defer func() {
		if cerr := env.close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop: %w", cerr)
		}
	}()
	var logw io.Writer = io.Discard
	if f.verbose {
		logw = os.Stderr
	}
	srv, err := devdb.Start(ctx, devdb.Options{Log: logw})
	if err != nil {
		return nil, fmt.Errorf("start the dev SurrealDB: %w", err)
	}
	env.closers = append(env.closers, srv.Close)
	env.dbURL, env.dbUser, env.dbPass = srv.URL(), srv.User, srv.Pass
	w := workload.New(f.seed, workload.Config{Views: f.views, Rows: rows})
	if err := writeRows(ctx, env, w.Initial()); err != nil {
		return nil, err
	}

	log := logrus.New()
	log.SetOutput(logw)
	log.SetLevel(logrus.WarnLevel)
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	env.token = hex.EncodeToString(tok[:])
	sched, err := testscheduler.Start(ctx, testscheduler.Options{
		URL: env.dbURL, User: env.dbUser, Pass: env.dbPass, NS: env.ns, DB: env.db,
		Secret: env.token, PollInterval: 50 * time.Millisecond, HistoryLimit: 100, Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("start the test scheduler: %w", err)
	}
	env.closers = append(env.closers, sched.Close)
	env.base = sched.URL()
	env.http = &nethttp.Client{Timeout: time.Minute}

	const id = "ssp-1"
	args := []string{
		"--ssp-listen-addr", "127.0.0.1:0",
		"--db-ws", env.dbURL, "--db-user", env.dbUser, "--db-pass", env.dbPass,
		"--db-ns", env.ns, "--db-name", env.db,
		"--auth-secret", env.token,
		"--ttl-cleanup-interval-secs", "3600",
		"--log-level", "warn",
		"--scheduler-url", sched.URL(), "--ssp-id", id,
		"--heartbeat-interval-ms", "200",
		"--ssp-bootstrap-page-size", strconv.Itoa(f.pageSize),
	}
	bin := f.sspBin
	if bin == "" { // built before the clock starts
		if bin, err = buildSSP(ctx, env); err != nil {
			return nil, err
		}
	}
	started := time.Now()
	p, err := startSubprocessSSP(ctx, env, loadFlags{sspBin: bin}, args, logw)
	if err != nil {
		return nil, err
	}
	ssp := &loadEnv{base: p.base, token: env.token, http: env.http, ssps: []sspProcess{p}}
	l, err := measureBoot(ctx, sched, ssp, p, id, 0, started, time.Time{})
	l.rows, l.what = rows, "bootstrap"
	if err != nil {
		return lines, err
	}
	lines = append(lines, l)

	if f.views > 0 {
		var regs [][]byte
		for _, vs := range w.Views() {
			regs = append(regs, registerBody(vs.ID, vs.SurQL, vs.Params))
		}
		if err := env.sendAll(ctx, "/view/register", regs, 4); err != nil {
			return lines, fmt.Errorf("register %d views through the scheduler: %w", len(regs), err)
		}
	}
	for i := range f.rebootstraps {
		before, err := registrations(ctx, ssp)
		if err != nil {
			return lines, err
		}
		forced := time.Now()
		sched.ForceHeartbeat(id, testscheduler.HeartbeatAnswer{Status: nethttp.StatusConflict, JSON: true, Reason: "resync requested"})
		l, err := measureBoot(ctx, sched, ssp, p, id, before, time.Time{}, forced)
		l.rows, l.what = rows, "rebootstrap "+strconv.Itoa(i+1)
		if err != nil {
			return lines, err
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// tableName matches the plain table names of the workload.
var tableName = regexp.MustCompile(`^[a-z_]+$`)

// writeRows writes the initial rows into the database (without `_00_rv`, which only events
// carry), 1000 per statement.
func writeRows(ctx context.Context, env *loadEnv, cs []engine.Change) error {
	db, err := conn.Dial(ctx, conn.Config{URL: env.dbURL, User: env.dbUser, Pass: env.dbPass, NS: env.ns, DB: env.db,
		Log: logrus.New().WithField("component", "writer")})
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer func() { _ = db.Close(context.WithoutCancel(ctx)) }()
	byTable := map[string][]value.Value{}
	var order []string
	for _, c := range cs {
		if _, ok := byTable[c.Table]; !ok {
			order = append(order, c.Table)
		}
		byTable[c.Table] = append(byTable[c.Table], c.Record.With("_00_rv", value.None()).With("id", c.ID))
	}
	for _, tb := range order {
		if !tableName.MatchString(tb) {
			return fmt.Errorf("workload table %q is not a plain name", tb)
		}
		all := byTable[tb]
		for i := 0; i < len(all); i += 1000 {
			// INSERT INTO takes no parameter for the table: the name is checked above.
			rs, err := db.Query(ctx, "INSERT INTO "+tb+" $rows RETURN NONE",
				map[string]any{"rows": value.Array(all[i:min(i+1000, len(all))])})
			if err == nil {
				err = conn.StatementErr(rs)
			}
			if err != nil {
				return fmt.Errorf("write %d rows of %s: %w", len(all), tb, err)
			}
		}
	}
	return nil
}

// registrations returns how many registrations the SSP's /debug/scheduler lists.
func registrations(ctx context.Context, ssp *loadEnv) (int, error) {
	st, err := debugScheduler(ctx, ssp)
	if err != nil {
		return 0, err
	}
	return len(st.Registrations), nil
}

// schedState is the part of an SSP's /debug/scheduler the benchmark reads.
type schedState struct {
	Registrations []struct {
		DurationSeconds float64 `json:"duration_seconds"`
		Result          string  `json:"result"`
	} `json:"registrations"`
}

func debugScheduler(ctx context.Context, ssp *loadEnv) (schedState, error) {
	var st schedState
	status, body, err := ssp.do(ctx, nethttp.MethodGet, "/debug/scheduler", nil)
	if err == nil && status != nethttp.StatusOK {
		err = fmt.Errorf("status %d: %s", status, body)
	}
	if err == nil {
		err = json.Unmarshal(body, &st)
	}
	if err != nil {
		return st, fmt.Errorf("GET /debug/scheduler: %w", err)
	}
	return st, nil
}

// measureBoot waits until the SSP is ready after its (before+1)-th registration and then in
// the scheduler's pool. The clock starts at started (the process start) or, for a forced
// answer, at the heartbeat that got it (forced: when it was switched on).
func measureBoot(ctx context.Context, sched *testscheduler.Scheduler, ssp *loadEnv, p sspProcess, id string, before int, started, forced time.Time) (bootLine, error) {
	var l bootLine
	cpu0, _, err := procUsage(p.pid)
	if err != nil {
		return l, err
	}
	polling := time.Now()
	deadline := polling.Add(30 * time.Minute)
	t0 := started
	var ready, pooled time.Time
	for ready.IsZero() || pooled.IsZero() {
		if time.Now().After(deadline) {
			return l, fmt.Errorf("%s not ready within 30 minutes", id)
		}
		now := time.Now()
		if t0.IsZero() {
			for _, hb := range sched.Heartbeats(id) {
				if hb.At.After(forced) && hb.Answer == nethttp.StatusConflict {
					t0 = hb.At
				}
			}
		}
		if status, body, err := ssp.do(ctx, nethttp.MethodGet, "/health", nil); err == nil && status != nethttp.StatusOK && strings.Contains(string(body), `"failed"`) {
			st, _ := debugScheduler(ctx, ssp)
			return l, fmt.Errorf("%s failed: /health %s; scheduler link: %+v", id, body, st)
		}
		if !t0.IsZero() && ready.IsZero() {
			if st, err := debugScheduler(ctx, ssp); err == nil {
				n := len(st.Registrations)
				if n == before+1 && st.Registrations[n-1].Result == "ok" {
					if status, _, err := ssp.do(ctx, nethttp.MethodGet, "/health", nil); err == nil && status == nethttp.StatusOK {
						ready = now
						l.register = time.Duration(st.Registrations[n-1].DurationSeconds * float64(time.Second))
						if cpu, rss, err := procUsage(p.pid); err == nil {
							l.cpu, l.rss = cpu-cpu0, rss
						}
					}
				}
			}
		}
		if info, ok := sched.SSP(id); !t0.IsZero() && pooled.IsZero() && ok && info.Status == testscheduler.SSPReady && info.RegisteredAt.After(t0) {
			pooled = now
		}
		if err := sleepCtx(ctx, bootPoll(time.Since(polling))); err != nil {
			return l, err
		}
	}
	m, err := ssp.metrics(ctx)
	if err != nil {
		return l, err
	}
	l.ready, l.pool = ready.Sub(t0), pooled.Sub(t0)
	l.job = time.Duration(m.get("ssp_bootstrap_duration_seconds") * float64(time.Second))
	l.loaded = m.get("ssp_bootstrap_rows")
	return l, nil
}

// bootPoll is the pause between two polls of a bootstrap that has been waited for elapsed:
// 0.5% of it, at least 5 ms and at most 100 ms. Every poll is two requests to the SSP, whose
// CPU the table reports: a fixed 5 ms made a 100k-row bootstrap answer 400 requests a second
// for over a minute, and the rows/s, ready and cpu of a long bootstrap need no finer clock.
func bootPoll(elapsed time.Duration) time.Duration {
	return min(max(elapsed/200, 5*time.Millisecond), 100*time.Millisecond)
}
