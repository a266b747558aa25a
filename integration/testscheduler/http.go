package testscheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

const maxBody = 16 << 20

func (s *Scheduler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ingest", s.handleIngest)
	mux.HandleFunc("POST /ssp/register", s.handleRegister)
	mux.HandleFunc("POST /ssp/heartbeat", s.handleHeartbeat)
	mux.HandleFunc("POST /proxy/query", s.handleProxyQuery)
	mux.HandleFunc("POST /proxy/signin", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /proxy/use", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /view/register", s.handleViewRegister)
	mux.HandleFunc("POST /view/unregister", s.handleViewUnregister)
	mux.HandleFunc("GET /health", s.handleHealth)
	mux.HandleFunc("GET /info", s.handleInfo)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			text(w, http.StatusServiceUnavailable, "Scheduler is shutting down")
			return
		}
		defer s.wg.Done()
		mux.ServeHTTP(w, r)
	})
}

func text(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		text(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonBody reads a JSON object body the way the real scheduler's extractor does: 415 without a
// JSON content type, 400 for malformed JSON, 422 for JSON of the wrong shape. It returns the
// raw body and its fields, or answers and returns ok false.
func jsonBody(w http.ResponseWriter, r *http.Request) ([]byte, map[string]json.RawMessage, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		text(w, http.StatusUnsupportedMediaType, "Expected request with `Content-Type: application/json`")
		return nil, nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		text(w, http.StatusRequestEntityTooLarge, "Failed to buffer the request body: "+err.Error())
		return nil, nil, false
	}
	var x any
	if err := json.Unmarshal(body, &x); err != nil {
		text(w, http.StatusBadRequest, "Failed to parse the request body as JSON: "+err.Error())
		return nil, nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		text(w, http.StatusUnprocessableEntity, fmt.Sprintf("Failed to deserialize the JSON body into the target type: invalid type: %s, expected a struct", jsonKind(x)))
		return nil, nil, false
	}
	return body, m, true
}

func jsonKind(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "sequence"
	}
	return "map"
}

// fields decodes named fields of a JSON object with 422 answers for missing (required) or
// mistyped ones, as serde does.
type fields struct {
	m   map[string]json.RawMessage
	err string
}

func (f *fields) present(name string) bool {
	raw, ok := f.m[name]
	return ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// get decodes field name into dst; a missing or null field is an error when required.
func (f *fields) get(name string, dst any, required bool) {
	if f.err != "" {
		return
	}
	if !f.present(name) {
		if required {
			f.err = fmt.Sprintf("missing field `%s`", name)
		}
		return
	}
	if err := json.Unmarshal(f.m[name], dst); err != nil {
		f.err = fmt.Sprintf("invalid type for field `%s`: %v", name, err)
	}
}

// fail answers 422 if a field was missing or mistyped.
func (f *fields) fail(w http.ResponseWriter) bool {
	if f.err == "" {
		return false
	}
	text(w, http.StatusUnprocessableEntity, "Failed to deserialize the JSON body into the target type: "+f.err)
	return true
}
