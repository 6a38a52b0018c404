package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/postgres"
)

// TestEventTypeRetention: a type's own retention is set, shown and
// cleared through the event type; bad values are refused naming the
// field and the rule, and change nothing.
func TestEventTypeRetention(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	put := func(ret any) response {
		body := map[string]any{"schema": json.RawMessage(orderSchema), "producers": []string{w.producerID},
			"consumers": []string{w.consumerID}}
		if ret != nil {
			body["retention"] = ret
		}
		return e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, body)
	}
	m := e.must(200, put(map[string]any{"keep": "720h", "max_count": 1000000}))
	ret, _ := m["retention"].(map[string]any)
	if ret["keep"] != "720h" || ret["max_count"] != float64(1000000) {
		t.Fatalf("retention %v, want keep 720h and max_count 1000000", m["retention"])
	}
	tests := []struct {
		name, field, rule string
		ret               any
	}{
		{"not a duration", "retention.keep", "duration", map[string]any{"keep": "soon"}},
		{"shorter than the retry schedule", "retention.keep", "duration", map[string]any{"keep": "12h"}},
		{"longer than a year", "retention.keep", "duration", map[string]any{"keep": "9000h"}},
		{"negative count", "retention.max_count", "minimum", map[string]any{"max_count": -1}},
	}
	for _, tt := range tests {
		r := put(tt.ret)
		if r.status != 422 || !bytes.Contains(r.body, []byte(`"field":"`+tt.field+`"`)) ||
			!bytes.Contains(r.body, []byte(`"rule":"`+tt.rule+`"`)) {
			t.Errorf("%s: %d %s, want 422 naming %s and %s", tt.name, r.status, r.body, tt.field, tt.rule)
		}
	}
	m = e.must(200, e.do(w.ownerAdmin, "GET", "/v1/event-types/"+w.typ, nil))
	if ret, _ := m["retention"].(map[string]any); ret["keep"] != "720h" {
		t.Fatalf("type changed by refused requests: %v", m["retention"])
	}
	m = e.must(200, put(map[string]any{"keep": "0", "max_count": 0}))
	if _, ok := m["retention"]; ok {
		t.Fatalf(`"0" is the default, shown as no retention of its own: %v`, m["retention"])
	}
}

// expireAt runs the maintenance job's retention as if at now+ahead, with
// the node's default retention.
func (e *env) expireAt(ahead time.Duration) postgres.Expired {
	e.t.Helper()
	res, err := postgres.Expire(context.Background(), e.app.Pool(), e.cfg.Retention, time.Now().Add(ahead))
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// retainType puts the world's type again with a retention of its own
// (and extra settings).
func (e *env) retainType(w *world, name string, keep string, extra map[string]any) {
	e.t.Helper()
	body := map[string]any{"schema": json.RawMessage(orderSchema), "producers": []string{w.producerID},
		"consumers": []string{w.consumerID}, "retention": map[string]any{"keep": keep}}
	for k, v := range extra {
		body[k] = v
	}
	r := e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+name, body)
	if r.status != 200 && r.status != 201 {
		e.t.Fatalf("put %s: %d %s", name, r.status, r.body)
	}
}

// TestLongPollGapNotice: retention removes an event of a type kept 48h
// that a group had not read; the next long poll answers the event kept
// after it and a Herald-Notice gap header with the first missing and
// first available sequences, once.
func TestLongPollGapNotice(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *app.Config) { c.Retention = 120 * time.Hour })
	w := e.world()
	e.retainType(w, w.typ, "48h", nil)
	const kept = "com.example.order.audited"
	e.retainType(w, kept, "720h", nil)
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "orders", "types": []string{"com.example.order.>"}}))
	seqOf := func(r response) string {
		m := e.must(202, r)
		return herald.FormatSeq(int64(m["events"].([]any)[0].(map[string]any)["sequence"].(float64)))
	}
	gone := orderEvent("short-lived", 1)
	gone["partitionkey"] = "k"
	stays := orderEvent("audited", 1)
	stays["partitionkey"], stays["type"] = "k", kept
	missing, available := seqOf(e.send(w.producer, gone)), seqOf(e.send(w.producer, stays))

	if res := e.expireAt(72 * time.Hour); res.Events != 1 || res.Tables != 0 {
		t.Fatalf("retention removed %+v, want the one event of the type kept 48h", res)
	}
	p := e.instance(w.consumer, "orders")
	r := e.do(w.consumer, "GET", p.base+"/events?max=10&wait=5s", nil)
	var evs []map[string]any
	if r.status != 200 {
		t.Fatalf("poll: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &evs); err != nil {
		t.Fatal(err)
	}
	if got := ids(evs); len(got) != 1 || got[0] != "audited" {
		t.Fatalf("events %v, want the kept one", got)
	}
	notices := r.header.Values(httpapi.NoticeHeader)
	want := fmt.Sprintf(`{"notice":"gap","partition":%d,"first_missing":"%s","first_available":"%s"}`,
		herald.Partition("k", "short-lived"), missing, available)
	if len(notices) != 1 || notices[0] != want {
		t.Fatalf("notices %q, want [%s]", notices, want)
	}
	r = e.do(w.consumer, "GET", p.base+"/events?max=10&wait=0s", nil)
	if r.status != 200 || len(r.header.Values(httpapi.NoticeHeader)) != 0 {
		t.Fatalf("second poll: %d, notices %q; want none (told once)", r.status, r.header.Values(httpapi.NoticeHeader))
	}
}

