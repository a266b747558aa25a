package membership

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

// QueryRow is a view's `_00_query` row (SPEC §2.1).
type QueryRow struct {
	// Key is the view key; the row is `_00_query:<Key>`.
	Key   string
	SurQL string
	// Params is the view's parameters (an object; NONE when absent).
	Params           value.Value
	ClientID, AuthID string
	TTL              time.Duration
	LastActiveAt     time.Time
	// RegistrationTime is how long the registration took, in milliseconds.
	RegistrationTime float64
	RowCount         int
	// SSPID is the SSP that serves the view (`ssp_id`, SPEC §6.7); "" when the row has none
	// (standalone mode). Writing a row with SSPID "" leaves its ssp_id as it is.
	SSPID string
}

// ViewMetrics are the metrics of one view written by FlushMetrics. A NaN percentile (no
// samples yet) is written as NONE.
type ViewMetrics struct {
	Key               string
	RowCount          int
	UpdateCount       int64
	LastIngestLatency float64
	P55, P90, P99     float64
}

// StoreOptions tunes a Store.
type StoreOptions struct {
	// MaxStatements caps the statements of one FlushMetrics query (default 500).
	MaxStatements int
	// Log receives warnings (logrus' standard logger if nil).
	Log logrus.FieldLogger
}

// Store reads and writes the `_00_query` rows and waits on `_00_version`. Each method is one
// query through the Querier (which retries what is transient), except WaitVersion, which polls
// until the version shows or its timeout. Store keeps no state: it is safe for concurrent use
// when its Querier is.
type Store struct {
	q    Querier
	opts StoreOptions
}

// NewStore returns a Store using q.
func NewStore(q Querier, opts StoreOptions) *Store {
	if opts.MaxStatements <= 0 {
		opts.MaxStatements = 500
	}
	if opts.Log == nil {
		opts.Log = logrus.StandardLogger()
	}
	return &Store{q: q, opts: opts}
}

// run runs a query and returns its results, failing on any failed statement.
func (s *Store) run(ctx context.Context, surql string, vars map[string]any) ([]conn.Result, error) {
	return run(ctx, s.q, surql, vars)
}

// UpsertQuery writes a view's `_00_query` row: surql, params, clientId, auth_id, ttl (a
// duration), lastActiveAt (a datetime), registrationTime (ms), rowCount and, when r.SSPID is
// set, ssp_id, and clears an unregisteredAt mark (MarkUnregistered). Other fields of an existing
// row (metrics, createdAt, an ssp_id written by Writer.ClaimView, …) are kept.
func (s *Store) UpsertQuery(ctx context.Context, r QueryRow) error {
	vars := map[string]any{
		"id":               QueryRecord(r.Key),
		"surql":            r.SurQL,
		"params":           r.Params,
		"clientId":         r.ClientID,
		"authId":           r.AuthID,
		"ttl":              value.Duration(r.TTL),
		"lastActiveAt":     value.Datetime(r.LastActiveAt),
		"registrationTime": r.RegistrationTime,
		"rowCount":         int64(r.RowCount),
	}
	q := "UPSERT $id SET surql = $surql, params = $params, clientId = $clientId, auth_id = $authId, " +
		"ttl = $ttl, lastActiveAt = $lastActiveAt, registrationTime = $registrationTime, rowCount = $rowCount, " +
		UnregisteredField + " = NONE" +
		setOwner(r.SSPID, vars) + " RETURN NONE"
	if _, err := s.run(ctx, q, vars); err != nil {
		return fmt.Errorf("upsert query row %s: %w", r.Key, err)
	}
	return nil
}

