// Package function runs hosted JavaScript connector functions in a sandbox
// (modernc.org/quickjs, pure Go) that caps the run's time, memory and
// outbound requests. A function has the signature
//
//	({event, config, request}) => status
//
// where event is the full CloudEvent (data included), config the
// connector's configuration (secrets merged in), and request.get(url,
// headers) / request.post(url, body, headers) make HTTP requests through
// Herald's SSRF-safe client, answering {status, ok, headers, body, json()}.
// The function returns "success", "failed" or an error message; it may be
// async. console.log output is captured into the run's logs.
//
// Each run gets a fresh VM: nothing survives from one run to the next, there
// are no timers, no file system and no modules.
package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"modernc.org/quickjs"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/internal/herald"
)

// Sandbox runs JavaScript under limits.
type Sandbox struct {
	// HTTP is the client request.* uses (Herald's SSRF-safe client); nil
	// makes every request fail.
	HTTP   *http.Client
	Limits connectors.Limits
}

// SyntaxError is a function that does not parse.
type SyntaxError struct {
	Line, Column int
	Message      string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("syntax error at line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// Check parses code without running it and reports a *SyntaxError with the
// line and column of the first problem.
func Check(code string) error {
	vm, err := quickjs.NewVM()
	if err != nil {
		return fmt.Errorf("start javascript: %w", err)
	}
	defer vm.Close()
	vm.SetMemoryLimit(16 << 20)
	_ = vm.SetEvalTimeout(2 * time.Second)
	if _, err := vm.Compile(code, quickjs.EvalGlobal); err != nil {
		var je *quickjs.Error
		if errors.As(err, &je) {
			msg := je.Message
			if msg == "" {
				msg = je.Error()
			}
			return &SyntaxError{Line: je.LineNumber, Column: je.ColumnNumber, Message: msg}
		}
		return &SyntaxError{Message: err.Error()}
	}
	return nil
}

// CheckField validates code for the API: a *herald.ValidationError on the
// given field, naming line and column.
func CheckField(field, code string) error {
	if err := Check(code); err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			return herald.InvalidAtLine(field, "syntax", se.Line, se.Column, "line %d, column %d: %s", se.Line, se.Column, se.Message)
		}
		return err
	}
	return nil
}

// Outcome is what one invocation produced.
type Outcome struct {
	// Value is the function's result as JSON (null for undefined).
	Value json.RawMessage
	// Err is set when the function threw, was stopped or could not start.
	Err      error
	Logs     []string
	Requests int
	Duration time.Duration
}

// Options tune one invocation.
type Options struct {
	// NoRequests makes request.* throw (pure transforms).
	NoRequests bool
	// Log receives extra lines before the function's own (may be nil).
	Log *connectors.Logger
}

// ErrTimeLimit and ErrMemoryLimit say why a run was stopped.
var (
	ErrTimeLimit   = errors.New("time limit exceeded")
	ErrMemoryLimit = errors.New("memory limit exceeded")
)

// driver loads the user's code by indirect eval (global scope, its
// completion value is the function), calls it and leaves the settled
// outcome in __herald_out. An async function's outcome settles when the
// pending jobs run.
const driver = `(() => {
  const text = (e) => (e instanceof Error) ? (e.name + ": " + e.message) : String(e);
  const settle = (ok, v) => {
    if (ok) { globalThis.__herald_out = {ok: true, value: v === undefined ? null : v}; return; }
    globalThis.__herald_out = {ok: false, error: text(v), stack: (v && v.stack) ? String(v.stack) : ""};
  };
  let f = (0, eval)(__herald_code());
  if (typeof f !== "function" && typeof handler === "function") f = handler;
  if (typeof f !== "function") {
    throw new TypeError("the code must evaluate to a function such as ({event, config, request}) => \"success\", or declare function handler");
  }
  const input = JSON.parse(__herald_input());
  input.request = request;
  let out;
  try { out = f(input); } catch (e) { settle(false, e); return; }
  if (out !== null && typeof out === "object" && typeof out.then === "function") {
    out.then((v) => settle(true, v), (e) => settle(false, e));
  } else {
    settle(true, out);
  }
})()`

