// Package postgres is Herald's storage: every SQL statement Herald runs lives
// in this package, one file per table, with functions named noun-first
// (EventTypePut, DeliveryRecordAttempt). Functions that must commit together
// with other writes (events with their deliveries and River jobs) take a DBTX
// so the caller decides the transaction.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/secretbox"
)

// DBTX is what store functions need from a pool or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// Store reads and writes Herald's tables.
type Store struct {
	pool *pgxpool.Pool
	box  *secretbox.Box
	// keyed runs the delivery path's lookups by key (see OpenKeyedPool)
	// while keyedOK holds; nil: pool does.
	keyed   *pgxpool.Pool
	keyedOK atomic.Bool
}

// New returns a Store over pool. box encrypts secrets Herald must read back
// (endpoint signing secrets) with additional data binding each to its row.
func New(pool *pgxpool.Pool, box *secretbox.Box) *Store {
	return &Store{pool: pool, box: box}
}

// Pool returns the underlying pool, for callers that open transactions.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// UseKeyedPool runs the delivery path's lookups by key (the batched load and
// attempt record of every delivery) on p, a pool from OpenKeyedPool, while
// the store has few enough daily partitions (see KeyedRefresh).
func (s *Store) UseKeyedPool(ctx context.Context, p *pgxpool.Pool) error {
	s.keyed = p
	return s.KeyedRefresh(ctx)
}

// KeyedMaxPartitions is the most daily partitions of deliveries for which
// the keyed pool's plans are used. A generic plan locks every partition
// when it starts, so its cost grows with their number: a delivery load
// measured 0.68-0.70 ms against 0.80-1.07 ms planned each time with 40
// partitions, 0.71-0.81 against 0.91 with 80, and the same 0.93 with 209.
// Past this, planning each time (which prunes the days before it locks)
// is as cheap.
const KeyedMaxPartitions = 120

// KeyedRefresh counts the daily partitions of deliveries and decides
// whether the keyed pool's plans pay. Every node calls it now and then
// (partitions come and go by a day at a time, on whichever node runs the
// maintenance).
func (s *Store) KeyedRefresh(ctx context.Context) error {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'deliveries'::regclass`).Scan(&n); err != nil {
		return fmt.Errorf("count partitions: %w", err)
	}
	s.keyedOK.Store(n <= KeyedMaxPartitions)
	return nil
}

// keyedPool is where the delivery path's lookups by key run.
func (s *Store) keyedPool() *pgxpool.Pool {
	if s.keyed != nil && s.keyedOK.Load() {
		return s.keyed
	}
	return s.pool
}

// KeyedConns is the size of a keyed pool: the runners of the delivery
// load's and the attempt record's batchers (two each), and one spare.
const KeyedConns = 5

// OpenKeyedPool opens connections for the statements of the delivery path
// that look rows up by key in daily partitions (DeliveryLoadMany,
// DeliveryRecordAttempts). They run thousands of times a second, and
// planning them cost ten times their execution (0.45 ms against 0.04 ms,
// half a core at 1,000 deliveries/s), so these connections plan each
// statement once (plan_cache_mode force_generic_plan) and prune the days at
// execution. A generic plan picks each partition's scan from its
// statistics when it is built, and a day's partition analyzed while empty
// would get a sequential scan that the connection keeps as the day fills;
// with sequential scans off (enable_seqscan), every partition is read by
// its key index whatever its statistics said, which is the right plan for
// lookups by key at any size.
func OpenKeyedPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	return openPool(ctx, dsn, KeyedConns, map[string]string{
		"plan_cache_mode": "force_generic_plan",
		"enable_seqscan":  "off",
	})
}

// OpenPool connects to PostgreSQL with settings suited to Herald: enough
// connections for the ingest committers, the delivery workers and River's
// notifier.
func OpenPool(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	return openPool(ctx, dsn, maxConns, nil)
}

// openPool opens a pool of at most maxConns connections (0: pgx's
// default) whose sessions start with params set.
func openPool(ctx context.Context, dsn string, maxConns int32, params map[string]string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// An unreachable server (a network partition) fails a connection
		// attempt quickly instead of after the operating system's minutes,
		// so requests are answered 503 and workers retry.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	for k, v := range params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// translate maps driver errors onto herald's sentinels.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return herald.NotFound("%s", what)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return herald.Conflict("%s already exists", what)
		case "23503": // foreign_key_violation
			return herald.Conflict("%s is still referenced (%s)", what, pgErr.ConstraintName)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// IsUnstorableText reports whether err is PostgreSQL refusing text it
// cannot store: U+0000, in text or as a \u0000 escape in jsonb (SQLSTATE
// 22P05), or bytes that are not UTF-8 (22021). The HTTP layer answers it
// as bad input rather than a server error.
func IsUnstorableText(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "22P05" || pgErr.Code == "22021")
}

// deadlockTries is how many times txRetry runs a transaction PostgreSQL
// keeps choosing as a deadlock's victim before giving up.
const deadlockTries = 3

// txRetry runs fn in a transaction and commits it, and runs it again when
// PostgreSQL broke a deadlock by aborting it (SQLSTATE 40P01): the victim
// changed nothing, and the transaction it waited for has committed or
// rolled back by then, so the second run sees where things stand. It is
// for statements whose row locks cannot all be taken in one order: an
// acknowledgement deletes in-flight rows in the order of their CloudEvents
// ids, a fetch redelivers them in partition and sequence order.
func (s *Store) txRetry(ctx context.Context, fn func(pgx.Tx) error) error {
	for try := 1; ; try++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		var pgErr *pgconn.PgError
		if try == deadlockTries || !errors.As(err, &pgErr) || pgErr.Code != "40P01" {
			return err
		}
	}
}

// raw passes a UUID to pgx as the 16 bytes its uuid codec encodes directly;
// a uuid.UUID would go through its driver.Valuer (a string) on every row,
// which dominated COPY's CPU time on the ingest path.
func raw(id uuid.UUID) [16]byte { return id }

// collect reads every row of a query's result with scan and closes it; op
// names the query in errors. No rows is a nil slice, which the API layer
// answers as an empty list.
func collect[T any](rows pgx.Rows, err error, op string, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

func scanUUID(row pgx.Row) (uuid.UUID, error) {
	var id uuid.UUID
	err := row.Scan(&id)
	return id, err
}

// span returns the earliest and the latest of times (zero times for
// none), for spanOf.
func span(times []time.Time) (lo, hi time.Time) {
	for i, t := range times {
		if i == 0 || t.Before(lo) {
			lo = t
		}
		if i == 0 || t.After(hi) {
			hi = t
		}
	}
	return lo, hi
}

// spanOf bounds a partition key column by the parameters lo and hi, the
// span of the keys a statement looks up (span). The keys themselves come
// from arrays, which PostgreSQL cannot prune partitions by; given the span,
// a custom plan covers only the days in it, and a generic plan (the keyed
// pool's, see OpenKeyedPool) prunes the other days when it runs. Without it, a batch of deliveries was planned against every daily
// partition of deliveries and events, 1.6 ms of planning per statement
// against 0.55 ms (EXPLAIN, warm session), and the planning was most of
// what PostgreSQL did on the delivery path.
func spanOf(col, lo, hi string) string {
	return col + " BETWEEN " + lo + " AND " + hi
}
