package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sp00ky/ssp/surreal/membership"
)

// setting describes one scalar configuration variable: its environment name, how its text is
// turned into a Config field and its default. The yml key and flag name derive from the env name.
type setting struct {
	env       string   // environment variable, e.g. SPKY_DB_WS
	fallbacks []string // older environment names read when env is unset
	def       string   // default as text; "" means unset
	secret    bool     // never logged nor sent anywhere
	usage     string
	apply     func(c *Config, raw string) error // parses raw (non-empty) into c
}

// key is the nested, lower-case yml key of s: SPKY_ dropped, lower-cased, first "_" becomes ".".
func (s setting) key() string {
	k := strings.ToLower(strings.TrimPrefix(s.env, "SPKY_"))
	return strings.Replace(k, "_", ".", 1)
}

// flag is the command-line flag name of s: its yml key with "." and "_" turned into "-".
func (s setting) flag() string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(s.key())
}

// envStyleKey is the env name as viper stores it when spelled as a top-level yml key.
func (s setting) envStyleKey() string { return strings.ToLower(s.env) }

// settings lists every scalar variable in the order they are reported and documented.
func settings() []setting {
	return []setting{
		{env: "SPKY_SSP_LISTEN_ADDR", def: "0.0.0.0:8667", usage: "host:port the HTTP API listens on",
			apply: func(c *Config, raw string) error {
				if err := checkHostPort(raw, true); err != nil {
					return err
				}
				c.ListenAddr = raw
				return nil
			}},
		{env: "SPKY_AUTH_SECRET", fallbacks: []string{"SP00KY_AUTH_SECRET", "SPOOKY_AUTH_SECRET"}, secret: true,
			usage: "bearer token clients must send (unset: any token, dev only)",
			apply: func(c *Config, raw string) error { c.AuthSecret = raw; return nil }},
		{env: "SPKY_DB_WS", def: "ws://127.0.0.1:8000", usage: "SurrealDB RPC URL (ws, wss, http or https)",
			apply: func(c *Config, raw string) error {
				if err := checkURL(raw, "ws", "wss", "http", "https"); err != nil {
					return err
				}
				c.DBWS = raw
				return nil
			}},
		{env: "SPKY_DB_USER", def: "root", usage: "SurrealDB root user",
			apply: func(c *Config, raw string) error { c.DBUser = raw; return nil }},
		{env: "SPKY_DB_PASS", def: "root", secret: true, usage: "SurrealDB root password",
			apply: func(c *Config, raw string) error { c.DBPass = raw; return nil }},
		{env: "SPKY_DB_NS", def: "main", usage: "SurrealDB namespace",
			apply: func(c *Config, raw string) error { c.DBNS = raw; return nil }},
		{env: "SPKY_DB_NAME", def: "app", usage: "SurrealDB database",
			apply: func(c *Config, raw string) error { c.DBName = raw; return nil }},
		{env: "SPKY_SSP_REF_MODE", def: string(membership.RefDedicated), usage: "list_ref layout: dedicated or single",
			apply: func(c *Config, raw string) error {
				m, err := membership.ParseRefMode(raw)
				if err != nil || strings.TrimSpace(raw) == "" {
					return fmt.Errorf("unknown ref mode; allowed: %s, %s (case-insensitive)", membership.RefDedicated, membership.RefSingle)
				}
				c.RefMode = m
				return nil
			}},
		{env: "TTL_CLEANUP_INTERVAL_SECS", def: "60", usage: "seconds between TTL sweeps",
			apply: durationSetter(time.Second, false, func(c *Config) *time.Duration { return &c.TTLCleanupInterval })},
		{env: "SPKY_SCHEMA_REFRESH_SECS", def: "30", usage: "seconds between reads of the tables' field types (INFO FOR TABLE; 0: only at bootstrap)",
			apply: durationSetter(time.Second, true, func(c *Config) *time.Duration { return &c.SchemaRefreshInterval })},
		{env: "SPKY_CRDT_CACHE_SIZE", def: "10000", usage: "in-memory CRDT cache capacity",
			apply: intSetter(false, func(c *Config) *int { return &c.CRDTCacheSize })},
		{env: "SPKY_SSP_BOOTSTRAP_PAGE_SIZE", def: "500", usage: "rows per bootstrap page",
			apply: intSetter(false, func(c *Config) *int { return &c.BootstrapPageSize })},
		{env: "SPKY_SSP_BOOTSTRAP_BUFFER", def: "50000", usage: "standalone: ingests accepted while bootstrapping, applied after the load (0: answer 503)",
			apply: intSetter(true, func(c *Config) *int { return &c.BootstrapBuffer })},
		{env: "SPKY_SCHEDULER_URL", usage: "scheduler base URL (http or https); set = scheduler mode",
			apply: func(c *Config, raw string) error {
				if err := checkURL(raw, "http", "https"); err != nil {
					return err
				}
				c.SchedulerURL = strings.TrimRight(raw, "/")
				return nil
			}},
		{env: "SPKY_SSP_ID", usage: "this SSP's id (default ssp-<uuid>)",
			apply: func(c *Config, raw string) error {
				if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
					return fmt.Errorf("must not contain spaces or control characters")
				}
				c.SSPID = raw
				return nil
			}},
		{env: "SPKY_SSP_ADVERTISE_ADDR", usage: "host:port (or http(s) URL) the scheduler reaches this SSP at",
			apply: func(c *Config, raw string) error {
				if strings.Contains(raw, "://") {
					if err := checkURL(raw, "http", "https"); err != nil {
						return err
					}
				} else if err := checkHostPort(raw, false); err != nil {
					return err
				}
				c.AdvertiseAddr = strings.TrimRight(raw, "/")
				return nil
			}},
		{env: "HEARTBEAT_INTERVAL_MS", def: "5000", usage: "milliseconds between scheduler heartbeats",
			apply: durationSetter(time.Millisecond, false, func(c *Config) *time.Duration { return &c.HeartbeatInterval })},
		{env: "SPKY_SSP_REGISTER_MAX_WAIT_SECS", def: "180", usage: "seconds the scheduler registration retries before it fails (a 503 starts the wait anew)",
			apply: durationSetter(time.Second, false, func(c *Config) *time.Duration { return &c.RegisterMaxWait })},
		{env: "SPKY_LOG_LEVEL", def: "info", usage: "log level: trace, debug, info, warn, error, fatal, panic",
			apply: func(c *Config, raw string) error {
				l, err := parseLevel(raw)
				if err != nil {
					return err
				}
				c.LogLevel = l
				return nil
			}},
		{env: "SPKY_LOG_FORMAT", def: string(LogFormatText), usage: "log format: text or json",
			apply: func(c *Config, raw string) error {
				switch f := LogFormat(strings.ToLower(strings.TrimSpace(raw))); f {
				case LogFormatText, LogFormatJSON:
					c.LogFormat = f
					return nil
				}
				return fmt.Errorf("unknown log format; allowed: text, json")
			}},
		{env: "SPKY_BODY_LIMIT", def: formatByteSize(DefaultBodyLimit), usage: "request body limit: bytes or with unit (512KiB, 8MiB, 1GiB, 10MB)",
			apply: func(c *Config, raw string) error {
				n, err := parseByteSize(raw)
				if err != nil {
					return err
				}
				c.BodyLimit = n
				return nil
			}},
		{env: "SPKY_METRICS_FLUSH_INTERVAL_MS", def: "2000", usage: "milliseconds between view-metric flushes",
			apply: durationSetter(time.Millisecond, false, func(c *Config) *time.Duration { return &c.MetricsFlushInterval })},
		{env: "SPKY_INGEST_QUEUE", def: "1024", usage: "ingest mailbox capacity",
			apply: intSetter(false, func(c *Config) *int { return &c.IngestQueue })},
		{env: "SPKY_INGEST_WAIT_MS", def: "2000", usage: "milliseconds /ingest waits on a full mailbox before 503 (0: fail at once)",
			apply: durationSetter(time.Millisecond, true, func(c *Config) *time.Duration { return &c.IngestWait })},
		{env: "SPKY_EDGE_BACKLOG", def: "20000", usage: "edge items the writers may queue before /ingest waits for the database (0: no bound)",
			apply: intSetter(true, func(c *Config) *int { return &c.EdgeBacklog })},
		{env: "SPKY_SHUTDOWN_TIMEOUT_SECS", def: "30", usage: "seconds allowed for a graceful shutdown",
			apply: durationSetter(time.Second, false, func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{env: "SPKY_RV_WAIT_TIMEOUT_MS", def: "5000", usage: "milliseconds to wait for a record version",
			apply: durationSetter(time.Millisecond, false, func(c *Config) *time.Duration { return &c.RVWaitTimeout })},
		{env: "SPKY_JOB_QUEUE", def: "1024", usage: "jobs queued per job table beyond those running; an offer to a full queue stays pending in the database for the sweep",
			apply: intSetter(false, func(c *Config) *int { return &c.JobQueue })},
		{env: "SPKY_JOB_SWEEP_INTERVAL_MS", def: "10000", usage: "milliseconds between sweeps of each job table for claimable jobs (pending, or processing with an expired lease)",
			apply: durationSetter(time.Millisecond, false, func(c *Config) *time.Duration { return &c.JobSweepInterval })},
		{env: "SPKY_JOB_PENDING_GRACE_MS", def: "30000", usage: "scheduler mode: milliseconds a pending job must be unchanged before a sweep takes it without being its job_assignee",
			apply: durationSetter(time.Millisecond, true, func(c *Config) *time.Duration { return &c.JobPendingGrace })},
		{env: "SPKY_JOB_LEASE_GRACE_MS", def: "30000", usage: "milliseconds a job's lease outlasts its request timeout (the time to record the outcome)",
			apply: durationSetter(time.Millisecond, false, func(c *Config) *time.Duration { return &c.JobLeaseGrace })},
	}
}

// maxInt bounds integer settings so unit multiplication cannot overflow time.Duration.
const maxInt = 1 << 40

func parsePositive(raw string, allowZero bool) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	switch {
	case err != nil && allowZero:
		return 0, fmt.Errorf("must be a whole number >= 0")
	case err != nil:
		return 0, fmt.Errorf("must be a whole number > 0")
	case n < 0 || (n == 0 && !allowZero):
		if allowZero {
			return 0, fmt.Errorf("must be >= 0")
		}
		return 0, fmt.Errorf("must be > 0")
	case n > maxInt:
		return 0, fmt.Errorf("must be at most %d", maxInt)
	}
	return n, nil
}

