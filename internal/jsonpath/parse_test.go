package jsonpath

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

func name(s string) jsoncheck.Step { return jsoncheck.Step{Name: s} }
func index(i int) jsoncheck.Step   { return jsoncheck.Step{Index: i, IsIndex: true} }

func TestParseSingular(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path      string
		want      jsoncheck.Path
		canonical string
	}{
		{"$", nil, "$"},
		{"$.a", jsoncheck.Path{name("a")}, "$.a"},
		{"$.order.total", jsoncheck.Path{name("order"), name("total")}, "$.order.total"},
		{"$._x9.A_b", jsoncheck.Path{name("_x9"), name("A_b")}, "$._x9.A_b"},
		{"$.ünï", jsoncheck.Path{name("ünï")}, "$['ünï']"},
		{"$[0]", jsoncheck.Path{index(0)}, "$[0]"},
		{"$.a[10][-1]", jsoncheck.Path{name("a"), index(10), index(-1)}, "$.a[10][-1]"},
		{"$[999999999]", jsoncheck.Path{index(999999999)}, "$[999999999]"},
		{"$['a']", jsoncheck.Path{name("a")}, "$.a"},
		{`$["a"]`, jsoncheck.Path{name("a")}, "$.a"},
		{"$['']", jsoncheck.Path{name("")}, "$['']"},
		{"$['a b']", jsoncheck.Path{name("a b")}, "$['a b']"},
		{"$['a.b']", jsoncheck.Path{name("a.b")}, "$['a.b']"},
		{"$['0']", jsoncheck.Path{name("0")}, "$['0']"},
		{"$['*']", jsoncheck.Path{name("*")}, "$['*']"},
		{`$['it\'s']`, jsoncheck.Path{name("it's")}, `$['it\'s']`},
		{`$["it's"]`, jsoncheck.Path{name("it's")}, `$['it\'s']`},
		{`$["say \"hi\""]`, jsoncheck.Path{name(`say "hi"`)}, `$['say "hi"']`},
		{`$['\\\/\b\f\n\r\t']`, jsoncheck.Path{name("\\/\b\f\n\r\t")}, `$['\\/\b\f\n\r\t']`},
		{`$['\u00e9\uD83D\uDE00']`, jsoncheck.Path{name("é😀")}, `$['é😀']`},
		{`$['\u0001']`, jsoncheck.Path{name("\x01")}, `$['\u0001']`},
		{"$[ 'a' ]\t[\n1\r]", jsoncheck.Path{name("a"), index(1)}, "$.a[1]"},
	}
	for _, tt := range tests {
		segs, err := Parse(tt.path, Singular)
		if err != nil {
			t.Errorf("Parse(%q): offset %d: %s", tt.path, err.Offset, err.Message)
			continue
		}
		if !slices.Equal(segs, tt.want) {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.path, segs, tt.want)
		}
		if got := segs.Canonical(); got != tt.canonical {
			t.Errorf("Parse(%q).Canonical() = %q, want %q", tt.path, got, tt.canonical)
		}
		// The canonical form parses back to the same segments.
		again, err := Parse(tt.canonical, Singular)
		if err != nil || !slices.Equal(again, segs) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.canonical, again, err, segs)
		}
	}
}

func TestParseSingularErrorOffsets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		off  int
	}{
		{"", 0},
		{"a", 0},
		{"$.", 2},
		{"$.a..b", 3},
		{"$.a.*", 4},
		{"$.a[*]", 4},
		{"$.a[1:2]", 5},
		{"$.a[0,1]", 5},
		{"$.a-b", 3},
		{"$.a[01]", 4},
		{"$.a[ 'x'", 3},
		{"$['x", 4},
		{"$.a ", 3},
		{`$['\q']`, 3},
		{"$x", 1},
		{"$.é-", 4},
	}
	for _, tt := range tests {
		_, err := Parse(tt.path, Singular)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", tt.path)
			continue
		}
		if err.Offset != tt.off {
			t.Errorf("Parse(%q) error at offset %d (%s), want %d", tt.path, err.Offset, err.Message, tt.off)
		}
	}
}

