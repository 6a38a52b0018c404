package cloudevents

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// TestBinaryDecodedBySDK: every kind of stored event, re-encoded in binary
// content mode, is read back by the CloudEvents Go SDK's HTTP binding with
// the same attributes, extensions (as strings: headers carry no type) and
// payload, and by Herald's own binary parser.
func TestBinaryDecodedBySDK(t *testing.T) {
	t.Parallel()
	for name, ev := range roundTripEvents(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stored, err := ev.MarshalStructured()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseStored(stored)
			if err != nil {
				t.Fatal(err)
			}
			h, body, ct, err := back.Binary()
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range h {
				for _, v := range vs {
					for i := 0; i < len(v); i++ {
						if v[i] <= ' ' || v[i] > '~' || v[i] == '"' {
							t.Fatalf("header %s = %q is not percent-encoded", k, v)
						}
					}
				}
			}
			req, _ := http.NewRequest("POST", "http://receiver.test/hook", bytes.NewReader(body))
			req.Header = h.Clone()
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			got, err := cehttp.NewEventFromHTTPRequest(req)
			if err != nil {
				t.Fatalf("sdk-go: %v (headers %v)", err, h)
			}
			// sdk-go does not undo the binding's percent-encoding; undo it here.
			dec := func(s string) string {
				d, err := url.PathUnescape(s)
				if err != nil {
					t.Fatalf("%q: %v", s, err)
				}
				return d
			}
			if got.ID() != ev.ID || got.Source() != ev.Source || got.Type() != ev.Type || dec(got.Subject()) != ev.Subject ||
				got.DataSchema() != ev.DataSchema || !got.Time().Equal(ev.Time) {
				t.Errorf("sdk-go decoded %+v", got.Context)
			}
			for k, v := range ev.Extensions {
				if g := dec(fmt.Sprint(got.Extensions()[k])); g != fmt.Sprint(v) {
					t.Errorf("extension %s = %q, want %q", k, g, fmt.Sprint(v))
				}
			}
			want, _ := ev.DataBytes()
			if ev.Data != nil && ev.DataIsJSON() {
				if !jsonEqual(got.Data(), want) {
					t.Errorf("data = %s, want %s", got.Data(), want)
				}
			} else if !bytes.Equal(got.Data(), want) {
				t.Errorf("data = %q, want %q", got.Data(), want)
			}
			if ev.Data == nil && ev.DataBase64 == nil && (ct != "" || len(body) != 0) {
				t.Errorf("an event without data got Content-Type %q and %d bytes", ct, len(body))
			}

			// Herald's own binary parser reads it too.
			req2, _ := http.NewRequest("POST", "http://receiver.test/hook", bytes.NewReader(body))
			req2.Header = req.Header.Clone()
			evs, err := Parse(req2, Limits{})
			if err != nil {
				t.Fatalf("Parse(binary): %v", err)
			}
			if evs[0].ID != ev.ID || evs[0].Subject != ev.Subject || evs[0].Type != ev.Type || !evs[0].Time.Equal(ev.Time) {
				t.Errorf("Parse(binary) = %+v", evs[0])
			}
			for k, v := range ev.Extensions {
				if g := evs[0].Extensions[k]; g != fmt.Sprint(v) {
					t.Errorf("Parse(binary): extension %s = %#v, want %q", k, g, fmt.Sprint(v))
				}
			}
		})
	}
}
