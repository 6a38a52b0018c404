// Package connectors is Herald's runtime for hosted connectors: functions
// that Herald runs for consumers that cannot take webhooks, to fetch,
// transform and push an event's data. Every connector kind (a hosted
// JavaScript function, the built-in HTTP forward and e-mail) implements one
// interface, [Kind], and lives in a package of its own under connectors/;
// a [Registry] maps kind names to implementations.
//
// A kind validates a connector's code and configuration when it is saved and
// builds a [Runnable] from them; the queue runs it once per attempt with the
// event and records the [Result].
package connectors

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/webhook"
)

// Status is the outcome of one run.
type Status string

// Run outcomes. A function answers "success", "failed" or an error message;
// anything but success is a failed run, retried on the webhook schedule.
const (
	StatusSuccess Status = "success"
	StatusFailed  Status = "failed"
)

// Spec is a connector's saved definition as a kind sees it.
type Spec struct {
	// Code is the JavaScript source (the function, or the HTTP forward's
	// optional transform); empty for kinds without code.
	Code string
	// Config is the connector's configuration with its secrets merged in
	// (secret keys override nothing: a key is either plain or secret).
	Config map[string]any
}

// Input is what one run works on.
type Input struct {
	// Event is the full CloudEvent in structured JSON, data included.
	Event json.RawMessage
}

// Result is what one run did.
type Result struct {
	Status Status
	// Error says why a failed run failed (the function's message, an
	// exception, the time limit...); empty on success.
	Error string
	// Logs holds the run's captured output (console.log, requests made),
	// bounded by Limits.MaxLogBytes.
	Logs []string
	// Requests counts the outbound requests the run made.
	Requests int
	// Duration is the run's wall time.
	Duration time.Duration
}

// Failed builds a failed result.
func Failed(format string, args ...any) Result {
	return Result{Status: StatusFailed, Error: fmt.Sprintf(format, args...)}
}

// Runnable is a connector ready to run. Run never panics on bad user code and
// always returns within the run's time limit (plus the time an outbound call
// needs to notice its context ended).
type Runnable interface {
	Run(ctx context.Context, in Input) Result
}

// Kind is one connector implementation.
type Kind interface {
	// Name is the kind's API name ("function", "http", "email").
	Name() string
	// Validate checks code and config at save time. Problems are returned
	// as a *herald.ValidationError naming the field ("code", "config.url")
	// and the rule; a syntax error names its line and column.
	Validate(spec Spec) error
	// Build prepares a runnable. It may assume Validate passed.
	Build(spec Spec) (Runnable, error)
}

// Target is a place a connector's configuration says it sends to, which
// must pass the same SSRF target policy as a webhook endpoint's URL when
// the connector is saved. Exactly one of URL and Host is set.
type Target struct {
	// Field names where the target is configured ("config.url").
	Field string
	// URL is an http or https URL.
	URL string
	// Host is a host name or IP address (an SMTP server).
	Host string
}

// Targeter is implemented by kinds whose configuration names fixed
// targets. A function's requests are decided at run time and are checked
// then, at dial time, like every connection.
type Targeter interface {
	// Targets lists the targets spec names; it may assume Validate passed.
	Targets(spec Spec) []Target
}

// Limits bound what one run may use.
type Limits struct {
	// Timeout caps a run's wall time, JavaScript CPU time included.
	Timeout time.Duration
	// Memory caps the JavaScript heap of a run, in bytes.
	Memory int
	// MaxRequests caps the outbound requests of a run.
	MaxRequests int
	// MaxLogBytes caps the captured logs of a run.
	MaxLogBytes int
	// MaxResponseBytes caps a response body a function can read.
	MaxResponseBytes int
}

// Default limits.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultMemory           = 64 << 20
	DefaultMaxRequests      = 10
	DefaultMaxLogBytes      = 16 << 10
	DefaultMaxResponseBytes = 1 << 20
)

// WithDefaults fills zero limits with the defaults.
func (l Limits) WithDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.MaxRequests <= 0 {
		l.MaxRequests = DefaultMaxRequests
	}
	if l.MaxLogBytes <= 0 {
		l.MaxLogBytes = DefaultMaxLogBytes
	}
	if l.MaxResponseBytes <= 0 {
		l.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return l
}

// Env is what kinds need from Herald to reach the outside world. Every
// outbound connection goes through Herald's SSRF guard.
type Env struct {
	// HTTP is Herald's SSRF-safe client (no proxy, no redirects, the
	// resolved address checked at dial time).
	HTTP *http.Client
	// Dial opens TCP connections through the same guard (SMTP).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs verifies TLS servers (SMTP); nil uses the system's roots.
	RootCAs *x509.CertPool
	// AllowPlainSMTP permits e-mail connectors without TLS (development
	// and tests only).
	AllowPlainSMTP bool
	Limits         Limits
}

