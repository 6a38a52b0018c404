package web_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

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
	b.click(`form[method="post"][action="/console/endpoints"] button[type="submit"]`, "#new-secret")
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
	// The request the attempts make: the event as sent, its headers, the
	// signature not shown.
	req := b.text("#request")
	for _, want := range []string{"POST " + rc.url, "Webhook-Id", "Herald-Sequence", "v1,<signature>", "application/cloudevents+json"} {
		if !strings.Contains(req, want) {
			t.Errorf("request view lacks %q: %q", want, req)
		}
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(b.text("#request-body")), &sent); err != nil || sent["id"] != "1" || sent["type"] != w.typ {
		t.Errorf("request body %v (%v)", sent, err)
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

// TestEndpointSettings: a partner edits an endpoint's types, filter and
// config from the portal; bad JSON and a bad filter are refused at their
// field and change nothing; a replay sends the stored events again.
func TestEndpointSettings(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t, 204)
	ep := e.api(w.partnerA, "POST", "/v1/endpoints", map[string]any{"url": rc.url, "types": []string{w.typ}}, 201)["id"].(string)
	link := e.api(w.admin, "POST", "/v1/portal-links", map[string]any{"client": w.partnerAID}, 201)["url"].(string)
	b := newTab(t)
	b.open(link)
	page := e.url + "/portal/endpoints/" + ep
	b.waitText(page, "#endpoint-status", "active")

	b.do(b.fill("#e-filter", `{"data": `), b.fill("#e-description", "changed"))
	b.click("#save-endpoint", "#endpoint-edit .field-error")
	if s := b.text("#endpoint-edit"); !strings.Contains(s, "line 1") || !strings.Contains(s, "not JSON") {
		t.Errorf("filter that is not JSON: %q", s)
	}
	b.do(b.fill("#e-filter", `{"data": "$.qty", "nonsense": 1}`))
	b.click("#save-endpoint", "#endpoint-edit .field-error")
	if got := e.api(w.partnerA, "GET", "/v1/endpoints/"+ep, nil, 200); got["description"] != "" || got["filter"] != nil {
		t.Fatalf("a refused edit changed the endpoint: %v", got)
	}

	b.do(b.fill("#e-filter", `{"data": "$.qty", "gte": 2}`), b.fill("#e-config", `{"tenant": "north"}`), b.fill("#e-description", "orders, two or more"))
	b.click("#save-endpoint", "p.notice")
	got := e.api(w.partnerA, "GET", "/v1/endpoints/"+ep, nil, 200)
	if got["description"] != "orders, two or more" || got["filter"] == nil || got["config"].(map[string]any)["tenant"] != "north" {
		t.Fatalf("saved endpoint %v", got)
	}

	e.produce(w, "1") // qty 2: passes the filter
	b.waitText(page, "#deliveries tbody", "succeeded")
	b.click("#replay", "p.notice")
	if s := b.text("p.notice"); !strings.Contains(s, "Replay started") {
		t.Errorf("replay: %q", s)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(e.api(w.partnerA, "GET", "/v1/endpoints/"+ep+"/deliveries", nil, 200)["data"].([]any)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the replay made no delivery")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
