package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/connection"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

const shapesUsage = `Usage: ssp-bench shapes [flags]

What each candidate SurrealQL shape of the edge writes costs the database per row, and whether a
LIVE SELECT subscriber of the list_ref table gets exactly one notification per row change.
Against the dev SurrealDB (or -db), each candidate gets a database of its own with ` + "`_00_list_ref`" + `
defined as the SSP defines it, a LIVE SELECT on it (a separate SDK connection), and then three
phases over -rows edge rows of -views views, in transactions of -batch rows: create (rows that do
not exist), update (every row's version + 1), delete (every row). Shapes:

  per-row UPSERT                    UPSERT $vN CONTENT $cN; DELETE $vN (what the SSP does)
  INSERT … ON DUPLICATE KEY UPDATE  INSERT INTO _00_list_ref $rows ON DUPLICATE KEY UPDATE …; DELETE $ids
  FOR … UPSERT                      FOR $r IN $rows { UPSERT $r.id CONTENT $r.c }; FOR $r IN $ids { DELETE $r }
  CREATE/UPDATE by kind             CREATE $vN CONTENT $cN; UPDATE $vN SET version = $nN; DELETE $vN
  INSERT, version-only ODKU         as INSERT, but updates say ON DUPLICATE KEY UPDATE version = $input.version
  INSERT, FOR … UPDATE SET version  as INSERT, but updates are FOR $u IN $ups { UPDATE $u.id SET version = $u.v }

Every statement says RETURN NONE. After a phase's last commit a sentinel edge row is upserted;
the phase ends when its notification and at least one notification per row arrived, or after
10 s without any notification. Then the table is read back: it must hold exactly the expected
rows at the expected version. The candidates alternate for -rounds rounds in one sitting; each
cell is the median over the rounds.

Columns: shape, phase; db-µs/row = the database process's CPU time per row from the phase's
first statement to its sentinel's notification (notifications and the sentinel's one write
included; "-" with -db); wall-µs/row = wall time of the phase's transactions per row;
notifications = per action over the phase (✓: exactly one per row, each row once, of the
phase's action); rows = the table after the phase (✓: every expected row at its version, no
other). A shape SurrealDB rejects is reported as failed with its message; its later phases
are skipped. -live=false leaves the LIVE SELECT out: the statements' own cost, notifications
"-".

Flags:
`

// shapesFlags are the options of `ssp-bench shapes`.
type shapesFlags struct {
	rows, batch, rounds, views int
	db, dbUser, dbPass         string
	verbose                    bool
	live                       bool
}

func parseShapesFlags(args []string, stderr io.Writer) (shapesFlags, error) {
	var f shapesFlags
	fs := newFlags("ssp-bench shapes", shapesUsage, stderr)
	fs.IntVar(&f.rows, "rows", 5000, "edge rows per phase")
	fs.IntVar(&f.batch, "batch", 50, "rows per transaction")
	fs.IntVar(&f.rounds, "rounds", 3, "rounds; each runs every shape once, the cells are the medians")
	fs.IntVar(&f.views, "views", 10, "views the rows belong to")
	fs.StringVar(&f.db, "db", "", "SurrealDB RPC URL to use instead of starting the dev SurrealDB (each shape and round gets its own database, removed after)")
	fs.StringVar(&f.dbUser, "db-user", "root", "SurrealDB root user for -db")
	fs.StringVar(&f.dbPass, "db-pass", "root", "SurrealDB root password for -db")
	fs.BoolVar(&f.verbose, "v", false, "copy the database's log to stderr and print every round's cells there")
	fs.BoolVar(&f.live, "live", true, "keep a LIVE SELECT on the table and check its notifications (false: the statements' cost alone, notifications \"-\")")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	bad := func(format string, a ...any) (shapesFlags, error) {
		fmt.Fprintf(stderr, "ssp-bench shapes: "+format+"\n", a...)
		return f, errUsage
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case f.rows < 1:
		return bad("-rows must be at least 1, got %d", f.rows)
	case f.batch < 1:
		return bad("-batch must be at least 1, got %d", f.batch)
	case f.rounds < 1:
		return bad("-rounds must be at least 1, got %d", f.rounds)
	case f.views < 1:
		return bad("-views must be at least 1, got %d", f.views)
	}
	if f.db != "" {
		if err := checkLoopbackDB(f.db); err != nil {
			return bad("%v", err)
		}
	}
	return f, nil
}

