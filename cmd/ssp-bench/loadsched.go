package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/integration/testscheduler"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// maxLoadSSPs bounds -ssps.
const maxLoadSSPs = 16

// startScheduled starts the test scheduler on the cell's database and f.ssps `ssp serve`
// subprocesses (args, plus the scheduler's URL and ids ssp-1 … ssp-N) behind it, and waits
// until the scheduler counts every SSP ready. Ingests and registrations then go to the
// scheduler.
func startScheduled(ctx context.Context, env *loadEnv, f loadFlags, args []string, logw io.Writer) error {
	log := logrus.New()
	log.SetOutput(logw)
	log.SetLevel(logrus.WarnLevel)
	sched, err := testscheduler.Start(ctx, testscheduler.Options{
		URL: env.dbURL, User: env.dbUser, Pass: env.dbPass, NS: env.ns, DB: env.db,
		Secret:       env.token,
		PollInterval: 50 * time.Millisecond,
		// Keep little history: the scheduler records every request it sends for inspection.
		HistoryLimit: 100,
		Log:          log,
	})
	if err != nil {
		return fmt.Errorf("start the test scheduler: %w", err)
	}
	env.closers = append(env.closers, sched.Close)
	env.sched, env.base = sched, sched.URL()
	for i := range f.ssps {
		id := "ssp-" + strconv.Itoa(i+1)
		p, err := startSubprocessSSP(ctx, env, f, append(args[:len(args):len(args)], "--scheduler-url", sched.URL(), "--ssp-id", id), logw)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		p.id = id
		env.ssps = append(env.ssps, p)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, p := range env.ssps {
		for {
			info, ok := sched.SSP(p.id)
			if ok && info.Status == testscheduler.SSPReady {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s was not ready in the scheduler's pool within 2 minutes (it is %q)", p.id, info.Status)
			}
			if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

// fanoutAnswers adds to a scheduler-mode cell what the SSPs answered the scheduler's fan-out
// between two scrapes (the scheduler only logs it): busy answers to busy, other refusals to
// errors; and says so when the SSPs applied fewer ingests than the scheduler fanned out.
func fanoutAnswers(res *cellStats, env *loadEnv, before, after promMetrics, views int) {
	delta := func(result string) float64 {
		label := `result="` + result + `"`
		return after.get("ssp_ingest_total", label) - before.get("ssp_ingest_total", label)
	}
	busy := delta("busy")
	refused := delta("not_ready") + delta("error") + delta("invalid")
	res.busy += int64(busy)
	res.errors += int64(refused)
	ok, want := delta("ok"), float64(res.ingests)*float64(len(env.ssps))
	if ok < want {
		fmt.Fprintf(os.Stderr, "ssp load: %d views: the %d SSPs applied %.0f of the %.0f ingests the scheduler fanned out (%.0f busy, %.0f refused)\n",
			views, len(env.ssps), ok, want, busy, refused)
	}
}

// upserts rewrites a change stream into what Sp00ky's events send: the whole row on CREATE
// and UPDATE, so a MERGE becomes an UPDATE of the merged row. It remembers every live row.
type upserts struct{ rows map[string]value.Value }

func newUpserts() *upserts { return &upserts{rows: map[string]value.Value{}} }

// change returns c as an event would send it, and records its effect.
func (u *upserts) change(c engine.Change) engine.Change {
	key := value.RecordString(c.ID)
	switch c.Op {
	case engine.OpDelete:
		delete(u.rows, key)
		return c
	case engine.OpMerge:
		row, ok := u.rows[key]
		if !ok {
			row = value.ObjectOf([]value.Field{{Key: "id", Val: c.ID}})
		}
		for _, f := range c.Record.Fields() {
			row = row.With(f.Key, f.Val)
		}
		c.Op, c.Record = engine.OpUpdate, row
	}
	u.rows[key] = c.Record
	return c
}
