package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/heraldhq/herald/internal/app"
)

// wantProblem asserts an RFC 9457 answer with status that lists field
// broken by rule (field "" checks only the status and media type).
func wantProblem(t *testing.T, r response, status int, field, rule string) map[string]any {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("answer %d %s: %s; want %d application/problem+json", r.status, r.header.Get("Content-Type"), r.body, status)
	}
	m := r.json(t)
	if field == "" && rule == "" {
		return m
	}
	items, _ := m["errors"].([]any)
	for _, it := range items {
		if it := it.(map[string]any); it["field"] == field && it["rule"] == rule {
			return it
		}
	}
	t.Fatalf("no %s/%s in %s", field, rule, r.body)
	return nil
}

// rawBodies captures the exact bytes a receiver gets.
type rawBodies struct {
	url    string
	bodies chan []byte
}

// newRawReceiver is a receiver (consenting to the handshake) that keeps
// each body as it arrived.
func newRawReceiver(t *testing.T) *rawBodies {
	t.Helper()
	rc := newReceiver(t)
	rb := &rawBodies{url: rc.URL(), bodies: make(chan []byte, 100)}
	rc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set("WebHook-Allowed-Origin", "*")
			return
		}
		b, _ := io.ReadAll(r.Body)
		rb.bodies <- b
		w.WriteHeader(http.StatusNoContent)
	})
	return rb
}

func (rb *rawBodies) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-rb.bodies:
		return b
	case <-time.After(15 * time.Second):
		t.Fatal("no delivery arrived")
		return nil
	}
}

