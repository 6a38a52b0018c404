package jsoncheck

import "testing"

// TestWalkersTolerateMalformedInput covers the walkers' own guard rails.
// The CloudEvents parser only hands them checked JSON, but a bug must not
// become a panic in the ingest path.
func TestWalkersTolerateMalformedInput(t *testing.T) {
	t.Parallel()
	inputs := []string{`{`, `{"`, `{"a`, `{"a"`, `{"a":`, `{"a":"`, `{"a":1,`, `{"\"`, `{"a":[`, `[`, `[1,`, `["`, `[{]`, `"\`, `{"a" 1}`}
	for _, in := range inputs {
		b := []byte(in)
		for k, v := range Members(b) {
			_, _ = Unquote(k)
			_ = ValueEnd(v, 0)
		}
		for e := range Elements(b) {
			_ = ValueEnd(e, 0)
		}
		_ = ValueEnd(b, 0)
		_, _ = AppendUnquoted(nil, b, Exact)
		_, _ = AppendUnquoted(nil, b, Lenient)
	}
}

func TestUnquote(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		err      bool
	}{
		{`"plain"`, "plain", false},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t", false},
		{`"\u00e9\ud83d\ude00"`, "é😀", false},
		{`"\ud83d"`, "", true},
		{`"\ude00"`, "", true},
		{`"\ud83d\u0041"`, "", true},
		{`"\x"`, "", true},
		{`"\u12"`, "", true},
	}
	for _, tc := range cases {
		got, err := Unquote([]byte(tc.in))
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("Unquote(%s) = %q, %v; want %q, error %t", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw, want string
		copied    bool // the text is not raw's own bytes
		err       bool
	}{
		{`"plain"`, "plain", false, false},
		{`"é long enough to pass twenty-four bytes"`, "é long enough to pass twenty-four bytes", false, false},
		{`"t\u00e9"`, "té", true, false},
		{"\"\xff\"", "\uFFFD", true, false},
		{`"\ud800"`, "\uFFFD", true, false},
		{`"\x"`, "", true, true},
		{`"`, "", false, true},
	} {
		raw := []byte(tc.raw)
		got, err := Text(nil, raw)
		if (err != nil) != tc.err || err == nil && string(got) != tc.want {
			t.Errorf("Text(%s) = %q, %v; want %q, error %t", tc.raw, got, err, tc.want, tc.err)
			continue
		}
		if err == nil && !tc.copied && &got[0] != &raw[1] {
			t.Errorf("Text(%s) copied text that needs no decoding", tc.raw)
		}
	}
}
