package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

func TestMain(m *testing.M) {
	os.Exit(heraldtest.Main(m, postgres.MigrateDSN))
}

const (
	adminKey    = "admin"
	adminSecret = "admin-secret-for-tests-only"
)

// env is one running Herald node on its own database, with helpers.
type env struct {
	t   *testing.T
	app *app.App
	dsn string
	cfg app.Config
}

type option func(*app.Config)

func withSchedule(s string) option {
	return func(c *app.Config) {
		rs, err := webhook.ParseRetrySchedule(s)
		if err != nil {
			panic(err)
		}
		c.RetrySchedule = rs
	}
}

func randomKey() string {
	var k [32]byte
	_, _ = rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

// setup boots Herald on 127.0.0.1:0 against a fresh database cloned from
// the migrated template.
func setup(t *testing.T, opts ...option) *env {
	t.Helper()
	dsn := heraldtest.NewDatabase(t)
	cfg := app.Config{
		DatabaseURL: dsn, DataDir: t.TempDir(), SkipMigrate: true, MasterKey: randomKey(),
		BootstrapAdmin: adminKey + ":" + adminSecret, AllowPrivateTargets: true,
		RetrySchedule: webhook.RetrySchedule{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond},
		Workers:       50, DBMaxConns: 20, ShutdownTimeout: 10 * time.Second, Logger: heraldtest.Logger(t),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e := &env{t: t, dsn: dsn, cfg: cfg}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *env) start() {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Listener = ln
	a, err := app.Start(context.Background(), cfg)
	if err != nil {
		e.t.Fatalf("start herald: %v", err)
	}
	e.app = a
}

func (e *env) stop() {
	if e.app != nil {
		if err := e.app.Stop(context.Background()); err != nil {
			e.t.Errorf("stop herald: %v", err)
		}
		e.app = nil
	}
}

// cred is a key and secret.
type cred struct{ key, secret string }

var admin = cred{adminKey, adminSecret}

// response is a decoded API answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

func (e *env) do(c cred, method, path string, body any, header ...string) response {
	e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.app.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c.key != "" {
		req.SetBasicAuth(c.key, c.secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must asserts the status and returns the JSON body.
func (e *env) must(status int, r response) map[string]any {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if len(r.body) == 0 {
		return nil
	}
	return r.json(e.t)
}

// tenant creates a tenant as the platform admin.
func (e *env) tenant(name string) string {
	e.t.Helper()
	return e.must(201, e.do(admin, "POST", "/v1/tenants", map[string]any{"name": name}))["id"].(string)
}

// client creates a client and returns its id and credential.
func (e *env) client(by cred, tenant, name string, roles ...string) (string, cred) {
	e.t.Helper()
	body := map[string]any{"name": name, "roles": roles}
	if tenant != "" {
		body["tenant"] = tenant
	}
	m := e.must(201, e.do(by, "POST", "/v1/clients", body))
	return m["id"].(string), cred{m["key"].(string), m["secret"].(string)}
}

// world is a typical set-up: a producing tenant with an admin and a
// producer, a consuming tenant with a consumer, and one event type.
type world struct {
	producerTenant, consumerTenant string
	ownerAdmin, producer, consumer cred
	producerID, consumerID         string
	typ                            string
}

const orderSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["order", "qty"],
  "properties": {
    "order": {"type": "string"},
    "qty": {"type": "integer", "minimum": 1},
    "note": {"type": "string"}
  }
}`

func (e *env) world() *world {
	e.t.Helper()
	w := &world{typ: "com.example.order.created"}
	w.producerTenant = e.tenant("producers-" + e.t.Name())
	w.consumerTenant = e.tenant("consumers-" + e.t.Name())
	_, w.ownerAdmin = e.client(admin, w.producerTenant, "owner admin", "admin")
	w.producerID, w.producer = e.client(w.ownerAdmin, "", "shop", "producer")
	w.consumerID, w.consumer = e.client(admin, w.consumerTenant, "warehouse", "consumer")
	e.must(201, e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, map[string]any{
		"description": "an order was placed", "schema": json.RawMessage(orderSchema),
		"producers": []string{w.producerID}, "consumers": []string{w.consumerID},
	}))
	return w
}

// endpoint subscribes a receiver for the consumer and returns id and secret.
func (e *env) endpoint(c cred, url string, types ...string) (string, string) {
	e.t.Helper()
	m := e.must(201, e.do(c, "POST", "/v1/endpoints", map[string]any{"url": url, "types": types}))
	return m["id"].(string), m["secret"].(string)
}

func orderEvent(id string, qty int) map[string]any {
	return map[string]any{
		"specversion": "1.0", "id": id, "source": "/shop", "type": "com.example.order.created",
		"datacontenttype": "application/json", "data": map[string]any{"order": id, "qty": qty},
	}
}

func (e *env) send(c cred, events ...map[string]any) response {
	e.t.Helper()
	if len(events) == 1 {
		return e.do(c, "POST", "/v1/events", events[0], "Content-Type", "application/cloudevents+json")
	}
	return e.do(c, "POST", "/v1/events", events, "Content-Type", "application/cloudevents-batch+json")
}

// receiver is a loopback webhook target that verifies signatures.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	// byMsg counts successful receipts per webhook-id; calls counts every
	// request per webhook-id.
	byMsg  map[string]int
	calls  map[string]int
	events map[string]int // per CloudEvents id, successful receipts
	bodies []map[string]any
	bad    []string
	// respond decides the status for a request (nil: 204).
	respond func(callNo int, r *http.Request) int
	// options answers the OPTIONS handshake (nil: consent).
	options func(w http.ResponseWriter, r *http.Request)
	notify  chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, byMsg: map[string]int{}, calls: map[string]int{}, events: map[string]int{}, notify: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/hook" }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		// The CloudEvents webhook handshake: consent unless told otherwise.
		rc.mu.Lock()
		opt := rc.options
		rc.mu.Unlock()
		if opt != nil {
			opt(w, r)
			return
		}
		w.Header().Set("WebHook-Allowed-Origin", "*")
		w.WriteHeader(http.StatusOK)
		return
	}
	body, _ := io.ReadAll(r.Body)
	msg := r.Header.Get("webhook-id")
	rc.mu.Lock()
	rc.calls[msg]++
	n := rc.calls[msg]
	secret, respond := rc.secret, rc.respond
	rc.mu.Unlock()
	status := http.StatusNoContent
	if respond != nil {
		status = respond(n, r)
	}
	var verr error
	if secret != "" {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			verr = wh.Verify(body, r.Header)
		} else {
			verr = err
		}
	}
	var ev map[string]any
	jerr := json.Unmarshal(body, &ev)
	rc.mu.Lock()
	if verr != nil {
		rc.bad = append(rc.bad, fmt.Sprintf("%s: signature: %v", msg, verr))
	}
	if jerr != nil || r.Header.Get("Content-Type") == "" {
		rc.bad = append(rc.bad, fmt.Sprintf("%s: body %q: %v", msg, body, jerr))
	}
	if status/100 == 2 {
		rc.byMsg[msg]++
		if id, ok := ev["id"].(string); ok {
			rc.events[id]++
		}
		rc.bodies = append(rc.bodies, ev)
	}
	rc.mu.Unlock()
	select {
	case rc.notify <- struct{}{}:
	default:
	}
	w.WriteHeader(status)
}

// waitEvents waits until n distinct events were received successfully.
func (rc *receiver) waitEvents(n int, timeout time.Duration) {
	rc.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rc.mu.Lock()
		got := len(rc.events)
		rc.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			rc.t.Fatalf("received %d distinct events, want %d", got, n)
		}
		select {
		case <-rc.notify:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (rc *receiver) snapshot() (events map[string]int, calls map[string]int, bad []string, bodies []map[string]any) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	events = make(map[string]int, len(rc.events))
	for k, v := range rc.events {
		events[k] = v
	}
	calls = make(map[string]int, len(rc.calls))
	for k, v := range rc.calls {
		calls[k] = v
	}
	return events, calls, append([]string(nil), rc.bad...), append([]map[string]any(nil), rc.bodies...)
}

// eventually polls cond until it holds.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