// TestSDKBytesDataIsJSON: the official CloudEvents Go SDK sends data set
// from bytes under application/json as data_base64 in structured and batch
// mode. Herald decodes it, validates it against the type's schema, and
// stores and delivers it as JSON data.
func TestSDKBytesDataIsJSON(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rb := newRawReceiver(t)
	e.endpoint(w.consumer, rb.url, w.typ)

	mk := func(id, data string) cloudevents.Event {
		ev := cloudevents.NewEvent()
		ev.SetID(id)
		ev.SetSource("/shop")
		ev.SetType(w.typ)
		if err := ev.SetData(cloudevents.ApplicationJSON, []byte(data)); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	p, err := cloudevents.NewHTTP(cloudevents.WithTarget(e.app.URL()+"/v1/events"),
		cloudevents.WithHeader("Authorization", basic(w.producer)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cloudevents.NewClient(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cloudevents.WithEncodingStructured(context.Background())
	if res := c.Send(ctx, mk("sdk-bytes-1", `{"order":"A-1","qty":2}`)); !cloudevents.IsACK(res) {
		t.Fatalf("SDK send of JSON bytes: %v", res)
	}
	got := rb.next(t)
	var delivered map[string]json.RawMessage
	if err := json.Unmarshal(got, &delivered); err != nil {
		t.Fatal(err)
	}
	if string(delivered["data"]) != `{"order":"A-1","qty":2}` || delivered["data_base64"] != nil {
		t.Fatalf("delivered %s; want the data as JSON", got)
	}

	// The schema applies: qty 0 breaks minimum, named like any data error.
	bad := mk("sdk-bytes-2", `{"order":"A-2","qty":0}`)
	body, err := json.Marshal(bad)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"data_base64"`)) {
		t.Fatalf("the SDK encodes %s without data_base64", body)
	}
	wantProblem(t, e.do(w.producer, "POST", "/v1/events", body, "Content-Type", "application/cloudevents+json"),
		422, "data.qty", "minimum")

	// Batch mode, as the SDK builds it.
	req, err := cloudevents.NewHTTPRequestFromEvents(context.Background(), e.app.URL()+"/v1/events",
		[]cloudevents.Event{mk("sdk-bytes-3", `{"order":"A-3","qty":1}`), mk("sdk-bytes-4", `{"order":"A-4","qty":3}`)})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", basic(w.producer))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rbody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("SDK batch: %d %s", resp.StatusCode, rbody)
	}
	for range 2 {
		b := rb.next(t)
		if !bytes.Contains(b, []byte(`"data":{"order":"A-`)) {
			t.Fatalf("delivered %s; want JSON data", b)
		}
	}
	// Data that is not the JSON its content type declares names data_base64.
	wantProblem(t, e.send(w.producer, map[string]any{"specversion": "1.0", "id": "sdk-bytes-5", "source": "/shop",
		"type": w.typ, "datacontenttype": "application/json", "data_base64": "bm90IGpzb24="}), 400, "data_base64", "json")
}

// TestDuplicateMembersRefused: a JSON object naming a member twice is
// refused wherever it is, naming the member's path: in event data (every
// content mode), in the envelope, in batch elements, and in the JSON the
// management API takes (schemas, filters, configs, any body).
func TestDuplicateMembersRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	ce := "application/cloudevents+json"
	ev := func(data string) string {
		return `{"specversion":"1.0","id":"dup-1","source":"/shop","type":"` + w.typ + `","data":` + data + `}`
	}
	// Without the check the schema validator saw qty 2, a receiver taking
	// the first value would see 0.
	p := wantProblem(t, e.do(w.producer, "POST", "/v1/events", ev(`{"order":"A","qty":0,"qty":2}`), "Content-Type", ce),
		400, "data.qty", "duplicate-key")
	if !strings.Contains(p["detail"].(string), `"qty"`) {
		t.Fatalf("detail does not name the member: %v", p)
	}
	wantProblem(t, e.do(w.producer, "POST", "/v1/events", ev(`{"order":"A","qty":1,"lines":[{"sku":"x","sku":"y"}]}`),
		"Content-Type", ce), 400, "data.lines[0].sku", "duplicate-key")
	wantProblem(t, e.do(w.producer, "POST", "/v1/events",
		`{"specversion":"1.0","id":"dup-2","id":"dup-3","source":"/shop","type":"`+w.typ+`","data":{"order":"A","qty":1}}`,
		"Content-Type", ce), 400, "id", "duplicate-key")
	batch := `[` + ev(`{"order":"A","qty":1}`) + `,` + strings.Replace(ev(`{"order":"A","order":"B","qty":1}`), "dup-1", "dup-4", 1) + `]`
	bp := wantProblem(t, e.do(w.producer, "POST", "/v1/events", batch, "Content-Type", "application/cloudevents-batch+json"),
		400, "data.order", "duplicate-key")
	if bp["index"] != float64(1) || bp["id"] != "dup-4" {
		t.Fatalf("batch problem %v; want index 1, id dup-4", bp)
	}
	wantProblem(t, e.do(w.producer, "POST", "/v1/events", `{"order":"A","qty":1,"qty":2}`, "Content-Type", "application/json",
		"ce-specversion", "1.0", "ce-id", "dup-5", "ce-source", "/shop", "ce-type", w.typ), 400, "data.qty", "duplicate-key")
	// Nothing was stored or delivered: a fresh endpoint would see none.
	e.must(202, e.send(w.producer, orderEvent("dup-ok", 1)))

	// The management API: schemas, filters and any other body.
	wantProblem(t, e.do(w.ownerAdmin, "PUT", "/v1/event-types/com.example.dup",
		`{"schema":{"type":"object","properties":{"a":{"type":"string"},"a":{"type":"integer"}}}}`), 422, "schema.properties.a", "duplicate-key")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/endpoints",
		`{"url":"http://127.0.0.1:9/hook","types":["`+w.typ+`"],"filter":{"data":"$.qty","gte":1,"gte":5}}`), 422, "filter.gte", "duplicate-key")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/endpoints",
		`{"url":"http://127.0.0.1:9/hook","url":"http://127.0.0.1:10/hook","types":["`+w.typ+`"]}`), 422, "url", "duplicate-key")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/connectors",
		`{"name":"c","kind":"function","types":["`+w.typ+`"],"code":"() => \"success\"","config":{"a":1,"a":2}}`), 422, "config.a", "duplicate-key")
}

