// Package config loads and validates the SSP's configuration (SPEC §9) and builds its logger.
//
// # Sources and precedence
//
// Load reads, from highest to lowest priority: command-line flags, environment variables (through
// an injected lookup, so tests need no global state), the YAML file sp00ky.yml, and defaults. The
// file's path is --config, else SPKY_CONFIG_PATH (old names SP00KY_CONFIG_PATH, SPOOKY_CONFIG_PATH),
// else ./sp00ky.yml; the default file may be missing, an explicitly named one may not. An empty
// value (FOO= in the environment, --foo=) counts as unset. Unknown keys in the file are ignored,
// because sp00ky.yml is shared with the sp00ky CLI and the scheduler.
//
// # Variables
//
// Each variable has one environment name, one nested file key and one flag. The nested key is the
// env name without "SPKY_", lower-cased, with its first "_" turned into "."; the flag is that key
// with "." and "_" turned into "-":
//
//	env                             file key                    flag                          default
//	SPKY_SSP_LISTEN_ADDR            ssp.listen_addr             --ssp-listen-addr             0.0.0.0:8667
//	SPKY_AUTH_SECRET                auth.secret                 --auth-secret                 (unset: any token)
//	SPKY_DB_WS                      db.ws                       --db-ws                       ws://127.0.0.1:8000
//	SPKY_DB_USER / SPKY_DB_PASS     db.user / db.pass           --db-user / --db-pass         root / root
//	SPKY_DB_NS / SPKY_DB_NAME       db.ns / db.name             --db-ns / --db-name           main / app
//	SPKY_SSP_REF_MODE               ssp.ref_mode                --ssp-ref-mode                dedicated (or single)
//	TTL_CLEANUP_INTERVAL_SECS       ttl.cleanup_interval_secs   --ttl-cleanup-interval-secs   60
//	SPKY_SCHEMA_REFRESH_SECS        schema.refresh_secs         --schema-refresh-secs         30 (0: only at bootstrap)
//	SPKY_JOB_CONFIG                 job.config                  --job-config                  (none)
//	SPKY_CRDT_CACHE_SIZE            crdt.cache_size             --crdt-cache-size             10000
//	SPKY_CRDT_FIELDS                crdt.fields                 --crdt-fields                 (none)
//	SPKY_SSP_BOOTSTRAP_PAGE_SIZE    ssp.bootstrap_page_size     --ssp-bootstrap-page-size     500
//	SPKY_SSP_BOOTSTRAP_BUFFER       ssp.bootstrap_buffer        --ssp-bootstrap-buffer        50000 (0: 503 while loading)
//	SPKY_SCHEDULER_URL              scheduler.url               --scheduler-url               (standalone)
//	SPKY_SSP_ID                     ssp.id                      --ssp-id                      ssp-<uuid>
//	SPKY_SSP_ADVERTISE_ADDR         ssp.advertise_addr          --ssp-advertise-addr          (listen address)
//	HEARTBEAT_INTERVAL_MS           heartbeat.interval_ms       --heartbeat-interval-ms       5000
//	SPKY_SSP_REGISTER_MAX_WAIT_SECS ssp.register_max_wait_secs  --ssp-register-max-wait-secs  180 (a 503 restarts it)
//	SPKY_LOG_LEVEL                  log.level                   --log-level                   info
//	SPKY_LOG_FORMAT                 log.format                  --log-format                  text (or json)
//	SPKY_BODY_LIMIT                 body.limit                  --body-limit                  8MiB
//	SPKY_METRICS_FLUSH_INTERVAL_MS  metrics.flush_interval_ms   --metrics-flush-interval-ms   2000
//	SPKY_INGEST_QUEUE               ingest.queue                --ingest-queue                1024
//	SPKY_INGEST_WAIT_MS             ingest.wait_ms              --ingest-wait-ms              2000 (0: 503 at once)
//	SPKY_EDGE_BACKLOG               edge.backlog                --edge-backlog                20000 (0: no bound)
//	SPKY_SHUTDOWN_TIMEOUT_SECS      shutdown.timeout_secs       --shutdown-timeout-secs       30
//	SPKY_RV_WAIT_TIMEOUT_MS         rv.wait_timeout_ms          --rv-wait-timeout-ms          5000
//	SPKY_JOB_QUEUE                  job.queue                   --job-queue                   1024 (per job table)
//	SPKY_JOB_SWEEP_INTERVAL_MS      job.sweep_interval_ms       --job-sweep-interval-ms       10000
//	SPKY_JOB_PENDING_GRACE_MS       job.pending_grace_ms        --job-pending-grace-ms        30000 (scheduler mode)
//	SPKY_JOB_LEASE_GRACE_MS         job.lease_grace_ms          --job-lease-grace-ms          30000
//
// SPKY_AUTH_SECRET also falls back to SP00KY_AUTH_SECRET and SPOOKY_AUTH_SECRET.
//
// # The file
//
// sp00ky.yml may spell a variable either as its nested key or as its env name at the top level
// (file keys are case-insensitive); giving both with different values is an error:
//
//	db:
//	  ws: ws://surrealdb:8000
//	  ns: main
//	SPKY_SSP_REF_MODE: single
//	log: {level: debug, format: json}
//
// Job tables (SPEC §8) come from SPKY_JOB_CONFIG (JSON text) or, in the file, from job.config /
// SPKY_JOB_CONFIG (JSON text or YAML) or the top-level job_tables and backends sections (not both
// ways at once). Accepted shapes, table names kept case-sensitive:
//
//	job_tables:                  # map form: key = table
//	  job: {name: API, base_url: "https://api", auth_token: t, timeout: 30, timeout_overridable: true, concurrency: 8}
//	job_tables:                  # array form (also a bare JSON array in SPKY_JOB_CONFIG)
//	  - {table: job, base_url: "https://api"}
//	backends:                    # the sp00ky CLI's form; only method.type outbox makes a job table
//	  api: {baseUrl: "https://api", auth: {type: token, token: t}, method: {type: outbox, table: job}}
//
// timeout is seconds (or a duration string such as "1m30s"), default 10s; concurrency (requests of
// the table in flight at once) defaults to 8; base_url must be http(s) without query or fragment.
// auth_token is a Secret: it prints as "<redacted>" wherever the configuration is shown.
// SPKY_CRDT_FIELDS is a JSON object (or, in the file, a YAML map) {"<table>": ["<field>", …]}.
//
// # Validation
//
// Every value is checked at start; Load returns one error listing all problems, each naming the
// variable, where the value came from and the allowed values. Nothing falls back to a default
// silently.
package config
