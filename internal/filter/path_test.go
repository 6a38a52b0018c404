package filter

import (
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path      string
		want      []segment
		canonical string
	}{
		{"$", nil, "$"},
		{"$.a", []segment{{name: "a"}}, "$.a"},
		{"$.order.total", []segment{{name: "order"}, {name: "total"}}, "$.order.total"},
		{"$._x9.A_b", []segment{{name: "_x9"}, {name: "A_b"}}, "$._x9.A_b"},
		{"$.ünï", []segment{{name: "ünï"}}, "$['ünï']"},
		{"$[0]", []segment{{index: 0, isIndex: true}}, "$[0]"},
		{"$.a[10][-1]", []segment{{name: "a"}, {index: 10, isIndex: true}, {index: -1, isIndex: true}}, "$.a[10][-1]"},
		{"$[999999999]", []segment{{index: 999999999, isIndex: true}}, "$[999999999]"},
		{"$['a']", []segment{{name: "a"}}, "$.a"},
		{`$["a"]`, []segment{{name: "a"}}, "$.a"},
		{"$['']", []segment{{name: ""}}, "$['']"},
		{"$['a b']", []segment{{name: "a b"}}, "$['a b']"},
		{"$['a.b']", []segment{{name: "a.b"}}, "$['a.b']"},
		{"$['0']", []segment{{name: "0"}}, "$['0']"},
		{"$['*']", []segment{{name: "*"}}, "$['*']"},
		{`$['it\'s']`, []segment{{name: "it's"}}, `$['it\'s']`},
		{`$["it's"]`, []segment{{name: "it's"}}, `$['it\'s']`},
		{`$["say \"hi\""]`, []segment{{name: `say "hi"`}}, `$['say "hi"']`},
		{`$['\\\/\b\f\n\r\t']`, []segment{{name: "\\/\b\f\n\r\t"}}, `$['\\/\b\f\n\r\t']`},
		{`$['\u00e9\uD83D\uDE00']`, []segment{{name: "é😀"}}, `$['é😀']`},
		{`$['\u0001']`, []segment{{name: "\x01"}}, `$['\u0001']`},
		{"$[ 'a' ]\t[\n1\r]", []segment{{name: "a"}, {index: 1, isIndex: true}}, "$.a[1]"},
	}
	for _, tt := range tests {
		segs, err := parsePath(tt.path)
		if err != nil {
			t.Errorf("parsePath(%q): offset %d: %s", tt.path, err.off, err.msg)
			continue
		}
		if !slices.Equal(segs, tt.want) {
			t.Errorf("parsePath(%q) = %+v, want %+v", tt.path, segs, tt.want)
		}
		if got := formatPath(segs); got != tt.canonical {
			t.Errorf("formatPath(parsePath(%q)) = %q, want %q", tt.path, got, tt.canonical)
		}
		// The canonical form parses back to the same segments.
		again, err := parsePath(tt.canonical)
		if err != nil || !slices.Equal(again, segs) {
			t.Errorf("parsePath(%q) = %+v, %v; want %+v", tt.canonical, again, err, segs)
		}
	}
}

func TestParsePathErrorOffsets(t *testing.T) {
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
		_, err := parsePath(tt.path)
		if err == nil {
			t.Errorf("parsePath(%q) succeeded", tt.path)
			continue
		}
		if err.off != tt.off {
			t.Errorf("parsePath(%q) error at offset %d (%s), want %d", tt.path, err.off, err.msg, tt.off)
		}
	}
}

func TestPathTrie(t *testing.T) {
	t.Parallel()
	var ps pathSet
	paths := []string{"$.a.b", "$.a", "$.c[0]", "$.a.b", "$.c[-1].d", "$", "$.c[0]"}
	nodes := map[string]*pathNode{}
	for _, p := range paths {
		segs, err := parsePath(p)
		if err != nil {
			t.Fatal(err.msg)
		}
		n := ps.add(segs)
		if prev, ok := nodes[p]; ok && prev != n {
			t.Errorf("%s added twice gives two nodes", p)
		}
		nodes[p] = n
	}
	root := ps.build()
	if root.lo != 0 || root.hi != 5 {
		t.Errorf("root slots [%d, %d), want [0, 5)", root.lo, root.hi)
	}
	seen := map[int]bool{}
	for p, n := range nodes {
		if n.slot < n.lo || n.slot >= n.hi || seen[n.slot] {
			t.Errorf("%s: slot %d outside [%d, %d) or shared", p, n.slot, n.lo, n.hi)
		}
		seen[n.slot] = true
	}
	if a, ab := nodes["$.a"], nodes["$.a.b"]; ab.slot < a.lo || ab.slot >= a.hi {
		t.Errorf("$.a.b's slot %d is outside $.a's range [%d, %d)", ab.slot, a.lo, a.hi)
	}
}

func TestDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"0", "0", 0},
		{"0", "-0", 0},
		{"-0.0e7", "0", 0},
		{"1", "1.0", 0},
		{"1", "1.000000000000000000000000000001", -1},
		{"100", "1e2", 0},
		{"100", "1E+2", 0},
		{"100", "10000e-2", 0},
		{"0.001", "1e-3", 0},
		{"12.5", "1.25e1", 0},
		{"0.10", "0.1", 0},
		{"0.5", "0.05", 1},
		{"10", "9", 1},
		{"9", "10", -1},
		{"-1", "1", -1},
		{"-2", "-1", -1},
		{"-1", "-2", 1},
		{"-0.5", "-0.50001", 1},
		{"0", "1e-300", -1},
		{"0", "-1e-300", 1},
		{"9007199254740993", "9007199254740992", 1},
		{"123456789012345678901234567890", "123456789012345678901234567891", -1},
		{"1e400", "1e399", 1},
		{"1e-400", "1e-399", -1},
		{"1e400", "9e399", 1},
		{"2e00000000000000000000000000001", "20", 0},
		// Beyond the exponent clamp, only the digits tell numbers apart.
		{"1e100000000000000000000", "1e100000000000000000001", 0},
		{"1e100000000000000000000", "2e100000000000000000001", -1},
	}
	for _, tt := range tests {
		a, ok1 := parseNumber(tt.a, nil)
		b, ok2 := parseNumber([]byte(tt.b), nil)
		if !ok1 || !ok2 {
			t.Errorf("parseNumber(%q) or (%q) failed", tt.a, tt.b)
			continue
		}
		if got := a.cmp(&b); got != tt.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.cmp(&a); got != -tt.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
	for _, bad := range []string{"", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "1E-", "0x10", " 1", "1 ", "--1", "1-", "NaN", "Infinity", "1.5e3.2", "1e1e1", "١"} {
		if _, ok := parseNumber(bad, nil); ok {
			t.Errorf("parseNumber(%q) succeeded", bad)
		}
	}
}

// numberGrammar is the RFC 8259 number grammar, for the differential fuzz test.
var numberGrammar = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// refRat converts a JSON number literal to a big.Rat, refusing exponents
// whose big.Rat would be costly to build.
func refRat(lit string) (*big.Rat, bool) {
	if !numberGrammar.MatchString(lit) {
		return nil, false
	}
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e := strings.TrimLeft(lit[i+1:], "+-")
		if e = strings.TrimLeft(e, "0"); len(e) > 3 {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(lit)
	return r, ok
}

// FuzzDecimal checks parseNumber and cmp against the regexp grammar and
// big.Rat.
func FuzzDecimal(f *testing.F) {
	for _, s := range [][2]string{{"0", "-0"}, {"1.5e3", "1500"}, {"9007199254740993", "9007199254740992"}, {"-0.001", "-1e-3"}, {"01", "1."}, {"123.4500e-2", "1.2345"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, okA := parseNumber(a, nil)
		db, okB := parseNumber(b, nil)
		if okA != numberGrammar.MatchString(a) || okB != numberGrammar.MatchString(b) {
			t.Fatalf("parseNumber disagrees with the grammar on %q (%v) or %q (%v)", a, okA, b, okB)
		}
		ra, ok1 := refRat(a)
		rb, ok2 := refRat(b)
		if !ok1 || !ok2 {
			return
		}
		if got, want := da.cmp(&db), ra.Cmp(rb); got != want {
			t.Fatalf("cmp(%s, %s) = %d, big.Rat says %d", a, b, got, want)
		}
	})
}
