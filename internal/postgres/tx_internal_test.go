package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/secretbox"
)

// TestTxRetryRunsDeadlockVictimAgain makes two transactions lock two rows
// in opposite orders, each holding its first lock while it asks for the
// second: PostgreSQL aborts one of them, and txRetry must run that one
// again so both commit their change.
func TestTxRetryRunsDeadlockVictimAgain(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pool, err := OpenPool(ctx, heraldtest.NewDatabase(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := New(pool, secretbox.New(secretbox.GenerateKey()))
	if _, err := pool.Exec(ctx, `CREATE TABLE pair (id int PRIMARY KEY, n int NOT NULL);
		INSERT INTO pair VALUES (1, 0), (2, 0)`); err != nil {
		t.Fatal(err)
	}
	var holding sync.WaitGroup
	holding.Add(2)
	var runs [2]atomic.Int32
	bump := func(tx pgx.Tx, id int) error {
		_, err := tx.Exec(ctx, `UPDATE pair SET n = n + 1 WHERE id = $1`, id)
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, order := range [2][2]int{{1, 2}, {2, 1}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.txRetry(ctx, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SET LOCAL deadlock_timeout = '50ms'`); err != nil {
					return err
				}
				if runs[i].Add(1) > 1 {
					// A run again takes the rows in one order, as a victim
					// run again finds things settled: it must go through.
					if err := bump(tx, 1); err != nil {
						return err
					}
					return bump(tx, 2)
				}
				if err := bump(tx, order[0]); err != nil {
					return err
				}
				// The first runs wait for each other to hold their first
				// row, so each then waits for the other's: a deadlock.
				holding.Done()
				holding.Wait()
				return bump(tx, order[1])
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	// PostgreSQL aborts one of them, or, when both looked for the
	// deadlock at once, possibly both; each victim ran again.
	if r := runs[0].Load() + runs[1].Load(); r < 3 || r > 4 {
		t.Fatalf("the two transactions ran %d times in all, want 3 or 4 (each deadlock victim run again once)", r)
	}
	var total int
	if err := pool.QueryRow(ctx, `SELECT sum(n) FROM pair`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != 4 {
		t.Fatalf("the rows were bumped %d times, want 4 (each transaction committed both once)", total)
	}
}
