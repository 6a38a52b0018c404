package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// The tests drive a real Herald in a real headless Chromium: one browser
// per test binary, one isolated browser context (its own cookies) per
// test.

var (
	browserOnce   sync.Once
	browserAlloc  context.Context
	browserCancel context.CancelFunc
	browserErr    string
)

func TestMain(m *testing.M) {
	code := heraldtest.Main(m, postgres.MigrateDSN)
	if browserCancel != nil {
		browserCancel()
	}
	os.Exit(code)
}

// chromiumPath finds Debian's chromium (or Chrome).
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser returns a fresh browser context for one test. Without Chromium
// the test is skipped, except under CI=true, where it fails: .ci/run
// installs Chromium.
func browser(t *testing.T) context.Context {
	t.Helper()
	browserOnce.Do(func() {
		path := chromiumPath()
		if path == "" {
			browserErr = "no chromium on PATH (apt-get install chromium)"
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		// The first tab starts the browser and lives as long as the test
		// binary; each test then opens a browser context of its own.
		root, cancelRoot := chromedp.NewContext(alloc)
		browserAlloc, browserCancel = root, func() { cancelRoot(); cancelAlloc() }
		if err := chromedp.Do(root); err != nil {
			browserErr = "start chromium: " + err.Error()
		}
	})
	if browserErr != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(browserErr)
		}
		t.Skip(browserErr)
	}
	ctx, cancel := chromedp.NewContext(browserAlloc, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start browser context: %v", err)
	}
	return ctx
}

const (
	adminKey    = "admin"
	adminSecret = "admin-secret-for-tests-only"
)

// cred is a client's key and secret.
type cred struct{ key, secret string }

var admin = cred{adminKey, adminSecret}

// env is one Herald node on its own database.
type env struct {
	t   testing.TB
	app *app.App
	url string
}

func randomKey() string {
	var k [32]byte
	_, _ = rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

func setup(t testing.TB, opts ...func(*app.Config)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{
		DatabaseURL: heraldtest.NewDatabase(t), DataDir: t.TempDir(), SkipMigrate: true, MasterKey: randomKey(),
		BootstrapAdmin: adminKey + ":" + adminSecret, AllowPrivateTargets: true, VerifyEndpoints: true,
		RetrySchedule: webhook.RetrySchedule{200 * time.Millisecond, 200 * time.Millisecond},
		Workers:       8, DBMaxConns: 10, ShutdownTimeout: 10 * time.Second, Logger: heraldtest.Logger(t),
		Listener: ln,
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start herald: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Stop(context.Background()); err != nil {
			t.Errorf("stop herald: %v", err)
		}
	})
	return &env{t: t, app: a, url: a.URL()}
}

