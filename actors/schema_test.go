package actors

import (
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/config"
)

// TestSchemaHints: the bootstrap reads the tables' field types before the rows and the schema
// actor re-reads them while the SSP runs, so that a string spelling a record id is a string in a
// field typed string and a record in a field typed record, for bootstrapped rows and ingests
// alike, and a DEFINE FIELD made while the SSP runs is seen at the next read.
func TestSchemaHints(t *testing.T) {
	seed := func(h *harness) {
		h.exec("DEFINE TABLE t SCHEMALESS; DEFINE FIELD handle ON t TYPE option<string>; CREATE user:1; "+
			"CREATE t:1 SET handle = 'user:1'", nil)
	}
	h := newHarness(t, harnessOpts{seed: seed, cfg: func(c *config.Config) { c.SchemaRefreshInterval = 50 * time.Millisecond }})
	h.register("hstr", "SELECT * FROM t WHERE handle = 'user:1'", "")
	h.register("hrec", "SELECT * FROM t WHERE handle = user:1", "")
	h.register("rstr", "SELECT * FROM t WHERE ref = 'user:1'", "")
	h.register("rrec", "SELECT * FROM t WHERE ref = user:1", "")
	// An ingest sends JSON, where "user:1" could be either: the schema says a string.
	h.ingest("t", "CREATE", "t:2", map[string]any{"handle": "user:1", "ref": "user:1"})
	want := func(exp map[string]string) {
		t.Helper()
		waitFor(t, 30*time.Second, func() (bool, string) {
			edges := h.engineEdges()["_00_list_ref"]
			got := map[string][]string{}
			for _, e := range edges {
				view, rest, _ := strings.Cut(e, "|||")
				key, _, _ := strings.Cut(rest, "@")
				got[view] = append(got[view], key)
			}
			for v, w := range exp {
				if strings.Join(got[v], " ") != w {
					return false, "edges " + describe(map[string][]string{"_00_list_ref": edges})
				}
			}
			return true, ""
		})
	}
	// ref is schemaless: the JSON string equals both (today's rule).
	want(map[string]string{"hstr": "t:1 t:2", "hrec": "", "rstr": "t:2", "rrec": "t:2"})

	// ref becomes a record link while the SSP runs: the next read resolves the stored row.
	h.exec("DEFINE FIELD ref ON t TYPE option<record<user>>", nil)
	want(map[string]string{"hstr": "t:1 t:2", "hrec": "", "rstr": "", "rrec": "t:2"})
	h.ingest("t", "CREATE", "t:3", map[string]any{"handle": "user:1", "ref": "user:1"})
	want(map[string]string{"hstr": "t:1 t:2 t:3", "hrec": "", "rstr": "", "rrec": "t:2 t:3"})
	h.waitEdgesMatch()
}
