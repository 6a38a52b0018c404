package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPointerLine(t *testing.T) {
	t.Parallel()
	text := "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"a/b\": {\"type\": 5},\n    \"list\": [\n      1,\n      {\"x\": 2}\n    ]\n  }\n}"
	for _, c := range []struct {
		pointer string
		line    int
	}{
		{"", 1},
		{"/type", 2},
		{"/properties", 3},
		{"/properties/a~1b", 4},
		{"/properties/a~1b/type", 4},
		{"/properties/list", 5},
		{"/properties/list/0", 6},
		{"/properties/list/1", 7},
		{"/properties/list/1/x", 7},
		{"/nothing", 0},
		{"/properties/list/9", 0},
		{"no-slash", 0},
	} {
		if got := pointerLine(text, c.pointer); got != c.line {
			t.Errorf("pointerLine(%q) = %d, want %d", c.pointer, got, c.line)
		}
	}
}

func TestSyntaxProblem(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		text string
		line int // 0: valid
	}{
		{`{"a": 1}`, 0},
		{"{\n  \"a\": 1,\n}", 3},
		{"{\n  \"a\": [1, 2\n", 3},
		{"{}\n{}", 2},
		{"", 1},
	} {
		p := syntaxProblem(c.text)
		switch {
		case c.line == 0 && p != nil:
			t.Errorf("%q: %v", c.text, p)
		case c.line != 0 && (p == nil || p.Line != c.line):
			t.Errorf("%q: %+v, want a problem at line %d", c.text, p, c.line)
		}
	}
}

func TestExampleFromSchema(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ schema, want string }{
		{`{"type":"object","properties":{"order":{"type":"string"},"qty":{"type":"integer","minimum":1}}}`, `{"order":"string","qty":1}`},
		{`{"type":"object","properties":{"at":{"type":"string","format":"date-time"},"tags":{"type":"array","items":{"enum":["a","b"]}}}}`,
			`{"at":"2026-01-01T12:00:00Z","tags":["a"]}`},
		{`{"$defs":{"p":{"type":"object","properties":{"n":{"type":"number","exclusiveMinimum":0}}}},"$ref":"#/$defs/p"}`, `{"n":1}`},
		{`{"type":"object","properties":{"x":{"examples":[42]},"y":{"const":"fixed"},"z":{"type":["null","boolean"]}}}`, `{"x":42,"y":"fixed","z":true}`},
		{`{"allOf":[{"properties":{"a":{"type":"string","minLength":8}}},{"properties":{"b":{"oneOf":[{"type":"integer"},{"type":"string"}]}}}]}`,
			`{"a":"stringxx","b":1}`},
		{`true`, `{}`},
		{`{"type":"object","properties":{"self":{"$ref":"#"}}}`, ``}, // recursive: bounded, any output
	} {
		got := exampleFromSchema(json.RawMessage(c.schema))
		if c.want != "" && got != c.want {
			t.Errorf("%s: %s, want %s", c.schema, got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: not JSON: %s", c.schema, got)
		}
	}
}

func TestLocalNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/console/endpoints?status=failed": "/console/endpoints?status=failed",
		"":                                 "/console",
		"https://evil.example/console":     "/console",
		"//evil.example/console":           "/console",
		"/console\\@evil":                  "/console",
		"/portal":                          "/console",
		"/consolex/../v1/clients":          "/console",
	} {
		if got := localNext(in); got != want {
			t.Errorf("localNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	th := newThrottle(3, time.Minute, func() time.Time { return now })
	for range 2 {
		th.fail("addr:a", "key:k")
	}
	if blocked, _ := th.blocked("addr:a", "key:k"); blocked {
		t.Fatal("blocked after 2 of 3 failures")
	}
	th.fail("addr:b", "key:k") // the third for the key, from elsewhere
	if blocked, wait := th.blocked("addr:c", "key:k"); !blocked || wait != time.Minute {
		t.Fatalf("key after 3 failures: blocked %v for %s", blocked, wait)
	}
	if blocked, _ := th.blocked("addr:a", "key:other"); blocked {
		t.Fatal("address a blocked after 2 failures")
	}
	now = now.Add(40 * time.Second)
	if _, wait := th.blocked("key:k"); wait != 20*time.Second {
		t.Fatalf("wait after 40 s: %s", wait)
	}
	now = now.Add(21 * time.Second)
	if blocked, _ := th.blocked("key:k"); blocked {
		t.Fatal("still blocked a window after the last failure")
	}
	th.fail("key:k")
	th.succeed("key:k")
	if blocked, _ := th.blocked("key:k"); blocked {
		t.Fatal("blocked after a success")
	}
}

func TestTextOn(t *testing.T) {
	t.Parallel()
	for bg, want := range map[string]string{
		"#7a1f5c": "#ffffff", "#14263b": "#ffffff", "#0b5cad": "#ffffff",
		"#ffff00": "#000000", "#f0f0f0": "#000000", "#76b900": "#000000",
	} {
		if got := textOn(bg); got != want {
			t.Errorf("textOn(%s) = %s, want %s", bg, got, want)
		}
	}
}

// TestSecureCookies: behind a proxy that ends TLS, an https public URL
// still makes the cookies Secure; every cookie is HttpOnly and
// SameSite=Strict.
func TestSecureCookies(t *testing.T) {
	t.Parallel()
	for public, secure := range map[string]bool{"https://herald.example": true, "http://127.0.0.1:8080": false} {
		h, err := New(Deps{API: http.NotFoundHandler(), Key: []byte("0123456789abcdef0123456789abcdef")}, Config{PublicURL: public})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/console/sign-in", nil))
		cookies := rec.Result().Cookies()
		if rec.Code != http.StatusOK || len(cookies) != 1 {
			t.Fatalf("%s: %d, cookies %v", public, rec.Code, cookies)
		}
		c := cookies[0]
		if c.Secure != secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("%s: cookie %+v", public, c)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP %q", csp)
		}
	}
}

// TestStylesheetContrast holds the stylesheet's text colours to WCAG AA
// (4.5:1) on every background they are used on, and the charts' bars to
// 3:1 (non-text graphics) on the card.
func TestStylesheetContrast(t *testing.T) {
	css, err := os.ReadFile("static/herald.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b`).FindAllStringSubmatch(string(css), -1) {
		hex := m[2]
		if len(hex) == 3 { // #abc is #aabbcc
			hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
		}
		vars[m[1]] = "#" + hex
	}
	color := func(c string) string {
		if strings.HasPrefix(c, "#") {
			if !strings.Contains(string(css), c) {
				t.Errorf("%s is not in the stylesheet any more: update this test", c)
			}
			return c
		}
		v, ok := vars[c]
		if !ok {
			t.Fatalf("no --%s in the stylesheet", c)
		}
		return v
	}
	for _, p := range []struct {
		fg, bg string
		min    float64
	}{
		{"fg", "bg", 4.5}, {"fg", "card", 4.5}, {"muted", "bg", 4.5}, {"muted", "card", 4.5},
		{"accent", "card", 4.5}, {"accent", "bg", 4.5}, {"accent-fg", "accent", 4.5},
		{"ok", "ok-bg", 4.5}, {"bad", "bad-bg", 4.5}, {"bad", "card", 4.5}, {"ok", "card", 4.5},
		{"fg", "#e8ebef", 4.5}, {"fg", "#f1f3f5", 4.5}, {"fg", "#fff7e0", 4.5}, {"fg", "bad-bg", 4.5},
		{"accent-fg", "#14263b", 4.5}, {"accent-fg", "#23324a", 4.5},
		{"#0b5cad", "card", 3}, {"#2b8a3e", "card", 3}, {"#c92a2a", "card", 3},
	} {
		if r := contrast(color(p.fg), color(p.bg)); r < p.min {
			t.Errorf("%s on %s: contrast %.2f, want at least %.1f", p.fg, p.bg, r, p.min)
		}
	}
}
