package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/connection"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/integration/testscheduler"
	"github.com/sp00ky/ssp/internal/workload"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

const loadUsage = `Usage: ssp-bench load [flags]

Load benchmark of the running SSP over loopback (127.0.0.1 only). For every -views count it
starts a fresh dev SurrealDB (or uses -db) and a fresh SSP (by default a separate ` + "`ssp serve`" + `
process, -ssp-bin, built from ./cmd/ssp when not given), ingests the initial rows of the workload of
package internal/workload, registers its views plus one lag-probe view, waits until every edge
is written, then drives POST /ingest with -clients concurrent keep-alive HTTP clients for
-duration (or -count ingests) and prints one table row.

Lag, two ways. clag50/clag95: the SSP's own ssp_edge_lag_seconds, from a step's in-memory
apply (just before its 200 OK) to the commit of its edge writes, over every view and step.
lag50/lag95: what a client sees. Every -sample-th ingest is a CREATE of a lagprobe row that
the probe view (SELECT * FROM lagprobe, owned by user:sspprobe, so in dedicated mode its
edges have their own table as a client's views do) adds; a LIVE SELECT on that table times
the edge's notification from the ingest's 200 OK; the probe row is then deleted by a later
ingest.

Every cell also ends in a line "summary <commit> views=… ingest/s=… p99=… cpu/ing=… db-cpu/ing=…
edges/ing=… rows/ing=… flush/ing=… lag95=…" to compare across commits (db-cpu/ing: the
database's CPU per ingest; edges/ing: edge writes handed to the writers per ingest; rows/ing:
edge rows the writers wrote per ingest, fewer when writes that change nothing are skipped, "-"
for an SSP without ssp_edge_rows_written_total; flush/ing: the writers' flushes per ingest,
ssp_edge_write_duration_seconds_count, a flush being one list_ref table's writes, in one
transaction or, when large, several). -compare <other ssp binary> runs every cell with this binary
and with the other, alternately for -rounds rounds in one sitting (the machine drifts: never
compare runs of different sittings), and prints both medians and their ratio (this/other).

Columns: views; ingests = measured ingests (probes included); ingest/s, p50, p99 = throughput
and latency of POST /ingest at the client (accepted ones); busy = 503 SSP_BUSY answers
(backpressure: the edge writers are SPKY_EDGE_BACKLOG items behind the database; the
generator drops that change); errors = other answers than 200; edges/s = edge writes
(ssp_edge_writes_total) from the start of the run until the writers drained, per second of
that span; drain = time after the last ingest until every edge was written; clag50, clag95,
lag50, lag95 as above; lag-n = lag samples (and lost probes, if any); ssp-cpu, db-cpu,
gen-cpu = CPU of the SSP, the dev SurrealDB and this generator over that span, in cores;
cpu/ing, B/ing = the SSP's CPU time and allocated bytes per measured ingest (edge writes
included); rss, heap = the SSP's resident set and Go heap in use after the drain. A line per
cell then gives the latency by kind of change.

-ssps N runs scheduler mode: the test scheduler of integration/testscheduler in this process (its
CPU counts as gen-cpu) and N ` + "`ssp serve`" + ` subprocesses registered with it; every ingest, the initial rows
included, and every view registration goes to the scheduler, which fans each ingest out to every SSP
one after another and gives each view to one SSP. ingests, ingest/s, p50 and p99 are then the
scheduler's; busy and errors also count what the SSPs answered the scheduler (which only logs it);
edges/s, ssp-cpu, cpu/ing, B/ing, rss and heap are summed over the SSPs.

-soak D runs one cell (a single -views count) for D and prints, every -soak-every, the
interval's throughput, latency and lag with the SSP's RSS, heap, live heap after GC and
goroutines, so that a memory leak shows as a trend.

Flags:
`

// defaultSoakWindow is -window of a soak run.
const defaultSoakWindow = 1000

// probeView is the view key of the lag probe, probeTable its table, probeOwner its owner: in
// dedicated mode its edges have their own table, as a client's views have, so the LIVE query
// that times them does not run over every edge of the workload (SurrealDB evaluates a LIVE
// query for each write to its table, which roughly doubled the database's work per edge).
const (
	probeView  = "ssp_load_probe"
	probeTable = "lagprobe"
	probeOwner = "user:sspprobe"
)

// probeParams are the probe view's parameters: its owner.
var probeParams = value.ObjectOf([]value.Field{{Key: "auth", Val: value.ObjectOf([]value.Field{
	{Key: "id", Val: value.String(probeOwner)}})}})

// loadFlags are the options of `ssp load`.
type loadFlags struct {
	views     []int
	rows      int
	clients   int
	duration  time.Duration
	count     int
	rate      float64
	sample    int
	soak      time.Duration
	soakEvery time.Duration
	sspBin    string
	db        string
	dbUser    string
	dbPass    string
	refMode   string
	seed      int64
	rv        bool
	window    int
	backlog   int // -edge-backlog; -1: the SSP's default
	pprof     string
	verbose   bool
	ssps      int // scheduler mode with this many SSPs; 0: standalone
	compare   string
	rounds    int
	floor     bool
}

