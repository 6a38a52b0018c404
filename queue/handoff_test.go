package queue

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// TestHandoffClaim: a claim takes the first-attempt jobs the node has room
// for (counted in deliveries), schedules them at the lease's end, leaves
// every other job as it is, and gives its room back when cancelled; a
// stopping or paused node claims nothing.
func TestHandoffClaim(t *testing.T) {
	t.Parallel()
	item := func() BatchItem { return BatchItem{DeliveryID: uuid.New(), CreatedAt: time.Now()} }
	single := func() river.InsertManyParams {
		return river.InsertManyParams{Args: DeliverArgs{DeliveryID: uuid.New(), CreatedAt: time.Now()}}
	}
	batchOf := func(n int) river.InsertManyParams {
		items := make([]BatchItem, n)
		for i := range items {
			items[i] = item()
		}
		return river.InsertManyParams{Args: DeliverBatchArgs{Deliveries: items}}
	}
	params := []river.InsertManyParams{
		single(),   // 1: taken
		batchOf(2), // 3: taken
		batchOf(2), // would make 5: left
		{Args: DeliverArgs{DeliveryID: uuid.New(), CreatedAt: time.Now(), NotBefore: time.Now().UnixMicro()}},         // must wait: left
		{Args: DeliverArgs{DeliveryID: uuid.New(), CreatedAt: time.Now()}, InsertOpts: &river.InsertOpts{Queue: "x"}}, // options of its own: left
		{Args: DrainArgs{EndpointID: uuid.New(), Key: "k"}},                                                           // ordered: left
		single(), // 4: taken
	}
	h := &Handoff{lease: time.Minute, limit: 4}
	before := time.Now()
	c := h.Claim(params)
	if c == nil {
		t.Fatal("nothing claimed")
	}
	if want := []int{0, 1, 6}; len(c.pos) != len(want) || c.pos[0] != 0 || c.pos[1] != 1 || c.pos[2] != 6 {
		t.Fatalf("claimed positions %v, want %v", c.pos, want)
	}
	if c.n != 4 || h.inFlight != 4 {
		t.Fatalf("reserved %d (in flight %d), want 4", c.n, h.inFlight)
	}
	for i, p := range params {
		claimed := i == 0 || i == 1 || i == 6
		switch {
		case claimed && (p.InsertOpts == nil || p.InsertOpts.ScheduledAt.Before(before.Add(time.Minute))):
			t.Errorf("job %d claimed but not scheduled at the lease's end: %+v", i, p.InsertOpts)
		case !claimed && i != 4 && p.InsertOpts != nil:
			t.Errorf("job %d not claimed but changed: %+v", i, p.InsertOpts)
		}
	}
	if params[4].InsertOpts.Queue != "x" || !params[4].InsertOpts.ScheduledAt.IsZero() {
		t.Errorf("a job with options of its own was changed: %+v", params[4].InsertOpts)
	}
	if more := h.Claim([]river.InsertManyParams{single()}); more != nil {
		t.Fatal("claimed past the limit")
	}
	c.Cancel()
	c.Cancel() // once only
	if h.inFlight != 0 {
		t.Fatalf("in flight %d after the cancel, want 0", h.inFlight)
	}
	h.setPaused(true)
	if h.Claim([]river.InsertManyParams{single()}) != nil {
		t.Fatal("claimed while deliveries are paused")
	}
	h.setPaused(false)
	h.closed = true
	if h.Claim([]river.InsertManyParams{single()}) != nil {
		t.Fatal("claimed while stopping")
	}
	var none *Handoff
	if none.Claim([]river.InsertManyParams{single()}) != nil {
		t.Fatal("a nil handoff claimed")
	}
}
