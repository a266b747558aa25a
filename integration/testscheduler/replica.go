package testscheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/tablehash"
	"github.com/sp00ky/ssp/surreal/value"
)

// ErrFrozen is returned by ApplyNow while the replica is frozen.
var ErrFrozen = errors.New("replica is frozen: an SSP is bootstrapping")

// ErrCloning is returned by ApplyNow before the clone is done.
var ErrCloning = errors.New("scheduler is still cloning")

const (
	internalPrefix = "_00_"
	queryTable     = "_00_query"
	pageSize       = 500
	applyBatch     = 200
)

// Keyset paging, as the SSP pages (SPEC §5).
const (
	qFirstPage = "SELECT * FROM type::table($tb) ORDER BY id LIMIT $n"
	qNextPage  = "SELECT * FROM type::table($tb) WHERE id > $last ORDER BY id LIMIT $n"
)

// cloned reports whether table is copied into the replica at start.
func cloned(table string) bool {
	return !strings.HasPrefix(table, internalPrefix) || table == queryTable
}

// clone copies the source's tables into the (empty) replica.
func (s *Scheduler) clone(ctx context.Context) error {
	s.replicaMu.Lock()
	defer s.replicaMu.Unlock()
	tables, err := tableNames(ctx, s.src)
	if err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	total := 0
	for _, tb := range tables {
		if !cloned(tb) {
			continue
		}
		n := 0
		err := pageTable(ctx, s.src, tb, func(rows []value.Value) error {
			n += len(rows)
			rs, err := s.rep.Query(ctx, "FOR $r IN $rows { UPSERT $r.id CONTENT $r; }", map[string]any{"rows": rows})
			if err == nil {
				err = conn.StatementErr(rs)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("clone table %s: %w", tb, err)
		}
		total += n
		s.log.WithFields(logrus.Fields{"table": tb, "rows": n}).Debug("table cloned")
	}
	s.log.WithFields(logrus.Fields{"tables": len(tables), "rows": total}).Info("clone done")
	return nil
}

// tableNames lists the tables of c's database (INFO FOR DB), sorted.
func tableNames(ctx context.Context, c *conn.Conn) ([]string, error) {
	rs, err := c.Query(ctx, "INFO FOR DB", nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err == nil && len(rs) == 0 {
		err = errors.New("no result")
	}
	if err != nil {
		return nil, fmt.Errorf("INFO FOR DB: %w", err)
	}
	var names []string
	for _, f := range rs[0].Value.Get("tables").Fields() {
		names = append(names, f.Key)
	}
	sort.Strings(names)
	return names, nil
}

// pageTable reads table in id order, pageSize rows at a time. A missing table has no rows.
func pageTable(ctx context.Context, c *conn.Conn, table string, fn func([]value.Value) error) error {
	vars := map[string]any{"tb": table, "n": pageSize}
	q := qFirstPage
	for {
		rs, err := c.Query(ctx, q, vars)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return errors.New("no result")
		}
		if rs[0].Err != nil {
			if isMissing(rs[0].Err) {
				return nil
			}
			return rs[0].Err
		}
		rows := rs[0].Value.Elems()
		if len(rows) == 0 {
			return nil
		}
		if err := fn(rows); err != nil {
			return err
		}
		if len(rows) < pageSize {
			return nil
		}
		vars["last"] = rows[len(rows)-1].Get("id")
		q = qNextPage
	}
}

// isMissing reports whether err says a table (or namespace, database) does not exist, which the
// real scheduler answers as an empty result.
func isMissing(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "does not exist") || strings.Contains(msg, "not found")
}

// ApplyNow brings the replica forward: every buffered event is written into it, snapshot_seq
// becomes the highest seq applied, and the global buffer is trimmed. It is what the periodic
// updater does. While the replica is frozen it does nothing and returns ErrFrozen. It returns
// the snapshot_seq after the call.
func (s *Scheduler) ApplyNow(ctx context.Context) (uint64, error) {
	s.replicaMu.Lock()
	defer s.replicaMu.Unlock()
	s.mu.Lock()
	switch {
	case s.cloning:
		s.mu.Unlock()
		return 0, ErrCloning
	case s.frozenLocked():
		seq := s.snapshotSeq
		s.mu.Unlock()
		return seq, ErrFrozen
	}
	evs := append([]*Event(nil), s.global...)
	merge := s.sw.defects.UpdateMerges
	s.updating = true
	s.mu.Unlock()

	err := s.writeEvents(ctx, evs, merge)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.updating = false
	if err != nil {
		return s.snapshotSeq, fmt.Errorf("apply events to the replica: %w", err)
	}
	if len(evs) > 0 {
		last := evs[len(evs)-1].Seq
		s.snapshotSeq = last
		kept := s.global[:0]
		for _, e := range s.global {
			if e.Seq > last {
				kept = append(kept, e)
			}
		}
		s.global = kept
		s.log.WithFields(logrus.Fields{"events": len(evs), "snapshot_seq": last}).Info("replica updated")
	}
	return s.snapshotSeq, nil
}

// writeEvents writes the rows of evs into the replica, in seq order. Events of `_00_` tables are
// skipped; a statement that fails is logged.
func (s *Scheduler) writeEvents(ctx context.Context, evs []*Event, merge bool) error {
	for start := 0; start < len(evs); start += applyBatch {
		batch := evs[start:min(start+applyBatch, len(evs))]
		var q strings.Builder
		vars := map[string]any{}
		var applied []*Event
		for _, e := range batch {
			if strings.HasPrefix(e.Table, internalPrefix) {
				continue
			}
			rid, row, del, err := eventRow(e)
			if err != nil {
				s.log.WithFields(logrus.Fields{"seq": e.Seq, "table": e.Table, "id": e.ID}).WithError(err).
					Warn("event not applied to the replica")
				continue
			}
			i := strconv.Itoa(len(applied))
			vars["id"+i] = rid
			switch {
			case del:
				q.WriteString("DELETE $id" + i + ";\n")
			case merge && strings.EqualFold(e.Op, "UPDATE"):
				vars["r"+i] = row
				q.WriteString("UPSERT $id" + i + " MERGE $r" + i + ";\n")
			default:
				vars["r"+i] = row
				q.WriteString("UPSERT $id" + i + " CONTENT $r" + i + ";\n")
			}
			applied = append(applied, e)
		}
		if len(applied) == 0 {
			continue
		}
		rs, err := s.rep.Query(ctx, q.String(), vars)
		if err != nil {
			return err
		}
		for i, r := range rs {
			if r.Err != nil && i < len(applied) {
				s.log.WithFields(logrus.Fields{"seq": applied[i].Seq, "table": applied[i].Table, "id": applied[i].ID}).
					WithError(r.Err).Warn("event not applied to the replica")
			}
		}
	}
	return nil
}

// eventRow returns an event's record id and the row it writes (classified as the SSP classifies
// /ingest bodies, `id` set), or del for a DELETE.
func eventRow(e *Event) (rid, row value.Value, del bool, err error) {
	rid, ok := value.ParseRecord(strings.TrimSpace(e.ID))
	if !ok || rid.Table() != e.Table {
		if rid, ok = value.ParseRecord(e.Table + ":" + strings.TrimSpace(e.ID)); !ok {
			return rid, row, false, fmt.Errorf("id %q is not a record id of table %s", e.ID, e.Table)
		}
	}
	if strings.EqualFold(e.Op, "DELETE") {
		return rid, row, true, nil
	}
	var body struct {
		Record json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal(e.Body, &body); err != nil {
		return rid, row, false, err
	}
	row = value.ObjectOf(nil)
	if len(body.Record) > 0 && !bytes.Equal(body.Record, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(body.Record))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return rid, row, false, fmt.Errorf("record: %w", err)
		}
		if row, err = value.ObjectFromAny(m); err != nil {
			return rid, row, false, fmt.Errorf("record: %w", err)
		}
	}
	return rid, row.With("id", rid), false, nil
}

