package queue

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// GroupPurgeArgs is the background job that removes a deleted consumer
// group's log in batches (postgres.GroupLogPurgeStep), so that deleting a
// group answers at once however long its log is.
type GroupPurgeArgs struct {
	GroupID uuid.UUID `json:"g"`
}

// Kind names the job for River.
func (GroupPurgeArgs) Kind() string { return "herald.group_purge" }

// InsertOpts keeps purges off the delivery queue, as backfills.
func (GroupPurgeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: maxJobAttempts}
}

// purgeBatch is how many log rows one transaction deletes: short enough
// not to hold locks or WAL for long, large enough to finish soon.
const purgeBatch = 10_000

// purgeBatchesPerRun is how many batches a run deletes before it yields
// the maintenance queue to other jobs.
const purgeBatchesPerRun = 20

type groupPurgeWorker struct {
	river.WorkerDefaults[GroupPurgeArgs]
	q *Queue
}

// Work deletes the group's log rows batch by batch until none are left.
func (w *groupPurgeWorker) Work(ctx context.Context, job *river.Job[GroupPurgeArgs]) error {
	for range purgeBatchesPerRun {
		done, err := w.q.store.GroupLogPurgeStep(ctx, job.Args.GroupID, purgeBatch)
		if err != nil || done {
			return err
		}
	}
	return river.JobSnooze(0) // more to do: continue in a fresh run
}

// DeleteGroup deletes a consumer group and queues the purge of its log, in
// one transaction: the group is gone from routing and listings when this
// returns, its log rows soon after.
func (q *Queue) DeleteGroup(ctx context.Context, id uuid.UUID) error {
	return pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		if err := q.store.ConsumerGroupDelete(ctx, tx, id); err != nil {
			return err
		}
		return q.queuePurge(ctx, tx, id)
	})
}

func (q *Queue) queuePurge(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	var err error
	if tx != nil {
		_, err = q.client.InsertTx(ctx, tx, GroupPurgeArgs{GroupID: id}, nil)
	} else {
		_, err = q.client.Insert(ctx, GroupPurgeArgs{GroupID: id}, nil)
	}
	if err != nil {
		return fmt.Errorf("enqueue purge of group %s's log: %w", id, err)
	}
	return nil
}

// PurgeDeletedGroups queues a purge for every deleted group whose log is
// still there: groups that went with their client or tenant (the trigger
// notes them, but no job was queued in that transaction) and, from the
// maintenance run, purges whose job was lost. A purge queued twice costs
// one empty step.
func (q *Queue) PurgeDeletedGroups(ctx context.Context) error {
	ids, err := q.store.GroupLogPurgesPending(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := q.queuePurge(ctx, nil, id); err != nil {
			return err
		}
	}
	return nil
}
