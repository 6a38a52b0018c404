package pull_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/pull"
)

// TestLeasesFollowInstances: instances that join share the 12 partitions
// equally and never hold one partition twice; when one leaves, its
// partitions go to the others.
func TestLeasesFollowInstances(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 30*time.Second)
	e := f.engine(pull.Config{})
	var insts []*pull.Instance
	for n := 1; n <= 4; n++ {
		insts = append(insts, f.join(e))
		held := f.held()
		seen := map[int]bool{}
		for _, inst := range insts {
			ps := held[inst.ID]
			if len(ps) != herald.Partitions/n {
				t.Fatalf("%d instances: one holds %v, want %d partitions", n, ps, herald.Partitions/n)
			}
			for _, p := range ps {
				if seen[p] {
					t.Fatalf("partition %d held twice", p)
				}
				seen[p] = true
			}
		}
	}
	before := f.held()
	if err := e.Leave(ctxT(t), f.group, insts[1].ID); err != nil {
		t.Fatal(err)
	}
	after := f.held()
	if len(after) != 3 || len(after[insts[1].ID]) != 0 {
		t.Fatalf("after a leave: %v", after)
	}
	for _, inst := range []*pull.Instance{insts[0], insts[2], insts[3]} {
		for _, p := range before[inst.ID] {
			if !slices.Contains(after[inst.ID], p) {
				t.Errorf("partition %d moved away from an instance that stayed", p)
			}
		}
	}
	if err := e.Leave(ctxT(t), f.group, insts[1].ID); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("leaving twice: %v, want not found", err)
	}
}

// TestFetchAckInPartitionOrder: one instance reads every event, each
// partition in log order, with sequence, partition and receive time as
// extensions; individual and cumulative acks move the partition cursors
// to what is acknowledged without a gap.
func TestFetchAckInPartitionOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 30*time.Second)
	e := f.engine(pull.Config{})
	inst := f.join(e)
	evs := f.log("o", 60, func(i int) string { return fmt.Sprintf("key-%d", i%7) })
	var got []pull.Delivery
	for {
		ds := fetch(t, e, inst, 25)
		if len(ds) == 0 {
			break
		}
		if len(ds) > 25 {
			t.Fatalf("fetched %d, max 25", len(ds))
		}
		ceIDs(t, ds)
		got = append(got, ds...)
	}
	if len(got) != len(evs) {
		t.Fatalf("fetched %d events, stored %d", len(got), len(evs))
	}
	last := map[int]int64{}
	for _, d := range got {
		if d.Seq <= last[d.Partition] {
			t.Fatalf("partition %d: sequence %d after %d", d.Partition, d.Seq, last[d.Partition])
		}
		last[d.Partition] = d.Seq
	}
	// Ack every event but the first of its partition: the cursors stay
	// before it. Then a cumulative ack of each partition's last.
	first := map[int]string{}
	var rest []string
	for _, ev := range evs {
		if _, ok := first[ev.partition]; !ok {
			first[ev.partition] = ev.id
			continue
		}
		rest = append(rest, ev.id)
	}
	if err := e.Ack(ctxT(t), inst, rest); err != nil {
		t.Fatal(err)
	}
	firstSeq := map[int]int64{}
	for _, ev := range evs {
		if first[ev.partition] == ev.id {
			firstSeq[ev.partition] = ev.seq
		}
	}
	for p, c := range f.ackedUpto() {
		if s, ok := firstSeq[p]; ok && c != s-1 {
			t.Errorf("partition %d cursor %d, want %d (before its unacked first event)", p, c, s-1)
		}
	}
	for p := range first {
		if err := e.AckUpto(ctxT(t), inst, p, last[p]); err != nil {
			t.Fatal(err)
		}
	}
	for p, c := range f.ackedUpto() {
		if s, ok := last[p]; ok && c != s {
			t.Errorf("partition %d cursor %d, want %d", p, c, s)
		}
	}
	if n := f.inFlight(); n != 0 {
		t.Errorf("%d events still in flight after acking all", n)
	}
	if ds := fetch(t, e, inst, 100); len(ds) != 0 {
		t.Errorf("fetched %d events after acking all", len(ds))
	}
}