// TestNULInputNeverFails500: every JSON or text input of the API is posted
// with U+0000 in it. JSON kept as JSON (a schema, a config, a filter, event
// data) is stored faithfully; text that becomes a name, URL or other text
// value is refused naming the field. Nothing is ever answered 500.
func TestNULInputNeverFails500(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	epID, _ := e.endpoint(w.consumer, "http://127.0.0.1:9/hook", w.typ)
	fn := e.must(201, e.do(w.consumer, "POST", "/v1/connectors", map[string]any{"name": "fn", "kind": "function",
		"types": []string{w.typ}, "code": `() => "success"`}))["id"].(string)
	integration := e.must(201, e.do(w.ownerAdmin, "POST", "/v1/integrations", map[string]any{"name": "i", "types": []string{w.typ}}))
	typ := `"` + w.typ + `"`
	ep := "/v1/endpoints/" + epID
	cases := []struct {
		name          string
		c             cred
		method, path  string
		body          string
		header        []string
		status        int
		field, rule   string
		acceptedCheck func(t *testing.T, m map[string]any)
	}{
		{name: "tenant name", c: admin, method: "POST", path: "/v1/tenants", body: `{"name":"a\u0000b"}`, status: 422, field: "name", rule: "chars"},
		{name: "client name", c: admin, method: "POST", path: "/v1/clients",
			body: `{"tenant":"` + w.producerTenant + `","name":"c\u0000","roles":["producer"]}`, status: 422, field: "name", rule: "chars"},
		{name: "client role", c: admin, method: "POST", path: "/v1/clients",
			body: `{"tenant":"` + w.producerTenant + `","name":"c","roles":["producer\u0000"]}`, status: 422, field: "roles[0]", rule: "chars"},
		{name: "event type schema const", c: w.ownerAdmin, method: "PUT", path: "/v1/event-types/com.example.nul",
			body: `{"schema":{"const":"hello\u0000there"}}`, status: 201,
			acceptedCheck: func(t *testing.T, m map[string]any) {
				if m["schema"].(map[string]any)["const"] != "hello\x00there" {
					t.Fatalf("schema came back as %v", m["schema"])
				}
			}},
		{name: "event type description", c: w.ownerAdmin, method: "PUT", path: "/v1/event-types/com.example.nul2",
			body: `{"description":"d\u0000"}`, status: 422, field: "description", rule: "chars"},
		{name: "event type thin field", c: w.ownerAdmin, method: "PUT", path: "/v1/event-types/com.example.nul3",
			body: `{"delivery":"thin","thin_fields":["$.a\u0000"]}`, status: 422, field: "thin_fields[0]", rule: "chars"},
		{name: "event type thin retention", c: w.ownerAdmin, method: "PUT", path: "/v1/event-types/com.example.nul4",
			body: `{"delivery":"thin","thin_retention":{"keep":"720h\u0000"}}`, status: 422, field: "thin_retention.keep", rule: "chars"},
		{name: "event type name in path", c: w.ownerAdmin, method: "PUT", path: "/v1/event-types/com.example.a%00b",
			body: `{}`, status: 404},
		{name: "event type get", c: w.consumer, method: "GET", path: "/v1/event-types/com.example.a%00b", status: 404},
		{name: "event type versions", c: w.consumer, method: "GET", path: "/v1/event-types/a%00/versions", status: 404},
		{name: "event type invalid UTF-8 in path", c: w.consumer, method: "GET", path: "/v1/event-types/a%FF", status: 404},
		{name: "integration name", c: w.ownerAdmin, method: "POST", path: "/v1/integrations",
			body: `{"name":"i\u0000","types":[` + typ + `]}`, status: 422, field: "name", rule: "chars"},
		{name: "integration type", c: w.ownerAdmin, method: "POST", path: "/v1/integrations",
			body: `{"name":"i","types":["com.\u0000"]}`, status: 422, field: "types[0]", rule: "chars"},
		{name: "file name", c: w.producer, method: "POST", path: "/v1/files?name=a%00.pdf", body: "%PDF",
			header: []string{"Content-Type", "application/pdf"}, status: 422, field: "name", rule: "chars"},
		{name: "file name not UTF-8", c: w.producer, method: "POST", path: "/v1/files?name=a%FF.pdf", body: "%PDF",
			header: []string{"Content-Type", "application/pdf"}, status: 422, field: "name", rule: "chars"},
		{name: "file content type not UTF-8", c: w.producer, method: "POST", path: "/v1/files?name=a.txt", body: "x",
			header: []string{"Content-Type", "text/plain; note=\"caf\xe9\""}, status: 422, field: "Content-Type", rule: "format"},
		{name: "endpoint url", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body: `{"url":"http://127.0.0.1:9/a\u0000","types":[` + typ + `]}`, status: 422, field: "url", rule: "chars"},
		{name: "endpoint description", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body: `{"url":"http://127.0.0.1:9/a","types":[` + typ + `],"description":"\u0000"}`, status: 422, field: "description", rule: "chars"},
		{name: "endpoint type", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body: `{"url":"http://127.0.0.1:9/a","types":["com.\u0000"]}`, status: 422, field: "types[0]", rule: "chars"},
		{name: "endpoint header value", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body: `{"url":"http://127.0.0.1:9/a","types":[` + typ + `],"headers":{"X-Key":"k\u0000"}}`, status: 422, field: "headers.X-Key", rule: "chars"},
		{name: "endpoint header name", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body: `{"url":"http://127.0.0.1:9/a","types":[` + typ + `],"headers":{"X\u0000":"k"}}`, status: 422, field: `headers.X\u0000`, rule: "chars"},
		{name: "endpoint signing", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body: `{"url":"http://127.0.0.1:9/a","types":[` + typ + `],"signing":"v1\u0000"}`, status: 422, field: "signing", rule: "chars"},
		{name: "endpoint content mode", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body: `{"url":"http://127.0.0.1:9/a","types":[` + typ + `],"content_mode":"binary\u0000"}`, status: 422, field: "content_mode", rule: "chars"},
		{name: "endpoint oauth2 client id", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body:   `{"url":"http://127.0.0.1:9/a","types":[` + typ + `],"auth":{"type":"oauth2","token_url":"http://127.0.0.1:9/t","client_id":"c\u0000","client_secret":"s"}}`,
			status: 422, field: "auth.client_id", rule: "chars"},
		{name: "endpoint oauth2 scope", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body:   `{"url":"http://127.0.0.1:9/a","types":[` + typ + `],"auth":{"type":"oauth2","token_url":"http://127.0.0.1:9/t","client_id":"c","client_secret":"s","scopes":["\u0000"]}}`,
			status: 422, field: "auth.scopes[0]", rule: "chars"},
		{name: "endpoint mtls", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body:   `{"url":"https://127.0.0.1:9/a","types":[` + typ + `],"mtls":{"certificate":"\u0000","private_key":"\u0000"}}`,
			status: 422},
		{name: "endpoint config", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body: `{"url":"http://127.0.0.1:9/a","types":[` + typ + `],"config":{"sep":"a\u0000b"}}`, status: 201,
			acceptedCheck: func(t *testing.T, m map[string]any) {
				if m["config"].(map[string]any)["sep"] != "a\x00b" {
					t.Fatalf("config came back as %v", m["config"])
				}
			}},
		{name: "endpoint filter", c: w.consumer, method: "POST", path: "/v1/endpoints",
			body: `{"url":"http://127.0.0.1:9/a","types":[` + typ + `],"filter":{"data":"$.order","eq":"a\u0000"}}`, status: 201,
			acceptedCheck: func(t *testing.T, m map[string]any) {
				if !strings.Contains(fmt.Sprint(m["filter"]), "a\x00") {
					t.Fatalf("filter came back as %v", m["filter"])
				}
			}},
		{name: "endpoint patch description", c: w.consumer, method: "PATCH", path: ep, body: `{"description":"\u0000"}`,
			status: 422, field: "description", rule: "chars"},
		{name: "endpoint patch config", c: w.consumer, method: "PATCH", path: ep, body: `{"config":{"k":"\u0000"}}`, status: 200},
		{name: "endpoint test type", c: w.consumer, method: "POST", path: ep + "/test", body: `{"type":"com.\u0000","data":{}}`,
			status: 422, field: "type", rule: "chars"},
		{name: "endpoint test data", c: w.consumer, method: "POST", path: ep + "/test",
			body: `{"type":` + typ + `,"data":{"order":"a\u0000","qty":1}}`, status: 202},
		{name: "endpoint replay type", c: w.consumer, method: "POST", path: ep + "/replay",
			body: `{"from":"2020-01-01T00:00:00Z","types":["com.\u0000"]}`, status: 422, field: "types[0]", rule: "chars"},
		{name: "endpoint rotate grace", c: w.consumer, method: "POST", path: ep + "/secret/rotate", body: `{"grace":"1h\u0000"}`,
			status: 422, field: "grace", rule: "chars"},
		{name: "endpoint recover since", c: w.consumer, method: "POST", path: ep + "/recover", body: `{"since":"\u0000"}`, status: 400},
		{name: "deliveries status filter", c: w.consumer, method: "GET", path: ep + "/deliveries?status=%00", status: 422, field: "status", rule: "chars"},
		{name: "connector name", c: w.consumer, method: "POST", path: "/v1/connectors",
			body: `{"name":"n\u0000","kind":"function","types":[` + typ + `],"code":"() => \"success\""}`, status: 422, field: "name", rule: "chars"},
		{name: "connector description", c: w.consumer, method: "POST", path: "/v1/connectors",
			body: `{"name":"n","description":"\u0000","kind":"function","types":[` + typ + `],"code":"() => \"success\""}`, status: 422, field: "description", rule: "chars"},
		{name: "connector kind", c: w.consumer, method: "POST", path: "/v1/connectors",
			body: `{"name":"n","kind":"function\u0000","types":[` + typ + `],"code":"() => \"success\""}`, status: 422, field: "kind", rule: "chars"},
		{name: "connector code", c: w.consumer, method: "POST", path: "/v1/connectors",
			body: `{"name":"n","kind":"function","types":[` + typ + `],"code":"() => \"success\u0000\""}`, status: 422, field: "code", rule: "chars"},
		{name: "connector config", c: w.consumer, method: "POST", path: "/v1/connectors",
			body: `{"name":"n2","kind":"function","types":[` + typ + `],"code":"() => \"success\"","config":{"sep":"\u0000"}}`, status: 201,
			acceptedCheck: func(t *testing.T, m map[string]any) {
				if m["config"].(map[string]any)["sep"] != "\x00" {
					t.Fatalf("config came back as %v", m["config"])
				}
			}},
		{name: "connector secret", c: w.consumer, method: "POST", path: "/v1/connectors",
			body: `{"name":"n3","kind":"function","types":[` + typ + `],"code":"() => \"success\"","secrets":{"key":"\u0000"}}`, status: 201},
		{name: "connector filter", c: w.consumer, method: "POST", path: "/v1/connectors",
			body: `{"name":"n4","kind":"function","types":[` + typ + `],"code":"() => \"success\"","filter":{"ext":"team","eq":"\u0000"}}`, status: 201},
		{name: "connector patch code", c: w.consumer, method: "PATCH", path: "/v1/connectors/" + fn, body: `{"code":"\u0000"}`,
			status: 422, field: "code", rule: "chars"},
		{name: "connector test event", c: w.consumer, method: "POST", path: "/v1/connectors/" + fn + "/test",
			body: `{"event":{"specversion":"1.0","id":"t","source":"/s","type":` + typ + `,"data":{"n":"\u0000"}}}`, status: 200},
		{name: "connector runs status filter", c: w.consumer, method: "GET", path: "/v1/connectors/" + fn + "/runs?status=%00",
			status: 422, field: "status", rule: "chars"},
		{name: "event id", c: w.producer, method: "POST", path: "/v1/events",
			body:   `{"specversion":"1.0","id":"a\u0000","source":"/shop","type":` + typ + `,"data":{"order":"A","qty":1}}`,
			header: []string{"Content-Type", "application/cloudevents+json"}, status: 400, field: "id", rule: "chars"},
		{name: "event extension", c: w.producer, method: "POST", path: "/v1/events",
			body:   `{"specversion":"1.0","id":"x","source":"/shop","type":` + typ + `,"team":"\u0000","data":{"order":"A","qty":1}}`,
			header: []string{"Content-Type", "application/cloudevents+json"}, status: 400, field: "extensions.team", rule: "chars"},
		{name: "event binary header", c: w.producer, method: "POST", path: "/v1/events", body: `{"order":"A","qty":1}`,
			header: []string{"Content-Type", "application/json", "ce-specversion", "1.0", "ce-id", "b%00", "ce-source", "/shop", "ce-type", w.typ},
			status: 400, field: "id", rule: "chars"},
		{name: "event data", c: w.producer, method: "POST", path: "/v1/events",
			body:   `{"specversion":"1.0","id":"nul-data","source":"/shop","type":` + typ + `,"data":{"order":"A\u0000","qty":1}}`,
			header: []string{"Content-Type", "application/cloudevents+json"}, status: 202},
		{name: "integration key", c: cred{"key\x00", "secret"}, method: "GET", path: "/v1/integration/events/" + epID, status: 401},
		{name: "client key", c: cred{"key\x00", "secret"}, method: "GET", path: "/v1/endpoints", status: 401},
		{name: "integration access log filter", c: w.ownerAdmin, method: "GET",
			path: "/v1/integrations/" + integration["id"].(string) + "/access-log?outcome=%00", status: 422, field: "outcome", rule: "chars"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := e.do(tc.c, tc.method, tc.path, body, tc.header...)
			if r.status >= 500 {
				t.Fatalf("answered %d: %s", r.status, r.body)
			}
			if r.status != tc.status {
				t.Fatalf("answered %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status >= 400 {
				wantProblem(t, r, tc.status, tc.field, tc.rule)
			} else if tc.acceptedCheck != nil {
				tc.acceptedCheck(t, r.json(t))
			}
		})
	}
}

