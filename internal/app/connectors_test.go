package app_test

import (
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// sink is a loopback HTTP server that records request bodies and headers,
// answering with fail(n) for the n-th request (nil: 204).
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
	auth   []string
	calls  atomic.Int32
	fail   func(n int) int
}

func newSink(t *testing.T, fail func(n int) int) *sink {
	s := &sink{fail: fail}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.calls.Add(1))
		b, _ := io.ReadAll(r.Body)
		if s.fail != nil {
			if code := s.fail(n); code != 0 {
				http.Error(w, "not now", code)
				return
			}
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) got() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...), append([]string(nil), s.auth...)
}

func withConnectorTimeout(d time.Duration) option {
	return func(c *app.Config) { c.ConnectorTimeout = d }
}

// runs lists a connector's runs.
func (e *env) runs(c cred, id string) []any {
	e.t.Helper()
	return e.must(200, e.do(c, "GET", "/v1/connectors/"+id+"/runs", nil))["data"].([]any)
}

// waitRun waits until the connector's only run has the status.
func (e *env) waitRun(c cred, id, status string) map[string]any {
	e.t.Helper()
	var run map[string]any
	eventually(e.t, 20*time.Second, "connector run "+status, func() bool {
		rs := e.runs(c, id)
		if len(rs) != 1 {
			return false
		}
		run = rs[0].(map[string]any)
		return run["status"] == status
	})
	return run
}

const transformFunction = `async ({event, config, request}) => {
  console.log("forwarding", event.id, "with", config.token);
  const res = request.post(config.url, {ref: event.data.order, units: event.data.qty, team: config.team},
    {Authorization: "Bearer " + config.token});
  return res.ok ? "success" : "receiver answered " + res.status;
}`

func TestConnectorFunctionTransformsAndPosts(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rcv := newSink(t, nil)
	created := e.must(201, e.do(w.consumer, "POST", "/v1/connectors", map[string]any{
		"name": "legacy erp", "kind": "function", "types": []string{"com.example.order.>"},
		"code": transformFunction, "config": map[string]any{"url": rcv.srv.URL + "/erp", "team": "alpha"},
		"secrets": map[string]any{"token": "s3cret-token-value"},
	}))
	id := created["id"].(string)
	if sec := created["secrets"].(map[string]any); sec["token"] != "********" {
		t.Fatalf("secrets not masked: %v", created)
	}
	if strings.Contains(string(e.do(w.consumer, "GET", "/v1/connectors/"+id, nil).body), "s3cret") {
		t.Fatal("secret shown by GET")
	}
	e.must(202, e.send(w.producer, orderEvent("o-1", 3)))
	run := e.waitRun(w.consumer, id, "succeeded")
	bodies, auth := rcv.got()
	if len(bodies) != 1 || bodies[0] != `{"ref":"o-1","units":3,"team":"alpha"}` || auth[0] != "Bearer s3cret-token-value" {
		t.Fatalf("receiver got %q %q", bodies, auth)
	}
	if run["attempts"].(float64) != 1 || run["event_type"] != w.typ || !strings.Contains(run["input"].(string), "id=o-1") {
		t.Fatalf("run %v", run)
	}
	h := run["history"].([]any)[0].(map[string]any)
	logs := fmt.Sprint(h["logs"])
	if h["status"] != "success" || h["requests"].(float64) != 1 || !strings.Contains(logs, "forwarding o-1 with ********") || strings.Contains(logs, "s3cret") {
		t.Fatalf("attempt %v", h)
	}
	// A duplicate event does not run the connector again.
	e.must(202, e.send(w.producer, orderEvent("o-1", 3)))
	e.must(202, e.send(w.producer, orderEvent("o-2", 1)))
	eventually(t, 20*time.Second, "second run", func() bool { b, _ := rcv.got(); return len(b) == 2 })
	if n := len(e.runs(w.consumer, id)); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}

func TestConnectorLoopStoppedAtTimeLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, withConnectorTimeout(300*time.Millisecond), withSchedule("50ms"))
	w := e.world()
	id := e.must(201, e.do(w.consumer, "POST", "/v1/connectors", map[string]any{
		"name": "spinner", "kind": "function", "types": []string{w.typ}, "code": `() => { for (;;) {} }`,
	}))["id"].(string)
	e.must(202, e.send(w.producer, orderEvent("o-1", 1)))
	run := e.waitRun(w.consumer, id, "failed")
	hist := run["history"].([]any)
	if run["attempts"].(float64) != 2 || len(hist) != 2 {
		t.Fatalf("run %v", run)
	}
	for _, a := range hist {
		a := a.(map[string]any)
		if a["status"] != "failed" || !strings.Contains(a["error"].(string), "time limit exceeded") || a["duration_ms"].(float64) > 2000 {
			t.Fatalf("attempt %v", a)
		}
	}
	// The node is still healthy: a test run of a good function answers.
	e.must(200, e.do(w.consumer, "PATCH", "/v1/connectors/"+id, map[string]any{"code": `() => "success"`}))
	res := e.must(200, e.do(w.consumer, "POST", "/v1/connectors/"+id+"/test", nil))
	if res["status"] != "success" {
		t.Fatalf("test run %v", res)
	}
}