// RefreshQuery updates clientId, auth_id, lastActiveAt and (when r.SSPID is set) ssp_id of
// the existing `_00_query` row of r.Key (a re-registration of the same query) and clears its
// unregisteredAt mark; r's other fields are not written. It reports whether the row exists.
func (s *Store) RefreshQuery(ctx context.Context, r QueryRow) (bool, error) {
	vars := map[string]any{
		"id": QueryRecord(r.Key), "clientId": r.ClientID, "authId": r.AuthID, "lastActiveAt": value.Datetime(r.LastActiveAt),
	}
	q := "UPDATE $id SET clientId = $clientId, auth_id = $authId, lastActiveAt = $lastActiveAt, " +
		UnregisteredField + " = NONE" + setOwner(r.SSPID, vars) + " RETURN VALUE id"
	rs, err := s.run(ctx, q, vars)
	if err != nil {
		return false, fmt.Errorf("refresh query row %s: %w", r.Key, err)
	}
	return rs[0].Value.Len() > 0, nil
}

// UnregisteredField is the field of a `_00_query` row that marks a view unregistered over HTTP
// (SPEC §1.3): the datetime of the unregistration. A marked row is kept — the client's row, usually
// being deleted — but no bootstrap restores its view; the TTL sweep removes it in time and a
// registration of the same key clears the mark.
const UnregisteredField = "unregisteredAt"

// MarkUnregistered marks the existing `_00_query` row of key unregistered (UnregisteredField =
// now) when it is owner's (any row when owner is ""): a view that moved to another SSP keeps its
// row as the new owner wrote it. A missing row (or table) is not created and is no error.
func (s *Store) MarkUnregistered(ctx context.Context, key, owner string) error {
	vars := map[string]any{"id": QueryRecord(key)}
	q := "UPDATE $id SET " + UnregisteredField + " = time::now()" + ownedBy(owner, " WHERE ", vars) + " RETURN NONE"
	if _, err := s.run(ctx, q, vars); err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		return fmt.Errorf("mark query row %s unregistered: %w", key, err)
	}
	return nil
}

// setOwner returns the SET clause that writes ssp_id = sspID (binding it in vars), or nothing
// when sspID is "".
func setOwner(sspID string, vars map[string]any) string {
	if sspID == "" {
		return ""
	}
	vars["sspId"] = sspID
	return ", ssp_id = $sspId"
}

// FlushMetrics writes the metrics of views to their `_00_query` rows (rowCount, updateCount,
// lastIngestLatency, materializationP55/P90/P99). Rows that no longer exist are not created.
func (s *Store) FlushMetrics(ctx context.Context, ms []ViewMetrics) error {
	for start := 0; start < len(ms); start += s.opts.MaxStatements {
		chunk := ms[start:min(len(ms), start+s.opts.MaxStatements)]
		var b strings.Builder
		vars := make(map[string]any, 2*len(chunk))
		for i, m := range chunk {
			n := strconv.Itoa(i)
			vars["q"+n] = QueryRecord(m.Key)
			vars["m"+n] = value.ObjectOf([]value.Field{
				{Key: "rowCount", Val: value.Int(int64(m.RowCount))},
				{Key: "updateCount", Val: value.Int(m.UpdateCount)},
				{Key: "lastIngestLatency", Val: floatOrNone(m.LastIngestLatency)},
				{Key: "materializationP55", Val: floatOrNone(m.P55)},
				{Key: "materializationP90", Val: floatOrNone(m.P90)},
				{Key: "materializationP99", Val: floatOrNone(m.P99)},
			})
			b.WriteString("UPDATE $q" + n + " MERGE $m" + n + " RETURN NONE;\n")
		}
		if _, err := s.run(ctx, b.String(), vars); err != nil {
			return fmt.Errorf("write metrics of %d views: %w", len(chunk), err)
		}
	}
	return nil
}

func floatOrNone(f float64) value.Value {
	if math.IsNaN(f) {
		return value.None()
	}
	return value.Float(f)
}

