package app_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// storedOps counts the stored operational events of a type about a
// delivery (their subject is deliveries/<id>). Emission commits the event
// before the emitting job returns, so once the job is done this count is
// final.
func (e *env) storedOps(typ, delivery string) int {
	e.t.Helper()
	var n int
	if err := e.app.Pool().QueryRow(e.t.Context(), `SELECT count(*) FROM events WHERE type = $1 AND subject = $2`,
		typ, "deliveries/"+delivery).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// deliveryJobsDone reports whether every delivery job of a delivery has
// finished, so whatever it announces is stored.
func (e *env) deliveryJobsDone(delivery string) bool {
	e.t.Helper()
	var open, done int
	if err := e.app.Pool().QueryRow(e.t.Context(), `SELECT count(*) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded')),
			count(*) FILTER (WHERE state = 'completed')
		FROM river_job WHERE (kind = 'herald.deliver' AND args->>'d' = $1)
			OR (kind = 'herald.deliver_batch' AND args->'b' @> jsonb_build_array(jsonb_build_object('d', $1::text)))`,
		delivery).Scan(&open, &done); err != nil {
		e.t.Fatal(err)
	}
	return open == 0 && done > 0
}

// delivery returns the only delivery of an endpoint.
func (e *env) onlyDelivery(c cred, endpoint string) map[string]any {
	e.t.Helper()
	ds := e.must(200, e.do(c, "GET", "/v1/endpoints/"+endpoint+"/deliveries", nil))["data"].([]any)
	if len(ds) != 1 {
		return nil
	}
	return ds[0].(map[string]any)
}

// opsOf lists the data of the operational events of a type an ops
// receiver got.
func opsOf(rc *receiver, typ string) []map[string]any {
	_, _, _, bodies := rc.snapshot()
	var out []map[string]any
	for _, b := range bodies {
		if b["type"] == typ {
			data, _ := b["data"].(map[string]any)
			out = append(out, data)
		}
	}
	return out
}

// TestDeliveryRecovered: a delivery announced as exhausted that a manual
// retry brings to success is announced as recovered, once; a delivery
// that succeeds on an ordinary retry is not.
func TestDeliveryRecovered(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("50ms")) // two attempts, then exhausted
	w := e.world()
	ops := newReceiver(t)
	_, ops.secret = e.endpoint(w.consumer, ops.URL(), "herald.delivery.>")

	var down atomic.Bool
	down.Store(true)
	dead := newReceiver(t)
	dead.respond = func(int, *http.Request) int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	deadID, deadSecret := e.endpoint(w.consumer, dead.URL(), w.typ)
	dead.secret = deadSecret
	flaky := newReceiver(t)
	flaky.respond = func(call int, _ *http.Request) int {
		if call == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	flakyID, flakySecret := e.endpoint(w.consumer, flaky.URL(), w.typ)
	flaky.secret = flakySecret

	e.must(202, e.send(w.producer, orderEvent("rec-1", 1)))
	var deadDelivery, flakyDelivery string
	eventually(t, 15*time.Second, "exhausted announced", func() bool {
		for _, d := range opsOf(ops, "herald.delivery.exhausted") {
			if d["endpoint_id"] == deadID {
				deadDelivery = d["delivery_id"].(string)
				return true
			}
		}
		return false
	})
	eventually(t, 10*time.Second, "flaky delivery succeeded on its second attempt", func() bool {
		d := e.onlyDelivery(w.consumer, flakyID)
		if d == nil || d["status"] != "succeeded" {
			return false
		}
		flakyDelivery = d["id"].(string)
		return d["attempts"] == float64(2) && e.deliveryJobsDone(flakyDelivery)
	})
	if n := e.storedOps("herald.delivery.recovered", flakyDelivery); n != 0 {
		t.Fatalf("a delivery that succeeded on an ordinary retry was announced recovered %d times", n)
	}

	down.Store(false)
	e.must(202, e.do(w.consumer, "POST", "/v1/deliveries/"+deadDelivery+"/retry", nil))
	var recovered map[string]any
	eventually(t, 15*time.Second, "recovered announced", func() bool {
		for _, d := range opsOf(ops, "herald.delivery.recovered") {
			recovered = d
			return true
		}
		return false
	})
	ev := e.onlyDelivery(w.consumer, deadID)
	want := map[string]any{"delivery_id": deadDelivery, "endpoint_id": deadID, "event_id": ev["event_id"],
		"event_type": w.typ, "attempts": float64(3)}
	for k, v := range want {
		if recovered[k] != v {
			t.Errorf("recovered %s = %v, want %v (event %v)", k, recovered[k], v, recovered)
		}
	}

	// Succeeding again (a retry of the recovered delivery) is no new
	// recovery.
	eventually(t, 10*time.Second, "first retry's job done", func() bool { return e.deliveryJobsDone(deadDelivery) })
	e.must(202, e.do(w.consumer, "POST", "/v1/deliveries/"+deadDelivery+"/retry", nil))
	eventually(t, 10*time.Second, "second retry done", func() bool {
		d := e.onlyDelivery(w.consumer, deadID)
		return d["status"] == "succeeded" && d["attempts"] == float64(4) && e.deliveryJobsDone(deadDelivery)
	})
	if n := e.storedOps("herald.delivery.recovered", deadDelivery); n != 1 {
		t.Fatalf("recovered announced %d times, want once", n)
	}
	if n := e.storedOps("herald.delivery.recovered", flakyDelivery); n != 0 {
		t.Fatalf("flaky delivery announced recovered %d times", n)
	}
	if _, _, bad, _ := ops.snapshot(); len(bad) > 0 {
		t.Fatal(bad[0])
	}
}

// TestDeliveryRecoveredByRecoverAndReplay: an endpoint recover brings its
// exhausted deliveries back (each announced recovered), and a replay of an
// event whose delivery was exhausted announces the replayed delivery's
// success as the recovery.
func TestDeliveryRecoveredByRecoverAndReplay(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("50ms"))
	w := e.world()
	ops := newReceiver(t)
	_, ops.secret = e.endpoint(w.consumer, ops.URL(), "herald.delivery.>")
	var down atomic.Bool
	down.Store(true)
	rc := newReceiver(t)
	rc.respond = func(int, *http.Request) int {
		if down.Load() {
			return http.StatusBadGateway
		}
		return http.StatusNoContent
	}
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	start := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)

	exhausted := func(n int) map[string]bool {
		t.Helper()
		ids := map[string]bool{}
		eventually(t, 15*time.Second, "exhausted announced", func() bool {
			for _, d := range opsOf(ops, "herald.delivery.exhausted") {
				if d["endpoint_id"] == epID {
					ids[d["delivery_id"].(string)] = true
				}
			}
			return len(ids) >= n
		})
		return ids
	}
	e.must(202, e.send(w.producer, orderEvent("rec-a", 1)))
	e.must(202, e.send(w.producer, orderEvent("rec-b", 1)))
	first := exhausted(2)

	down.Store(false)
	m := e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/recover", map[string]any{"since": start}))
	if m["recovered"] != float64(2) {
		t.Fatalf("recover = %v", m)
	}
	eventually(t, 15*time.Second, "both recoveries announced", func() bool {
		got := map[string]bool{}
		for _, d := range opsOf(ops, "herald.delivery.recovered") {
			got[d["delivery_id"].(string)] = true
		}
		return len(got) == 2 && got[keys(first)[0]] && got[keys(first)[1]]
	})

	// A third event is exhausted; a replay of the whole range resends all
	// three, and only the replayed delivery of the third is a recovery.
	down.Store(true)
	e.must(202, e.send(w.producer, orderEvent("rec-c", 1)))
	all := exhausted(3)
	var third string
	for id := range all {
		if !first[id] {
			third = id
		}
	}
	for id := range all {
		eventually(t, 10*time.Second, "jobs done", func() bool { return e.deliveryJobsDone(id) })
	}
	down.Store(false)
	rp := e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/replay", map[string]any{"from": start}))
	eventually(t, 10*time.Second, "replay done", func() bool {
		return e.must(200, e.do(w.consumer, "GET", "/v1/replays/"+rp["id"].(string), nil))["status"] == "done"
	})
	var replayed map[string]any
	eventually(t, 15*time.Second, "replayed recovery announced", func() bool {
		for _, d := range opsOf(ops, "herald.delivery.recovered") {
			if !all[d["delivery_id"].(string)] {
				replayed = d
				return true
			}
		}
		return false
	})
	d := e.must(200, e.do(w.consumer, "GET", "/v1/deliveries/"+third, nil))
	if replayed["event_id"] != d["event_id"] || replayed["endpoint_id"] != epID {
		t.Fatalf("replayed recovery %v is not about the third event %v", replayed, d["event_id"])
	}
	// Every replayed delivery succeeds; once their jobs are done, exactly
	// three recoveries are stored.
	eventually(t, 15*time.Second, "replayed deliveries done", func() bool {
		ds := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=succeeded", nil))["data"].([]any)
		if len(ds) != 5 {
			return false
		}
		for _, x := range ds {
			if !e.deliveryJobsDone(x.(map[string]any)["id"].(string)) {
				return false
			}
		}
		return true
	})
	var n int
	if err := e.app.Pool().QueryRow(t.Context(), `SELECT count(*) FROM events WHERE type = 'herald.delivery.recovered'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d recoveries stored, want 3", n)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
