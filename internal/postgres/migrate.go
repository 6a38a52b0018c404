package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/heraldhq/herald/migrations"
)

// migrationLockID serialises migrations across Herald nodes starting at once.
const migrationLockID = 7_242_019_001

type migration struct {
	version int
	name    string
	up      string
	down    string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byVersion := map[int]*migration{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.up.sql or .down.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad version: %w", name, err)
		}
		body, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		m := byVersion[v]
		if m == nil {
			m = &migration{version: v}
			byVersion[v] = m
		}
		switch {
		case strings.HasSuffix(rest, ".up.sql"):
			m.name, m.up = strings.TrimSuffix(rest, ".up.sql"), string(body)
		case strings.HasSuffix(rest, ".down.sql"):
			m.down = string(body)
		default:
			return nil, fmt.Errorf("migration %s: must end in .up.sql or .down.sql", name)
		}
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.up == "" {
			return nil, fmt.Errorf("migration %04d has no up file", m.version)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// LatestVersion is the highest migration version this binary knows.
func LatestVersion() int {
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate brings the database up to date: River's tables first (through
// rivermigrate), then Herald's own migrations, each in its own transaction,
// under an advisory lock so concurrent nodes don't race.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	conn, err := lockMigrations(ctx, pool)
	if err != nil {
		return err
	}
	defer unlockMigrations(ctx, conn)

	// River's migrations run through the pool, one transaction per version
	// (some add enum values that must commit before use), so this needs a
	// second connection besides the locked one.
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	for _, v := range res.Versions {
		logger.Info("applied river migration", "version", v.Version, "name", v.Name)
	}

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS herald_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: create herald_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return err
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		label := fmt.Sprintf("migrate %04d_%s", m.version, m.name)
		if err := step(ctx, conn, label, m.up, "INSERT INTO herald_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return err
		}
		logger.Info("applied herald migration", "version", m.version, "name", m.name)
	}
	return nil
}

// MigrateDown reverts the newest steps of Herald's own migrations. River's
// tables are left alone: they hold only transient jobs.
func MigrateDown(ctx context.Context, pool *pgxpool.Pool, steps int, logger *slog.Logger) error {
	conn, err := lockMigrations(ctx, pool)
	if err != nil {
		return err
	}
	defer unlockMigrations(ctx, conn)
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return err
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for i := len(ms) - 1; i >= 0 && steps > 0; i-- {
		m := ms[i]
		if !applied[m.version] {
			continue
		}
		if m.down == "" {
			return fmt.Errorf("migrate down %04d: no down file", m.version)
		}
		label := fmt.Sprintf("migrate down %04d_%s", m.version, m.name)
		if err := step(ctx, conn, label, m.down, "DELETE FROM herald_migrations WHERE version = $1", m.version); err != nil {
			return err
		}
		logger.Info("reverted herald migration", "version", m.version, "name", m.name)
		steps--
	}
	return nil
}

// lockMigrations takes the cluster-wide migration lock on a connection of
// its own. It polls with pg_try_advisory_lock and holds no connection while
// waiting, so callers sharing one small pool cannot starve the holder of the
// second connection it needs.
func lockMigrations(ctx context.Context, pool *pgxpool.Pool) (*pgxpool.Conn, error) {
	for {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate: acquire: %w", err)
		}
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", migrationLockID).Scan(&ok); err != nil {
			conn.Release()
			return nil, fmt.Errorf("migrate: lock: %w", err)
		}
		if ok {
			return conn, nil
		}
		conn.Release()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("migrate: waiting for another node's migration: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func unlockMigrations(ctx context.Context, conn *pgxpool.Conn) {
	_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockID)
	conn.Release()
}

// step runs one migration file and records it, in one transaction.
func step(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, label, body, record string, args ...any) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, body); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if _, err := tx.Exec(ctx, record, args...); err != nil {
			return fmt.Errorf("%s: record: %w", label, err)
		}
		return nil
	})
}

// MigrateDSN connects to dsn, migrates and disconnects; the test helpers
// build their template database with it.
func MigrateDSN(ctx context.Context, dsn string) error {
	pool, err := OpenPool(ctx, dsn, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	return Migrate(ctx, pool, slog.New(slog.DiscardHandler))
}

func appliedVersions(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[int]bool, error) {
	rows, err := db.Query(ctx, "SELECT version FROM herald_migrations")
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		out[v] = true
	}
	return out, rows.Err()
}

// SchemaVersion returns the newest applied Herald migration (0 when none),
// for readiness checks.
func SchemaVersion(ctx context.Context, db DBTX) (int, error) {
	var v int
	err := db.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM herald_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// PartitionsEnsure creates the daily partitions of the event log and the
// delivery history for the coming days.
func PartitionsEnsure(ctx context.Context, db DBTX, daysAhead int) error {
	_, err := db.Exec(ctx, `SELECT herald_ensure_partitions((now() AT TIME ZONE 'UTC')::date, $1)`, daysAhead)
	if err != nil {
		return fmt.Errorf("ensure partitions: %w", err)
	}
	return nil
}