// runShapes implements `ssp-bench shapes`.
func runShapes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseShapesFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return shapesBench(ctx, f, stdout, stderr)
}

// The phases of a candidate, in order.
const (
	phaseCreate = iota
	phaseUpdate
	phaseDelete
	numPhases
)

var phaseNames = [numPhases]string{"create", "update", "delete"}

// phaseAction is the notification each row change of a phase must give.
var phaseAction = [numPhases]connection.Action{connection.CreateAction, connection.UpdateAction, connection.DeleteAction}

// phaseVersion is the version every row has after a phase (0: no row).
var phaseVersion = [numPhases]int64{1, 2, 0}

// edgeRow is one edge row of the benchmark.
type edgeRow struct {
	id  value.Value // _00_list_ref:[view, "", "", key]
	row value.Value // the content without id, at version 1
}

// withVersion returns r's content at version v.
func (r edgeRow) withVersion(v int64) value.Value { return r.row.With("version", value.Int(v)) }

// edgeShape is one candidate: body renders the statements of one transaction of phase ph over
// rows (without BEGIN and COMMIT) and their variables.
type edgeShape struct {
	name string
	body func(ph int, rows []edgeRow) (string, map[string]any)
}

// insertUpdate is the INSERT shape's ON DUPLICATE KEY UPDATE clause: every field of an edge row.
const insertUpdate = "in = $input.in, out = $input.out, version = $input.version, clientId = $input.clientId, " +
	"auth_id = $input.auth_id, parent = $input.parent, parent_rel = $input.parent_rel"

// edgeShapes are the candidates, in the order of the table.
var edgeShapes = []edgeShape{
	{"per-row UPSERT", func(ph int, rows []edgeRow) (string, map[string]any) {
		var b strings.Builder
		vars := make(map[string]any, 2*len(rows))
		for i, r := range rows {
			n := strconv.Itoa(i)
			vars["v"+n] = r.id
			if ph == phaseDelete {
				b.WriteString("DELETE $v" + n + " RETURN NONE;\n")
				continue
			}
			vars["c"+n] = r.withVersion(phaseVersion[ph])
			b.WriteString("UPSERT $v" + n + " CONTENT $c" + n + " RETURN NONE;\n")
		}
		return b.String(), vars
	}},
	{"INSERT … ON DUPLICATE KEY UPDATE", func(ph int, rows []edgeRow) (string, map[string]any) {
		return insertShape(ph, rows, insertUpdate)
	}},
	{"FOR … UPSERT", func(ph int, rows []edgeRow) (string, map[string]any) {
		if ph == phaseDelete {
			return "FOR $r IN $ids { DELETE $r RETURN NONE; };\n", map[string]any{"ids": ids(rows)}
		}
		all := make([]value.Value, len(rows))
		for i, r := range rows {
			all[i] = value.ObjectOf([]value.Field{{Key: "id", Val: r.id}, {Key: "c", Val: r.withVersion(phaseVersion[ph])}})
		}
		return "FOR $r IN $rows { UPSERT $r.id CONTENT $r.c RETURN NONE; };\n", map[string]any{"rows": value.Array(all)}
	}},
	{"CREATE/UPDATE by kind", func(ph int, rows []edgeRow) (string, map[string]any) {
		var b strings.Builder
		vars := make(map[string]any, 2*len(rows))
		for i, r := range rows {
			n := strconv.Itoa(i)
			vars["v"+n] = r.id
			switch ph {
			case phaseCreate:
				vars["c"+n] = r.withVersion(phaseVersion[ph])
				b.WriteString("CREATE $v" + n + " CONTENT $c" + n + " RETURN NONE;\n")
			case phaseUpdate:
				vars["n"+n] = phaseVersion[ph]
				b.WriteString("UPDATE $v" + n + " SET version = $n" + n + " RETURN NONE;\n")
			default:
				b.WriteString("DELETE $v" + n + " RETURN NONE;\n")
			}
		}
		return b.String(), vars
	}},
	{"INSERT, version-only ODKU", func(ph int, rows []edgeRow) (string, map[string]any) {
		if ph != phaseUpdate {
			return insertShape(ph, rows, insertUpdate)
		}
		return insertShape(ph, rows, "version = $input.version")
	}},
	{"INSERT, FOR … UPDATE SET version", func(ph int, rows []edgeRow) (string, map[string]any) {
		if ph != phaseUpdate {
			return insertShape(ph, rows, insertUpdate)
		}
		all := make([]value.Value, len(rows))
		for i, r := range rows {
			all[i] = value.ObjectOf([]value.Field{{Key: "id", Val: r.id}, {Key: "v", Val: value.Int(phaseVersion[ph])}})
		}
		return "FOR $u IN $ups { UPDATE $u.id SET version = $u.v RETURN NONE; };\n", map[string]any{"ups": value.Array(all)}
	}},
}