// parseLoadFlags parses and checks the command line of `ssp load`.
func parseLoadFlags(args []string, stderr io.Writer) (loadFlags, error) {
	f := loadFlags{views: []int{100, 1000}}
	fs := newFlags("ssp-bench load", loadUsage, stderr)
	fs.Func("views", "comma-separated view counts, one table row each (default 100,1000)", intList(&f.views))
	fs.IntVar(&f.rows, "rows", 10000, "initial rows of the workload, ingested before the views are registered")
	fs.IntVar(&f.clients, "clients", 16, "concurrent HTTP clients (keep-alive connections)")
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "measured run per cell (0 with -count: until -count ingests)")
	fs.IntVar(&f.count, "count", 0, "stop a cell after this many ingests (0: -duration only)")
	fs.Float64Var(&f.rate, "rate", 0, "target ingests per second over all clients (0: as fast as the SSP answers)")
	fs.IntVar(&f.sample, "sample", 100, "one ingest in this many is a lag probe (0: no lag measurement)")
	fs.BoolVar(&f.floor, "floor", false, "measure the floor under cpu/ing: every measured ingest names a table of the SSP's own, which it answers without applying (no lag probes)")
	fs.DurationVar(&f.soak, "soak", 0, "soak mode: run one cell this long, sampling memory every -soak-every")
	fs.DurationVar(&f.soakEvery, "soak-every", 10*time.Second, "sampling interval of -soak")
	fs.StringVar(&f.sspBin, "ssp-bin", "", "the ssp binary to run as `ssp serve` (default: go build ./cmd/ssp into a temporary directory)")
	fs.StringVar(&f.db, "db", "", "SurrealDB RPC URL to use instead of starting the dev SurrealDB (each cell gets its own database)")
	fs.StringVar(&f.dbUser, "db-user", "root", "SurrealDB root user for -db")
	fs.StringVar(&f.dbPass, "db-pass", "root", "SurrealDB root password for -db")
	fs.StringVar(&f.refMode, "ref-mode", "dedicated", "SPKY_SSP_REF_MODE of the SSP: dedicated or single")
	fs.Int64Var(&f.seed, "seed", 1, "workload seed")
	fs.BoolVar(&f.rv, "rv", false, "keep the rows' _00_rv (the SSP then waits for _00_version rows, which the generator writes first)")
	fs.IntVar(&f.window, "window", 0, "keep the data stationary: delete the oldest stream-created row of a table once more than this many are alive (default 1000 with -soak, else 0: the data grows)")
	fs.IntVar(&f.backlog, "edge-backlog", -1, "SPKY_EDGE_BACKLOG of the SSP (0: unbounded, so ingests outrun a slow database; -1: the SSP's default)")
	fs.StringVar(&f.pprof, "pprof", "", "host:port for the SSP subprocess's pprof listener (SPKY_PPROF_ADDR)")
	fs.BoolVar(&f.verbose, "v", false, "copy the SSP's and the database's logs to stderr")
	fs.StringVar(&f.compare, "compare", "", "another ssp binary: run every cell with this one (-ssp-bin or ./cmd/ssp) and with it, alternately for -rounds rounds in one sitting, and print the medians and their ratio")
	fs.IntVar(&f.rounds, "rounds", 3, "rounds of -compare (each runs both binaries once)")
	fs.IntVar(&f.ssps, "ssps", 0, "scheduler mode: the test scheduler and this many `ssp serve` subprocesses behind it, /ingest driven at the scheduler (0: one SSP, standalone)")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	windowSet := false
	fs.Visit(func(fl *flag.Flag) { windowSet = windowSet || fl.Name == "window" })
	if !windowSet && f.soak > 0 {
		f.window = defaultSoakWindow
	}
	bad := func(format string, a ...any) (loadFlags, error) {
		fmt.Fprintf(stderr, "ssp-bench load: "+format+"\n", a...)
		return f, errUsage
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case len(f.views) == 0:
		return bad("-views needs at least one count")
	case f.backlog < -1:
		return bad("-edge-backlog must be -1 (default), 0 (no bound) or positive, got %d", f.backlog)
	case f.window < 0:
		return bad("-window must not be negative, got %d", f.window)
	case f.rows < 0:
		return bad("-rows must not be negative, got %d", f.rows)
	case f.clients < 1:
		return bad("-clients must be at least 1, got %d", f.clients)
	case f.count < 0:
		return bad("-count must not be negative, got %d", f.count)
	case f.duration < 0:
		return bad("-duration must not be negative, got %s", f.duration)
	case f.floor && f.ssps > 0:
		return bad("-floor measures one SSP: use it without -ssps")
	case f.soak == 0 && f.duration == 0 && f.count == 0:
		return bad("-duration 0 needs -count to bound the run")
	case f.rate < 0:
		return bad("-rate must not be negative, got %g", f.rate)
	case f.sample < 0:
		return bad("-sample must not be negative, got %d", f.sample)
	case f.soak < 0:
		return bad("-soak must not be negative, got %s", f.soak)
	case f.soak > 0 && len(f.views) != 1:
		return bad("-soak runs one cell: give a single -views count, got %d", len(f.views))
	case f.soak > 0 && f.count > 0:
		return bad("-soak and -count exclude each other")
	case f.soakEvery <= 0:
		return bad("-soak-every must be positive, got %s", f.soakEvery)
	case f.refMode != "dedicated" && f.refMode != "single":
		return bad("-ref-mode must be dedicated or single, got %q", f.refMode)
	case f.ssps < 0 || f.ssps > maxLoadSSPs:
		return bad("-ssps must be 0 (standalone) to %d, got %d", maxLoadSSPs, f.ssps)
	case f.ssps > 1 && f.pprof != "":
		return bad("-pprof gives one address: use it with -ssps 0 or 1, not %d", f.ssps)
	}
	for _, v := range f.views {
		if v < 1 {
			return bad("-views counts must be at least 1, got %d", v)
		}
	}
	if err := checkCompareFlags(f); err != nil {
		return bad("%v", err)
	}
	if f.db != "" {
		if err := checkLoopbackDB(f.db); err != nil {
			return bad("%v", err)
		}
	}
	if f.pprof != "" {
		host, _, err := net.SplitHostPort(f.pprof)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return bad("-pprof %q must be a loopback host:port such as 127.0.0.1:6060", f.pprof)
		}
	}
	return f, nil
}

// checkLoopbackDB checks a -db URL: the benchmarks only talk to a database on this machine.
func checkLoopbackDB(u string) error {
	host, err := urlHost(u)
	if err != nil {
		return fmt.Errorf("-db %q: %w", u, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-db %q is not on loopback: the benchmarks only talk to 127.0.0.1", u)
	}
	return nil
}

// urlHost returns the host of a ws://, wss://, http:// or https:// URL.
func urlHost(u string) (string, error) {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "", errors.New("want a URL such as ws://127.0.0.1:8000")
	}
	hostport, _, _ := strings.Cut(rest, "/")
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("want host:port after the scheme: %w", err)
	}
	return host, nil
}

