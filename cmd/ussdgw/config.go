package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/problem"
)

// settings are the gateway's options. Each has one name used three ways:
// a flag (-redis-url), an environment variable (USSDGW_REDIS_URL) and a key
// in the optional config file (redis_url). A flag beats the environment,
// which beats the file, which beats the default.
type settings struct {
	Config         string
	Listen         string
	Flows          string
	RedisURL       string
	RedisPrefix    string
	RedisPipeline  string
	SessionTimeout time.Duration
	ResumeWindow   time.Duration
	StepBudget     time.Duration
	LogLevel       string
	LogFormat      string
	DebugListen    string
	APICountry     string
	APIRate        int
	// ShutdownTimeout bounds a graceful shutdown (SIGTERM) as a whole.
	ShutdownTimeout time.Duration
	// ConsentRetention is how long the consent audit trail of a number is
	// kept after its last change.
	ConsentRetention time.Duration
	// OutboxRetention is how long an MT SMS's status record (number,
	// state, attempts, receipt) is kept; its text goes once it is sent.
	OutboxRetention time.Duration
	// APIAuditRetention and APIRecordRetention are how long the API's
	// audit trail (which key did what, when) and broadcast records are
	// kept.
	APIAuditRetention  time.Duration
	APIRecordRetention time.Duration

	guardSettings    // guard.go: callback protection, limits, outages
	reminderSettings // reminders.go: health reminders
	metricsSettings  // metrics.go: the Prometheus listener
	reloadSettings   // reload.go: hot reload of the flows
	studioSettings   // studio.go: the service owners' workbench

	analyticsSettings // analytics.go: per-node analytics

	// The outbox (push.go).
	OutboxWorkers   int
	OutboxClaimIdle time.Duration
	SMSHourlyCap    int
	BulkDailyCap    int

	// Sections of the config file that other packages decode.
	adapters *yaml.Node
	smpp     *yaml.Node
	http     *yaml.Node // dialects.go: the aggregators' routes
	file     string

	// lookupEnv resolves the adapters' ${NAME} secrets (nil: the
	// environment); ussdgw test fills in those it does not need.
	lookupEnv func(string) (string, bool)
}

type option struct {
	name  string
	usage string
	str   *string
	dur   *time.Duration
	num   *int
	flag  *bool
}

func (s *settings) options() []option {
	opts := []option{
		{name: "config", usage: "gateway config file (YAML) with adapters, SMPP connections (smpp:), the aggregators' routes (http:, docs/aggregators.md) and the settings below", str: &s.Config},
		{name: "listen", usage: "HTTP listen address", str: &s.Listen},
		{name: "flows", usage: "directory of flow files (*.yaml; subfolders such as data/ are not flows); in the config file relative to the file's folder, as a flag or variable to the working directory", str: &s.Flows},
		{name: "redis-url", usage: "Redis URL for sessions, consent, limits and queues (forms below); empty keeps them in memory (one instance only, lost on restart)", str: &s.RedisURL},
		{name: "redis-prefix", usage: "prefix of every Redis key, so deployments can share a Redis", str: &s.RedisPrefix},
		{name: "redis-autopipeline", usage: "send the Redis commands of concurrent steps together (on), or one round trip per command (off: quicker for a lone request)", str: &s.RedisPipeline},
		{name: "session-timeout", usage: "how long a USSD session lives without a step", dur: &s.SessionTimeout},
		{name: "resume-window", usage: "how long after a cut session the next dial offers to resume it (0 disables)", dur: &s.ResumeWindow},
		{name: "step-budget", usage: "time allowed for one USSD step, adapter calls included; a slower adapter takes its flow's timeout branch", dur: &s.StepBudget},
		{name: "log-level", usage: "debug, info, warn or error", str: &s.LogLevel},
		{name: "log-format", usage: "text or json", str: &s.LogFormat},
		{name: "api-rate", usage: "API requests one API key may make per minute, across instances (0: no limit); over it: 429 with Retry-After", num: &s.APIRate},
		{name: "api-country", usage: "country (ISO 3166 code) of the API's phone numbers written without a country code", str: &s.APICountry},
		{name: "debug-listen", usage: "address for Go's /debug/pprof profiler (empty: off; loopback only unless -debug-public)", str: &s.DebugListen},
		{name: "shutdown-timeout", usage: "time a graceful shutdown (SIGTERM) may take as a whole: stop intake, answer the steps in flight, hand queue entries back, close; a second signal exits at once", dur: &s.ShutdownTimeout},
		{name: "consent-retention", usage: "how long a number's consent audit trail is kept after its last change", dur: &s.ConsentRetention},
		{name: "outbox-retention", usage: "how long an MT SMS's status record (number, state, attempts, delivery receipt) is kept", dur: &s.OutboxRetention},
		{name: "api-audit-retention", usage: "how long the API's audit trail (key, action, status, time) is kept", dur: &s.APIAuditRetention},
		{name: "api-record-retention", usage: "how long the API's broadcast records (counts per state, no numbers) are kept", dur: &s.APIRecordRetention},
		{name: "outbox-workers", usage: "MT SMS the outbox sends at once", num: &s.OutboxWorkers},
		{name: "outbox-claim-idle", usage: "how long an SMS taken by a stopped gateway waits before another takes it over", dur: &s.OutboxClaimIdle},
		{name: "sms-hourly-cap", usage: "SMS from flows (sms nodes, late results) per number per hour; 0: no cap", num: &s.SMSHourlyCap},
		{name: "bulk-daily-cap", usage: "bulk SMS (alerts, reminders, broadcasts) per number per day; 0: no cap", num: &s.BulkDailyCap},
	}
	opts = append(opts, s.reminderOptions()...)
	opts = append(opts, s.guardOptions()...)
	opts = append(opts, s.analyticsOptions()...)
	opts = append(opts, s.reloadOptions()...)
	opts = append(opts, s.studioOptions()...)
	return append(opts, s.metricsOptions()...)
}

