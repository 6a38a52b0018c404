package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// forceJobsDue makes the scheduled jobs of a kind whose args match where
// (SQL over the jsonb column args) runnable now, as if their snooze had
// ended (a retry an hour away, say), and returns how many.
func forceJobsDue(t *testing.T, e *env, kind, where string) int {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tag, err := pool.Exec(context.Background(), `UPDATE river_job SET scheduled_at = now(), state = 'available'
		WHERE kind = $1 AND state IN ('scheduled', 'retryable') AND `+where, kind)
	if err != nil {
		t.Fatal(err)
	}
	return int(tag.RowsAffected())
}

// TestRetryWaitingDeliveryNow: a delivery waiting an hour for its next
// attempt is tried at once when its endpoint's owner asks; the job it had
// is superseded and sends nothing when it runs.
func TestRetryWaitingDeliveryNow(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("1h,1h,1h"))
	w := e.world()
	rc := newReceiver(t)
	rc.respond = func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	e.must(202, e.send(w.producer, orderEvent("wait-1", 1)))
	var id string
	eventually(t, 10*time.Second, "first attempt failed", func() bool {
		d := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries", nil))["data"].([]any)
		if len(d) == 1 && d[0].(map[string]any)["attempts"] == float64(1) {
			id = d[0].(map[string]any)["id"].(string)
			return true
		}
		return false
	})
	attempts := func() (string, float64) {
		d := e.must(200, e.do(w.consumer, "GET", "/v1/deliveries/"+id, nil))
		return d["status"].(string), d["attempts"].(float64)
	}
	if st, _ := attempts(); st != "pending" {
		t.Fatalf("after a 503: %s", st)
	}
	calls := func() int {
		_, c, bad, _ := rc.snapshot()
		if len(bad) > 0 {
			t.Fatalf("receiver problems: %v", bad)
		}
		n := 0
		for _, k := range c {
			n += k
		}
		return n
	}

	// Another tenant cannot; the owner can, and it is sent at once.
	_, other := e.client(admin, e.tenant("nosy-"+t.Name()), "nosy", "consumer")
	e.must(404, e.do(other, "POST", "/v1/deliveries/"+id+"/retry", nil))
	e.must(202, e.do(w.consumer, "POST", "/v1/deliveries/"+id+"/retry", nil))
	eventually(t, 10*time.Second, "the retry's attempt (failing again)", func() bool {
		st, n := attempts()
		return st == "pending" && n == 2
	})

	// The job that was snoozed for an hour before the retry wakes: it
	// finds the delivery handed to a newer job and sends nothing, so the
	// delivery keeps one schedule. (River records a snooze a moment after
	// the job returns.)
	eventually(t, 10*time.Second, "the superseded job to be snoozed, then woken", func() bool {
		return forceJobsDue(t, e, "herald.deliver", "NOT args ? 'g'") > 0
	})
	time.Sleep(time.Second)
	if n := calls(); n != 2 {
		t.Fatalf("the receiver got %d requests, want 2: the superseded job sent again", n)
	}
	if _, n := attempts(); n != 2 {
		t.Fatalf("%v attempts after the superseded job ran, want 2", n)
	}

	// Retried again, it succeeds; its job is the only one that sent.
	e.must(202, e.do(admin, "POST", "/v1/deliveries/"+id+"/retry", nil))
	eventually(t, 10*time.Second, "delivery succeeded", func() bool {
		st, n := attempts()
		return st == "succeeded" && n == 3
	})
	if n := calls(); n != 3 {
		t.Fatalf("the receiver got %d requests, want 3", n)
	}

	// A delivery that succeeded can be sent again by hand (a fresh cycle).
	e.must(202, e.do(w.consumer, "POST", "/v1/deliveries/"+id+"/retry", nil))
	eventually(t, 5*time.Second, "sent again", func() bool { return calls() == 4 })
}

// TestRetryWaitingOrderedHead: on an ordered endpoint, the delivery
// holding its key back (waiting an hour after a failure) is tried at once
// when retried by hand, and the key's later events follow it in order; a
// delivery waiting behind it cannot jump the queue.
func TestRetryWaitingOrderedHead(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("1h,1h"))
	w := e.world()
	o := newOrderedReceiver(t)
	failedOnce := false
	o.fail = func(_ string, qty int) bool { // under o.mu
		if qty == 1 && !failedOnce {
			failedOnce = true
			return true
		}
		return false
	}
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": o.srv.URL, "types": []string{w.typ}, "ordered": true,
	}))
	epID := m["id"].(string)
	for i := 1; i <= 3; i++ {
		e.must(202, e.send(w.producer, keyedEvent("k", i)))
	}
	var head, second string
	eventually(t, 10*time.Second, "head failed once", func() bool {
		ds := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?limit=10", nil))["data"].([]any)
		head, second = "", ""
		for _, x := range ds {
			dm := x.(map[string]any)
			if dm["attempts"] == float64(1) && dm["status"] == "pending" {
				head = dm["id"].(string)
			} else if dm["attempts"] == float64(0) && second == "" {
				second = dm["id"].(string)
			}
		}
		return head != "" && second != ""
	})
	if got := o.ackedCount(); got != 0 {
		t.Fatalf("%d events acknowledged behind a failed head", got)
	}
	e.must(409, e.do(w.consumer, "POST", "/v1/deliveries/"+second+"/retry", nil))
	e.must(202, e.do(w.consumer, "POST", "/v1/deliveries/"+head+"/retry", nil))
	eventually(t, 10*time.Second, "the key drained in order", func() bool { return o.ackedCount() == 3 })
	o.mu.Lock()
	defer o.mu.Unlock()
	if got := o.acked["k"]; len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("acknowledged order %v, want [1 2 3]", got)
	}
}
