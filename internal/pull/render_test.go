package pull

import (
	"context"
	"encoding/json"
	"fmt"
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
		{"escaped other name", `{"specversion":"1.0","id":"1","source":"s","type":"t","\u007a":"x"}`, true},
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
	for _, body := range []string{`{"specversion":"1.0","id":"1"`, `[]`, `[{"specversion":"1.0","id":"1","source":"s","type":"t"}]`, `{}`, `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{]}`} {
		r := postgres.Fetched{Body: []byte(body)}
		if out, err := e.render(context.Background(), r); err == nil {
			t.Errorf("render(%s) = %s, want an error", body, out)
		}
	}
}

// BenchmarkRender compares the fast way of placing a ~1 KB event in the
// log with the full parse and marshal it replaces.
func BenchmarkRender(b *testing.B) {
	data := make(map[string]any, 40)
	for i := range 40 {
		data[fmt.Sprintf("field%02d", i)] = fmt.Sprintf("value of field %d, long enough", i)
	}
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": uuid.NewString(), "source": "/bench",
		"type": "com.example.order.created", "time": "2026-12-04T10:00:00Z", "partitionkey": "k-1", "data": data})
	r := postgres.Fetched{Partition: 3, Seq: 123456, EventID: uuid.New(), ReceivedAt: time.Now(), Body: body}
	e := &Engine{}
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, ok := appendPlace(r.Body, r); !ok {
				b.Fatal("not the fast way")
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := e.renderParsed(r.Body, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
