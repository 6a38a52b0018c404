package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/herald"
)

// copyFloor COPYs rows shaped like stored events, 100 per transaction, from
// 4 connections (the number of ingest committers) for d.
func copyFloor(ctx context.Context, a *app.App, body []byte, d time.Duration) (float64, error) {
	pool := a.Pool()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_copy_floor (id uuid, received_at timestamptz, seq bigint,
		tenant_id uuid, producer_id uuid, type text, source text, ce_id text, subject text, partition_key text,
		type_version int, body bytea)`); err != nil {
		return 0, err
	}
	defer func() { _, _ = pool.Exec(context.Background(), `DROP TABLE IF EXISTS bench_copy_floor`) }()
	cols := []string{"id", "received_at", "seq", "tenant_id", "producer_id", "type", "source", "ce_id", "subject",
		"partition_key", "type_version", "body"}
	var rows atomic.Int64
	var seq atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				now := herald.Now()
				batch := make([][]any, 100)
				for i := range batch {
					id := herald.NewID(now)
					batch[i] = []any{[16]byte(id), now, seq.Add(1), [16]byte(id), [16]byte(id), benchType, "/bench",
						fmt.Sprint(seq.Load()), "", "k", int32(1), body}
				}
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					_, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_copy_floor"}, cols, pgx.CopyFromRows(batch))
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				rows.Add(100)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(rows.Load()) / d.Seconds(), nil
}
