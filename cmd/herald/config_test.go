package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// TestZeroIsOffOrRefused: a numeric setting either declares what zero
// does and passes the zero down to app.Config unchanged (so every layer
// below reads it the same way), or refuses zero naming its variable.
func TestZeroIsOffOrRefused(t *testing.T) {
	t.Parallel()
	// The app.Config field of each setting that can be off.
	fields := map[string]func(app.Config) int64{
		"HERALD_RETENTION":          func(c app.Config) int64 { return int64(c.Retention) },
		"HERALD_AUTO_DISABLE_AFTER": func(c app.Config) int64 { return int64(c.AutoDisableAfter) },
		"HERALD_SHUTDOWN_DELAY":     func(c app.Config) int64 { return int64(c.ShutdownDelay) },
		"HERALD_BREAKER_FAILURES":   func(c app.Config) int64 { return int64(c.BreakerThreshold) },
	}
	for _, s := range settings {
		_, durErr := time.ParseDuration(s.def)
		_, intErr := strconv.ParseInt(s.def, 10, 64)
		if durErr != nil && intErr != nil {
			continue // not a number: zero is not a question
		}
		t.Run(s.env, func(t *testing.T) {
			t.Parallel()
			c, err := parseConfig("serve", nil, func(k string) string { return map[string]string{s.env: "0"}[k] }, io.Discard)
			field, hasField := fields[s.env]
			switch {
			case s.off == "":
				if err == nil || !strings.Contains(err.Error(), s.env) {
					t.Fatalf("0 accepted (%v), yet the setting declares no meaning for it", err)
				}
			case err != nil:
				t.Fatalf("0 refused: %v", err)
			case !hasField:
				t.Fatal("the setting can be off; add its app.Config field to this test")
			case field(c.appConfig(nil)) != 0:
				t.Fatalf("0 reaches app.Config as %d", field(c.appConfig(nil)))
			}
		})
	}
}

// TestStartupLogMasksSecrets: the startup log names every setting and
// shows no secret.
func TestStartupLogMasksSecrets(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"HERALD_DATABASE_URL": "postgres://herald:db-password@db/herald", "HERALD_MASTER_KEY": "master-key-material",
		"HERALD_BOOTSTRAP_ADMIN": "root:bootstrap-secret-0123456789",
	}
	c, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var line bytes.Buffer
	c.logger(&line).Info("starting herald", c.logAttrs()...)
	attrs := line.String()
	for _, secret := range []string{"db-password", "master-key-material", "bootstrap-secret"} {
		if strings.Contains(attrs, secret) {
			t.Errorf("%s logged: %s", secret, attrs)
		}
	}
	for _, want := range []string{"postgres://herald:****@db/herald", "bootstrap_admin=root:****", "workers=200", "retention=120h"} {
		if !strings.Contains(attrs, want) {
			t.Errorf("log lacks %q: %s", want, attrs)
		}
	}
	if got, want := len(c.logAttrs()), 2*len(settings); got != want {
		t.Errorf("%d log attributes, want one pair per setting (%d)", got, want)
	}
}

// TestHelpNamesEveryVariable: `herald serve -h` lists every flag with the
// variables it falls back to.
func TestHelpNamesEveryVariable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if _, err := parseConfig("serve", []string{"-h"}, func(string) string { return "" }, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range settings {
		if !strings.Contains(out.String(), "-"+s.flag+" ") || !strings.Contains(out.String(), "("+s.variables()+")") {
			t.Errorf("help lacks -%s (%s)", s.flag, s.variables())
		}
	}
}