// TestThinPayloadAfterTypeRetention: a thin event's payload expires with
// its event at the latest (Herald-Payload-Expires says when); removed by
// its type's retention it is gone from the Integration API (404, as an
// unknown event), with its payload record; and a thin type kept longer
// than the default keeps its payload record and expiry past the default's
// days.
func TestThinPayloadAfterTypeRetention(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	e := setup(t, withClock(clk), func(c *app.Config) { c.Retention = 120 * time.Hour })
	w := e.thinWorld(nil)
	thin := map[string]any{"delivery": "thin", "thin_fields": []string{"$.order"}}
	id := func(m map[string]any) string { return m["events"].([]any)[0].(map[string]any)["id"].(string) }
	get := func(ev string) response { return e.do(w.integ, "GET", "/v1/integration/events/"+ev, nil) }
	payloads := func() int {
		var n int
		if err := e.app.Pool().QueryRow(context.Background(), `SELECT count(*) FROM thin_payloads`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	e.retainType(w.world, w.typ, "720h", thin)
	long := id(e.must(202, e.send(w.producer, orderWithNote("kept-long"))))
	clk.jump(6 * 24 * time.Hour) // past the default's 120h
	if err := e.app.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := payloads(); n != 1 {
		t.Fatalf("%d payload records after 6 days, want 1: the type keeps its events 720h", n)
	}
	if r := get(long); r.status != 200 || r.header.Get("Herald-Payload-Expires") == "" {
		t.Fatalf("kept-long after 6 days: %d (expires %q), want 200 with its expiry", r.status, r.header.Get("Herald-Payload-Expires"))
	}
	clk.offset.Store(0)

	e.retainType(w.world, w.typ, "48h", thin)
	file := e.upload(w.producer, "invoice.pdf", "application/pdf", []byte("%PDF-1.4 invoice"))
	withFile := orderWithNote("kept-short")
	withFile["attachments"] = file["id"].(string)
	short := id(e.must(202, e.send(w.producer, withFile)))
	r := get(short)
	until, _ := herald.KeptUntil(herald.IDTime(uuid.MustParse(short)), 48*time.Hour)
	if r.status != 200 || r.header.Get("Herald-Payload-Expires") != until.Format(http.TimeFormat) {
		t.Fatalf("kept-short: %d, expires %q; want 200, expiring with its event at %s", r.status,
			r.header.Get("Herald-Payload-Expires"), until.Format(http.TimeFormat))
	}
	if res := e.expireAt(72 * time.Hour); res.Events != 2 {
		t.Fatalf("retention removed %+v, want both events of the type now kept 48h", res)
	}
	e.must(404, get(short))
	if n := payloads(); n != 0 {
		t.Fatalf("%d payload records left, want 0", n)
	}
	// Its file goes with the next sweep, content included.
	fid := file["id"].(string)
	content := filepath.Join(e.cfg.DataDir, "files", fid[:2], fid)
	if _, err := os.Stat(content); err != nil {
		t.Fatalf("file content not where expected: %v", err)
	}
	if err := e.app.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	var files int
	if err := e.app.Pool().QueryRow(context.Background(), `SELECT count(*) FROM files`).Scan(&files); err != nil || files != 0 {
		t.Fatalf("%d files left after the sweep (%v), want 0", files, err)
	}
	if _, err := os.Stat(content); !os.IsNotExist(err) {
		t.Fatalf("file content still stored: %v", err)
	}
}

// TestPendingDeliveryOfRemovedEvent: a webhook delivery waiting for its
// next attempt when retention removes its event is failed without being
// sent ("endpoint or event no longer exists"), and is no longer shown nor
// retried (404), as when its day is dropped with the event.
func TestPendingDeliveryOfRemovedEvent(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("3s,3s"))
	w := e.world()
	e.retainType(w, w.typ, "48h", nil)
	rc := newReceiver(t)
	rc.respond = func(int, *http.Request) int { return http.StatusServiceUnavailable }
	e.endpoint(w.consumer, rc.URL(), w.typ)
	e.must(202, e.send(w.producer, orderEvent("o-1", 1)))
	calls := func() int {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		n := 0
		for _, c := range rc.calls {
			n += c
		}
		return n
	}
	eventually(t, 5*time.Second, "the first attempt", func() bool { return calls() == 1 })
	e.expireAt(72 * time.Hour)
	var id, status, lastErr string
	eventually(t, 10*time.Second, "the delivery failed", func() bool {
		err := e.app.Pool().QueryRow(context.Background(), `SELECT id::text, status, last_error FROM deliveries`).
			Scan(&id, &status, &lastErr)
		return err == nil && status == "failed"
	})
	if lastErr != "endpoint or event no longer exists" || calls() != 1 {
		t.Fatalf("last error %q after %d requests, want the event gone and no second request", lastErr, calls())
	}
	e.must(404, e.do(w.consumer, "GET", "/v1/deliveries/"+id, nil))
	e.must(404, e.do(w.consumer, "POST", "/v1/deliveries/"+id+"/retry", nil))
}
