package actors

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Service's Prometheus collectors, registered on the Service's own registry.
type metrics struct {
	ingests        *prometheus.CounterVec // ssp_ingest_total{table,op,result}
	ingestLatency  prometheus.Histogram   // ssp_ingest_duration_seconds
	views          prometheus.Gauge       // ssp_views
	members        prometheus.Gauge       // ssp_view_members
	edgeWrites     *prometheus.CounterVec // ssp_edge_writes_total{kind}
	edgeLatency    prometheus.Histogram   // ssp_edge_write_duration_seconds
	edgeLag        prometheus.Histogram   // ssp_edge_lag_seconds
	edgeFailures   prometheus.Counter     // ssp_edge_write_failures_total
	edgeRows       prometheus.Counter     // ssp_edge_rows_written_total
	edgeUnchanged  prometheus.Counter     // ssp_edge_writes_unchanged_total
	restarts       *prometheus.CounterVec // ssp_actor_restarts_total{kind}
	bootstrap      prometheus.Gauge       // ssp_bootstrap_duration_seconds
	ttlExpirations prometheus.Counter     // ssp_ttl_expirations_total
	rvTimeouts     prometheus.Counter     // ssp_rv_wait_timeouts_total
	rebootstraps   *prometheus.CounterVec // ssp_rebootstraps_total{reason}
	bootstrapRows  prometheus.Gauge       // ssp_bootstrap_rows
	bootBuffered   prometheus.Gauge       // ssp_bootstrap_buffered_changes
	viewsMoved     prometheus.Counter     // ssp_views_moved_total
	dbUp           prometheus.Gauge       // ssp_db_up
	dbOutages      prometheus.Counter     // ssp_db_outages_total
	writerBacklog  prometheus.Gauge       // ssp_mailbox_depth{actor="writers"}, set by the coordinator
	mailbox        prometheus.GaugeFunc   // ssp_mailbox_depth{actor="coordinator"}
	inFlight       prometheus.GaugeFunc   // ssp_ingests_in_flight

	// Job tables (SPEC §8), by table.
	jobs        *prometheus.CounterVec   // ssp_jobs_total{table,outcome}: jobs ended (success, failed, killed, invalid)
	jobRuns     *prometheus.CounterVec   // ssp_job_runs_total{table,outcome}: every run taken from a queue
	jobAttempts *prometheus.CounterVec   // ssp_job_attempts_total{table,result}: requests sent
	jobRetries  *prometheus.CounterVec   // ssp_job_retries_total{table}
	jobDuration *prometheus.HistogramVec // ssp_job_request_duration_seconds{table}
	jobQueue    *prometheus.GaugeVec     // ssp_job_queue_depth{table}
	jobRunning  *prometheus.GaugeVec     // ssp_jobs_running{table}
	jobOffers   *prometheus.CounterVec   // ssp_job_offers_total{table,result}
	jobQueries  *prometheus.CounterVec   // ssp_job_db_queries_total{table,op}

	all []prometheus.Collector // everything above, for registration
}

// Result labels of ssp_ingest_total.
const (
	resultOK       = "ok"
	resultInvalid  = "invalid"
	resultBusy     = "busy"
	resultNotReady = "not_ready"
	resultError    = "error"
	resultIgnored  = "ignored" // a change of the SSP's own tables (`_00_*`)
)