// LoadQueries returns the `_00_query` rows that hold a query (rows without a string `surql`
// are skipped) and are not marked unregistered (MarkUnregistered), sorted by key: every such row
// when owner is "" (standalone), else only those whose ssp_id is owner. A missing table means
// no rows.
func (s *Store) LoadQueries(ctx context.Context, owner string) ([]QueryRow, error) {
	vars := map[string]any{}
	return s.selectQueries(ctx, "SELECT * FROM type::table($tb) WHERE type::is_none("+UnregisteredField+")"+
		ownedBy(owner, " AND ", vars), vars)
}

// OwnedKeys returns the keys of every `_00_query` row whose ssp_id is owner, marked unregistered
// or not: the views whose edges a reconcile of owner may touch (SPEC §6.7). A missing table means
// no keys.
func (s *Store) OwnedKeys(ctx context.Context, owner string) ([]string, error) {
	vars := map[string]any{"tb": QueryTable, "owner": owner}
	rs, err := s.run(ctx, "SELECT VALUE id FROM type::table($tb) WHERE ssp_id = $owner", vars)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", QueryTable, err)
	}
	var keys []string
	for _, id := range rs[0].Value.Elems() {
		if id.Kind() == value.KindRecord {
			keys = append(keys, recordKeyText(id.Key()))
		}
	}
	return keys, nil
}

// ExpiredQueries returns the `_00_query` rows whose lastActiveAt + ttl is before now: all of
// them when owner is "", else only those whose ssp_id is owner.
func (s *Store) ExpiredQueries(ctx context.Context, now time.Time, owner string) ([]QueryRow, error) {
	vars := map[string]any{"now": value.Datetime(now)}
	return s.selectQueries(ctx, "SELECT * FROM type::table($tb) WHERE "+expiredAt("$now")+ownedBy(owner, " AND ", vars), vars)
}

// ownedBy returns the condition "ssp_id is owner" after join (binding owner in vars), or
// nothing when owner is "".
func ownedBy(owner, join string, vars map[string]any) string {
	if owner == "" {
		return ""
	}
	vars["owner"] = owner
	return join + "ssp_id = $owner"
}

// expiredAt is the condition of an expired row at the instant expr.
func expiredAt(expr string) string {
	return "type::is_datetime(lastActiveAt) AND type::is_duration(ttl) AND lastActiveAt + ttl < " + expr
}