// insertShape is the INSERT shape of phase ph with the given ON DUPLICATE KEY UPDATE clause;
// deletes are one DELETE of the ids.
func insertShape(ph int, rows []edgeRow, onDuplicate string) (string, map[string]any) {
	if ph == phaseDelete {
		return "DELETE $ids RETURN NONE;\n", map[string]any{"ids": ids(rows)}
	}
	all := make([]value.Value, len(rows))
	for i, r := range rows {
		all[i] = r.withVersion(phaseVersion[ph]).With("id", r.id)
	}
	return "INSERT INTO " + membership.GlobalTable + " $rows ON DUPLICATE KEY UPDATE " + onDuplicate + " RETURN NONE;\n",
		map[string]any{"rows": value.Array(all)}
}

// ids returns the ids of rows as one array value.
func ids(rows []edgeRow) value.Value {
	out := make([]value.Value, len(rows))
	for i, r := range rows {
		out[i] = r.id
	}
	return value.Array(out)
}

// Identity of the benchmark's rows.
const (
	shapesNS       = "shapes"
	shapesClient   = "ssp-bench"
	shapesAuth     = "user:bench"
	sentinelView   = "shapes_sentinel"
	sentinelTable  = "shapes_sentinel"
	shapesSilence  = 10 * time.Second // a phase's notifications are over after this long without one
	shapesMaxPhase = 10 * time.Minute // bound of one phase's notifications, however steady
)

// edgeRows returns the n rows of the benchmark, member i in view i mod views.
func edgeRows(n, views int) []edgeRow {
	rows := make([]edgeRow, n)
	for i := range rows {
		view := fmt.Sprintf("shapes_v%d", i%views)
		rows[i] = edgeRow{
			id: edgeID(view, fmt.Sprintf("thread:%d", i)),
			row: value.ObjectOf([]value.Field{
				{Key: "in", Val: membership.QueryRecord(view)},
				{Key: "out", Val: value.Record("thread", value.Int(int64(i)))},
				{Key: "version", Val: value.Int(1)},
				{Key: "clientId", Val: value.String(shapesClient)},
				{Key: "auth_id", Val: value.String(shapesAuth)},
			}),
		}
	}
	return rows
}

// edgeID is the SSP's deterministic id of a top-level edge.
func edgeID(view, key string) value.Value {
	return value.Record(membership.GlobalTable, value.Array([]value.Value{
		value.String(view), value.String(""), value.String(""), value.String(key)}))
}

// phaseResult is what one phase of one shape measured in one round.
type phaseResult struct {
	failed  string        // SurrealDB's message when the phase's statements failed
	skipped bool          // an earlier phase failed
	dbCPU   time.Duration // per row, -1 when unknown
	wall    time.Duration // per row
	notes   string        // the notifications, "… ✓" when exactly one per row of the right action
	rows    string        // the table afterwards, "… ✓" when exactly as expected
}

// shapesEnv is the database the candidates run against.
type shapesEnv struct {
	url, user, pass string
	pid             int // the database's process, 0 if unknown
	log             logrus.FieldLogger
	run             int64         // distinguishes this run's databases
	silence         time.Duration // see shapesSilence
	live            bool          // a LIVE SELECT watches each table
}

