package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/actors"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// object decodes a JSON object body into its raw fields.
func object(body []byte, what string) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s body is empty; send a JSON object", what)
	}
	if trimmed[0] != '{' {
		var x any
		if err := json.Unmarshal(trimmed, &x); err != nil {
			return nil, fmt.Errorf("%s body is not valid JSON: %v", what, err)
		}
		return nil, fmt.Errorf("%s body must be a JSON object, got %s", what, value.JSONKind(x))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return nil, fmt.Errorf("%s body is not valid JSON: %v", what, err)
	}
	return m, nil
}

// field returns the first of names present with a non-null value, and the name it came under.
func field(m map[string]json.RawMessage, names ...string) (json.RawMessage, string) {
	for _, n := range names {
		if raw, ok := m[n]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return raw, n
		}
	}
	return nil, names[0]
}

func spelled(names []string) string {
	if len(names) == 1 {
		return fmt.Sprintf("%q", names[0])
	}
	return fmt.Sprintf("%q (or %q)", names[0], strings.Join(names[1:], `", "`))
}

// stringField reads a string field under any of names; required fields must be present and
// non-blank.
func stringField(m map[string]json.RawMessage, required bool, hint string, names ...string) (string, bool, error) {
	raw, name := field(m, names...)
	if raw == nil {
		if required {
			return "", false, fmt.Errorf("field %s is required%s", spelled(names), hint)
		}
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var x any
		_ = json.Unmarshal(raw, &x)
		return "", false, fmt.Errorf("field %q must be a string%s, got %s", name, hint, value.JSONKind(x))
	}
	if required && strings.TrimSpace(s) == "" {
		return "", false, fmt.Errorf("field %q must not be empty%s", name, hint)
	}
	return s, true, nil
}

// parseRegister decodes and validates a /view/register body (SPEC §1.2).
func parseRegister(body []byte, now time.Time) (actors.RegisterRequest, error) {
	var req actors.RegisterRequest
	m, err := object(body, "view registration")
	if err != nil {
		return req, err
	}
	id, _, err := stringField(m, true, ` (the view id, e.g. "_00_query:abc")`, "id")
	if err != nil {
		return req, err
	}
	req.Key = engine.ViewKey(id)
	if req.Key == "" {
		return req, fmt.Errorf("field \"id\" %q has an empty view key; send e.g. \"_00_query:abc\" or \"abc\"", id)
	}
	if req.SurQL, _, err = stringField(m, true, " (the SurrealQL SELECT to materialize)", "surql", "surreal_ql"); err != nil {
		return req, err
	}
	if req.ClientID, _, err = stringField(m, true, " (the client's id)", "clientId", "client_id"); err != nil {
		return req, err
	}
	ttl, _, err := stringField(m, true, ` (a SurrealDB duration such as "30s", "10m", "1h", "1d", "1h30m")`, "ttl")
	if err != nil {
		return req, err
	}
	if req.TTL, err = value.ParseDuration(strings.TrimSpace(ttl)); err != nil {
		return req, fmt.Errorf("field \"ttl\" %q is not a SurrealDB duration (e.g. 30s, 10m, 1h, 1d, 1h30m): %v", ttl, err)
	}
	if req.TTL <= 0 {
		return req, fmt.Errorf("field \"ttl\" %q must be longer than zero", ttl)
	}
	if req.Params, err = parseParams(m); err != nil {
		return req, err
	}
	req.LastActiveAt = now
	at, ok, err := stringField(m, false, ` (an RFC 3339 datetime such as "2024-01-01T00:00:00Z")`, "lastActiveAt", "last_active_at")
	if err != nil {
		return req, err
	}
	if ok {
		if req.LastActiveAt, err = parseDatetime(at); err != nil {
			return req, err
		}
	}
	if req.Format, _, err = stringField(m, false, ` (e.g. "flat")`, "format", "resultFormat"); err != nil {
		return req, err
	}
	return req, nil
}

// parseDatetime reads lastActiveAt: RFC 3339 with a zone, optionally as a SurrealQL literal d'…'.
func parseDatetime(s string) (time.Time, error) {
	t := strings.TrimSpace(s)
	if len(t) > 3 && t[0] == 'd' && (t[1] == '\'' || t[1] == '"') && t[len(t)-1] == t[1] {
		t = t[2 : len(t)-1]
	}
	v, ok := value.ParseDatetime(t)
	if !ok {
		return time.Time{}, fmt.Errorf("field \"lastActiveAt\" %q is not an RFC 3339 datetime with a zone (e.g. \"2024-01-01T00:00:00Z\")", s)
	}
	return v.AsTime(), nil
}