func defaults() *settings {
	return &settings{
		guardSettings:  guardDefaults(),
		studioSettings: studioSettings{Studio: "off"},
		Listen:         "127.0.0.1:8080",
		Flows:          "./flows-examples",
		RedisPrefix:    "ussdgw:",
		RedisPipeline:  "on",
		SessionTimeout: 180 * time.Second,
		ResumeWindow:   5 * time.Minute,
		StepBudget:     4 * time.Second,
		LogLevel:       "info",
		LogFormat:      "text",
		APICountry:     "KE",
		APIRate:        600,

		ShutdownTimeout: 20 * time.Second,

		ConsentRetention: 400 * 24 * time.Hour,
		OutboxRetention:  7 * 24 * time.Hour,

		APIAuditRetention:  400 * 24 * time.Hour,
		APIRecordRetention: 90 * 24 * time.Hour,
		reminderSettings:   reminderDefaults(),
		analyticsSettings:  analyticsDefaults(),
		reloadSettings:     reloadDefaults(),
		OutboxWorkers:      64,
		OutboxClaimIdle:    30 * time.Second,
		SMSHourlyCap:       5,
		BulkDailyCap:       3,
	}
}

func envName(flagName string) string {
	return "USSDGW_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func fileKey(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// parseSettings reads flags, then the environment, then the config file.
func parseSettings(name string, args []string, getenv func(string) string, stderr io.Writer) (*settings, error) {
	s := defaults()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := s.options()
	for _, o := range opts {
		usage := fmt.Sprintf("%s (env %s)", o.usage, envName(o.name))
		switch {
		case o.str != nil:
			fs.StringVar(o.str, o.name, *o.str, usage)
		case o.num != nil:
			fs.IntVar(o.num, o.name, *o.num, usage)
		case o.flag != nil:
			fs.BoolVar(o.flag, o.name, *o.flag, usage)
		default:
			fs.DurationVar(o.dur, o.name, *o.dur, usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fromEnv := map[string]bool{}
	for _, o := range opts {
		if set[o.name] {
			continue
		}
		v, ok := lookup(getenv, envName(o.name))
		if !ok {
			continue
		}
		if err := o.assign(v); err != nil {
			return nil, fmt.Errorf("%s: %w", envName(o.name), err)
		}
		fromEnv[o.name] = true
	}
	if s.Config != "" {
		if err := s.readFile(opts, func(n string) bool { return set[n] || fromEnv[n] }); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func (o option) assign(v string) error {
	switch {
	case o.str != nil:
		*o.str = v
		return nil
	case o.num != nil:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*o.num = n
		return nil
	case o.flag != nil:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*o.flag = b
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 180s or 5m", v)
	}
	*o.dur = d
	return nil
}

// readFile applies the config file's settings that neither a flag nor the
// environment gave, and keeps its sections for the packages that own them.
func (s *settings) readFile(opts []option, given func(string) bool) error {
	data, err := os.ReadFile(s.Config)
	if err != nil {
		return fmt.Errorf("reading config %s: %w", fullPath(s.Config), pathless(err))
	}
	s.file = s.Config
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return problem.FromYAML(s.Config, data, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return problem.New(s.Config, root, "", "wrong-type", "the config must be a mapping (setting: value lines)")
	}
	var problems []*problem.Problem
	var keys []string
	for _, o := range opts {
		if o.name != "config" {
			keys = append(keys, fileKey(o.name))
		}
	}
	keys = append(keys, "adapters", "smpp")
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value == "adapters" {
			s.adapters = v
			continue
		}
		if k.Value == "smpp" {
			s.smpp = v
			continue
		}
		if k.Value == "http" {
			s.http = v
			continue
		}
		var opt *option
		for j := range opts {
			if fileKey(opts[j].name) == k.Value && opts[j].name != "config" {
				opt = &opts[j]
			}
		}
		if opt == nil {
			problems = append(problems, problem.Errorf(s.Config, k, k.Value, "unknown-setting", "unknown setting%s", problem.DidYouMean(k.Value, keys)))
			continue
		}
		if given(opt.name) {
			continue
		}
		if v.Kind != yaml.ScalarNode {
			problems = append(problems, problem.New(s.Config, v, k.Value, "wrong-type", "expected a value"))
			continue
		}
		if err := opt.assign(v.Value); err != nil {
			problems = append(problems, problem.New(s.Config, v, k.Value, "wrong-type", err.Error()))
		} else if isPathKey(opt.name) { // paths.go
			*opt.str = configRelative(s.Config, *opt.str)
		}
	}
	return problem.Join(problems)
}