// runLoad implements `ssp-bench load`.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseLoadFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	mode := "SSP subprocess"
	if f.ssps > 0 {
		mode = fmt.Sprintf("scheduler mode: %d SSP subprocess(es) behind the test scheduler (in this process)", f.ssps)
	}
	fmt.Fprintf(stdout, "ssp-bench load: %s %s/%s, CPU %s, %d cores, commit %s, %s, ref mode %s, load average %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), runtime.NumCPU(), commitID(), mode, f.refMode, loadAverage())
	bound := fmt.Sprintf("%s per cell", f.duration)
	switch {
	case f.soak > 0:
		bound = fmt.Sprintf("soak %s", f.soak)
	case f.count > 0 && f.duration > 0:
		bound = fmt.Sprintf("%d ingests or %s per cell", f.count, f.duration)
	case f.count > 0:
		bound = fmt.Sprintf("%d ingests per cell", f.count)
	}
	rate := "unlimited"
	if f.rate > 0 {
		rate = fmt.Sprintf("%.0f/s", f.rate)
	}
	probes := "off"
	switch {
	case f.floor:
		probes = "off (-floor: the measured ingests name tables of the SSP's own, " + floorPrefix + "…, answered and not applied)"
	case f.sample > 0:
		probes = fmt.Sprintf("1 in %d", f.sample)
	}
	window := "off (the data grows)"
	if f.window > 0 {
		window = fmt.Sprintf("%d rows per table", f.window)
	}
	backlog := "SSP default"
	if f.backlog == 0 {
		backlog = "unbounded"
	} else if f.backlog > 0 {
		backlog = strconv.Itoa(f.backlog)
	}
	fmt.Fprintf(stdout, "workload seed %d, %d initial rows, window %s, %d clients, %s, rate %s, lag probes %s, _00_rv %s, edge backlog %s\n",
		f.seed, f.rows, window, f.clients, bound, rate, probes, map[bool]string{true: "kept", false: "stripped"}[f.rv], backlog)
	if f.compare != "" {
		return runCompare(ctx, f, stdout)
	}
	if f.soak > 0 {
		res, err := loadCell(ctx, f, f.views[0], stdout)
		if err != nil {
			return fmt.Errorf("soak with %d views: %w", f.views[0], err)
		}
		printLoadHeader(stdout)
		printLoadRow(stdout, res)
		printKinds(stdout, res)
		fmt.Fprintln(stdout, summaryLine("soak", summarize(res)))
	} else {
		printLoadHeader(stdout)
		var all []cellStats
		for _, v := range f.views {
			res, err := loadCell(ctx, f, v, nil)
			if err != nil {
				return fmt.Errorf("%d views: %w", v, err)
			}
			printLoadRow(stdout, res)
			all = append(all, res)
		}
		for _, res := range all {
			printKinds(stdout, res)
		}
		for _, res := range all {
			fmt.Fprintln(stdout, summaryLine(commitID(), summarize(res)))
		}
	}
	fmt.Fprintf(stdout, "load average at the end: %s\n", loadAverage())
	return nil
}

// loadColumns are the table's column names.
var loadColumns = []string{"views", "ingests", "ingest/s", "p50", "p99", "busy", "errors", "edges/s", "drain",
	"clag50", "clag95", "lag50", "lag95", "lag-n", "ssp-cpu", "db-cpu", "gen-cpu", "cpu/ing", "B/ing", "rss", "heap"}

func printLoadHeader(w io.Writer) {
	fmt.Fprintf(w, "%6s %9s %9s %8s %8s %6s %6s %9s %8s %8s %8s %8s %8s %9s %7s %7s %7s %8s %7s %9s %9s\n", anySlice(loadColumns)...)
}

func printLoadRow(w io.Writer, r cellStats) {
	lagN := strconv.Itoa(r.lagSamples)
	if r.lagLost > 0 {
		lagN += fmt.Sprintf("/-%d", r.lagLost)
	}
	fmt.Fprintf(w, "%6d %9d %9.0f %8s %8s %6d %6d %9.0f %8s %8s %8s %8s %8s %9s %7s %7s %7s %8s %7s %9s %9s\n",
		r.views, r.ingests, r.perSec(), fmtLat(r.lat.quantile(50)), fmtLat(r.lat.quantile(99)), r.busy, r.errors,
		r.edgesPerSec(), fmtDur(r.drain), fmtLat(r.commitLag50), fmtLat(r.commitLag95), fmtLat(r.lagHist.quantile(50)), fmtLat(r.lagHist.quantile(95)), lagN,
		fmtCores(r.sspCPU, r.span), fmtCores(r.dbCPU, r.span), fmtCores(r.genCPU, r.span), r.cpuPerIngest(), r.allocPerIngest(), fmtSize(r.rss), fmtSize(r.heap))
}

// printKinds prints the latency of each kind of change of a cell.
func printKinds(w io.Writer, r cellStats) {
	fmt.Fprintf(w, "/ingest latency by change, %d views:", r.views)
	for k := range uint8(numKinds) {
		c, ok := r.kinds[k]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "  %s %.1f%% p50 %s p99 %s;", kindName(k), 100*float64(c.count())/float64(max(r.ingests, 1)),
			fmtLat(c.quantile(50)), fmtLat(c.quantile(99)))
	}
	fmt.Fprintln(w)
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// fmtLat formats a latency, "-" when unknown (negative).
func fmtLat(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmtDur(d)
}

// fmtCores formats CPU time over a span as cores in use, "-" when unknown.
func fmtCores(cpu, span time.Duration) string {
	if cpu < 0 || span <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", cpu.Seconds()/span.Seconds())
}

// fmtSize formats a byte count, "-" when unknown (0).
func fmtSize(b uint64) string {
	if b == 0 {
		return "-"
	}
	return fmtBytes(float64(b))
}

// loadAverage returns the 1-minute load average, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// commitID returns the VCS revision the binary was built from, or the checkout's HEAD.
func commitID() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 7 {
				rev = rev[:7]
			}
			if dirty {
				rev += "+dirty"
			}
			return rev
		}
	}
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if err := exec.Command("git", "diff", "--quiet", "HEAD", "--", ".").Run(); err != nil {
		rev += "+dirty"
	}
	return rev
}

// cellStats is what one cell measured.
type cellStats struct {
	views      int
	ingests    int64
	busy       int64         // 503 SSP_BUSY answers (backpressure), retried
	errors     int64         // other failures
	window     time.Duration // first ingest to last answer
	drain      time.Duration // last answer to every edge written
	span       time.Duration // window + drain (CPU and edge rates are over this)
	lat        histCounts
	edges      float64
	rows       float64 // edge rows written (ssp_edge_rows_written_total), -1 when the SSP has no such metric
	flushes    float64 // writer flushes (ssp_edge_write_duration_seconds_count), -1 when the SSP has no such metric
	lagHist    histCounts
	lagSamples int
	lagLost    int
	sspCPU     time.Duration // -1 when unknown
	dbCPU      time.Duration // -1 when unknown
	genCPU     time.Duration // the generator's process (-1 when unknown)
	rss, heap  uint64
	allocated  float64 // bytes the SSP allocated over the span (go_memstats_alloc_bytes_total)
	kinds      map[uint8]histCounts
	// commitLag50 and commitLag95 are the SSP's ssp_edge_lag_seconds over the span: step
	// applied → its edges committed, estimated from the histogram's buckets (-1 if unknown).
	commitLag50, commitLag95 time.Duration
}

// cpuPerIngest formats the SSP's CPU time per measured ingest (over the span: edge writes of
// the drain included).
func (r cellStats) cpuPerIngest() string {
	if r.sspCPU < 0 || r.ingests == 0 {
		return "-"
	}
	return fmtDur(r.sspCPU / time.Duration(r.ingests))
}

