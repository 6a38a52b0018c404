package jsoncheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckAccepts(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`0`, `-0`, `1.5e-3`, `-12E+7`, `"x"`, `true`, `false`, `null`, ` [] `, "\n{}\t",
		`{"a":1,"b":[1,2,{"a":2}],"c":{"a":{"a":3}}}`,
		`[{"a":1},{"a":1}]`,                   // the same name in sibling objects
		`{"a":{"b":1},"b":{"a":1}}`,           // and in parent and child
		`{"A":1,"a":2}`,                       // names are case-sensitive
		`{"\u00e9":1,"e\u0301":2}`,            // and not normalised
		`{"a\u0000":1,"a":2,"":3}`,            // NUL is a character like any other
		`"caf\u00e9 \ud83d\ude00 \u0000 é 😀"`, // escapes and raw UTF-8
	} {
		if err := Check([]byte(in)); err != nil {
			t.Errorf("Check(%s) = %v, want nil", in, err)
		}
	}
}

func TestCheckRefusesSyntax(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in     string
		offset int
	}{
		{``, 0},
		{`   `, 0},
		{`{`, 1},
		{`{"a"}`, 4},
		{`{"a":}`, 5},
		{`{"a":1,}`, 7},
		{`[1,]`, 3},
		{`[1 2]`, 3},
		{`{"a":1]`, 6},
		{`01`, 1},
		{`1.`, 2},
		{`1e`, 2},
		{`-`, 1},
		{`+1`, 0},
		{`.5`, 0},
		{`tru`, 3},
		{`nul`, 3},
		{`nulls`, 4},
		{`"abc`, 4},
		{"\"a\tb\"", 2},
		{`"\x"`, 2},
		{`"\u12G4"`, 5},
		{"\"\xff\"", 1},
		{"\xef\xbb\xbf{}", 0}, // a byte order mark is not JSON
		{`{} {}`, 3},
		{`{1:2}`, 1},
		{`'a'`, 0},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), MaxDepth},
	}
	for _, tc := range cases {
		err := Check([]byte(tc.in))
		if err == nil || err.Rule != RuleJSON || err.Offset != tc.offset || err.Detail == "" {
			t.Errorf("Check(%.40q) = %+v; want a %s error at offset %d", tc.in, err, RuleJSON, tc.offset)
		}
	}
}

func TestCheckAcceptsMaxDepth(t *testing.T) {
	t.Parallel()
	in := strings.Repeat(`{"a":[`, MaxDepth/2) + strings.Repeat(`]}`, MaxDepth/2)
	if err := Check([]byte(in)); err != nil {
		t.Fatalf("Check at depth %d: %v", MaxDepth, err)
	}
}

func TestScanReportsEveryDuplicate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want []string // paths, in document order
	}{
		{"top level", `{"id":"a","x":1,"id":"b"}`, []string{"$.id"}},
		{"nested", `{"data":{"order":"A-1","qty":2,"order":"A-2"}}`, []string{"$.data.order"}},
		{"in arrays", `[{"a":1},{"b":[{"c":1,"c":2}]}]`, []string{"$[1].b[0].c"}},
		{"three times", `{"a":1,"a":2,"a":3}`, []string{"$.a", "$.a"}},
		{"escaped spelling", `{"order":1,"\u006frder":2}`, []string{"$.order"}},
		{"escaped both", `{"\/":1,"\u002f":2}`, []string{"$['/']"}},
		{"surrogate pair", `{"😀":1,"\ud83d\ude00":2}`, []string{"$['😀']"}},
		{"same lone surrogate", `{"\ud800":1,"\uD800":2}`, nil}, // checked below: one duplicate
		{"odd names", `{"a b":{"it's":1,"it's":2}}`, []string{`$['a b']['it\'s']`}},
		{"several objects", `{"a":{"x":1,"x":2},"b":{"y":1,"y":2},"a":3}`, []string{"$.a.x", "$.b.y", "$.a"}},
		{"after nested siblings", `{"a":{"a":1},"b":[{"a":1}],"a":2}`, []string{"$.a"}},
	}
	for _, tc := range cases {
		var got []string
		err := Scan([]byte(tc.in), func(d Duplicate) bool {
			got = append(got, d.Path.String())
			if tc.in[d.Offset] != '"' {
				t.Errorf("%s: duplicate offset %d is not a quote", tc.name, d.Offset)
			}
			return true
		})
		if err != nil {
			t.Errorf("%s: Scan: %v", tc.name, err)
			continue
		}
		if tc.want == nil {
			if len(got) != 1 {
				t.Errorf("%s: duplicates %q, want one", tc.name, got)
			}
			continue
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: duplicates %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckReportsFirstDuplicate(t *testing.T) {
	t.Parallel()
	err := Check([]byte(`{"data":{"order":"A-1","order":"A-2"},"x":1,"x":2}`))
	if err == nil || err.Rule != RuleDuplicateKey || err.Path.String() != "$.data.order" ||
		err.Path.Field("data") != "data.data.order" || err.Path.Field("") != "data.order" || err.Offset != 23 {
		t.Fatalf("Check = %+v", err)
	}
	if !strings.Contains(err.Detail, `"order"`) {
		t.Errorf("detail %q does not name the member", err.Detail)
	}
}

func TestScanStopsReporting(t *testing.T) {
	t.Parallel()
	n := 0
	err := Scan([]byte(`{"a":1,"a":2,"b":1,"b":2}`), func(Duplicate) bool { n++; return false })
	if err != nil || n != 1 {
		t.Fatalf("Scan = %v after %d reports; want nil after 1", err, n)
	}
}

func TestLargeObjects(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `":{"n":1}`)
	}
	doc := b.String()
	// Names repeat every 182 members (7 × 26).
	var got int
	if err := Scan([]byte(doc+`}`), func(Duplicate) bool { got++; return true }); err != nil {
		t.Fatal(err)
	}
	if want := 1000 - 7*26; got != want {
		t.Fatalf("%d duplicates, want %d", got, want)
	}
}

