package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/postgres"
)

// TestOrderedAppendFollowsCommitOrder: two transactions appending to one
// key get positions in commit order (the second waits for the first's
// cursor lock), only the first activates the key, and the key is released
// only once its queue is empty.
func TestOrderedAppendFollowsCommitOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	ep := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://x.example/", "whsec_cGxhaW50ZXh0LXNlY3JldC12YWx1ZQ==", "com.example.>")
	key := postgres.OrderedKey{EndpointID: ep.ID, Key: "order-1"}
	now := time.Now().UTC().Truncate(time.Millisecond)
	item := func() postgres.OrderedItem {
		return postgres.OrderedItem{OrderedKey: key, DeliveryID: uuid.New(), CreatedAt: now}
	}

	first, second := item(), item()
	tx1, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx1.Rollback(context.Background()) }()
	activated, err := f.store.OrderedAppend(ctx, tx1, []postgres.OrderedItem{first})
	if err != nil || len(activated) != 1 || activated[0] != key {
		t.Fatalf("first append activated %v, %v; want the key", activated, err)
	}
	done := make(chan []postgres.OrderedKey, 1)
	go func() {
		var got []postgres.OrderedKey
		err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			var err error
			got, err = f.store.OrderedAppend(ctx, tx, []postgres.OrderedItem{second, item()})
			return err
		})
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	select {
	case <-done:
		t.Fatal("the second append did not wait for the first's cursor lock")
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-done; len(got) != 0 {
		t.Fatalf("second append activated %v; the key was active already", got)
	}

	next, err := f.store.OrderedNext(ctx, key, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 3 || next[0].ID != first.DeliveryID || next[1].ID != second.DeliveryID {
		t.Fatalf("queue = %+v; want first, second, third", next)
	}
	for i, e := range next {
		if e.Pos != int64(i+1) {
			t.Fatalf("positions %+v are not 1, 2, 3", next)
		}
	}
	// Not empty: the key stays active.
	if ok, err := f.store.OrderedRelease(ctx, key, 2); err != nil || ok {
		t.Fatalf("release with one queued = %v, %v; want false", ok, err)
	}
	if next, _ := f.store.OrderedNext(ctx, key, 2, 10); len(next) != 1 || next[0].Pos != 3 {
		t.Fatalf("after settling 2 the queue is %+v", next)
	}
	if ok, err := f.store.OrderedRelease(ctx, key, 3); err != nil || !ok {
		t.Fatalf("release of an empty queue = %v, %v; want true", ok, err)
	}
	// Released: the next append activates the key again, from position 1.
	var again []postgres.OrderedKey
	third := item()
	if err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		again, err = f.store.OrderedAppend(ctx, tx, []postgres.OrderedItem{third})
		return err
	}); err != nil || len(again) != 1 {
		t.Fatalf("append after release activated %v, %v", again, err)
	}
	if next, _ := f.store.OrderedNext(ctx, key, 0, 10); len(next) != 1 || next[0].ID != third.DeliveryID || next[0].Pos != 1 {
		t.Fatalf("queue after reactivation = %+v", next)
	}
}