// newMetrics builds the collectors; coordinatorDepth reports the coordinator's mailbox, inFlight
// the ingests in the inbox.
func newMetrics(coordinatorDepth, inFlight func() float64) *metrics {
	m := &metrics{
		ingests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_ingest_total", Help: "Ingested changes by table, operation and result (ok, invalid, busy, not_ready, error, ignored: a table of the SSP's own).",
		}, []string{"table", "op", "result"}),
		ingestLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ssp_ingest_duration_seconds", Help: "Time from accepting an ingest to its answer (the change applied to the engine and handed to the affected views).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		views: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ssp_views", Help: "Registered views.",
		}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ssp_view_members", Help: "Members of all registered views (top-level and subquery rows).",
		}),
		edgeWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_edge_writes_total", Help: "Edge writes handed to the list_ref writers, by kind (add, update, remove).",
		}, []string{"kind"}),
		edgeLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ssp_edge_write_duration_seconds", Help: "Duration of one list_ref writer flush (one transaction per table).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		edgeLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ssp_edge_lag_seconds", Help: "Time from a view actor applying a step in memory (just after its /ingest answer) to the commit of its edge writes, per view and step.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		edgeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ssp_edge_write_failures_total", Help: "Edge flushes that failed after their retries; their writes stay queued and are retried.",
		}),
		edgeRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ssp_edge_rows_written_total", Help: "Edge rows written to the list_ref tables by committed transactions (rows inserted, updated or deleted; a whole-view removal counts one).",
		}),
		edgeUnchanged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ssp_edge_writes_unchanged_total", Help: "Edge writes not made because the row was back to what the database holds when its flush came (added and removed again, back to the version it had).",
		}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_actor_restarts_total", Help: "Actor restarts by their supervisor, by actor kind (view, writer, coordinator, queries, ttl, metrics, versions, job, job_table).",
		}, []string{"kind"}),
		bootstrap: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ssp_bootstrap_duration_seconds", Help: "Duration of the last completed bootstrap (load, re-register, reconcile).",
		}),
		ttlExpirations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ssp_ttl_expirations_total", Help: "Views removed by the TTL sweep.",
		}),
		rebootstraps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_rebootstraps_total", Help: "In-process re-bootstraps, by reason (heartbeat_404, heartbeat_409, hash_mismatch, coordinator_restart, requested).",
		}, []string{"reason"}),
		bootstrapRows: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ssp_bootstrap_rows", Help: "Base rows loaded by the last completed bootstrap.",
		}),
		bootBuffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ssp_bootstrap_buffered_changes",
			Help: "Ingests accepted during the running bootstrap and not yet applied (standalone; SPKY_SSP_BOOTSTRAP_BUFFER).",
		}),
		viewsMoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ssp_views_moved_total", Help: "Views dropped because they were registered on another SSP (scheduler mode).",
		}),
		dbUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ssp_db_up", Help: "1 while SurrealDB answers the SSP's probe (every 2 s), 0 during an outage (also 0 before the first answer).",
		}),
		dbOutages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ssp_db_outages_total", Help: "Database outages seen: probes that failed after the database had answered (or before it ever did).",
		}),
		rvTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ssp_rv_wait_timeouts_total", Help: "_00_version waits that gave up; the edges were written anyway.",
		}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_jobs_total", Help: "Jobs this SSP ended, by job table and outcome (success, failed, killed, invalid).",
		}, []string{"table", "outcome"}),
		jobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_job_runs_total", Help: "Job runs (a claim and, when it was won, one request), by job table and outcome: success, failed, killed, invalid " +
				"(the job ended); retry, released (pending again); not_claimed (another runner has it, or it ended), missing (the row never showed), lost_claim (its lease was taken over), error (a database failure; the job stays claimable).",
		}, []string{"table", "outcome"}),
		jobAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_job_attempts_total", Help: "Job requests sent, by job table and result (2xx, 3xx, 4xx, 5xx, network, timeout, cancelled).",
		}, []string{"table", "result"}),
		jobRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_job_retries_total", Help: "Failed job attempts that will be retried after a backoff, by job table.",
		}, []string{"table"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ssp_job_request_duration_seconds", Help: "Duration of one job request (sent to answered, failed or timed out), by job table.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"table"}),
		jobQueue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ssp_job_queue_depth", Help: "Jobs queued in this SSP and not yet running, by job table.",
		}, []string{"table"}),
		jobRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ssp_jobs_running", Help: "Job runs in progress (claim, request, outcome write), by job table; at most the table's concurrency.",
		}, []string{"table"}),
		jobOffers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_job_offers_total", Help: "Jobs offered to a job table's queue, by result: queued, duplicate (known here already), full (left pending for the sweep), closing.",
		}, []string{"table", "result"}),
		jobQueries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_job_db_queries_total", Help: "Database round trips of the job runner, by job table and op: claim (a claim, or a poll while the offered row is not visible yet), lease (a longer timeout's lease), outcome, sweep, operator.",
		}, []string{"table", "op"}),
	}
	const depthHelp = "Messages waiting: accepted ingests not yet stepped (coordinator), edge writes not yet handed to the database (writers)."
	m.mailbox = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ssp_mailbox_depth", Help: depthHelp, ConstLabels: prometheus.Labels{"actor": "coordinator"},
	}, coordinatorDepth)
	m.writerBacklog = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ssp_mailbox_depth", Help: depthHelp, ConstLabels: prometheus.Labels{"actor": "writers"},
	})
	m.inFlight = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ssp_ingests_in_flight", Help: "Ingests admitted (SPKY_INGEST_QUEUE bounds them) and not yet answered.",
	}, inFlight)
	m.all = []prometheus.Collector{m.ingests, m.ingestLatency, m.views, m.members, m.edgeWrites, m.edgeLatency, m.edgeLag,
		m.edgeFailures, m.edgeRows, m.edgeUnchanged, m.restarts, m.bootstrap, m.ttlExpirations, m.rvTimeouts, m.rebootstraps, m.bootstrapRows, m.bootBuffered, m.viewsMoved, m.dbUp, m.dbOutages,
		m.mailbox, m.writerBacklog, m.inFlight,
		m.jobs, m.jobRuns, m.jobAttempts, m.jobRetries, m.jobDuration, m.jobQueue, m.jobRunning, m.jobOffers, m.jobQueries}
	return m
}

// register adds every collector to reg.
func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range m.all {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}
