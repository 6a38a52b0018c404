package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/app"
)

// clock is an injected clock running offset ahead of real time.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time       { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) jump(d time.Duration) { c.offset.Add(int64(d)) }

func withClock(c *clock) option { return func(cfg *app.Config) { cfg.Now = c.now } }

// thinWorld extends world with a thin type keeping only $.order, an
// integration credential of the consuming tenant and a webhook receiver.
type thinWorld struct {
	*world
	integ   cred
	integID string
}

const thinType = "com.example.order.created"

func (e *env) thinWorld(extra map[string]any) *thinWorld {
	e.t.Helper()
	w := e.world()
	body := map[string]any{
		"description": "an order was placed", "schema": json.RawMessage(orderSchema),
		"producers": []string{w.producerID}, "consumers": []string{w.consumerID},
		"delivery": "thin", "thin_fields": []string{"$.order"},
	}
	for k, v := range extra {
		body[k] = v
	}
	m := e.must(200, e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, body))
	if m["delivery"] != "thin" {
		e.t.Fatalf("type not thin: %v", m)
	}
	_, consumerAdmin := e.client(admin, w.consumerTenant, "consumer admin", "admin")
	im := e.must(201, e.do(consumerAdmin, "POST", "/v1/integrations", map[string]any{
		"name": "warehouse-production", "types": []string{"com.example.order.>"},
	}))
	return &thinWorld{world: w, integ: cred{im["key"].(string), im["secret"].(string)}, integID: im["id"].(string)}
}

func orderWithNote(id string) map[string]any {
	ev := orderEvent(id, 3)
	ev["data"].(map[string]any)["note"] = "deliver to Alice, 1 High Street"
	return ev
}

