package heraldtest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// TestIsolation runs parallel tests that each write to their own database
// and must see the template's contents and their own rows only.
func TestIsolation(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		names = map[string]bool{}
	)
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			dsn := heraldtest.NewDatabase(t)
			cfg, err := pgconn.ParseConfig(dsn)
			if err != nil {
				t.Fatalf("NewDatabase returned an unparsable connection string %q: %v", dsn, err)
			}
			mu.Lock()
			if names[cfg.Database] {
				t.Errorf("database %s handed out twice", cfg.Database)
			}
			names[cfg.Database] = true
			mu.Unlock()

			conn := connect(t, dsn)
			var seed string
			if err := conn.QueryRow(t.Context(), "SELECT owner FROM items WHERE id = 1").Scan(&seed); err != nil || seed != "seed" {
				t.Fatalf("template row: %q, %v", seed, err)
			}
			owner := fmt.Sprint("test-", i)
			for range i + 1 {
				if _, err := conn.Exec(t.Context(), "INSERT INTO items (owner) VALUES ($1)", owner); err != nil {
					t.Fatal(err)
				}
			}
			var mine, others int
			err = conn.QueryRow(t.Context(), `
				SELECT count(*) FILTER (WHERE owner = $1), count(*) FILTER (WHERE owner NOT IN ($1, 'seed'))
				FROM items`, owner).Scan(&mine, &others)
			if err != nil {
				t.Fatal(err)
			}
			if mine != i+1 || others != 0 {
				t.Errorf("own rows %d (want %d), other tests' rows %d (want 0)", mine, i+1, others)
			}
		})
	}
}

// TestDatabaseDropped checks that a test's database is gone once the test
// has finished, even if the test left a connection open.
func TestDatabaseDropped(t *testing.T) {
	t.Parallel()
	observer := connect(t, heraldtest.NewDatabase(t))

	var name string
	t.Run("leaky", func(t *testing.T) {
		dsn := heraldtest.NewDatabase(t)
		cfg, err := pgconn.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		name = cfg.Database
		// Deliberately never closed: the cleanup must cope.
		if _, err := pgx.Connect(t.Context(), dsn); err != nil {
			t.Fatal(err)
		}
	})

	var exists bool
	err := observer.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test finished", name)
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var logger = heraldtest.Logger(t)
	t.Run("sub", func(t *testing.T) {
		sub := heraldtest.Logger(t)
		sub.Warn("shown in the subtest's output", "key", "value")
		logger = sub
	})
	// The subtest has finished; a goroutine still holding its logger
	// must not crash the test binary.
	logger.Error("dropped")
}

// TestExternalServer runs this package's tests again in a child process,
// pointed at the current test server through HERALD_DATABASE_URL (in both
// connection string forms), as a developer with their own server would.
func TestExternalServer(t *testing.T) {
	t.Parallel()
	if os.Getenv("HERALD_DATABASE_URL") != "" || os.Getenv("DATABASE_URL") != "" {
		t.Skip("already using an external server")
	}
	kv := heraldtest.ConnString(t, "postgres")
	cfg, err := pgconn.ParseConfig(kv)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("postgresql:///postgres?host=%s&port=%d&user=%s&sslmode=disable", cfg.Host, cfg.Port, cfg.User)
	observer := connect(t, heraldtest.NewDatabase(t))

	for form, dsn := range map[string]string{"keyword/value": kv, "URL": url} {
		t.Run(form, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^(TestIsolation|TestDatabaseDropped)$", "-test.count=1")
			cmd.Env = append(os.Environ(), "HERALD_DATABASE_URL="+dsn)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("tests against %s failed: %v\n%s", dsn, err, out)
			}
		})
	}

	// The child processes dropped their templates.
	rows, err := observer.Query(t.Context(), "SELECT datname FROM pg_database WHERE datname LIKE 'herald\\_tmpl\\_%'")
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("templates left behind: %s", strings.Join(left, ", "))
	}
}

func TestDistinctDatabases(t *testing.T) {
	t.Parallel()
	a, b := heraldtest.NewDatabase(t), heraldtest.NewDatabase(t)
	if a == b {
		t.Fatalf("two calls returned the same database: %s", a)
	}
}
