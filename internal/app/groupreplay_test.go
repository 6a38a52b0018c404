package app_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// drain long-polls the instance until it has want events (acking each
// batch), and then checks one more short poll brings nothing: the events
// a group hands out, in the order it hands them out, each once.
func (p *poller) drain(want int) []map[string]any {
	p.e.t.Helper()
	var got []map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		st, evs := p.events("max=100&wait=2s")
		if st != 200 {
			p.e.t.Fatalf("poll: status %d", st)
		}
		if len(evs) > 0 {
			p.e.must(204, p.e.do(p.c, "POST", p.base+"/ack", map[string]any{"ids": ids(evs)}))
		}
		got = append(got, evs...)
	}
	if _, more := p.events("max=100&wait=300ms"); len(more) != 0 {
		p.e.t.Fatalf("after %d events, %d more: %v", len(got), len(more), ids(more))
	}
	return got
}

// sortedIDs returns the events' ids in sequence order, checking each
// partition's events came in sequence order and no event came twice.
func sortedIDs(t *testing.T, evs []map[string]any) []string {
	t.Helper()
	last := map[float64]string{}
	seen := map[string]bool{}
	type idSeq struct {
		id  string
		seq string
	}
	var all []idSeq
	for _, ev := range evs {
		id, seq, part := ev["id"].(string), ev["sequence"].(string), ev["partition"].(float64)
		if seen[id] {
			t.Fatalf("%s came twice", id)
		}
		seen[id] = true
		if seq <= last[part] {
			t.Fatalf("partition %v: sequence %s after %s", part, seq, last[part])
		}
		last[part] = seq
		all = append(all, idSeq{id, seq})
	}
	slices.SortFunc(all, func(a, b idSeq) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	out := make([]string, len(all))
	for i, x := range all {
		out[i] = x.id
	}
	return out
}

// TestReplayThroughConsumption: what a consumer reads, not only what the
// log holds. A second group created with start "all" reads every event
// the first group read, each once and in order per partition; a seek to a
// time hands out exactly the events received since then, and a seek to a
// sequence exactly those from that sequence on.
func TestReplayThroughConsumption(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "first", "types": []string{w.typ}, "start": "all"}))

	var sent []string
	var seqs []int64
	send := func(prefix string, n int) {
		for i := range n {
			id := fmt.Sprintf("%s-%d", prefix, i)
			m := e.must(202, e.send(w.producer, orderEvent(id, 1)))
			sent = append(sent, id)
			seqs = append(seqs, int64(m["events"].([]any)[0].(map[string]any)["sequence"].(float64)))
		}
	}
	send("before", 15)
	time.Sleep(50 * time.Millisecond)
	since := time.Now().UTC()
	time.Sleep(50 * time.Millisecond)
	send("after", 10)

	first := e.instance(w.consumer, "first")
	if got := sortedIDs(t, first.drain(len(sent))); !slices.Equal(got, sent) {
		t.Fatalf("first group read %v, want %v", got, sent)
	}

	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "second", "types": []string{w.typ}, "start": "all"}))
	second := e.instance(w.consumer, "second")
	if got := sortedIDs(t, second.drain(len(sent))); !slices.Equal(got, sent) {
		t.Fatalf("second group replayed %v, want %v", got, sent)
	}

	e.must(200, e.do(w.consumer, "POST", "/v1/consumer-groups/second/seek", map[string]any{
		"start": map[string]any{"time": since.Format(time.RFC3339Nano)}}))
	if got := sortedIDs(t, second.drain(10)); !slices.Equal(got, sent[15:]) {
		t.Fatalf("after seeking to %s: %v, want %v", since.Format(time.RFC3339Nano), got, sent[15:])
	}

	e.must(200, e.do(w.consumer, "POST", "/v1/consumer-groups/second/seek", map[string]any{
		"start": map[string]any{"sequence": strconv.FormatInt(seqs[7], 10)}}))
	if got := sortedIDs(t, second.drain(len(sent)-7)); !slices.Equal(got, sent[7:]) {
		t.Fatalf("after seeking to %s: %v, want %v", herald.FormatSeq(seqs[7]), got, sent[7:])
	}
	// The first group's cursor did not move with the second's.
	if _, evs := first.events("max=10"); len(evs) != 0 {
		t.Fatalf("the first group got %v after the second's seeks", ids(evs))
	}
}