// prelude defines console and request over the host functions.
const prelude = `(() => {
  const fetch = __herald_fetch, log = __herald_log;
  const show = (v) => {
    if (typeof v === "string") return v;
    if (v instanceof Error) return v.name + ": " + v.message;
    try { const s = JSON.stringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
  };
  const line = (...a) => log(a.map(show).join(" "));
  globalThis.console = Object.freeze({log: line, info: line, warn: line, error: line, debug: line});
  const wrap = (s) => {
    const r = JSON.parse(s);
    r.ok = r.status >= 200 && r.status < 300;
    r.json = function () { return JSON.parse(this.body); };
    return r;
  };
  const send = (method, url, body, headers) => {
    const h = Object.assign({}, headers || {});
    let b = body;
    if (b === undefined || b === null) {
      b = "";
    } else if (typeof b !== "string") {
      b = JSON.stringify(b);
      if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) h["Content-Type"] = "application/json";
    }
    return wrap(fetch(method, String(url), b, JSON.stringify(h)));
  };
  globalThis.request = Object.freeze({
    get: (url, headers) => send("GET", url, null, headers),
    post: (url, body, headers) => send("POST", url, body, headers),
    put: (url, body, headers) => send("PUT", url, body, headers),
    patch: (url, body, headers) => send("PATCH", url, body, headers),
    delete: (url, headers) => send("DELETE", url, null, headers),
  });
})()`

// Invoke runs code with input (a JSON object whose fields become the
// function's argument, request added) under the sandbox's limits.
func (s *Sandbox) Invoke(ctx context.Context, code string, input []byte, opt Options) (out Outcome) {
	lim := s.Limits.WithDefaults()
	log := opt.Log
	if log == nil {
		log = connectors.NewLogger(lim.MaxLogBytes)
	}
	start := time.Now()
	defer func() {
		out.Duration = time.Since(start)
		out.Logs = log.Lines()
	}()
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()

	vm, err := quickjs.NewVM()
	if err != nil {
		out.Err = fmt.Errorf("start javascript: %w", err)
		return out
	}
	defer vm.Close()
	vm.SetMemoryLimit(uintptr(lim.Memory))
	vm.SetCanBlock(false)
	// The interrupt covers the whole run, host calls included; the eval
	// timeout is re-armed with what is left before each call into the VM.
	stop := context.AfterFunc(ctx, vm.Interrupt)
	defer stop()
	remaining := func() time.Duration {
		d, _ := ctx.Deadline()
		return max(time.Until(d), time.Millisecond)
	}

	fetch := &fetcher{ctx: ctx, client: s.HTTP, limits: lim, log: log, disabled: opt.NoRequests}
	host := []struct {
		name string
		fn   quickjs.HostFunc
	}{
		{"__herald_code", func([]any) (any, error) { return code, nil }},
		{"__herald_input", func([]any) (any, error) { return string(input), nil }},
		{"__herald_log", func(args []any) (any, error) {
			if len(args) > 0 {
				log.Add(fmt.Sprint(args[0]))
			}
			return nil, nil
		}},
		{"__herald_fetch", fetch.call},
	}
	for _, h := range host {
		if err := vm.RegisterHostFunc(h.name, h.fn); err != nil {
			out.Err = fmt.Errorf("start javascript: %w", err)
			return out
		}
	}
	fail := func(err error) Outcome {
		out.Requests = fetch.count
		out.Err = s.classify(ctx, err, lim)
		return out
	}
	_ = vm.SetEvalTimeout(remaining())
	if _, err := vm.Eval(prelude, quickjs.EvalGlobal); err != nil {
		return fail(err)
	}
	_ = vm.SetEvalTimeout(remaining())
	if _, err := vm.Eval(driver, quickjs.EvalGlobal); err != nil {
		return fail(err)
	}
	_ = vm.SetEvalTimeout(remaining())
	if _, err := vm.ExecutePendingJobs(); err != nil {
		return fail(err)
	}
	_ = vm.SetEvalTimeout(remaining())
	res, err := vm.Eval(`JSON.stringify(globalThis.__herald_out === undefined ? null : globalThis.__herald_out)`, quickjs.EvalGlobal)
	if err != nil {
		return fail(err)
	}
	out.Requests = fetch.count
	text, _ := res.(string)
	var settled struct {
		OK    bool            `json:"ok"`
		Value json.RawMessage `json:"value"`
		Error string          `json:"error"`
		Stack string          `json:"stack"`
	}
	if text == "" || text == "null" {
		if ctx.Err() != nil {
			out.Err = fmt.Errorf("%w (%s)", ErrTimeLimit, lim.Timeout)
			return out
		}
		out.Err = errors.New("the function's promise never settled (it waits for something that cannot happen: there are no timers)")
		return out
	}
	if err := json.Unmarshal([]byte(text), &settled); err != nil {
		out.Err = fmt.Errorf("read the function's result: %w", err)
		return out
	}
	if !settled.OK {
		if settled.Stack != "" {
			log.Add(strings.TrimRight(settled.Stack, "\n"))
		}
		if strings.Contains(settled.Error, "out of memory") {
			out.Err = fmt.Errorf("%w (%d MiB)", ErrMemoryLimit, lim.Memory>>20)
			return out
		}
		out.Err = errors.New(settled.Error)
		return out
	}
	out.Value = settled.Value
	return out
}

