package config

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	yaml "go.yaml.in/yaml/v3"

	"github.com/sp00ky/ssp/surreal/membership"
)

// DefaultBodyLimit is SPKY_BODY_LIMIT's default (SPEC §1): 8 MiB.
const DefaultBodyLimit int64 = 8 << 20

// DefaultConfigPath is read when SPKY_CONFIG_PATH is unset; unlike an explicit path it may be absent.
const DefaultConfigPath = "./sp00ky.yml"

// ErrHelp is returned (wrapped) by Load when the arguments ask for help; print Usage and exit 0.
var ErrHelp = pflag.ErrHelp

// LookupFunc reads an environment variable; os.LookupEnv fits.
type LookupFunc func(name string) (string, bool)

// Config is the SSP's validated configuration.
type Config struct {
	ListenAddr            string              // SPKY_SSP_LISTEN_ADDR
	AuthSecret            string              // SPKY_AUTH_SECRET; empty = accept any bearer token (dev)
	DBWS                  string              // SPKY_DB_WS
	DBUser                string              // SPKY_DB_USER
	DBPass                string              // SPKY_DB_PASS
	DBNS                  string              // SPKY_DB_NS
	DBName                string              // SPKY_DB_NAME
	RefMode               membership.RefMode  // SPKY_SSP_REF_MODE (membership.ParseRefMode)
	TTLCleanupInterval    time.Duration       // TTL_CLEANUP_INTERVAL_SECS
	SchemaRefreshInterval time.Duration       // SPKY_SCHEMA_REFRESH_SECS (0 = only at bootstrap)
	JobTables             []JobTable          // SPKY_JOB_CONFIG or job_tables/backends in the file, sorted by table
	CRDTCacheSize         int                 // SPKY_CRDT_CACHE_SIZE
	CRDTFields            map[string][]string // SPKY_CRDT_FIELDS; nil = no allow-list
	BootstrapPageSize     int                 // SPKY_SSP_BOOTSTRAP_PAGE_SIZE
	BootstrapBuffer       int                 // SPKY_SSP_BOOTSTRAP_BUFFER (0 = 503 while bootstrapping)
	SchedulerURL          string              // SPKY_SCHEDULER_URL without trailing "/"; empty = standalone
	SSPID                 string              // SPKY_SSP_ID, default ssp-<uuid>
	AdvertiseAddr         string              // SPKY_SSP_ADVERTISE_ADDR (host:port or URL)
	HeartbeatInterval     time.Duration       // HEARTBEAT_INTERVAL_MS
	RegisterMaxWait       time.Duration       // SPKY_SSP_REGISTER_MAX_WAIT_SECS
	LogLevel              logrus.Level        // SPKY_LOG_LEVEL
	LogFormat             LogFormat           // SPKY_LOG_FORMAT
	BodyLimit             int64               // SPKY_BODY_LIMIT in bytes
	MetricsFlushInterval  time.Duration       // SPKY_METRICS_FLUSH_INTERVAL_MS
	IngestQueue           int                 // SPKY_INGEST_QUEUE
	IngestWait            time.Duration       // SPKY_INGEST_WAIT_MS (0 = answer 503 at once)
	EdgeBacklog           int                 // SPKY_EDGE_BACKLOG (0 = no bound)
	ShutdownTimeout       time.Duration       // SPKY_SHUTDOWN_TIMEOUT_SECS
	RVWaitTimeout         time.Duration       // SPKY_RV_WAIT_TIMEOUT_MS
	JobQueue              int                 // SPKY_JOB_QUEUE: queued jobs per job table
	JobSweepInterval      time.Duration       // SPKY_JOB_SWEEP_INTERVAL_MS
	JobPendingGrace       time.Duration       // SPKY_JOB_PENDING_GRACE_MS (scheduler mode)
	JobLeaseGrace         time.Duration       // SPKY_JOB_LEASE_GRACE_MS
	ConfigFile            string              // the sp00ky.yml actually read; empty if none
}

// source says where a value came from, for error messages.
type source struct {
	kind string // "flag", "env", "file", "default"
	name string // flag, env var or yml key
}

func (s source) String() string {
	switch s.kind {
	case "flag":
		return "from flag --" + s.name
	case "env":
		return "from env " + s.name
	case "file":
		return "from file " + s.name
	}
	return "default"
}

