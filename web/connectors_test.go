package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleConnector: code with a syntax error is shown wrong at its
// line while typed and when saved; fixed, it is saved, test-run with its
// logs shown, and its runs appear in the history once events come.
func TestConsoleConnector(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	b := newTab(t)
	b.signIn(e.url, w.admin)

	b.open(e.url + "/console/connectors/new")
	b.do(b.fill("#c-name", "erp"), b.fill("#c-types", w.typ))
	broken := "async ({event}) => {\n  console.log(\"order\", event.data.order);\n  return \"success\" +;\n}"
	b.input("#code", broken)
	b.do(chromedp.WaitVisible(chromedp.CSS("#code-check p.field-error")))
	if s := b.text("#code-check"); !strings.Contains(s, "Line 3, column") || !strings.Contains(s, "syntax") {
		t.Errorf("live check of broken code: %q", s)
	}
	b.click("#save-connector", "#code-check p.field-error")
	if s := b.text("#code-check"); !strings.Contains(s, "Line 3, column") {
		t.Errorf("saving broken code: %q", s)
	}
	if got := e.api(w.admin, "GET", "/v1/connectors", nil, 200)["data"].([]any); len(got) != 0 {
		t.Fatalf("broken code was stored: %v", got)
	}

	fixed := strings.Replace(broken, `"success" +;`, `"success";`, 1)
	b.input("#code", fixed)
	b.do(chromedp.WaitNotPresent(chromedp.CSS("#code-check p.field-error")))
	b.click("#save-connector", "#run-test")
	if s := b.text("p.notice"); s != "Saved." {
		t.Errorf("after saving: %q", s)
	}

	b.do(b.fill("#c-event", `{"specversion":"1.0","id":"t-1","source":"/test","type":"`+w.typ+`","data":{"order":"T-9","qty":1}}`),
		chromedp.Click(chromedp.CSS("#run-test")), chromedp.WaitVisible(chromedp.CSS("#test-status")))
	if s := b.text("#test-status"); s != "succeeded" && s != "success" {
		t.Errorf("test run status %q", s)
	}
	if s := b.text("#test-logs"); !strings.Contains(s, "order T-9") {
		t.Errorf("test run logs %q", s)
	}

	e.produce(w, "7")
	b.waitText(b.location(), "#runs tbody", "succeeded")
	if s := b.content("#runs"); !strings.Contains(s, "order A-7") {
		t.Errorf("run history lacks the run's logs: %q", s)
	}
}