// classify turns an engine error into the reason a run stopped.
func (s *Sandbox) classify(ctx context.Context, err error, lim connectors.Limits) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "out of memory"):
		return fmt.Errorf("%w (%d MiB)", ErrMemoryLimit, lim.Memory>>20)
	case ctx.Err() != nil || strings.Contains(msg, "interrupted"):
		return fmt.Errorf("%w (%s)", ErrTimeLimit, lim.Timeout)
	}
	var je *quickjs.Error
	if errors.As(err, &je) && je.Name != "" {
		if je.LineNumber > 0 {
			return fmt.Errorf("%s: %s (line %d, column %d)", je.Name, je.Message, je.LineNumber, je.ColumnNumber)
		}
		return fmt.Errorf("%s: %s", je.Name, je.Message)
	}
	return err
}

// fetcher makes the requests of one run.
type fetcher struct {
	ctx      context.Context
	client   *http.Client
	limits   connectors.Limits
	log      *connectors.Logger
	disabled bool
	count    int
}

// call implements __herald_fetch(method, url, body, headersJSON).
func (f *fetcher) call(args []any) (any, error) {
	if f.disabled {
		return nil, errors.New("request is not available here")
	}
	if len(args) < 4 {
		return nil, errors.New("request: missing arguments")
	}
	method, url, body, hdrs := fmt.Sprint(args[0]), fmt.Sprint(args[1]), fmt.Sprint(args[2]), fmt.Sprint(args[3])
	if f.count >= f.limits.MaxRequests {
		return nil, fmt.Errorf("request limit reached: at most %d requests per run", f.limits.MaxRequests)
	}
	if f.client == nil {
		return nil, errors.New("request: outbound HTTP is not configured")
	}
	f.count++
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(f.ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %v", method, url, err)
	}
	var headers map[string]any
	if err := json.Unmarshal([]byte(hdrs), &headers); err != nil {
		return nil, fmt.Errorf("request headers: %v", err)
	}
	for k, v := range headers {
		req.Header.Set(k, fmt.Sprint(v))
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "Herald-Connector/1")
	}
	started := time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		f.log.Printf("%s %s: %v", method, req.URL.Redacted(), unwrapURL(err))
		if f.ctx.Err() != nil {
			return nil, fmt.Errorf("request %s %s: %w", method, req.URL.Redacted(), ErrTimeLimit)
		}
		return nil, fmt.Errorf("request %s %s: %v", method, req.URL.Redacted(), unwrapURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(f.limits.MaxResponseBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("request %s %s: read body: %v", method, req.URL.Redacted(), err)
	}
	if len(b) > f.limits.MaxResponseBytes {
		return nil, fmt.Errorf("request %s %s: response body over %d bytes", method, req.URL.Redacted(), f.limits.MaxResponseBytes)
	}
	f.log.Printf("%s %s → %d (%d ms)", method, req.URL.Redacted(), resp.StatusCode, time.Since(started).Milliseconds())
	h := make(map[string]string, len(resp.Header))
	for k, v := range resp.Header {
		h[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	out, err := json.Marshal(map[string]any{"status": resp.StatusCode, "headers": h, "body": string(b)})
	if err != nil {
		return nil, fmt.Errorf("request: %v", err)
	}
	return string(out), nil
}

// unwrapURL drops url.Error's repetition of method and URL.
func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
