package thin_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/heraldhq/herald/internal/thin"
)

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    thin.Path
		wantErr bool
	}{
		{in: "$.team", want: thin.Path{"team"}},
		{in: "$.payment.id", want: thin.Path{"payment", "id"}},
		{in: "$['flow name'].x", want: thin.Path{"flow name", "x"}},
		{in: "$.a-b_c", want: thin.Path{"a-b_c"}},
		{in: "team", wantErr: true},
		{in: "$", wantErr: true},
		{in: "$.", wantErr: true},
		{in: "$.items[0]", wantErr: true},
		{in: "$.*", wantErr: true},
		{in: "$['x", wantErr: true},
		{in: "$.a b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := thin.ParsePath(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePath(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParsePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNotification(t *testing.T) {
	t.Parallel()
	const ref = "https://herald.example/v1/integration/events/0190"
	tests := []struct {
		name   string
		body   string
		fields []string
		want   map[string]any
	}{
		{
			name:   "keeps declared fields only",
			body:   `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","dataschema":"https://x","partitionkey":"k","data":{"team":"osl","flow":"f","name":"Alice","payment":{"id":"p1","card":"4111"}}}`,
			fields: []string{"$.team", "$.flow", "$.payment.id", "$.missing"},
			want: map[string]any{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "partitionkey": "k",
				"datacontenttype": "application/json", "dataref": ref,
				"data": map[string]any{"team": "osl", "flow": "f", "payment": map[string]any{"id": "p1"}}},
		},
		{
			name: "no fields declared",
			body: `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"name":"Alice"}}`,
			want: map[string]any{"specversion": "1.0", "id": "1", "source": "/s", "type": "t",
				"datacontenttype": "application/json", "dataref": ref, "data": map[string]any{}},
		},
		{
			name:   "binary data is dropped",
			body:   `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/pdf","data_base64":"AAAA"}`,
			fields: []string{"$.team"},
			want: map[string]any{"specversion": "1.0", "id": "1", "source": "/s", "type": "t",
				"datacontenttype": "application/json", "dataref": ref, "data": map[string]any{}},
		},
		{
			name:   "non-object data keeps nothing",
			body:   `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"Alice"}`,
			fields: []string{"$.team"},
			want: map[string]any{"specversion": "1.0", "id": "1", "source": "/s", "type": "t",
				"datacontenttype": "application/json", "dataref": ref, "data": map[string]any{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := thin.Notification([]byte(tt.body), thin.ParsePaths(tt.fields), ref)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Notification =\n %v\nwant\n %v", got, tt.want)
			}
			// Idempotent: a scrubbed body stored as the notification renders
			// the same notification again.
			again, err := thin.Notification(out, thin.ParsePaths(tt.fields), ref)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(out) {
				t.Fatalf("second rendering differs:\n%s\n%s", again, out)
			}
		})
	}
}

func BenchmarkNotification(b *testing.B) {
	body := []byte(`{"specversion":"1.0","id":"64608023-8592-449b-8fa0-00aed82c734c","source":"/planx","type":"uk.planx.session.completed","datacontenttype":"application/json","time":"2026-11-29T07:00:00Z","data":{"team":"Open Systems Lab","flow":"apply-for-a-lawful-development-certificate","paymentId":"d06ab578-c9d9-4bed-b1b3-0dd6245b7efd","passport":{"applicant":{"name":"Alice Example","email":"alice@example.com","phone":"+44 20 7946 0000"},"site":{"address":"1 High Street","uprn":"100021"}},"breadcrumbs":{"a":1,"b":2,"c":3}}}`)
	fields := thin.ParsePaths([]string{"$.team", "$.flow", "$.paymentId"})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := thin.Notification(body, fields, "https://herald.example/v1/integration/events/x"); err != nil {
			b.Fatal(err)
		}
	}
}
