package jsonpath

import (
	"math"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// Set is the trie of the paths a caller reads from one document: Lookup
// walks the document once, descending only into members and elements
// some path continues through, and records the span of each path's value
// in its slot. Add every path, then Build; a built Set is immutable and
// safe for concurrent use.
type Set struct {
	root *node
	// ends are the nodes where a path ends, in the order they were added.
	ends  []*node
	built bool
}

// node is a node of the trie.
type node struct {
	// slot is the index of the value's span when a path ends here, else -1.
	slot int
	// lo and hi delimit the slots of this node's subtree, which are numbered
	// consecutively so that revisiting the node (a repeated member name) can
	// reset exactly its paths.
	lo, hi  int
	members []memberEdge
	indexes []indexEdge // non-negative indexes
	fromEnd []indexEdge // negative indexes, resolved once the length is known
}

type memberEdge struct {
	name string
	node *node
}

type indexEdge struct {
	index int
	node  *node
}

// Ref refers to a path added to a Set. Its slot is known once the Set is
// built.
type Ref struct{ n *node }

// Slot is the index of the path's span in what Lookup fills.
func (r Ref) Slot() int { return r.n.slot }

// Add adds p and returns its Ref; adding a path again gives the same slot.
func (s *Set) Add(p jsoncheck.Path) Ref {
	if s.built {
		panic("jsonpath: Add after Build")
	}
	if s.root == nil {
		s.root = &node{slot: -1}
	}
	n := s.root
	for _, st := range p {
		n = n.child(st)
	}
	if n.slot == -1 {
		n.slot = -2 // a path ends here; Build assigns the number
		s.ends = append(s.ends, n)
	}
	return Ref{n}
}

func (n *node) child(s jsoncheck.Step) *node {
	if !s.IsIndex {
		for _, e := range n.members {
			if e.name == s.Name {
				return e.node
			}
		}
		c := &node{slot: -1}
		n.members = append(n.members, memberEdge{s.Name, c})
		return c
	}
	edges := &n.indexes
	if s.Index < 0 {
		edges = &n.fromEnd
	}
	for _, e := range *edges {
		if e.index == s.Index {
			return e.node
		}
	}
	c := &node{slot: -1}
	*edges = append(*edges, indexEdge{s.Index, c})
	return c
}

// Build numbers the slots depth-first, so that each subtree's slots are
// consecutive, and returns s, or nil when no path was added.
func (s *Set) Build() *Set {
	s.built = true
	if s.root == nil {
		return nil
	}
	next := 0
	var number func(n *node)
	number = func(n *node) {
		n.lo = next
		if n.slot != -1 {
			n.slot = next
			next++
		}
		for _, e := range n.members {
			number(e.node)
		}
		for _, e := range n.indexes {
			number(e.node)
		}
		for _, e := range n.fromEnd {
			number(e.node)
		}
		n.hi = next
	}
	number(s.root)
	return s
}

// Slots is the number of distinct paths in the built Set.
func (s *Set) Slots() int { return s.root.hi }

// Span locates a value in the document Lookup read: doc[Start:End]. The
// zero Span means missing, as no value ends at offset 0. Offsets are int32
// to halve what callers keep per path; documents are far smaller than 2
// GiB.
type Span struct{ Start, End int32 }

// In returns the bytes of the value in doc, or nil when it is missing.
func (sp Span) In(doc []byte) []byte {
	if sp.End == 0 {
		return nil
	}
	return doc[sp.Start:sp.End]
}

// Lookup walks doc once and sets spans[slot] to the span of each path's
// value (the zero Span when it is missing). spans must have room for
// Slots() spans. Lookup does not allocate, except to decode a member name
// with escapes longer than 128 bytes.
func (s *Set) Lookup(doc []byte, spans []Span) {
	spans = spans[:s.root.hi]
	clear(spans)
	if len(doc) == 0 || len(doc) > math.MaxInt32 {
		return
	}
	i := jsoncheck.SkipSpace(doc, 0)
	if i == len(doc) {
		return
	}
	w := walker{spans: spans}
	if end := w.visit(s.root, doc, i); end < 0 || jsoncheck.SkipSpace(doc, end) != len(doc) {
		clear(spans)
	}
}

// walker is the state of one Lookup.
type walker struct {
	spans []Span
	// scratch holds a decoded member name with escapes while it is
	// compared; longer names spill to the heap.
	scratch [128]byte
}

// visit walks the value starting at b[i] (i < len(b)) for trie node n and
// returns the offset just past it, or -1 if the document is malformed.
func (w *walker) visit(n *node, b []byte, i int) int {
	// A repeated member name visits n again; the last occurrence wins, so
	// forget what earlier ones recorded below n.
	clear(w.spans[n.lo:n.hi])
	var end int
	switch {
	case b[i] == '{' && len(n.members) > 0:
		end = w.object(n, b, i)
	case b[i] == '[' && len(n.indexes)+len(n.fromEnd) > 0:
		end = w.array(n, b, i)
	default:
		end = jsoncheck.ValueEnd(b, i)
	}
	if end >= 0 && n.slot >= 0 {
		w.spans[n.slot] = Span{int32(i), int32(end)}
	}
	return end
}

// object walks the object at b[i] == '{', visiting members n has edges for.
// It reads the punctuation around names and values itself, where
// jsoncheck.MemberAt and After would cost two calls per member: this loop
// runs for every member of every document a filter reads, and the calls
// made Match about 5% slower.
func (w *walker) object(n *node, b []byte, i int) int {
	if i = jsoncheck.SkipSpace(b, i+1); i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		nameEnd, plain := jsoncheck.NameEnd(b, i)
		if nameEnd < 0 {
			return -1
		}
		v := jsoncheck.SkipSpace(b, nameEnd)
		if v >= len(b) || b[v] != ':' {
			return -1
		}
		if v = jsoncheck.SkipSpace(b, v+1); v >= len(b) {
			return -1
		}
		var end int
		if child := w.member(n, b[i:nameEnd], plain); child != nil {
			end = w.visit(child, b, v)
		} else {
			end = jsoncheck.ValueEnd(b, v)
		}
		if end < 0 {
			return -1
		}
		if i = jsoncheck.SkipSpace(b, end); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = jsoncheck.SkipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// member returns n's child for the member name raw (quotes included), or
// nil. A plain name's bytes are its text, the usual case; others are
// decoded as encoding/json decodes them when they need it.
func (w *walker) member(n *node, raw []byte, plain bool) *node {
	name := raw[1 : len(raw)-1]
	if !plain {
		var err error
		if name, err = jsoncheck.Text(w.scratch[:0], raw); err != nil {
			return nil
		}
	}
	for _, e := range n.members {
		if string(name) == e.name {
			return e.node
		}
	}
	return nil
}

// array walks the array at b[start] == '[', visiting the elements n has
// edges for. Negative indexes need the length, so their elements are found
// by a second, skipping pass once it is known.
func (w *walker) array(n *node, b []byte, start int) int {
	i := jsoncheck.SkipSpace(b, start+1)
	count, end := 0, -1
	if i < len(b) && b[i] == ']' {
		end = i + 1
	}
	for more := end < 0; more; {
		if i >= len(b) {
			return -1
		}
		if child := indexChild(n.indexes, count); child != nil {
			i = w.visit(child, b, i)
		} else {
			i = jsoncheck.ValueEnd(b, i)
		}
		if i < 0 {
			return -1
		}
		count++
		if i, more = jsoncheck.After(b, i, ']'); i < 0 {
			return -1
		}
		if !more {
			end = i
		}
	}
	for _, e := range n.fromEnd {
		want := count + e.index
		if want < 0 {
			continue
		}
		// The first pass checked the separators, so this one only skips;
		// the bounds checks are for safety, not expected to fail.
		j := jsoncheck.SkipSpace(b, start+1)
		for k := 0; k < want && j < len(b); k++ {
			if j = jsoncheck.ValueEnd(b, j); j < 0 {
				return -1
			}
			j = jsoncheck.SkipSpace(b, jsoncheck.SkipSpace(b, j)+1) // past ','
		}
		if j >= len(b) {
			return -1
		}
		w.visit(e.node, b, j)
	}
	return end
}

func indexChild(edges []indexEdge, i int) *node {
	for _, e := range edges {
		if e.index == i {
			return e.node
		}
	}
	return nil
}
