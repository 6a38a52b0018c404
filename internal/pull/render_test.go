package pull

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/postgres"
)

// The fast way of placing an event in the log (appendPlace) must give the
// event the full parse gives, and stand aside whenever it cannot.
func TestRenderFastMatchesParse(t *testing.T) {
	t.Parallel()
	row := postgres.Fetched{Partition: 7, Seq: 1234, EventID: uuid.New(),
		ReceivedAt: time.Date(2026, 12, 4, 10, 11, 12, 345_000_000, time.UTC)}
	tests := []struct {
		name string
		body string
		fast bool
	}{
		{"plain", `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"sequence":1}}`, true},
		{"spaces", " {\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\" }\n", true},
		{"extension", `{"specversion":"1.0","id":"1","source":"s","type":"t","zz":"x","data_base64":"AA=="}`, true},
		{"producer sequence", `{"specversion":"1.0","id":"1","source":"s","type":"t","sequence":"x"}`, false},
		{"producer partition", `{"specversion":"1.0","id":"1","source":"s","type":"t","partition":3}`, false},
		{"producer receivedat", `{"specversion":"1.0","id":"1","source":"s","type":"t","receivedat":"y"}`, false},
		{"escaped name", `{"specversion":"1.0","id":"1","source":"s","type":"t","\u0073equence":"x"}`, false},
	}
	e := &Engine{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := row
			r.Body = []byte(tt.body)
			fast, ok := appendPlace(r.Body, r)
			if ok != tt.fast {
				t.Fatalf("appendPlace took the fast way: %v, want %v", ok, tt.fast)
			}
			got, err := e.render(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if ok && string(fast) != string(got) {
				t.Fatalf("render did not use the fast way: %s", got)
			}
			// What the full parse writes, for comparison.
			slow, err := e.renderParsed(r.Body, r)
			if err != nil {
				t.Fatal(err)
			}
			var a, b map[string]any
			if err := json.Unmarshal(got, &a); err != nil {
				t.Fatalf("rendered %s: %v", got, err)
			}
			if err := json.Unmarshal(slow, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("render = %s\nfull parse = %s", got, slow)
			}
			if a["sequence"] != "00000000000000001234" || a["partition"] != float64(7) || a["receivedat"] != "2026-12-04T10:11:12.345Z" {
				t.Fatalf("extensions wrong: %s", got)
			}
		})
	}
}

func TestRenderRefusesCorruptEvent(t *testing.T) {
	t.Parallel()
	e := &Engine{}
	for _, body := range []string{`{"specversion":"1.0","id":"1"`, `[]`, `{}`, `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{]}`} {
		r := postgres.Fetched{Body: []byte(body)}
		if out, err := e.render(context.Background(), r); err == nil {
			t.Errorf("render(%s) = %s, want an error", body, out)
		}
	}
}