// TestBadAcksChangeNothing: acks of ids not in flight in the group, a
// cumulative ack past what was delivered or of a partition the instance
// does not hold, are refused and leave everything as it was.
func TestBadAcksChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 30*time.Second)
	e := f.engine(pull.Config{})
	a, b := f.join(e), f.join(e)
	f.log("o", 24, func(i int) string { return fmt.Sprintf("k%d", i) })
	ds := fetch(t, e, a, 100)
	if len(ds) == 0 {
		t.Fatal("instance a got nothing")
	}
	ids := ceIDs(t, ds)
	before, flying := f.ackedUpto(), f.inFlight()
	var ve *herald.ValidationError
	if err := e.Ack(ctxT(t), a, []string{ids[0], "nope"}); !errors.As(err, &ve) || ve.Errors[0].Field != "ids" {
		t.Fatalf("ack of an unknown id: %v", err)
	}
	if err := e.Nack(ctxT(t), a, []string{"nope"}, 0); !errors.As(err, &ve) {
		t.Fatalf("nack of an unknown id: %v", err)
	}
	if err := e.AckUpto(ctxT(t), a, ds[0].Partition, ds[len(ds)-1].Seq+1000); !errors.As(err, &ve) ||
		ve.Errors[0].Rule != "past-end" {
		t.Fatalf("cumulative ack past the end: %v", err)
	}
	other := f.held()[b.ID][0]
	if err := e.AckUpto(ctxT(t), a, other, 1); !errors.As(err, &ve) || ve.Errors[0].Field != "partition" {
		t.Fatalf("cumulative ack of a partition held by another: %v", err)
	}
	if got := f.ackedUpto(); !slices.Equal(got, before) || f.inFlight() != flying {
		t.Fatalf("bad acks changed the cursors %v -> %v, in flight %d -> %d", before, got, flying, f.inFlight())
	}
	// An id of another group is unknown in this one.
	g := newFixture(t, 30*time.Second)
	ge := g.engine(pull.Config{})
	gi := g.join(ge)
	g.log("other", 3, func(i int) string { return "x" })
	gids := ceIDs(t, fetch(t, ge, gi, 10))
	if err := e.Ack(ctxT(t), a, gids); !errors.As(err, &ve) {
		t.Fatalf("ack of another group's ids: %v", err)
	}
	if err := e.Ack(ctxT(t), a, ids); err != nil {
		t.Fatal(err)
	}
}

// TestAckWaitRedelivers: an event not acknowledged within the group's ack
// wait is handed out again, before anything newer.
func TestAckWaitRedelivers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Second)
	e := f.engine(pull.Config{})
	inst := f.join(e)
	f.log("o", 3, func(int) string { return "one" })
	first := fetch(t, e, inst, 10)
	if len(first) != 3 {
		t.Fatalf("got %d events, want 3", len(first))
	}
	if ds := fetch(t, e, inst, 10); len(ds) != 0 {
		t.Fatalf("redelivered %d events before the ack wait", len(ds))
	}
	if err := e.Ack(ctxT(t), inst, ceIDs(t, first[:1])); err != nil {
		t.Fatal(err)
	}
	f.log("p", 1, func(int) string { return "one" })
	time.Sleep(1200 * time.Millisecond)
	again := fetch(t, e, inst, 10)
	got := ceIDs(t, again)
	if !slices.Equal(got, []string{"o-1", "o-2", "p-0"}) {
		t.Fatalf("after the ack wait got %v, want o-1, o-2 (again) then p-0", got)
	}
	if again[0].Deliveries != 2 || again[2].Deliveries != 1 {
		t.Fatalf("deliveries %d and %d, want 2 and 1", again[0].Deliveries, again[2].Deliveries)
	}
}

