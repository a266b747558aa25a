package actors

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/sp00ky/ssp/internal/faultproxy"
)

// A database outage is visible (issue 9: /health said ready and nothing said the edges were
// behind): while SurrealDB does not answer, the SSP stays ready and keeps taking ingests, its
// Health says the database is down and how many view changes wait for their edge rows,
// ssp_db_up is 0, and one warning is logged; when the database answers again one warning says
// how long the outage lasted, and the edges catch up.
func TestDatabaseOutageIsReported(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.InfoLevel)
	h := newHarness(t, harnessOpts{proxy: true, deps: func(d *Deps) {
		d.DBPingInterval = 50 * time.Millisecond
		d.Log = log
	}})
	h.mustWrite("CREATE", "thread:0", map[string]any{"status": "open"})
	views := []testView{{"open", openThreads, ""}}
	h.register("open", openThreads, "")
	waitFor(t, 30*time.Second, func() (bool, string) {
		hl := h.s.Health(h.ctx)
		return hl.DB.Status == dbUp, fmt.Sprintf("db %q", hl.DB.Status)
	})
	if n := metricValue(t, h.s.env.m.dbUp); n != 1 {
		t.Fatalf("ssp_db_up = %v while the database answers", n)
	}
	h.waitEdgesAsDB(views)

	h.proxy.SetMode(faultproxy.Refuse)
	start := time.Now()
	// The app goes on writing (straight to SurrealDB); the SSP takes the ingests.
	for i := 1; i <= 20; i++ {
		h.mustWrite("CREATE", fmt.Sprintf("thread:%d", i), map[string]any{"status": "open"})
	}
	var hl Health
	waitFor(t, 30*time.Second, func() (bool, string) {
		hl = h.s.Health(h.ctx)
		return hl.DB.Status == dbDown && hl.EdgeBacklog > 0,
			fmt.Sprintf("db %q, edge backlog %d", hl.DB.Status, hl.EdgeBacklog)
	})
	if st := h.s.Status(); st != StatusReady {
		t.Fatalf("status %s during the outage, want ready", st)
	}
	if hl.DB.LastError == "" || hl.DB.Outages != 1 || hl.DB.DownSeconds < 0 || hl.Views != 1 {
		t.Fatalf("health during the outage: %+v", hl)
	}
	if n := metricValue(t, h.s.env.m.dbUp); n != 0 {
		t.Fatalf("ssp_db_up = %v during the outage", n)
	}
	if info := h.s.Info(h.ctx); info.DB == nil || info.DB.Status != dbDown {
		t.Fatalf("/info db during the outage: %+v", info.DB)
	}
	h.proxy.SetMode(faultproxy.Forward)
	waitFor(t, 30*time.Second, func() (bool, string) {
		hl = h.s.Health(h.ctx)
		return hl.DB.Status == dbUp, fmt.Sprintf("db %q", hl.DB.Status)
	})
	outage := time.Since(start)
	if hl.DB.Outages != 1 || hl.DB.LastOutageSeconds <= 0 || hl.DB.LastOutageSeconds > outage.Seconds() || hl.DB.LastError != "" {
		t.Fatalf("health after the outage (%s): %+v", outage, hl)
	}
	if n := metricValue(t, h.s.env.m.dbOutages); n != 1 {
		t.Fatalf("ssp_db_outages_total = %v, want 1", n)
	}
	h.waitEdgesAsDB(views)
	waitFor(t, 30*time.Second, func() (bool, string) {
		hl = h.s.Health(h.ctx)
		return hl.EdgeBacklog == 0, fmt.Sprintf("edge backlog %d", hl.EdgeBacklog)
	})

	var down, back []*logrus.Entry
	for _, e := range hook.AllEntries() {
		switch {
		case strings.HasPrefix(e.Message, "SurrealDB does not answer"):
			down = append(down, e)
		case strings.HasPrefix(e.Message, "SurrealDB answers again"):
			back = append(back, e)
		}
	}
	if len(down) != 1 || len(back) != 1 || down[0].Level != logrus.WarnLevel || back[0].Level != logrus.WarnLevel {
		t.Fatalf("outage logs: %d down, %d back; want one warning each", len(down), len(back))
	}
	if d, err := time.ParseDuration(fmt.Sprint(back[0].Data["outage"])); err != nil || d <= 0 || d > outage {
		t.Fatalf("the end-of-outage log says outage=%v (%v), the outage lasted at most %s", back[0].Data["outage"], err, outage)
	}
}
