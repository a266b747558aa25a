package e2e

import (
	"sort"
	"testing"

	"github.com/sp00ky/ssp/internal/sspproc"
)

// secret is the bearer secret of every SSP the tests start.
const secret = "e2e-secret"

// sspConfig says how to start one `ssp serve` subprocess.
type sspConfig struct {
	DB      string // database name in the shared dev SurrealDB (namespace e2e)
	RefMode string // dedicated or single
	Env     map[string]string
}

// sspProc is one running `ssp serve` subprocess (package sspproc) of a test.
type sspProc struct {
	*sspproc.Proc
	t  *testing.T
	id string // SPKY_SSP_ID in scheduler mode
}

// startSSP starts `ssp serve` listening on a free loopback port and returns once it printed its
// address (it may still be bootstrapping). It is killed at the end of the test.
func startSSP(t *testing.T, cfg sspConfig) *sspProc {
	t.Helper()
	srv, bin := setup(t)
	env := map[string]string{
		"SPKY_DB_WS":                     srv.URL(),
		"SPKY_DB_USER":                   srv.User,
		"SPKY_DB_PASS":                   srv.Pass,
		"SPKY_DB_NS":                     "e2e",
		"SPKY_DB_NAME":                   cfg.DB,
		"SPKY_SSP_REF_MODE":              cfg.RefMode,
		"TTL_CLEANUP_INTERVAL_SECS":      "3600",
		"SPKY_METRICS_FLUSH_INTERVAL_MS": "500",
		"SPKY_LOG_LEVEL":                 "info",
	}
	for k, v := range cfg.Env {
		env[k] = v
	}
	p := sspproc.Start(t, sspproc.Config{Bin: bin, Secret: secret, Env: env, Label: cfg.RefMode + ", db " + cfg.DB})
	return &sspProc{Proc: p, t: t}
}

// view is one live query of the corpus.
type view struct {
	Key    string         // view key: registered as _00_query:<Key>
	SurQL  string         // the SELECT
	Params map[string]any // JSON params as the client sends them (records as "tb:key" strings)
	Owner  string         // params.auth.id, "" when unowned
	Client string
	Subs   []sub // the subquery fields of the projection
}

// sub is one subquery field of a projection: its output name, whether it is `(…)[0]` (one row
// or NONE), and its own subquery fields. The oracle reads members off SurrealDB's answer with it.
type sub struct {
	Name   string
	Single bool
	Subs   []sub
}

// register registers v over HTTP (POST /view/register).
func (p *sspProc) register(v view) {
	p.t.Helper()
	body := map[string]any{"id": "_00_query:" + v.Key, "surql": v.SurQL, "clientId": v.Client, "ttl": "1h"}
	if v.Params != nil {
		body["params"] = v.Params
	}
	p.MustDo("POST", "/view/register", body, 200)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
