package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestZeroMeansTheSameOnEveryPath drives HERALD_RETENTION and
// HERALD_AUTO_DISABLE_AFTER from the command line's parsing through app
// into every path that reads them (the maintenance job's partition and
// idempotency-key expiry, the sweep of thin payloads' records, the
// endpoint health bookkeeping), and compares: a zero from the command line
// and a zero set on app.Config directly (as tests and tools do) must both
// mean "off", and a non-zero value must reach every path.
func TestZeroMeansTheSameOnEveryPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		// direct sets app.Config fields after parsing, as a library
		// caller would.
		direct       func(*app.Config)
		wantKept     bool // 60-day-old data survives maintenance and the sweep
		wantDisabled bool // an endpoint failing for over a second is disabled
	}{
		{name: "zero from the command line", env: map[string]string{"HERALD_RETENTION": "0", "HERALD_AUTO_DISABLE_AFTER": "0"},
			wantKept: true},
		{name: "values from the command line", env: map[string]string{"HERALD_RETENTION": "720h", "HERALD_AUTO_DISABLE_AFTER": "700ms"},
			wantDisabled: true},
		{name: "zero on app.Config", direct: func(c *app.Config) { c.Retention, c.AutoDisableAfter = 0, 0 },
			wantKept: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := startNode(t, tc.env, tc.direct)
			if kept := n.oldDataKept(); kept != tc.wantKept {
				t.Errorf("60-day-old data kept = %v, want %v", kept, tc.wantKept)
			}
			if disabled := n.failingEndpointDisabled(); disabled != tc.wantDisabled {
				t.Errorf("failing endpoint disabled = %v, want %v", disabled, tc.wantDisabled)
			}
		})
	}
}

// testNode is Herald started as `herald serve` starts it, on a test database.
type testNode struct {
	t    *testing.T
	app  *app.App
	pool *pgxpool.Pool
	ctx  context.Context
}

const testAdmin = "admin:admin-secret-for-tests-only"

// startNode parses the configuration from env (on top of what a test
// needs), applies direct, and starts the node. The database holds data
// received 60 days ago before the node starts, so maintenance sees it.
func startNode(t *testing.T, env map[string]string, direct func(*app.Config)) *testNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	var key [32]byte
	_, _ = rand.Read(key[:])
	vars := map[string]string{
		"HERALD_DATABASE_URL": heraldtest.NewDatabase(t), "HERALD_DATA_DIR": t.TempDir(), "HERALD_ADDR": "127.0.0.1:0",
		"HERALD_MASTER_KEY": base64.StdEncoding.EncodeToString(key[:]), "HERALD_BOOTSTRAP_ADMIN": testAdmin,
		"HERALD_ALLOW_PRIVATE_TARGETS": "true", "HERALD_VERIFY_ENDPOINTS": "false",
		"HERALD_RETRY_SCHEDULE": "100ms,100ms,100ms", "HERALD_BREAKER_FAILURES": "0",
	}
	for k, v := range env {
		vars[k] = v
	}
	c, err := parseConfig("serve", nil, func(k string) string { return vars[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.appConfig(heraldtest.Logger(t))
	cfg.SkipMigrate = true
	if direct != nil {
		direct(&cfg)
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	old := time.Now().Add(-60 * 24 * time.Hour)
	if _, err := pool.Exec(ctx, `INSERT INTO event_keys (tenant_id, source, ce_id, event_id, received_at)
		VALUES (gen_random_uuid(), '/old', 'old-1', gen_random_uuid(), $1)`, old); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO thin_payloads (event_id, received_at, tenant_id, type, after_first_read, expires_at)
		VALUES (gen_random_uuid(), $1, gen_random_uuid(), 'com.example.old', '1h', now() + interval '1 year')`, old); err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &testNode{t: t, app: a, pool: pool, ctx: ctx}
}

// oldDataKept runs maintenance and the sweep, the two paths that apply
// retention, and reports whether the 60-day-old data is still there; both
// paths must agree.
func (n *testNode) oldDataKept() bool {
	n.t.Helper()
	if err := n.app.Queue().RunMaintenance(n.ctx); err != nil {
		n.t.Fatal(err)
	}
	waitFor(n.t, 20*time.Second, "a maintenance run", func() bool {
		var runs int
		err := n.pool.QueryRow(n.ctx, `SELECT count(*) FROM river_job WHERE kind = 'herald.maintenance' AND state = 'completed'`).Scan(&runs)
		return err == nil && runs > 0
	})
	if err := n.app.Sweep(n.ctx); err != nil {
		n.t.Fatal(err)
	}
	var keys, payloads int
	if err := n.pool.QueryRow(n.ctx, `SELECT (SELECT count(*) FROM event_keys WHERE source = '/old'),
		(SELECT count(*) FROM thin_payloads WHERE type = 'com.example.old')`).Scan(&keys, &payloads); err != nil {
		n.t.Fatal(err)
	}
	if keys != payloads {
		n.t.Errorf("maintenance kept %d old event keys, the sweep %d old payload records: they read retention differently", keys, payloads)
	}
	return keys == 1 && payloads == 1
}

// failingEndpointDisabled sends events to an endpoint that always fails,
// for longer than a second, until all their deliveries have failed, and
// reports whether the endpoint was disabled.
func (n *testNode) failingEndpointDisabled() bool {
	n.t.Helper()
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	n.t.Cleanup(rc.Close)
	tenant := n.call(testAdmin, "POST", "/v1/tenants", map[string]any{"name": "acme"}, 201)["id"]
	producer := n.call(testAdmin, "POST", "/v1/clients", map[string]any{"tenant": tenant, "name": "shop", "roles": []string{"producer"}}, 201)
	consumer := n.call(testAdmin, "POST", "/v1/clients", map[string]any{"tenant": tenant, "name": "warehouse", "roles": []string{"consumer"}}, 201)
	n.call(testAdmin, "PUT", "/v1/event-types/com.example.order", map[string]any{"tenant": tenant, "schema": map[string]any{},
		"producers": []any{producer["id"]}, "consumers": []any{consumer["id"]}}, 201)
	cred := func(m map[string]any) string { return m["key"].(string) + ":" + m["secret"].(string) }
	ep := n.call(cred(consumer), "POST", "/v1/endpoints", map[string]any{"url": rc.URL, "types": []string{"com.example.order"}}, 201)
	path := "/v1/endpoints/" + ep["id"].(string)
	for i := range 8 {
		n.call(cred(producer), "POST", "/v1/events", map[string]any{"specversion": "1.0", "id": fmt.Sprint("e-", i),
			"source": "/shop", "type": "com.example.order", "data": map[string]any{}}, 202)
		time.Sleep(150 * time.Millisecond)
	}
	waitFor(n.t, 20*time.Second, "deliveries settled", func() bool {
		if n.call(cred(consumer), "GET", path, nil, 200)["status"] == "disabled" {
			return true
		}
		return len(n.call(cred(consumer), "GET", path+"/deliveries?status=pending", nil, 200)["data"].([]any)) == 0
	})
	return n.call(cred(consumer), "GET", path, nil, 200)["status"] == "disabled"
}

// call makes an API request as the key:secret credential and decodes the
// answer, which must have the status want.
func (n *testNode) call(credential, method, path string, body any, want int) map[string]any {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(n.ctx, method, n.app.URL()+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	key, secret, _ := strings.Cut(credential, ":")
	req.SetBasicAuth(key, secret)
	if strings.HasPrefix(path, "/v1/events") {
		req.Header.Set("Content-Type", "application/cloudevents+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		n.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}