// getURL fetches an absolute URL with optional Basic credentials.
func getURL(t *testing.T, url string, c cred) response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.key != "" {
		req.SetBasicAuth(c.key, c.secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestThinWebhookCarriesNotification: a thin type's webhook, its replay and
// a manual retry carry the attributes, the declared fields and a dataref
// only; the dataref returns the full event to the integration credential.
func TestThinWebhookCarriesNotification(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.thinWorld(nil)
	rc := newReceiver(t)
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	start := time.Now().Add(-time.Second)
	e.must(202, e.send(w.producer, orderWithNote("o-1")))
	rc.waitEvents(1, 15*time.Second)

	// Replays and retries go through the same path.
	e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/replay", map[string]any{"from": start}))
	eventually(t, 15*time.Second, "replayed delivery", func() bool {
		_, calls, _, _ := rc.snapshot()
		return len(calls) >= 2
	})
	list := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries", nil))
	first := list["data"].([]any)[0].(map[string]any)
	eventually(t, 10*time.Second, "delivery settled", func() bool {
		d := e.must(200, e.do(w.consumer, "GET", "/v1/deliveries/"+first["id"].(string), nil))
		return d["status"] == "succeeded"
	})
	e.must(202, e.do(w.consumer, "POST", "/v1/deliveries/"+first["id"].(string)+"/retry", nil))
	eventually(t, 15*time.Second, "retried delivery", func() bool {
		_, _, _, bodies := rc.snapshot()
		return len(bodies) >= 3
	})

	_, _, bad, bodies := rc.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	var dataref string
	for _, b := range bodies {
		data, _ := b["data"].(map[string]any)
		if len(data) != 1 || data["order"] != "o-1" {
			t.Fatalf("thin webhook data = %v, want only the declared field order", b["data"])
		}
		if raw, _ := json.Marshal(b); bytes.Contains(raw, []byte("Alice")) || bytes.Contains(raw, []byte(`"qty"`)) {
			t.Fatalf("thin webhook leaks the payload: %s", raw)
		}
		if b["id"] != "o-1" || b["type"] != w.typ || b["source"] != "/shop" || b["datacontenttype"] != "application/json" {
			t.Fatalf("attributes not kept: %v", b)
		}
		dataref, _ = b["dataref"].(string)
		if !strings.HasPrefix(dataref, e.app.URL()+"/v1/integration/events/") {
			t.Fatalf("dataref = %q", dataref)
		}
	}

	r := getURL(t, dataref+"?envelope=true", w.integ)
	m := e.must(200, r)
	ev := m["event"].(map[string]any)
	data := ev["data"].(map[string]any)
	if data["note"] != "deliver to Alice, 1 High Street" || data["qty"] != float64(3) || ev["id"] != "o-1" {
		t.Fatalf("integration API event = %v", ev)
	}
	if m["expires_at"] == nil {
		t.Fatalf("no expires_at for a thin event: %v", m)
	}
	// By default (what a client following dataref gets) the event comes
	// alone, in CloudEvents JSON.
	bare := getURL(t, dataref, w.integ)
	var ce map[string]any
	if bare.status != 200 || bare.header.Get("Content-Type") != "application/cloudevents+json" ||
		json.Unmarshal(bare.body, &ce) != nil || ce["id"] != "o-1" || ce["data"].(map[string]any)["qty"] != float64(3) ||
		bare.header.Get("Herald-Payload-Expires") == "" {
		t.Fatalf("bare event: %d %v %s", bare.status, bare.header, bare.body)
	}
}

// TestIntegrationAPIAccess: the right credential reads the event; wrong,
// revoked, expired and out-of-scope credentials are refused, and an
// out-of-scope event cannot be told from a missing one.
func TestIntegrationAPIAccess(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	e := setup(t, withClock(clk))
	w := e.thinWorld(nil)
	m := e.must(202, e.send(w.producer, orderWithNote("a-1")))
	eventID := m["events"].([]any)[0].(map[string]any)["id"].(string)
	_, consumerAdmin := e.client(admin, w.consumerTenant, "second admin", "admin")

	integ := func(c cred, tenantAdmin cred, name string, types []string, expires *time.Time) (cred, string) {
		body := map[string]any{"name": name, "types": types}
		if expires != nil {
			body["expires_at"] = expires
		}
		im := e.must(201, e.do(tenantAdmin, "POST", "/v1/integrations", body))
		return cred{im["key"].(string), im["secret"].(string)}, im["id"].(string)
	}
	otherScope, _ := integ(cred{}, consumerAdmin, "other scope", []string{"com.example.invoice.>"}, nil)
	revoked, revokedID := integ(cred{}, consumerAdmin, "revoked", []string{w.typ}, nil)
	e.must(204, e.do(consumerAdmin, "DELETE", "/v1/integrations/"+revokedID, nil))
	soon := clk.now().Add(time.Hour)
	expiring, _ := integ(cred{}, consumerAdmin, "expiring", []string{w.typ}, &soon)
	// A tenant with no right to consume the type, in scope by pattern.
	strangerTenant := e.tenant("stranger-" + t.Name())
	_, strangerAdmin := e.client(admin, strangerTenant, "stranger admin", "admin")
	stranger, _ := integ(cred{}, strangerAdmin, "stranger", []string{">"}, nil)
	// Rotation: the old secret stops working, the new one works.
	rotatedOld, rotatedID := integ(cred{}, consumerAdmin, "rotated", []string{w.typ}, nil)
	rm := e.must(200, e.do(consumerAdmin, "POST", "/v1/integrations/"+rotatedID+"/secret/rotate", nil))
	rotatedNew := cred{rotatedOld.key, rm["secret"].(string)}

	path := "/v1/integration/events/" + eventID
	missing := "/v1/integration/events/" + uuid.Must(uuid.NewV7()).String()
	tests := []struct {
		name   string
		c      cred
		path   string
		status int
	}{
		{"right credential", w.integ, path, 200},
		{"rotated secret", rotatedNew, path, 200},
		{"expiring credential before expiry", expiring, path, 200},
		{"no credentials", cred{}, path, 401},
		{"wrong secret", cred{w.integ.key, w.integ.secret + "x"}, path, 401},
		{"secret before rotation", rotatedOld, path, 401},
		{"unknown key", cred{"hik_unknown", w.integ.secret}, path, 401},
		{"a client credential", w.consumer, path, 401},
		{"revoked credential", revoked, path, 403},
		{"out of scope", otherScope, path, 404},
		{"tenant may not consume the type", stranger, path, 404},
		{"unknown event", w.integ, missing, 404},
		{"malformed id", w.integ, "/v1/integration/events/nope", 404},
	}
	for _, tt := range tests {
		r := e.do(tt.c, "GET", tt.path, nil)
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, r.status, tt.status, r.body)
		}
	}
	// Out of scope and missing answer alike.
	a, b := e.do(otherScope, "GET", path, nil), e.do(otherScope, "GET", missing, nil)
	if string(a.body) != string(b.body) {
		t.Errorf("out-of-scope answer %s differs from missing answer %s", a.body, b.body)
	}
	clk.jump(2 * time.Hour)
	if r := e.do(expiring, "GET", path, nil); r.status != 403 {
		t.Errorf("expired credential: status %d, want 403: %s", r.status, r.body)
	}
	// Management: bad input names the field; other tenants can't see it.
	r := e.do(consumerAdmin, "POST", "/v1/integrations", map[string]any{"name": "x", "types": []string{"a..b"}})
	if r.status != 422 || !bytes.Contains(r.body, []byte(`"types[0]"`)) {
		t.Errorf("bad pattern: %d %s", r.status, r.body)
	}
	e.must(404, e.do(strangerAdmin, "GET", "/v1/integrations/"+w.integID, nil))
	e.must(403, e.do(w.consumer, "POST", "/v1/integrations", map[string]any{"name": "x", "types": []string{">"}}))
	list := e.must(200, e.do(consumerAdmin, "GET", "/v1/integrations", nil))
	if n := len(list["data"].([]any)); n != 5 {
		t.Errorf("%d integrations listed, want 5", n)
	}
	for _, it := range list["data"].([]any) {
		if _, ok := it.(map[string]any)["secret"]; ok {
			t.Errorf("list shows a secret: %v", it)
		}
	}
}