// parseParams reads params: absent/null/"" → {}, a JSON object, or a string holding a SurrealQL
// object literal as fn::query::register sends it.
func parseParams(m map[string]json.RawMessage) (value.Value, error) {
	empty := value.ObjectOf(nil)
	raw, _ := field(m, "params")
	if raw == nil {
		return empty, nil
	}
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return value.None(), fmt.Errorf("field \"params\" is not a valid JSON string: %v", err)
		}
		if strings.TrimSpace(s) == "" {
			return empty, nil
		}
		v, err := surql.ParseValue(s)
		if err != nil {
			return value.None(), fmt.Errorf("field \"params\" is not a SurrealQL object literal: %v", err)
		}
		if v.Kind() != value.KindObject {
			return value.None(), fmt.Errorf("field \"params\" must hold an object literal such as \"{ user: user:abc }\", got %s", v.Kind())
		}
		return v, nil
	case '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return value.None(), fmt.Errorf("field \"params\" is not a valid JSON object: %v", err)
		}
		v, err := value.ObjectFromAny(obj)
		if err != nil {
			return value.None(), fmt.Errorf("field \"params\".%v", err)
		}
		return v, nil
	}
	var x any
	_ = json.Unmarshal(raw, &x)
	return value.None(), fmt.Errorf("field \"params\" must be a JSON object or a string holding a SurrealQL object literal, got %s", value.JSONKind(x))
}

// parseUnregister decodes a /view/unregister body and returns the view key.
func parseUnregister(body []byte) (string, error) {
	m, err := object(body, "unregister")
	if err != nil {
		return "", err
	}
	id, _, err := stringField(m, true, ` (the view id, e.g. "_00_query:abc")`, "id")
	if err != nil {
		return "", err
	}
	key := engine.ViewKey(id)
	if key == "" {
		return "", fmt.Errorf("field \"id\" %q has an empty view key", id)
	}
	return key, nil
}

// parseJobID decodes a /job/retry or /job/kill body: {"id": "<table>:<key>"}.
func parseJobID(body []byte, route string) (string, error) {
	m, err := object(body, route)
	if err != nil {
		return "", err
	}
	id, _, err := stringField(m, true, ` (the job's record id, e.g. "job:1")`, "id")
	if err != nil {
		return "", err
	}
	if _, ok := value.ParseRecord(strings.TrimSpace(id)); !ok {
		return "", fmt.Errorf("field \"id\" %q is not a record id (table:key, e.g. \"job:1\")", id)
	}
	return strings.TrimSpace(id), nil
}

// logMessage is a decoded /log body.
type logMessage struct {
	message string
	level   logrus.Level
	data    string // compact JSON, "" when absent
}

var logLevels = map[string]logrus.Level{
	"error": logrus.ErrorLevel,
	"warn":  logrus.WarnLevel,
	"info":  logrus.InfoLevel,
	"debug": logrus.DebugLevel,
	"trace": logrus.TraceLevel,
}

// parseLog decodes a /log body: message (required), level (error|warn|info|debug|trace, any
// case, default info), data (any JSON).
func parseLog(body []byte) (logMessage, error) {
	m, err := object(body, "log")
	if err != nil {
		return logMessage{}, err
	}
	msg := logMessage{level: logrus.InfoLevel}
	if msg.message, _, err = stringField(m, true, "", "message"); err != nil {
		return logMessage{}, err
	}
	lvl, ok, err := stringField(m, false, " (error, warn, info, debug or trace)", "level")
	if err != nil {
		return logMessage{}, err
	}
	if ok && strings.TrimSpace(lvl) != "" {
		l, known := logLevels[strings.ToLower(strings.TrimSpace(lvl))]
		if !known {
			return logMessage{}, fmt.Errorf("field \"level\" %q is not one of error, warn, info, debug, trace", lvl)
		}
		msg.level = l
	}
	if raw, _ := field(m, "data"); raw != nil {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err == nil {
			msg.data = buf.String()
		}
	}
	return msg, nil
}
