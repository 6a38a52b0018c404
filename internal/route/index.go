package route

import (
	"fmt"
	"strings"
)

// IndexBuilder collects (pattern, value) subscriptions for an Index. It is not
// safe for concurrent use; build once, then share the Index.
type IndexBuilder[V comparable] struct {
	root *bnode[V]
	// patterns counts, per value, the distinct patterns it was added under.
	// Values under a single pattern can never be matched twice for one
	// subject, so only the others need duplicate checks at query time.
	patterns map[V]int
	n        int
}

// bnode is a trie node while building; values are sets to drop exact
// duplicates (same pattern, same value) at Add time.
type bnode[V comparable] struct {
	children map[string]*bnode[V]
	star     *bnode[V]
	here     map[V]struct{} // patterns ending at this node
	rest     map[V]struct{} // patterns ending in ">" right below this node
	order    []V            // insertion order of here, for deterministic output
	restOrd  []V            // insertion order of rest
}

// NewIndex returns an empty builder. Add subscriptions, then call Build.
func NewIndex[V comparable]() *IndexBuilder[V] {
	return &IndexBuilder[V]{root: &bnode[V]{}, patterns: map[V]int{}}
}

// Add subscribes v to pattern (a concrete type name or a pattern). Adding the
// same (pattern, v) pair again is a no-op. The error is a *SyntaxError
// wrapping ErrInvalidPattern.
func (b *IndexBuilder[V]) Add(pattern string, v V) error {
	if err := ValidatePattern(pattern); err != nil {
		return fmt.Errorf("route: add subscription: %w", err)
	}
	n := b.root
	for {
		tok, rest, more := strings.Cut(pattern, ".")
		if tok == ">" {
			// ValidatePattern guarantees ">" is last.
			if n.rest == nil {
				n.rest = map[V]struct{}{}
			}
			if _, dup := n.rest[v]; !dup {
				n.rest[v] = struct{}{}
				n.restOrd = append(n.restOrd, v)
				b.patterns[v]++
				b.n++
			}
			return nil
		}
		var next *bnode[V]
		if tok == "*" {
			if n.star == nil {
				n.star = &bnode[V]{}
			}
			next = n.star
		} else {
			if n.children == nil {
				n.children = map[string]*bnode[V]{}
			}
			next = n.children[tok]
			if next == nil {
				next = &bnode[V]{}
				n.children[tok] = next
			}
		}
		n = next
		if !more {
			break
		}
		pattern = rest
	}
	if n.here == nil {
		n.here = map[V]struct{}{}
	}
	if _, dup := n.here[v]; !dup {
		n.here[v] = struct{}{}
		n.order = append(n.order, v)
		b.patterns[v]++
		b.n++
	}
	return nil
}

// Build returns an immutable Index of the subscriptions added so far. The
// builder stays usable; later Adds do not affect Indexes already built.
func (b *IndexBuilder[V]) Build() *Index[V] {
	return &Index[V]{root: b.freeze(b.root), n: b.n}
}

func (b *IndexBuilder[V]) freeze(n *bnode[V]) *inode[V] {
	out := &inode[V]{
		here: b.split(n.order),
		rest: b.split(n.restOrd),
	}
	if len(n.children) > 0 {
		out.children = make(map[string]*inode[V], len(n.children))
		for tok, c := range n.children {
			out.children[tok] = b.freeze(c)
		}
	}
	if n.star != nil {
		out.star = b.freeze(n.star)
	}
	return out
}

func (b *IndexBuilder[V]) split(vs []V) valueSet[V] {
	var s valueSet[V]
	for _, v := range vs {
		if b.patterns[v] > 1 {
			s.multi = append(s.multi, v)
		} else {
			s.single = append(s.single, v)
		}
	}
	return s
}

// Index matches type names against many subscriptions. It is immutable and
// safe for concurrent use.
//
// It is a token trie: each node has exact-token children, a "*" child, the
// values of patterns ending there, and the values of patterns ending in ">"
// below it. A query walks at most the branches that can match, so its cost
// depends on the subject's length and the number of matching wildcard
// branches, not on the number of subscriptions.
type Index[V comparable] struct {
	root *inode[V]
	n    int
}

type inode[V comparable] struct {
	children map[string]*inode[V]
	star     *inode[V]
	here     valueSet[V]
	rest     valueSet[V]
}

// valueSet separates values subscribed under only this pattern (appended
// without checks) from values also subscribed under other patterns (checked
// against what the query already collected).
type valueSet[V comparable] struct {
	single []V
	multi  []V
}

// Len returns the number of distinct (pattern, value) subscriptions.
func (ix *Index[V]) Len() int {
	if ix == nil {
		return 0
	}
	return ix.n
}

// Match appends to dst the values of all subscriptions whose pattern matches
// subject, each value once, and returns the extended slice. Pass a reused
// dst[:0] to avoid allocating on the hot path. Order is deterministic for a
// given Index but otherwise unspecified. subject should be a valid type name;
// an empty subject matches nothing.
func (ix *Index[V]) Match(subject string, dst []V) []V {
	if ix == nil || ix.root == nil || subject == "" {
		return dst
	}
	return ix.root.match(subject, dst, len(dst))
}

// match walks the trie for the remaining subject tokens. start is where this
// query's results begin in dst, so caller-provided entries are left alone.
func (n *inode[V]) match(subject string, dst []V, start int) []V {
	// ">" below n matches the current token and whatever follows.
	dst = n.rest.appendTo(dst, start)
	tok, rest, more := strings.Cut(subject, ".")
	if c := n.children[tok]; c != nil {
		dst = c.step(rest, more, dst, start)
	}
	if n.star != nil {
		dst = n.star.step(rest, more, dst, start)
	}
	return dst
}

// step continues at n after one token was consumed.
func (n *inode[V]) step(rest string, more bool, dst []V, start int) []V {
	if more {
		return n.match(rest, dst, start)
	}
	return n.here.appendTo(dst, start)
}

func (s valueSet[V]) appendTo(dst []V, start int) []V {
	dst = append(dst, s.single...)
next:
	for _, v := range s.multi {
		for _, have := range dst[start:] {
			if have == v {
				continue next
			}
		}
		dst = append(dst, v)
	}
	return dst
}