// TestThinRetention: a thin payload is readable for 30 days, or 5 days
// after its first successful read, whichever comes first (and per type
// settings); then it answers 410 and the sweep scrubs the stored event.
func TestThinRetention(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	e := setup(t, withClock(clk))
	w := e.thinWorld(nil)
	id := func(m map[string]any) string { return m["events"].([]any)[0].(map[string]any)["id"].(string) }
	never := id(e.must(202, e.send(w.producer, orderWithNote("never-read"))))
	early := id(e.must(202, e.send(w.producer, orderWithNote("read-early"))))
	get := func(ev string) response { return e.do(w.integ, "GET", "/v1/integration/events/"+ev, nil) }

	e.must(200, get(early)) // first read: 5 more days
	clk.jump(5*24*time.Hour - time.Minute)
	e.must(200, get(early))
	clk.jump(2 * time.Minute)
	gone := e.must(410, get(early))
	if gone["type"] != "urn:herald:problem:gone" || !strings.Contains(gone["detail"].(string), "expired") {
		t.Fatalf("410 body = %v", gone)
	}
	clk.jump(25*24*time.Hour - 2*time.Minute) // 30 days minus a minute
	if r := get(never); r.status != 200 {     // first read now: the 30 days still bound it
		var exp time.Time
		_ = e.app.Pool().QueryRow(context.Background(), "SELECT expires_at FROM thin_payloads WHERE event_id = $1", never).Scan(&exp)
		t.Fatalf("never-read event at 30d-1m: %d %s; expires_at %v, now %v", r.status, r.body, exp, clk.now())
	}
	clk.jump(2 * time.Minute)
	e.must(410, get(never))

	if err := e.app.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{never, early} {
		stored, err := e.app.Store().EventGet(context.Background(), uuid.MustParse(ev))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored.Body, []byte("Alice")) || !bytes.Contains(stored.Body, []byte(`"dataref"`)) {
			t.Fatalf("stored body not scrubbed to its notification: %s", stored.Body)
		}
		e.must(410, get(ev))
	}

	// Per-type settings (back to real time): kept 48h, 1h after a read.
	clk.offset.Store(0)
	e.must(200, e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, map[string]any{
		"schema": json.RawMessage(orderSchema), "producers": []string{w.producerID}, "consumers": []string{w.consumerID},
		"delivery": "thin", "thin_fields": []string{"$.order"},
		"thin_retention": map[string]any{"keep": "48h", "after_first_read": "1h"},
	}))
	short := id(e.must(202, e.send(w.producer, orderWithNote("short"))))
	e.must(200, get(short))
	clk.jump(59 * time.Minute)
	e.must(200, get(short))
	clk.jump(2 * time.Minute)
	e.must(410, get(short))
	unread := id(e.must(202, e.send(w.producer, orderWithNote("unread"))))
	clk.jump(48 * time.Hour)
	e.must(410, get(unread))
}