// TestSeekBackRedelivers: after a seek back, the events read again are in
// flight like any others: not acknowledged within the ack wait, they come
// again. (Fetches scan a partition's in-flight rows from a floor they
// raise past what was acknowledged; a seek must lower it, or the events
// read again below it would never be found due.)
func TestSeekBackRedelivers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Second)
	e := f.engine(pull.Config{})
	inst := f.join(e)
	evs := f.log("o", 3, func(int) string { return "one" })
	first := fetch(t, e, inst, 10)
	if err := e.Ack(ctxT(t), inst, ceIDs(t, first)); err != nil {
		t.Fatal(err)
	}
	if more := fetch(t, e, inst, 10); len(more) != 0 {
		t.Fatalf("got %d events after acking all", len(more))
	}
	if err := pgx.BeginFunc(ctxT(t), f.pool, func(tx pgx.Tx) error {
		return f.store.ConsumerGroupSeek(ctxT(t), tx, f.group, herald.Start{Kind: herald.StartSequence, Sequence: evs[0].seq})
	}); err != nil {
		t.Fatal(err)
	}
	if got := ceIDs(t, fetch(t, e, inst, 10)); !slices.Equal(got, []string{"o-0", "o-1", "o-2"}) {
		t.Fatalf("after the seek got %v, want o-0, o-1, o-2", got)
	}
	time.Sleep(1200 * time.Millisecond)
	again := fetch(t, e, inst, 10)
	if got := ceIDs(t, again); !slices.Equal(got, []string{"o-0", "o-1", "o-2"}) {
		t.Fatalf("after the ack wait got %v, want o-0, o-1, o-2 again", got)
	}
	if again[0].Deliveries != 2 {
		t.Fatalf("deliveries %d, want 2", again[0].Deliveries)
	}
}

// TestNackDelay: a negative ack with a delay gives the event back no
// sooner than the delay; without one, at once.
func TestNackDelay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	inst := f.join(e)
	f.log("o", 2, func(i int) string { return fmt.Sprint(i) })
	ids := ceIDs(t, fetch(t, e, inst, 10))
	if err := e.Nack(ctxT(t), inst, ids[:1], time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.Nack(ctxT(t), inst, ids[1:], 0); err != nil {
		t.Fatal(err)
	}
	if got := ceIDs(t, fetch(t, e, inst, 10)); !slices.Equal(got, ids[1:]) {
		t.Fatalf("right after the nacks got %v, want %v", got, ids[1:])
	}
	time.Sleep(1100 * time.Millisecond)
	if got := ceIDs(t, fetch(t, e, inst, 10)); !slices.Equal(got, ids[:1]) {
		t.Fatalf("after the delay got %v, want %v", got, ids[:1])
	}
}

// TestMaxInFlight: an instance gets no more than MaxInFlight unacknowledged
// events; acking makes room.
func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{MaxInFlight: 5})
	inst := f.join(e)
	f.log("o", 12, func(i int) string { return "same" })
	ds := fetch(t, e, inst, 100)
	if len(ds) != 5 {
		t.Fatalf("got %d, want 5", len(ds))
	}
	if more := fetch(t, e, inst, 100); len(more) != 0 {
		t.Fatalf("got %d more with 5 in flight", len(more))
	}
	if err := e.Ack(ctxT(t), inst, ceIDs(t, ds[:2])); err != nil {
		t.Fatal(err)
	}
	if more := fetch(t, e, inst, 100); len(more) != 2 {
		t.Fatalf("got %d after acking 2, want 2", len(more))
	}
}

// TestMaxInstances: a group refuses instances beyond the maximum with a
// conflict.
func TestMaxInstances(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{MaxInstances: 2})
	f.join(e)
	f.join(e)
	if _, err := e.Join(ctxT(t), f.group, pull.KindPoll); !errors.Is(err, herald.ErrConflict) {
		t.Fatalf("third instance: %v, want a conflict", err)
	}
}