func (s *Store) selectQueries(ctx context.Context, q string, vars map[string]any) ([]QueryRow, error) {
	if vars == nil {
		vars = map[string]any{}
	}
	vars["tb"] = QueryTable
	rs, err := s.run(ctx, q, vars)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", QueryTable, err)
	}
	var out []QueryRow
	for _, row := range rs[0].Value.Elems() {
		r, ok := parseQueryRow(row)
		if !ok {
			s.opts.Log.WithField("row", row.Get("id").SurQL()).Debug("_00_query row without a query skipped")
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// parseQueryRow reads a `_00_query` row; ok is false when it holds no query.
func parseQueryRow(row value.Value) (QueryRow, bool) {
	id := row.Get("id")
	sq := row.Get("surql")
	if id.Kind() != value.KindRecord || sq.Kind() != value.KindString {
		return QueryRow{}, false
	}
	r := QueryRow{
		Key:      recordKeyText(id.Key()),
		SurQL:    sq.AsString(),
		Params:   row.Get("params"),
		ClientID: row.Get("clientId").AsString(),
		AuthID:   row.Get("auth_id").AsString(),
		RowCount: int(row.Get("rowCount").AsInt()),
		SSPID:    row.Get("ssp_id").AsString(),
	}
	if a := row.Get("auth_id"); a.Kind() == value.KindRecord {
		r.AuthID = value.RecordString(a)
	}
	switch t := row.Get("ttl"); t.Kind() {
	case value.KindDuration:
		r.TTL = t.AsDuration()
	case value.KindString:
		r.TTL, _ = value.ParseDuration(t.AsString())
	}
	switch l := row.Get("lastActiveAt"); l.Kind() {
	case value.KindDatetime:
		r.LastActiveAt = l.AsTime()
	case value.KindString:
		if d, ok := value.ParseDatetime(l.AsString()); ok {
			r.LastActiveAt = d.AsTime()
		}
	}
	if rt := row.Get("registrationTime"); rt.IsNumber() {
		r.RegistrationTime = rt.AsFloat()
	}
	return r, true
}

// recordKeyText returns a record key as the view key text: a string as is, an integer in
// digits, anything else in SurrealQL form.
func recordKeyText(k value.Value) string {
	switch k.Kind() {
	case value.KindString:
		return k.AsString()
	case value.KindInt:
		return strconv.FormatInt(k.AsInt(), 10)
	}
	return k.SurQL()
}

// DeleteQueryIfExpired deletes the `_00_query` row of key only if it is still expired at the
// database's current time (a re-registration may have refreshed it since it was listed) and,
// when owner is set, its ssp_id is still owner (the view may have moved to another SSP), in
// one statement. It reports whether the row was deleted.
func (s *Store) DeleteQueryIfExpired(ctx context.Context, key, owner string) (bool, error) {
	vars := map[string]any{"id": QueryRecord(key)}
	rs, err := s.run(ctx, "DELETE $id WHERE "+expiredAt("time::now()")+ownedBy(owner, " AND ", vars)+" RETURN BEFORE", vars)
	if err != nil {
		return false, fmt.Errorf("delete expired query row %s: %w", key, err)
	}
	return rs[0].Value.Len() > 0, nil
}

// CountQueries returns how many `_00_query` rows are owned by authID.
func (s *Store) CountQueries(ctx context.Context, authID string) (int, error) {
	rs, err := s.run(ctx, "RETURN count(SELECT VALUE id FROM type::table($tb) WHERE auth_id = $a)",
		map[string]any{"tb": QueryTable, "a": authID})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0, nil
		}
		return 0, fmt.Errorf("count query rows of %q: %w", authID, err)
	}
	return int(rs[0].Value.AsInt()), nil
}

// ErrVersionTimeout marks a `_00_rv` wait that gave up: the version did not become visible
// within Config.RVWaitTimeout. The waiter logs it and writes the edges anyway.
var ErrVersionTimeout = errors.New("row version not visible in time")

// VersionBackoff is the wait before poll n+1 of a record's version after poll n (n from 0)
// found it not yet visible (SPEC §2.4): 10, 20, 40, 80, 80… ms.
func VersionBackoff(n int) time.Duration {
	return versionBackoff[min(max(n, 0), len(versionBackoff)-1)]
}

var versionBackoff = [...]time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}

// versionQuery is SPEC §2.4's poll of one record's version.
const versionQuery = "SELECT VALUE version FROM ONLY " + VersionTable + " WHERE record_id = $r%d LIMIT 1;\n"

// Versions polls the `_00_version` rows of several records in one round trip — SPEC §2.4's
// `SELECT VALUE version FROM ONLY _00_version WHERE record_id = $rid LIMIT 1` once per record,
// in one query — and returns each record's version, NONE where the poll found none or failed
// (for instance while `_00_version` does not exist yet). The error is for the whole query.
func (s *Store) Versions(ctx context.Context, rids []value.Value) ([]value.Value, error) {
	if len(rids) == 0 {
		return nil, nil
	}
	var b strings.Builder
	vars := make(map[string]any, len(rids))
	for i, rid := range rids {
		fmt.Fprintf(&b, versionQuery, i)
		vars["r"+strconv.Itoa(i)] = rid
	}
	rs, err := s.q.Query(ctx, b.String(), vars)
	if err != nil {
		return nil, fmt.Errorf("poll the versions of %d records: %w", len(rids), err)
	}
	out := make([]value.Value, len(rids))
	for i := range out {
		if i < len(rs) && rs[i].Err == nil {
			out[i] = rs[i].Value
		}
	}
	return out, nil
}
