// Command herald runs the Herald event and webhook delivery server.
//
//	herald serve              run the API and the delivery workers
//	herald migrate [up|down]  apply (or revert one step of) database migrations
//
// Configuration comes from flags, falling back to HERALD_* environment
// variables; run `herald serve -h` for the list. settings.go declares
// every setting once, and docs/configuration.md is generated from it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/bench"
	"github.com/heraldhq/herald/internal/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The first signal starts a graceful shutdown; the default action
		// is back from then on, so a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "herald:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage: herald <command> [flags]

commands:
  serve     run the API and the delivery workers
  migrate   apply database migrations (herald migrate [up|down] [-steps N])
  bench     measure ingest, delivery throughput and latency on this machine
  version   print the version

Run "herald <command> -h" for the flags of a command.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "migrate":
		return migrate(ctx, args[1:], getenv, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "herald", version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := cfg.logger(stderr)
	logger.Info("starting herald", cfg.logAttrs()...)
	a, err := app.Start(ctx, cfg.appConfig(logger))
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down: finishing requests and deliveries in flight (signal again to stop at once)",
			"timeout", cfg.ShutdownTimeout)
	case err := <-a.Err():
		if err != nil {
			logger.Error("http server failed", "error", err)
		}
	}
	if err := a.Stop(context.Background()); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	direction := "up"
	if len(args) > 0 && (args[0] == "up" || args[0] == "down") {
		direction, args = args[0], args[1:]
	}
	cfg, err := parseConfig("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := cfg.logger(stderr)
	dsn := cfg.DatabaseURL
	if dsn == "" {
		cluster, err := app.StartPostgres(ctx, cfg.DataDir, cfg.PGBinDir, logger)
		if err != nil {
			return err
		}
		defer func() { _ = cluster.Stop() }()
		dsn = cluster.ConnString("herald")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	pool, err := postgres.OpenPool(ctx, dsn, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if direction == "down" {
		return postgres.MigrateDown(ctx, pool, cfg.Steps, logger)
	}
	if err := postgres.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	v, err := postgres.SchemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	logger.Info("database is up to date", "herald_schema_version", v)
	return nil
}

// levelFrom maps a HERALD_LOG_LEVEL value to a slog level.
func levelFrom(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := fs.Duration("duration", 20*time.Second, "length of each throughput phase")
	rate := fs.Int("latency-rate", 1000, "events/s of the steady latency phase")
	db := fs.String("database-url", getenv("HERALD_DATABASE_URL"), "external PostgreSQL (default: a fresh embedded cluster with durable settings)")
	profile := fs.String("profile-dir", "", "write a CPU profile of each phase into this folder")
	committers := fs.Int("committers", 0, "ingest committers (default: the server's default)")
	phases := fs.String("phases", "", "comma-separated subset of copy,batch,batch-bare,single,deliveries,e2e,ordered,pull-poll,pull-ws,latency,growth (default: all but growth)")
	growth := fs.Int64("growth-events", 10_000_000, "events the growth phase fills the store with")
	noHandoff := fs.Bool("no-handoff", false, "leave first attempts to the job queue's fetch instead of making them right after the commit (to compare)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, err := bench.Run(ctx, bench.Options{Duration: *d, LatencyRate: *rate, DatabaseURL: *db, Out: stdout, ProfileDir: *profile, Committers: *committers, Phases: splitList(*phases), GrowthEvents: *growth, NoHandoff: *noHandoff,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	return err
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