// TestInstanceWithoutPartitions: an instance of a group with more
// instances than partitions holds none; its fetches come back empty while
// it is there and are not found, as its acks, once it left.
func TestInstanceWithoutPartitions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	var insts []*pull.Instance
	for range herald.Partitions + 1 {
		insts = append(insts, f.join(e))
	}
	f.log("o", 40, func(i int) string { return fmt.Sprintf("k%d", i) })
	var idle *pull.Instance
	for _, inst := range insts {
		if len(f.held()[inst.ID]) == 0 {
			idle = inst
		}
	}
	if idle == nil {
		t.Fatalf("every one of %d instances holds a partition: %v", len(insts), f.held())
	}
	if ds := fetch(t, e, idle, 100); len(ds) != 0 {
		t.Fatalf("an instance holding no partition got %d events", len(ds))
	}
	if err := e.Leave(ctxT(t), f.group, idle.ID); err != nil {
		t.Fatal(err)
	}
	gone := &pull.Instance{ID: idle.ID, Group: idle.Group} // a new request's value, as long polling makes
	if _, err := e.Fetch(ctxT(t), gone, 100); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("fetch on the instance that left: %v, want not found", err)
	}
	var ids []string
	for _, inst := range insts {
		if inst != idle {
			ids = append(ids, ceIDs(t, fetch(t, e, inst, 100))...)
		}
	}
	if len(ids) != 40 {
		t.Fatalf("the instances got %d of 40 events", len(ids))
	}
	if err := e.Ack(ctxT(t), gone, ids); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("ack through the instance that left: %v, want not found", err)
	}
	if n := f.inFlight(); n != 40 {
		t.Fatalf("%d events in flight after a refused ack, want 40", n)
	}
}

// TestExpiryHandsEventsToOthers: two instances read a group; one stops
// calling. After the TTL its partitions and its unacknowledged events go
// to the other, which gets every event exactly once acked; a call on the
// expired instance is not found.
func TestExpiryHandsEventsToOthers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{InstanceTTL: 2 * time.Second})
	a, b := f.join(e), f.join(e)
	evs := f.log("o", 48, func(i int) string { return fmt.Sprintf("k%d", i) })
	lost := fetch(t, e, a, 100) // a takes its share and never acks
	if len(lost) == 0 {
		t.Fatal("instance a got nothing")
	}
	acked := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for len(acked) < len(evs) && time.Now().Before(deadline) {
		ds := fetch(t, e, b, 100)
		ids := ceIDs(t, ds)
		for _, id := range ids {
			acked[id]++
		}
		if len(ids) > 0 {
			if err := e.Ack(ctxT(t), b, ids); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	if len(acked) != len(evs) {
		t.Fatalf("instance b acked %d of %d events", len(acked), len(evs))
	}
	for id, n := range acked {
		if n != 1 {
			t.Errorf("event %s acked %d times", id, n)
		}
	}
	if len(f.held()[b.ID]) != herald.Partitions {
		t.Errorf("b holds %v, want every partition", f.held()[b.ID])
	}
	if _, err := e.Fetch(ctxT(t), a, 10); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("fetch on the expired instance: %v, want not found", err)
	}
}

