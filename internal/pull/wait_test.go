package pull_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pull"
)

// TestWaitWakesOnCommit: a waiting fetch returns as soon as events commit
// (the notification reaches the listening node), long before its safety
// timer; with nothing to read it returns empty when the wait ends.
func TestWaitWakesOnCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	go e.Listen(ctx)
	inst := f.join(e)

	start := time.Now()
	b, err := e.Wait(ctxT(t), inst, 10, 700*time.Millisecond)
	if err != nil || !b.Empty() {
		t.Fatalf("empty wait: %d events, %v", len(b.Events), err)
	}
	if took := time.Since(start); took < 700*time.Millisecond || took > 3*time.Second {
		t.Fatalf("empty wait of 700ms took %s", took)
	}

	time.Sleep(200 * time.Millisecond) // the listener is up by now
	go func() {
		time.Sleep(300 * time.Millisecond)
		f.log("o", 2, func(int) string { return "k" })
	}()
	start = time.Now()
	b, err = e.Wait(ctxT(t), inst, 10, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); len(b.Events) == 0 || took > 3*time.Second {
		t.Fatalf("got %d events after %s; want them within moments of the commit", len(b.Events), took)
	}
}

// TestWaitWakesForRedelivery: a waiting fetch wakes when a nacked event is
// due again, with no notification.
func TestWaitWakesForRedelivery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	inst := f.join(e)
	f.log("o", 1, func(int) string { return "k" })
	ids := ceIDs(t, fetch(t, e, inst, 10))
	if err := e.Nack(ctxT(t), inst, ids, 800*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b, err := e.Wait(ctxT(t), inst, 10, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); len(b.Events) != 1 || took < 700*time.Millisecond || took > 3*time.Second {
		t.Fatalf("got %d events after %s, want the nacked one after its 800ms delay", len(b.Events), took)
	}
}
