package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald/internal/httpapi"
)

// TestHealthAndReadiness: /healthz and /readyz answer 200 or a 503 problem
// saying why, each from its own check, so a node whose database is away is
// unready but stays healthy.
func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name              string
		healthy, ready    error
		wantHealth, wantR int
		kindH, kindR      string
	}{
		{"all well", nil, nil, 200, 200, "", ""},
		{"database away", nil, errors.New("database not reachable"), 200, 503, "", "urn:herald:problem:not-ready"},
		{"cannot recover", errors.New("embedded PostgreSQL could not be restarted"), errors.New("restarting"), 503, 503,
			"urn:herald:problem:unhealthy", "urn:herald:problem:not-ready"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httpapi.New(httpapi.Deps{Logger: slog.New(slog.DiscardHandler),
				Healthy: func(context.Context) error { return tc.healthy },
				Ready:   func(context.Context) error { return tc.ready }})
			for _, c := range []struct {
				path, kind string
				want       int
				err        error
			}{{"/healthz", tc.kindH, tc.wantHealth, tc.healthy}, {"/readyz", tc.kindR, tc.wantR, tc.ready}} {
				rec := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
				if rec.Code != c.want {
					t.Fatalf("%s = %d, want %d", c.path, rec.Code, c.want)
				}
				if c.want == 200 {
					continue
				}
				var p struct{ Type, Detail string }
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("%s content type %q", c.path, ct)
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Type != c.kind || p.Detail != c.err.Error() {
					t.Errorf("%s problem = %+v (%v), want type %s and the reason", c.path, p, err, c.kind)
				}
			}
		})
	}
}