// replicaRows returns every row of every table of the replica that is not a `_00_` table, as
// an SSP loads them through /proxy/query: plain JSON classified as /ingest bodies are.
// s.replicaMu must be held (read). Each table is read in one statement, not paged: the
// embedded SurrealDB scans the table for every keyset page, so paging 100k rows takes about a
// minute, longer than an SSP waits for its registration's answer (the hashes need the rows
// in no particular order).
func (s *Scheduler) replicaRows(ctx context.Context) (map[string][]value.Value, error) {
	tables, err := tableNames(ctx, s.rep)
	if err != nil {
		return nil, fmt.Errorf("replica tables: %w", err)
	}
	out := map[string][]value.Value{}
	for _, tb := range tables {
		if strings.HasPrefix(tb, internalPrefix) {
			continue
		}
		rs, err := s.rep.Query(ctx, "SELECT * FROM type::table($tb)", map[string]any{"tb": tb})
		if err == nil && len(rs) == 0 {
			err = errors.New("no result")
		}
		if err == nil && rs[0].Err != nil && !isMissing(rs[0].Err) {
			err = rs[0].Err
		}
		if err != nil {
			return nil, fmt.Errorf("replica table %s: %w", tb, err)
		}
		if rs[0].Err != nil { // missing: no rows
			out[tb] = nil
			continue
		}
		if out[tb], err = classifyRows(rs[0].Value); err != nil {
			return nil, fmt.Errorf("replica table %s: %w", tb, err)
		}
	}
	return out, nil
}

