// Package heraldtest gives tests of Herald packages a real PostgreSQL
// database each, quickly and without setup.
//
// Herald's correctness lives largely in SQL (locking, queues, constraints),
// which mocks cannot exercise, so tests run against PostgreSQL. To keep that
// cheap, a package's TestMain calls Main once: it starts a throwaway server
// (package pglocal) or uses the one named by HERALD_DATABASE_URL or
// DATABASE_URL, and migrates a template database once. Each test then calls
// NewDatabase and gets its own copy of the template, which takes
// milliseconds, so tests can run in parallel without seeing each other's
// rows.
//
// This package is for _test.go files only.
package heraldtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/pglocal"
)

// localTemplate is the template database name on a throwaway server, which
// no other process uses.
const localTemplate = "herald_template"

// server is the database server of this test binary, set by Main before any
// test runs and never changed while they run.
type server struct {
	admin    *pgxpool.Pool       // maintenance connections for CREATE/DROP DATABASE
	dsn      func(string) string // connection string for a database name
	template string
}

var (
	srv *server

	// copyMu serialises copies of the template: PostgreSQL rejects a
	// copy while another session is connected to the source database,
	// and overlapping copies have been seen to trip over that.
	copyMu sync.Mutex

	// seq numbers databases so their names say in which order tests
	// created them.
	seq atomic.Uint64
)

// Main prepares the database server for a package's tests and runs them; a
// package's TestMain calls it:
//
//	func TestMain(m *testing.M) { os.Exit(heraldtest.Main(m, store.Migrate)) }
//
// Unless HERALD_DATABASE_URL or DATABASE_URL names a server to use, Main
// starts a throwaway PostgreSQL cluster in a temporary folder (not durable,
// for speed). It then creates a template database and calls migrate with a
// connection string for it.
//
// migrate must close every connection it opened before it returns (for
// example, Close its pool): PostgreSQL cannot copy a database that has
// sessions. Connections still open are terminated, with a warning.
//
// Main returns the exit code for os.Exit. It stops the throwaway server, or
// drops the template from an external server, after the tests have run.
// Setup failures are printed to stderr and make the exit code non-zero.
//
// With an external server the role must be allowed to create databases; the
// template gets a name unique to this process (herald_tmpl_<pid>_<random>),
// so several test binaries can share the server. A test binary that is
// killed leaves its databases behind.
func Main(m *testing.M, migrate func(ctx context.Context, connString string) error) int {
	logger := mainLogger()
	external := os.Getenv("HERALD_DATABASE_URL")
	if external == "" {
		external = os.Getenv("DATABASE_URL")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	teardown, err := setup(ctx, logger, external, migrate)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "heraldtest: %v\n", err)
		return 1
	}

	code := m.Run()

	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := teardown(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "heraldtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// setup brings up the server and the template and returns how to undo it.
func setup(ctx context.Context, logger *slog.Logger, external string, migrate func(context.Context, string) error) (teardown func(context.Context) error, err error) {
	var (
		adminDSN string
		s        = &server{}
		undo     []func(context.Context) error // run in reverse order
	)
	undoAll := func(ctx context.Context) error {
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i](ctx))
		}
		return errors.Join(errs...)
	}
	teardown = undoAll
	defer func() {
		// Not teardown: an error return has set it to nil.
		if err != nil {
			_ = undoAll(context.WithoutCancel(ctx))
		}
	}()

	if external != "" {
		if _, err := pgconn.ParseConfig(external); err != nil {
			return nil, fmt.Errorf("parse HERALD_DATABASE_URL/DATABASE_URL: %w", err)
		}
		adminDSN = external
		s.dsn = func(db string) string { return withDatabase(external, db) }
		s.template = fmt.Sprintf("herald_tmpl_%d_%s", os.Getpid(), randomHex(4))
	} else {
		dir, err := os.MkdirTemp("", "herald-test-")
		if err != nil {
			return nil, fmt.Errorf("create folder for test cluster: %w", err)
		}
		undo = append(undo, func(context.Context) error { return os.RemoveAll(dir) })
		// MkdirTemp makes the folder 0700; when the server runs as the
		// postgres user (tests running as root), it must be able to
		// reach the data directory inside.
		if err := os.Chmod(dir, 0o711); err != nil {
			return nil, fmt.Errorf("open test folder for the server: %w", err)
		}
		cluster, err := pglocal.Start(ctx, pglocal.Options{
			DataDir: filepath.Join(dir, "pg"),
			Durable: false,
			Logger:  logger,
			BinDir:  os.Getenv("HERALD_PG_BIN"),
		})
		if err != nil {
			return nil, fmt.Errorf("start throwaway PostgreSQL (set HERALD_DATABASE_URL to use an existing server instead): %w", err)
		}
		undo = append(undo, func(context.Context) error { return cluster.Stop() })
		adminDSN = cluster.ConnString("postgres")
		s.dsn = cluster.ConnString
		s.template = localTemplate
	}

	s.admin, err = pgxpool.New(ctx, adminDSN)
	if err != nil {
		return nil, fmt.Errorf("connect to test server: %w", err)
	}
	undo = append(undo, func(context.Context) error { s.admin.Close(); return nil })

	tmpl := pgx.Identifier{s.template}.Sanitize()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+tmpl); err != nil {
		return nil, fmt.Errorf("create template database %s: %w", s.template, err)
	}
	if external != "" {
		// A throwaway server goes away as a whole; on a shared one the
		// template must be dropped.
		undo = append(undo, func(ctx context.Context) error { return dropTemplate(ctx, s.admin, s.template) })
	}

	if err := migrate(ctx, s.dsn(s.template)); err != nil {
		return nil, fmt.Errorf("migrate template database %s: %w", s.template, err)
	}
	if err := sealTemplate(ctx, s.admin, s.template); err != nil {
		return nil, err
	}
	srv = s
	return teardown, nil
}