// TestNULDataRoundTrips: JSON holding \u0000 is stored as sent and reaches
// the receiver byte for byte: a schema with such a const validates events,
// their data is delivered exactly, and their attachments are attached.
func TestNULDataRoundTrips(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rb := newRawReceiver(t)
	typ := "com.example.nul.sent"
	schema := `{"type":"object","properties":{"marker":{"const":"hello\u0000there"}},"required":["marker"]}`
	e.must(201, e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+typ, `{"schema":`+schema+`,"producers":["`+w.producerID+`"],"consumers":["`+w.consumerID+`"]}`))
	// The same schema again is the same version (compared as JSON).
	same := e.must(200, e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+typ, `{"schema": {"required":["marker"], "type":"object",
		"properties":{"marker":{"const":"hello\u0000there"}}},"producers":["`+w.producerID+`"],"consumers":["`+w.consumerID+`"]}`))
	if same["version"] != float64(1) {
		t.Fatalf("re-putting the same schema made version %v", same["version"])
	}
	vs := e.must(200, e.do(w.consumer, "GET", "/v1/event-types/"+typ+"/versions/1", nil))
	if raw, _ := json.Marshal(vs["schema"]); !strings.Contains(string(raw), `hello\u0000there`) {
		t.Fatalf("stored schema %s", raw)
	}
	e.endpoint(w.consumer, rb.url, typ)
	file := e.upload(w.producer, "note.txt", "text/plain", []byte("attached"))["id"].(string)

	data := `{"marker":"hello\u0000there","note":"a\u0000b \\u0000 \ud83d\ude00"}`
	e.must(202, e.do(w.producer, "POST", "/v1/events", `{"specversion":"1.0","id":"nul-1","source":"/shop","type":"`+typ+
		`","attachments":"`+file+`","data":`+data+`}`, "Content-Type", "application/cloudevents+json"))
	if got := rb.next(t); !bytes.Contains(got, []byte(`"data":`+data+`}`)) {
		t.Fatalf("delivered %s; want the data exactly as sent: %s", got, data)
	}
	f := e.must(200, e.do(w.producer, "GET", "/v1/files/"+file, nil))
	if f["event_id"] == nil {
		t.Fatalf("the event's attachment was not attached: %v", f)
	}
	wantProblem(t, e.do(w.producer, "POST", "/v1/events", `{"specversion":"1.0","id":"nul-2","source":"/shop","type":"`+typ+
		`","data":{"marker":"hello there"}}`, "Content-Type", "application/cloudevents+json"), 422, "data.marker", "const")
}

