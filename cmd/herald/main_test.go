package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
)

// TestMain gives the package's tests a throwaway PostgreSQL server, whose
// migrated template each test that boots a node copies.
func TestMain(m *testing.M) {
	os.Exit(heraldtest.Main(m, postgres.MigrateDSN))
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad schedule", nil, map[string]string{"HERALD_RETRY_SCHEDULE": "1s,soon"}, "HERALD_RETRY_SCHEDULE"},
		{"bad allowlist", nil, map[string]string{"HERALD_ALLOW_PRIVATE_TARGETS": "10.0.0.0/33"}, "HERALD_ALLOW_PRIVATE_TARGETS"},
		{"bad addr", []string{"-addr", "nope"}, nil, "HERALD_ADDR"},
		{"bad workers", nil, map[string]string{"HERALD_WORKERS": "many"}, "HERALD_WORKERS"},
		{"bad bootstrap", nil, map[string]string{"HERALD_BOOTSTRAP_ADMIN": "admin"}, "HERALD_BOOTSTRAP_ADMIN"},
		{"short bootstrap secret", nil, map[string]string{"HERALD_BOOTSTRAP_ADMIN": "admin:short"}, "HERALD_BOOTSTRAP_ADMIN"},
		{"bad level", nil, map[string]string{"HERALD_LOG_LEVEL": "loud"}, "HERALD_LOG_LEVEL"},
		{"bad timeout", nil, map[string]string{"HERALD_SHUTDOWN_TIMEOUT": "-1s"}, "HERALD_SHUTDOWN_TIMEOUT"},
		{"retention shorter than retries", nil, map[string]string{"HERALD_RETENTION": "1h"}, "HERALD_RETENTION"},
		{"bad verify flag", nil, map[string]string{"HERALD_VERIFY_ENDPOINTS": "maybe"}, "HERALD_VERIFY_ENDPOINTS"},
		{"bad auto-disable", nil, map[string]string{"HERALD_AUTO_DISABLE_AFTER": "soon"}, "HERALD_AUTO_DISABLE_AFTER"},
		{"bad max file bytes", nil, map[string]string{"HERALD_MAX_FILE_BYTES": "big"}, "HERALD_MAX_FILE_BYTES"},
		{"short upload ttl", nil, map[string]string{"HERALD_FILE_UPLOAD_TTL": "1s"}, "HERALD_FILE_UPLOAD_TTL"},
		{"long url ttl", nil, map[string]string{"HERALD_FILE_URL_TTL": "48h"}, "HERALD_FILE_URL_TTL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig("serve", tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %s", err, tc.want)
			}
		})
	}
}

func TestParseConfigDefaultsAndPrecedence(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://u:pw@db/x", "HERALD_ADDR": "127.0.0.1:9000", "HERALD_RETRY_SCHEDULE": "1s,1s,1s"}
	c, err := parseConfig("serve", []string{"-addr", "127.0.0.1:9999"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.DatabaseURL != "postgres://u:pw@db/x" || len(c.RetrySchedule) != 3 || c.DataDir != "./herald-data" {
		t.Fatalf("config = %+v", c)
	}
	attrs := fmt.Sprint(c.logAttrs()...)
	if strings.Contains(attrs, "pw") {
		t.Fatalf("password logged: %s", attrs)
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &out, &out); err == nil {
		t.Fatal("unknown command accepted")
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeWithOwnPostgres runs the README's command path: `herald serve`
// with no database configured starts its own PostgreSQL in the data dir,
// migrates, serves, and shuts down cleanly on cancellation; a second start
// on the same data dir finds the data again.
func TestServeWithOwnPostgres(t *testing.T) {
	t.Parallel()
	// Not t.TempDir: its parent is private, and PostgreSQL's own user must
	// be able to enter the data dir when the tests run as root.
	dir, err := os.MkdirTemp("", "herald-serve-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := map[string]string{
		"HERALD_DATA_DIR": dir, "HERALD_ADDR": addr, "HERALD_BOOTSTRAP_ADMIN": "root:root-secret-0123456789",
	}
	getenv := func(k string) string { return env[k] }

	boot := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		logs := &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve"}, getenv, io.Discard, logs) }()
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			select {
			case err := <-done:
				t.Fatalf("serve exited: %v\n%s", err, logs.String())
			default:
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("server not ready\n%s", logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v\n%s", err, logs.String())
			}
		}
	}

	stop := boot()
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/tenants", strings.NewReader(`{"name":"acme"}`))
	req.SetBasicAuth("root", "root-secret-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create tenant: %v %v", err, resp)
	}
	resp.Body.Close()
	stop()

	stop = boot()
	defer stop()
	req, _ = http.NewRequest("GET", "http://"+addr+"/v1/tenants", nil)
	req.SetBasicAuth("root", "root-secret-0123456789")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct{ Name string } `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tn := range list.Data {
		found = found || tn.Name == "acme"
	}
	if !found {
		t.Fatalf("tenant lost across restart: %+v", list)
	}
}

func TestParseConfigTLSCAFile(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HERALD_TLS_CA_FILE": "/etc/herald/partners-ca.pem"}
	c, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.appConfig(nil).TLSCAFile; got != "/etc/herald/partners-ca.pem" {
		t.Fatalf("app TLSCAFile = %q", got)
	}
	c, err = parseConfig("serve", []string{"-tls-ca-file", "/other.pem"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.TLSCAFile != "/other.pem" {
		t.Fatalf("flag should win: %+v, %v", c, err)
	}
}