// allocPerIngest formats the bytes the SSP allocated per measured ingest.
func (r cellStats) allocPerIngest() string {
	if r.allocated <= 0 || r.ingests == 0 {
		return "-"
	}
	return fmtBytes(r.allocated / float64(r.ingests))
}

func (r cellStats) perSec() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.ingests) / r.window.Seconds()
}

func (r cellStats) edgesPerSec() float64 {
	if r.span <= 0 {
		return 0
	}
	return r.edges / r.span.Seconds()
}

// loadEnv is one cell's running database and SSPs (and scheduler).
type loadEnv struct {
	base    string // where ingests and registrations go: the SSP's base URL, or the scheduler's
	token   string
	http    *nethttp.Client
	ssps    []sspProcess             // the SSP subprocesses
	sched   *testscheduler.Scheduler // nil when standalone
	dbPID   int                      // the database's process, 0 if unknown
	dbURL   string
	dbUser  string
	dbPass  string
	ns, db  string
	refMode string
	bin     string         // the ssp binary built for this env ("" until built, or with -ssp-bin)
	closers []func() error // run in reverse order by close
}

func (e *loadEnv) close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		if err := e.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	e.closers = nil
	return errors.Join(errs...)
}

// startLoadEnv starts (or connects to) the database and starts the SSP, and waits until the
// SSP is ready.
func startLoadEnv(ctx context.Context, f loadFlags) (env *loadEnv, err error) {
	env = &loadEnv{ns: "load", db: "bench", dbUser: f.dbUser, dbPass: f.dbPass, refMode: f.refMode}
	defer func() {
		if err != nil {
			_ = env.close()
		}
	}()
	var logw io.Writer = io.Discard
	if f.verbose {
		logw = os.Stderr
	}
	if f.db == "" {
		srv, err := devdb.Start(ctx, devdb.Options{Log: logw})
		if err != nil {
			return env, fmt.Errorf("start the dev SurrealDB: %w", err)
		}
		env.closers = append(env.closers, srv.Close)
		env.dbURL, env.dbUser, env.dbPass = srv.URL(), srv.User, srv.Pass
		env.dbPID = childWithArg("server.mjs")
	} else {
		env.dbURL = f.db
		env.db = fmt.Sprintf("bench_%d", time.Now().UnixNano())
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	env.token = hex.EncodeToString(tok[:])
	args := []string{
		"--ssp-listen-addr", "127.0.0.1:0",
		"--db-ws", env.dbURL, "--db-user", env.dbUser, "--db-pass", env.dbPass,
		"--db-ns", env.ns, "--db-name", env.db,
		"--auth-secret", env.token,
		"--ssp-ref-mode", f.refMode,
		"--ttl-cleanup-interval-secs", "3600",
		"--log-level", "warn",
	}
	if f.backlog >= 0 {
		args = append(args, "--edge-backlog", strconv.Itoa(f.backlog))
	}
	env.http = &nethttp.Client{Transport: &nethttp.Transport{
		Proxy:               nil,
		MaxIdleConns:        f.clients + 8,
		MaxIdleConnsPerHost: f.clients + 8,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}}
	env.closers = append(env.closers, func() error { env.http.CloseIdleConnections(); return nil })
	if f.ssps > 0 {
		return env, startScheduled(ctx, env, f, args, logw)
	}
	p, err := startSubprocessSSP(ctx, env, f, args, logw)
	if err != nil {
		return env, err
	}
	env.ssps, env.base = []sspProcess{p}, p.base
	return env, env.waitReady(ctx, 2*time.Minute)
}

// sspProcess is one `ssp serve` subprocess.
type sspProcess struct {
	id   string // its SPKY_SSP_ID in scheduler mode
	base string // its base URL
	pid  int
}

// startSubprocessSSP runs `ssp serve` as a child process and reads its URL from its output.
// The binary is -ssp-bin, else ./cmd/ssp built once per env.
func startSubprocessSSP(ctx context.Context, env *loadEnv, f loadFlags, args []string, logw io.Writer) (sspProcess, error) {
	var p sspProcess
	bin := f.sspBin
	if bin == "" {
		if env.bin == "" {
			var err error
			if env.bin, err = buildSSP(ctx, env); err != nil {
				return p, err
			}
		}
		bin = env.bin
	}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = os.Environ()
	if f.pprof != "" {
		cmd.Env = append(cmd.Env, pprofEnv+"="+f.pprof)
	}
	stderr := &tailWriter{max: 16 << 10, next: logw}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return p, fmt.Errorf("start the SSP: %w", err)
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return p, fmt.Errorf("start the SSP (%s serve): %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "SSP listening on "); ok {
				u, _, _ := strings.Cut(rest, " ")
				select {
				case urlCh <- u:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
		waitErr = cmd.Wait()
		close(exited)
	}()
	p.pid = cmd.Process.Pid
	env.closers = append(env.closers, func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("the SSP did not stop within a minute of SIGTERM and was killed; stderr: %s", stderr)
		}
		if waitErr != nil {
			return fmt.Errorf("the SSP exited with %v; stderr: %s", waitErr, stderr)
		}
		return nil
	})
	select {
	case p.base = <-urlCh:
		return p, nil
	case <-exited:
		return p, fmt.Errorf("the SSP exited before listening (%v): %s", waitErr, stderr)
	case <-time.After(time.Minute):
		return p, fmt.Errorf("the SSP printed no listening line within a minute; stderr: %s", stderr)
	case <-ctx.Done():
		return p, ctx.Err()
	}
}

