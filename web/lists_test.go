package web_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleListPages: a list longer than a page shows 50 rows and a
// link to the next page, which keeps the list's filter (here the tenant
// a platform admin chose) and holds the rest; together the pages are the
// whole list, each row once.
func TestConsoleListPages(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	for i := range 52 {
		e.api(admin, "POST", "/v1/clients", map[string]any{"tenant": w.tenant, "name": fmt.Sprintf("bulk-%02d", i), "roles": []string{"consumer"}}, 201)
	}
	var want []string
	for _, c := range e.api(admin, "GET", "/v1/clients?tenant="+w.tenant, nil, 200)["data"].([]any) {
		want = append(want, c.(map[string]any)["key"].(string))
	}
	b := newTab(t)
	b.signIn(e.url, admin)
	b.open(e.url + "/console/clients?tenant=" + w.tenant)
	keys := func() []string {
		t.Helper()
		ks, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("main tbody tr td:nth-child(2) code")].map(c => c.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	first := keys()
	if len(first) != 50 {
		t.Fatalf("the first page shows %d clients, want 50", len(first))
	}
	if next := b.attr(`a[rel="next"]`, "href"); !strings.Contains(next, "tenant="+w.tenant) {
		t.Errorf("the next page's link %q loses the tenant", next)
	}
	b.click(`a[rel="next"]`, "main tbody")
	rest := keys()
	if n := b.count(`a[rel="next"]`); n != 0 {
		t.Errorf("the last page links to a next one")
	}
	if got := append(first, rest...); !slices.Equal(got, want) {
		t.Errorf("the pages show %d clients:\n%v\nthe tenant has %d:\n%v", len(got), got, len(want), want)
	}

	// The endpoints page filters by status.
	rc := newReceiver(t, 204)
	var ids []string
	for range 3 {
		m := e.api(w.partnerA, "POST", "/v1/endpoints", map[string]any{"url": rc.url, "types": []string{w.typ}}, 201)
		ids = append(ids, m["id"].(string))
	}
	e.api(w.partnerA, "POST", "/v1/endpoints/"+ids[1]+"/disable", nil, 200)
	b.open(e.url + "/console/endpoints")
	b.do(chromedp.SetValue(chromedp.CSS("#status-filter"), "disabled"))
	b.click(`form.filters button[type="submit"]`, "main h1")
	if n := b.count("main tbody tr"); n != 1 {
		t.Errorf("status=disabled shows %d endpoints, want 1", n)
	}
	if href := b.attr("main tbody a", "href"); !strings.HasSuffix(href, ids[1]) {
		t.Errorf("the disabled endpoint listed is %s, want %s", href, ids[1])
	}
}
