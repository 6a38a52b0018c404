package pull_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/pull"
	"github.com/heraldhq/herald/internal/secretbox"
)

func TestMain(m *testing.M) {
	os.Exit(heraldtest.Main(m, func(ctx context.Context, dsn string) error {
		pool, err := postgres.OpenPool(ctx, dsn, 4)
		if err != nil {
			return err
		}
		defer pool.Close()
		return postgres.Migrate(ctx, pool, slog.New(slog.DiscardHandler))
	}))
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fixture is a database with one consumer client and one group of it.
type fixture struct {
	t     *testing.T
	store *postgres.Store
	pool  *pgxpool.Pool
	group *herald.ConsumerGroup
}

func newFixture(t *testing.T, ackWait time.Duration) *fixture {
	t.Helper()
	pool, err := postgres.OpenPool(ctxT(t), heraldtest.NewDatabase(t), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := &fixture{t: t, store: postgres.New(pool, secretbox.New(secretbox.GenerateKey())), pool: pool}
	tn := &herald.Tenant{ID: uuid.New(), Name: "acme"}
	if err := f.store.TenantCreate(ctxT(t), tn); err != nil {
		t.Fatal(err)
	}
	key, secret := herald.NewCredential()
	c := &herald.Client{ID: uuid.New(), TenantID: tn.ID, Name: "consumer", Key: key, SecretHash: herald.HashSecret(secret),
		Roles: []herald.Role{herald.RoleConsumer}}
	if err := f.store.ClientCreate(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	f.group = &herald.ConsumerGroup{ID: uuid.New(), TenantID: tn.ID, ClientID: c.ID, Name: "orders",
		Types: []string{">"}, AckWait: ackWait}
	if err := pgx.BeginFunc(ctxT(t), pool, func(tx pgx.Tx) error {
		return f.store.ConsumerGroupCreate(ctxT(t), tx, f.group, herald.Start{Kind: herald.StartNew})
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// logged is an event written to the fixture's group log.
type logged struct {
	id        string
	key       string
	seq       int64
	partition int
}

// log stores n events with the CloudEvents ids prefix-0..n-1 and partition
// keys key(i), numbered from the log head, and writes them to the group's
// log as ingest does.
func (f *fixture) log(prefix string, n int, key func(i int) string) []logged {
	f.t.Helper()
	ctx := ctxT(f.t)
	var out []logged
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		var head int64
		if err := tx.QueryRow(ctx, `UPDATE log_head SET seq = seq + $1 RETURNING seq`, n).Scan(&head); err != nil {
			return err
		}
		for i := range n {
			ev := logged{id: fmt.Sprintf("%s-%d", prefix, i), key: key(i), seq: head - int64(n) + int64(i) + 1}
			ev.partition = herald.Partition(ev.key, ev.id)
			body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": ev.id, "source": "/shop",
				"type": "com.example.order.created", "partitionkey": ev.key, "data": map[string]any{"n": i}})
			id, at := uuid.New(), time.Now()
			if _, err := tx.Exec(ctx, `INSERT INTO events (id, received_at, seq, tenant_id, producer_id, type, source, ce_id,
					partition_key, body) VALUES ($1, $2, $3, $4, $5, 'com.example.order.created', '/shop', $6, $7, $8)`,
				id, at, ev.seq, f.group.TenantID, uuid.New(), ev.id, ev.key, body); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO group_log (group_id, partition, seq, event_id, received_at)
					VALUES ($1, $2, $3, $4, $5)`, f.group.ID, ev.partition, ev.seq, id, at); err != nil {
				return err
			}
			out = append(out, ev)
		}
		return f.store.GroupLogNotify(ctx, tx, []uuid.UUID{f.group.ID})
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) engine(cfg pull.Config) *pull.Engine {
	cfg.Logger = heraldtest.Logger(f.t)
	return pull.New(f.store, cfg)
}

func (f *fixture) join(e *pull.Engine) *pull.Instance {
	f.t.Helper()
	inst, err := e.Join(ctxT(f.t), f.group, pull.KindPoll)
	if err != nil {
		f.t.Fatal(err)
	}
	return inst
}

// held returns the partitions each instance of the group holds.
func (f *fixture) held() map[uuid.UUID][]int {
	f.t.Helper()
	rows, err := f.pool.Query(ctxT(f.t), `SELECT owner, partition FROM group_cursors WHERE group_id = $1 AND owner IS NOT NULL
		ORDER BY partition`, f.group.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[uuid.UUID][]int{}
	for rows.Next() {
		var o uuid.UUID
		var p int16
		if err := rows.Scan(&o, &p); err != nil {
			f.t.Fatal(err)
		}
		out[o] = append(out[o], int(p))
	}
	return out
}

// ackedUpto returns each partition's cursor.
func (f *fixture) ackedUpto() []int64 {
	f.t.Helper()
	parts, err := f.store.GroupPartitions(ctxT(f.t), f.group.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]int64, len(parts))
	for i, p := range parts {
		out[i] = p.AckedUpto
	}
	return out
}

func (f *fixture) inFlight() int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(ctxT(f.t), `SELECT count(*) FROM group_inflight WHERE group_id = $1`, f.group.ID).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func fetch(t *testing.T, e *pull.Engine, inst *pull.Instance, max int) []pull.Delivery {
	t.Helper()
	b, err := e.Fetch(ctxT(t), inst, max)
	if err != nil {
		t.Fatal(err)
	}
	return b.Events
}

// ceIDs returns the CloudEvents ids of deliveries, checking each carries
// its sequence, partition and receive time as extensions.
func ceIDs(t *testing.T, ds []pull.Delivery) []string {
	t.Helper()
	var out []string
	for _, d := range ds {
		var ev map[string]any
		if err := json.Unmarshal(d.Event, &ev); err != nil {
			t.Fatal(err)
		}
		if ev["sequence"] != herald.FormatSeq(d.Seq) || ev["partition"] != float64(d.Partition) {
			t.Fatalf("event %v: sequence %v partition %v, want %s and %d", ev["id"], ev["sequence"], ev["partition"],
				herald.FormatSeq(d.Seq), d.Partition)
		}
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(ev["receivedat"])); err != nil {
			t.Fatalf("event %v: receivedat %v: %v", ev["id"], ev["receivedat"], err)
		}
		out = append(out, ev["id"].(string))
	}
	return out
}