// Registry maps kind names to implementations.
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry returns a registry of the given kinds.
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{kinds: make(map[string]Kind, len(kinds))}
	for _, k := range kinds {
		r.kinds[k.Name()] = k
	}
	return r
}

// Kind returns the kind of that name.
func (r *Registry) Kind(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.kinds))
}

// Validate checks a connector of the named kind.
func (r *Registry) Validate(kind string, spec Spec) error {
	k, ok := r.kinds[kind]
	if !ok {
		return herald.Invalid("kind", "enum", "must be one of %s", strings.Join(r.Names(), ", "))
	}
	return k.Validate(spec)
}

// Targets lists the targets a connector of the named kind sends to, for
// the target policy to check (none for kinds that are not Targeters).
func (r *Registry) Targets(kind string, spec Spec) []Target {
	if t, ok := r.kinds[kind].(Targeter); ok {
		return t.Targets(spec)
	}
	return nil
}

// Build prepares a connector of the named kind.
func (r *Registry) Build(kind string, spec Spec) (Runnable, error) {
	k, ok := r.kinds[kind]
	if !ok {
		return nil, fmt.Errorf("connector kind %q is not registered", kind)
	}
	run, err := k.Build(spec)
	if err != nil {
		return nil, fmt.Errorf("build %s connector: %w", kind, err)
	}
	return run, nil
}

// Mask is how secret values appear in responses and logs.
const Mask = "********"

// Redact replaces every occurrence of the secret values (strings of at least
// four characters, found anywhere in secrets) in the result's error and logs
// with Mask, so a function that prints its API token does not leak it into
// the run history.
func Redact(res Result, secrets map[string]any) Result {
	var vals []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if len(x) >= 4 {
				vals = append(vals, x)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(secrets)
	if len(vals) == 0 {
		return res
	}
	// Longest first, so a secret containing another is masked whole.
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(vals))
	for _, v := range vals {
		pairs = append(pairs, v, Mask)
	}
	rep := strings.NewReplacer(pairs...)
	res.Error = rep.Replace(res.Error)
	if len(res.Logs) > 0 {
		logs := make([]string, len(res.Logs))
		for i, l := range res.Logs {
			logs[i] = rep.Replace(l)
		}
		res.Logs = logs
	}
	return res
}

// Logger collects a run's log lines up to a byte budget.
type Logger struct {
	max       int
	used      int
	lines     []string
	truncated bool
}

// NewLogger returns a Logger keeping at most max bytes.
func NewLogger(max int) *Logger { return &Logger{max: max} }

// Printf adds a line.
func (l *Logger) Printf(format string, args ...any) { l.Add(fmt.Sprintf(format, args...)) }

// Add adds a line, cutting it (and dropping later ones) past the budget.
func (l *Logger) Add(line string) {
	if l.truncated {
		return
	}
	if l.used+len(line) > l.max {
		room := max(l.max-l.used, 0)
		if room > 0 {
			l.lines = append(l.lines, truncateUTF8(line, room))
		}
		l.lines = append(l.lines, "… (logs truncated)")
		l.truncated = true
		return
	}
	l.used += len(line)
	l.lines = append(l.lines, line)
}

// Lines returns the collected lines.
func (l *Logger) Lines() []string { return l.lines }

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Truncate cuts s to at most n bytes without splitting a character, adding
// an ellipsis when it cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncateUTF8(s, n) + "…"
}

// ConfigString reads an optional string from a config.
func ConfigString(cfg map[string]any, key string) (string, bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", true, herald.Invalid("config."+key, "type", "must be a string")
	}
	return s, true, nil
}

// ConfigHeaders reads an optional object of header names to string values.
func ConfigHeaders(cfg map[string]any, key string) (http.Header, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return nil, nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, herald.Invalid("config."+key, "type", "must be an object of header names to values")
	}
	h := http.Header{}
	for name, val := range m {
		s, isStr := val.(string)
		if !isStr {
			return nil, herald.Invalid("config."+key+"."+name, "type", "must be a string")
		}
		if !webhook.ValidHeaderName(name) || !webhook.ValidHeaderValue(s) {
			return nil, herald.Invalid("config."+key+"."+name, "header", "is not a valid HTTP header")
		}
		h.Set(name, s)
	}
	return h, nil
}
