package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
)

// TestUnavailable classifies real failures of a real server: an outage
// (nothing listening, a backend terminated, a statement that outlived its
// deadline) is "unavailable"; a wrong statement or a violated constraint is
// not, and nil is not.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	dsn := heraldtest.NewDatabase(t)
	pool := openPool(t, dsn, 4)
	ctx := ctxT(t)

	errOf := func(f func() error) error { return f() }
	_, syntaxErr := pool.Exec(ctx, "SELEC 1")
	_, uniqueErr := pool.Exec(ctx, "CREATE TEMP TABLE u (v int PRIMARY KEY); INSERT INTO u VALUES (1), (1)")

	terminated := errOf(func() error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var pid int
		if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, "SELECT 1")
		return err
	})
	refused := errOf(func() error {
		_, err := pgx.Connect(ctx, "host=/nonexistent/herald-socket-dir port=5432 user=herald dbname=herald connect_timeout=2")
		return err
	})
	timedOut := errOf(func() error {
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := pool.Exec(c, "SELECT pg_sleep(5)")
		return err
	})

	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"syntax error", syntaxErr, false},
		{"unique violation", uniqueErr, false},
		{"not found", pgx.ErrNoRows, false},
		{"backend terminated", terminated, true},
		{"nothing listening", refused, true},
		{"statement past its deadline", timedOut, true},
		{"wrapped outage", errors.Join(errors.New("ingest: commit"), refused), true},
	}
	for _, tc := range cases {
		if tc.want && tc.err == nil {
			t.Fatalf("%s: the fault produced no error", tc.name)
		}
		if got := postgres.Unavailable(tc.err); got != tc.want {
			t.Errorf("%s (%v): Unavailable = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
