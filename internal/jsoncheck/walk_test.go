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
