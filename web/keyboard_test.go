package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestKeyboardOnly: the console is usable without a mouse. The first Tab
// on a page reaches the "skip to content" link, visible when focused;
// sign-in is done with Tab, typing and Enter; and on the endpoints page
// every link and button of the main part is reached by Tab, each with a
// visible focus outline.
func TestKeyboardOnly(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	b := newTab(t)
	b.open(e.url + "/console")
	focused := func() string {
		t.Helper()
		id, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.activeElement ? (document.activeElement.id || document.activeElement.className || document.activeElement.tagName) : ""`))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// The key field has the focus when the page opens.
	if f := focused(); f != "key" {
		t.Fatalf("sign-in page opens with the focus on %q", f)
	}
	b.do(chromedp.KeyEvent(w.admin.key), chromedp.KeyEvent(kb.Tab))
	if f := focused(); f != "secret" {
		t.Fatalf("Tab from the key goes to %q", f)
	}
	b.do(chromedp.KeyEvent(w.admin.secret), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)))

	e.api(w.admin, "POST", "/v1/endpoints", map[string]any{"url": "https://example.com/hook", "types": []string{w.typ},
		"client": w.partnerAID}, 201)
	b.open(e.url + "/console/endpoints")
	b.do(chromedp.KeyEvent(kb.Tab))
	if f := focused(); f != "skip" {
		t.Fatalf("the first Tab reaches %q, want the skip link", f)
	}
	visible, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.activeElement.getBoundingClientRect().left >= 0`))
	if err != nil || !visible {
		t.Errorf("the focused skip link is off screen (%v)", err)
	}
	// Every link and control in main is reached by Tab, and shows an
	// outline when it has the focus.
	want, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](
		`[...document.querySelectorAll("main a[href], main button, main input:not([type=hidden]), main select, main textarea")].length`))
	if err != nil || want < 3 {
		t.Fatalf("endpoints page has %d focusable elements (%v)", want, err)
	}
	reached := map[string]bool{}
	for i := 0; i < 80 && len(reached) < want; i++ {
		b.do(chromedp.KeyEvent(kb.Tab))
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(() => {
			const a = document.activeElement;
			if (!a || !a.closest("main")) return [];
			const all = [...document.querySelectorAll("main a[href], main button, main input:not([type=hidden]), main select, main textarea")];
			return [String(all.indexOf(a)), getComputedStyle(a).outlineStyle];
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 2 {
			reached[got[0]] = true
			if got[1] == "none" {
				t.Errorf("element %s of main has no focus outline", got[0])
			}
		}
	}
	if len(reached) != want {
		t.Errorf("Tab reached %d of the %d links and controls in main", len(reached), want)
	}
}
