package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/app"
)

// config is Herald's configuration, filled from the table of settings
// (settings.go): each setting has a flag and a HERALD_* environment
// variable; the flag wins, then the variable, then the declared default.
type config struct {
	// Config is what the node runs with; every field a setting names is
	// set, defaults included.
	app.Config
	LogLevel  slog.Level
	LogFormat string
	// Steps is how many migrations `herald migrate down` reverts.
	Steps int
	// given holds each setting's value as given or defaulted, in table
	// order, for the startup log.
	given []string
}

// setting is one line of the configuration: where it comes from, its
// default, what it means, and how it is checked and shown.
type setting struct {
	group string // the section of docs/configuration.md
	flag  string // without the dash
	env   string
	alias string // a variable read when env is unset (DATABASE_URL)
	def   string // the default, as typed on the command line
	unset string // for the reference (markdown): what an empty default means
	// off says what zero does, for a setting that can be off; zero passes
	// down as zero, and every layer reads it so (see app.Config). Empty:
	// the setting refuses zero.
	off string
	// help is the flag's one-line help (the variable's name is appended);
	// more adds detail in docs/configuration.md only.
	help, more string
	// integer settings are int flags, so that `-workers x` is refused by
	// the flag parser as before; an unparsable variable reads as -1, which
	// the range check then names.
	integer bool
	// mask hides a secret in the startup log (nil: shown as given).
	mask func(string) string
	// set checks the value and stores it in c. Settings are set in table
	// order, so a check may rely on the settings above it.
	set func(c *config, v string) error
}

// names is how errors name the setting.
func (s *setting) names() string { return "-" + s.flag + " / " + s.env }

// variables are the environment variables the setting reads, in order.
func (s *setting) variables() string {
	if s.alias != "" {
		return s.env + " or " + s.alias
	}
	return s.env
}

// lookup is the setting's value before flags: the variable, its alias,
// else the default.
func (s *setting) lookup(getenv func(string) string) string {
	if v := getenv(s.env); v != "" {
		return v
	}
	if s.alias != "" {
		if v := getenv(s.alias); v != "" {
			return v
		}
	}
	return s.def
}

// define declares the flag on fs, with the environment's value as its
// default, and returns how to read the final value.
func (s *setting) define(fs *flag.FlagSet, getenv func(string) string) func() string {
	usage := s.help + " (" + s.variables() + ")"
	v := s.lookup(getenv)
	if s.integer {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			n = -1 // reported by the range check
		}
		p := fs.Int64(s.flag, n, usage)
		return func() string { return strconv.FormatInt(*p, 10) }
	}
	p := fs.String(s.flag, v, usage)
	return func() string { return *p }
}

// badValue reports an error after the quoted value rather than after the
// setting's names: `-addr / HERALD_ADDR "x": ...`.
type badValue struct{ err error }

func (e badValue) Error() string { return e.err.Error() }
func (e badValue) Unwrap() error { return e.err }

// apply sets the value, naming the flag and the variable if it is refused.
func (s *setting) apply(c *config, v string) error {
	err := s.set(c, v)
	var bv badValue
	switch {
	case err == nil:
		return nil
	case errors.As(err, &bv):
		return fmt.Errorf("%s %q: %w", s.names(), v, bv.err)
	}
	return fmt.Errorf("%s: %w", s.names(), err)
}

// parseConfig reads flags for a command, falling back to the environment
// and then to the declared defaults. Errors name the flag and the variable.
func parseConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("herald "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := make([]func() string, len(settings))
	for i := range settings {
		values[i] = settings[i].define(fs, getenv)
	}
	steps := fs.Int("steps", 1, "migrate down: how many migrations to revert")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c := &config{Steps: *steps, given: make([]string, len(settings))}
	for i := range settings {
		c.given[i] = values[i]()
		if err := settings[i].apply(c, c.given[i]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *config) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logAttrs is the effective configuration for the startup log: every
// setting as given (or defaulted), secrets masked.
func (c *config) logAttrs() []any {
	attrs := make([]any, 0, 2*len(settings))
	for i, s := range settings {
		v := c.given[i]
		if s.mask != nil {
			v = s.mask(v)
		}
		attrs = append(attrs, strings.ReplaceAll(s.flag, "-", "_"), v)
	}
	return attrs
}

// appConfig is the node's configuration with its logger.
func (c *config) appConfig(logger *slog.Logger) app.Config {
	cfg := c.Config
	cfg.Logger = logger
	return cfg
}

// maskSecret hides a secret entirely.
func maskSecret(s string) string {
	if s == "" {
		return ""
	}
	return "****"
}

// maskCredential keeps the key of a key:secret pair.
func maskCredential(s string) string {
	if k, _, ok := strings.Cut(s, ":"); ok {
		return k + ":****"
	}
	return maskSecret(s)
}

// maskURL hides a password in a database URL or keyword/value string.
func maskURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			cred := rest[:at]
			if u, _, ok := strings.Cut(cred, ":"); ok {
				return s[:i+3] + u + ":****@" + rest[at+1:]
			}
		}
		return s
	}
	var out []string
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "password=") {
			f = "password=****"
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}
