package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sp00ky/ssp/internal/workload"
	"github.com/sp00ky/ssp/surreal/engine"
)

// benchFlags are the options of `ssp-bench engine`.
type benchFlags struct {
	views   []int
	rows    []int
	changes int
	seed    int64
}

const benchUsage = `Usage: ssp-bench engine [flags]

Benchmarks the view engine on the workload of package internal/workload, on one core
(GOMAXPROCS=1), for every combination of -views and -rows. Per cell: load the rows, register the
views, then apply -changes changes of the workload's change stream one by one.

Columns: views, rows; load = time to apply the initial rows; register = time to register all
views; changes/s, p50, p99 = throughput and latency (wall clock) of engine.Apply over the
change stream; cpu/ch = process CPU time per change over the stream (includes GC; unlike wall
time it does not grow when other processes take the core); allocs/ch = heap allocations per
change; deltas/ch = views whose membership changed, per change; B/row = heap per stored row (after GC, rows loaded vs
empty engine); B/view = heap per view (views registered vs rows only); members = members of all
views after the stream.

Flags:
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := benchFlags{views: []int{10, 100, 1000}, rows: []int{1000, 10000, 100000}}
	fs := newFlags("ssp-bench engine", benchUsage, stderr)
	fs.Func("views", "comma-separated view counts (default 10,100,1000)", intList(&f.views))
	fs.Func("rows", "comma-separated initial row counts, k/m suffixes allowed (default 1k,10k,100k)", intList(&f.rows))
	fs.IntVar(&f.changes, "changes", 10000, "changes applied per cell")
	fs.Int64Var(&f.seed, "seed", 1, "workload seed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ssp-bench engine: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if f.changes < 1 {
		fmt.Fprintf(stderr, "ssp-bench engine: -changes must be at least 1, got %d\n", f.changes)
		return errUsage
	}

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	fmt.Fprintf(stdout, "ssp-bench engine: GOMAXPROCS=%d, %s %s/%s, CPU %s, seed %d, %d changes per cell\n",
		runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), f.seed, f.changes)
	fmt.Fprintf(stdout, "%6s %7s %9s %9s %10s %9s %9s %9s %9s %9s %9s %9s %9s\n",
		"views", "rows", "load", "register", "changes/s", "p50", "p99", "cpu/ch", "allocs/ch", "deltas/ch", "B/row", "B/view", "members")
	for _, v := range f.views {
		for _, r := range f.rows {
			res, err := benchCell(ctx, f.seed, workload.Config{Views: v, Rows: r}, f.changes)
			if err != nil {
				return fmt.Errorf("views=%d rows=%d: %w", v, r, err)
			}
			cpu := "n/a"
			if res.cpuPerChange >= 0 {
				cpu = fmtDur(res.cpuPerChange)
			}
			fmt.Fprintf(stdout, "%6d %7d %9s %9s %10.0f %9s %9s %9s %9.1f %9.2f %9s %9s %9d\n",
				v, r, fmtDur(res.load), fmtDur(res.register), res.perSec(), fmtDur(res.p50), fmtDur(res.p99),
				cpu, res.allocsPerChange, res.deltasPerChange, fmtBytes(res.bytesPerRow), fmtBytes(res.bytesPerView), res.members)
		}
	}
	return nil
}

// cellResult is what one benchmark cell measured.
type cellResult struct {
	load, register  time.Duration
	total, p50, p99 time.Duration // over the change stream
	changes         int
	cpuPerChange    time.Duration // -1 when unknown
	allocsPerChange float64
	deltasPerChange float64
	bytesPerRow     float64
	bytesPerView    float64
	members         int
}

func (r cellResult) perSec() float64 {
	if r.total <= 0 {
		return 0
	}
	return float64(r.changes) / r.total.Seconds()
}

// benchCell loads cfg.Rows rows, registers cfg.Views views and applies n changes, measuring each.
func benchCell(ctx context.Context, seed int64, cfg workload.Config, n int) (cellResult, error) {
	var res cellResult
	w := workload.New(seed, cfg)
	views := w.Views()
	stream := make([]engine.Change, n) // generated first: live in every heap reading below
	for i := range stream {
		stream[i] = w.Next()
	}
	lat := make([]time.Duration, n)
	eng := engine.New(engine.Options{})

	// B/row: the initial changes are generated after the first reading and dropped before the
	// second, so the difference is everything the engine keeps for the rows.
	heap0 := heapAfterGC()
	nrows, load, err := loadRows(ctx, eng, w.Initial())
	if err != nil {
		return res, err
	}
	res.load = load
	heap1 := heapAfterGC()
	if nrows > 0 {
		res.bytesPerRow = float64(int64(heap1)-int64(heap0)) / float64(nrows)
	}

	start := time.Now()
	for _, v := range views {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if _, err := eng.Register(v.ID, v.SurQL, v.Params); err != nil {
			return res, fmt.Errorf("register %s (%s): %w", v.ID, v.SurQL, err)
		}
	}
	res.register = time.Since(start)
	heap2 := heapAfterGC()
	if len(views) > 0 {
		res.bytesPerView = float64(int64(heap2)-int64(heap1)) / float64(len(views))
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, cpuOK := processCPU()
	ndeltas := 0
	for i, c := range stream {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		t0 := time.Now()
		deltas, err := eng.Apply(c)
		lat[i] = time.Since(t0)
		ndeltas += len(deltas)
		if err != nil {
			return res, fmt.Errorf("change %d (%s of %s): %w", i, c.Op, c.ID.SurQL(), err)
		}
	}
	cpu1, _ := processCPU()
	runtime.ReadMemStats(&after)
	res.changes = n
	res.cpuPerChange = -1
	if cpuOK {
		res.cpuPerChange = (cpu1 - cpu0) / time.Duration(n)
	}
	res.allocsPerChange = float64(after.Mallocs-before.Mallocs) / float64(n)
	res.deltasPerChange = float64(ndeltas) / float64(n)
	for _, d := range lat {
		res.total += d
	}
	slices.Sort(lat)
	res.p50, res.p99 = percentile(lat, 50), percentile(lat, 99)
	for _, id := range eng.Views() {
		ms, _ := eng.Members(id)
		res.members += len(ms)
	}
	return res, nil
}

// loadRows applies the initial rows and returns their number and how long it took.
func loadRows(ctx context.Context, eng *engine.Engine, initial []engine.Change) (int, time.Duration, error) {
	start := time.Now()
	for i, c := range initial {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
		}
		if _, err := eng.Apply(c); err != nil {
			return 0, 0, fmt.Errorf("load %s: %w", c.ID.SurQL(), err)
		}
	}
	return len(initial), time.Since(start), nil
}

// heapAfterGC returns the live heap size after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// percentile returns the nearest-rank p-th percentile of sorted, which must not be empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// intList returns a flag.Func parser of comma-separated positive counts with optional k/m
// suffixes ("1k,10k,100000").
func intList(dst *[]int) func(string) error {
	return func(s string) error {
		var out []int
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(strings.ToLower(part))
			mult := 1
			switch {
			case strings.HasSuffix(part, "k"):
				mult, part = 1000, strings.TrimSuffix(part, "k")
			case strings.HasSuffix(part, "m"):
				mult, part = 1000000, strings.TrimSuffix(part, "m")
			}
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 {
				return fmt.Errorf("%q is not a count (want e.g. 10,1k,100k)", s)
			}
			out = append(out, n*mult)
		}
		*dst = out
		return nil
	}
}

// cpuModel returns the CPU model name from /proc/cpuinfo, or "unknown".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

func fmtBytes(b float64) string {
	switch {
	case b >= 1<<20 || b <= -(1<<20):
		return fmt.Sprintf("%.1fMiB", b/(1<<20))
	case b >= 1<<10 || b <= -(1<<10):
		return fmt.Sprintf("%.1fKiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0fB", b)
	}
}