// TestEventTypeThinValidation: bad thin settings are refused naming the
// field (and the index of a bad path); nothing changes.
func TestEventTypeThinValidation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	tests := []struct {
		name, field string
		body        map[string]any
	}{
		{"bad path", "thin_fields[1]", map[string]any{"delivery": "thin", "thin_fields": []string{"$.team", "team"}}},
		{"array index", "thin_fields[0]", map[string]any{"delivery": "thin", "thin_fields": []string{"$.items[0]"}}},
		{"fields without thin", "thin_fields", map[string]any{"thin_fields": []string{"$.team"}}},
		{"unknown mode", "delivery", map[string]any{"delivery": "slim"}},
		{"bad keep", "thin_retention.keep", map[string]any{"delivery": "thin", "thin_retention": map[string]any{"keep": "soon"}}},
	}
	for _, tt := range tests {
		r := e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, tt.body)
		if r.status != 422 || !bytes.Contains(r.body, []byte(`"field":"`+tt.field+`"`)) {
			t.Errorf("%s: %d %s, want 422 naming %s", tt.name, r.status, r.body, tt.field)
		}
	}
	m := e.must(200, e.do(w.ownerAdmin, "GET", "/v1/event-types/"+w.typ, nil))
	if m["delivery"] != "full" {
		t.Errorf("type changed by refused requests: %v", m)
	}
}

// TestIntegrationAccessLog: every Integration API call with a known key is
// recorded, failures included, newest first and paged.
func TestIntegrationAccessLog(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.thinWorld(nil)
	m := e.must(202, e.send(w.producer, orderWithNote("logged")))
	eventID := m["events"].([]any)[0].(map[string]any)["id"].(string)
	missing := uuid.Must(uuid.NewV7()).String()
	e.must(200, e.do(w.integ, "GET", "/v1/integration/events/"+eventID, nil))
	e.must(401, e.do(cred{w.integ.key, "wrong"}, "GET", "/v1/integration/events/"+eventID, nil))
	e.must(404, e.do(w.integ, "GET", "/v1/integration/events/"+missing, nil))
	e.must(401, e.do(cred{"hik_nobody", "x"}, "GET", "/v1/integration/events/"+eventID, nil)) // unknown key: nothing to attribute

	logPath := "/v1/integrations/" + w.integID + "/access-log"
	e.must(404, e.do(w.ownerAdmin, "GET", logPath, nil)) // another tenant's admin
	_, consumerAdmin := e.client(admin, w.consumerTenant, "auditor", "admin")
	l := e.must(200, e.do(consumerAdmin, "GET", logPath, nil))
	entries := l["data"].([]any)
	want := []struct {
		status  float64
		outcome string
		event   string
	}{{404, "not found or out of scope", missing}, {401, "wrong secret", eventID}, {200, "ok", eventID}}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d: %v", len(entries), len(want), entries)
	}
	for i, wnt := range want {
		en := entries[i].(map[string]any)
		if en["status"] != wnt.status || en["outcome"] != wnt.outcome || en["remote_addr"] != "127.0.0.1" || en["method"] != "GET" {
			t.Errorf("entry %d = %v, want %+v", i, en, wnt)
		}
		if wnt.status != 401 && en["event_id"] != wnt.event {
			t.Errorf("entry %d event = %v, want %s", i, en["event_id"], wnt.event)
		}
		if _, err := time.Parse(time.RFC3339Nano, en["at"].(string)); err != nil {
			t.Errorf("entry %d time: %v", i, err)
		}
	}
	page := e.must(200, e.do(consumerAdmin, "GET", logPath+"?limit=2", nil))
	if len(page["data"].([]any)) != 2 || page["next_before"] == nil {
		t.Fatalf("first page = %v", page)
	}
	next := e.must(200, e.do(consumerAdmin, "GET", fmt.Sprintf("%s?limit=2&before=%.0f", logPath, page["next_before"]), nil))
	if d := next["data"].([]any); len(d) != 1 || d[0].(map[string]any)["status"] != float64(200) {
		t.Fatalf("second page = %v", next)
	}
}