// TestEmptyUploadRefused: a file upload without content is refused with
// 422; nothing is stored.
func TestEmptyUploadRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	wantProblem(t, e.do(w.producer, "POST", "/v1/files?name=invoice.pdf", []byte{}, "Content-Type", "application/pdf"),
		422, "file", "empty")
	var mp bytes.Buffer
	mp.WriteString("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n\r\n--b--\r\n")
	wantProblem(t, e.do(w.producer, "POST", "/v1/files", mp.Bytes(), "Content-Type", "multipart/form-data; boundary=b"),
		422, "file", "empty")
	e.must(201, e.do(w.producer, "POST", "/v1/files?name=invoice.pdf", []byte("%PDF-1.4"), "Content-Type", "application/pdf"))
}

// TestServerErrorsAreProblems: answers net/http gives by itself, before any
// handler (header fields too large, malformed requests), are problems too.
func TestServerErrorsAreProblems(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tc := range []struct {
		req    string
		status int
	}{
		{"GET /v1/endpoints HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n", 431},
		{"GET /v1/endpoints HTTP/1.1\r\n\r\n", 400},
	} {
		c, err := net.Dial("tcp", e.app.Addr())
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.WriteString(c, tc.req) }()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		var p map[string]any
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal(body, &p) != nil || p["status"] != float64(tc.status) {
			t.Fatalf("answer %d %q %s; want a %d problem", resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status)
		}
	}
}

