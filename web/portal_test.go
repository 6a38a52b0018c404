package web_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/app"
)

// TestPortal: a partner opens the link an admin made, sees the catalogue
// with an example of each type, registers an endpoint that gets verified
// and delivered to, and sees nothing of another partner, whatever URL is
// typed.
func TestPortal(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t, 204)
	other := newReceiver(t, 204)
	// Partner B's endpoint and delivery: never to be seen from A's portal.
	epB := e.api(w.partnerB, "POST", "/v1/endpoints", map[string]any{"url": other.url, "types": []string{w.typ}}, 201)["id"].(string)

	link := e.api(w.admin, "POST", "/v1/portal-links", map[string]any{"client": w.partnerAID, "expires_in": "1h"}, 201)["url"].(string)
	b := newTab(t)
	b.open(link)
	if u := b.location(); u != e.url+"/portal" {
		t.Errorf("the link led to %s, want /portal without the token", u)
	}
	card := b.content("#type-" + strings.ReplaceAll(w.typ, ".", "\\."))
	for _, want := range []string{"An order was placed", `"type": "com.acme.order.created"`, `"order": "string"`, `"qty": 1`} {
		if !strings.Contains(card, want) {
			t.Errorf("catalogue entry lacks %q: %s", want, card)
		}
	}

	b.open(e.url + "/portal/endpoints")
	b.do(b.fill("#url", rc.url), b.fill("#types", w.typ))
	if b.count("#client") != 0 {
		t.Error("the portal offers to pick a client")
	}
	b.click(`form[method="post"][action="/portal/endpoints"] button[type="submit"]`, "#new-secret")
	eps := e.api(w.partnerA, "GET", "/v1/endpoints", nil, 200)["data"].([]any)
	if len(eps) != 1 {
		t.Fatalf("partner A's endpoints: %v", eps)
	}
	epA := eps[0].(map[string]any)["id"].(string)
	b.waitText(e.url+"/portal/endpoints/"+epA, "#endpoint-status", "active")

	e.produce(w, "1")
	b.waitText(e.url+"/portal/endpoints/"+epA, "#deliveries tbody", "succeeded")

	// Only partner A's data.
	b.open(e.url + "/portal/endpoints")
	if s := b.content("main"); strings.Contains(s, other.url) || !strings.Contains(s, rc.url) {
		t.Errorf("portal endpoints list: %s", s)
	}
	deliveriesB := waitDeliveries(t, e, w.partnerB, epB)
	for _, path := range []string{"/portal/endpoints/" + epB, "/portal/deliveries/" + deliveriesB} {
		b.open(e.url + path)
		if s := b.text("main"); !strings.Contains(s, "Not found") || !strings.Contains(s, "404") {
			t.Errorf("%s from partner A's portal: %q", path, s)
		}
	}
	// Posting to B's endpoint is refused too, the API deciding.
	b.open(e.url + "/portal/endpoints/" + epA)
	csrf := b.attr(`meta[name="csrf-token"]`, "content")
	if st := postForm(t, e.url+"/portal/endpoints/"+epB+"/disable", "herald_portal", b.cookie("herald_portal"), csrf); st != http.StatusNotFound {
		t.Errorf("disabling B's endpoint from A's portal: status %d, want 404", st)
	}
	if st := e.api(w.partnerB, "GET", "/v1/endpoints/"+epB, nil, 200)["status"]; st != "active" {
		t.Errorf("B's endpoint is %v", st)
	}
	// The console is not reachable with a portal session.
	b.open(e.url + "/console/endpoints")
	if u := b.location(); !strings.Contains(u, "/console/sign-in") {
		t.Errorf("console with a portal session: at %s", u)
	}
}

