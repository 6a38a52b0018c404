package web_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	b.click(`form[action="/portal/endpoints"] button[type="submit"]`, "#new-secret")
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
