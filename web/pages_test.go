package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// TestPagesRender visits every page of the console and the portal with
// data in each, and checks that it renders (no error page), that every
// form control has a label, and that nothing is wider than a phone's
// screen once the viewport is narrow. With HERALD_SCREENSHOTS set to a
// folder, it saves a screenshot (JPEG) of each main page there (docs/images is
// made this way).
func TestPagesRender(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t, 204)
	bad := newReceiver(t, 503)
	ep := e.api(w.partnerA, "POST", "/v1/endpoints", map[string]any{"url": rc.url, "types": []string{w.typ},
		"description": "Partner A's order intake"}, 201)["id"].(string)
	e.api(w.partnerA, "POST", "/v1/endpoints", map[string]any{"url": bad.url, "types": []string{w.typ}}, 201)
	conn := e.api(w.admin, "POST", "/v1/connectors", map[string]any{"name": "erp", "kind": "function", "types": []string{w.typ},
		"description": "Orders to the legacy ERP",
		"code":        "({event}) => {\n  console.log(\"sent\", event.data.order);\n  return \"success\";\n}"}, 201)["id"].(string)
	for _, id := range []string{"1", "2", "3"} {
		e.produce(w, id)
	}
	delivery := waitDeliveries(t, e, w.partnerA, ep)
	integ := e.api(w.admin, "POST", "/v1/integrations", map[string]any{"name": "bops-production", "types": []string{w.typ}}, 201)
	req, _ := http.NewRequest("GET", e.url+"/v1/integration/events/"+uuid.NewString(), nil)
	req.SetBasicAuth(integ["key"].(string), integ["secret"].(string))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	link := e.api(w.admin, "POST", "/v1/portal-links", map[string]any{"client": w.partnerAID}, 201)["url"].(string)

	shots := os.Getenv("HERALD_SCREENSHOTS")
	b := newTab(t)
	b.signIn(e.url, w.admin)
	pages := []struct{ path, shot, want string }{
		{"/console", "console-overview", "Overview"},
		{"/console/event-types", "console-event-types", w.typ},
		{"/console/event-types/" + w.typ, "console-event-type", "Try a sample event"},
		{"/console/event-types/new", "", "New event type"},
		{"/console/endpoints", "console-endpoints", rc.url},
		{"/console/endpoints/" + ep, "console-endpoint", "Deliveries"},
		{"/console/deliveries/" + delivery, "console-delivery", "Attempt 1"},
		{"/console/dead-letters", "console-dead-letters", "Dead letters"},
		{"/console/connectors", "", "erp"},
		{"/console/connectors/" + conn, "console-connector", "Run history"},
		{"/console/connectors/new", "", "New connector"},
		{"/console/integrations", "", "bops-production"},
		{"/console/integrations/" + integ["id"].(string), "", "Access log"},
		{"/console/clients", "console-clients", "partner-a"},
		{"/console/consumer-groups?client=" + w.partnerAID, "", "Consumer groups"},
		{"/console/portal", "console-portal", "Make a portal link"},
	}
	portal := newTab(t)
	portal.open(link)
	portalPages := []struct{ path, shot, want string }{
		{"/portal", "portal-catalogue", w.typ},
		{"/portal/endpoints", "portal-endpoints", rc.url},
		{"/portal/endpoints/" + ep, "portal-endpoint", "Deliveries"},
		{"/portal/guide", "portal-guide", "Verify our signatures"},
	}
	check := func(b *tab, path, shot, want string) {
		t.Helper()
		b.open(e.url + path)
		if b.count(".problem-page") > 0 {
			t.Errorf("%s: error page: %s", path, b.text(".problem-page"))
			return
		}
		if s := b.content("main"); !strings.Contains(s, want) {
			t.Errorf("%s does not show %q", path, want)
		}
		unlabelled, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(
			"input:not([type=hidden]), select, textarea")).filter(c => c.labels.length === 0 && !c.getAttribute("aria-label")).map(c => c.name || c.id)`))
		if err != nil {
			t.Fatal(err)
		}
		if len(unlabelled) > 0 {
			t.Errorf("%s: form controls without a label: %v", path, unlabelled)
		}
		if shot != "" && shots != "" {
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(90))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shots, shot+".jpg"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range pages {
		check(b, p.path, p.shot, p.want)
	}
	for _, p := range portalPages {
		check(portal, p.path, p.shot, p.want)
	}

	// A phone's width: the pages reflow instead of scrolling sideways
	// (wide tables scroll inside their own box).
	narrow := func(b *tab, path string) {
		t.Helper()
		b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.EmulateViewport(390, 844)(ctx, t)
			return err
		}))
		b.open(e.url + path)
		wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if wide > 390 {
			t.Errorf("%s is %d px wide on a 390 px screen", path, wide)
		}
	}
	for _, p := range []string{"/console/endpoints/" + ep, "/console/event-types/" + w.typ, "/console/deliveries/" + delivery} {
		narrow(b, p)
	}
	narrow(portal, "/portal")
}
