package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// connectorConfig holds the settings of hosted connectors.
type connectorConfig struct {
	Timeout        time.Duration
	MemoryMB       int
	MaxRequests    int
	Workers        int
	AllowPlainSMTP bool
}

// connectorFlags declares the connector flags on fs (HERALD_CONNECTOR_*
// variables as defaults) and returns the function that validates them after
// parsing.
func connectorFlags(fs *flag.FlagSet, getenv func(string) string) func() (connectorConfig, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	timeout := fs.String("connector-timeout", env("HERALD_CONNECTOR_TIMEOUT", "5s"), "time limit of one connector run, JavaScript included (HERALD_CONNECTOR_TIMEOUT)")
	memory := fs.Int("connector-memory-mb", envInt(getenv, "HERALD_CONNECTOR_MEMORY_MB", 64), "memory limit of one connector function's JavaScript, in MiB (HERALD_CONNECTOR_MEMORY_MB)")
	requests := fs.Int("connector-max-requests", envInt(getenv, "HERALD_CONNECTOR_MAX_REQUESTS", 10), "outbound requests one connector run may make (HERALD_CONNECTOR_MAX_REQUESTS)")
	workers := fs.Int("connector-workers", envInt(getenv, "HERALD_CONNECTOR_WORKERS", 8), "connector runs executing at once on this node (HERALD_CONNECTOR_WORKERS)")
	plain := fs.String("connector-allow-plain-smtp", env("HERALD_CONNECTOR_ALLOW_PLAIN_SMTP", "false"), "let e-mail connectors send without TLS; for development (HERALD_CONNECTOR_ALLOW_PLAIN_SMTP)")
	return func() (connectorConfig, error) {
		c := connectorConfig{MemoryMB: *memory, MaxRequests: *requests, Workers: *workers}
		var err error
		if c.Timeout, err = time.ParseDuration(*timeout); err != nil || c.Timeout <= 0 || c.Timeout > 5*time.Minute {
			return c, fmt.Errorf("-connector-timeout / HERALD_CONNECTOR_TIMEOUT: %q must be a Go duration from 1ms to 5m, such as 5s", *timeout)
		}
		if c.MemoryMB < 4 || c.MemoryMB > 4096 {
			return c, fmt.Errorf("-connector-memory-mb / HERALD_CONNECTOR_MEMORY_MB: must be from 4 to 4096")
		}
		if c.MaxRequests < 1 || c.MaxRequests > 1000 {
			return c, fmt.Errorf("-connector-max-requests / HERALD_CONNECTOR_MAX_REQUESTS: must be from 1 to 1000")
		}
		if c.Workers < 1 || c.Workers > 1000 {
			return c, fmt.Errorf("-connector-workers / HERALD_CONNECTOR_WORKERS: must be from 1 to 1000")
		}
		if c.AllowPlainSMTP, err = strconv.ParseBool(*plain); err != nil {
			return c, fmt.Errorf("-connector-allow-plain-smtp / HERALD_CONNECTOR_ALLOW_PLAIN_SMTP: must be true or false")
		}
		return c, nil
	}
}

// apply copies the settings into the app's configuration.
func (c connectorConfig) apply(cfg *app.Config) {
	cfg.ConnectorTimeout, cfg.ConnectorMemoryMB, cfg.ConnectorMaxRequests = c.Timeout, c.MemoryMB, c.MaxRequests
	cfg.ConnectorWorkers, cfg.AllowPlainSMTP = c.Workers, c.AllowPlainSMTP
}
