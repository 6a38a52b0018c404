package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// input sets a field's value as typing would: htmx listens for input
// events, which setting the value alone does not fire.
func (b *tab) input(sel, value string) {
	b.t.Helper()
	b.do(b.fill(sel, value), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`document.querySelector(`+jsString(sel)+
			`).dispatchEvent(new Event("input", {bubbles: true}))`)(ctx, t)
		return err
	}))
}

// TestConsoleEventTypeSchemaErrors: a schema that does not compile is
// shown wrong at its line while it is typed and when it is submitted, a
// schema that is not JSON at the line where it stops being JSON; once
// fixed, the type is created, and a sample event is tried against it.
func TestConsoleEventTypeSchemaErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	b := newTab(t)
	b.signIn(e.url, w.admin)

	b.open(e.url + "/console/event-types/new")
	b.input("#name", "com.acme.parcel.sent")
	bad := "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"weight\": {\"type\": \"number\", \"minimum\": \"heavy\"}\n  }\n}"
	b.input("#schema", bad)
	b.do(chromedp.WaitVisible(chromedp.CSS("#schema-check li.field-error")))
	live := b.text("#schema-check")
	if !strings.Contains(live, "Line 4") || !strings.Contains(live, "/properties/weight/minimum") {
		t.Errorf("live check of a bad schema: %q, want line 4 and the pointer", live)
	}

	// Submitted anyway: refused, the error at the same place, the text kept.
	b.click(`#event-type-form button[type="submit"]`, "#schema-check li.field-error")
	if got := b.text("#schema-check"); !strings.Contains(got, "Line 4") || !strings.Contains(got, "minimum") {
		t.Errorf("submitted bad schema: %q", got)
	}
	e.api(w.admin, "GET", "/v1/event-types/com.acme.parcel.sent", nil, 404)

	// Not JSON at all: the line where it stops being JSON.
	b.input("#schema", "{\n  \"type\": \"object\",\n  \"required\": [\"weight\",]\n}")
	b.do(chromedp.WaitVisible(chromedp.CSS(`#schema-check li.field-error[data-line="3"]`)))
	if got := b.text("#schema-check"); !strings.Contains(got, "not JSON") {
		t.Errorf("schema that is not JSON: %q", got)
	}

	good := "{\n  \"type\": \"object\",\n  \"required\": [\"weight\"],\n  \"properties\": {\n    \"weight\": {\"type\": \"number\", \"minimum\": 0}\n  }\n}"
	b.input("#schema", good)
	b.do(chromedp.WaitVisible(chromedp.CSS("#schema-check p.ok-text")))
	b.click(`#event-type-form button[type="submit"]`, "#sample")
	if u := b.location(); !strings.HasSuffix(u, "/console/event-types/com.acme.parcel.sent?saved=1") {
		t.Errorf("after saving at %s", u)
	}
	got := e.api(w.admin, "GET", "/v1/event-types/com.acme.parcel.sent", nil, 200)
	if got["version"] != float64(1) {
		t.Errorf("stored type: %v", got)
	}

	// A sample against the stored schema: refused with the rule and the
	// path, then accepted.
	b.do(b.fill("#sample", `{"weight": -2}`), chromedp.Click(chromedp.CSS(`form[hx-post$="/try"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#sample-result li.field-error")))
	if got := b.text("#sample-result"); !strings.Contains(got, "data.weight") || !strings.Contains(got, "minimum") {
		t.Errorf("bad sample: %q", got)
	}
	b.do(b.fill("#sample", `{"weight": 2.5}`), chromedp.Click(chromedp.CSS(`form[hx-post$="/try"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#sample-result p.ok-text")))
}
