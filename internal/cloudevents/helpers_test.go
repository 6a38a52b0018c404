package cloudevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// newRequest builds an ingest request. headers alternate name and value and
// are added with Header.Add (so names are canonicalised).
func newRequest(ct string, body []byte, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	return b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad test timestamp %q: %v", s, err)
	}
	return tm
}

// diffEvent describes how got differs from want, or returns "". Size is not
// compared (it depends on the encoding), times compare as instants with the
// same offset, and nil vs empty data is significant.
func diffEvent(got, want *Event) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	str("ID", got.ID, want.ID)
	str("Source", got.Source, want.Source)
	str("SpecVersion", got.SpecVersion, want.SpecVersion)
	str("Type", got.Type, want.Type)
	str("DataContentType", got.DataContentType, want.DataContentType)
	str("DataSchema", got.DataSchema, want.DataSchema)
	str("Subject", got.Subject, want.Subject)
	_, goff := got.Time.Zone()
	_, woff := want.Time.Zone()
	if !got.Time.Equal(want.Time) || goff != woff {
		d = append(d, fmt.Sprintf("Time = %v, want %v", got.Time, want.Time))
	}
	if !reflect.DeepEqual(got.Extensions, want.Extensions) {
		d = append(d, fmt.Sprintf("Extensions = %#v, want %#v", got.Extensions, want.Extensions))
	}
	if (got.Data == nil) != (want.Data == nil) || !bytes.Equal(got.Data, want.Data) {
		d = append(d, fmt.Sprintf("Data = %q (nil %t), want %q (nil %t)", got.Data, got.Data == nil, want.Data, want.Data == nil))
	}
	if (got.DataBase64 == nil) != (want.DataBase64 == nil) || !bytes.Equal(got.DataBase64, want.DataBase64) {
		d = append(d, fmt.Sprintf("DataBase64 = %q (nil %t), want %q (nil %t)", got.DataBase64, got.DataBase64 == nil, want.DataBase64, want.DataBase64 == nil))
	}
	return strings.Join(d, "; ")
}

func checkEvents(t testing.TB, got, want []*Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if d := diffEvent(got[i], want[i]); d != "" {
			t.Errorf("event %d: %s", i, d)
		}
	}
}

// problemKeys strips the human-readable detail so tests pin down the
// machine-readable part only.
func problemKeys(ps []Problem) []Problem {
	out := make([]Problem, len(ps))
	for i, p := range ps {
		p.Detail = ""
		out[i] = p
	}
	return out
}

func asValidationError(t testing.TB, err error) *ValidationError {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want *ValidationError", err, err)
	}
	for _, p := range ve.Problems {
		if p.Detail == "" || p.Rule == "" {
			t.Errorf("problem %+v lacks a rule or detail", p)
		}
	}
	return ve
}

// jsonEqual compares two JSON documents semantically.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