// TestConnectorTargetsPassSSRFPolicy: the targets a connector names (the
// http kind's config.url, the email kind's config.host) pass the same
// target policy as endpoint URLs, at creation and update, with the same
// rules.
func TestConnectorTargetsPassSSRFPolicy(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *app.Config) { c.AllowPrivateTargets = false })
	w := e.world()
	post := func(body map[string]any) response { return e.do(w.consumer, "POST", "/v1/connectors", body) }
	email := func(host string) map[string]any {
		return map[string]any{"name": "mail", "kind": "email", "types": []string{w.typ}, "config": map[string]any{
			"host": host, "from": "a@example.com", "to": "b@example.com", "subject": "s", "body": "b"}}
	}
	for _, url := range []string{"http://127.0.0.1:8080/in", "http://169.254.169.254/latest/meta-data", "http://[::1]/in",
		"http://10.0.0.1/in", "http://localhost/in"} {
		wantProblem(t, post(map[string]any{"name": "fwd", "kind": "http", "types": []string{w.typ},
			"config": map[string]any{"url": url}}), 422, "config.url", "ssrf")
		// The endpoint path decides the same.
		wantProblem(t, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{"url": url, "types": []string{w.typ}}), 422, "url", "ssrf")
	}
	wantProblem(t, post(map[string]any{"name": "fwd", "kind": "http", "types": []string{w.typ},
		"config": map[string]any{"url": "http://2130706433/in"}}), 422, "config.url", "url")
	for _, host := range []string{"127.0.0.1", "169.254.169.254", "localhost", "mail.localhost", "10.1.2.3", "100.64.0.1", "0.0.0.0"} {
		wantProblem(t, post(email(host)), 422, "config.host", "ssrf")
	}
	wantProblem(t, post(email("0x7f.1")), 422, "config.host", "format")

	// Public targets are accepted; changing one to an internal one is not.
	fwd := e.must(201, post(map[string]any{"name": "fwd", "kind": "http", "types": []string{w.typ},
		"config": map[string]any{"url": "https://partner.example.com/in"}}))["id"].(string)
	wantProblem(t, e.do(w.consumer, "PATCH", "/v1/connectors/"+fwd, map[string]any{
		"config": map[string]any{"url": "http://169.254.169.254/"}}), 422, "config.url", "ssrf")
	mail := e.must(201, post(email("smtp.example.com")))["id"].(string)
	cfg := email("127.0.0.1")["config"]
	wantProblem(t, e.do(w.consumer, "PATCH", "/v1/connectors/"+mail, map[string]any{"config": cfg}), 422, "config.host", "ssrf")
}