func TestPathField(t *testing.T) {
	t.Parallel()
	p := Path{{Index: 2, IsIndex: true}, {Name: "data"}, {Name: "a-b"}, {Name: "_x9"}, {Index: 0, IsIndex: true}}
	if got, want := p.String(), "$[2].data['a-b']._x9[0]"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := p[1:].Field(""), "data['a-b']._x9[0]"; got != want {
		t.Errorf(`Field("") = %q, want %q`, got, want)
	}
	if got, want := Path(nil).String(), "$"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// refDuplicate is a slow reference for duplicate detection: encoding/json's
// tokenizer with a set per open object.
func refDuplicate(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type obj struct {
		names   map[string]bool
		wantKey bool
	}
	var stack []*obj
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			return false
		}
		var top *obj
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top != nil && top.names != nil {
					top.wantKey = true
				}
				stack = append(stack, &obj{names: map[string]bool{}, wantKey: true})
			case '[':
				if top != nil && top.names != nil {
					top.wantKey = true
				}
				stack = append(stack, &obj{})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.names != nil && top.wantKey {
				if top.names[v] {
					return true
				}
				top.names[v] = true
				top.wantKey = false
				continue
			}
		}
		if top != nil && top.names != nil {
			top.wantKey = true
		}
	}
}

// FuzzScan holds the scanner to encoding/json: it accepts exactly the texts
// json.Valid accepts (for UTF-8 input), and finds a duplicate exactly when a
// tokenizer-based reference does (both read names the way encoding/json
// decodes them).
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `[{"a":[1,{"b":2,"b":3}]}]`, `{"\u0061":1,"a":2}`, `1e5`, `"\ud800"`,
		`{"a":{"b":1},"b":2}`, ` {"x" : [ true , false , null ] } `, `{"😀":1,"\ud83d\ude00":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dups := 0
		err := Scan(b, func(Duplicate) bool { dups++; return true })
		valid := json.Valid(b) && utf8.Valid(b)
		if (err == nil) != valid {
			t.Fatalf("Scan(%q) = %v; json.Valid = %t", b, err, valid)
		}
		if err != nil {
			return
		}
		if ref := refDuplicate(b); ref != (dups > 0) {
			t.Fatalf("Scan(%q) found %d duplicates; reference says %t", b, dups, ref)
		}
	})
}

func benchDoc() []byte {
	var b strings.Builder
	b.WriteString("[")
	for i := range 100 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"specversion":"1.0","id":"evt-1","source":"https://api.example.com/orders","type":"com.example.order.created",` +
			`"datacontenttype":"application/json","subject":"order/1","time":"2024-05-06T07:08:09.123Z","partitionkey":"customer-1",` +
			`"data":{"order":{"id":12,"currency":"EUR","total":1234.5,"note":"` + strings.Repeat("lorem ipsum ", 60) +
			`","lines":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":1}]}}}`)
	}
	b.WriteString("]")
	return []byte(b.String())
}

func BenchmarkCheck(b *testing.B) {
	doc := benchDoc()
	b.Run("Check", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if err := Check(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What the ingest path used before: encoding/json's validator plus a
	// UTF-8 check, without duplicate detection.
	b.Run("baseline-json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if !utf8.Valid(doc) || !json.Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
}