// shapesBench runs every shape for f.rounds rounds and prints the table of medians to out.
func shapesBench(ctx context.Context, f shapesFlags, out, stderr io.Writer) (err error) {
	env := &shapesEnv{url: f.db, user: f.dbUser, pass: f.dbPass, run: time.Now().UnixNano(),
		silence: shapesSilence, live: f.live}
	what := "-db " + f.db
	var logw io.Writer = io.Discard
	if f.verbose {
		logw = stderr
	}
	if f.db == "" {
		srv, err := devdb.Start(ctx, devdb.Options{Log: logw})
		if err != nil {
			return fmt.Errorf("start the dev SurrealDB: %w", err)
		}
		defer func() {
			if cerr := srv.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("stop the dev SurrealDB: %w", cerr)
			}
		}()
		env.url, env.user, env.pass = srv.URL(), srv.User, srv.Pass
		env.pid = childWithArg("server.mjs")
		what = "dev SurrealDB (integration/devdb)"
	}
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetLevel(logrus.WarnLevel)
	env.log = log.WithField("component", "ssp-bench shapes")

	fmt.Fprintf(out, "ssp-bench shapes: %s %s/%s, CPU %s, %d cores, commit %s, %s, load average %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), runtime.NumCPU(), commitID(), what, loadAverage())
	watched := "a LIVE SELECT on " + membership.GlobalTable + " throughout"
	if !f.live {
		watched = "no LIVE SELECT (-live=false)"
	}
	fmt.Fprintf(out, "%d rows of %d views, %d rows per transaction, %d round(s), medians; %s\n",
		f.rows, f.views, f.batch, f.rounds, watched)
	rows := edgeRows(f.rows, f.views)
	results := make([][][]phaseResult, len(edgeShapes)) // shape → round → phase
	for round := range f.rounds {
		for j := range edgeShapes {
			s := (j + round) % len(edgeShapes) // rotate who goes first
			res, err := runShape(ctx, env, edgeShapes[s], rows, f.batch, fmt.Sprintf("s%d_r%d", s, round))
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", edgeShapes[s].name, round+1, err)
			}
			results[s] = append(results[s], res)
			if f.verbose {
				for ph, r := range res {
					fmt.Fprintf(stderr, "round %d: %s\n", round+1, shapeLine(edgeShapes[s].name, ph, []phaseResult{r}))
				}
			}
		}
	}
	fmt.Fprintf(out, "%-34s %-7s %11s %11s  %-26s %s\n", "shape", "phase", "db-µs/row", "wall-µs/row", "notifications", "rows")
	for s, sh := range edgeShapes {
		for ph := range numPhases {
			var cell []phaseResult
			for _, res := range results[s] {
				cell = append(cell, res[ph])
			}
			fmt.Fprintln(out, shapeLine(sh.name, ph, cell))
		}
	}
	fmt.Fprintf(out, "load average at the end: %s\n", loadAverage())
	return nil
}

// shapeLine is the table row of one shape's phase over the rounds rs.
func shapeLine(name string, ph int, rs []phaseResult) string {
	head := fmt.Sprintf("%-34s %-7s ", name, phaseNames[ph])
	for _, r := range rs {
		switch {
		case r.failed != "":
			return head + "failed: " + r.failed
		case r.skipped:
			return head + "skipped (an earlier phase failed)"
		}
	}
	cpu, wall := make([]float64, len(rs)), make([]float64, len(rs))
	for i, r := range rs {
		cpu[i], wall[i] = float64(r.dbCPU), float64(r.wall)
	}
	return fmt.Sprintf("%s%11s %11s  %-26s %s", head, fmtMicros(median(cpu)), fmtMicros(median(wall)),
		distinct(rs, func(r phaseResult) string { return r.notes }), distinct(rs, func(r phaseResult) string { return r.rows }))
}

// fmtMicros spells nanoseconds as microseconds, "-" when unknown (negative).
func fmtMicros(ns float64) string {
	if ns < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", ns/1e3)
}

// distinct joins the different values of f over rs with " | ", in order of first appearance.
func distinct(rs []phaseResult, f func(phaseResult) string) string {
	var seen []string
	for _, r := range rs {
		if s := f(r); !slices.Contains(seen, s) {
			seen = append(seen, s)
		}
	}
	return strings.Join(seen, " | ")
}

