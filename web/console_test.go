package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// TestConsoleSignIn: a wrong secret is refused, the right one opens the
// console, sign-out ends the session (its cookie, replayed, no longer
// works), and pages need a session.
func TestConsoleSignIn(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := newTab(t)

	// Without a session, a console page sends the browser to sign in,
	// remembering where it was going.
	b.do(chromedp.Navigate(e.url+"/console/endpoints"), chromedp.WaitVisible(chromedp.CSS("#key")))
	if u := b.location(); !strings.Contains(u, "/console/sign-in?next=%2Fconsole%2Fendpoints") {
		t.Errorf("unsigned visit went to %s", u)
	}

	b.do(b.fill("#key", adminKey), b.fill("#secret", "not-the-secret"))
	b.click(`form[action="/console/sign-in"] button[type="submit"]`, "#signin-error")
	if s := b.text("#signin-error"); !strings.Contains(s, "do not belong to an admin client") {
		t.Errorf("wrong secret: %q", s)
	}

	b.do(b.fill("#secret", adminSecret))
	b.click(`form[action="/console/sign-in"] button[type="submit"]`, `nav[aria-label="Main"]`)
	if u := b.location(); !strings.HasSuffix(u, "/console/endpoints") {
		t.Errorf("after sign-in the browser is at %s, want the page it asked for", u)
	}

	// Keep the session cookie, sign out, and replay it.
	cookie := b.cookie("herald_console")
	if st := getWithCookie(t, e.url+"/console/endpoints", "herald_console", cookie); st != http.StatusOK {
		t.Fatalf("with the live session cookie: status %d", st)
	}
	b.click(`form.signout button`, "#key")
	if st := getWithCookie(t, e.url+"/console/endpoints", "herald_console", cookie); st != http.StatusSeeOther {
		t.Errorf("signed-out session cookie replayed: status %d, want 303 to sign-in", st)
	}
}

// TestConsoleSignInThrottled: after five failures from one address, even
// the right secret is refused for a while.
func TestConsoleSignInThrottled(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := newTab(t)
	b.do(chromedp.Navigate(e.url + "/console/sign-in"))
	for i := range 5 {
		b.do(chromedp.WaitVisible(chromedp.CSS("#key")), b.fill("#key", adminKey), b.fill("#secret", "guess-"+string(rune('a'+i))))
		b.click(`form[action="/console/sign-in"] button[type="submit"]`, "#signin-error")
		if s := b.text("#signin-error"); !strings.Contains(s, "do not belong") {
			t.Fatalf("failure %d: %q", i+1, s)
		}
	}
	b.do(b.fill("#key", adminKey), b.fill("#secret", adminSecret))
	b.click(`form[action="/console/sign-in"] button[type="submit"]`, "#signin-error")
	if s := b.text("#signin-error"); !regexp.MustCompile(`Too many failed sign-ins\. Try again in \d+ minutes?\.`).MatchString(s) {
		t.Errorf("sixth attempt, right secret: %q, want the throttle", s)
	}
}

