package function

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/internal/herald"
)

// KindName is the API name of hosted functions.
const KindName = "function"

// MaxCodeBytes bounds a function's source.
const MaxCodeBytes = 64 << 10

// Kind is the hosted-function connector kind.
type Kind struct{ sandbox *Sandbox }

// New returns the kind, running functions with env's client and limits.
func New(env connectors.Env) *Kind {
	return &Kind{sandbox: &Sandbox{HTTP: env.HTTP, Limits: env.Limits.WithDefaults()}}
}

// Name implements connectors.Kind.
func (k *Kind) Name() string { return KindName }

// Validate implements connectors.Kind: the code is required and must parse.
func (k *Kind) Validate(spec connectors.Spec) error {
	return ValidateCode("code", spec.Code, true)
}

// ValidateCode checks JavaScript source for the API.
func ValidateCode(field, code string, required bool) error {
	switch {
	case strings.TrimSpace(code) == "" && required:
		return herald.Invalid(field, "required", "give the function's JavaScript, e.g. ({event, config, request}) => \"success\"")
	case strings.TrimSpace(code) == "":
		return nil
	case len(code) > MaxCodeBytes:
		return herald.Invalid(field, "max-size", "must be at most %d bytes", MaxCodeBytes)
	}
	return CheckField(field, code)
}

// Build implements connectors.Kind.
func (k *Kind) Build(spec connectors.Spec) (connectors.Runnable, error) {
	cfg := spec.Config
	if cfg == nil {
		cfg = map[string]any{}
	}
	return &runnable{k: k, code: spec.Code, config: cfg}, nil
}

type runnable struct {
	k      *Kind
	code   string
	config map[string]any
}

// Run calls the function with {event, config, request} and reads its
// answer: "success", "failed" or an error message.
func (r *runnable) Run(ctx context.Context, in connectors.Input) connectors.Result {
	input, err := json.Marshal(map[string]any{"event": in.Event, "config": r.config})
	if err != nil {
		return connectors.Failed("encode input: %v", err)
	}
	o := r.k.sandbox.Invoke(ctx, r.code, input, Options{})
	res := connectors.Result{Logs: o.Logs, Requests: o.Requests, Duration: o.Duration, Status: connectors.StatusFailed}
	if o.Err != nil {
		res.Error = o.Err.Error()
		return res
	}
	res.Status, res.Error = Status(o.Value)
	return res
}

// Status reads a function's answer: the string "success" succeeds, the
// string "failed" or any other string (an error message) fails, and any
// other value is a mistake in the function.
func Status(v json.RawMessage) (connectors.Status, string) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return connectors.StatusFailed, fmt.Sprintf("the function must return \"success\", \"failed\" or an error message, not %s", connectors.Truncate(string(v), 200))
	}
	switch s {
	case string(connectors.StatusSuccess):
		return connectors.StatusSuccess, ""
	case string(connectors.StatusFailed), "":
		return connectors.StatusFailed, "the function returned \"failed\""
	}
	return connectors.StatusFailed, connectors.Truncate(s, 2000)
}