// Load builds the configuration from args (without the program name), the environment read through
// lookup (nil = empty environment) and sp00ky.yml, with precedence flag > env > file > default. It
// reports every invalid value at once, each naming its variable and the allowed values.
func Load(args []string, lookup LookupFunc) (Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	env := func(names ...string) (string, string, bool) {
		for _, n := range names {
			if v, ok := lookup(n); ok && v != "" {
				return v, n, true
			}
		}
		return "", "", false
	}
	all := settings()

	fset := newFlagSet(all)
	if err := fset.Parse(args); err != nil {
		return Config{}, fmt.Errorf("parse flags: %w", err)
	}
	if fset.NArg() > 0 {
		return Config{}, fmt.Errorf("parse flags: unexpected argument %q", fset.Arg(0))
	}

	// Locate and read the file.
	path, explicit := DefaultConfigPath, false
	if f := fset.Lookup("config"); f.Changed && f.Value.String() != "" {
		path, explicit = f.Value.String(), true
	} else if v, _, ok := env("SPKY_CONFIG_PATH", "SP00KY_CONFIG_PATH", "SPOOKY_CONFIG_PATH"); ok {
		path, explicit = v, true
	}
	var cfg Config
	var problems []error
	v := viper.New()
	var raw map[string]any // case-preserving copy for table-keyed sections
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		cfg.ConfigFile = path
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return Config{}, fmt.Errorf("config file %s: invalid YAML: %w", path, err)
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
	default:
		return Config{}, fmt.Errorf("config file %s (SPKY_CONFIG_PATH): %w", path, err)
	}
	fileSrc := func(k string) source { return source{kind: "file", name: path + " key " + k} }

	// Layer the scalar settings in viper: defaults < file < env < flags (env and flags as overrides,
	// flags applied last).
	src := map[string]source{}
	for _, s := range all {
		key := s.key()
		v.SetDefault(key, s.def)
		src[key] = source{kind: "default"}
		inNested, inEnvStyle := v.InConfig(key), v.InConfig(s.envStyleKey())
		switch {
		case inNested && inEnvStyle:
			a, b := fmt.Sprint(v.Get(key)), fmt.Sprint(v.Get(s.envStyleKey()))
			if a != b {
				problems = append(problems, fmt.Errorf("%s: %s has both %s=%q and %s=%q; keep one", s.env, path, key, a, s.env, b))
			}
			src[key] = fileSrc(key)
		case inNested:
			src[key] = fileSrc(key)
		case inEnvStyle:
			if err := v.MergeConfigMap(nest(key, v.Get(s.envStyleKey()))); err != nil {
				problems = append(problems, fmt.Errorf("%s (%s): %w", s.env, fileSrc(s.env), err))
			}
			src[key] = fileSrc(s.env)
		}
		if val, name, ok := env(append([]string{s.env}, s.fallbacks...)...); ok {
			v.Set(key, val)
			src[key] = source{kind: "env", name: name}
		}
	}
	for _, s := range all {
		if f := fset.Lookup(s.flag()); f.Changed && f.Value.String() != "" {
			v.Set(s.key(), f.Value.String())
			src[s.key()] = source{kind: "flag", name: s.flag()}
		}
	}

	for _, s := range all {
		key := s.key()
		where := src[key]
		val, err := cast.ToStringE(v.Get(key))
		if err != nil {
			problems = append(problems, fmt.Errorf("%s (%s): must be a single value, not a list or map", s.env, where))
			continue
		}
		if val == "" {
			val = s.def // an empty value in the file counts as unset too
		}
		if val == "" {
			continue
		}
		if err := s.apply(&cfg, val); err != nil {
			shown := hideURLPassword(val)
			if s.secret {
				shown = "<redacted>"
			}
			problems = append(problems, fmt.Errorf("%s=%q (%s): %w", s.env, shown, where, err))
		}
	}

	// Structured settings: JSON text from flag/env, or JSON text or a YAML structure in the file.
	jobs := structured(fset, "job-config", env, "SPKY_JOB_CONFIG", "job.config", raw, path)
	if sections := jobSections(raw); len(sections) > 0 {
		switch {
		case jobs.fromFile:
			problems = append(problems, fmt.Errorf("SPKY_JOB_CONFIG (%s): %s also has job_tables/backends; keep one", jobs.where, path))
		case jobs.data == nil && jobs.err == nil:
			jobs.where = "from file " + path + " keys job_tables/backends"
			if jobs.data, jobs.err = json.Marshal(sections); jobs.err != nil {
				jobs.err = fmt.Errorf("SPKY_JOB_CONFIG (%s): cannot be read as JSON: %v", jobs.where, jobs.err)
			}
		}
	}
	if jobs.err != nil {
		problems = append(problems, jobs.err)
	} else if jobs.data != nil {
		tables, errs := parseJobConfig(jobs.data)
		for _, e := range errs {
			problems = append(problems, fmt.Errorf("SPKY_JOB_CONFIG (%s): %w", jobs.where, e))
		}
		cfg.JobTables = tables
	}

	crdt := structured(fset, "crdt-fields", env, "SPKY_CRDT_FIELDS", "crdt.fields", raw, path)
	if crdt.err != nil {
		problems = append(problems, crdt.err)
	} else if crdt.data != nil {
		fields, err := parseCRDTFields(crdt.data)
		if err != nil {
			problems = append(problems, fmt.Errorf("SPKY_CRDT_FIELDS (%s): %w", crdt.where, err))
		}
		cfg.CRDTFields = fields
	}

	if len(problems) > 0 {
		return Config{}, fmt.Errorf("invalid configuration:\n%w", errors.Join(problems...))
	}
	if cfg.SSPID == "" {
		id, err := newUUID()
		if err != nil {
			return Config{}, fmt.Errorf("generate SPKY_SSP_ID: %w", err)
		}
		cfg.SSPID = "ssp-" + id
	}
	return cfg, nil
}