// runShape runs the three phases of sh over rows in a database of its own (removed after) and
// returns their results. A statement SurrealDB rejects fails the phase, not the run; the error
// is for what stops the benchmark (no connection, ctx).
func runShape(ctx context.Context, env *shapesEnv, sh edgeShape, rows []edgeRow, batch int, tag string) (res []phaseResult, err error) {
	dbName := fmt.Sprintf("b%d_%s", env.run, tag)
	c, err := conn.Dial(ctx, conn.Config{URL: env.url, User: env.user, Pass: env.pass, NS: shapesNS, DB: dbName, Log: env.log})
	if err != nil {
		return nil, fmt.Errorf("connect to SurrealDB at %s: %w", env.url, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, rerr := c.QueryOnce(cctx, "REMOVE DATABASE IF EXISTS "+dbName+";", nil)
		if cerr := c.Close(cctx); rerr == nil {
			rerr = cerr
		}
		if rerr != nil && err == nil {
			err = fmt.Errorf("remove database %s: %w", dbName, rerr)
		}
	}()
	if err := membership.DefineGlobalTable(ctx, c); err != nil {
		return nil, err
	}
	var w *edgeWatch // nil without -live
	if env.live {
		if w, err = watchEdges(ctx, env, dbName); err != nil {
			return nil, err
		}
		defer w.stop()
	}

	res = make([]phaseResult, numPhases)
	for ph := range numPhases {
		if ph > 0 && (res[ph-1].failed != "" || res[ph-1].skipped) {
			res[ph].skipped = true
			continue
		}
		if res[ph], err = runPhase(ctx, env, c, w, sh, ph, rows, batch); err != nil {
			return nil, fmt.Errorf("%s phase: %w", phaseNames[ph], err)
		}
	}
	return res, nil
}

// runPhase writes phase ph of sh over rows, waits for its notifications and checks the table.
func runPhase(ctx context.Context, env *shapesEnv, c *conn.Conn, w *edgeWatch, sh edgeShape, ph int, rows []edgeRow, batch int) (phaseResult, error) {
	r := phaseResult{dbCPU: -1, notes: "-"}
	if w != nil {
		w.reset()
	}
	cpu0, _, cpuErr := procUsage(env.pid)
	if env.pid == 0 {
		cpuErr = errors.New("unknown database process")
	}
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		body, vars := sh.body(ph, rows[i:min(i+batch, len(rows))])
		rs, err := c.QueryOnce(ctx, "BEGIN TRANSACTION;\n"+body+"COMMIT TRANSACTION;", vars)
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if err == nil {
			err = firstFailure(rs)
		}
		if err != nil {
			r.failed = strings.Join(strings.Fields(err.Error()), " ")
			return r, nil
		}
	}
	r.wall = time.Since(start) / time.Duration(len(rows))
	seq := int64(ph + 1)
	if err := writeSentinel(ctx, c, seq); err != nil {
		return r, err
	}
	if w != nil {
		if err := w.wait(ctx, seq, len(rows), env.silence); err != nil {
			return r, err
		}
	}
	if cpuErr == nil {
		if cpu1, _, err := procUsage(env.pid); err == nil {
			r.dbCPU = (cpu1 - cpu0) / time.Duration(len(rows))
		}
	}
	var err error
	if r.rows, err = checkRows(ctx, c, rows, phaseVersion[ph]); err != nil {
		return r, err
	}
	if w != nil {
		r.notes = w.verdict(phaseAction[ph], len(rows)) // after the read: stragglers have landed
	}
	return r, nil
}

// firstFailure returns the error of the statement that failed a transaction (not the ones
// SurrealDB reports as not executed because of it), or nil.
func firstFailure(rs []conn.Result) error {
	var first error
	for _, r := range rs {
		if r.Err == nil {
			continue
		}
		if !strings.Contains(r.Err.Error(), "not executed due to a failed transaction") {
			return r.Err
		}
		if first == nil {
			first = r.Err
		}
	}
	return first
}

