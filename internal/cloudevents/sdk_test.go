package cloudevents

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// recorder is an ingest endpoint stand-in: it runs Parse on each request and
// keeps what it got, the raw bodies included.
type recorder struct {
	mu     sync.Mutex
	events []*Event
	errs   []error
	ctypes []string
	bodies [][]byte
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	events, err := Parse(r, Limits{})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.bodies = append(rec.bodies, body)
	rec.ctypes = append(rec.ctypes, r.Header.Get("Content-Type"))
	if err != nil {
		rec.errs = append(rec.errs, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec.events = append(rec.events, events...)
	w.WriteHeader(http.StatusAccepted)
}

func (rec *recorder) take(t *testing.T) ([]*Event, string) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) > 0 {
		t.Fatalf("Parse failed on an SDK request: %v", rec.errs)
	}
	evs, ct := rec.events, rec.ctypes[len(rec.ctypes)-1]
	rec.events = nil
	return evs, ct
}

// sdkEvents are events as a producer would build them with sdk-go.
func sdkEvents(t *testing.T) []cloudevents.Event {
	t.Helper()
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	mk := func(id string) cloudevents.Event {
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetSource("/orders")
		e.SetType("com.example.order.created")
		e.SetSubject("order/42 café")
		e.SetTime(ts)
		e.SetExtension("partitionkey", "customer-7")
		return e
	}
	jsonEv := mk("evt-json")
	if err := jsonEv.SetData(cloudevents.ApplicationJSON, map[string]any{"n": 1, "s": "x"}); err != nil {
		t.Fatal(err)
	}
	textEv := mk("evt-text")
	if err := textEv.SetData(cloudevents.TextPlain, "hello, world"); err != nil {
		t.Fatal(err)
	}
	binEv := mk("evt-bin")
	if err := binEv.SetData("application/octet-stream", []byte{0, 1, 2, 0xff}); err != nil {
		t.Fatal(err)
	}
	binEv.SetDataSchema("https://example.com/schemas/blob")
	noData := mk("evt-nodata")
	return []cloudevents.Event{jsonEv, textEv, binEv, noData}
}

// checkAgainstSDK asserts that Parse saw exactly what sdk-go sent.
func checkAgainstSDK(t *testing.T, got *Event, sent cloudevents.Event) {
	t.Helper()
	want := &Event{
		ID: sent.ID(), Source: sent.Source(), SpecVersion: sent.SpecVersion(), Type: sent.Type(),
		DataContentType: sent.DataContentType(), DataSchema: sent.DataSchema(), Subject: sent.Subject(),
		Time: sent.Time(), Extensions: map[string]any{"partitionkey": "customer-7"},
	}
	// Data representation is checked through DataBytes below.
	got2 := *got
	got2.Data, got2.DataBase64 = nil, nil
	if d := diffEvent(&got2, want); d != "" {
		t.Errorf("event %s: %s", sent.ID(), d)
	}
	data, err := got.DataBytes()
	if err != nil {
		t.Fatalf("DataBytes: %v", err)
	}
	switch {
	case sent.Data() == nil:
		if data != nil {
			t.Errorf("event %s: data = %q, want none", sent.ID(), data)
		}
	case got.DataIsJSON():
		if !jsonEqual(data, sent.Data()) {
			t.Errorf("event %s: data = %s, want %s", sent.ID(), data, sent.Data())
		}
	default:
		if !bytes.Equal(data, sent.Data()) {
			t.Errorf("event %s: data = %q, want %q", sent.ID(), data, sent.Data())
		}
	}
}

func TestSDKInterop(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)

	client, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	target := cloudevents.ContextWithTarget(context.Background(), srv.URL)
	encodings := []struct {
		name   string
		ctx    context.Context
		wantCT func(e cloudevents.Event) string
	}{
		{"binary", target, func(e cloudevents.Event) string { return e.DataContentType() }},
		{"structured", cloudevents.WithEncodingStructured(target), func(cloudevents.Event) string { return "application/cloudevents+json" }},
	}
	// Subtests share one server and recorder, so they run in sequence.
	for _, enc := range encodings {
		for _, sent := range sdkEvents(t) {
			t.Run(enc.name+"/"+sent.ID(), func(t *testing.T) {
				if res := client.Send(enc.ctx, sent); !cloudevents.IsACK(res) {
					t.Fatalf("Send: %v", res)
				}
				got, ct := rec.take(t)
				if want := enc.wantCT(sent); mediaTypeOnly(ct) != want {
					t.Errorf("SDK sent Content-Type %q, want %q (the mode under test)", ct, want)
				}
				if len(got) != 1 {
					t.Fatalf("got %d events, want 1", len(got))
				}
				checkAgainstSDK(t, got[0], sent)
			})
		}
	}

	t.Run("batch", func(t *testing.T) {
		sent := sdkEvents(t)
		postBatch(t, srv, sent)
		got, ct := rec.take(t)
		if mediaTypeOnly(ct) != MediaTypeBatch {
			t.Errorf("Content-Type %q", ct)
		}
		if len(got) != len(sent) {
			t.Fatalf("got %d events, want %d", len(got), len(sent))
		}
		for i := range sent {
			checkAgainstSDK(t, got[i], sent[i])
		}
	})
}

