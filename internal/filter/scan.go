package filter

import (
	"github.com/heraldhq/herald/internal/jsonpath"
)

// Reading data: instead of decoding the whole document (a map per object, a
// string per key: dozens of allocations for a 1 KB payload), Match has
// package jsonpath walk the raw bytes once, guided by the trie of the
// filter's paths, and record where each path's value lies. The conditions
// then read those bytes directly, decoding a string only when it has
// escapes.

// scanState is the per-Match record of the data walk. Match keeps it on its
// stack; it is sized for the largest filter so that it needs no allocation.
type scanState struct {
	paths   *jsonpath.Set
	scanned bool
	data    []byte
	spans   [MaxConditions]jsonpath.Span
	// scratch holds a decoded string (a value with escapes) while it is
	// compared; longer strings spill to the heap.
	scratch [128]byte
}

// value returns the bytes of the value at path p, or nil when missing. It
// walks the data on first use.
func (st *scanState) value(e Event, p jsonpath.Ref) []byte {
	if !st.scanned {
		st.scanned = true
		st.data = e.Data()
		st.paths.Lookup(st.data, st.spans[:])
	}
	return st.spans[p.Slot()].In(st.data)
}
