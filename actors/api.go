package actors

import (
	"context"
	"errors"
	"time"

	"github.com/sp00ky/ssp/scheduler"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// Status is the SSP's lifecycle state (SPEC §1, §5).
type Status string

// The lifecycle states. Gated routes answer 503 unless the status is StatusReady.
const (
	StatusBootstrapping Status = "bootstrapping"
	StatusReady         Status = "ready"
	StatusFailed        Status = "failed"
)

// Errors the HTTP layer maps to status codes.
var (
	// ErrNotReady: the SSP is bootstrapping or failed (503 SSP_NOT_READY).
	ErrNotReady = errors.New("SSP is not ready")
	// ErrBusy: a bounded mailbox stayed full for the configured wait (503 with Retry-After);
	// the change was not accepted and nothing changed.
	ErrBusy = errors.New("SSP is busy: ingest queue full")
	// ErrInvalid wraps every rejection of bad input (400); nothing changed.
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: the request names something that does not exist, such as a job (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request does not fit the current state, such as a retry of a job that
	// has not failed (409); nothing changed.
	ErrConflict = errors.New("conflict")
)

// RegisterRequest is a validated /view/register body (SPEC §1.2).
type RegisterRequest struct {
	Key          string        // view key (engine.ViewKey of the given id)
	SurQL        string        // the live query
	ClientID     string        // clientId
	TTL          time.Duration // ttl
	Params       value.Value   // an object (may be empty); params.auth.id names the owner
	LastActiveAt time.Time     // defaults to now
	Format       string        // format/resultFormat as sent (informational)
}

// RegisterResult is the /view/register response body.
type RegisterResult struct {
	ViewID     string          `json:"view_id"`
	ResultHash string          `json:"result_hash"`
	Records    []engine.Member `json:"records"`
}

// ActorState is the actor part of /debug/view.
type ActorState struct {
	PID        string `json:"pid"`
	MailboxLen int    `json:"mailbox_len"`
	Restarts   int    `json:"restarts"`
	LastError  string `json:"last_error"`
}

// ViewDebug is the /debug/view/:id body (SPEC §1.4).
type ViewDebug struct {
	ViewID            string              `json:"view_id"`
	CacheSize         int                 `json:"cache_size"`
	LastHash          string              `json:"last_hash"`
	Format            string              `json:"format"`
	Cache             []engine.Member     `json:"cache"`
	SubqueryTables    []string            `json:"subquery_tables"`
	ReferencedTables  []string            `json:"referenced_tables"`
	ContentGeneration uint64              `json:"content_generation"`
	SubqueryCache     map[string][]string `json:"subquery_cache"`
	Actor             ActorState          `json:"actor"`
}

// DepsDebug is the /debug/deps body.
type DepsDebug struct {
	DependencyMap map[string][]string `json:"dependency_map"`
	TablesInStore []string            `json:"tables_in_store"`
	ViewCount     int                 `json:"view_count"`
}

// Info is one entry of the /info array (SPEC §1.4, §6.4).
type Info struct {
	Entity           string            `json:"entity"`
	ID               string            `json:"id"`
	Status           Status            `json:"status"`
	Views            int               `json:"views"`
	RefMode          string            `json:"ref_mode"`
	Version          string            `json:"version"`
	UptimeSeconds    int64             `json:"uptime_seconds"`
	SurrealDBVersion string            `json:"surrealdb_version"`
	CircuitTables    map[string]int    `json:"circuit_tables"`
	CircuitHashes    map[string]string `json:"circuit_hashes"`
	// Scheduler is the scheduler link in scheduler mode (absent standalone).
	Scheduler *SchedulerInfo `json:"scheduler,omitempty"`
	// DB is SurrealDB's reachability (absent before the SSP has started).
	DB *DBStatus `json:"db,omitempty"`
}

// DBStatus is SurrealDB's reachability as the SSP's probe (one round trip every 2 s, no
// retries) sees it, for /health and /info.
type DBStatus struct {
	// Status is up, down, or unknown before the first probe answered.
	Status string    `json:"status"`
	Since  time.Time `json:"since"` // when Status began
	// DownSeconds is how long the running outage has lasted; LastError is its probe's error.
	DownSeconds float64 `json:"down_seconds,omitempty"`
	LastError   string  `json:"last_error,omitempty"`
	// Outages counts the outages seen since start; LastOutageSeconds is the last one's
	// duration once it ended.
	Outages           int64   `json:"outages"`
	LastOutageSeconds float64 `json:"last_outage_seconds,omitempty"`
	CheckedAgoSeconds float64 `json:"checked_ago_seconds"` // since the last probe answered or failed
}

// Health is what /health reports besides the status while the SSP is ready.
type Health struct {
	Views  int
	Tables int // tables in the SSP's store
	// EdgeBacklog counts the view changes queued in the edge writers and the edge writes they
	// hold unwritten (after a failed flush): how far the list_ref rows are behind SurrealDB's
	// data (it grows during a database outage). -1 when the writers did not answer in time.
	EdgeBacklog int
	DB          DBStatus
}

// SchedulerInfo is the scheduler part of /info (the whole state is /debug/scheduler).
type SchedulerInfo struct {
	URL                     string  `json:"url"`
	Link                    string  `json:"link"`
	AdvertisedURL           string  `json:"advertised_url"`
	SnapshotSeq             uint64  `json:"snapshot_seq"`
	LastHeartbeatAgeSeconds float64 `json:"last_heartbeat_age_seconds"`
	LastHeartbeatAnswer     string  `json:"last_heartbeat_answer"`
	Registrations           int     `json:"registrations"`
}

// ErrStandalone: a scheduler-mode request to an SSP that runs standalone (404).
var ErrStandalone = errors.New("the SSP runs standalone (SPKY_SCHEDULER_URL is not set)")

// API is what the HTTP layer needs from the actor system. *Service implements it: a facade
// whose every call is messages to the actors.
type API interface {
	Status() Status
	// StatusDetail is the status with why it is what it is (the reason of a failure), for
	// /health.
	StatusDetail() (Status, string)
	// Health is what /health shows while the SSP is ready: the views, the database's
	// reachability and the edge backlog.
	Health(ctx context.Context) Health
	// Ingest applies one change in memory and returns once the engine has it and every
	// affected view has it queued ahead of any later request; database writes follow in the
	// background. jobAssignee is the optional job_assignee.
	Ingest(ctx context.Context, c engine.Change, jobAssignee string) error
	Register(ctx context.Context, req RegisterRequest) (RegisterResult, error)
	Unregister(ctx context.Context, key string) error
	Reset(ctx context.Context) error
	DebugView(ctx context.Context, key string) (ViewDebug, bool)
	DebugDeps(ctx context.Context) DepsDebug
	// DebugActors walks the live actor tree (GET /debug/actors).
	DebugActors(ctx context.Context) (ActorTree, error)
	// DebugScheduler is the scheduler link's state (GET /debug/scheduler); ErrStandalone
	// without a scheduler.
	DebugScheduler(ctx context.Context) (*scheduler.State, error)
	Info(ctx context.Context) Info
	// RetryJob makes a failed job pending again (POST /job/retry); KillJob cancels a job's
	// request in flight, or fails a pending job (POST /job/kill). id is the job's record id;
	// ErrInvalid, ErrNotFound or ErrConflict say why not.
	RetryJob(ctx context.Context, id string) (JobAction, error)
	KillJob(ctx context.Context, id string) (JobAction, error)
	// DebugJobs describes every job table (GET /debug/jobs).
	DebugJobs(ctx context.Context) (JobsDebug, error)
}