// upload posts a raw file as the producer.
func (e *env) upload(c cred, name, contentType string, content []byte) map[string]any {
	e.t.Helper()
	return e.must(201, e.do(c, "POST", "/v1/files?name="+name, content, "Content-Type", contentType))
}

// TestFilesAttachDownloadExpire: files upload (raw and multipart), attach
// by the attachments extension, download by signed link, refuse tampered
// and stale links, and expire with the payload or unattached.
func TestFilesAttachDownloadExpire(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	e := setup(t, withClock(clk))
	w := e.thinWorld(nil)
	pdf := bytes.Repeat([]byte("%PDF-1.7 plan "), 1000)
	f1 := e.upload(w.producer, "site-plan.pdf", "application/pdf", pdf)
	// Multipart upload.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, _ := mw.CreateFormFile("file", "photo.jpg")
	_, _ = part.Write([]byte("not really a jpeg"))
	_ = mw.Close()
	f2 := e.must(201, e.do(w.producer, "POST", "/v1/files", buf.Bytes(), "Content-Type", mw.FormDataContentType()))
	if f2["name"] != "photo.jpg" || f2["size"] != float64(17) {
		t.Fatalf("multipart upload = %v", f2)
	}
	// Only producers upload.
	e.must(403, e.do(w.consumer, "POST", "/v1/files", "x", "Content-Type", "text/plain"))
	loose := e.upload(w.producer, "loose.txt", "text/plain", []byte("never attached"))

	ev := orderWithNote("with-files")
	ev["attachments"] = f1["id"].(string) + "," + f2["id"].(string)
	m := e.must(202, e.send(w.producer, ev))
	eventID := m["events"].([]any)[0].(map[string]any)["id"].(string)

	// A file attaches to one event only; unknown ids are refused, naming
	// the event index and the attribute.
	again := orderWithNote("again")
	again["attachments"] = f1["id"].(string)
	r := e.send(w.producer, orderEvent("fine", 1), again)
	if r.status != 422 || !bytes.Contains(r.body, []byte(`"index":1`)) || !bytes.Contains(r.body, []byte(`"field":"attachments"`)) ||
		!bytes.Contains(r.body, []byte(`"rule":"attached"`)) {
		t.Fatalf("reattach: %d %s", r.status, r.body)
	}
	unknown := orderWithNote("unknown")
	unknown["attachments"] = uuid.NewString()
	if r := e.send(w.producer, unknown); r.status != 422 || !bytes.Contains(r.body, []byte(`"rule":"not-found"`)) {
		t.Fatalf("unknown file: %d %s", r.status, r.body)
	}

	got := e.must(200, e.do(w.integ, "GET", "/v1/integration/events/"+eventID+"?envelope=true", nil))
	atts := got["attachments"].([]any)
	if len(atts) != 2 {
		t.Fatalf("attachments = %v", atts)
	}
	if r := e.do(w.integ, "GET", "/v1/integration/events/"+eventID, nil); len(r.header.Values("Link")) != 2 ||
		!strings.Contains(r.header.Values("Link")[0], `rel="enclosure"`) {
		t.Fatalf("bare event links: %v", r.header.Values("Link"))
	}
	var link string
	for _, a := range atts {
		a := a.(map[string]any)
		if a["id"] == f1["id"] {
			link = a["url"].(string)
			if a["name"] != "site-plan.pdf" || a["content_type"] != "application/pdf" || a["size"] != float64(len(pdf)) ||
				a["sha256"] != f1["sha256"] {
				t.Fatalf("attachment = %v", a)
			}
		}
	}
	dl := getURL(t, link, cred{})
	if dl.status != 200 || !bytes.Equal(dl.body, pdf) || dl.header.Get("Content-Type") != "application/pdf" ||
		!strings.Contains(dl.header.Get("Content-Disposition"), "site-plan.pdf") ||
		dl.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(dl.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("download: %d %v (%d bytes)", dl.status, dl.header, len(dl.body))
	}
	if r := getURL(t, strings.Replace(link, "signature=", "signature=A", 1), cred{}); r.status != 401 {
		t.Fatalf("tampered link: %d", r.status)
	}
	if r := getURL(t, strings.Replace(link, f1["id"].(string), f2["id"].(string), 1), cred{}); r.status != 401 {
		t.Fatalf("link for another file: %d", r.status)
	}
	clk.jump(6 * time.Minute)
	if r := getURL(t, link, cred{}); r.status != 401 {
		t.Fatalf("stale link: %d %s", r.status, r.body)
	}
	l := e.must(200, e.do(w.integ, "GET", "/v1/integration/events/"+eventID+"?envelope=true", nil))
	link = l["attachments"].([]any)[0].(map[string]any)["url"].(string)
	if r := getURL(t, link, cred{}); r.status != 200 {
		t.Fatalf("fresh link: %d", r.status)
	}

	// An unattached upload expires after 24 hours; attached files expire
	// with the payload (5 days after the first read).
	filesDir := filepath.Join(e.cfg.DataDir, "files")
	onDisk := func(id string) bool {
		_, err := os.Stat(filepath.Join(filesDir, id[:2], id))
		return err == nil
	}
	if !onDisk(loose["id"].(string)) || !onDisk(f1["id"].(string)) {
		t.Fatal("uploads not on disk")
	}
	clk.jump(25 * time.Hour)
	if err := e.app.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if onDisk(loose["id"].(string)) || !onDisk(f1["id"].(string)) {
		t.Fatal("after 25h: the unattached upload should be gone, the attached file kept")
	}
	e.must(404, e.do(w.producer, "GET", "/v1/files/"+loose["id"].(string), nil))
	// 6m + 25h have passed since the first read; go to a minute before
	// 5 days after it.
	clk.jump(5*24*time.Hour - 2*time.Minute - 25*time.Hour - 6*time.Minute)
	link = e.must(200, e.do(w.integ, "GET", "/v1/integration/events/"+eventID+"?envelope=true", nil))["attachments"].([]any)[0].(map[string]any)["url"].(string)
	clk.jump(3 * time.Minute) // past 5 days after the first read, link still fresh
	if r := getURL(t, link, cred{}); r.status != 410 {
		t.Fatalf("link after payload expiry: %d %s", r.status, r.body)
	}
	if err := e.app.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if onDisk(f1["id"].(string)) || onDisk(f2["id"].(string)) {
		t.Fatal("attached files survived their payload")
	}
	if r := getURL(t, link, cred{}); r.status != 410 {
		t.Fatalf("link after sweep: %d %s", r.status, r.body)
	}
}

