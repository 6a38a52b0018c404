package jsoncheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/internal/jsoncheck/jsonchecktest"
)

// referenceDecode is the decoder Decode replaced in schema validation and
// must agree with.
func referenceDecode(data []byte) (any, error) {
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

// decodeCases are inputs on which Decode and referenceDecode must agree,
// chosen for the corners of RFC 8259 and of encoding/json's leniencies. They
// also seed FuzzDecode.
var decodeCases = []string{
	// Scalars and whitespace.
	`null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `""`, `"a"`,
	" \t\r\n1 \t\r\n", " null", "null ", "\n[\n]\n",
	``, ` `, "\t\n", "\f1", "\v1", "\u00a01", "\ufeff1", "1\x00", "\x00",

	// Literals.
	`nul`, `nulll`, `tru`, `True`, `NULL`, `falsey`, `nullnull`, `[true,false,null]`,
	`[nul]`, `[truex]`, `{"a":fals}`, `t`, `f`, `n`,

	// Numbers: RFC 8259 grammar, kept as literal text.
	`01`, `00`, `-01`, `-`, `--1`, `+1`, `.5`, `1.`, `1.e5`, `1e`, `1e+`, `1E-`,
	`1e5`, `1E+5`, `1e-05`, `0.0`, `-0.0e-0`, `1.5e300`, `1e400`, `-1e-400`,
	`123456789012345678901234567890`, `9007199254740993.5`, `0x10`, `1_000`,
	`Infinity`, `-Infinity`, `NaN`, `[01]`, `[1.]`, `[-]`, `{"a":01}`, `{"a":-}`,
	`1 2`, `[1 2]`, `1,`, `[1,]`, `[,1]`, `[1,,2]`, `0.5.5`, `1e5e5`, `-a`,
	`[0,-0,0.1,1e1,1E1,1e+1,1e-1,-1.5E+10]`,

	// Strings: escapes.
	`"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u20ac"`, `"\u00E9\u00e9"`, `"\uD83D\uDE00"`,
	`"\ud83d\ude00"`, `"x\uD83Dy"`, `"\uD83D"`, `"\uDE00"`, `"\uDE00\uD83D"`,
	`"\uD83D\uD83D\uDE00"`, `"\uD83D\u0041"`, `"\uD83D\\"`, `"\uD83D\n"`,
	`"\uD83D\uDE0"`, `"\uD83D\uZZZZ"`, `"\uD83D\u"`, `"\uD83D\`, `"\uD83D`,
	`"\u"`, `"\u12"`, `"\u12G4"`, `"\u0000"`, `"\uFFFD"`, `"\uffff"`, `"\uFEFF"`,
	`"\'"`, `"\a"`, `"\x41"`, `"\0"`, `"\U0041"`, `"\`, `"\\"`, `"\\\"`,
	`"a\u0022b"`, `"a\u005Cb"`, `"\/"`, `"\u002F"`,

	// Strings: raw bytes.
	"\"tab\there\"", "\"nl\nhere\"", "\"\x00\"", "\"\x1f\"", "\"\x7f\"",
	"\"é€😀\"", "\"\ufffd\"", "\"\xff\"", "\"a\xffb\"", "\"\xc3\"", "\"\xc3\x28\"",
	"\"\xe2\x82\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xc0\xaf\"",
	"\"\xf0\x9f\x98\"", "\"\x80\x80\x80\"", "\"\xff\\n\"", "\"\\n\xff\"",
	"\"\xe2\x82\xac\\u20ac\xe2\"", "{\"\xff\":1}", "{\"k\xc3\":\"v\xc3\"}",
	"\xff", "[\xff]", "\"abc", `"abc`, `"`, `"a"b"`, `"a""b"`, `'a'`,
	`"` + strings.Repeat("x", 300) + `\n` + strings.Repeat("é", 300) + `"`,
	"\"" + strings.Repeat("\xff", 100) + "\"",

	// Arrays and objects.
	`[]`, `{}`, `[ ]`, `{ }`, `[`, `]`, `{`, `}`, `[[]]`, `[{}]`, `{"a":[]}`, `{"a":{}}`,
	`[1`, `[1,`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a" 1}`, `{"a"::1}`,
	`{a:1}`, `{'a':1}`, `{1:1}`, `{"a":1,}`, `{,"a":1}`, `{"a":1 "b":2}`, `{"a":1}}`,
	`[1]]`, `[}`, `{]`, `{"a":1]`, `[1}`, `{"a"}`, `{"":""}`, `{"":1,"":2}`,
	`{"a":1,"a":2}`, `{"a":1,"b":2,"a":3}`, `{"a":{"x":1},"a":[2]}`,
	`{"a":null,"a":null}`, `{"\u0061":1,"a":2}`, `{"a":2,"\u0061":1}`,
	`{"order_id":"x","items":[{"sku":"A","qty":1},{"sku":"B","qty":2.50}],"ok":true,"n":null}`,
	`[[[[[[[[[[]]]]]]]]]]`, `[[[[[[[[[[]]]]]]]]]`, `{"a":{"b":{"c":{"d":[1,{"e":"f"}]}}}}`,
	`[1,"a",true,null,{},[],-0.5e-5]`, "[\n1\n,\n2\n]", "{\n\"a\"\n:\n1\n}",
	`{} {}`, `[] []`, `{}x`, `[]1`, `""""`, `"a" "b"`, `1 x`, `{}/**/`, `// x` + "\n1",
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range decodeCases {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			t.Parallel()
			checkDecode(t, []byte(in))
		})
	}
}

