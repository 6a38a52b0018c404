package thin_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
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

// renderCases are stored bodies with the notification they render. Every
// want is what rendering gave when it decoded the whole of data with
// encoding/json, quirks included: a number beyond float64's range anywhere
// in data made that decode fail, and no field was kept.
var renderCases = []struct {
	name   string
	body   string
	fields []string
	want   string // "error" for ErrUnrenderable
}{
	{
		name:   "attributes kept, numbers and strings spelled as encoding/json spells them",
		body:   `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"team":"osl","n":1e2,"big":12345678901234567890,"s":"<a&b>\u2028","payment":{"id":"p1","card":"4111"}}}`,
		fields: []string{"$.team", "$.n", "$.big", "$.s", "$.payment.id", "$.missing"},
		want:   `{"data":{"big":12345678901234567000,"n":100,"payment":{"id":"p1"},"s":"\u003ca\u0026b\u003e\u2028","team":"osl"},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1","source":"/s","specversion":"1.0","type":"t"}`,
	},
	{
		name:   "repeated member: the last counts, nested paths too",
		body:   `{"id":"1","data":{"a":{"b":1,"c":{"d":[1,2]}},"a":{"c":{"d":null}}}}`,
		fields: []string{"$.a.c.d", "$.a.b", "$.a"},
		want:   `{"data":{"a":{"c":{"d":null}}},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "a kept object holds what a longer path would add",
		body:   `{"id":"1","data":{"a":{"b":1,"c":2}}}`,
		fields: []string{"$.a", "$.a.b", "$.a.x.y"},
		want:   `{"data":{"a":{"b":1,"c":2}},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "a longer path first, then its object",
		body:   `{"id":"1","data":{"a":{"b":1,"c":2}}}`,
		fields: []string{"$.a.b", "$.a"},
		want:   `{"data":{"a":{"b":1,"c":2}},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "an escaped name repeats a plain one",
		body:   `{"id":"1","data":{"a":5,"\u0061":{"b":[]}}}`,
		fields: []string{"$.a.b", "$['a']"},
		want:   `{"data":{"a":{"b":[]}},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "escaped and dashed names, digit names",
		body:   `{"id":"1","data":{"t\u00e9":"é","x-y":{"0":true}}}`,
		fields: []string{"$['té']", "$.x-y.0", "$['x-y']['0']"},
		want:   `{"data":{"té":"é","x-y":{"0":true}},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "array data keeps nothing",
		body:   `{"id":"1","data":[{"a":1}]}`,
		fields: []string{"$.a"},
		want:   `{"data":{},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "string data keeps nothing, data_base64 and dataschema dropped",
		body:   `{"id":"1","data":"text","data_base64":"AAAA","dataschema":"x"}`,
		fields: []string{"$.a"},
		want:   `{"data":{},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "no fields",
		body:   `{"id":"1","data":{"a":1}} `,
		fields: []string(nil),
		want:   `{"data":{},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "a body that is no object",
		body:   "[1]",
		fields: []string{"$.a"},
		want:   "error",
	},
	{
		name:   "malformed body",
		body:   `{"id":"1","data":{"a":1}`,
		fields: []string{"$.a"},
		want:   "error",
	},
	{
		name:   "a number beyond float64 anywhere in data keeps nothing",
		body:   `{"id":"1","data":{"a":1,"b":{"c":1e400}}}`,
		fields: []string{"$.a"},
		want:   `{"data":{},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "a negative number beyond float64 keeps nothing",
		body:   `{"id":"1","data":{"a":-1.8e308,"b":2}}`,
		fields: []string{"$.b"},
		want:   `{"data":{},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "a number too small for float64 is zero, and keeps the rest",
		body:   `{"id":"1","data":{"a":1e-400,"b":1E308,"c":2}}`,
		fields: []string{"$.a", "$.b", "$.c"},
		want:   `{"data":{"a":0,"b":1e+308,"c":2},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
	{
		name:   "invalid UTF-8 becomes U+FFFD, in names and values",
		body:   "{\"id\":\"1\",\"data\":{\"a\\u00ff\":\"\xff\",\"\xff\":1}}",
		fields: []string{"$['aÿ']", "$['�']"},
		want:   `{"data":{"aÿ":"�","�":1},"datacontenttype":"application/json","dataref":"https://herald.example/v1/integration/events/x","id":"1"}`,
	},
}

func TestNotificationRenders(t *testing.T) {
	t.Parallel()
	const ref = "https://herald.example/v1/integration/events/x"
	for _, tc := range renderCases {
		got, err := thin.Notification([]byte(tc.body), thin.ParsePaths(tc.fields), ref)
		switch {
		case tc.want == "error":
			if !errors.Is(err, thin.ErrUnrenderable) {
				t.Errorf("%s: Notification = %s, %v; want ErrUnrenderable", tc.name, got, err)
			}
		case err != nil || string(got) != tc.want:
			t.Errorf("%s: Notification =\n %s, %v\nwant\n %s", tc.name, got, err, tc.want)
		}
	}
}

// FuzzNotification renders any body with any fields: no panic, and a
// rendered notification is a JSON object that renders as itself again.
func FuzzNotification(f *testing.F) {
	for _, tc := range renderCases {
		f.Add([]byte(tc.body), strings.Join(tc.fields, "\n"))
	}
	f.Fuzz(func(t *testing.T, body []byte, fields string) {
		const ref = "https://herald.example/v1/integration/events/x"
		paths := thin.ParsePaths(strings.Split(fields, "\n"))
		out, err := thin.Notification(body, paths, ref)
		if err != nil {
			if !errors.Is(err, thin.ErrUnrenderable) {
				t.Fatalf("Notification(%q): %v, not ErrUnrenderable", body, err)
			}
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("Notification(%q) = %s, not a JSON object: %v", body, out, err)
		}
		again, err := thin.Notification(out, paths, ref)
		if err != nil || string(again) != string(out) {
			t.Fatalf("Notification(%q) = %s, rendered again %s, %v", body, out, again, err)
		}
	})
}