// TestThinUnrenderableIsDeadLettered: a stored thin event that cannot be
// rendered as a notification is never sent in full; its delivery is
// dead-lettered with the reason, and the deliveries loaded with it go on.
func TestThinUnrenderableIsDeadLettered(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.thinWorld(nil)
	rc := newReceiver(t)
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	ctx := context.Background()
	if err := e.app.Queue().PauseDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	sent := e.must(202, e.send(w.producer, orderWithNote("ok-1"), orderWithNote("broken-1")))
	broken := sent["events"].([]any)[1].(map[string]any)["id"].(string)
	// Damage the stored body (as a bad restore or a manual edit might).
	if _, err := e.app.Pool().Exec(ctx, `UPDATE events SET body = 'not json' WHERE id = $1`, broken); err != nil {
		t.Fatal(err)
	}
	if err := e.app.Queue().ResumeDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	rc.waitEvents(1, 15*time.Second)
	var reason string
	eventually(t, 15*time.Second, "the broken delivery dead-lettered", func() bool {
		list := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=failed", nil))
		items, _ := list["data"].([]any)
		if len(items) != 1 {
			return false
		}
		reason, _ = items[0].(map[string]any)["last_error"].(string)
		return true
	})
	if !strings.Contains(reason, "cannot be rendered") {
		t.Fatalf("dead-letter reason %q", reason)
	}
	events, calls, bad, _ := rc.snapshot()
	if len(bad) > 0 || events["ok-1"] != 1 || len(calls) != 1 {
		t.Fatalf("receiver got events %v, calls %v, problems %v; want ok-1 only", events, calls, bad)
	}
}

