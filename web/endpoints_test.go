package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleEndpointDeliveries: an admin adds an endpoint for a partner
// and sees it verified; an event's delivery appears with its attempts;
// a failed delivery is retried, and a dead letter redriven, once the
// receiver is back.
func TestConsoleEndpointDeliveries(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t, 500)
	b := newTab(t)
	b.signIn(e.url, w.admin)

	b.open(e.url + "/console/endpoints")
	b.do(b.fill("#url", rc.url), b.fill("#types", w.typ), chromedp.SetValue(chromedp.CSS("#client"), w.partnerAID))
	b.click(`form[action="/console/endpoints"] button[type="submit"]`, "#new-secret")
	if s := b.text("#new-secret"); !strings.HasPrefix(s, "whsec_") {
		t.Errorf("new endpoint's secret: %q", s)
	}
	endpointURL := b.location()
	eps := e.api(w.partnerA, "GET", "/v1/endpoints", nil, 200)["data"].([]any)
	if len(eps) != 1 {
		t.Fatalf("partner A's endpoints: %v", eps)
	}
	epID := eps[0].(map[string]any)["id"].(string)
	endpointURL = e.url + "/console/endpoints/" + epID

	// The receiver consents to the handshake: the page shows it verified.
	b.waitText(endpointURL, "#endpoint-status", "active")
	if v := b.text("#verification"); !strings.HasPrefix(strings.TrimSpace(v), "verified") {
		t.Errorf("verification shown as %q", v)
	}

	// An event: its delivery fails every attempt and shows them.
	e.produce(w, "1")
	b.waitText(endpointURL, "#deliveries tbody", "failed")
	b.click("#deliveries tbody a", "#attempts")
	deliveryURL := b.location()
	if n := b.count("#attempts > li"); n != 3 {
		t.Errorf("failed delivery shows %d attempts, want 3", n)
	}
	if s := b.content("#attempts"); !strings.Contains(s, "HTTP 500") || !strings.Contains(s, "receiver says Internal Server Error") {
		t.Errorf("attempts: %q", s)
	}

	// Retried from the page once the receiver works again.
	rc.answer(204)
	b.click("#retry", "p.notice")
	b.waitText(deliveryURL, "#delivery-status", "succeeded")
	if n := b.count("#attempts > li"); n != 4 {
		t.Errorf("after the retry the delivery shows %d attempts, want 4", n)
	}

	// A second event fails for good: a dead letter, redriven from the
	// console.
	rc.answer(500)
	e.produce(w, "2")
	b.waitText(e.url+"/console/dead-letters?"+url.Values{"endpoint": {epID}}.Encode(), "#dead-letters tbody", w.typ)
	rows := b.count("#dead-letters tbody tr")
	rc.answer(204)
	b.click(`#dead-letters tbody tr:first-child form button`, "p.notice")
	if s := b.text("p.notice"); !strings.Contains(s, "redriven") {
		t.Errorf("after redrive: %q", s)
	}
	if rows < 1 {
		t.Fatal("no dead letter listed")
	}
	// Every delivery of the endpoint ends up delivered.
	b.waitText(endpointURL+"?status=failed", "main", "No deliveries with status failed")
	b.waitText(endpointURL+"?status=succeeded", "#deliveries tbody", w.typ)
	if n := b.count("#deliveries tbody tr"); n != 2 {
		t.Errorf("%d deliveries succeeded, want 2", n)
	}
}