func intSetter(allowZero bool, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, raw string) error {
		n, err := parsePositive(raw, allowZero)
		if err != nil {
			return err
		}
		*field(c) = int(n)
		return nil
	}
}

func durationSetter(unit time.Duration, allowZero bool, field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, raw string) error {
		n, err := parsePositive(raw, allowZero)
		if err != nil {
			return err
		}
		*field(c) = time.Duration(n) * unit
		return nil
	}
}

// checkHostPort accepts host:port with a numeric port; for a listen address the host may be empty
// and the port 0 (pick any).
func checkHostPort(raw string, listen bool) error {
	const want = "must be host:port, e.g. 0.0.0.0:8667"
	host, port, err := net.SplitHostPort(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("%s", want)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !listen) {
		return fmt.Errorf("%s (port 1-65535)", want)
	}
	if host == "" && !listen {
		return fmt.Errorf("%s (host required)", want)
	}
	if strings.ContainsAny(host, " /\\") {
		return fmt.Errorf("%s (bad host %q)", want, host)
	}
	return nil
}

// checkURL accepts an absolute URL with one of schemes and a host.
func checkURL(raw string, schemes ...string) error {
	want := "must be a URL with scheme " + strings.Join(schemes[:len(schemes)-1], ", ") + " or " + schemes[len(schemes)-1] + " and a host"
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%s", want)
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			return nil
		}
	}
	return fmt.Errorf("%s (got scheme %q)", want, u.Scheme)
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"b", 1},
}

// formatByteSize writes n in the largest binary unit that divides it ("8MiB").
func formatByteSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseByteSize reads "8388608", "512KiB", "8MiB", "1GiB", "10MB" (units case-insensitive).
func parseByteSize(raw string) (int64, error) {
	const want = "must be a positive byte count, optionally with a unit B, KiB, MiB, GiB, KB, MB or GB (e.g. 8MiB)"
	s := strings.ToLower(strings.TrimSpace(raw))
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%s", want)
	}
	return n * mult, nil
}
