package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestConnectorConfig(t *testing.T) {
	t.Parallel()
	c, err := parseConfig("serve", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Config; got.ConnectorTimeout != 5*time.Second || got.ConnectorMemoryMB != 64 || got.ConnectorMaxRequests != 10 ||
		got.ConnectorWorkers != 8 || got.AllowPlainSMTP {
		t.Fatalf("defaults %+v", got)
	}
	env := map[string]string{"HERALD_CONNECTOR_TIMEOUT": "2s", "HERALD_CONNECTOR_MEMORY_MB": "32", "HERALD_CONNECTOR_ALLOW_PLAIN_SMTP": "true"}
	c, err = parseConfig("serve", []string{"-connector-timeout", "1s", "-connector-workers", "3"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.appConfig(nil)
	if cfg.ConnectorTimeout != time.Second || cfg.ConnectorMemoryMB != 32 || cfg.ConnectorWorkers != 3 || !cfg.AllowPlainSMTP {
		t.Fatalf("app config %+v", cfg)
	}
	for _, tc := range []struct{ name, value, want string }{
		{"HERALD_CONNECTOR_TIMEOUT", "forever", "HERALD_CONNECTOR_TIMEOUT"},
		{"HERALD_CONNECTOR_MEMORY_MB", "1", "HERALD_CONNECTOR_MEMORY_MB"},
		{"HERALD_CONNECTOR_MAX_REQUESTS", "0", "HERALD_CONNECTOR_MAX_REQUESTS"},
		{"HERALD_CONNECTOR_WORKERS", "x", "HERALD_CONNECTOR_WORKERS"},
		{"HERALD_CONNECTOR_ALLOW_PLAIN_SMTP", "maybe", "HERALD_CONNECTOR_ALLOW_PLAIN_SMTP"},
	} {
		_, err := parseConfig("serve", nil, func(k string) string {
			if k == tc.name {
				return tc.value
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: got %v", tc.name, tc.value, err)
		}
	}
}
