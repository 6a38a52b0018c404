package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// orderedReceiver records, per partition key, the order in which events
// were attempted and acknowledged, and how many requests of one key were in
// flight at once. fail decides whether to answer 500.
type orderedReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	fail func(key string, n int) bool
	// acked is each key's acknowledged qty values, in arrival order.
	acked map[string][]int
	// attempts counts all requests; early lists attempts that were not for
	// the next unacknowledged event of their key.
	attempts, failures int
	early              []string
	inFlight           map[string]int
	maxKeyInFlight     int
	total, maxTotal    int
	unkeyed            map[string]int
}

func newOrderedReceiver(t *testing.T) *orderedReceiver {
	o := &orderedReceiver{acked: map[string][]int{}, inFlight: map[string]int{}, unkeyed: map[string]int{}}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *orderedReceiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		w.Header().Set("WebHook-Allowed-Origin", "*")
		return
	}
	var ev struct {
		ID   string `json:"id"`
		Key  string `json:"partitionkey"`
		Data struct {
			Qty int `json:"qty"`
		} `json:"data"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	if ev.Key == "" {
		o.unkeyed[ev.ID]++
		o.mu.Unlock()
		return
	}
	o.attempts++
	if want := len(o.acked[ev.Key]) + 1; ev.Data.Qty != want {
		o.early = append(o.early, fmt.Sprintf("%s: attempt of #%d while #%d is unacknowledged", ev.Key, ev.Data.Qty, want))
	}
	o.inFlight[ev.Key]++
	o.total++
	o.maxKeyInFlight = max(o.maxKeyInFlight, o.inFlight[ev.Key])
	o.maxTotal = max(o.maxTotal, o.total)
	fail := o.fail != nil && o.fail(ev.Key, ev.Data.Qty)
	o.mu.Unlock()

	time.Sleep(time.Millisecond) // let overlapping sends of one key show

	o.mu.Lock()
	o.inFlight[ev.Key]--
	o.total--
	if fail {
		o.failures++
	} else {
		o.acked[ev.Key] = append(o.acked[ev.Key], ev.Data.Qty)
	}
	o.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (o *orderedReceiver) ackedCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, a := range o.acked {
		n += len(a)
	}
	return n
}

func keyedEvent(key string, n int) map[string]any {
	ev := orderEvent(fmt.Sprintf("%s-%d", key, n), n)
	ev["partitionkey"] = key
	return ev
}

// TestOrderedDelivery: 5,000 events over 50 partition keys, sent by five
// producers at once, reach an ordered endpoint whose receiver fails one
// request in six at random. Every key's events are acknowledged exactly
// once each and in the order they were sent, no event is attempted before
// its predecessor was acknowledged, one key never has two requests in
// flight, and different keys do flow in parallel.
func TestOrderedDelivery(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms"))
	w := e.world()
	o := newOrderedReceiver(t)
	rnd := rand.New(rand.NewPCG(7, 11))
	o.fail = func(string, int) bool { return rnd.IntN(6) == 0 } // called under o.mu
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": o.srv.URL, "types": []string{w.typ}, "ordered": true,
	}))
	if m["ordered"] != true {
		t.Fatalf("endpoint = %v, want ordered", m)
	}

	const producers, keysEach, perKey = 5, 10, 100
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each batch holds ten consecutive events of each of this
			// producer's keys, interleaved.
			for b := 0; b < perKey; b += 10 {
				var batch []map[string]any
				for n := b + 1; n <= b+10; n++ {
					for k := range keysEach {
						batch = append(batch, keyedEvent(fmt.Sprintf("p%d-k%02d", p, k), n))
					}
				}
				if r := e.send(w.producer, batch...); r.status != http.StatusAccepted {
					t.Errorf("batch answered %d: %s", r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	const total = producers * keysEach * perKey
	eventually(t, 120*time.Second, "5,000 acknowledged events", func() bool { return o.ackedCount() >= total })

	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.acked) != producers*keysEach {
		t.Fatalf("%d keys acknowledged, want %d", len(o.acked), producers*keysEach)
	}
	for key, got := range o.acked {
		if len(got) != perKey {
			t.Fatalf("key %s: %d acknowledged, want %d: %v", key, len(got), perKey, got)
		}
		for i, n := range got {
			if n != i+1 {
				t.Fatalf("key %s acknowledged out of order: %v", key, got)
			}
		}
	}
	if len(o.early) > 0 {
		t.Fatalf("%d attempts jumped ahead of their key, e.g. %v", len(o.early), o.early[:min(5, len(o.early))])
	}
	if o.maxKeyInFlight != 1 {
		t.Fatalf("a key had %d requests in flight at once", o.maxKeyInFlight)
	}
	if o.failures < total/10 {
		t.Fatalf("only %d failed attempts: the test did not exercise retries", o.failures)
	}
	if o.maxTotal < 2 {
		t.Fatalf("at most %d request in flight: keys did not flow in parallel", o.maxTotal)
	}
	t.Logf("%d attempts, %d failed, up to %d keys in flight", o.attempts, o.failures, o.maxTotal)
}

// TestOrderedHeadBlocksOnlyItsKey: while the first event of key "a" keeps
// failing, "a"'s later events wait (never attempted) but key "b" and events
// without a key are delivered; once the receiver recovers, "a" drains in
// order. A dead-lettered head lets its key move on.
func TestOrderedHeadBlocksOnlyItsKey(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms"))
	w := e.world()
	o := newOrderedReceiver(t)
	var recovered bool
	o.fail = func(key string, n int) bool { return key == "a" && n == 1 && !recovered } // under o.mu
	e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": o.srv.URL, "types": []string{w.typ}, "ordered": true,
	}))
	e.must(202, e.send(w.producer, keyedEvent("a", 1), keyedEvent("a", 2), keyedEvent("b", 1), orderEvent("free-1", 1),
		keyedEvent("a", 3), keyedEvent("b", 2), keyedEvent("b", 3), orderEvent("free-2", 1)))

	eventually(t, 10*time.Second, "key b and the unkeyed events", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return len(o.acked["b"]) == 3 && len(o.unkeyed) == 2
	})
	eventually(t, 10*time.Second, "several failed attempts of a#1", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.failures >= 3
	})
	o.mu.Lock()
	if len(o.acked["a"]) != 0 || len(o.early) != 0 {
		t.Fatalf("while a#1 fails: a acknowledged %v, early attempts %v", o.acked["a"], o.early)
	}
	recovered = true
	o.mu.Unlock()
	eventually(t, 10*time.Second, "key a after recovery", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return len(o.acked["a"]) == 3
	})
	o.mu.Lock()
	if fmt.Sprint(o.acked["a"]) != "[1 2 3]" || fmt.Sprint(o.acked["b"]) != "[1 2 3]" || len(o.early) != 0 {
		t.Fatalf("a = %v, b = %v, early = %v", o.acked["a"], o.acked["b"], o.early)
	}
	o.mu.Unlock()
}

// TestOrderedDeadLetterMovesOn: when a key's head exhausts its retries it
// is dead-lettered and the key's next events follow.
func TestOrderedDeadLetterMovesOn(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("20ms,20ms"))
	w := e.world()
	o := newOrderedReceiver(t)
	o.fail = func(key string, n int) bool { return n == 1 }
	epID := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": o.srv.URL, "types": []string{w.typ}, "ordered": true,
	}))["id"].(string)
	e.must(202, e.send(w.producer, keyedEvent("k", 1), keyedEvent("k", 2), keyedEvent("k", 3)))
	eventually(t, 10*time.Second, "k#2 and k#3", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return len(o.acked["k"]) == 2
	})
	o.mu.Lock()
	got, failures := fmt.Sprint(o.acked["k"]), o.failures
	o.mu.Unlock()
	if got != "[2 3]" || failures != 3 {
		t.Fatalf("acknowledged %s after %d failures; want [2 3] after 3 (k#1 dead-lettered)", got, failures)
	}
	list := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=failed", nil))
	if items, _ := list["data"].([]any); len(items) != 1 {
		t.Fatalf("failed deliveries = %v, want k#1's", list)
	}
}

// TestOrderedLostDrainJobRestarts: if a key's drain job is lost (River
// discarded it), maintenance gives the key a new one and its events flow.
func TestOrderedLostDrainJobRestarts(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("1h"))
	w := e.world()
	o := newOrderedReceiver(t)
	var healthy bool
	o.fail = func(string, int) bool { return !healthy } // under o.mu
	e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": o.srv.URL, "types": []string{w.typ}, "ordered": true,
	}))
	e.must(202, e.send(w.producer, keyedEvent("k", 1), keyedEvent("k", 2)))
	eventually(t, 10*time.Second, "the first failed attempt", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.failures == 1
	})
	ctx := context.Background()
	pool := e.app.Pool()
	eventually(t, 10*time.Second, "the drain job snoozed", func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'herald.drain' AND state = 'scheduled'`).Scan(&n)
		return n == 1
	})
	if _, err := pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'herald.drain'`); err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	healthy = true
	o.mu.Unlock()
	if err := e.app.Queue().RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "both events after the restart", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return len(o.acked["k"]) == 2
	})
	o.mu.Lock()
	defer o.mu.Unlock()
	if fmt.Sprint(o.acked["k"]) != "[1 2]" {
		t.Fatalf("acknowledged %v", o.acked["k"])
	}
}
