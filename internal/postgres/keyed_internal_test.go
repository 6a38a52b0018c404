package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// keyedPools opens a main pool and a keyed pool on a database of the
// test's own, both closed when it ends.
func keyedPools(ctx context.Context, t *testing.T) (pool, keyed *pgxpool.Pool) {
	t.Helper()
	dsn := heraldtest.NewDatabase(t)
	pool, err := OpenPool(ctx, dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	keyed, err = OpenKeyedPool(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keyed.Close)
	return pool, keyed
}

// TestKeyedPlansReadByKey: the delivery path's statements, planned once on
// a keyed connection, read a day whose partition was analyzed while empty
// (a database-wide ANALYZE before the day began) by its key index. The
// control shows the hazard the keyed settings guard against: the same
// generic plan on an ordinary connection reads that day with a sequential
// scan, which a cached plan would go on doing as the day fills.
func TestKeyedPlansReadByKey(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, keyed := keyedPools(ctx, t)
	if err := PartitionsEnsure(ctx, pool, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}

	day := time.Now().UTC().AddDate(0, 0, 3).Truncate(24 * time.Hour).Add(10 * time.Hour).Format(time.RFC3339)
	one := func(typ, v string) string { return fmt.Sprintf("array[%s]::%s[]", v, typ) }
	at := "'" + day + "'"
	statements := []struct {
		name, sql string
		args      []string
	}{
		{"delivery load", deliveryLoadSQL, []string{one("uuid", "gen_random_uuid()"), one("timestamptz", at), at, at}},
		{"attempt record", attemptsRecordSQL, []string{
			one("uuid", "gen_random_uuid()"), one("timestamptz", at), one("int", "1"), one("timestamptz", at),
			one("int", "500"), one("bigint", "1000"), one("text", "'boom'"), one("bytea", "''"), one("text", "'failed'"),
			one("timestamptz", "null"), at, at, one("uuid", "gen_random_uuid()"), one("uuid", "gen_random_uuid()")}},
	}
	plan := func(p *pgxpool.Pool, generic bool, name, sql string, args []string) string {
		t.Helper()
		conn, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		if generic {
			if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
				t.Fatal(err)
			}
			defer func() { _, _ = conn.Exec(ctx, `RESET plan_cache_mode`) }()
		}
		if _, err := conn.Exec(ctx, `PREPARE keyed_check AS `+sql); err != nil {
			t.Fatalf("%s: prepare: %v", name, err)
		}
		defer func() { _, _ = conn.Exec(ctx, `DEALLOCATE keyed_check`) }()
		rows, err := conn.Query(ctx, `EXPLAIN EXECUTE keyed_check(`+strings.Join(args, ", ")+`)`)
		if err != nil {
			t.Fatalf("%s: explain: %v", name, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			out = append(out, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: explain: %v", name, err)
		}
		return strings.Join(out, "\n")
	}
	seqScan := func(plan string) bool {
		return strings.Contains(plan, "Seq Scan on deliveries_") || strings.Contains(plan, "Seq Scan on events_")
	}
	for _, st := range statements {
		got := plan(keyed, false, st.name, st.sql, st.args)
		if !strings.Contains(got, "Subplans Removed") {
			t.Errorf("%s on a keyed connection: not a generic plan pruned at execution:\n%s", st.name, got)
		}
		if seqScan(got) {
			t.Errorf("%s on a keyed connection reads a day analyzed empty sequentially:\n%s", st.name, got)
		}
		if control := plan(pool, true, st.name, st.sql, st.args); !seqScan(control) {
			t.Errorf("%s: control: a generic plan on an ordinary connection no longer reads a day analyzed empty sequentially, so this test shows nothing:\n%s", st.name, control)
		}
	}
}

// TestKeyedPoolAsPartitionsGrow: the keyed pool serves the delivery path
// while deliveries has at most KeyedMaxPartitions daily partitions; past
// that, statements planned each time take over, and a refresh after days
// are dropped brings the keyed pool back.
func TestKeyedPoolAsPartitionsGrow(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, keyed := keyedPools(ctx, t)
	s := New(pool, nil)
	if s.keyedPool() != pool {
		t.Fatal("without a keyed pool, the delivery path must use the main pool")
	}
	if err := s.UseKeyedPool(ctx, keyed); err != nil {
		t.Fatal(err)
	}
	if s.keyedPool() != keyed {
		t.Fatal("a fresh store does not use its keyed pool")
	}
	if _, err := pool.Exec(ctx, `SELECT herald_ensure_partitions(current_date - 400, $1)`, KeyedMaxPartitions); err != nil {
		t.Fatal(err)
	}
	if err := s.KeyedRefresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s.keyedPool() != pool {
		t.Fatalf("with more than %d partitions the keyed pool is still used", KeyedMaxPartitions)
	}
	if _, err := pool.Exec(ctx, `SELECT herald_drop_partitions(current_date - 30)`); err != nil {
		t.Fatal(err)
	}
	if err := s.KeyedRefresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s.keyedPool() != keyed {
		t.Fatal("after old days were dropped the keyed pool is not used again")
	}
}