// api calls the JSON API and decodes the answer, failing the test on an
// unexpected status.
func (e *env) api(c cred, method, path string, body any, want int) map[string]any {
	e.t.Helper()
	var m map[string]any
	if b := e.apiURL(c, method, e.url+path, body, want); len(b) > 0 {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

// apiURL calls url (absolute) and returns the answer's body, failing the
// test on an unexpected status.
func (e *env) apiURL(c cred, method, u string, body any, want int) []byte {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		ct := "application/json"
		if strings.HasSuffix(u, "/v1/events") {
			ct = "application/cloudevents+json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.SetBasicAuth(c.key, c.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, u, resp.StatusCode, want, b)
	}
	return b
}

// world is a tenant with an admin, a producer, two partner consumers and
// one event type both may consume.
type world struct {
	tenant                 string
	admin, producer        cred
	partnerA, partnerB     cred
	partnerAID, partnerBID string
	producerID             string
	typ                    string
}

func (e *env) world() world {
	e.t.Helper()
	w := world{typ: "com.acme.order.created"}
	w.tenant = e.api(admin, "POST", "/v1/tenants", map[string]any{"name": "acme"}, 201)["id"].(string)
	mk := func(name string, roles ...string) (string, cred) {
		m := e.api(admin, "POST", "/v1/clients", map[string]any{"tenant": w.tenant, "name": name, "roles": roles}, 201)
		return m["id"].(string), cred{m["key"].(string), m["secret"].(string)}
	}
	_, w.admin = mk("acme-admin", "admin")
	w.producerID, w.producer = mk("shop", "producer")
	w.partnerAID, w.partnerA = mk("partner-a", "consumer")
	w.partnerBID, w.partnerB = mk("partner-b", "consumer")
	e.api(w.admin, "PUT", "/v1/event-types/"+w.typ, map[string]any{
		"description": "An order was placed", "producers": []string{w.producerID},
		"consumers": []string{w.partnerAID, w.partnerBID},
		"schema": map[string]any{"type": "object", "required": []string{"order", "qty"},
			"properties": map[string]any{"order": map[string]any{"type": "string"},
				"qty": map[string]any{"type": "integer", "minimum": 1}}},
	}, 201)
	return w
}

// clientOf creates a client of a tenant as the platform admin.
func (e *env) clientOf(tenant, name string, roles ...string) (string, cred) {
	e.t.Helper()
	m := e.api(admin, "POST", "/v1/clients", map[string]any{"tenant": tenant, "name": name, "roles": roles}, 201)
	return m["id"].(string), cred{m["key"].(string), m["secret"].(string)}
}

// produce sends one event.
func (e *env) produce(w world, id string) {
	e.t.Helper()
	e.api(w.producer, "POST", "/v1/events", map[string]any{"specversion": "1.0", "id": id, "source": "/shop",
		"type": w.typ, "data": map[string]any{"order": "A-" + id, "qty": 2}}, 202)
}

// receiver is a webhook receiver on loopback that consents to the
// verification handshake and answers deliveries with the status set.
type receiver struct {
	url    string
	mu     sync.Mutex
	status int
	got    int
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set("WebHook-Allowed-Origin", r.Header.Get("WebHook-Request-Origin"))
			w.WriteHeader(http.StatusOK)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.got++
		st := rc.status
		rc.mu.Unlock()
		w.WriteHeader(st)
		_, _ = io.WriteString(w, `{"note":"receiver says `+http.StatusText(st)+`"}`)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	rc.url = "http://" + ln.Addr().String() + "/hook"
	return rc
}

func (rc *receiver) answer(status int) {
	rc.mu.Lock()
	rc.status = status
	rc.mu.Unlock()
}

// tab is one browser tab of a test, with helpers that fail the test on
// an error.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// newTab opens a tab in a fresh browser context (no cookies).
func newTab(t *testing.T) *tab { return &tab{t: t, ctx: browser(t)} }

// do runs steps in order.
func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// open loads a page and waits for its main element.
func (b *tab) open(url string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main")))
}

// text is the text of the first element matching the CSS selector sel.
func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// content is the text content of the first element matching sel, hidden
// parts (closed details) included.
func (b *tab) content(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// attr is an attribute of the first element matching sel.
func (b *tab) attr(sel, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector(`+jsString(sel)+`).getAttribute(`+jsString(name)+`)`))
	if err != nil {
		b.t.Fatalf("read %s[%s]: %v", sel, name, err)
	}
	return v
}

// count is how many elements match the CSS selector sel.
func (b *tab) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// location is the tab's current URL.
func (b *tab) location() string {
	b.t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// cookie reads a cookie of the current page, HttpOnly ones included.
func (b *tab) cookie(name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, func(ctx context.Context, t *chromedp.Target) (string, error) {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{})
		if err != nil {
			return "", err
		}
		for _, c := range res.Cookies {
			if c.Name == name {
				return c.Value, nil
			}
		}
		return "", nil
	})
	if err != nil || v == "" {
		b.t.Fatalf("cookie %s: %q, %v", name, v, err)
	}
	return v
}

// click clicks the element matching sel (a submit button or a link),
// waits for the page it leads to, and for the element wait on it.
func (b *tab) click(sel, wait string) {
	b.t.Helper()
	// Mark the page, so the wait below cannot be met by the page being
	// left (which may hold the same element).
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(document.body.dataset.left = "1") && true`)); err != nil {
		b.t.Fatalf("mark page: %v", err)
	}
	b.do(chromedp.Click(chromedp.CSS(sel)))
	deadline := time.Now().Add(15 * time.Second)
	for {
		fresh, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](
			`document.readyState === "complete" && !!document.body && document.body.dataset.left !== "1"`))
		if err == nil && fresh {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("click %s: no new page came", sel)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.do(chromedp.WaitVisible(chromedp.CSS(wait)))
}

// fill sets the value of a field.
func (b *tab) fill(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), value)
}

// signIn signs in to the console through its form.
func (b *tab) signIn(base string, c cred) {
	b.t.Helper()
	b.do(chromedp.Navigate(base+"/console"), chromedp.WaitVisible(chromedp.CSS("#key")),
		b.fill("#key", c.key), b.fill("#secret", c.secret),
		chromedp.Click(chromedp.CSS(`form[action="/console/sign-in"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)))
}

// waitText reloads url until the element sel holds want (deliveries are
// made in the background), or fails after 20 s.
func (b *tab) waitText(url, sel, want string) string {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var s string
	for time.Now().Before(deadline) {
		b.open(url)
		if b.count(sel) > 0 {
			if s = b.text(sel); strings.Contains(s, want) {
				return s
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	b.t.Fatalf("%s: %q never showed %q (last %q)", url, sel, want, s)
	return ""
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
