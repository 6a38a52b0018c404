package cloudevents

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary requests to Parse. Beyond never panicking, it
// checks the properties callers rely on: errors are of the documented kinds,
// problems are well-formed, and every accepted event survives
// MarshalStructured and a second Parse unchanged.
//
// headers holds "name: value" lines.
func FuzzParse(f *testing.F) {
	for _, tc := range append(validCases(f), invalidCases()...) {
		f.Add(tc.ct, strings.Join(headerLines(tc.headers), "\n"), []byte(tc.body))
	}
	f.Add(MediaTypeBatch, "", []byte(`[{"a":[{"b":"\"}]"}]},"x\\"]`))
	f.Add("application/json", "ce-id: %\nce-x: \"\\", []byte(`{`))

	lim := Limits{MaxEventBytes: 4 << 10, MaxRequestBytes: 16 << 10, MaxProblems: 20}
	f.Fuzz(func(t *testing.T, ct, headers string, body []byte) {
		r := newRequest(ct, body)
		for line := range strings.SplitSeq(headers, "\n") {
			name, value, ok := strings.Cut(line, ":")
			if ok {
				r.Header[name] = append(r.Header[name], strings.TrimSpace(value))
			}
		}
		events, err := Parse(r, lim)
		if err != nil {
			checkFuzzError(t, err, lim)
			return
		}
		for i, ev := range events {
			b, err := ev.MarshalStructured()
			if err != nil {
				t.Fatalf("event %d parsed but does not encode: %v", i, err)
			}
			again, err := Parse(newRequest(MediaTypeStructured, b), Limits{})
			if err != nil {
				t.Fatalf("event %d: re-parsing %s: %v", i, b, err)
			}
			if d := diffEvent(again[0], ev); d != "" {
				t.Fatalf("event %d changed in a round trip through %s: %s", i, b, d)
			}
		}
	})
}

func headerLines(kv []string) []string {
	var lines []string
	for i := 0; i+1 < len(kv); i += 2 {
		lines = append(lines, kv[i]+": "+kv[i+1])
	}
	return lines
}

func checkFuzzError(t *testing.T, err error, lim Limits) {
	var ve *ValidationError
	var tl *TooLargeError
	switch {
	case errors.As(err, &ve):
		if len(ve.Problems) == 0 || len(ve.Problems) > lim.MaxProblems {
			t.Fatalf("%d problems (cap %d)", len(ve.Problems), lim.MaxProblems)
		}
		for _, p := range ve.Problems {
			if p.Rule == "" || p.Detail == "" || p.Index < -1 {
				t.Fatalf("malformed problem %+v", p)
			}
		}
	case errors.As(err, &tl):
		if tl.Size <= tl.Limit || (tl.Which != WhichEvent && tl.Which != WhichRequest) {
			t.Fatalf("malformed TooLargeError %+v", tl)
		}
	case errors.Is(err, ErrUnsupportedMediaType):
	default:
		t.Fatalf("unexpected error kind %T: %v", err, err)
	}
}
