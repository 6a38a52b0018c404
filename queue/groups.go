package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// GroupBackfillArgs is the background job that writes a consumer group's
// log from stored events (a group created to start in the past, a seek
// backwards); its progress is the group's backfill cursor.
type GroupBackfillArgs struct {
	GroupID uuid.UUID `json:"g"`
}

// Kind names the job for River.
func (GroupBackfillArgs) Kind() string { return "herald.group_backfill" }

// InsertOpts keeps backfills off the delivery queue, as replays.
func (GroupBackfillArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: maxJobAttempts}
}

// backfillPage is how many events one step examines; a run makes
// replayStepsPerRun steps before yielding.
const backfillPage = 1000

type groupBackfillWorker struct {
	river.WorkerDefaults[GroupBackfillArgs]
	q *Queue
}

// Work pages through the stored events of the group's backfill range in
// seq order and writes a log row for each one routing gives the group, the
// same decision ingest makes (catalog.Snapshot.Receivers). The range ends
// at the group's creation sequence (or where its log began), and ingest
// wrote every later event, so the two meet without a gap; rows are written
// idempotently, so they meet without duplicates too.
func (w *groupBackfillWorker) Work(ctx context.Context, job *river.Job[GroupBackfillArgs]) error {
	id := job.Args.GroupID
	for step := 0; step < replayStepsPerRun; step++ {
		g, err := w.q.store.ConsumerGroupByID(ctx, id)
		if errors.Is(err, herald.ErrNotFound) {
			return nil // deleted
		}
		if err != nil {
			return fmt.Errorf("backfill group %s: %w", id, err)
		}
		if g.Backfill == nil {
			return nil // done
		}
		more, err := w.page(ctx, g)
		if err != nil || !more {
			return err
		}
	}
	return river.JobSnooze(0) // more to do: continue in a fresh run
}

// page writes the rows of the next page and reports whether to go on.
func (w *groupBackfillWorker) page(ctx context.Context, g *herald.ConsumerGroup) (bool, error) {
	snap, err := w.q.snapshot(ctx)
	if err != nil {
		return false, err
	}
	reach, ok := snap.GroupReach(g.ID)
	if !ok {
		// The group is newer than this node's snapshot, which catches up
		// within its maximum age (a deleted group ends the job in Work).
		return false, river.JobSnooze(time.Second)
	}
	bf := *g.Backfill
	evs, err := w.q.store.ConsumerGroupBackfillPage(ctx, g, bf.Cursor, bf.To, reach.Types, reach.OwnTypes,
		reach.Filtered, backfillPage)
	if err != nil {
		return false, err
	}
	next := bf.To
	if len(evs) == backfillPage {
		next = evs[len(evs)-1].Seq
	}
	var rows []postgres.GroupLogRow
	for _, ev := range evs {
		if snap.Receivers(catalog.StoredEvent(ev)).ReceivedBy(g.ID) {
			rows = append(rows, postgres.GroupLogRow{GroupID: g.ID, Partition: herald.Partition(ev.PartitionKey, ev.CEID),
				Seq: ev.Seq, EventID: ev.ID, ReceivedAt: ev.ReceivedAt})
		}
	}
	var moved bool
	err = pgx.BeginFunc(ctx, w.q.pool, func(tx pgx.Tx) error {
		moved, err = w.q.store.ConsumerGroupBackfillAdvance(ctx, tx, g.ID, bf.Cursor, next, rows)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("backfill group %s: %w", g.ID, err)
	}
	// Not moved: a seek restarted the range (and queued its own job).
	return moved && next < bf.To, nil
}

// CreateGroup stores a consumer group at its start position and, when the
// start reaches back into stored events, queues its backfill, in one
// transaction.
func (q *Queue) CreateGroup(ctx context.Context, g *herald.ConsumerGroup, start herald.Start) error {
	return pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		if err := q.store.ConsumerGroupCreate(ctx, tx, g, start); err != nil {
			return err
		}
		return q.queueBackfill(ctx, tx, g)
	})
}

// SeekGroup moves a group's cursors to a start position and queues the
// backfill a seek backwards needs, in one transaction.
func (q *Queue) SeekGroup(ctx context.Context, g *herald.ConsumerGroup, start herald.Start) error {
	return pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		if err := q.store.ConsumerGroupSeek(ctx, tx, g, start); err != nil {
			return err
		}
		return q.queueBackfill(ctx, tx, g)
	})
}

func (q *Queue) queueBackfill(ctx context.Context, tx pgx.Tx, g *herald.ConsumerGroup) error {
	if g.Backfill == nil {
		return nil
	}
	if _, err := q.client.InsertTx(ctx, tx, GroupBackfillArgs{GroupID: g.ID}, nil); err != nil {
		return fmt.Errorf("enqueue backfill of group %s: %w", g.ID, err)
	}
	return nil
}