// TestConsoleCSRF: a state-changing request with a live session but
// without the session's CSRF token changes nothing.
func TestConsoleCSRF(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	b := newTab(t)
	b.signIn(e.url, w.admin)
	cookie := b.cookie("herald_console")

	// In the browser: the form with its token field removed.
	b.open(e.url + "/console/clients")
	b.do(b.fill("#client-name", "forged"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.querySelectorAll('form[action="/console/clients"] input[name="csrf_token"]').forEach(e => e.remove()) || true`)(ctx, t)
			return err
		}))
	b.click(`form[action="/console/clients"] button[type="submit"]`, ".problem-page")
	if s := b.text(".problem-page"); !strings.Contains(s, "CSRF") || !strings.Contains(s, "403") {
		t.Errorf("form without token: %q", s)
	}

	// From another program holding the cookie: a POST without the token,
	// then with a wrong one.
	for _, token := range []string{"", "d3JvbmctdG9rZW4"} {
		form := url.Values{"name": {"forged"}, "roles": {"admin"}}
		if token != "" {
			form.Set("csrf_token", token)
		}
		req, _ := http.NewRequest("POST", e.url+"/console/clients", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "herald_console", Value: cookie})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with token %q: status %d, want 403", token, resp.StatusCode)
		}
	}
	clients := e.api(w.admin, "GET", "/v1/clients", nil, 200)["data"].([]any)
	for _, c := range clients {
		if c.(map[string]any)["name"] == "forged" {
			t.Fatal("a request without the CSRF token created a client")
		}
	}
}

// getWithCookie GETs url with one cookie and no redirects; it returns the
// status.
func getWithCookie(t *testing.T, u, name, value string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", u, nil)
	req.AddCookie(&http.Cookie{Name: name, Value: value})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		t.Logf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	return resp.StatusCode
}

// postForm POSTs an empty form with a CSRF token and one cookie; it
// returns the status.
func postForm(t *testing.T, u, cookie, value, csrf string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(url.Values{"csrf_token": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookie, Value: value})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestConsoleOverview: the overview's counts and charts follow what
// happened: events in, attempts succeeded and failed, and the failing
// endpoint listed.
func TestConsoleOverview(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	ok := newReceiver(t, 204)
	bad := newReceiver(t, 500)
	e.api(w.partnerA, "POST", "/v1/endpoints", map[string]any{"url": ok.url, "types": []string{w.typ}}, 201)
	e.api(w.partnerB, "POST", "/v1/endpoints", map[string]any{"url": bad.url, "types": []string{w.typ}}, 201)
	// Both endpoints verified (their receivers consent) before events come.
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range []cred{w.partnerA, w.partnerB} {
		for e.api(c, "GET", "/v1/endpoints", nil, 200)["data"].([]any)[0].(map[string]any)["status"] != "active" {
			if time.Now().After(deadline) {
				t.Fatal("endpoints not verified")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, id := range []string{"1", "2"} {
		e.produce(w, id)
	}
	b := newTab(t)
	b.signIn(e.url, w.admin)
	// 2 deliveries × 3 attempts fail; the page shows what GET /v1/stats
	// counts (Herald's own events, such as endpoint.verified, are events
	// in too).
	b.waitText(e.url+"/console", "#attempts-failed", "6")
	st := e.api(w.admin, "GET", "/v1/stats", nil, 200)["totals"].(map[string]any)
	if st["events_in"].(float64) < 2 || st["attempts_succeeded"].(float64) < 2 {
		t.Errorf("stats %v", st)
	}
	for sel, key := range map[string]string{"#events-in": "events_in", "#attempts-ok": "attempts_succeeded", "#attempts-failed": "attempts_failed"} {
		if got, want := b.text(sel), fmt.Sprint(st[key]); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}

	if s := b.text("#failing-endpoints"); !strings.Contains(s, bad.url) || strings.Contains(s, ok.url) {
		t.Errorf("failing endpoints: %q", s)
	}
	if n := b.count("svg.chart rect.in"); n < 1 || n > 2 {
		t.Errorf("events chart has %d bars with events, want 1 or 2 (all came within a minute)", n)
	}
	if n := b.count("svg.chart rect.bad"); n < 1 {
		t.Error("the attempts chart shows no failure")
	}
}

// TestConsoleClients: an admin creates a client (its secret shown once),
// rotates its secret (the old one stops working) and revokes it.
func TestConsoleClients(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	b := newTab(t)
	b.signIn(e.url, w.admin)
	b.open(e.url + "/console/clients")
	b.do(b.fill("#client-name", "erp-reader"), chromedp.Click(chromedp.CSS(`input[name="roles"][value="consumer"]`)))
	b.click(`form[action="/console/clients"] button[type="submit"]`, "#new-secret")
	first := cred{b.text(".secret dd code.copy"), b.text("#new-secret")}
	e.api(first, "GET", "/v1/endpoints", nil, 200)

	id := ""
	for _, c := range e.api(w.admin, "GET", "/v1/clients", nil, 200)["data"].([]any) {
		if c.(map[string]any)["name"] == "erp-reader" {
			id = c.(map[string]any)["id"].(string)
		}
	}
	b.click(`form[action="/console/clients/`+id+`/rotate"] button`, "#new-secret")
	second := cred{first.key, b.text("#new-secret")}
	if second.secret == first.secret {
		t.Fatal("the secret did not change")
	}
	e.api(first, "GET", "/v1/endpoints", nil, 401)
	e.api(second, "GET", "/v1/endpoints", nil, 200)

	b.click(`form[action="/console/clients/`+id+`/delete"] button`, "p.notice")
	e.api(second, "GET", "/v1/endpoints", nil, 401)
}

// TestConsoleGroups: an admin sees a consumer's groups and their lag,
// which falls once the consumer acknowledges.
func TestConsoleGroups(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	e.api(w.partnerA, "POST", "/v1/consumer-groups", map[string]any{"name": "billing", "types": []string{w.typ}}, 201)
	for _, id := range []string{"1", "2", "3"} {
		e.produce(w, id)
	}
	b := newTab(t)
	b.signIn(e.url, w.admin)
	page := e.url + "/console/consumer-groups?client=" + w.partnerAID
	b.waitText(page, ".group", "lag 3")
	if s := b.text(".group h2"); s != "billing" {
		t.Errorf("group %q", s)
	}

	inst := e.api(w.partnerA, "POST", "/v1/consumer-groups/billing/instances", map[string]any{}, 201)
	base := inst["base_uri"].(string)
	if !strings.HasPrefix(base, "http") {
		base = e.url + base
	}
	var got []map[string]any
	if err := json.Unmarshal(e.apiURL(w.partnerA, "GET", base+"/events?max=10", nil, 200), &got); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range got {
		ids = append(ids, ev["id"].(string))
	}
	if len(ids) != 3 {
		t.Fatalf("fetched %d events", len(ids))
	}
	e.apiURL(w.partnerA, "POST", base+"/ack", map[string]any{"ids": ids}, 204)
	b.waitText(page, ".group", "lag 0")

	// Another tenant's admin cannot read them.
	e.api(admin, "GET", "/v1/consumer-groups?client="+w.partnerAID, nil, 200)
	e.api(w.partnerB, "GET", "/v1/consumer-groups?client="+w.partnerAID, nil, 404)
}

// TestConsoleIntegrations: an admin issues an integration credential (its
// secret shown once), sees its reads in the access log, rotates it (the old
// secret stops working) and revokes it.
func TestConsoleIntegrations(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	b := newTab(t)
	b.signIn(e.url, w.admin)
	b.open(e.url + "/console/integrations")
	b.do(b.fill("#i-name", "bops-production"), b.fill("#i-types", "com.acme.>"))
	b.click(`form[action="/console/integrations"] button`, "#new-secret")
	first := cred{b.text(".secret dd code.copy"), b.text("#new-secret")}
	read := func(c cred, want int) {
		t.Helper()
		e.apiURL(c, "GET", e.url+"/v1/integration/events/"+uuid.NewString(), nil, want)
	}
	read(first, http.StatusNotFound) // authenticated: no such event

	id := b.attr("#integrations tbody a", "href")
	b.open(e.url + id)
	if s := b.text("#access-log"); !strings.Contains(s, "/v1/integration/events/") || !strings.Contains(s, "404") {
		t.Errorf("access log: %q", s)
	}
	b.open(e.url + "/console/integrations")
	b.click(`#integrations form[action$="/rotate"] button`, "#new-secret")
	second := cred{first.key, b.text("#new-secret")}
	read(first, http.StatusUnauthorized)
	read(second, http.StatusNotFound)
	b.click(`#integrations form[action$="/revoke"] button`, "p.notice")
	read(second, http.StatusForbidden) // the API says the credential was revoked
}

// TestConsoleTenants: the platform admin creates a tenant and a client in
// it from the console; a tenant admin has no tenants page.
func TestConsoleTenants(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	b := newTab(t)
	b.signIn(e.url, admin)
	b.open(e.url + "/console/tenants")
	b.do(b.fill("#tenant-name", "globex"))
	b.click(`form[action="/console/tenants"] button`, "#client-name")
	if s := b.text("main h1"); s != "Clients of globex" {
		t.Errorf("after creating a tenant: %q", s)
	}
	b.do(b.fill("#client-name", "globex-admin"), chromedp.Click(chromedp.CSS(`input[name="roles"][value="admin"]`)))
	b.click(`form[action="/console/clients"] button[type="submit"]`, "#new-secret")
	globexAdmin := cred{b.text(".secret dd code.copy"), b.text("#new-secret")}
	ts := e.api(globexAdmin, "GET", "/v1/tenants", nil, 200)["data"].([]any)
	if len(ts) != 1 || ts[0].(map[string]any)["name"] != "globex" {
		t.Errorf("the new client's tenants: %v", ts)
	}

	// The platform admin reads a tenant's overview; its numbers are that
	// tenant's.
	e.produce(w, "1")
	b.open(e.url + "/console/tenants")
	if href := b.attr(`#tenants a[href="/console?tenant=`+w.tenant+`"]`, "href"); href == "" {
		t.Error("the tenants page has no link to acme's overview")
	}
	b.waitText(e.url+"/console?tenant="+w.tenant, "#events-in", "1")
	if s := b.text("#overview-tenant"); s != "acme" {
		t.Errorf("overview names tenant %q", s)
	}

	tenantAdmin := newTab(t)
	tenantAdmin.signIn(e.url, w.admin)
	// A tenant admin cannot read another tenant's overview.
	globexID := ts[0].(map[string]any)["id"].(string)
	tenantAdmin.open(e.url + "/console?tenant=" + globexID)
	if s := tenantAdmin.text("main"); !strings.Contains(s, "403") && !strings.Contains(s, "404") {
		t.Errorf("another tenant's overview for a tenant admin: %q", s)
	}
	if n := tenantAdmin.count(`nav a[href="/console/tenants"]`); n != 0 {
		t.Error("a tenant admin is offered the tenants page")
	}
	tenantAdmin.open(e.url + "/console/tenants")
	if s := tenantAdmin.text("main"); !strings.Contains(s, "404") {
		t.Errorf("tenants page for a tenant admin: %q", s)
	}
}