// postBatch sends events in batch mode as sdk-go encodes them and expects
// them accepted.
func postBatch(t *testing.T, srv *httptest.Server, events []cloudevents.Event) {
	t.Helper()
	req, err := cloudevents.NewHTTPRequestFromEvents(context.Background(), srv.URL, events)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("batch: status %d", resp.StatusCode)
	}
}

// TestSDKDecodesMarshalStructured checks the delivery direction: what
// MarshalStructured writes, sdk-go reads back as the same event.
func TestSDKDecodesMarshalStructured(t *testing.T) {
	t.Parallel()
	for name, ev := range roundTripEvents(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := ev.MarshalStructured()
			if err != nil {
				t.Fatal(err)
			}
			var ce cloudevents.Event
			if err := json.Unmarshal(b, &ce); err != nil {
				t.Fatalf("sdk-go rejected %s: %v", b, err)
			}
			if err := ce.Validate(); err != nil {
				t.Fatalf("sdk-go says %s is invalid: %v", b, err)
			}
			if ce.ID() != ev.ID || ce.Source() != ev.Source || ce.Type() != ev.Type ||
				ce.Subject() != ev.Subject || ce.DataContentType() != ev.DataContentType ||
				ce.DataSchema() != ev.DataSchema || !ce.Time().Equal(ev.Time) {
				t.Errorf("sdk-go decoded %+v from %s", ce.Context, b)
			}
			for k, v := range ev.Extensions {
				got := ce.Extensions()[k]
				if n, ok := v.(int32); ok {
					v = int32(n)
				}
				if got != v {
					t.Errorf("extension %s = %#v, want %#v", k, got, v)
				}
			}
			want, err := ev.DataBytes()
			if err != nil {
				t.Fatal(err)
			}
			got := ce.Data()
			if ev.Data != nil && ev.DataIsJSON() {
				if !jsonEqual(got, want) {
					t.Errorf("data = %s, want %s", got, want)
				}
			} else if !bytes.Equal(got, want) {
				t.Errorf("data = %q, want %q", got, want)
			}
		})
	}
}

// TestSDKJSONBytesBecomeJSONData covers the common sdk-go case: data set from
// bytes under a JSON content type, which sdk-go sends in structured and
// batch mode as data_base64. Parse must hold it as JSON data, so it can be
// validated against a schema and delivered as JSON.
func TestSDKJSONBytesBecomeJSONData(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)

	mk := func(id, data string) cloudevents.Event {
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetSource("/orders")
		e.SetType("com.example.order.created")
		if err := e.SetData(cloudevents.ApplicationJSON, []byte(data)); err != nil {
			t.Fatal(err)
		}
		return e
	}
	client, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	ctx := cloudevents.WithEncodingStructured(cloudevents.ContextWithTarget(context.Background(), srv.URL))
	if res := client.Send(ctx, mk("one", `{"order":"A-1","qty":2}`)); !cloudevents.IsACK(res) {
		t.Fatalf("Send: %v", res)
	}
	postBatch(t, srv, []cloudevents.Event{mk("two", `{"order":"A-2","qty":1}`), mk("three", `[1, 2]`)})

	events, _ := rec.take(t)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, b := range rec.bodies {
		// The premise: without it this test would prove nothing.
		if !bytes.Contains(b, []byte(`"data_base64"`)) {
			t.Fatalf("sdk-go sent %s, without data_base64", b)
		}
	}
	want := map[string]string{"one": `{"order":"A-1","qty":2}`, "two": `{"order":"A-2","qty":1}`, "three": `[1, 2]`}
	if len(events) != len(want) {
		t.Fatalf("got %d events, want %d", len(events), len(want))
	}
	for _, ev := range events {
		if ev.DataBase64 != nil || string(ev.Data) != want[ev.ID] || ev.DataContentType != cloudevents.ApplicationJSON {
			t.Errorf("event %s: Data %s, DataBase64 %q, datacontenttype %q; want JSON data %s",
				ev.ID, ev.Data, ev.DataBase64, ev.DataContentType, want[ev.ID])
		}
		out, err := ev.MarshalStructured()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out, []byte(`"data":`+want[ev.ID])) {
			t.Errorf("event %s is delivered as %s, not with JSON data", ev.ID, out)
		}
	}
}