// TestSweepExpiresIdleInstances: the sweeper removes idle instances of any
// group and gives their partitions to the ones left.
func TestSweepExpiresIdleInstances(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{InstanceTTL: time.Second})
	a := f.join(e)
	time.Sleep(1100 * time.Millisecond)
	b := f.join(e) // joining also expires a
	if err := e.Sweep(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	held := f.held()
	if len(held[a.ID]) != 0 || len(held[b.ID]) != herald.Partitions {
		t.Fatalf("after expiry: %v", held)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := e.Sweep(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if held := f.held(); len(held) != 0 {
		t.Fatalf("after the sweep: %v", held)
	}
}

// TestFetchStopsAtBackfill: while a backfill writes a group's log, a fetch
// does not read past its cursor (the rows after it may not be written yet).
func TestFetchStopsAtBackfill(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	inst := f.join(e)
	evs := f.log("o", 10, func(int) string { return "k" })
	if _, err := f.pool.Exec(ctxT(t), `UPDATE consumer_groups SET backfill_cursor = $2, backfill_to = $3 WHERE id = $1`,
		f.group.ID, evs[3].seq, evs[9].seq); err != nil {
		t.Fatal(err)
	}
	if got := ceIDs(t, fetch(t, e, inst, 100)); !slices.Equal(got, []string{"o-0", "o-1", "o-2", "o-3"}) {
		t.Fatalf("during the backfill got %v, want o-0..o-3", got)
	}
}

// TestConcurrentInstancesShareWithoutDoubles: three instances fetch and ack
// at once; every event is acked exactly once and each key arrives in order.
func TestConcurrentInstancesShareWithoutDoubles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	insts := []*pull.Instance{f.join(e), f.join(e), f.join(e)}
	evs := f.log("o", 600, func(i int) string { return fmt.Sprintf("key-%d", i%30) })
	var mu sync.Mutex
	acked := map[string]int{}
	lastSeq := map[int]int64{}
	var wg sync.WaitGroup
	for _, inst := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b, err := e.Fetch(ctxT(t), inst, 50)
				ds := b.Events
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				var ids []string
				mu.Lock()
				for _, d := range ds {
					if d.Seq <= lastSeq[d.Partition] {
						t.Errorf("partition %d: %d after %d", d.Partition, d.Seq, lastSeq[d.Partition])
					}
					lastSeq[d.Partition] = d.Seq
				}
				mu.Unlock()
				ids = append(ids, ceIDs(t, ds)...)
				if err := e.Ack(ctxT(t), inst, ids); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, id := range ids {
					acked[id]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(acked) != len(evs) {
		t.Fatalf("acked %d of %d", len(acked), len(evs))
	}
	for id, n := range acked {
		if n != 1 {
			t.Errorf("%s acked %d times", id, n)
		}
	}
}

// TestDeadReport: an event reported dead is acknowledged for the group
// (not delivered again, the cursor moves past it) and kept with its reason
// in the client's dead-event store; an id not in flight changes nothing.
func TestDeadReport(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Second)
	e := f.engine(pull.Config{})
	inst := f.join(e)
	evs := f.log("o", 2, func(int) string { return "k" })
	fetch(t, e, inst, 10)
	var ve *herald.ValidationError
	if _, err := e.Dead(ctxT(t), inst, "nope", "broken"); !errors.As(err, &ve) || ve.Errors[0].Field != "id" {
		t.Fatalf("dead report of an unknown id: %v", err)
	}
	dead, err := e.Dead(ctxT(t), inst, "o-0", "cannot parse")
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Seq != evs[0].seq || dead[0].Reason != "cannot parse" || dead[0].ClientID != f.group.ClientID {
		t.Fatalf("dead: %+v", dead)
	}
	if err := e.Ack(ctxT(t), inst, []string{"o-1"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if ds := fetch(t, e, inst, 10); len(ds) != 0 {
		t.Fatalf("a dead event came again: %v", ceIDs(t, ds))
	}
	if c := f.ackedUpto()[evs[0].partition]; c != evs[1].seq {
		t.Fatalf("cursor %d, want %d", c, evs[1].seq)
	}
	list, err := f.store.DeadEventList(ctxT(t), postgres.DeadEventScope{ClientID: f.group.ClientID}, postgres.DeadEventFilter{GroupID: f.group.ID, Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != dead[0].ID {
		t.Fatalf("dead-event store: %+v, %v", list, err)
	}
}

// TestFetchSkipsRemovedEvents: a logged event whose stored event is gone
// (retention removed it) is not handed out and does not stay in flight for
// ever; the partition's cursor moves past it, and the batch says so.
func TestFetchSkipsRemovedEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Second)
	e := f.engine(pull.Config{})
	inst := f.join(e)
	evs := f.log("o", 2, func(int) string { return "k" })
	if _, err := f.pool.Exec(ctxT(t), `DELETE FROM events WHERE ce_id = 'o-0'`); err != nil {
		t.Fatal(err)
	}
	b, err := e.Fetch(ctxT(t), inst, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := ceIDs(t, b.Events); !slices.Equal(got, []string{"o-1"}) {
		t.Fatalf("got %v, want o-1 only", got)
	}
	if got, want := noticesJSON(t, b.Notices), noticesJSON(t, []pull.Notice{gapOf(evs[0], evs[1])}); got != want {
		t.Fatalf("notices %s, want %s", got, want)
	}
	if n := f.inFlight(); n != 1 {
		t.Fatalf("%d in flight, want 1 (the removed event forgotten)", n)
	}
	if err := e.Ack(ctxT(t), inst, []string{"o-1"}); err != nil {
		t.Fatal(err)
	}
	if c := f.ackedUpto()[evs[0].partition]; c != evs[1].seq {
		t.Fatalf("cursor %d, want %d", c, evs[1].seq)
	}
}

// TestConcurrentJoins: instances joining at once (as on several nodes)
// end with equal shares and every partition held exactly once.
func TestConcurrentJoins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Join(ctxT(t), f.group, pull.KindPoll); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	held := f.held()
	total := 0
	for id, ps := range held {
		if len(ps) != 2 {
			t.Errorf("instance %s holds %v, want 2 partitions", id, ps)
		}
		total += len(ps)
	}
	if len(held) != 6 || total != herald.Partitions {
		t.Fatalf("%d instances hold %d partitions", len(held), total)
	}
}

// TestPartitionNotices: an instance that watches its partitions is told
// the set it holds on its first fetch, then what is revoked and the new
// set when another instance joins, and the new set when it leaves; one
// that does not watch is told nothing; nothing is told twice.
func TestPartitionNotices(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 30*time.Second)
	e := f.engine(pull.Config{})
	a := f.join(e)
	a.WatchPartitions()
	notices := func(inst *pull.Instance) []pull.Notice {
		t.Helper()
		b, err := e.Fetch(ctxT(t), inst, 10)
		if err != nil {
			t.Fatal(err)
		}
		return b.Notices
	}
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	if ns := notices(a); len(ns) != 1 || ns[0].Notice != pull.NoticeAssigned || !slices.Equal(ns[0].Partitions, all) {
		t.Fatalf("first fetch: %+v", ns)
	}
	if ns := notices(a); len(ns) != 0 {
		t.Fatalf("told again: %+v", ns)
	}
	b := f.join(e)
	if ns := notices(b); len(ns) != 0 {
		t.Fatalf("an instance that does not watch was told %+v", ns)
	}
	held := f.held()
	ns := notices(a)
	if len(ns) != 2 || ns[0].Notice != pull.NoticeRevoked || !slices.Equal(ns[0].Partitions, held[b.ID]) ||
		ns[1].Notice != pull.NoticeAssigned || !slices.Equal(ns[1].Partitions, held[a.ID]) {
		t.Fatalf("after a join: %+v, held %v", ns, held)
	}
	if err := e.Leave(ctxT(t), f.group, b.ID); err != nil {
		t.Fatal(err)
	}
	if ns := notices(a); len(ns) != 1 || ns[0].Notice != pull.NoticeAssigned || !slices.Equal(ns[0].Partitions, all) {
		t.Fatalf("after a leave: %+v", ns)
	}
}

// TestFetchTakesPartitionsOldestFirst: a fetch asks each partition for its
// share and asks again those that had more, so a batch is always each
// partition's oldest events (a prefix of its log), in log order, and as
// many as asked for while there are any: with the events spread over the
// partitions, and with nearly all of them in one.
func TestFetchTakesPartitionsOldestFirst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
		key  func(i int) string
		max  int
	}{
		{"spread", 240, func(i int) string { return fmt.Sprintf("k%d", i%40) }, 50},
		{"one hot key", 150, func(i int) string {
			if i%50 == 7 {
				return fmt.Sprintf("cold-%d", i)
			}
			return "hot"
		}, 100},
		{"one key", 90, func(int) string { return "only" }, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, time.Minute)
			e := f.engine(pull.Config{})
			inst := f.join(e)
			evs := f.log("o", tt.n, tt.key)
			byPart := map[int][]int64{}
			for _, ev := range evs {
				byPart[ev.partition] = append(byPart[ev.partition], ev.seq)
			}
			next := map[int]int{} // the index in byPart of each partition's next event
			for got := 0; got < tt.n; {
				ds := fetch(t, e, inst, tt.max)
				if want := min(tt.max, tt.n-got); len(ds) != want {
					t.Fatalf("after %d: fetched %d, want %d", got, len(ds), want)
				}
				for i, d := range ds {
					if i > 0 && d.Seq <= ds[i-1].Seq {
						t.Fatalf("batch not in log order: %d after %d", d.Seq, ds[i-1].Seq)
					}
					if want := byPart[d.Partition][next[d.Partition]]; d.Seq != want {
						t.Fatalf("partition %d: got %d, want its oldest unread %d", d.Partition, d.Seq, want)
					}
					next[d.Partition]++
				}
				if err := e.Ack(ctxT(t), inst, ceIDs(t, ds)); err != nil {
					t.Fatal(err)
				}
				got += len(ds)
			}
		})
	}
}

