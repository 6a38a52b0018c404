package jsonpath

import (
	"testing"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

func TestPathTrie(t *testing.T) {
	t.Parallel()
	var ps Set
	paths := []string{"$.a.b", "$.a", "$.c[0]", "$.a.b", "$.c[-1].d", "$", "$.c[0]"}
	nodes := map[string]*node{}
	for _, p := range paths {
		segs, err := Parse(p, Singular)
		if err != nil {
			t.Fatal(err)
		}
		n := ps.Add(segs).n
		if prev, ok := nodes[p]; ok && prev != n {
			t.Errorf("%s added twice gives two nodes", p)
		}
		nodes[p] = n
	}
	root := ps.Build().root
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

// TestLookup finds values as Lookup's callers rely on: the last of repeated
// names, negative indexes, escaped names, and nothing in malformed text.
func TestLookup(t *testing.T) {
	t.Parallel()
	doc := []byte(` {"a": {"b": 1, "b": [true, {"c": "x"}]}, "t\u00e9": 2, "l": [1, 2, 3], "\u006d": {"z": null}, "m": 5} `)
	tests := []struct{ path, want string }{
		{"$", string(doc[1 : len(doc)-1])},
		{"$.a.b", `[true, {"c": "x"}]`},
		{"$.a.b[1].c", `"x"`},
		{"$.a.b[-1].c", `"x"`},
		{"$.a.b[-3]", ""},
		{"$.a.b[2]", ""},
		{"$['té']", "2"},
		{"$.l[-1]", "3"},
		{"$.m", "5"}, // "\u006d" is an "m" too, and the first
		{"$.m.z", ""},
		{"$.missing", ""},
		{"$.l.x", ""},
	}
	for _, tt := range tests {
		var s Set
		p, err := Parse(tt.path, Singular)
		if err != nil {
			t.Fatal(err)
		}
		ref := s.Add(p)
		s.Build()
		spans := make([]Span, s.Slots())
		s.Lookup(doc, spans)
		if got := string(spans[ref.Slot()].In(doc)); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.path, got, tt.want)
		}
	}
	var s Set
	ref := s.Add(jsoncheck.Path{{Name: "a"}})
	s.Build()
	spans := make([]Span, s.Slots())
	for _, bad := range []string{`{"a": 1`, `{"a": 1} x`, `{"a" 1}`, ``, `  `} {
		s.Lookup([]byte(bad), spans)
		if got := spans[ref.Slot()].In([]byte(bad)); got != nil {
			t.Errorf("Lookup(%q) found %q", bad, got)
		}
	}
}