// TestThinTestSend: a test send of a thin type's sample carries only the
// notification, whose dataref the integration credential can read; bad
// samples are refused with the field and the rule.
func TestThinTestSend(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.thinWorld(nil)
	rc := newReceiver(t)
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	sample := map[string]any{"order": "sample-1", "qty": 2, "note": "deliver to Alice"}
	d := e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/test", map[string]any{"type": w.typ, "data": sample}))
	if d["status"] != "pending" && d["status"] != "succeeded" {
		t.Fatalf("test delivery = %v", d)
	}
	eventually(t, 10*time.Second, "the test notification", func() bool {
		_, _, _, bodies := rc.snapshot()
		return len(bodies) == 1
	})
	_, _, bad, bodies := rc.snapshot()
	b := bodies[0]
	data, _ := b["data"].(map[string]any)
	if len(bad) > 0 || b["type"] != w.typ || b["source"] != "/herald/test" || len(data) != 1 || data["order"] != "sample-1" {
		t.Fatalf("test send = %v (problems %v), want the notification of the sample", b, bad)
	}
	full := e.must(200, getURL(t, b["dataref"].(string)+"?envelope=true", w.integ))
	if got := full["event"].(map[string]any)["data"].(map[string]any); got["note"] != "deliver to Alice" {
		t.Fatalf("integration API read of the test event = %v", full)
	}

	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
		rule  string
	}{
		{"unknown type", map[string]any{"type": "com.example.nothing", "data": sample}, "type", "unknown-type"},
		{"type not received", map[string]any{"type": "herald.endpoint.disabled", "data": map[string]any{}}, "type", "not-received"},
		{"data breaks the schema", map[string]any{"type": w.typ, "data": map[string]any{"order": "x"}}, "data", "required"},
		{"data without type", map[string]any{"data": sample}, "type", "required"},
		{"type without data", map[string]any{"type": w.typ}, "data", "required"},
	} {
		r := e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/test", c.body)
		if r.status != 422 || !bytes.Contains(r.body, []byte(`"field":"`+c.field)) || !bytes.Contains(r.body, []byte(`"rule":"`+c.rule+`"`)) {
			t.Errorf("%s: %d %s; want 422 naming %s / %s", c.name, r.status, r.body, c.field, c.rule)
		}
	}
	// Herald's own test event still needs no body.
	e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/test", nil))
}