// sealTemplate makes sure nobody is connected to the template, and that
// nobody can connect any more: a stray connection (say, a test using the
// wrong connection string) would otherwise make every later copy fail.
func sealTemplate(ctx context.Context, admin *pgxpool.Pool, name string) error {
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("seal template database %s: %w", name, err)
	}
	// Sessions closed by migrate may take a moment to end on the server.
	deadline := time.Now().Add(2 * time.Second)
	for {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name).Scan(&n); err != nil {
			return fmt.Errorf("count sessions on template database: %w", err)
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "heraldtest: warning: migrate left %d connection(s) open to %s; terminating them (migrate must close its connections)\n", n, name)
			if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
				return fmt.Errorf("terminate sessions on template database: %w", err)
			}
			deadline = time.Now().Add(5 * time.Second)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for sessions on template database to end: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dropTemplate removes this process's template from a shared server.
func dropTemplate(ctx context.Context, admin *pgxpool.Pool, name string) error {
	id := pgx.Identifier{name}.Sanitize()
	// A template database cannot be dropped until it is marked as an
	// ordinary one again.
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+id+" WITH IS_TEMPLATE false"); err != nil {
		return fmt.Errorf("drop template database %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop template database %s: %w", name, err)
	}
	return nil
}

// NewDatabase creates a database for the calling test, a copy of the
// migrated template, and returns its connection string. The database is
// dropped when the test and its subtests have finished, together with any
// connections the test left open. It is safe to call from parallel tests.
// Main must have been called from TestMain.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	s := current(tb)
	name := fmt.Sprintf("herald_t_%d_%s", seq.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	if err := s.copyTemplate(ctx, name); err != nil {
		tb.Fatalf("heraldtest: %v", err)
	}
	tb.Cleanup(func() {
		// tb.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("heraldtest: drop test database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

// copyTemplate creates database name from the template.
func (s *server) copyTemplate(ctx context.Context, name string) error {
	copyMu.Lock()
	defer copyMu.Unlock()
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{s.template}.Sanitize()
	for delay := 10 * time.Millisecond; ; delay *= 2 {
		_, err := s.admin.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		// object_in_use: "source database is being accessed by other
		// users", which can be a passing state (a session still
		// ending); anything else is final.
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || delay > 2*time.Second {
			if err != nil {
				return fmt.Errorf("create test database %s from %s: %w", name, s.template, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create test database %s from %s: %w (last error: %w)", name, s.template, ctx.Err(), err)
		case <-time.After(delay):
		}
	}
}

// ConnString returns a connection string for database dbname on the test
// server, for tests that need to reach a database they did not get from
// NewDatabase (for example "postgres", on a throwaway server, to inspect
// the server).
func ConnString(tb testing.TB, dbname string) string {
	tb.Helper()
	return current(tb).dsn(dbname)
}

// current returns the server set up by Main, failing the test without it.
func current(tb testing.TB) *server {
	tb.Helper()
	if srv == nil {
		tb.Fatal("heraldtest: no test database server; call heraldtest.Main from TestMain")
	}
	return srv
}

// withDatabase returns connString with its database replaced by dbname,
// keeping every other setting (TLS, password, options) as written. Both
// forms libpq accepts are handled: a URL gets its path (and any dbname
// query parameter) replaced; keyword/value pairs get a dbname appended,
// which wins because the last occurrence of a keyword counts.
func withDatabase(connString, dbname string) string {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		if u, err := url.Parse(connString); err == nil {
			q := u.Query()
			if q.Has("dbname") {
				q.Del("dbname")
				u.RawQuery = q.Encode()
			}
			u.Path = "/" + dbname
			u.RawPath = ""
			return u.String()
		}
	}
	return strings.TrimSpace(connString) + " dbname=" + quoteValue(dbname)
}

// quoteValue quotes a keyword/value connection string value.
func quoteValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// randomHex returns 2n random hex digits, so names from concurrent test
// processes sharing a server do not collide.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Logger returns a logger writing to the test's output (shown for failing
// tests, or with -v). It logs Warn and above, or everything when
// HERALD_TEST_DEBUG=1. Records logged after the test has finished, by
// goroutines that outlive it, are dropped instead of making the testing
// package panic.
func Logger(tb testing.TB) *slog.Logger {
	w := &testWriter{out: tb.Output()}
	tb.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level:       level(),
		ReplaceAttr: dropTime,
	}))
}

// mainLogger is the logger of the throwaway server, which outlives every
// single test, so it writes to stderr. Only server PANICs show by default:
// routine FATALs (such as sessions ended by DROP DATABASE ... WITH (FORCE))
// would be noise in every package's output, and a failed start is reported
// with the server's log anyway. HERALD_TEST_DEBUG=1 shows everything.
func mainLogger() *slog.Logger {
	lvl := slog.LevelError
	if os.Getenv("HERALD_TEST_DEBUG") == "1" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

func level() slog.Level {
	if os.Getenv("HERALD_TEST_DEBUG") == "1" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// dropTime removes the timestamp, which is noise in test output.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// testWriter forwards to a test's output until the test has finished.
type testWriter struct {
	mu     sync.Mutex
	out    io.Writer
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	return w.out.Write(p)
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}
