package schema

import (
	"bytes"
	"sync"
)

// Cache holds compiled schemas under caller-chosen keys (for example
// "<type name>@<version>") so that ingest compiles each schema once.
//
// It is safe for concurrent use. Concurrent first calls for a key share one
// compilation. Compile errors are cached too: an invalid schema keeps failing
// without being recompiled for every event. The zero value is not usable;
// call NewCache.
type Cache struct {
	entries sync.Map // string → *cacheEntry
	// compile is Compile; tests swap it to count compilations.
	compile func([]byte) (*Schema, error)
}

type cacheEntry struct {
	doc  []byte // private copy, compared on every Get
	once sync.Once
	sch  *Schema
	err  error
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{compile: Compile}
}

// Get returns the compiled schema for key, compiling doc on first use.
//
// A key stands for one document. If doc differs from the document cached
// under key, the entry is replaced and doc is compiled, so an edited schema
// stored under a reused key is never served stale. The comparison costs one
// bytes.Equal over the document, which is small next to validating an event.
func (c *Cache) Get(key string, doc []byte) (*Schema, error) {
	for {
		cur, ok := c.entries.Load(key)
		if !ok {
			cur, _ = c.entries.LoadOrStore(key, newEntry(doc))
		}
		e := cur.(*cacheEntry)
		if !bytes.Equal(e.doc, doc) {
			// Replace only the entry we looked at; if another goroutine got
			// there first, go round again and use (or replace) its entry.
			ne := newEntry(doc)
			if !c.entries.CompareAndSwap(key, e, ne) {
				continue
			}
			e = ne
		}
		e.once.Do(func() { e.sch, e.err = c.compile(e.doc) })
		return e.sch, e.err
	}
}

// Delete drops the entry for key, for example when an event type is removed.
func (c *Cache) Delete(key string) {
	c.entries.Delete(key)
}

func newEntry(doc []byte) *cacheEntry {
	// Copy: the caller may reuse its buffer after Get returns.
	return &cacheEntry{doc: bytes.Clone(doc)}
}
