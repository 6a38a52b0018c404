package function_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/connectors/function"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/webhook"
)

const sampleEvent = `{"specversion":"1.0","id":"order-1","source":"/shop","type":"com.acme.order.created","data":{"order":"A-1","qty":2}}`

func newKind(t testing.TB, lim connectors.Limits) *function.Kind {
	sender := webhook.NewSender(webhook.SenderConfig{Policy: webhook.TargetPolicy{AllowPrivate: true}})
	t.Cleanup(sender.Close)
	return function.New(connectors.Env{HTTP: sender.HTTPClient(), Limits: lim})
}

func run(t *testing.T, k *function.Kind, code string, config map[string]any) connectors.Result {
	t.Helper()
	if err := k.Validate(connectors.Spec{Code: code, Config: config}); err != nil {
		t.Fatalf("validate: %v", err)
	}
	r, err := k.Build(connectors.Spec{Code: code, Config: config})
	if err != nil {
		t.Fatal(err)
	}
	return r.Run(context.Background(), connectors.Input{Event: json.RawMessage(sampleEvent)})
}

func TestFunctionTransformsAndPosts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.WriteHeader(201)
		_, _ = w.Write([]byte(`{"accepted":true}`))
	}))
	defer srv.Close()
	code := `async ({event, config, request}) => {
  console.log("sending", event.data.order);
  const res = request.post(config.url, {ref: event.data.order, amount: event.data.qty * 10},
    {Authorization: "Bearer " + config.token});
  if (!res.ok) return "receiver said " + res.status;
  return res.json().accepted ? "success" : "failed";
}`
	res := run(t, newKind(t, connectors.Limits{}), code, map[string]any{"url": srv.URL + "/in", "token": "tok-123"})
	if res.Status != connectors.StatusSuccess {
		t.Fatalf("status %s: %s (logs %q)", res.Status, res.Error, res.Logs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != `{"ref":"A-1","amount":20}` || auth != "Bearer tok-123" {
		t.Fatalf("receiver got %q auth %q", got, auth)
	}
	if res.Requests != 1 || len(res.Logs) != 2 || res.Logs[0] != "sending A-1" {
		t.Fatalf("requests %d logs %q", res.Requests, res.Logs)
	}
}

func TestFunctionOutcomes(t *testing.T) {
	t.Parallel()
	k := newKind(t, connectors.Limits{Timeout: 300 * time.Millisecond, Memory: 32 << 20, MaxRequests: 2})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	t.Cleanup(srv.Close)
	cases := []struct {
		name, code string
		status     connectors.Status
		errHas     string
		maxDur     time.Duration
	}{
		{"success", `() => "success"`, connectors.StatusSuccess, "", 0},
		{"declared handler", `function handler({event}) { return event.type === "com.acme.order.created" ? "success" : "failed" }`, connectors.StatusSuccess, "", 0},
		{"failed", `() => "failed"`, connectors.StatusFailed, `returned "failed"`, 0},
		{"message", `() => "upstream is down"`, connectors.StatusFailed, "upstream is down", 0},
		{"not a string", `() => 42`, connectors.StatusFailed, "must return", 0},
		{"throws", `() => { throw new Error("boom") }`, connectors.StatusFailed, "Error: boom", 0},
		{"async rejects", `async () => { throw new TypeError("nope") }`, connectors.StatusFailed, "TypeError: nope", 0},
		{"not a function", `42`, connectors.StatusFailed, "must evaluate to a function", 0},
		{"loops forever", `() => { for (;;) {} }`, connectors.StatusFailed, "time limit exceeded", 3 * time.Second},
		{"loops at top level", `while (true) {}`, connectors.StatusFailed, "time limit exceeded", 3 * time.Second},
		{"huge string", `() => { const s = 'x'.repeat(2**40); return "success" }`, connectors.StatusFailed, "", 3 * time.Second},
		{"memory bomb", `() => { const a = []; for (;;) a.push(new Array(100000).fill(1)); }`, connectors.StatusFailed, "memory limit exceeded", 3 * time.Second},
		{"no timers", `() => typeof setTimeout === "undefined" && typeof require === "undefined" ? "success" : "failed"`, connectors.StatusSuccess, "", 0},
		{"request limit", `({request, config}) => { for (let i = 0; i < 5; i++) request.get(config.url); return "success" }`, connectors.StatusFailed, "request limit reached", 0},
		{"ssrf refused scheme", `({request}) => { request.get("file:///etc/passwd"); return "success" }`, connectors.StatusFailed, "unsupported protocol", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			res := run(t, k, c.code, map[string]any{"url": srv.URL})
			if res.Status != c.status || !strings.Contains(res.Error, c.errHas) {
				t.Fatalf("got %s %q, want %s containing %q (logs %q)", res.Status, res.Error, c.status, c.errHas, res.Logs)
			}
			if c.maxDur > 0 && time.Since(start) > c.maxDur {
				t.Fatalf("took %s", time.Since(start))
			}
		})
	}
}

