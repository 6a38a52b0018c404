package bench

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// burnDownResult is what a burn-down measured.
type burnDownResult struct {
	rate      float64 // deliveries/s reaching the receiver
	queued    int64   // pending deliveries when it began
	delivered int64   // deliveries the receiver got
	failed    int64   // deliveries that failed for good meanwhile
	cpu       cpuUse
}

// burnDownOf resumes deliveries and measures how fast the queued backlog
// reaches the receiver rc; prof profiles it under name.
func burnDownOf(ctx context.Context, a *app.App, rc *receiver, prof func(string) func() cpuUse, name string) (burnDownResult, error) {
	var r burnDownResult
	backlog := rc.count.Load()
	if err := a.Pool().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&r.queued); err != nil {
		return r, err
	}
	var failedBefore int64
	_ = a.Pool().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'failed'`).Scan(&failedBefore)
	done := prof(name)
	start := time.Now()
	if err := a.Queue().ResumeDeliveries(ctx); err != nil {
		done()
		return r, err
	}
	deadline := start.Add(10 * time.Minute)
	for i := 0; rc.count.Load()-backlog < r.queued && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		time.Sleep(20 * time.Millisecond)
		if i%50 == 49 { // deliveries that failed for good never reach the receiver
			var pending int64
			if err := a.Pool().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&pending); err == nil && pending == 0 {
				break
			}
		}
	}
	r.delivered = rc.count.Load() - backlog
	r.rate = float64(r.delivered) / time.Since(start).Seconds()
	r.cpu = done()
	_ = a.Pool().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'failed'`).Scan(&r.failed)
	r.failed -= failedBefore
	return r, nil
}
