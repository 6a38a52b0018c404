package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/secretbox"
)

// statsBenchTenantsSQL makes 20 tenants with five endpoints each.
const statsBenchTenantsSQL = `WITH t AS (
		INSERT INTO tenants (id, name)
		SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'bench ' || g FROM generate_series(1, 20) g
		RETURNING id
	)
	INSERT INTO endpoints (id, tenant_id, url, types, secret_enc)
	SELECT ('00000000-0000-4000-9000-' || lpad((right(t.id::text, 12)::int * 100 + e)::text, 12, '0'))::uuid, t.id,
		'https://receiver-' || right(t.id::text, 2) || '-' || e || '.example/hook', '{com.example.>}', '\x00'
	FROM t, generate_series(1, 5) e`

// statsBenchFillSQL stores $1 events of ~1 KB received evenly over [$2,
// $3) (numbered from $4), one delivery each to one of five endpoints of
// their tenant, the first tenant getting half of them. A tenth of the
// deliveries fail four attempts (0.05 s, 5 s, 5 min and 35 min after
// receipt); of those, the ones of the last six hours partly stay pending;
// the others succeed at once. Ids are UUIDv7 of the receive time, as
// herald.NewID makes them. Attempts not made by $3 are left out. Each
// table is written in time order, as Herald writes it.
const statsBenchFillSQL = `WITH ev AS MATERIALIZED (
		SELECT g, at, t, e, failing, stuck,
			(lpad(to_hex(floor(extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
				|| substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid AS event_id,
			(lpad(to_hex(floor(extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
				|| substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid AS id,
			('00000000-0000-4000-8000-' || lpad(t::text, 12, '0'))::uuid AS tenant_id,
			('00000000-0000-4000-9000-' || lpad((t * 100 + e)::text, 12, '0'))::uuid AS endpoint_id
		FROM (
			SELECT $4 + g AS g, date_trunc('milliseconds', $2::timestamptz + g * ($3::timestamptz - $2::timestamptz) / $1) AS at,
				CASE WHEN random() < 0.5 THEN 1 ELSE 2 + floor(random() * 19)::int END AS t,
				1 + floor(random() * 5)::int AS e, random() < 0.1 AS failing, random() < 0.3 AS stuck
			FROM generate_series(0, $1 - 1) g) r
	), events_in AS (
		INSERT INTO events (id, received_at, seq, tenant_id, producer_id, type, source, ce_id, body)
		SELECT event_id, at, g, tenant_id, tenant_id, 'com.example.order.created', '/shop', 'ev-' || g,
			convert_to(repeat(md5(g::text), 32), 'UTF8')
		FROM ev ORDER BY g
	), deliveries_in AS (
		INSERT INTO deliveries (id, created_at, event_id, endpoint_id, tenant_id, status, attempts, last_attempt_at,
			last_status_code, last_error, next_attempt_at)
		SELECT id, at, event_id, endpoint_id, tenant_id,
			CASE WHEN NOT failing THEN 'succeeded' WHEN stuck AND at > $3::timestamptz - interval '6 hours' THEN 'pending' ELSE 'failed' END,
			CASE WHEN failing THEN 4 ELSE 1 END, at, CASE WHEN failing THEN 500 ELSE 204 END,
			CASE WHEN failing THEN 'receiver answered HTTP 500' ELSE '' END,
			CASE WHEN failing AND stuck AND at > $3::timestamptz - interval '6 hours' THEN at + interval '3 hours' END
		FROM ev ORDER BY g
	)
	INSERT INTO delivery_attempts (delivery_id, delivery_created_at, attempt, attempted_at, status_code, latency_us,
		error, tenant_id, endpoint_id)
	SELECT id, at, n, at + (ARRAY[interval '50 ms', interval '5 s', interval '5 min', interval '35 min'])[n],
		CASE WHEN failing THEN 500 ELSE 204 END, 12000, CASE WHEN failing THEN 'receiver answered HTTP 500' ELSE '' END,
		tenant_id, endpoint_id
	FROM ev, generate_series(1, 4) n
	WHERE (n = 1 OR failing) AND at + (ARRAY[interval '50 ms', interval '5 s', interval '5 min', interval '35 min'])[n] < $3
	ORDER BY 4`

// BenchmarkStats reads the overview of the busiest tenant (half of the
// traffic) and of a small one (about 1/40) with a million deliveries in
// the store, received over the last day: the first 23 hours vacuumed, the
// last hour not, as autovacuum leaves a day's partition while it fills
// (index-only scans then visit the heap for the last hour's rows).
// HERALD_STATS_BENCH_DELIVERIES sets another size. Filling takes about a
// minute.
func BenchmarkStats(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("HERALD_STATS_BENCH_DELIVERIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("HERALD_STATS_BENCH_DELIVERIES: %v", err)
		}
	}
	ctx := context.Background()
	pool, err := postgres.OpenPool(ctx, heraldtest.NewDatabase(b), 8)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	store := postgres.New(pool, secretbox.New(secretbox.GenerateKey()))
	now := time.Now().UTC()
	start := time.Now()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`SELECT herald_ensure_partitions(current_date - 2, 4)`, nil},
		{statsBenchTenantsSQL, nil},
		{statsBenchFillSQL, []any{n - n/24, now.Add(-24 * time.Hour), now.Add(-time.Hour), 0}},
		{`VACUUM ANALYZE`, nil},
		{statsBenchFillSQL, []any{n / 24, now.Add(-time.Hour), now, n}},
		{`ANALYZE`, nil},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
	b.Logf("filled %d deliveries in %s", n, time.Since(start).Round(time.Second))

	for _, c := range []struct {
		name   string
		tenant int
		window time.Duration
	}{
		{"busiest/1h", 1, time.Hour},
		{"busiest/24h", 1, 24 * time.Hour},
		{"small/1h", 5, time.Hour},
		{"small/24h", 5, 24 * time.Hour},
	} {
		b.Run(c.name, func(b *testing.B) {
			tenant := uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012d", c.tenant))
			until := now.Truncate(time.Minute).Add(time.Minute)
			// The first read sets the hint bits of the unvacuumed hour,
			// once, as the first reader of those rows in production does.
			if _, err := store.Stats(ctx, tenant, until.Add(-c.window), until, time.Minute); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := store.Stats(ctx, tenant, until.Add(-c.window), until, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
