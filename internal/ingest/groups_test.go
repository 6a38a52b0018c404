package ingest_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/ingest"
)

// group creates a consumer group of the env's consumer from the end of the
// log.
func (e *env) group(name, filter string, patterns ...string) *herald.ConsumerGroup {
	e.t.Helper()
	g := &herald.ConsumerGroup{ID: uuid.New(), TenantID: e.tenant.ID, ClientID: e.consumer.ID, Name: name,
		Types: patterns, AckWait: herald.DefaultAckWait}
	if filter != "" {
		g.Filter = []byte(filter)
	}
	if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		return e.store.ConsumerGroupCreate(e.ctx, tx, g, herald.Start{Kind: herald.StartNew})
	}); err != nil {
		e.t.Fatal(err)
	}
	return g
}

// logRows returns a group's log as "seq/partition/event" strings in seq order.
func (e *env) logRows(g *herald.ConsumerGroup) []string {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT seq, partition, event_id FROM group_log WHERE group_id = $1 ORDER BY seq`, g.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var seq int64
		var part int16
		var id uuid.UUID
		if err := rows.Scan(&seq, &part, &id); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d/%d/%s", seq, part, id))
	}
	return out
}

// TestIngestWritesGroupLogs: the ingest transaction writes one group log
// row per (event, group the routing rule gives it), in the event's
// partition (its partitionkey, else its id), with the event's sequence;
// a duplicate writes none.
func TestIngestWritesGroupLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{})
	all := e.group("all", "", ">")
	big := e.group("big", `{"data": "$.qty", "gte": 5}`, "com.example.order.*")
	none := e.group("none", "", "com.example.invoice.>")

	keyed := order("k-1", `{"order":"a","qty":9}`)
	keyed.Extensions = map[string]any{"partitionkey": "customer-42"}
	plain := order("p-1", `{"order":"b","qty":1}`)
	stored, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{keyed, plain})
	if err != nil {
		t.Fatal(err)
	}
	want := func(i int, part int) string {
		return fmt.Sprintf("%d/%d/%s", stored[i].Seq, part, stored[i].ID)
	}
	kp, pp := herald.Partition("customer-42", "k-1"), herald.Partition("", "p-1")
	if got := e.logRows(all); !slices.Equal(got, []string{want(0, kp), want(1, pp)}) {
		t.Errorf("all: %v", got)
	}
	if got := e.logRows(big); !slices.Equal(got, []string{want(0, kp)}) {
		t.Errorf("big: %v", got)
	}
	if got := e.logRows(none); len(got) != 0 {
		t.Errorf("none: %v", got)
	}
	if stored[1].Seq != stored[0].Seq+1 {
		t.Errorf("batch order: seqs %d, %d", stored[0].Seq, stored[1].Seq)
	}
	if _, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{order("k-1", `{"order":"a","qty":9}`)}); err != nil {
		t.Fatal(err)
	}
	if got := e.logRows(all); len(got) != 2 {
		t.Errorf("a duplicate wrote group rows: %v", got)
	}
}

// TestGroupCreatedDuringIngestMissesNothing: groups created while
// committers write get every event numbered after their creation sequence
// (the part of the log a backfill does not cover), even when a commit was
// routed with a snapshot older than the group.
func TestGroupCreatedDuringIngestMissesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{Committers: 4, MaxBatch: 20})
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for p := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				evs := []*cloudevents.Event{order(fmt.Sprintf("g%d-%d", p, i), `{"order":"o","qty":1}`)}
				if _, err := e.svc.Ingest(e.ctx, e.producer, evs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var groups []*herald.ConsumerGroup
	for i := range 20 {
		groups = append(groups, e.group(fmt.Sprint("g", i), "", ">"))
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, g := range groups {
		var missing int
		if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM events e WHERE e.seq > $1
			AND NOT EXISTS (SELECT 1 FROM group_log l WHERE l.group_id = $2 AND l.seq = e.seq)`,
			g.CreatedSeq, g.ID).Scan(&missing); err != nil {
			t.Fatal(err)
		}
		var extra int
		if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM group_log WHERE group_id = $1 AND seq <= $2`,
			g.ID, g.CreatedSeq).Scan(&extra); err != nil {
			t.Fatal(err)
		}
		if missing > 0 || extra > 0 {
			t.Errorf("group %s (created at %d): %d later events missing from its log, %d earlier ones in it",
				g.Name, g.CreatedSeq, missing, extra)
		}
	}
}