// tailWriter keeps the last max bytes written and copies everything to next.
type tailWriter struct {
	mu   sync.Mutex
	max  int
	buf  []byte
	next io.Writer
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	_, _ = t.next.Write(p)
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// waitReady polls /health until the SSP is ready.
func (e *loadEnv) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		status, body, err := e.do(ctx, nethttp.MethodGet, "/health", nil)
		switch {
		case err == nil && status == nethttp.StatusOK:
			return nil
		case err != nil:
			last = err.Error()
		default:
			last = fmt.Sprintf("%d %s", status, body)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the SSP was not ready within %s (last /health: %s)", timeout, last)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// do sends one request to the SSP and returns the status and body.
func (e *loadEnv) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := nethttp.NewRequestWithContext(ctx, method, e.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	client := e.http
	if client == nil {
		client = nethttp.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// metrics scrapes the /metrics of every SSP; sums over the result add up the SSPs.
func (e *loadEnv) metrics(ctx context.Context) (promMetrics, error) {
	var all promMetrics
	for _, p := range e.ssps {
		m, err := scrapeMetrics(ctx, e.http, p.base+"/metrics")
		if err != nil {
			return nil, err
		}
		all = append(all, m...)
	}
	return all, nil
}

// sspUsage returns the CPU time and resident set of the SSP processes together.
func (e *loadEnv) sspUsage() (cpu time.Duration, rss uint64, err error) {
	for _, p := range e.ssps {
		c, r, err := procUsage(p.pid)
		if err != nil {
			return 0, 0, err
		}
		cpu, rss = cpu+c, rss+r
	}
	return cpu, rss, nil
}

// waitDrained waits until no ingest is queued and every edge item is written.
func (e *loadEnv) waitDrained(ctx context.Context, timeout time.Duration) (promMetrics, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := e.metrics(ctx)
		if err != nil {
			return nil, err
		}
		depth, ok := m.sum("ssp_mailbox_depth")
		if !ok {
			return nil, errors.New("the SSP's /metrics has no ssp_mailbox_depth")
		}
		if depth == 0 {
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("edge writers still had %.0f items queued after %s", depth, timeout)
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ingestBody encodes a change as a POST /ingest body; without rv the record's `_00_rv` is
// dropped.
func ingestBody(c engine.Change, rv bool) []byte {
	return encodeIngest(c.Table, value.RecordString(c.ID), c, func(key string) bool { return !rv && key == "_00_rv" })
}

// floorPrefix makes the tables of -floor's ingests: `_00_…` tables are the SSP's own, answered
// 200 and not applied (SPEC §1.1).
const floorPrefix = "_00_floor_"

// floorBody is ingestBody's body for a table of the SSP's own (-floor): the same request but
// for the table and id (whose record field is left out: it would name the workload's table).
func floorBody(c engine.Change, rv bool) []byte {
	return encodeIngest(floorPrefix+c.Table, floorPrefix+value.RecordString(c.ID), c,
		func(key string) bool { return key == "id" || (!rv && key == "_00_rv") })
}

// encodeIngest encodes c as a POST /ingest body of table and id, without the record fields
// that drop reports.
func encodeIngest(table, id string, c engine.Change, drop func(key string) bool) []byte {
	m := map[string]any{"table": table, "op": c.Op.String(), "id": id}
	if c.Op != engine.OpDelete {
		rec := c.Record
		if slices.ContainsFunc(rec.Fields(), func(fl value.Field) bool { return drop(fl.Key) }) {
			fields := make([]value.Field, 0, rec.Len())
			for _, fl := range rec.Fields() {
				if !drop(fl.Key) {
					fields = append(fields, fl)
				}
			}
			rec = value.ObjectOf(fields)
		}
		m["record"] = rec.ToAny()
	}
	b, err := json.Marshal(m)
	if err != nil { // values of the workload always encode
		panic(fmt.Sprintf("encode ingest of %s: %v", value.RecordString(c.ID), err))
	}
	return b
}

// probeBody is the ingest of lag probe n.
func probeBody(op string, n int64) []byte {
	if op == "DELETE" {
		return fmt.Appendf(nil, `{"table":%q,"op":"DELETE","id":"%s:%d"}`, probeTable, probeTable, n)
	}
	return fmt.Appendf(nil, `{"table":%q,"op":"CREATE","id":"%s:%d","record":{"n":%d}}`, probeTable, probeTable, n, n)
}

// versionWrites returns the `_00_version` upserts that make the `_00_rv` waits of changes
// succeed (the writer's transaction does this in production), or nil.
func versionWrites(cs []engine.Change) (string, map[string]any) {
	var sb strings.Builder
	vars := map[string]any{}
	for i, c := range cs {
		rv := c.Record.Get("_00_rv")
		if c.Op == engine.OpDelete || rv.Kind() != value.KindInt {
			continue
		}
		vars[fmt.Sprintf("k%d", i)] = value.RecordString(c.ID)
		vars[fmt.Sprintf("r%d", i)] = models.NewRecordID(c.ID.Table(), c.ID.Key().ToAny())
		vars[fmt.Sprintf("v%d", i)] = rv.AsInt()
		fmt.Fprintf(&sb, "UPSERT type::record('_00_version', $k%d) SET record_id = $r%d, version = $v%d;\n", i, i, i)
	}
	return sb.String(), vars
}

// bodySource hands out the ingest bodies of the workload's change stream to the clients:
// first the pregenerated ones, then (unless the run is bounded by their number) bodies a
// producer goroutine makes on the fly.
type bodySource struct {
	pre  []ingestReq    // pregenerated bodies
	next atomic.Int64   // index into pre
	ch   chan ingestReq // produced on the fly, nil when pre is all there is
	stop chan struct{}  // ends the producer
	done chan struct{}  // closed when the producer has ended
}

// maxPregen bounds the pregenerated bodies (a few hundred bytes each).
const maxPregen = 300_000

// newBodySource pregenerates n bodies (at most maxPregen); when more may be needed (exact is
// false, or n > maxPregen) a producer continues the stream once they are used up. write, if not
// nil, makes the `_00_version` rows of each batch of changes before its bodies are handed out.
func newBodySource(next func() engine.Change, n int, exact bool, body func(engine.Change) []byte, write func([]engine.Change) error) (*bodySource, error) {
	const batch = 256
	s := &bodySource{stop: make(chan struct{}), done: make(chan struct{})}
	pre := min(n, maxPregen)
	cs := make([]engine.Change, 0, batch)
	for i := 0; i < pre; i++ {
		c := next()
		s.pre = append(s.pre, ingestReq{body(c), kindOf(c.Table, c.Op)})
		if cs = append(cs, c); write != nil && (len(cs) == batch || i == pre-1) {
			if err := write(cs); err != nil {
				return nil, err
			}
			cs = cs[:0]
		}
	}
	if exact && n <= maxPregen {
		close(s.done)
		return s, nil
	}
	s.ch = make(chan ingestReq, 4*batch)
	go func() {
		defer close(s.done)
		for {
			cs := make([]engine.Change, batch)
			for i := range cs {
				cs[i] = next()
			}
			if write != nil {
				if err := write(cs); err != nil {
					return
				}
			}
			for _, c := range cs {
				select {
				case s.ch <- ingestReq{body(c), kindOf(c.Table, c.Op)}:
				case <-s.stop:
					return
				}
			}
		}
	}()
	return s, nil
}

// get returns the next body, false when the bodies are used up or the producer ended.
func (s *bodySource) get() (ingestReq, bool) {
	if i := s.next.Add(1) - 1; i < int64(len(s.pre)) {
		return s.pre[i], true
	}
	if s.ch == nil {
		return ingestReq{}, false
	}
	select {
	case b := <-s.ch:
		return b, true
	case <-s.done:
		return ingestReq{}, false
	}
}

func (s *bodySource) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// probeTracker pairs the 200 OK of each lag probe with its edge's LIVE notification.
type probeTracker struct {
	mu      sync.Mutex
	acked   map[int64]time.Time // 200 OK seen, notification not yet
	noticed map[int64]time.Time // notification seen before the 200 OK
	lag     latHist
	samples atomic.Int64
	deletes chan int64 // probes to delete by a later ingest
}

func newProbeTracker() *probeTracker {
	return &probeTracker{acked: map[int64]time.Time{}, noticed: map[int64]time.Time{}, deletes: make(chan int64, 4096)}
}

func (p *probeTracker) ack(n int64, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.noticed[n]; ok {
		delete(p.noticed, n)
		p.record(n, t.Sub(at))
		return
	}
	p.acked[n] = at
}

func (p *probeTracker) notice(n int64, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.acked[n]; ok {
		delete(p.acked, n)
		p.record(n, at.Sub(t))
		return
	}
	p.noticed[n] = at
}

// record counts one lag sample (an edge visible before the 200 OK arrived counts as 0) and
// queues the probe's deletion.
func (p *probeTracker) record(n int64, lag time.Duration) {
	p.lag.add(max(lag, 0))
	p.samples.Add(1)
	select {
	case p.deletes <- n:
	default: // the row stays; it only grows the probe view a little
	}
}

// outstanding returns the probes acknowledged whose edge has not been seen yet.
func (p *probeTracker) outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// watchProbes subscribes to the probe view's edges and feeds their notifications to p until
// ctx ends. It returns once the LIVE query is running.
func watchProbes(ctx context.Context, env *loadEnv, p *probeTracker) (stop func(), err error) {
	db, err := surrealdb.FromEndpointURLString(ctx, env.dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to SurrealDB for the lag probe: %w", err)
	}
	fail := func(err error) (func(), error) {
		_ = db.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: env.dbUser, Password: env.dbPass}); err != nil {
		return fail(fmt.Errorf("lag probe: sign in: %w", err))
	}
	if err := db.Use(ctx, env.ns, env.db); err != nil {
		return fail(fmt.Errorf("lag probe: use %s/%s: %w", env.ns, env.db, err))
	}
	q := fmt.Sprintf("LIVE SELECT * FROM %s WHERE in = _00_query:%s", membership.TableFor(membership.RefMode(env.refMode), probeOwner), probeView)
	res, err := surrealdb.Query[models.UUID](ctx, db, q, nil)
	if err != nil {
		return fail(fmt.Errorf("lag probe: %s: %w", q, err))
	}
	liveID := (*res)[0].Result.String()
	notes, err := db.LiveNotifications(liveID)
	if err != nil {
		return fail(fmt.Errorf("lag probe: live notifications: %w", err))
	}
	done := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case n, ok := <-notes:
				if !ok {
					return
				}
				at := time.Now()
				if n.Action != connection.CreateAction && n.Action != connection.UpdateAction {
					continue
				}
				if id, ok := probeOf(n.Result); ok {
					p.notice(id, at)
				}
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = surrealdb.Query[any](cctx, db, "KILL $id", map[string]any{"id": (*res)[0].Result})
		_ = db.Close(cctx)
	}, nil
}

// probeOf returns n when an edge notification's `out` is lagprobe:n.
func probeOf(result any) (int64, bool) {
	row, ok := result.(map[string]any)
	if !ok {
		return 0, false
	}
	var rid models.RecordID
	switch out := row["out"].(type) {
	case models.RecordID:
		rid = out
	case *models.RecordID:
		if out == nil {
			return 0, false
		}
		rid = *out
	default:
		return 0, false
	}
	if rid.Table != probeTable {
		return 0, false
	}
	switch id := rid.ID.(type) {
	case uint64:
		return int64(id), true
	case int64:
		return id, true
	}
	return 0, false
}

// runner drives the measured ingests.
type runner struct {
	env     *loadEnv
	src     *bodySource
	probes  *probeTracker // nil without probes
	sample  int64
	limit   int64 // 0: none
	rate    float64
	start   time.Time
	issued  atomic.Int64
	errors  atomic.Int64
	busy    atomic.Int64
	lastErr atomic.Value      // string
	hists   [numKinds]latHist // per kind of change
}

// client is one HTTP client's loop.
func (r *runner) client(ctx context.Context) {
	hc, err := newRawClient(r.env.base, "/ingest", r.env.token)
	if err != nil {
		r.fail(err.Error())
		return
	}
	defer hc.close()
	over := func() bool { // the run ended (a deadline may pass on the socket before ctx says so)
		dl, ok := ctx.Deadline()
		return ctx.Err() != nil || ok && !time.Now().Before(dl)
	}
	for !over() {
		var body []byte
		kind := kindOf(probeTable, engine.OpDelete)
		probe := int64(0)
		if r.probes != nil {
			select {
			case n := <-r.probes.deletes:
				body = probeBody("DELETE", n)
			default:
			}
		}
		if body == nil {
			i := r.issued.Add(1) - 1
			if r.limit > 0 && i >= r.limit {
				return
			}
			if r.rate > 0 {
				due := r.start.Add(time.Duration(float64(i) / r.rate * float64(time.Second)))
				if wait := time.Until(due); wait > 0 && sleepCtx(ctx, wait) != nil {
					return
				}
			}
			if r.probes != nil && i%r.sample == 0 {
				probe = i/r.sample + 1
				body, kind = probeBody("CREATE", probe), kindOf(probeTable, engine.OpCreate)
			} else {
				req, ok := r.src.get()
				if !ok {
					return
				}
				body, kind = req.body, req.kind
			}
		}
		t0 := time.Now()
		status, rb, err := hc.post(ctx, body)
		t1 := time.Now()
		switch {
		case err != nil:
			if !over() {
				r.fail(err.Error())
			}
			continue
		case status == 503 && bytes.Contains(rb, []byte("SSP_BUSY")):
			// Backpressure: the change was not accepted; the next one waits a little.
			r.busy.Add(1)
			_ = sleepCtx(ctx, 10*time.Millisecond)
			continue
		case status != 200:
			r.fail(fmt.Sprintf("%d %s", status, rb))
			continue
		}
		r.hists[kind].add(t1.Sub(t0))
		if probe > 0 {
			r.probes.ack(probe, t1)
		}
	}
}

func (r *runner) fail(msg string) {
	r.errors.Add(1)
	r.lastErr.Store(msg)
}

func (r *runner) latency() histCounts {
	var c histCounts
	for k := range r.hists {
		c = c.plus(r.hists[k].snapshot())
	}
	return c
}

// byKind returns the latency of each kind of change that was sent.
func (r *runner) byKind() map[uint8]histCounts {
	out := map[uint8]histCounts{}
	for k := range r.hists {
		if c := r.hists[k].snapshot(); c.count() > 0 {
			out[uint8(k)] = c
		}
	}
	return out
}

// ingestReq is one pregenerated /ingest body and its kind (kindOf).
type ingestReq struct {
	body []byte
	kind uint8
}

// Kinds of change, for latencies per table and operation: kindTables × the four operations.
var kindTables = []string{"user", "thread", "comment", probeTable}

const numKinds = 5 * 4 // kindTables plus "other"

// kindOf returns the kind of a change of table with op.
func kindOf(table string, op engine.Op) uint8 {
	t := len(kindTables)
	for i, name := range kindTables {
		if name == table {
			t = i
		}
	}
	return uint8(t*4 + int(op-engine.OpCreate))
}

// kindName spells a kind.
func kindName(k uint8) string {
	t, op := int(k/4), engine.OpCreate+engine.Op(k%4)
	name := "other"
	if t < len(kindTables) {
		name = kindTables[t]
	}
	return name + " " + op.String()
}

// loadCell runs one cell with v views. With f.soak it runs for f.soak and prints a sample
// line to soakOut every f.soakEvery.
func loadCell(ctx context.Context, f loadFlags, v int, soakOut io.Writer) (res cellStats, err error) {
	res = cellStats{views: v, sspCPU: -1, dbCPU: -1, genCPU: -1}
	env, err := startLoadEnv(ctx, f)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := env.close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop: %w", cerr)
		}
	}()
	w := workload.New(f.seed, workload.Config{Views: v, Rows: f.rows, Window: f.window})

	var writeVersions func([]engine.Change) error
	if f.rv {
		vdb, err := connectDB(ctx, env)
		if err != nil {
			return res, err
		}
		defer func() { _ = vdb.Close(context.WithoutCancel(ctx)) }()
		if _, err := surrealdb.Query[any](ctx, vdb, "DEFINE TABLE IF NOT EXISTS _00_version SCHEMALESS;"+
			"DEFINE INDEX IF NOT EXISTS idx_record_id ON TABLE _00_version COLUMNS record_id UNIQUE;", nil); err != nil {
			return res, fmt.Errorf("define _00_version: %w", err)
		}
		writeVersions = func(cs []engine.Change) error {
			q, vars := versionWrites(cs)
			if q == "" {
				return nil
			}
			if _, err := surrealdb.Query[any](ctx, vdb, "BEGIN;\n"+q+"COMMIT;", vars); err != nil {
				return fmt.Errorf("write _00_version rows: %w", err)
			}
			return nil
		}
	}

	// Initial rows (no views yet, so no edges), then the views and the probe view.
	initial := w.Initial()
	if writeVersions != nil {
		for i := 0; i < len(initial); i += 500 {
			if err := writeVersions(initial[i:min(i+500, len(initial))]); err != nil {
				return res, err
			}
		}
	}
	next := w.Next
	if env.sched != nil {
		// The scheduler refuses MERGE, as the real one does: send what Sp00ky's events send.
		u := newUpserts()
		for i, c := range initial {
			initial[i] = u.change(c)
		}
		next = func() engine.Change { return u.change(w.Next()) }
	}
	bodies := make([][]byte, 0, len(initial)+1)
	for _, c := range initial {
		bodies = append(bodies, ingestBody(c, f.rv))
	}
	bodies = append(bodies, probeBody("CREATE", 0)) // the probe view's anchor member
	if err := env.sendAll(ctx, "/ingest", bodies, f.clients); err != nil {
		return res, fmt.Errorf("ingest the %d initial rows: %w", len(initial), err)
	}
	regs := make([][]byte, 0, v+1)
	for _, vs := range w.Views() {
		regs = append(regs, registerBody(vs.ID, vs.SurQL, vs.Params))
	}
	regs = append(regs, registerBody(probeView, "SELECT * FROM "+probeTable, probeParams))
	if err := env.sendAll(ctx, "/view/register", regs, min(f.clients, 8)); err != nil {
		return res, fmt.Errorf("register %d views: %w", v+1, err)
	}
	if _, err := env.waitDrained(ctx, 10*time.Minute); err != nil {
		return res, fmt.Errorf("initial edges: %w", err)
	}

	r := &runner{env: env, sample: int64(f.sample), limit: int64(f.count), rate: f.rate}
	body := func(c engine.Change) []byte { return ingestBody(c, f.rv) }
	if f.floor {
		r.sample = 0
		body = func(c engine.Change) []byte { return floorBody(c, f.rv) }
	}
	if r.sample > 0 {
		r.probes = newProbeTracker()
		stopWatch, err := watchProbes(ctx, env, r.probes)
		if err != nil {
			return res, err
		}
		defer stopWatch()
	}
	// Pregenerate what the run needs (the count, or a guess from the duration and the rate) so
	// that making bodies does not compete with the SSP for the CPU while measuring.
	pregen, exact := f.count, f.count > 0
	if !exact {
		perSec := f.rate
		if perSec <= 0 {
			perSec = 15000
		}
		pregen = int(perSec * max(f.duration, f.soak).Seconds())
	}
	measuredVersions := writeVersions
	if f.floor {
		measuredVersions = nil // the floor's ingests are not applied: no `_00_rv` waits to satisfy
	}
	if r.src, err = newBodySource(next, pregen, exact, body, measuredVersions); err != nil {
		return res, err
	}
	defer r.src.close()

	m0, err := env.metrics(ctx)
	if err != nil {
		return res, err
	}
	sspCPU0, _, sspErr := env.sspUsage()
	dbCPU0, _, dbErr := procUsage(env.dbPID)
	if env.dbPID == 0 {
		dbErr = errors.New("unknown database process")
	}
	genCPU0, genOK := processCPU()

	runFor := f.duration
	if f.soak > 0 {
		runFor = f.soak
	}
	rctx, cancel := context.WithCancel(ctx)
	if runFor > 0 {
		rctx, cancel = context.WithTimeout(ctx, runFor)
	}
	defer cancel()
	r.start = time.Now()
	var wg sync.WaitGroup
	for range f.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.client(rctx)
		}()
	}
	if soakOut != nil {
		allDone := make(chan struct{})
		go func() { wg.Wait(); close(allDone) }()
		soakSamples(rctx, env, r, f.soakEvery, soakOut, allDone)
	}
	wg.Wait()
	end := time.Now()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.window = end.Sub(r.start)
	res.lat = r.latency()
	res.kinds = r.byKind()
	res.ingests = int64(res.lat.count())
	res.errors = r.errors.Load()
	res.busy = r.busy.Load()
	if res.errors > 0 {
		fmt.Fprintf(os.Stderr, "ssp load: %d views: %d ingests failed; last: %v\n", v, res.errors, r.lastErr.Load())
	}

	m2, err := env.waitDrained(ctx, 10*time.Minute)
	if err != nil {
		return res, err
	}
	drained := time.Now()
	res.drain = drained.Sub(end)
	res.span = drained.Sub(r.start)
	res.edges = m2.get("ssp_edge_writes_total") - m0.get("ssp_edge_writes_total")
	res.rows = -1
	if after, ok := m2.sum("ssp_edge_rows_written_total"); ok {
		res.rows = after - m0.get("ssp_edge_rows_written_total")
	}
	res.flushes = -1
	if after, ok := m2.sum("ssp_edge_write_duration_seconds_count"); ok {
		res.flushes = after - m0.get("ssp_edge_write_duration_seconds_count")
	}
	if env.sched != nil {
		fanoutAnswers(&res, env, m0, m2, v)
	}
	res.allocated = m2.get("go_memstats_alloc_bytes_total") - m0.get("go_memstats_alloc_bytes_total")
	for _, c := range []struct{ name, what string }{
		{"ssp_rv_wait_timeouts_total", "_00_version waits gave up"},
		{"ssp_edge_write_failures_total", "edge flushes failed (and were retried)"},
		{"ssp_actor_restarts_total", "actors were restarted"},
	} {
		if n := m2.get(c.name) - m0.get(c.name); n > 0 {
			fmt.Fprintf(os.Stderr, "ssp load: %d views: %.0f %s during the run\n", v, n, c.what)
		}
	}
	res.commitLag50 = bucketQuantile(m0, m2, "ssp_edge_lag_seconds", 50)
	res.commitLag95 = bucketQuantile(m0, m2, "ssp_edge_lag_seconds", 95)
	if sspErr == nil {
		if cpu, _, err := env.sspUsage(); err == nil {
			res.sspCPU = cpu - sspCPU0
		}
	}
	if dbErr == nil {
		if cpu, _, err := procUsage(env.dbPID); err == nil {
			res.dbCPU = cpu - dbCPU0
		}
	}
	if cpu, ok := processCPU(); ok && genOK {
		res.genCPU = cpu - genCPU0
	}
	if _, rss, err := env.sspUsage(); err == nil {
		res.rss = rss
	} else if rss, ok := m2.sum("process_resident_memory_bytes"); ok {
		res.rss = uint64(rss)
	}
	res.heap = uint64(m2.get("go_memstats_heap_alloc_bytes"))
	if r.probes != nil {
		// The last probes' notifications may still be on their way.
		deadline := time.Now().Add(5 * time.Second)
		for r.probes.outstanding() > 0 && time.Now().Before(deadline) {
			if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
				return res, err
			}
		}
		res.lagHist = r.probes.lag.snapshot()
		res.lagSamples = int(r.probes.samples.Load())
		res.lagLost = r.probes.outstanding()
	}
	return res, nil
}

