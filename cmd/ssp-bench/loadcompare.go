package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"time"
)

// cellSummary is the part of a cell that is compared across commits: one line per cell.
type cellSummary struct {
	views      int
	perSec     float64
	p99        time.Duration // -1 when unknown
	cpuPerIng  time.Duration // the SSP's CPU per ingest, -1 when unknown
	dbCPUPerIn time.Duration // the database's CPU per ingest, -1 when unknown
	edgesPerIn float64       // edge writes per ingest
	rowsPerIn  float64       // edge rows written per ingest, -1 when unknown
	flushPerIn float64       // writer flushes per ingest, -1 when unknown
	lag95      time.Duration // client-visible lag, -1 when unknown
}

func summarize(r cellStats) cellSummary {
	s := cellSummary{views: r.views, perSec: r.perSec(), p99: r.lat.quantile(99), cpuPerIng: -1, dbCPUPerIn: -1,
		rowsPerIn: -1, flushPerIn: -1, lag95: r.lagHist.quantile(95)}
	if r.ingests > 0 {
		if r.sspCPU >= 0 {
			s.cpuPerIng = r.sspCPU / time.Duration(r.ingests)
		}
		if r.dbCPU >= 0 {
			s.dbCPUPerIn = r.dbCPU / time.Duration(r.ingests)
		}
		s.edgesPerIn = r.edges / float64(r.ingests)
		if r.rows >= 0 {
			s.rowsPerIn = r.rows / float64(r.ingests)
		}
		if r.flushes >= 0 {
			s.flushPerIn = r.flushes / float64(r.ingests)
		}
	}
	if r.lagSamples == 0 {
		s.lag95 = -1
	}
	return s
}

// summaryLine is `summary <label> views=… ingest/s=… p99=… cpu/ing=… db-cpu/ing=… edges/ing=…
// rows/ing=… flush/ing=… lag95=…`: a line to grep and compare across commits.
func summaryLine(label string, s cellSummary) string {
	return fmt.Sprintf("summary %s views=%d ingest/s=%.0f p99=%s cpu/ing=%s db-cpu/ing=%s edges/ing=%.2f rows/ing=%s flush/ing=%s lag95=%s",
		label, s.views, s.perSec, fmtLat(s.p99), fmtLat(s.cpuPerIng), fmtLat(s.dbCPUPerIn), s.edgesPerIn, fmtPer(s.rowsPerIn), fmtPer(s.flushPerIn), fmtLat(s.lag95))
}

// fmtPer spells a per-ingest count, "-" when unknown (negative).
func fmtPer(x float64) string {
	if x < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x)
}

// median returns the median of the known (non-negative) values, -1 when none is.
func median(xs []float64) float64 {
	var ok []float64
	for _, x := range xs {
		if x >= 0 && !math.IsNaN(x) {
			ok = append(ok, x)
		}
	}
	if len(ok) == 0 {
		return -1
	}
	sort.Float64s(ok)
	if n := len(ok); n%2 == 1 {
		return ok[n/2]
	} else {
		return (ok[n/2-1] + ok[n/2]) / 2
	}
}