func TestFunctionSSRFGuard(t *testing.T) {
	t.Parallel()
	sender := webhook.NewSender(webhook.SenderConfig{}) // production policy: loopback refused
	defer sender.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	k := function.New(connectors.Env{HTTP: sender.HTTPClient()})
	res := run(t, k, `({request, config}) => { request.get(config.url); return "success" }`, map[string]any{"url": srv.URL})
	if res.Status != connectors.StatusFailed || !strings.Contains(res.Error, "not allowed") {
		t.Fatalf("got %s %q", res.Status, res.Error)
	}
}

func TestFunctionSyntaxError(t *testing.T) {
	t.Parallel()
	err := function.ValidateCode("code", "({event}) => {\n  return \"success\"\n  let x = ;\n}", true)
	var ve *herald.ValidationError
	if !errors.As(err, &ve) || ve.Errors[0].Field != "code" || ve.Errors[0].Rule != "syntax" || !strings.Contains(ve.Errors[0].Detail, "line 3, column") {
		t.Fatalf("got %v", err)
	}
	if err := function.ValidateCode("code", "", true); err == nil {
		t.Fatal("empty code accepted")
	}
}

func TestFunctionLogsBounded(t *testing.T) {
	t.Parallel()
	k := newKind(t, connectors.Limits{MaxLogBytes: 100})
	res := run(t, k, `() => { for (let i = 0; i < 1000; i++) console.log("line", i, {i}); return "success" }`, nil)
	if res.Status != connectors.StatusSuccess || !strings.Contains(res.Logs[len(res.Logs)-1], "truncated") {
		t.Fatalf("got %s %q", res.Status, res.Logs)
	}
	total := 0
	for _, l := range res.Logs[:len(res.Logs)-1] {
		total += len(l)
	}
	if total > 100 {
		t.Fatalf("kept %d bytes of logs", total)
	}
}

// BenchmarkFunctionRun measures runs of a trivial function, each in a fresh
// VM: runs/s and the overhead of one run.
func BenchmarkFunctionRun(b *testing.B) {
	k := newKind(b, connectors.Limits{})
	r, err := k.Build(connectors.Spec{Code: `({event, config}) => event.data.qty > 0 ? "success" : "failed"`, Config: map[string]any{"a": 1}})
	if err != nil {
		b.Fatal(err)
	}
	in := connectors.Input{Event: json.RawMessage(sampleEvent)}
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if res := r.Run(ctx, in); res.Status != connectors.StatusSuccess {
			b.Fatalf("%s: %s", res.Status, res.Error)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "runs/s")
}

// BenchmarkFunctionRunParallel is BenchmarkFunctionRun on every core.
func BenchmarkFunctionRunParallel(b *testing.B) {
	k := newKind(b, connectors.Limits{})
	r, err := k.Build(connectors.Spec{Code: `({event}) => event.data.qty > 0 ? "success" : "failed"`})
	if err != nil {
		b.Fatal(err)
	}
	in := connectors.Input{Event: json.RawMessage(sampleEvent)}
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := r.Run(context.Background(), in); res.Status != connectors.StatusSuccess {
				b.Errorf("%s: %s", res.Status, res.Error)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "runs/s")
}

// BenchmarkFunctionRunWithRequest adds one loopback POST to each run: the
// cost of request.post on top of the sandbox.
func BenchmarkFunctionRunWithRequest(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(204)
	}))
	b.Cleanup(srv.Close)
	k := newKind(b, connectors.Limits{})
	r, err := k.Build(connectors.Spec{Code: `({event, config, request}) => request.post(config.url, event.data).ok ? "success" : "failed"`,
		Config: map[string]any{"url": srv.URL}})
	if err != nil {
		b.Fatal(err)
	}
	in := connectors.Input{Event: json.RawMessage(sampleEvent)}
	for b.Loop() {
		if res := r.Run(context.Background(), in); res.Status != connectors.StatusSuccess {
			b.Fatalf("%s: %s", res.Status, res.Error)
		}
	}
}
