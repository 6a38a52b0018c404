package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/migrations"
)

// emptyDatabase creates a database with nothing of Herald's or River's in
// it (a copy of template0) and returns its connection string.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	admin, err := pgx.Connect(ctxT(t), heraldtest.ConnString(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "herald_empty_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctxT(t), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, heraldtest.ConnString(t, "postgres"))
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return heraldtest.ConnString(t, name)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// regclassExists reports whether a relation of that name exists.
func regclassExists(t *testing.T, db postgres.DBTX, name string) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRow(ctxT(t), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func schemaVersion(t *testing.T, db postgres.DBTX) int {
	t.Helper()
	v, err := postgres.SchemaVersion(ctxT(t), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// heraldTables are tables the migrations create.
var heraldTables = []string{
	"herald_state", "tenants", "clients", "event_types", "event_type_versions", "endpoints",
	"event_keys", "events", "deliveries", "delivery_attempts", "connectors", "connector_runs",
}

// migrationVersions lists the versions of the embedded migrations, in
// order.
func migrationVersions(t *testing.T) []int {
	t.Helper()
	entries, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, name := range entries {
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func TestLatestVersion(t *testing.T) {
	t.Parallel()
	if v := postgres.LatestVersion(); v < 1 {
		t.Fatalf("LatestVersion() = %d, want >= 1", v)
	}
}

func TestMigrateFreshDatabaseIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	pool := openPool(t, emptyDatabase(t), 4)

	if regclassExists(t, pool, "events") {
		t.Fatal("events exists before Migrate")
	}
	for i := range 2 {
		if err := postgres.Migrate(ctx, pool, discard()); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		if got, want := schemaVersion(t, pool), postgres.LatestVersion(); got != want {
			t.Fatalf("after Migrate #%d: SchemaVersion = %d, want %d", i+1, got, want)
		}
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM herald_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := len(migrationVersions(t)); n != want {
			t.Fatalf("after Migrate #%d: %d rows in herald_migrations, want %d", i+1, n, want)
		}
		for _, tbl := range append(heraldTables, "river_job") {
			if !regclassExists(t, pool, tbl) {
				t.Errorf("after Migrate #%d: table %s missing", i+1, tbl)
			}
		}
	}
	if v := configVersion(t, pool); v != 1 {
		t.Errorf("ConfigVersion on a fresh database = %d, want 1", v)
	}
}

func TestMigrateDownRemovesTablesAndMigrateRestores(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	pool := openPool(t, heraldtest.NewDatabase(t), 4)

	if err := postgres.MigrateDown(ctx, pool, postgres.LatestVersion(), discard()); err != nil {
		t.Fatalf("MigrateDown: %v", err)
	}
	if v := schemaVersion(t, pool); v != 0 {
		t.Fatalf("SchemaVersion after MigrateDown all = %d, want 0", v)
	}
	for _, tbl := range heraldTables {
		if regclassExists(t, pool, tbl) {
			t.Errorf("table %s still exists after MigrateDown", tbl)
		}
	}
	// The down file must clean up everything the up file made, or the
	// second Migrate below would fail on "already exists".
	if !regclassExists(t, pool, "river_job") {
		t.Error("MigrateDown removed River's tables; it should leave them")
	}
	// Going further down than there is is a no-op.
	if err := postgres.MigrateDown(ctx, pool, 1, discard()); err != nil {
		t.Fatalf("MigrateDown with nothing applied: %v", err)
	}

	if err := postgres.Migrate(ctx, pool, discard()); err != nil {
		t.Fatalf("Migrate after MigrateDown: %v", err)
	}
	if got, want := schemaVersion(t, pool), postgres.LatestVersion(); got != want {
		t.Fatalf("SchemaVersion after re-Migrate = %d, want %d", got, want)
	}
	for _, tbl := range heraldTables {
		if !regclassExists(t, pool, tbl) {
			t.Errorf("table %s missing after re-Migrate", tbl)
		}
	}
	if v := configVersion(t, pool); v != 1 {
		t.Errorf("ConfigVersion after re-Migrate = %d, want 1", v)
	}
}

func TestMigrateDownOneStep(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	pool := openPool(t, heraldtest.NewDatabase(t), 4)
	latest := postgres.LatestVersion()
	versions := migrationVersions(t)
	previous := 0 // the version below the latest (numbers may have gaps)
	if len(versions) > 1 {
		previous = versions[len(versions)-2]
	}
	if err := postgres.MigrateDown(ctx, pool, 1, discard()); err != nil {
		t.Fatalf("MigrateDown 1: %v", err)
	}
	if got := schemaVersion(t, pool); got != previous {
		t.Fatalf("SchemaVersion after MigrateDown 1 = %d, want %d", got, previous)
	}
	if latest == 1 && regclassExists(t, pool, "events") {
		t.Fatal("events still exists after reverting the only migration")
	}
	if err := postgres.Migrate(ctx, pool, discard()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if got := schemaVersion(t, pool); got != latest {
		t.Fatalf("SchemaVersion = %d, want %d", got, latest)
	}
	if !regclassExists(t, pool, "events") {
		t.Fatal("events missing after Migrate")
	}
}

// Two nodes starting at once both migrate the same empty database; the
// advisory lock makes one wait for the other.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dsn := emptyDatabase(t)
	const nodes = 2
	pools := make([]postgres.DBTX, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range nodes {
		pool := openPool(t, dsn, 4) // each node has its own pool
		pools[i] = pool
		wg.Go(func() {
			<-start
			errs[i] = postgres.Migrate(ctx, pool, discard())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: Migrate: %v", i, err)
		}
	}
	if got, want := schemaVersion(t, pools[0]), postgres.LatestVersion(); got != want {
		t.Fatalf("SchemaVersion = %d, want %d", got, want)
	}
	var n int
	if err := pools[0].QueryRow(ctx, `SELECT count(*) FROM herald_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := len(migrationVersions(t)); n != want {
		t.Fatalf("%d rows in herald_migrations, want %d (a migration applied twice?)", n, want)
	}
}

func TestPartitionsEnsure(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	pool := openPool(t, heraldtest.NewDatabase(t), 4)

	// The names of today..today+2 (UTC), as the database counts days.
	var days []string
	rows, err := pool.Query(ctx, `SELECT to_char((now() AT TIME ZONE 'UTC')::date + i, 'YYYYMMDD') FROM generate_series(0, 2) i`)
	if err != nil {
		t.Fatal(err)
	}
	days, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if today := time.Now().UTC().Format("20060102"); days[0] != today {
		// Only differs if the test straddles midnight UTC.
		t.Logf("database day %s, Go day %s", days[0], today)
	}
	tables := []string{"events", "deliveries", "delivery_attempts"}

	// The template was migrated with partitions ahead; drop the ones for
	// the coming days so PartitionsEnsure has to make them.
	for _, tbl := range tables {
		for _, d := range days {
			if _, err := pool.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS %s_%s`, tbl, d)); err != nil {
				t.Fatal(err)
			}
			if regclassExists(t, pool, tbl+"_"+d) {
				t.Fatalf("%s_%s still exists", tbl, d)
			}
		}
	}

	for i := range 2 { // the second call must be a no-op
		if err := postgres.PartitionsEnsure(ctx, pool, 3); err != nil {
			t.Fatalf("PartitionsEnsure #%d: %v", i+1, err)
		}
		for _, tbl := range tables {
			for _, d := range days {
				name := tbl + "_" + d
				var parent string
				err := pool.QueryRow(ctx, `SELECT i.inhparent::regclass::text FROM pg_inherits i
					WHERE i.inhrelid = to_regclass($1)`, name).Scan(&parent)
				if err != nil {
					t.Fatalf("after PartitionsEnsure #%d: partition %s: %v", i+1, name, err)
				}
				if parent != tbl {
					t.Errorf("%s is a partition of %s, want %s", name, parent, tbl)
				}
			}
		}
	}

	// A row received today lands in today's partition, not the default.
	var part string
	if err := pool.QueryRow(ctx, `WITH x AS (
			INSERT INTO events (id, received_at, seq, tenant_id, producer_id, type, source, ce_id, body)
			VALUES (gen_random_uuid(), now(), 1, gen_random_uuid(), gen_random_uuid(), 't', 's', 'c', '')
			RETURNING tableoid) SELECT tableoid::regclass::text FROM x`).Scan(&part); err != nil {
		t.Fatal(err)
	}
	if want := "events_" + days[0]; part != want && part != "events_"+time.Now().UTC().Format("20060102") {
		t.Errorf("row received now is in %s, want %s", part, want)
	}
}

// TestMigrateConcurrentSharedSmallPool: callers sharing a pool of two
// connections both finish; the one waiting for the lock must not hold the
// connection the lock holder needs for River's migrations.
func TestMigrateConcurrentSharedSmallPool(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	pool := openPool(t, emptyDatabase(t), 2)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = postgres.Migrate(ctx, pool, discard()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: Migrate: %v", i, err)
		}
	}
	if got, want := schemaVersion(t, pool), postgres.LatestVersion(); got != want {
		t.Fatalf("SchemaVersion = %d, want %d", got, want)
	}
}

// TestExpire: retention drops whole old days of the log and their
// idempotency keys, and keeps recent ones.
func TestExpire(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	pool := openPool(t, heraldtest.NewDatabase(t), 4)
	now := time.Now().UTC()
	old := now.Add(-20 * 24 * time.Hour)
	if _, err := pool.Exec(ctx, `SELECT herald_ensure_partitions($1::date, 1)`, old); err != nil {
		t.Fatal(err)
	}
	oldTable := "events_" + old.Format("20060102")
	if !regclassExists(t, pool, oldTable) {
		t.Fatalf("%s was not created", oldTable)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO event_keys (tenant_id, source, ce_id, event_id, received_at)
		VALUES (gen_random_uuid(), '/old', 'a', gen_random_uuid(), $1), (gen_random_uuid(), '/new', 'b', gen_random_uuid(), $2)`,
		old, now); err != nil {
		t.Fatal(err)
	}
	res, err := postgres.Expire(ctx, pool, 7*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	n := res.Tables
	if n < 3 || regclassExists(t, pool, oldTable) || regclassExists(t, pool, "delivery_attempts_"+old.Format("20060102")) {
		t.Fatalf("dropped %d tables; %s still there: %v", n, oldTable, regclassExists(t, pool, oldTable))
	}
	if !regclassExists(t, pool, "events_"+now.Format("20060102")) {
		t.Fatal("today's partition was dropped")
	}
	var keys []string
	rows, err := pool.Query(ctx, `SELECT source FROM event_keys`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		keys = append(keys, s)
	}
	rows.Close()
	if len(keys) != 1 || keys[0] != "/new" {
		t.Fatalf("event keys left: %v", keys)
	}
}