func TestConnectorEmail(t *testing.T) {
	t.Parallel()
	smtpSrv := heraldtest.NewSMTPServer(t, "herald-mailer", "mail-pass-123")
	e := setup(t, func(c *app.Config) { c.SMTPRootCAs = smtpSrv.RootCAs })
	w := e.world()
	created := e.must(201, e.do(w.consumer, "POST", "/v1/connectors", map[string]any{
		"name": "order mails", "kind": "email", "types": []string{w.typ},
		"config": map[string]any{
			"host": smtpSrv.Host, "port": smtpSrv.Port, "username": "herald-mailer",
			"from": "Herald <herald@example.com>", "to": []string{"warehouse@example.com"},
			"subject": "New order {{.data.order}}", "body": "Order {{.data.order}}: {{.data.qty}} item(s).\nType {{.event.type}}.",
		},
		"secrets": map[string]any{"password": "mail-pass-123"},
	}))
	if created["secrets"].(map[string]any)["password"] != "********" || strings.Contains(fmt.Sprint(created), "mail-pass") {
		t.Fatalf("password not masked: %v", created)
	}
	e.must(202, e.send(w.producer, orderEvent("A-7", 4)))
	e.waitRun(w.consumer, created["id"].(string), "succeeded")
	mails := smtpSrv.Mails()
	if len(mails) != 1 || !mails[0].TLS || mails[0].User != "herald-mailer" || mails[0].To[0] != "warehouse@example.com" {
		t.Fatalf("mails %+v", mails)
	}
	m, err := mail.ReadMessage(strings.NewReader(string(mails[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	body, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	if subj != "New order A-7" || strings.TrimSpace(string(body)) != "Order A-7: 4 item(s).\r\nType com.example.order.created." {
		t.Fatalf("subject %q body %q", subj, body)
	}
}

func TestConnectorRetries(t *testing.T) {
	t.Parallel()
	e := setup(t) // three retries, 200 ms apart
	w := e.world()
	var down atomic.Bool
	rcv := newSink(t, func(n int) int {
		if n <= 2 || down.Load() {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	id := e.must(201, e.do(w.consumer, "POST", "/v1/connectors", map[string]any{
		"name": "forward", "kind": "http", "types": []string{w.typ},
		"config": map[string]any{"url": rcv.srv.URL + "/in"},
	}))["id"].(string)
	e.must(202, e.send(w.producer, orderEvent("o-1", 1)))
	run := e.waitRun(w.consumer, id, "succeeded")
	var statuses []string
	for _, a := range run["history"].([]any) {
		statuses = append(statuses, a.(map[string]any)["status"].(string))
	}
	if run["attempts"].(float64) != 3 || strings.Join(statuses, ",") != "failed,failed,success" {
		t.Fatalf("run %v", run)
	}
	if !strings.Contains(run["history"].([]any)[0].(map[string]any)["error"].(string), "HTTP 503") {
		t.Fatalf("first attempt %v", run["history"])
	}

	// A run that exhausts the schedule fails, and can be retried by hand.
	down.Store(true)
	id2 := e.must(201, e.do(w.consumer, "POST", "/v1/connectors", map[string]any{
		"name": "forward 2", "kind": "http", "types": []string{w.typ},
		"config": map[string]any{"url": rcv.srv.URL + "/in2"},
	}))["id"].(string)
	e.must(202, e.send(w.producer, orderEvent("o-2", 1)))
	failed := e.waitRun(w.consumer, id2, "failed")
	if failed["attempts"].(float64) != 4 {
		t.Fatalf("run %v", failed)
	}
	runID := failed["id"].(string)
	down.Store(false)
	retried := e.must(202, e.do(w.consumer, "POST", "/v1/connector-runs/"+runID+"/retry", nil))
	if retried["status"] != "pending" {
		t.Fatalf("retried run %v", retried)
	}
	done := e.waitRun(w.consumer, id2, "succeeded")
	if done["attempts"].(float64) != 5 {
		t.Fatalf("run %v", done)
	}
	got := e.must(200, e.do(w.consumer, "GET", "/v1/connector-runs/"+runID, nil))
	if got["status"] != "succeeded" {
		t.Fatalf("run %v", got)
	}
	// Another tenant sees nothing of it.
	_, stranger := e.client(admin, e.tenant("strangers"), "stranger", "consumer")
	e.must(404, e.do(stranger, "GET", "/v1/connector-runs/"+runID, nil))
	e.must(404, e.do(stranger, "POST", "/v1/connector-runs/"+runID+"/retry", nil))
}

func TestConnectorAPI(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rcv := newSink(t, nil)
	problem := func(r response, status int, field, rule string) map[string]any {
		t.Helper()
		m := e.must(status, r)
		if field == "" {
			return m
		}
		for _, it := range m["errors"].([]any) {
			it := it.(map[string]any)
			if it["field"] == field && it["rule"] == rule {
				return it
			}
		}
		t.Fatalf("no %s/%s in %v", field, rule, m)
		return nil
	}
	post := func(body map[string]any) response { return e.do(w.consumer, "POST", "/v1/connectors", body) }

	// Bad input names the field and the rule, and creates nothing.
	syntax := problem(post(map[string]any{"name": "x", "kind": "function", "types": []string{w.typ},
		"code": "({event}) => {\n  return \"success\"\n  let x = ;\n}"}), 422, "code", "syntax")
	if !strings.Contains(syntax["detail"].(string), "line 3, column") {
		t.Fatalf("syntax error without position: %v", syntax)
	}
	problem(post(map[string]any{"name": "x", "kind": "ftp", "types": []string{w.typ}}), 422, "kind", "enum")
	problem(post(map[string]any{"name": "", "kind": "function", "types": []string{w.typ}, "code": `() => "success"`}), 422, "name", "required")
	problem(post(map[string]any{"name": "x", "kind": "http", "types": []string{w.typ}, "config": map[string]any{}}), 422, "config.url", "required")
	problem(post(map[string]any{"name": "x", "kind": "http", "types": []string{w.typ},
		"config": map[string]any{"url": rcv.srv.URL, "token": "a"}, "secrets": map[string]any{"token": "b"}}), 422, "secrets.token", "conflict")
	problem(post(map[string]any{"name": "x", "kind": "email", "types": []string{w.typ}, "config": map[string]any{
		"host": "127.0.0.1", "tls": "none", "from": "a@example.com", "to": "b@example.com", "subject": "s", "body": "b"}}), 422, "config.tls", "insecure")
	problem(post(map[string]any{"name": "x", "kind": "function", "types": []string{"com.nope"}, "code": `() => "success"`}), 422, "types[0]", "unknown-type")
	problem(post(map[string]any{"name": "x", "kind": "email", "types": []string{w.typ}, "config": map[string]any{
		"host": "127.0.0.1", "from": "a@example.com", "to": "b@example.com", "subject": "s", "body": "b",
		"SMTP_Password": "hunter2"}}), 422, "config.SMTP_Password", "secret")
	if n := len(e.must(200, e.do(w.consumer, "GET", "/v1/connectors", nil))["data"].([]any)); n != 0 {
		t.Fatalf("%d connectors after bad requests", n)
	}
	// A type the client may not consume is refused.
	_, outsider := e.client(admin, e.tenant("outsiders"), "outsider", "consumer")
	e.must(403, e.do(outsider, "POST", "/v1/connectors", map[string]any{"name": "x", "kind": "function",
		"types": []string{w.typ}, "code": `() => "success"`}))

	c := e.must(201, post(map[string]any{"name": "fwd", "kind": "http", "types": []string{w.typ},
		"code":    `({event}) => ({id: event.id})`,
		"config":  map[string]any{"url": rcv.srv.URL + "/x", "headers": map[string]any{"X-Team": "alpha"}},
		"secrets": map[string]any{"token": "tok-abcdef"}}))
	id := c["id"].(string)
	problem(post(map[string]any{"name": "fwd", "kind": "function", "types": []string{w.typ}, "code": `() => "success"`}), 409, "", "")

	// Test runs go out at once and answer with the outcome; nothing is stored.
	res := e.must(200, e.do(w.consumer, "POST", "/v1/connectors/"+id+"/test", map[string]any{
		"event": map[string]any{"specversion": "1.0", "id": "t-1", "source": "/t", "type": w.typ}}))
	if res["status"] != "success" || res["requests"].(float64) != 1 {
		t.Fatalf("test run %v", res)
	}
	bodies, auth := rcv.got()
	if len(bodies) != 1 || bodies[0] != `{"id":"t-1"}` || auth[0] != "Bearer tok-abcdef" {
		t.Fatalf("receiver got %q %q", bodies, auth)
	}
	if n := len(e.runs(w.consumer, id)); n != 0 {
		t.Fatalf("test run stored %d runs", n)
	}

	// Updates: the mask keeps a secret, null removes it, a value replaces it.
	up := e.must(200, e.do(w.consumer, "PATCH", "/v1/connectors/"+id, map[string]any{
		"secrets": map[string]any{"token": "********", "extra": "another-secret"}, "description": "to the ERP"}))
	if up["secrets"].(map[string]any)["token"] != "********" || up["description"] != "to the ERP" || strings.Contains(fmt.Sprint(up), "another-secret") {
		t.Fatalf("update %v", up)
	}
	e.must(200, e.do(w.consumer, "POST", "/v1/connectors/"+id+"/test", nil))
	if _, auth := rcv.got(); auth[len(auth)-1] != "Bearer tok-abcdef" {
		t.Fatalf("masked update changed the token: %q", auth)
	}
	problem(e.do(w.consumer, "PATCH", "/v1/connectors/"+id, map[string]any{"secrets": map[string]any{"new": "********"}}), 422, "secrets.new", "masked")
	problem(e.do(w.consumer, "PATCH", "/v1/connectors/"+id, map[string]any{"kind": "email"}), 422, "kind", "immutable")
	up = e.must(200, e.do(w.consumer, "PATCH", "/v1/connectors/"+id, map[string]any{"secrets": map[string]any{"extra": nil}, "enabled": false}))
	if _, has := up["secrets"].(map[string]any)["extra"]; has || up["enabled"] != false {
		t.Fatalf("update %v", up)
	}

	// A disabled connector receives nothing.
	e.must(202, e.send(w.producer, orderEvent("o-1", 1)))
	// Routing happens in the transaction the 202 waited for: a run would
	// already be listed.
	if n := len(e.runs(w.consumer, id)); n != 0 {
		t.Fatalf("disabled connector got %d runs", n)
	}

	// Others see nothing; the tenant's admin and the owner do.
	e.must(404, e.do(outsider, "GET", "/v1/connectors/"+id, nil))
	e.must(404, e.do(outsider, "POST", "/v1/connectors/"+id+"/test", nil))
	if n := len(e.must(200, e.do(admin, "GET", "/v1/connectors", nil))["data"].([]any)); n != 1 {
		t.Fatalf("platform admin lists %d connectors", n)
	}
	e.must(204, e.do(w.consumer, "DELETE", "/v1/connectors/"+id, nil))
	e.must(404, e.do(w.consumer, "GET", "/v1/connectors/"+id, nil))
}