// checkDecode fails unless Decode and referenceDecode agree on whether
// data is valid and, if it is, on the decoded value.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := referenceDecode(data)
	got, gotErr := Decode(data)
	switch {
	case wantErr != nil && gotErr == nil:
		t.Fatalf("Decode(%q) = %#v, want error like encoding/json's %v", data, got, wantErr)
	case wantErr == nil && gotErr != nil:
		t.Fatalf("Decode(%q) error %v, want %#v", data, gotErr, want)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("Decode(%q)\n got  %#v\n want %#v", data, got, want)
	}
	if gotErr != nil {
		if _, ok := gotErr.(*Error); !ok {
			t.Fatalf("Decode(%q) error %T, want *Error", data, gotErr)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, in := range decodeCases {
		f.Add([]byte(in))
	}
	f.Add([]byte(benchOrder))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

// TestDecodeValues pins results that matter to validation, independently of
// encoding/json, so that a change in the reference cannot silently move both.
func TestDecodeValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{`9007199254740993.5`, json.Number("9007199254740993.5")},
		{`-0.0E+01`, json.Number("-0.0E+01")},
		{`[]`, []any{}},
		{`{}`, map[string]any{}},
		{`{"a":1,"b":{"a":2},"a":[true,null]}`, map[string]any{"a": []any{true, nil}, "b": map[string]any{"a": json.Number("2")}}},
		{`"\uD83D\uDE00|\uD83D|\uDE00|\uD83Dx"`, "😀|\ufffd|\ufffd|\ufffdx"},
		{`"\uD83D\uD83D\uDE00"`, "\ufffd😀"},
		{"\"a\xffb\xed\xa0\x80\"", "a\ufffdb\ufffd\ufffd\ufffd"},
		{`"\"\\\/\b\f\n\r\t\u0000"`, "\"\\/\b\f\n\r\t\x00"},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.in))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	t.Parallel()
	nest := func(open, close string, n int) []byte {
		return []byte(strings.Repeat(open, n) + strings.Repeat(close, n))
	}
	for _, tt := range []struct {
		name string
		doc  []byte
	}{
		{"arrays at limit", nest("[", "]", MaxDepth)},
		{"arrays over limit", nest("[", "]", MaxDepth+1)},
		{"objects at limit", nest(`{"a":`, "}", MaxDepth)},
		{"objects over limit", nest(`{"a":`, "}", MaxDepth+1)},
		{"mixed at limit", nest(`[{"a":`, "}]", MaxDepth/2)},
		{"mixed over limit", []byte(strings.Repeat(`[{"a":`, MaxDepth/2) + "[]" + strings.Repeat("}]", MaxDepth/2))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkDecode(t, tt.doc)
		})
	}

	// Far deeper than the limit, and unterminated: rejected at the limit
	// rather than after recursing through the whole input.
	hostile := bytes.Repeat([]byte("["), 10_000_000)
	_, err := Decode(hostile)
	var se *Error
	if !errors.As(err, &se) || se.Offset != MaxDepth {
		t.Errorf("deep input: err = %v, want a depth error at offset %d", err, MaxDepth)
	}
}

func TestDecodeReusesNoState(t *testing.T) {
	t.Parallel()
	// A failed decode leaves entries on a pooled decoder's stacks; the next
	// decode must not see them.
	for range 100 {
		if _, err := Decode([]byte(`{"a":[1,2,{"b":"\u00e9`)); err == nil {
			t.Fatal("truncated document accepted")
		}
		got, err := Decode([]byte(`{"c":[3]}`))
		want := map[string]any{"c": []any{json.Number("3")}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v, %v; want %#v", got, err, want)
		}
	}
}

func TestDecodeDoesNotAliasInput(t *testing.T) {
	t.Parallel()
	buf := []byte(`{"key":"value","n":12,"e":"\u00e9x"}`)
	got, err := Decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	want := map[string]any{"key": "value", "n": json.Number("12"), "e": "éx"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("result changed with the input buffer: %#v", got)
	}
}

func TestDecodeErrorOffsets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		offset int
	}{
		{``, 0},
		{`[1,]`, 3},
		{`{"a":01}`, 6},
		{`"ab` + "\x01", 3},
		{`"a\qb"`, 2},
		{`[1] x`, 4},
		{`[1.x]`, 3},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.in))
		se, ok := err.(*Error)
		if !ok || se.Offset != tt.offset {
			t.Errorf("Decode(%q) error %v, want offset %d", tt.in, err, tt.offset)
		}
	}
}

// TestDecodeStringFastPath checks that the unescaped path copes with every
// kind of UTF-8 sequence next to the bytes that end it.
func TestDecodeStringFastPath(t *testing.T) {
	t.Parallel()
	for _, r := range []rune{0x7f, 0x80, 0x7ff, 0x800, 0xfffd, 0xffff, 0x10000, utf8.MaxRune} {
		for _, s := range []string{string(r), "a" + string(r), string(r) + `\n`, string(r) + string(r)} {
			checkDecode(t, []byte(`"`+s+`"`))
			checkDecode(t, []byte(`{"`+s+`":"`+s+`"}`))
		}
	}
}

// benchOrder is the benchmark order (see jsonchecktest.Order), which the
// schema package validates in its benchmarks too.
const benchOrder = jsonchecktest.Order

// BenchmarkDecode compares Decode with the decoder schema validation used
// before, jsonschema.UnmarshalJSON (encoding/json with UseNumber), on
// benchOrder.
func BenchmarkDecode(b *testing.B) {
	doc := []byte(benchOrder)
	for _, dec := range []struct {
		name   string
		decode func([]byte) (any, error)
	}{
		{"herald", Decode},
		{"encoding_json", referenceDecode},
	} {
		b.Run(dec.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dec.decode(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
