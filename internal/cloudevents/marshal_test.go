package cloudevents

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func roundTripEvents(t testing.TB) map[string]*Event {
	base := func() *Event {
		return &Event{ID: "rt-1", Source: "https://example.com/orders", SpecVersion: "1.0", Type: "com.example.order.created"}
	}
	full := base()
	full.DataContentType = "application/json"
	full.DataSchema = "https://example.com/schemas/order.json"
	full.Subject = "order/42 \"quoted\" café"
	full.Time = mustTime(t, "2024-05-06T07:08:09.123456789+05:30")
	full.Extensions = map[string]any{"partitionkey": "customer-7", "retries": int32(-3), "urgent": true, "note": "line\u2028sep"}
	full.Data = json.RawMessage(`{"n": 1, "s": "\u00e9\n", "a": [true, null]}`)

	text := base()
	text.DataContentType = "text/plain; charset=utf-8"
	text.Data = json.RawMessage(`"line 1\nline \"2\" <&>"`)

	bin := base()
	bin.DataContentType = "application/octet-stream"
	bin.DataBase64 = []byte{0, 1, 2, 0xfe, 0xff}

	jsonString := base()
	jsonString.Data = json.RawMessage(`"a JSON string, not a document"`)

	null := base()
	null.Data = json.RawMessage(`null`)

	noData := base()
	noData.Time = mustTime(t, "2024-05-06T07:08:09Z")

	return map[string]*Event{
		"full with JSON data": full, "text data": text, "binary data": bin,
		"JSON string data": jsonString, "null data": null, "no data": noData,
	}
}

func TestMarshalStructuredRoundTrip(t *testing.T) {
	t.Parallel()
	for name, ev := range roundTripEvents(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := ev.MarshalStructured()
			if err != nil {
				t.Fatalf("MarshalStructured: %v", err)
			}
			if !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
			got, err := Parse(newRequest(MediaTypeStructured, b), Limits{})
			if err != nil {
				t.Fatalf("Parse(%s): %v", b, err)
			}
			checkEvents(t, got, []*Event{ev})
			if got[0].Size != len(b) {
				t.Errorf("Size = %d, want %d", got[0].Size, len(b))
			}
			again, err := got[0].MarshalStructured()
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs:\n%s\n%s (%v)", again, b, err)
			}
		})
	}
}

func TestMarshalStructuredGolden(t *testing.T) {
	t.Parallel()
	ev := roundTripEvents(t)["full with JSON data"]
	got, err := ev.MarshalStructured()
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden_structured.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n got  %s\n want %s", path, got, want)
	}
	for range 20 { // map order must not leak into the output
		again, _ := ev.MarshalStructured()
		if !bytes.Equal(append(again, '\n'), got) {
			t.Fatalf("output is not deterministic:\n%s\n%s", again, got)
		}
	}
}

func TestAppendStructuredAppends(t *testing.T) {
	t.Parallel()
	ev := minimalEvent()
	out, err := ev.AppendStructured([]byte("prefix:"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `prefix:{"specversion":"1.0","id":"e1","source":"/s","type":"t"}`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

func TestMarshalStructuredExtensionTypes(t *testing.T) {
	t.Parallel()
	ev := minimalEvent()
	ev.SpecVersion = ""
	ev.Extensions = map[string]any{
		"a": 7, "b": int64(-8), "c": int8(1), "d": uint16(2), "e": uint32(3),
		"f": []byte{0xff}, "g": time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	b, err := ev.MarshalStructured()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0","id":"e1","source":"/s","type":"t","a":7,"b":-8,"c":1,"d":2,"e":3,"f":"/w==","g":"2020-01-02T03:04:05Z"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestMarshalStructuredErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mod  func(e *Event)
		want string
	}{
		{"no id", func(e *Event) { e.ID = "" }, "id is empty"},
		{"no source", func(e *Event) { e.Source = "" }, "source is empty"},
		{"no type", func(e *Event) { e.Type = "" }, "type is empty"},
		{"other specversion", func(e *Event) { e.SpecVersion = "0.3" }, "specversion"},
		{"both data fields", func(e *Event) { e.Data = json.RawMessage(`1`); e.DataBase64 = []byte{1} }, "both"},
		{"malformed data", func(e *Event) { e.Data = json.RawMessage(`{"a":`) }, "well-formed"},
		{"text data not a string", func(e *Event) { e.DataContentType = "text/plain"; e.Data = json.RawMessage(`{}`) }, "JSON string"},
		{"bad extension name", func(e *Event) { e.Extensions = map[string]any{"Bad": "x"} }, "extension name"},
		{"reserved extension name", func(e *Event) { e.Extensions = map[string]any{"subject": "x"} }, "extension name"},
		{"unsupported extension type", func(e *Event) { e.Extensions = map[string]any{"x": 1.5} }, "float64"},
		{"extension out of range", func(e *Event) { e.Extensions = map[string]any{"x": int64(1) << 40} }, "32-bit"},
		{"time out of range", func(e *Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "RFC 3339"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := minimalEvent()
			tc.mod(ev)
			dst := []byte("keep")
			out, err := ev.AppendStructured(dst)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tc.want)
			}
			if string(out) != "keep" {
				t.Errorf("dst was modified on error: %q", out)
			}
		})
	}
}

func TestMarshalStructuredEscapesStrings(t *testing.T) {
	t.Parallel()
	ev := minimalEvent()
	ev.Subject = "a\"b\\c\x01\u00e9\xff"
	b, err := ev.MarshalStructured()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got, want := m["subject"], "a\"b\\c\x01\u00e9\ufffd"; got != want {
		t.Errorf("subject = %q, want %q", got, want)
	}
}