// connectDB opens an SDK connection to the cell's database.
func connectDB(ctx context.Context, env *loadEnv) (*surrealdb.DB, error) {
	db, err := surrealdb.FromEndpointURLString(ctx, env.dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to SurrealDB at %s: %w", env.dbURL, err)
	}
	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: env.dbUser, Password: env.dbPass}); err != nil {
		_ = db.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("sign in to SurrealDB as %s: %w", env.dbUser, err)
	}
	if err := db.Use(ctx, env.ns, env.db); err != nil {
		_ = db.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("use %s/%s: %w", env.ns, env.db, err)
	}
	return db, nil
}

// registerBody is a POST /view/register body.
func registerBody(id, surql string, params value.Value) []byte {
	m := map[string]any{"id": "_00_query:" + id, "surql": surql, "clientId": "ssp-load", "ttl": "1d"}
	if params.Kind() == value.KindObject {
		m["params"] = params.ToAny()
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("encode registration of %s: %v", id, err))
	}
	return b
}

// sendAll POSTs every body to path with n concurrent clients; the first failure ends it.
func (e *loadEnv) sendAll(ctx context.Context, path string, bodies [][]byte, n int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(bodies)) {
					return
				}
				status, rb, err := e.do(ctx, nethttp.MethodPost, path, bodies[i])
				if err == nil && status != nethttp.StatusOK {
					err = fmt.Errorf("status %d: %s", status, rb)
				}
				if err != nil {
					cancel(fmt.Errorf("POST %s %s: %w", path, bodies[i], err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// soakSamples prints one line every interval until ctx ends or done closes.
func soakSamples(ctx context.Context, env *loadEnv, r *runner, every time.Duration, out io.Writer, done <-chan struct{}) {
	fmt.Fprintf(out, "%8s %9s %8s %8s %9s %8s %9s %9s %9s %9s %6s\n",
		"elapsed", "ingest/s", "p50", "p99", "edges/s", "lag95", "backlog", "rss", "heap", "live", "gorout")
	tick := time.NewTicker(every)
	defer tick.Stop()
	prevLat := r.latency()
	var prevLag histCounts
	if r.probes != nil {
		prevLag = r.probes.lag.snapshot()
	}
	prevAt := r.start
	pm, _ := env.metrics(ctx)
	prevEdges := pm.get("ssp_edge_writes_total")
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-tick.C:
		}
		now := time.Now()
		lat := r.latency()
		dl := lat.minus(prevLat)
		var lag histCounts
		if r.probes != nil {
			lag = r.probes.lag.snapshot()
		}
		dlag := lag.minus(prevLag)
		mctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := env.metrics(mctx)
		cancel()
		if err != nil {
			fmt.Fprintf(out, "%8s scrape failed: %v\n", now.Sub(r.start).Round(time.Second), err)
			continue
		}
		secs := now.Sub(prevAt).Seconds()
		var rss uint64
		if _, x, err := env.sspUsage(); err == nil {
			rss = x
		}
		edges := m.get("ssp_edge_writes_total")
		fmt.Fprintf(out, "%8s %9.0f %8s %8s %9.0f %8s %9.0f %9s %9s %9s %6.0f\n",
			now.Sub(r.start).Round(time.Second), float64(dl.count())/secs, fmtLat(dl.quantile(50)), fmtLat(dl.quantile(99)),
			(edges-prevEdges)/secs, fmtLat(dlag.quantile(95)), m.get("ssp_mailbox_depth", `actor="writers"`),
			fmtSize(rss), fmtSize(uint64(m.get("go_memstats_heap_alloc_bytes"))),
			fmtSize(uint64(m.get("go_gc_heap_live_bytes"))), m.get("go_goroutines"))
		prevLat, prevLag, prevAt, prevEdges = lat, lag, now, edges
	}
}