// medianSummary is the median of each figure over runs of one binary.
func medianSummary(runs []cellSummary) cellSummary {
	pick := func(f func(cellSummary) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	dur := func(f func(cellSummary) time.Duration) time.Duration {
		m := pick(func(s cellSummary) float64 { return float64(f(s)) })
		if m < 0 {
			return -1
		}
		return time.Duration(m)
	}
	out := cellSummary{perSec: pick(func(s cellSummary) float64 { return s.perSec }),
		edgesPerIn: pick(func(s cellSummary) float64 { return s.edgesPerIn }),
		rowsPerIn:  pick(func(s cellSummary) float64 { return s.rowsPerIn }),
		flushPerIn: pick(func(s cellSummary) float64 { return s.flushPerIn })}
	if len(runs) > 0 {
		out.views = runs[0].views
	}
	out.p99 = dur(func(s cellSummary) time.Duration { return s.p99 })
	out.cpuPerIng = dur(func(s cellSummary) time.Duration { return s.cpuPerIng })
	out.dbCPUPerIn = dur(func(s cellSummary) time.Duration { return s.dbCPUPerIn })
	out.lag95 = dur(func(s cellSummary) time.Duration { return s.lag95 })
	return out
}

// ratioLine compares two medians: each figure of this binary divided by the other's (below 1:
// this one is lower — better for everything but ingest/s).
func ratioLine(this, other cellSummary) string {
	r := func(a, b float64) string {
		if a < 0 || b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	d := func(a, b time.Duration) string { return r(float64(a), float64(b)) }
	return fmt.Sprintf("ratio this/other views=%d ingest/s=%s p99=%s cpu/ing=%s db-cpu/ing=%s edges/ing=%s rows/ing=%s flush/ing=%s lag95=%s",
		this.views, r(this.perSec, other.perSec), d(this.p99, other.p99), d(this.cpuPerIng, other.cpuPerIng),
		d(this.dbCPUPerIn, other.dbCPUPerIn), r(this.edgesPerIn, other.edgesPerIn), r(this.rowsPerIn, other.rowsPerIn),
		r(this.flushPerIn, other.flushPerIn), d(this.lag95, other.lag95))
}

// runCompare runs every cell with this binary (-ssp-bin, or ./cmd/ssp built once) and with
// other, alternately (this, other; then other, this; …) for -rounds rounds in one sitting, and
// prints each run's row and summary line, then per cell the medians and their ratio.
func runCompare(ctx context.Context, f loadFlags, stdout io.Writer) error {
	this := f.sspBin
	if this == "" {
		built := &loadEnv{} // only its closers: the build's temporary directory
		defer func() { _ = built.close() }()
		var err error
		if this, err = buildSSP(ctx, built); err != nil {
			return err
		}
	}
	bins := [2]string{this, f.compare}
	labels := [2]string{"this", "other"}
	fmt.Fprintf(stdout, "compare: this = %s, other = %s, %d rounds, alternating\n", this, f.compare, f.rounds)
	printLoadHeader(stdout)
	for _, v := range f.views {
		var runs [2][]cellSummary
		for round := 0; round < f.rounds; round++ {
			order := []int{0, 1}
			if round%2 == 1 {
				order = []int{1, 0}
			}
			for _, i := range order {
				g := f
				g.sspBin = bins[i]
				res, err := loadCell(ctx, g, v, nil)
				if err != nil {
					return fmt.Errorf("%d views, %s binary (%s): %w", v, labels[i], bins[i], err)
				}
				printLoadRow(stdout, res)
				s := summarize(res)
				fmt.Fprintln(stdout, summaryLine(fmt.Sprintf("%s#%d", labels[i], round+1), s))
				runs[i] = append(runs[i], s)
			}
		}
		m0, m1 := medianSummary(runs[0]), medianSummary(runs[1])
		fmt.Fprintln(stdout, summaryLine(fmt.Sprintf("this(median of %d)", f.rounds), m0))
		fmt.Fprintln(stdout, summaryLine(fmt.Sprintf("other(median of %d)", f.rounds), m1))
		fmt.Fprintln(stdout, ratioLine(m0, m1))
	}
	fmt.Fprintf(stdout, "load average at the end: %s\n", loadAverage())
	return nil
}

// checkCompareFlags validates -compare and -rounds.
func checkCompareFlags(f loadFlags) error {
	if f.compare == "" {
		return nil
	}
	if f.soak > 0 {
		return fmt.Errorf("-compare does not combine with -soak")
	}
	if f.rounds < 1 {
		return fmt.Errorf("-rounds %d: at least 1", f.rounds)
	}
	st, err := os.Stat(f.compare)
	if err != nil {
		return fmt.Errorf("-compare %q: %w", f.compare, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("-compare %q is not an executable ssp binary", f.compare)
	}
	return nil
}