// sentinelID is the id of the edge row that marks the end of a phase's notifications.
func sentinelID() value.Value { return edgeID(sentinelView, "end") }

// writeSentinel upserts the sentinel edge at version seq.
func writeSentinel(ctx context.Context, c *conn.Conn, seq int64) error {
	row := value.ObjectOf([]value.Field{
		{Key: "in", Val: membership.QueryRecord(sentinelView)},
		{Key: "out", Val: value.Record(sentinelTable, value.Int(seq))},
		{Key: "version", Val: value.Int(seq)},
		{Key: "clientId", Val: value.String(shapesClient)},
		{Key: "auth_id", Val: value.String(shapesAuth)},
	})
	rs, err := c.QueryOnce(ctx, "UPSERT $s CONTENT $c RETURN NONE;", map[string]any{"s": sentinelID(), "c": row})
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		return fmt.Errorf("write the sentinel edge: %w", err)
	}
	return nil
}

// checkRows reads the table back (the sentinel aside) and says whether it holds exactly rows at
// version (none when version is 0): "N vV ✓", else what differs.
func checkRows(ctx context.Context, c *conn.Conn, rows []edgeRow, version int64) (string, error) {
	rs, err := c.QueryOnce(ctx, "SELECT id, version FROM "+membership.GlobalTable+" WHERE id != $s;", map[string]any{"s": sentinelID()})
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		return "", fmt.Errorf("read the edge rows back: %w", err)
	}
	want := make(map[string]bool, len(rows))
	if version > 0 {
		for _, r := range rows {
			want[value.RecordString(r.id)] = true
		}
	}
	got := rs[0].Value.Elems()
	stale, unknown := 0, 0
	for _, row := range got {
		id := value.RecordString(row.Get("id"))
		switch {
		case !want[id]:
			unknown++
		case row.Get("version").AsInt() != version:
			stale++
		}
		delete(want, id)
	}
	if version == 0 {
		if len(got) == 0 {
			return "0 rows ✓", nil
		}
		return fmt.Sprintf("%d rows left ✗", len(got)), nil
	}
	if stale == 0 && unknown == 0 && len(want) == 0 {
		return fmt.Sprintf("%d v%d ✓", len(got), version), nil
	}
	return fmt.Sprintf("%d rows: %d missing, %d not v%d, %d unexpected ✗", len(got), len(want), stale, version, unknown), nil
}

// edgeWatch counts the notifications of a LIVE SELECT on the list_ref table.
type edgeWatch struct {
	db   *surrealdb.DB
	id   *models.UUID
	quit chan struct{}
	done chan struct{}
	wake chan struct{} // signalled (without blocking) on every notification

	mu       sync.Mutex
	counts   map[connection.Action]int
	rows     map[connection.Action]map[string]bool // distinct edge ids per action
	odd      int                                   // notifications without a readable edge id
	sentinel int64                                 // the highest sentinel version seen
	last     time.Time                             // the last notification
}

// watchEdges subscribes to the list_ref table of database dbName with a connection of its own.
// It returns once the LIVE query runs.
func watchEdges(ctx context.Context, env *shapesEnv, dbName string) (*edgeWatch, error) {
	db, err := surrealdb.FromEndpointURLString(ctx, env.url)
	if err != nil {
		return nil, fmt.Errorf("connect to SurrealDB for the LIVE query: %w", err)
	}
	fail := func(err error) (*edgeWatch, error) {
		_ = db.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: env.user, Password: env.pass}); err != nil {
		return fail(fmt.Errorf("LIVE query: sign in: %w", err))
	}
	if err := db.Use(ctx, shapesNS, dbName); err != nil {
		return fail(fmt.Errorf("LIVE query: use %s/%s: %w", shapesNS, dbName, err))
	}
	id, err := surrealdb.Live(ctx, db, models.Table(membership.GlobalTable), false)
	if err != nil {
		return fail(fmt.Errorf("LIVE SELECT * FROM %s: %w", membership.GlobalTable, err))
	}
	notes, err := db.LiveNotifications(id.String())
	if err != nil {
		return fail(fmt.Errorf("LIVE query: notifications: %w", err))
	}
	w := &edgeWatch{db: db, id: id, quit: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1)}
	w.reset()
	go func() {
		defer close(w.done)
		for {
			select {
			case n, ok := <-notes:
				if !ok {
					return
				}
				w.note(n)
			case <-w.quit:
				return
			}
		}
	}()
	return w, nil
}