// nest turns "a.b" and val into {"a": {"b": val}}.
func nest(key string, val any) map[string]any {
	parts := strings.Split(key, ".")
	m := map[string]any{parts[len(parts)-1]: val}
	for i := len(parts) - 2; i >= 0; i-- {
		m = map[string]any{parts[i]: m}
	}
	return m
}

// jsonSetting is a JSON-valued setting as found by structured.
type jsonSetting struct {
	data     []byte // nil when absent
	where    string // "from env SPKY_JOB_CONFIG", …
	fromFile bool
	err      error
}

// structured finds a JSON-valued setting: flag > env > file, where the file may spell it as the env
// name or the nested key (case-insensitively), holding JSON text or a YAML structure.
func structured(fset *pflag.FlagSet, flag string, env func(...string) (string, string, bool), envName, key string, raw map[string]any, path string) jsonSetting {
	if f := fset.Lookup(flag); f.Changed && f.Value.String() != "" {
		return jsonSetting{data: []byte(f.Value.String()), where: "from flag --" + flag}
	}
	if val, name, ok := env(envName); ok {
		return jsonSetting{data: []byte(val), where: "from env " + name}
	}
	var found []string
	var value any
	first, rest, _ := strings.Cut(key, ".")
	for _, k := range sortedKeys(raw) {
		switch {
		case strings.EqualFold(k, envName) && raw[k] != nil:
			found, value = append(found, k), raw[k]
		case strings.EqualFold(k, first):
			m, _ := raw[k].(map[string]any)
			for _, k2 := range sortedKeys(m) {
				if strings.EqualFold(k2, rest) && m[k2] != nil {
					found, value = append(found, k+"."+k2), m[k2]
				}
			}
		}
	}
	switch len(found) {
	case 0:
		return jsonSetting{}
	case 1:
	default:
		return jsonSetting{err: fmt.Errorf("%s: %s sets it more than once (%s); keep one", envName, path, strings.Join(found, ", "))}
	}
	out := jsonSetting{where: "from file " + path + " key " + found[0], fromFile: true}
	if s, ok := value.(string); ok {
		out.data = []byte(s)
		return out
	}
	data, err := json.Marshal(value)
	if err != nil {
		out.err = fmt.Errorf("%s (%s): cannot be read as JSON: %v", envName, out.where, err)
		return out
	}
	out.data = data
	return out
}

// jobSections returns the file's top-level job_tables and backends sections that are present.
func jobSections(raw map[string]any) map[string]any {
	sections := map[string]any{}
	for _, k := range []string{"job_tables", "backends"} {
		if val, ok := raw[k]; ok && val != nil {
			sections[k] = val
		}
	}
	return sections
}

// newFlagSet declares one string flag per setting plus --config, --job-config and --crdt-fields.
// Values are validated by Load, so every flag is a string.
func newFlagSet(all []setting) *pflag.FlagSet {
	fset := pflag.NewFlagSet("ssp", pflag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fset.SortFlags = false
	fset.String("config", "", "path of sp00ky.yml (env SPKY_CONFIG_PATH, default "+DefaultConfigPath+")")
	for _, s := range all {
		usage := s.usage + " (env " + s.env + ")"
		fset.String(s.flag(), s.def, usage)
	}
	fset.String("job-config", "", "job tables as JSON (env SPKY_JOB_CONFIG)")
	fset.String("crdt-fields", "", "CRDT allow-list as JSON {table: [fields]} (env SPKY_CRDT_FIELDS)")
	return fset
}

// Usage describes the command-line flags, one per line.
func Usage() string {
	return newFlagSet(settings()).FlagUsages()
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