// TestPortalLinkRefused: a link whose token was altered, or that has
// expired, starts no session.
func TestPortalLinkRefused(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	e := setup(t, func(c *app.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	w := e.world()
	link := e.api(w.admin, "POST", "/v1/portal-links", map[string]any{"client": w.partnerAID, "expires_in": "5m"}, 201)["url"].(string)
	b := newTab(t)

	// One character of the signature changed.
	i := strings.LastIndexByte(link, '.') + 5
	flipped := byte('A')
	if link[i] == 'A' {
		flipped = 'B'
	}
	b.open(link[:i] + string(flipped) + link[i+1:])
	if s := b.text("main"); !strings.Contains(s, "This link is not valid") || !strings.Contains(s, "401") {
		t.Errorf("tampered link: %q", s)
	}
	b.open(e.url + "/portal")
	if s := b.text("main"); !strings.Contains(s, "This link is not valid") {
		t.Errorf("portal after a tampered link: %q", s)
	}

	// The same link, genuine, after it expired.
	skew.Store(int64(6 * time.Minute))
	b.open(link)
	if s := b.text("main"); !strings.Contains(s, "This link is not valid") {
		t.Errorf("expired link: %q", s)
	}
	skew.Store(0)
	b.open(link)
	if u := b.location(); u != e.url+"/portal" {
		t.Errorf("the genuine link, in time, led to %s", u)
	}
}

// waitDeliveries waits for a delivery to an endpoint and returns its id.
func waitDeliveries(t *testing.T, e *env, c cred, endpoint string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ds := e.api(c, "GET", "/v1/endpoints/"+endpoint+"/deliveries", nil, 200)["data"].([]any)
		if len(ds) > 0 {
			return ds[0].(map[string]any)["id"].(string)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no delivery to %s", endpoint)
	return ""
}

// TestPortalBranding: an admin brands the tenant's portal and makes a link
// from the console; the partner's portal shows the name, logo and colour,
// with text that contrasts.
func TestPortalBranding(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	b := newTab(t)
	b.signIn(e.url, w.admin)
	b.open(e.url + "/console/portal")
	b.do(b.fill("#brand-name", "Acme Rail partners"), b.fill("#brand-logo", "https://acme.example/logo.svg"), b.fill("#brand-color", "teal"))
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// The browser's own pattern check would stop the form; the API's
		// answer is what is tested.
		_, err := chromedp.Evaluate[bool](`document.getElementById("brand-color").removeAttribute("pattern") || true`)(ctx, t)
		return err
	}))
	b.click(`form[action="/console/portal/branding"] button`, ".field-error")
	if s := b.text("form[action=\"/console/portal/branding\"]"); !strings.Contains(s, "#rrggbb") {
		t.Errorf("bad colour: %q", s)
	}
	b.do(b.fill("#brand-name", "Acme Rail partners"), b.fill("#brand-logo", "https://acme.example/logo.svg"), b.fill("#brand-color", "#7A1F5C"))
	b.click(`form[action="/console/portal/branding"] button`, "p.notice")
	br := e.api(w.admin, "GET", "/v1/tenants/"+w.tenant, nil, 200)["branding"].(map[string]any)
	if br["name"] != "Acme Rail partners" || br["color"] != "#7a1f5c" || br["logo_url"] != "https://acme.example/logo.svg" {
		t.Fatalf("stored branding %v", br)
	}

	b.do(chromedp.SetValue(chromedp.CSS("#pl-client"), w.partnerAID), b.fill("#pl-expires", "2h"))
	b.click(`form[action="/console/portal/links"] button`, "#portal-link")
	link := b.text("#portal-link")

	partner := newTab(t)
	partner.open(link)
	if s := partner.text("header.top .brand"); !strings.Contains(s, "Acme Rail partners") {
		t.Errorf("portal header: %q", s)
	}
	if src := partner.attr("header.top .brand img.logo", "src"); src != "https://acme.example/logo.svg" {
		t.Errorf("logo %q", src)
	}
	colours, err := chromedp.Run(partner.ctx, chromedp.Evaluate[[]string](
		`[getComputedStyle(document.querySelector("header.top")).backgroundColor, getComputedStyle(document.querySelector("header.top .brand")).color]`))
	if err != nil {
		t.Fatal(err)
	}
	if colours[0] != "rgb(122, 31, 92)" || colours[1] != "rgb(255, 255, 255)" {
		t.Errorf("header colours %v, want the brand colour with white text", colours)
	}
	// A tenant admin of another tenant cannot brand this one.
	e.api(admin, "PATCH", "/v1/tenants/"+w.tenant, map[string]any{"branding": map[string]any{"color": "#000000"}}, 200)
	e.api(w.partnerA, "PATCH", "/v1/tenants/"+w.tenant, map[string]any{"branding": map[string]any{"color": "#000000"}}, 403)
}

// TestRotationEndsSessions: rotating a client's secret ends its portal
// links, its portal sessions and its console sessions.
func TestRotationEndsSessions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	link := e.api(w.admin, "POST", "/v1/portal-links", map[string]any{"client": w.partnerAID}, 201)["url"].(string)
	unused := e.api(w.admin, "POST", "/v1/portal-links", map[string]any{"client": w.partnerAID}, 201)["url"].(string)
	partner := newTab(t)
	partner.open(link)
	partner.open(e.url + "/portal/endpoints")
	if s := partner.text("main h1"); s != "Endpoints" {
		t.Fatalf("portal before rotation: %q", s)
	}
	_, acmeAdmin := e.clientOf(w.tenant, "second-admin", "admin")
	console := newTab(t)
	console.signIn(e.url, acmeAdmin)

	e.api(w.admin, "POST", "/v1/clients/"+w.partnerAID+"/secret/rotate", nil, 200)
	partner.open(e.url + "/portal/endpoints")
	if s := partner.text("main"); !strings.Contains(s, "This link is not valid") {
		t.Errorf("portal session after the partner's secret was rotated: %q", s)
	}
	fresh := newTab(t)
	fresh.open(unused)
	if s := fresh.text("main"); !strings.Contains(s, "This link is not valid") {
		t.Errorf("link made before the rotation: %q", s)
	}

	id := ""
	for _, c := range e.api(w.admin, "GET", "/v1/clients", nil, 200)["data"].([]any) {
		if c.(map[string]any)["key"] == acmeAdmin.key {
			id = c.(map[string]any)["id"].(string)
		}
	}
	e.api(w.admin, "POST", "/v1/clients/"+id+"/secret/rotate", nil, 200)
	console.open(e.url + "/console/endpoints")
	if u := console.location(); !strings.Contains(u, "/console/sign-in") {
		t.Errorf("console session after the admin's secret was rotated: at %s", u)
	}
}