// note counts one notification.
func (w *edgeWatch) note(n connection.Notification) {
	row, _ := n.Result.(map[string]any)
	rid, ok := recordID(row["id"])
	w.mu.Lock()
	w.last = time.Now()
	switch {
	case !ok:
		w.odd++
	case isSentinel(rid):
		if v, ok := row["version"].(uint64); ok {
			w.sentinel = max(w.sentinel, int64(v))
		} else if v, ok := row["version"].(int64); ok {
			w.sentinel = max(w.sentinel, v)
		}
	default:
		w.counts[n.Action]++
		if w.rows[n.Action] == nil {
			w.rows[n.Action] = map[string]bool{}
		}
		w.rows[n.Action][fmt.Sprint(rid.ID)] = true
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// recordID reads a notification's record id.
func recordID(x any) (models.RecordID, bool) {
	switch id := x.(type) {
	case models.RecordID:
		return id, true
	case *models.RecordID:
		if id != nil {
			return *id, true
		}
	}
	return models.RecordID{}, false
}

// isSentinel reports whether rid is the sentinel edge's id.
func isSentinel(rid models.RecordID) bool {
	key, ok := rid.ID.([]any)
	return ok && len(key) == 4 && key[0] == sentinelView
}

// reset starts counting a new phase.
func (w *edgeWatch) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts = map[connection.Action]int{}
	w.rows = map[connection.Action]map[string]bool{}
	w.odd = 0
	w.last = time.Now()
}

// wait returns once the sentinel at version seq and at least n other notifications arrived,
// or no notification came for silence since the later of the call and the last one (or
// shapesMaxPhase passed).
func (w *edgeWatch) wait(ctx context.Context, seq int64, n int, silence time.Duration) error {
	start := time.Now()
	deadline := start.Add(shapesMaxPhase)
	for {
		w.mu.Lock()
		total := w.odd
		for _, c := range w.counts {
			total += c
		}
		done := w.sentinel >= seq && total >= n
		quiet := time.Since(start)
		if w.last.After(start) {
			quiet = time.Since(w.last)
		}
		w.mu.Unlock()
		if done || quiet >= silence || time.Now().After(deadline) {
			return nil
		}
		t := time.NewTimer(min(silence-quiet, time.Until(deadline)))
		select {
		case <-w.wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}

// verdict spells the phase's notifications: "N ACTION ✓" when there was exactly one per row, of
// action, else the counts per action (and of distinct rows where they differ) with ✗.
func (w *edgeWatch) verdict(action connection.Action, n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.odd == 0 && len(w.counts) == 1 && w.counts[action] == n && len(w.rows[action]) == n {
		return fmt.Sprintf("%d %s ✓", n, action)
	}
	var parts []string
	for _, a := range []connection.Action{connection.CreateAction, connection.UpdateAction, connection.DeleteAction} {
		if c := w.counts[a]; c > 0 {
			p := fmt.Sprintf("%d %s", c, a)
			if d := len(w.rows[a]); d != c {
				p += fmt.Sprintf(" (%d rows)", d)
			}
			parts = append(parts, p)
		}
	}
	for a, c := range w.counts {
		if a != connection.CreateAction && a != connection.UpdateAction && a != connection.DeleteAction {
			parts = append(parts, fmt.Sprintf("%d %s", c, a))
		}
	}
	if w.odd > 0 {
		parts = append(parts, fmt.Sprintf("%d unreadable", w.odd))
	}
	if len(parts) == 0 {
		parts = append(parts, "none")
	}
	return strings.Join(parts, ", ") + " ✗"
}

// stop ends the LIVE query and closes its connection.
func (w *edgeWatch) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// KILL while the reader still drains: the SDK blocks on a notification nobody reads.
	_, _ = surrealdb.Query[any](ctx, w.db, "KILL $id", map[string]any{"id": *w.id})
	close(w.quit)
	<-w.done
	_ = w.db.Close(ctx)
}