// TestPendingEndpointShowsWhy: a pending endpoint's owner sees its latest
// handshake (when, the receiver's status, why there was no consent) and
// when the next one is due; once the receiver consents it shows that too.
func TestPendingEndpointShowsWhy(t *testing.T) {
	t.Parallel()
	e := setup(t, withVerification)
	w := e.world()
	rc := newReceiver(t)
	consent := make(chan struct{})
	rc.options = func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-consent:
			rw.Header().Set("WebHook-Allowed-Origin", r.Header.Get("WebHook-Request-Origin"))
			rw.WriteHeader(http.StatusOK)
		default:
			rw.WriteHeader(http.StatusMethodNotAllowed)
		}
	}
	epID, _ := e.endpoint(w.consumer, rc.URL(), w.typ)
	var v map[string]any
	eventually(t, 10*time.Second, "a recorded handshake", func() bool {
		v, _ = e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil))["verification"].(map[string]any)
		return v != nil
	})
	last, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(v["last_attempt_at"]))
	next, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(v["next_attempt_at"]))
	if err1 != nil || err2 != nil || v["attempts"] != float64(1) || v["status_code"] != float64(405) ||
		!strings.Contains(fmt.Sprint(v["error"]), "WebHook-Allowed-Origin") || next.Sub(last) != time.Second {
		t.Fatalf("verification %v; want attempt 1, status 405, the missing header, next one second later", v)
	}
	// The list shows it too.
	list := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints", nil))["data"].([]any)
	if list[0].(map[string]any)["verification"] == nil {
		t.Fatalf("listed endpoint without its verification: %v", list[0])
	}
	close(consent)
	eventually(t, 30*time.Second, "the endpoint verified", func() bool {
		m := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil))
		v, _ = m["verification"].(map[string]any)
		return m["status"] == "active"
	})
	if v["status_code"] != float64(200) || v["error"] != "" || v["next_attempt_at"] != nil || v["attempts"].(float64) < 2 {
		t.Fatalf("verification after consent %v", v)
	}
	// A new URL starts a new verification with no handshakes of the old one.
	other := newReceiver(t)
	other.options = func(rw http.ResponseWriter, _ *http.Request) {
		time.Sleep(500 * time.Millisecond)
		rw.WriteHeader(http.StatusForbidden)
	}
	m := e.must(200, e.do(w.consumer, "PATCH", "/v1/endpoints/"+epID, map[string]any{"url": other.URL()}))
	if m["status"] != "pending" || m["verification"] != nil {
		t.Fatalf("after a URL change: %v", m)
	}
	eventually(t, 10*time.Second, "the new receiver's refusal on record", func() bool {
		v, _ = e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil))["verification"].(map[string]any)
		return v != nil && v["status_code"] == float64(403)
	})
	if v["next_attempt_at"] == nil || v["attempts"] != float64(1) {
		t.Fatalf("verification of the new URL %v", v)
	}
	// Verified by hand: the refusal stays on record, no handshake is due.
	m = e.must(200, e.do(admin, "POST", "/v1/endpoints/"+epID+"/verify", nil))
	if v, _ = m["verification"].(map[string]any); m["status"] != "active" || v["status_code"] != float64(403) || v["next_attempt_at"] != nil {
		t.Fatalf("after verifying by hand: %v", m)
	}
}
