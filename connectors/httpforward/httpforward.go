// Package httpforward is the built-in "http" connector: it sends each event
// to a configured URL, as it is (CloudEvents structured JSON) or as returned
// by a small JavaScript transform, with configured headers and a bearer
// token. Its configuration:
//
//	{"url": "https://partner.example/in", "method": "POST",
//	 "headers": {"X-Source": "herald"}}
//
// with secrets such as {"token": "..."} (sent as Authorization: Bearer) or
// secret headers. The transform, when given as the connector's code, is
//
//	({event, config}) => payload
//
// returning an object (sent as JSON), a string (sent as text), or null to
// send nothing for this event.
package httpforward

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/connectors/function"
	"github.com/heraldhq/herald/internal/herald"
)

// KindName is the API name of the HTTP forward.
const KindName = "http"

// Kind is the HTTP forward connector kind.
type Kind struct {
	client  *http.Client
	sandbox *function.Sandbox
	limits  connectors.Limits
}

// New returns the kind, sending through env's SSRF-safe client.
func New(env connectors.Env) *Kind {
	lim := env.Limits.WithDefaults()
	return &Kind{client: env.HTTP, limits: lim, sandbox: &function.Sandbox{Limits: lim}}
}

// Name implements connectors.Kind.
func (k *Kind) Name() string { return KindName }

type settings struct {
	url     string
	method  string
	headers http.Header
}

func parse(cfg map[string]any) (*settings, error) {
	ve := &herald.ValidationError{}
	s := &settings{method: http.MethodPost}
	u, ok, err := connectors.ConfigString(cfg, "url")
	switch {
	case err != nil:
		return nil, err
	case !ok || u == "":
		ve.Add("config.url", "required", "give the URL to send events to")
	case !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://"):
		ve.Add("config.url", "url", "must be an absolute http or https URL")
	}
	s.url = u
	if m, ok, err := connectors.ConfigString(cfg, "method"); err != nil {
		return nil, err
	} else if ok {
		switch m = strings.ToUpper(m); m {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			s.method = m
		default:
			ve.Add("config.method", "enum", "must be POST, PUT or PATCH")
		}
	}
	if s.headers, err = connectors.ConfigHeaders(cfg, "headers"); err != nil {
		return nil, err
	}
	if tok, ok, err := connectors.ConfigString(cfg, "token"); err != nil {
		return nil, err
	} else if ok && tok != "" {
		if strings.ContainsAny(tok, "\r\n\x00") {
			ve.Add("config.token", "header", "must not contain line breaks")
		}
		if s.headers == nil {
			s.headers = http.Header{}
		}
		s.headers.Set("Authorization", "Bearer "+tok)
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate implements connectors.Kind: a URL, optional method, headers and
// token, and an optional transform that parses.
func (k *Kind) Validate(spec connectors.Spec) error {
	if _, err := parse(spec.Config); err != nil {
		return err
	}
	return function.ValidateCode("code", spec.Code, false)
}

// Targets implements connectors.Targeter: config.url.
func (k *Kind) Targets(spec connectors.Spec) []connectors.Target {
	if u, ok, _ := connectors.ConfigString(spec.Config, "url"); ok && u != "" {
		return []connectors.Target{{Field: "config.url", URL: u}}
	}
	return nil
}

// Build implements connectors.Kind.
func (k *Kind) Build(spec connectors.Spec) (connectors.Runnable, error) {
	s, err := parse(spec.Config)
	if err != nil {
		return nil, err
	}
	return &runnable{k: k, s: s, code: strings.TrimSpace(spec.Code), config: spec.Config}, nil
}

type runnable struct {
	k      *Kind
	s      *settings
	code   string
	config map[string]any
}

// Run sends the event (or its transform) once: a 2xx answer succeeds.
func (r *runnable) Run(ctx context.Context, in connectors.Input) connectors.Result {
	start := time.Now()
	log := connectors.NewLogger(r.k.limits.MaxLogBytes)
	res := r.run(ctx, in, log)
	res.Logs, res.Duration = log.Lines(), time.Since(start)
	return res
}

func (r *runnable) run(ctx context.Context, in connectors.Input, log *connectors.Logger) connectors.Result {
	body, contentType := []byte(in.Event), "application/cloudevents+json; charset=utf-8"
	if r.code != "" {
		input, err := json.Marshal(map[string]any{"event": in.Event, "config": r.config})
		if err != nil {
			return connectors.Failed("encode input: %v", err)
		}
		o := r.k.sandbox.Invoke(ctx, r.code, input, function.Options{NoRequests: true, Log: log})
		if o.Err != nil {
			return connectors.Failed("transform: %v", o.Err)
		}
		var str string
		switch {
		case string(o.Value) == "null":
			log.Add("the transform returned null: nothing sent")
			return connectors.Result{Status: connectors.StatusSuccess}
		case json.Unmarshal(o.Value, &str) == nil:
			body, contentType = []byte(str), "text/plain; charset=utf-8"
		default:
			body, contentType = o.Value, "application/json"
		}
	}
	if r.k.client == nil {
		return connectors.Failed("outbound HTTP is not configured")
	}
	ctx, cancel := context.WithTimeout(ctx, r.k.limits.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.s.method, r.s.url, bytes.NewReader(body))
	if err != nil {
		return connectors.Failed("build request: %v", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Herald-Connector/1")
	for name, vals := range r.s.headers {
		req.Header[name] = vals
	}
	started := time.Now()
	resp, err := r.k.client.Do(req)
	if err != nil {
		log.Printf("%s %s: %v", r.s.method, req.URL.Redacted(), err)
		return connectors.Result{Status: connectors.StatusFailed, Requests: 1, Error: fmt.Sprintf("send: %v", unwrap(err))}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	log.Printf("%s %s → %d (%d ms)", r.s.method, req.URL.Redacted(), resp.StatusCode, time.Since(started).Milliseconds())
	if resp.StatusCode/100 != 2 {
		return connectors.Result{Status: connectors.StatusFailed, Requests: 1,
			Error: fmt.Sprintf("receiver answered HTTP %d: %s", resp.StatusCode, connectors.Truncate(strings.TrimSpace(string(snippet)), 200))}
	}
	return connectors.Result{Status: connectors.StatusSuccess, Requests: 1}
}

func unwrap(err error) error {
	if u, ok := err.(interface{ Unwrap() error }); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}