// parseCases are paths with what each rule set makes of them: "= " and
// the steps (names quoted, indexes in brackets), or the error: "@offset
// message" under Singular, "! message" under Members (thin field errors
// name the path instead of an offset). They hold the cases of the filter's
// and the thin fields' own grammars from before the two became one, and
// the places where those differ; every result is what its caller's
// grammar gave then.
var parseCases = []struct{ path, singular, members string }{
	{"",
		`@0 a path must start with "$"`,
		"! must start with $ (the root of data), e.g. $.team"},
	{"$",
		"= ",
		"! must name at least one member of data, e.g. $.team"},
	{"$$",
		`@1 unexpected '$'; want ".name", "['name']" or "[index]"`,
		`! unexpected "$" in "$$"`},
	{"a",
		`@0 a path must start with "$", e.g. "$.a"`,
		"! must start with $ (the root of data), e.g. $.team"},
	{".a",
		`@0 a path must start with "$", e.g. "$.a"`,
		"! must start with $ (the root of data), e.g. $.team"},
	{"[0]",
		`@0 a path must start with "$", e.g. "$[0]"`,
		"! must start with $ (the root of data), e.g. $.team"},
	{"team",
		`@0 a path must start with "$", e.g. "$.team"`,
		"! must start with $ (the root of data), e.g. $.team"},
	{"$.",
		`@2 missing member name after "."`,
		`! expected a member name after '.' in "$." (letters, digits, _ and -; use ['...'] for others)`},
	{"$..",
		"@1 recursive descent (..) is not supported: a path must name exactly one value",
		`! expected a member name after '.' in "$.." (letters, digits, _ and -; use ['...'] for others)`},
	{"$.a",
		`= "a"`,
		`= "a"`},
	{"$.a.b",
		`= "a" "b"`,
		`= "a" "b"`},
	{"$.team",
		`= "team"`,
		`= "team"`},
	{"$.payment.id",
		`= "payment" "id"`,
		`= "payment" "id"`},
	{"$.a-b",
		`@3 '-' is not allowed in a member name after "."; quote the name: ['a-b']`,
		`= "a-b"`},
	{"$.a-b_c",
		`@3 '-' is not allowed in a member name after "."; quote the name: ['a-b_c']`,
		`= "a-b_c"`},
	{"$.-a",
		`@2 a member name after "." cannot start with '-'; quote other names: ['my-name']`,
		`! expected a member name after '.' in "$.-a" (letters, digits, _ and -; use ['...'] for others)`},
	{"$.0",
		`@2 a member name after "." cannot start with '0'; write [0] for an array index or ['0'] for a member named by digits`,
		`= "0"`},
	{"$.0a",
		`@2 a member name after "." cannot start with '0'; write [0] for an array index or ['0'] for a member named by digits`,
		`= "0a"`},
	{"$.a0",
		`= "a0"`,
		`= "a0"`},
	{"$._",
		`= "_"`,
		`= "_"`},
	{"$.ünï",
		`= "ünï"`,
		`! expected a member name after '.' in "$.ünï" (letters, digits, _ and -; use ['...'] for others)`},
	{"$.é-",
		`@4 '-' is not allowed in a member name after "."; quote the name: ['é-']`,
		`! expected a member name after '.' in "$.é-" (letters, digits, _ and -; use ['...'] for others)`},
	{"$.aé",
		`= "aé"`,
		`! unexpected "\xc3" in "$.aé"`},
	{"$.a$b",
		`@3 '$' is not allowed in a member name after "."; quote the name: ['a$b']`,
		`! unexpected "$" in "$.a$b"`},
	{"$.a b",
		`@3 ' ' is not allowed in a member name after "."; quote the name: ['a b']`,
		`! unexpected " " in "$.a b"`},
	{"$.a ",
		`@3 ' ' is not allowed in a member name after "."; quote the name: ['a ']`,
		`! unexpected " " in "$.a "`},
	{"$ .a",
		`= "a"`,
		`! unexpected " " in "$ .a"`},
	{"$. a",
		`@2 a member name after "." cannot start with ' '; quote other names: ['my-name']`,
		`! expected a member name after '.' in "$. a" (letters, digits, _ and -; use ['...'] for others)`},
	{"$.a .b",
		`@3 ' ' is not allowed in a member name after "."; quote the name: ['a ']`,
		`! unexpected " " in "$.a .b"`},
	{"$.a\t",
		`@3 '\t' is not allowed in a member name after "."; quote the name: ['a\t']`,
		`! unexpected "\t" in "$.a\t"`},
	{"$.*",
		"@2 wildcards (*) are not supported: a path must name exactly one value",
		`! expected a member name after '.' in "$.*" (letters, digits, _ and -; use ['...'] for others)`},
	{"$.a.*",
		"@4 wildcards (*) are not supported: a path must name exactly one value",
		`! expected a member name after '.' in "$.a.*" (letters, digits, _ and -; use ['...'] for others)`},
	{"$*",
		"@1 wildcards (*) are not supported: a path must name exactly one value",
		`! unexpected "*" in "$*"`},
	{"$.a..b",
		"@3 recursive descent (..) is not supported: a path must name exactly one value",
		`! expected a member name after '.' in "$.a..b" (letters, digits, _ and -; use ['...'] for others)`},
	{"$[0]",
		"= [0]",
		`! "$[0]": array indexes and wildcards are not allowed; name object members`},
	{"$[-1]",
		"= [-1]",
		`! "$[-1]": array indexes and wildcards are not allowed; name object members`},
	{"$[-0]",
		"@2 index -0 has a leading zero",
		`! "$[-0]": array indexes and wildcards are not allowed; name object members`},
	{"$[01]",
		"@2 index 01 has a leading zero",
		`! "$[01]": array indexes and wildcards are not allowed; name object members`},
	{"$.a[10][-1]",
		`= "a" [10] [-1]`,
		`! "$.a[10][-1]": array indexes and wildcards are not allowed; name object members`},
	{"$[999999999]",
		"= [999999999]",
		`! "$[999999999]": array indexes and wildcards are not allowed; name object members`},
	{"$[1000000000]",
		"@2 index 1000000000 is out of range (at most 9 digits)",
		`! "$[1000000000]": array indexes and wildcards are not allowed; name object members`},
	{"$[",
		`@1 unclosed "["`,
		`! "$[": array indexes and wildcards are not allowed; name object members`},
	{"$[ ",
		`@1 unclosed "["`,
		`! "$[ ": array indexes and wildcards are not allowed; name object members`},
	{"$['",
		"@3 unterminated quoted name",
		`! unterminated ['...'] in "$['"`},
	{"$['x",
		"@4 unterminated quoted name",
		`! unterminated ['...'] in "$['x"`},
	{"$['x'",
		`@1 unclosed "["`,
		`! unterminated ['...'] in "$['x'"`},
	{"$['x']",
		`= "x"`,
		`= "x"`},
	{"$['x'] ",
		"@6 blank space at the end of the path",
		`! unexpected " " in "$['x'] "`},
	{"$['x'] .y",
		`= "x" "y"`,
		`! unexpected " " in "$['x'] .y"`},
	{"$['x']['y']",
		`= "x" "y"`,
		`= "x" "y"`},
	{"$['']",
		`= ""`,
		`! bad member name in ['...'] of "$['']"`},
	{"$['a b']",
		`= "a b"`,
		`= "a b"`},
	{"$['a.b']",
		`= "a.b"`,
		`= "a.b"`},
	{"$['0']",
		`= "0"`,
		`= "0"`},
	{"$['*']",
		`= "*"`,
		`= "*"`},
	{`$['it\'s']`,
		`= "it's"`,
		`! bad member name in ['...'] of "$['it\\'s']"`},
	{`$["it's"]`,
		`= "it's"`,
		`! "$[\"it's\"]": array indexes and wildcards are not allowed; name object members`},
	{`$["a"]`,
		`= "a"`,
		`! "$[\"a\"]": array indexes and wildcards are not allowed; name object members`},
	{`$['a"b']`,
		`= "a\"b"`,
		`= "a\"b"`},
	{`$['a\']`,
		"@7 unterminated quoted name",
		`! bad member name in ['...'] of "$['a\\']"`},
	{`$['a\'b']`,
		`= "a'b"`,
		`! bad member name in ['...'] of "$['a\\'b']"`},
	{"$['a'b']",
		`@5 unexpected 'b'; want "]"`,
		`! bad member name in ['...'] of "$['a'b']"`},
	{"$['a'b",
		`@5 unexpected 'b'; want "]"`,
		`! unterminated ['...'] in "$['a'b"`},
	{"$['a']b",
		`@6 unexpected 'b'; want ".name", "['name']" or "[index]"`,
		`! unexpected "b" in "$['a']b"`},
	{"$['a'].b",
		`= "a" "b"`,
		`= "a" "b"`},
	{"$['a'] ['b']",
		`= "a" "b"`,
		`! unexpected " " in "$['a'] ['b']"`},
	{"$[ 'a' ]",
		`= "a"`,
		`! "$[ 'a' ]": array indexes and wildcards are not allowed; name object members`},
	{"$[ 'a' ]\t[\n1\r]",
		`= "a" [1]`,
		`! "$[ 'a' ]\t[\n1\r]": array indexes and wildcards are not allowed; name object members`},
	{`$['\u0001']`,
		`= "\x01"`,
		`! bad member name in ['...'] of "$['\\u0001']"`},
	{"$['\x01']",
		"@3 control character U+0001 in a quoted name must be escaped",
		`= "\x01"`},
	{"$['\xff']",
		`= "\xff"`,
		`= "\xff"`},
	{"$.\xff",
		`@2 a member name after "." cannot start with invalid UTF-8; quote other names: ['my-name']`,
		`! expected a member name after '.' in "$.\xff" (letters, digits, _ and -; use ['...'] for others)`},
	{`$['\q']`,
		`@3 invalid escape "\\q"`,
		`! bad member name in ['...'] of "$['\\q']"`},
	{`$['\u00e9\uD83D\uDE00']`,
		`= "é😀"`,
		`! bad member name in ['...'] of "$['\\u00e9\\uD83D\\uDE00']"`},
	{`$['\uD83D']`,
		`@3 invalid \u escape: want four hex digits, surrogates in pairs`,
		`! bad member name in ['...'] of "$['\\uD83D']"`},
	{`$['\uDE00\uD83D']`,
		`@3 invalid \u escape: want four hex digits, surrogates in pairs`,
		`! bad member name in ['...'] of "$['\\uDE00\\uD83D']"`},
	{`$['\u12']`,
		`@3 invalid \u escape: want four hex digits, surrogates in pairs`,
		`! bad member name in ['...'] of "$['\\u12']"`},
	{`$['\`,
		"@3 unterminated escape sequence",
		`! unterminated ['...'] in "$['\\"`},
	{"$[*]",
		"@2 wildcards ([*]) are not supported: a path must name exactly one value",
		`! "$[*]": array indexes and wildcards are not allowed; name object members`},
	{"$[?@.a]",
		"@2 filter expressions ([?...]) are not supported: use a condition on a path instead",
		`! "$[?@.a]": array indexes and wildcards are not allowed; name object members`},
	{"$[:1]",
		"@2 array slices are not supported: a path must name exactly one value",
		`! "$[:1]": array indexes and wildcards are not allowed; name object members`},
	{"$[1:2]",
		"@3 array slices are not supported: a path must name exactly one value",
		`! "$[1:2]": array indexes and wildcards are not allowed; name object members`},
	{"$[0,1]",
		"@3 unions ([a,b]) are not supported: a path must name exactly one value",
		`! "$[0,1]": array indexes and wildcards are not allowed; name object members`},
	{"$['a','b']",
		"@5 unions ([a,b]) are not supported: a path must name exactly one value",
		`! bad member name in ['...'] of "$['a','b']"`},
	{"$[a]",
		`@2 unexpected 'a' after "["; want a quoted name or an index`,
		`! "$[a]": array indexes and wildcards are not allowed; name object members`},
	{"$[0",
		`@1 unclosed "["`,
		`! "$[0": array indexes and wildcards are not allowed; name object members`},
	{"$[0 ]",
		"= [0]",
		`! "$[0 ]": array indexes and wildcards are not allowed; name object members`},
	{"$['flow name'].x",
		`= "flow name" "x"`,
		`= "flow name" "x"`},
	{"$.items[0]",
		`= "items" [0]`,
		`! "$.items[0]": array indexes and wildcards are not allowed; name object members`},
	{"$.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p",
		`= "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p"`,
		`= "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p"`},
	{"$.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q",
		`= "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q"`,
		"! must be at most 16 members deep"},
	{"$" + strings.Repeat(".a", 32),
		"= " + strings.TrimSpace(strings.Repeat(`"a" `, 32)),
		"! must be at most 16 members deep"},
	{"$" + strings.Repeat(".a", 33),
		"@65 a path may have at most 32 segments",
		"! must be at most 16 members deep"},
	{"$" + strings.Repeat("['a']", 17) + "[",
		`@86 unclosed "["`,
		"! " + strconv.Quote("$"+strings.Repeat("['a']", 17)+"[") + ": array indexes and wildcards are not allowed; name object members"},
	{"$['" + strings.Repeat("x", 80) + "\\q']",
		`@83 invalid escape "\\q"`,
		"! bad member name in ['...'] of " + strconv.Quote("$['"+strings.Repeat("x", 80)+"\\q']")},
}

func TestParseCases(t *testing.T) {
	t.Parallel()
	for _, tc := range parseCases {
		if got := describe(Parse(tc.path, Singular)); got != tc.singular {
			t.Errorf("Parse(%q, Singular) gives %s, want %s", tc.path, got, tc.singular)
		}
		var got string
		if p, err := Parse(tc.path, Members); err != nil {
			got = "! " + err.Message
		} else {
			got = describe(p, nil)
		}
		if got != tc.members {
			t.Errorf("Parse(%q, Members) gives %s, want %s", tc.path, got, tc.members)
		}
	}
}

// describe writes what Parse gave as parseCases do for Singular.
func describe(p jsoncheck.Path, err *Error) string {
	if err != nil {
		return fmt.Sprintf("@%d %s", err.Offset, err.Message)
	}
	parts := make([]string, len(p))
	for i, s := range p {
		if s.IsIndex {
			parts[i] = fmt.Sprintf("[%d]", s.Index)
		} else {
			parts[i] = strconv.Quote(s.Name)
		}
	}
	return "= " + strings.Join(parts, " ")
}

// FuzzParse holds Parse to what its callers rely on, for any input: no
// panic, an error offset inside the path, a Singular path that reads back
// from its canonical form (which writes invalid UTF-8 as U+FFFD), and a
// Members path of 1 to 16 names.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		s, err := Parse(p, Singular)
		switch {
		case err != nil && (err.Offset < 0 || err.Offset > len(p)):
			t.Fatalf("Parse(%q, Singular): error offset %d outside the path", p, err.Offset)
		case err == nil && len(s) > MaxSegments:
			t.Fatalf("Parse(%q, Singular) gave %d segments", p, len(s))
		case err == nil && utf8.ValidString(p):
			if again, err := Parse(s.Canonical(), Singular); err != nil || !slices.Equal(again, s) {
				t.Fatalf("Parse(%q, Singular) = %+v, whose canonical form %q reads as %+v, %v", p, s, s.Canonical(), again, err)
			}
		}
		m, err := Parse(p, Members)
		if err != nil {
			return
		}
		if len(m) == 0 || len(m) > MaxMembers {
			t.Fatalf("Parse(%q, Members) gave %d members", p, len(m))
		}
		for _, st := range m {
			if st.IsIndex || st.Name == "" {
				t.Fatalf("Parse(%q, Members) gave step %+v", p, st)
			}
		}
	})
}

// TestRulesDiffer documents where the two rule sets part.
func TestRulesDiffer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path              string
		singular, members bool // accepted
	}{
		{"$.a-b", false, true},
		{"$.0a", false, true},
		{"$.ünï", true, false},
		{"$.tags[0]", true, false},
		{`$["a"]`, true, false},
		{`$['it\'s']`, true, false},
		{"$['\x01']", false, true},
		{"$", true, false},
		{"$['a'] ['b']", true, false},
		{"$" + strings.Repeat(".a", 17), true, false},
		{"$.a.b", true, true},
		{"$['flow name'].x", true, true},
	} {
		_, errS := Parse(tc.path, Singular)
		_, errM := Parse(tc.path, Members)
		if (errS == nil) != tc.singular || (errM == nil) != tc.members {
			t.Errorf("%q: Singular accepts %t, Members %t; want %t, %t", tc.path, errS == nil, errM == nil, tc.singular, tc.members)
		}
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 40) // 80 bytes
	if got, want := Quote(long), strconv.Quote(strings.Repeat("é", 32))+"..."; got != want {
		t.Errorf("Quote(80 bytes) = %s, want %s", got, want)
	}
	if got := Quote("a" + long); got != strconv.Quote("a"+long[:62])+"..." {
		t.Errorf("Quote cut inside a rune: %s", got)
	}
	if got := Quote("a\"b"); got != `"a\"b"` {
		t.Errorf("Quote = %s", got)
	}
}