// TestGroupDeleteDropsInFlight: however a group goes (by name, or with
// its client), its events in flight go with it.
func TestGroupDeleteDropsInFlight(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"group", "client"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, time.Minute)
			e := f.engine(pull.Config{})
			inst := f.join(e)
			f.log("o", 30, func(i int) string { return fmt.Sprint(i) })
			if ds := fetch(t, e, inst, 20); len(ds) != 20 {
				t.Fatalf("fetched %d, want 20", len(ds))
			}
			if n := f.inFlight(); n != 20 {
				t.Fatalf("%d in flight, want 20", n)
			}
			var err error
			if how == "group" {
				err = pgx.BeginFunc(ctxT(t), f.pool, func(tx pgx.Tx) error {
					return f.store.ConsumerGroupDelete(ctxT(t), tx, f.group.ID)
				})
			} else {
				err = f.store.ClientDelete(ctxT(t), f.group.ClientID)
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := f.inFlight(); n != 0 {
				t.Errorf("%d events of the deleted group still in flight", n)
			}
		})
	}
}

// TestFollowerRefillsAfterAcksElsewhere: a following instance (a
// WebSocket) goes by its estimate of what it has in flight between
// fetches; acks that reach its group some other way (a long poll naming
// the same instance, on this node or another) do not lower the estimate,
// and it must still be refilled, within the recheck, not after a safety
// wake-up or never.
func TestFollowerRefillsAfterAcksElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{MaxInFlight: 10})
	inst := f.join(e)
	defer e.Follow(inst)()
	f.log("o", 30, func(int) string { return "same" })
	b, err := e.Wait(ctxT(t), inst, 10, time.Second)
	if err != nil || len(b.Events) != 10 {
		t.Fatalf("first fetch: %d events, %v", len(b.Events), err)
	}
	other := &pull.Instance{ID: inst.ID, Group: inst.Group}
	if err := e.Ack(ctxT(t), other, ceIDs(t, b.Events)); err != nil {
		t.Fatal(err)
	}
	b, err = e.Wait(ctxT(t), inst, 10, 3*time.Second)
	if err != nil || len(b.Events) != 10 {
		t.Fatalf("after the acks elsewhere: %d events, %v; want 10 within the wait", len(b.Events), err)
	}
}
