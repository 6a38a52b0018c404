package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/httpapi"
)

// rawServer serves Herald's router (no dependencies: only the routes that
// need none answer) on a loopback ProblemListener.
func rawServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: httpapi.New(httpapi.Deps{}).Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(httpapi.ProblemListener(ln)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// rawExchange writes req on a fresh connection and reads every response
// until the server closes it or goes quiet.
func rawExchange(t *testing.T, addr, req string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { _, _ = io.WriteString(c, req) }()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	var out []*http.Response
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return out
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		out = append(out, resp)
		if resp.Close {
			return out
		}
	}
}

func TestServerOwnErrorsAreProblems(t *testing.T) {
	t.Parallel()
	addr := rawServer(t)
	big := strings.Repeat("a", 1<<20+8192) // over net/http's default 1 MB (plus its slack)
	cases := []struct {
		name   string
		req    string
		status int
		kind   string
	}{
		{"header too large", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", 431, "request-header-too-large"},
		{"no host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "bad-request"},
		{"garbage", "HELLO\r\n\r\n", 400, "bad-request"},
		{"bad header line", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400, "bad-request"},
		{"unknown transfer coding", "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported-transfer-encoding"},
		{"HTTP/2 over plain HTTP/1", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http-version-not-supported"},
		{"unknown expectation", "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: pigeons\r\n\r\n", 417, "expectation-failed"},
		{"no such route", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "not-found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resps := rawExchange(t, addr, tc.req)
			if len(resps) == 0 {
				t.Fatal("no response")
			}
			checkProblem(t, resps[0], tc.status, tc.kind)
		})
	}
}

func checkProblem(t *testing.T, resp *http.Response, status int, kind string) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("answer %d %q: %s; want %d application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body, status)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Status != status || p.Type != "urn:herald:problem:"+kind || p.Title == "" || p.Detail == "" {
		t.Fatalf("problem %+v; want status %d, kind %s", p, status, kind)
	}
}

// TestProblemListenerKeepsOtherAnswers checks that ordinary answers, large
// ones included, pass through untouched, and that an error answered by
// net/http after a good request on the same connection is caught too.
func TestProblemListenerKeepsOtherAnswers(t *testing.T) {
	t.Parallel()
	addr := rawServer(t)
	resps := rawExchange(t, addr, "GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n"+
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"+
		"GET /healthz HTTP/1.1\r\n\r\n")
	if len(resps) != 3 {
		t.Fatalf("got %d responses, want 3", len(resps))
	}
	spec, _ := io.ReadAll(resps[0].Body)
	if resps[0].StatusCode != 200 || !strings.HasPrefix(string(spec), "openapi: 3.1") {
		t.Fatalf("GET /openapi.yaml: %d %.40q", resps[0].StatusCode, spec)
	}
	health, _ := io.ReadAll(resps[1].Body)
	if resps[1].StatusCode != 200 || !strings.Contains(string(health), `"ok"`) {
		t.Fatalf("GET /healthz: %d %s", resps[1].StatusCode, health)
	}
	checkProblem(t, resps[2], 400, "bad-request")
}
