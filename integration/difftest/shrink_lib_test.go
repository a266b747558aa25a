package difftest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/schema"
	"github.com/sp00ky/ssp/surreal/value"
)

// Repro is a shrunk mismatch: the smallest list of writes found (by delta debugging, re-running
// every candidate on a fresh namespace and a fresh engine) after which the view still differs.
type Repro struct {
	View    View
	Writes  []Write // the minimal writes, in order
	RegAt   int     // the view is registered after this many of Writes
	Oracle  []engine.Member
	Engine  []engine.Member
	Diff    []string
	Ingests [][]byte // the ingest body sent for each write (up to the failing one)
	Tries   int      // candidate scripts replayed
	Full    int      // writes before shrinking
	Timeout bool     // the time budget ran out before the list was 1-minimal
	// Schema is the field types the engine was given (schemaDDL as SurrealDB reports it).
	Schema map[string]schema.Table
}

// failure is the first difference found while replaying a candidate.
type failure struct {
	oracle, got []engine.Member
	diff        []string
	ingests     [][]byte
	writes      int // writes applied when it showed
	schema      map[string]schema.Table
}

// replayOne replays writes on a fresh namespace and engine with only view c registered (after
// regAt writes), checking it after every event; it returns the first difference, or nil. Engine
// errors and panics count as differences; SurrealDB errors are returned as errors.
func (r *Runner) replayOne(ctx context.Context, c *compiled, regAt int, writes []Write) (*failure, error) {
	s, err := r.newSession(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	var ingests [][]byte
	check := func(n int, oracle, got []Membership) *failure {
		if len(oracle) == 0 {
			return nil
		}
		if d := Diff(oracle[0], got[0]); len(d) > 0 {
			return &failure{oracle: oracle[0].Sorted(), got: got[0].Sorted(), diff: d, ingests: ingests, writes: n, schema: s.schema}
		}
		return nil
	}
	for i := 0; i <= len(writes); i++ {
		if i == regAt {
			if err := s.register(c); err != nil {
				return &failure{diff: []string{"engine rejected the view: " + err.Error()}, ingests: ingests, writes: i, schema: s.schema}, nil
			}
			_, oracle, got, err := s.apply(ctx, nil)
			if err != nil {
				return nil, err
			}
			if f := check(i, oracle, got); f != nil {
				return f, nil
			}
		}
		if i == len(writes) {
			break
		}
		ingest, oracle, got, err := s.apply(ctx, &writes[i])
		if ingest != nil {
			ingests = append(ingests, ingest)
		}
		if err != nil {
			if strings.HasPrefix(err.Error(), "engine") || strings.HasPrefix(err.Error(), "ingest") {
				return &failure{diff: []string{err.Error()}, ingests: ingests, writes: i + 1, schema: s.schema}, nil
			}
			return nil, err
		}
		if f := check(i+1, oracle, got); f != nil {
			return f, nil
		}
	}
	return nil, nil
}

// Shrink minimises mismatch m: it keeps m's view and delta-debugs the writes of m's script
// (ddmin over chunks, then single writes), within Options.ShrinkBudget.
func (r *Runner) Shrink(ctx context.Context, m Mismatch) (*Repro, error) {
	var c *compiled
	for _, v := range r.views {
		if v.ID == m.View.ID {
			c = v
		}
	}
	if c == nil {
		return nil, fmt.Errorf("shrink: unknown view %s", m.View.ID)
	}
	// Writes of the script and the registration point of the view.
	type item struct {
		w   Write
		pos int // index among all writes of the script
	}
	var items []item
	regPos := -1
	for _, ev := range m.Script {
		if ev.Register >= 0 {
			if r.views[ev.Register].ID == c.ID {
				regPos = len(items)
			}
			continue
		}
		items = append(items, item{w: ev.Write, pos: len(items)})
	}
	if regPos < 0 {
		return nil, fmt.Errorf("shrink: view %s is not registered in the script", c.ID)
	}
	deadline := time.Now().Add(r.opts.ShrinkBudget)
	rep := &Repro{View: c.View, Full: len(items)}
	run := func(cand []item) (*failure, error) {
		rep.Tries++
		regAt := 0
		ws := make([]Write, len(cand))
		for i, it := range cand {
			ws[i] = it.w
			if it.pos < regPos {
				regAt = i + 1
			}
		}
		f, err := r.replayOne(ctx, c, regAt, ws)
		if f != nil {
			// Later writes cannot matter: cut the candidate at the failing write.
			f.writes = min(f.writes, len(ws))
		}
		return f, err
	}
	cur := items
	best, err := run(cur)
	if err != nil {
		return nil, err
	}
	if best == nil {
		return nil, fmt.Errorf("shrink: view %s no longer differs when replayed alone on a fresh database", c.ID)
	}
	cur = cur[:best.writes]
	n := 2
	for len(cur) >= 1 && time.Now().Before(deadline) {
		if len(cur) < n {
			n = len(cur)
		}
		chunk := (len(cur) + n - 1) / n
		reduced := false
		for start := 0; start < len(cur) && time.Now().Before(deadline); start += chunk {
			end := min(start+chunk, len(cur))
			cand := append(append([]item{}, cur[:start]...), cur[end:]...)
			f, err := run(cand)
			if err != nil {
				return nil, err
			}
			if f != nil {
				cur, best = cand[:f.writes], f
				n = max(n-1, 2)
				reduced = true
				break
			}
		}
		if !reduced {
			if n >= len(cur) {
				break
			}
			n = min(2*n, len(cur))
		}
	}
	rep.Timeout = !time.Now().Before(deadline)
	// One last replay of the minimal list, for its ingest bodies and memberships.
	final, err := run(cur)
	if err != nil {
		return nil, err
	}
	if final == nil {
		final = best // a flaky failure; report what the last failing run saw
	}
	for i, it := range cur {
		rep.Writes = append(rep.Writes, it.w)
		if it.pos < regPos {
			rep.RegAt = i + 1
		}
	}
	rep.Oracle, rep.Engine, rep.Diff, rep.Ingests, rep.Schema = final.oracle, final.got, final.diff, final.ingests, final.schema
	return rep, nil
}

// ReplayLines renders the reproduction as `ssp replay` input (SPEC §10): the view's
// registration, each ingest, and a check after every ingest (and after the registration).
func (rp *Repro) ReplayLines() []string {
	var out []string
	reg := map[string]any{"id": rp.View.ID, "surql": rp.View.SurQL}
	if !rp.View.Params.IsNone() {
		reg["params"] = toJSONAny(rp.View.Params)
	}
	line := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	for _, t := range sortedKeys(rp.Schema) {
		fields := map[string]string{}
		for _, f := range rp.Schema[t].Fields() {
			fields[strings.Join(f.Path, ".")] = f.Kind.String()
		}
		out = append(out, line(map[string]any{"schema": map[string]any{"table": t, "fields": fields}}))
	}
	registered := false
	for i := 0; i <= len(rp.Ingests); i++ {
		if i == rp.RegAt && !registered {
			out = append(out, line(map[string]any{"register": reg}), `{"check":true}`)
			registered = true
		}
		if i < len(rp.Ingests) {
			out = append(out, `{"ingest":`+string(rp.Ingests[i])+`}`, `{"check":true}`)
		}
	}
	if !registered {
		out = append(out, line(map[string]any{"register": reg}), `{"check":true}`)
	}
	return out
}

// SurQL renders the reproduction as SurrealQL to paste into SurrealDB: the writes, then the view
// with its params set by LET.
func (rp *Repro) SurQL() string {
	var b strings.Builder
	b.WriteString(schemaDDL)
	for _, w := range rp.Writes {
		id := value.RecordString(w.ID)
		switch w.Op {
		case OpDelete:
			fmt.Fprintf(&b, "DELETE %s;\n", id)
		case OpMerge:
			fmt.Fprintf(&b, "UPSERT %s MERGE %s;\n", id, w.Content.SurQL())
		default:
			fmt.Fprintf(&b, "UPSERT %s CONTENT %s;\n", id, w.Content.SurQL())
		}
	}
	for _, f := range rp.View.Params.Fields() {
		fmt.Fprintf(&b, "LET $%s = %s;\n", f.Key, f.Val.SurQL())
	}
	b.WriteString(rp.View.SurQL + ";\n")
	return b.String()
}

// Format renders the reproduction for a test log.
func (rp *Repro) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "view %s: %s\n", rp.View.ID, rp.View.SurQL)
	if !rp.View.Params.IsNone() {
		fmt.Fprintf(&b, "params: %s\n", rp.View.Params.SurQL())
	}
	fmt.Fprintf(&b, "shrunk from %d to %d writes in %d replays", rp.Full, len(rp.Writes), rp.Tries)
	if rp.Timeout {
		b.WriteString(" (time budget ran out: not minimal)")
	}
	b.WriteString("\ndifferences:\n")
	for _, d := range rp.Diff {
		b.WriteString("  " + d + "\n")
	}
	b.WriteString("SurrealDB membership:\n" + FormatMembers(rp.Oracle))
	b.WriteString("engine membership:\n" + FormatMembers(rp.Engine))
	b.WriteString("replay (ssp replay JSON lines):\n")
	for _, l := range rp.ReplayLines() {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("SurrealQL:\n")
	for _, l := range strings.Split(strings.TrimRight(rp.SurQL(), "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
