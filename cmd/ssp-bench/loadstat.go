package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"math/bits"
	nethttp "net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// histSub is the number of buckets per power of two of a latency histogram (about 3% width).
const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histBuckets = 64 * histSub
)

// latHist is a log-linear histogram of durations (nanoseconds), safe for concurrent adds and
// snapshots. Memory is constant however many values it counts.
type latHist struct {
	b [histBuckets]atomic.Uint64
}

// histBucket returns the bucket of v nanoseconds.
func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return shift*histSub + int(v>>shift)
}

// histValue returns the middle of bucket i, in nanoseconds.
func histValue(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	low := uint64(histSub+i%histSub) << shift
	return low + (uint64(1)<<shift)/2
}

func (h *latHist) add(d time.Duration) {
	h.b[histBucket(uint64(max(d, 0)))].Add(1)
}

// snapshot returns the current counts.
func (h *latHist) snapshot() histCounts {
	var c histCounts
	for i := range h.b {
		c[i] = h.b[i].Load()
	}
	return c
}

// histCounts is a snapshot of a latHist.
type histCounts [histBuckets]uint64

// plus returns c + o.
func (c histCounts) plus(o histCounts) histCounts {
	for i := range c {
		c[i] += o[i]
	}
	return c
}

// minus returns c - o (o an earlier snapshot of the same histogram).
func (c histCounts) minus(o histCounts) histCounts {
	for i := range c {
		c[i] -= o[i]
	}
	return c
}

func (c histCounts) count() uint64 {
	var n uint64
	for _, x := range c {
		n += x
	}
	return n
}

// quantile returns the nearest-rank p-th percentile (0 < p ≤ 100), or -1 when c is empty.
func (c histCounts) quantile(p float64) time.Duration {
	n := c.count()
	if n == 0 {
		return -1
	}
	rank := uint64(float64(n)*p/100 + 0.999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, x := range c {
		seen += x
		if seen >= rank {
			return time.Duration(histValue(i))
		}
	}
	return time.Duration(histValue(histBuckets - 1))
}

// promSample is one scraped Prometheus sample.
type promSample struct {
	name   string // metric name, without labels
	labels string // the label text between the braces, "" if none
	value  float64
}

// promMetrics is a scraped /metrics page.
type promMetrics []promSample

// scrapeMetrics reads the Prometheus text exposition at url.
func scrapeMetrics(ctx context.Context, client *nethttp.Client, url string) (promMetrics, error) {
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != nethttp.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("scrape %s: status %d", url, resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics parses the Prometheus text format (comments skipped, timestamps ignored).
func parseMetrics(r io.Reader) (promMetrics, error) {
	var out promMetrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var s promSample
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metrics line %q: unbalanced braces", line)
			}
			s.name, s.labels, rest = line[:i], line[i+1:j], strings.TrimSpace(line[j+1:])
		} else {
			name, val, ok := strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("metrics line %q: no value", line)
			}
			s.name, rest = name, strings.TrimSpace(val)
		}
		val, _, _ := strings.Cut(rest, " ")
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: value: %w", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

// sum returns the sum of the samples of metric name whose labels contain every one of want
// (each like `actor="writers"`), and whether there was any.
func (m promMetrics) sum(name string, want ...string) (float64, bool) {
	var total float64
	found := false
outer:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for _, w := range want {
			if !strings.Contains(s.labels, w) {
				continue outer
			}
		}
		total += s.value
		found = true
	}
	return total, found
}

// get returns sum(name, want...) or 0.
func (m promMetrics) get(name string, want ...string) float64 {
	v, _ := m.sum(name, want...)
	return v
}

// bucketQuantile estimates the p-th percentile (0 < p ≤ 100) of the Prometheus histogram
// name between two scrapes (the increase from before to after), interpolating linearly within
// a bucket as histogram_quantile does; -1 when nothing was observed.
func bucketQuantile(before, after promMetrics, name string, p float64) time.Duration {
	type bucket struct {
		le float64
		n  float64
	}
	collect := func(m promMetrics) map[float64]float64 {
		out := map[float64]float64{}
		for _, s := range m {
			if s.name != name+"_bucket" {
				continue
			}
			_, rest, ok := strings.Cut(s.labels, `le="`)
			if !ok {
				continue
			}
			le, _, _ := strings.Cut(rest, `"`)
			bound, err := strconv.ParseFloat(le, 64)
			if err != nil {
				continue
			}
			out[bound] += s.value
		}
		return out
	}
	b0, b1 := collect(before), collect(after)
	var bs []bucket
	for le, n := range b1 {
		bs = append(bs, bucket{le, n - b0[le]})
	}
	if len(bs) == 0 {
		return -1
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	total := bs[len(bs)-1].n // the +Inf bucket counts everything
	if total <= 0 {
		return -1
	}
	rank := total * p / 100
	lower, below := 0.0, 0.0
	for _, b := range bs {
		if b.n >= rank {
			if math.IsInf(b.le, 1) {
				return time.Duration(lower * float64(time.Second))
			}
			frac := 0.0
			if b.n > below {
				frac = (rank - below) / (b.n - below)
			}
			return time.Duration((lower + (b.le-lower)*frac) * float64(time.Second))
		}
		lower, below = b.le, b.n
	}
	return time.Duration(lower * float64(time.Second))
}
