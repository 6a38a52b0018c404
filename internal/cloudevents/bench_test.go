package cloudevents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// benchEvent is a realistic ~1 KB structured event.
func benchEvent(i int) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":"evt-%06d","source":"https://api.example.com/orders","type":"com.example.order.created",`+
		`"datacontenttype":"application/json","subject":"order/%d","time":"2024-05-06T07:08:09.123Z","partitionkey":"customer-%d","tenant":"acme",`+
		`"data":{"order":{"id":%d,"currency":"EUR","total":1234.5,"note":%q,"lines":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":1}]}}}`,
		i, i, i%10, i, strings.Repeat("lorem ipsum ", 60))
}

func BenchmarkParseBatch100(b *testing.B) {
	events := make([]string, 100)
	for i := range events {
		events[i] = benchEvent(i)
	}
	body := []byte("[" + strings.Join(events, ",") + "]")
	b.Run("Parse", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
			r.Header.Set("Content-Type", MediaTypeBatch)
			got, err := Parse(r, Limits{})
			if err != nil || len(got) != 100 {
				b.Fatalf("Parse: %d events, %v", len(got), err)
			}
		}
	})
	// Reference point, not a competitor: the usual encoding/json decode,
	// which reads but validates nothing. Timings on shared machines are
	// noisy; compare the two rather than reading either alone.
	b.Run("baseline-encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var got []map[string]json.RawMessage
			if err := json.Unmarshal(body, &got); err != nil || len(got) != 100 {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMarshalStructured(b *testing.B) {
	r := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(benchEvent(1)))
	r.Header.Set("Content-Type", MediaTypeStructured)
	evs, err := Parse(r, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	ev := evs[0]
	ev.Time = time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC)
	b.Run("Marshal", func(b *testing.B) {
		b.SetBytes(int64(ev.Size))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ev.MarshalStructured(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-encoding-json-map", func(b *testing.B) {
		b.SetBytes(int64(ev.Size))
		b.ReportAllocs()
		for b.Loop() {
			m := map[string]any{
				"specversion": ev.SpecVersion, "id": ev.ID, "source": ev.Source, "type": ev.Type,
				"datacontenttype": ev.DataContentType, "subject": ev.Subject, "time": ev.Time, "data": ev.Data,
			}
			for k, v := range ev.Extensions {
				m[k] = v
			}
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendReuse", func(b *testing.B) {
		b.SetBytes(int64(ev.Size))
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			var err error
			if buf, err = ev.AppendStructured(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