// tableHashes returns the §6.4 hash of every replica table. s.replicaMu must be held (read).
func (s *Scheduler) tableHashes(ctx context.Context) (map[string]string, error) {
	rows, err := s.replicaRows(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for tb, rs := range rows {
		out[tb] = tablehash.Hash(tb, rs)
	}
	return out, nil
}

// classifyRows turns a query result into the rows an SSP gets from /proxy/query: encoded as
// plain JSON, decoded with integers kept apart from floats, and classified field by field.
func classifyRows(result value.Value) ([]value.Value, error) {
	b, err := json.Marshal(PlainJSON(result))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var rows []any
	if err := dec.Decode(&rows); err != nil {
		return nil, err
	}
	out := make([]value.Value, 0, len(rows))
	for i, r := range rows {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("row %d is %s, not an object", i, value.JSONKind(r))
		}
		v, err := value.ObjectFromAny(m)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// PlainJSON converts a SurrealDB value into the plain JSON the real scheduler serves (as
// serde_json values, ready for encoding/json): record ids as `table:key` text the way
// SurrealDB 3 prints them (keys that are not plain between backticks), datetimes as RFC 3339 in
// UTC (0, 3, 6 or 9 fractional digits), durations in SurrealDB's form, floats with a fraction
// or an exponent (`1.0`, so that they decode as floats again), NONE as null.
func PlainJSON(v value.Value) any {
	return v.ConvertTo(func(v value.Value) (any, bool) {
		switch v.Kind() {
		case value.KindRecord:
			return recordText(v), true
		case value.KindDatetime:
			return tablehash.FormatDatetime(v.AsTime()), true
		case value.KindFloat:
			return json.RawMessage(tablehash.AppendFloat(nil, v.AsFloat())), true
		}
		return nil, false
	})
}

// recordText spells a record id as SurrealDB 3 does in JSON: `table:key`, a key that is not
// only letters, digits and `_` (or is all digits but a string) between backticks.
func recordText(v value.Value) string {
	quote := func(s string) string {
		return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
	}
	tb := v.Table()
	if !plain(tb) || digits(tb) {
		tb = quote(tb)
	}
	k := v.Key()
	switch k.Kind() {
	case value.KindInt:
		return tb + ":" + strconv.FormatInt(k.AsInt(), 10)
	case value.KindString:
		if s := k.AsString(); plain(s) && !digits(s) {
			return tb + ":" + s
		}
		return tb + ":" + quote(k.AsString())
	}
	return tb + ":" + k.SurQL()
}

func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
