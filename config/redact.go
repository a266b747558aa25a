package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// redacted replaces a secret that is set; an unset secret stays "" so logs show it is missing.
const redacted = "<redacted>"

func hide(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// hideURLPassword removes a password embedded in a URL's user info.
func hideURLPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Redacted returns the effective configuration keyed by variable name, for logging at start:
// secrets (auth secret, DB password, job tokens, URL passwords) are replaced by "<redacted>".
func (c Config) Redacted() map[string]any {
	jobs := make([]map[string]any, 0, len(c.JobTables))
	for _, j := range c.JobTables {
		jobs = append(jobs, map[string]any{
			"table": j.Table, "name": j.Name, "base_url": hideURLPassword(j.BaseURL),
			"auth_token": j.AuthToken.String(), "timeout": j.Timeout.String(),
			"timeout_overridable": j.TimeoutOverridable, "concurrency": j.Concurrency,
		})
	}
	return map[string]any{
		"SPKY_CONFIG_PATH":                c.ConfigFile,
		"SPKY_SSP_LISTEN_ADDR":            c.ListenAddr,
		"SPKY_AUTH_SECRET":                hide(c.AuthSecret),
		"SPKY_DB_WS":                      hideURLPassword(c.DBWS),
		"SPKY_DB_USER":                    c.DBUser,
		"SPKY_DB_PASS":                    hide(c.DBPass),
		"SPKY_DB_NS":                      c.DBNS,
		"SPKY_DB_NAME":                    c.DBName,
		"SPKY_SSP_REF_MODE":               string(c.RefMode),
		"TTL_CLEANUP_INTERVAL_SECS":       int64(c.TTLCleanupInterval.Seconds()),
		"SPKY_SCHEMA_REFRESH_SECS":        int64(c.SchemaRefreshInterval.Seconds()),
		"SPKY_JOB_CONFIG":                 jobs,
		"SPKY_CRDT_CACHE_SIZE":            c.CRDTCacheSize,
		"SPKY_CRDT_FIELDS":                c.CRDTFields,
		"SPKY_SSP_BOOTSTRAP_PAGE_SIZE":    c.BootstrapPageSize,
		"SPKY_SSP_BOOTSTRAP_BUFFER":       c.BootstrapBuffer,
		"SPKY_SCHEDULER_URL":              hideURLPassword(c.SchedulerURL),
		"SPKY_SSP_ID":                     c.SSPID,
		"SPKY_SSP_ADVERTISE_ADDR":         c.AdvertiseAddr,
		"HEARTBEAT_INTERVAL_MS":           c.HeartbeatInterval.Milliseconds(),
		"SPKY_SSP_REGISTER_MAX_WAIT_SECS": int64(c.RegisterMaxWait.Seconds()),
		"SPKY_LOG_LEVEL":                  c.LogLevel.String(),
		"SPKY_LOG_FORMAT":                 string(c.LogFormat),
		"SPKY_BODY_LIMIT":                 c.BodyLimit,
		"SPKY_METRICS_FLUSH_INTERVAL_MS":  c.MetricsFlushInterval.Milliseconds(),
		"SPKY_INGEST_QUEUE":               c.IngestQueue,
		"SPKY_INGEST_WAIT_MS":             c.IngestWait.Milliseconds(),
		"SPKY_EDGE_BACKLOG":               c.EdgeBacklog,
		"SPKY_SHUTDOWN_TIMEOUT_SECS":      int64(c.ShutdownTimeout.Seconds()),
		"SPKY_RV_WAIT_TIMEOUT_MS":         c.RVWaitTimeout.Milliseconds(),
		"SPKY_JOB_QUEUE":                  c.JobQueue,
		"SPKY_JOB_SWEEP_INTERVAL_MS":      c.JobSweepInterval.Milliseconds(),
		"SPKY_JOB_PENDING_GRACE_MS":       c.JobPendingGrace.Milliseconds(),
		"SPKY_JOB_LEASE_GRACE_MS":         c.JobLeaseGrace.Milliseconds(),
	}
}

// SchedulerEnv returns the variables sent in /ssp/register's "env" (and fit for /info): the
// effective connection and identity settings, never a secret. Empty values are left out.
func (c Config) SchedulerEnv() map[string]string {
	all := map[string]string{
		"SPKY_DB_WS":                hideURLPassword(c.DBWS),
		"SPKY_DB_NS":                c.DBNS,
		"SPKY_DB_NAME":              c.DBName,
		"SPKY_DB_USER":              c.DBUser,
		"SPKY_SCHEDULER_URL":        hideURLPassword(c.SchedulerURL),
		"SPKY_SSP_LISTEN_ADDR":      c.ListenAddr,
		"SPKY_SSP_ADVERTISE_ADDR":   c.AdvertiseAddr,
		"SPKY_SSP_ID":               c.SSPID,
		"SPKY_SSP_REF_MODE":         string(c.RefMode),
		"HEARTBEAT_INTERVAL_MS":     strconv.FormatInt(c.HeartbeatInterval.Milliseconds(), 10),
		"TTL_CLEANUP_INTERVAL_SECS": strconv.FormatInt(int64(c.TTLCleanupInterval.Seconds()), 10),
	}
	for k, v := range all {
		if v == "" || v == "0" {
			delete(all, k)
		}
	}
	return all
}

// AdvertiseURL is the URL the scheduler reaches this SSP at: SPKY_SSP_ADVERTISE_ADDR with
// "http://" prepended when it has no scheme, else the listen address with an unspecified host
// (empty, 0.0.0.0, ::) replaced by hostname (callers pass os.Hostname's answer; "" means 127.0.0.1).
func (c Config) AdvertiseURL(hostname string) string {
	if c.AdvertiseAddr != "" {
		if strings.Contains(c.AdvertiseAddr, "://") {
			return c.AdvertiseAddr
		}
		return "http://" + c.AdvertiseAddr
	}
	host, port, err := net.SplitHostPort(c.ListenAddr)
	if err != nil {
		return "http://" + c.ListenAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = hostname
		if host == "" {
			host = "127.0.0.1"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
