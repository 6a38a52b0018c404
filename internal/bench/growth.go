package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// fillType is the type the growth phase fills the store with: small
// events that only the measured group reads, so the fill queues no
// webhook deliveries.
const fillType = "bench.fill.recorded"

// growthBacklog is the events each growth measurement drains.
const growthBacklog = 20000

// GrowthResult is one measurement of the growth phase.
type GrowthResult struct {
	// Stored is the events in the store when it ran.
	Stored int64
	// Rate is the events/s one long-poll instance read and acked.
	Rate float64
	// FetchP50 and FetchP99 are the times of one fetch of 100 events.
	FetchP50, FetchP99 time.Duration
	// Ingest is batch ingest's events/s (batches of 100, one endpoint,
	// deliveries paused) for growthIngest; Deliveries the rate at which
	// the backlog it left was delivered.
	Ingest, Deliveries float64
}

// growthIngest is how long the growth phase ingests at each size.
const growthIngest = 10 * time.Second

// growth measures the cost of fetching, ingesting and delivering with few
// and with many stored events: the store is filled to small events, the
// group is moved to the head, and one instance drains a fresh backlog of
// growthBacklog events exactly as the pull-poll phase does; then
// clients producers ingest batches of 100 for growthIngest with
// deliveries paused, as the batch phase does, and burn (the deliveries
// phase's burn-down) delivers what they left. Then the store is filled to
// large and the same is measured again. The group reads the fill events
// too, so its own log holds every stored event, as a group reading a busy
// type's stream for months would. The fill events have no deliveries: the
// deliveries table holds only what the bench's own phases queued.
func (b *bencher) growth(ctx context.Context, a *app.App, small, large int64, clients int,
	burn func(name string) (float64, error), say func(string, ...any)) ([]GrowthResult, error) {
	adm := [2]string{"bench", "bench-secret-0123456789"}
	tenant, err := b.call("GET", "/v1/tenants", adm, nil)
	if err != nil {
		return nil, err
	}
	tenantID := tenant["data"].([]any)[0].(map[string]any)["id"]
	if _, err := b.call("PUT", "/v1/event-types/"+fillType, adm, map[string]any{
		"tenant": tenantID, "schema": map[string]any{"type": "object"},
		"producers": []any{b.producerID}, "consumers": []any{b.consumerID},
	}); err != nil {
		return nil, err
	}
	if _, err := b.call("POST", "/v1/consumer-groups", b.consumer, map[string]any{"name": "bench-growth",
		"types": []string{benchType, fillType}}); err != nil {
		return nil, err
	}
	var out []GrowthResult
	for _, size := range []int64{small, large} {
		start := time.Now()
		stored, err := b.fill(ctx, a, size)
		if err != nil {
			return nil, err
		}
		say("  store filled to %d events in %s", stored, time.Since(start).Round(time.Second))
		// A store that grew over months has been vacuumed, analyzed and
		// checkpointed; one filled a minute ago still owes that work, which
		// would run during the measurement and be counted as fetch cost.
		start = time.Now()
		if err := settle(ctx, a); err != nil {
			return nil, err
		}
		say("  vacuumed, analyzed and checkpointed in %s", time.Since(start).Round(time.Second))
		if _, err := b.call("POST", "/v1/consumer-groups/bench-growth/seek", b.consumer, map[string]any{"start": "new"}); err != nil {
			return nil, err
		}
		// The median of a few drains: one drain lasts seconds, and the
		// machine may be doing other work for some of them.
		var runs []GrowthResult
		for range growthRuns {
			r, err := b.drainMeasured(ctx, a, "bench-growth", growthBacklog, false)
			if err != nil {
				return nil, err
			}
			runs = append(runs, r)
		}
		slices.SortFunc(runs, func(x, y GrowthResult) int { return cmp.Compare(x.Rate, y.Rate) })
		r := runs[len(runs)/2]
		r.Stored = stored
		if err := a.Queue().PauseDeliveries(ctx); err != nil {
			return nil, err
		}
		n, _ := b.run(growthIngest, clients, 100)
		r.Ingest = float64(n) / growthIngest.Seconds()
		if r.Deliveries, err = burn(fmt.Sprintf("growth-deliveries-%d", size)); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// growthRuns is the drains measured at each size (the median counts).
const growthRuns = 3

// fill ingests small fill events in batches of 100 from 8 producers until
// the store holds at least n events, and returns how many it holds.
func (b *bencher) fill(ctx context.Context, a *app.App, n int64) (int64, error) {
	stored := func() (int64, error) {
		var c int64
		err := a.Pool().QueryRow(ctx, `SELECT seq FROM log_head`).Scan(&c)
		return c, err
	}
	have, err := stored()
	if err != nil {
		return 0, fmt.Errorf("fill: %w", err)
	}
	var next atomic.Int64
	next.Store(have)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for !failed.Load() && ctx.Err() == nil {
				last := next.Add(100)
				if last-100 >= n {
					return
				}
				buf = append(buf[:0], '[')
				for i := range int64(100) {
					if i > 0 {
						buf = append(buf, ',')
					}
					buf = fmt.Appendf(buf, `{"specversion":"1.0","id":"f-%d","source":"/bench/fill","type":%q,`+
						`"partitionkey":"k-%d","data":{"reading":%d,"unit":"kWh","meter":"m-%d"}}`,
						last-100+i, fillType, i%1000, last, i)
				}
				buf = append(buf, ']')
				if !b.post(buf, "application/cloudevents-batch+json") {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		return 0, fmt.Errorf("fill: a batch was refused")
	}
	return stored()
}

// settle does the vacuum and checkpoint a backlog just ingested owes, so
// that they do not run during the drain measured next and count against
// it (a store in production does them in its own time).
func settle(ctx context.Context, a *app.App) error {
	if _, err := a.Pool().Exec(ctx, `VACUUM (ANALYZE)`); err != nil {
		return fmt.Errorf("settle the store: %w", err)
	}
	if _, err := a.Pool().Exec(ctx, `CHECKPOINT`); err != nil {
		return fmt.Errorf("settle the store: %w", err)
	}
	return nil
}

// drainMeasured ingests a backlog of n bench events for the group, settles
// the store and drains it with one new long-poll instance (batches of 100,
// each acked by id), timing each fetch. A pipelined consumer acks each
// batch while it fetches the next (one ack outstanding at a time); the
// other acks before it fetches again.
func (b *bencher) drainMeasured(ctx context.Context, a *app.App, group string, n int, pipelined bool) (GrowthResult, error) {
	inst, err := b.call("POST", "/v1/consumer-groups/"+group+"/instances", b.consumer, nil)
	if err != nil {
		return GrowthResult{}, err
	}
	base := inst["base_uri"].(string)
	defer func() { _, _ = b.call("DELETE", strings.TrimPrefix(base, b.base), b.consumer, nil) }()
	if err := b.backlog(n); err != nil {
		return GrowthResult{}, err
	}
	if err := settle(ctx, a); err != nil {
		return GrowthResult{}, err
	}
	var fetches []time.Duration
	ack := func(ids []string) error {
		_, err := b.call("POST", strings.TrimPrefix(base, b.base)+"/ack", b.consumer, map[string]any{"ids": ids})
		return err
	}
	// acked carries the outcome of the ack in progress (pipelined: one
	// batch's ack runs while the next batch is fetched).
	var acked chan error
	start := time.Now()
	got := 0
	for got < n {
		t0 := time.Now()
		ids, err := b.fetch(base + "/events?max=100&wait=5s")
		if err != nil {
			return GrowthResult{}, err
		}
		if len(ids) == 0 {
			return GrowthResult{}, fmt.Errorf("long poll: %d of %d events, then none for 5s", got, n)
		}
		fetches = append(fetches, time.Since(t0))
		if acked != nil {
			if err := <-acked; err != nil {
				return GrowthResult{}, err
			}
			acked = nil
		}
		if pipelined {
			acked = make(chan error, 1)
			go func() { acked <- ack(ids) }()
		} else if err := ack(ids); err != nil {
			return GrowthResult{}, err
		}
		got += len(ids)
	}
	if acked != nil {
		if err := <-acked; err != nil {
			return GrowthResult{}, err
		}
	}
	rate := float64(got) / time.Since(start).Seconds()
	return GrowthResult{Rate: rate, FetchP50: pct(fetches, 50), FetchP99: pct(fetches, 99)}, nil
}
