package schema

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Cache holds compiled schemas under caller-chosen keys (for example
// "<type name>@<version>") so that ingest compiles each schema once.
//
// It is safe for concurrent use. Each key compiles on its own: the first
// caller that needs an entry compiles it, later callers of that entry wait
// for it, and nothing waits for other keys, so a large schema being compiled
// never holds up lookups of the others. Compile errors are cached too: an
// invalid schema keeps failing without being recompiled for every event.
// The zero value is not usable; call NewCache.
type Cache struct {
	entries sync.Map // string → *Entry
	compile CompileFunc
}

// CompileFunc compiles the document cached under key.
type CompileFunc func(key string, doc []byte, d Dialect) (*Schema, error)

// NewCache returns an empty Cache that compiles with compile; nil means
// Compile. Callers pass their own to log or count compilations.
func NewCache(compile CompileFunc) *Cache {
	if compile == nil {
		compile = func(_ string, doc []byte, d Dialect) (*Schema, error) { return Compile(doc, d) }
	}
	return &Cache{compile: compile}
}

// Entry is one document in a Cache, compiled at most once.
type Entry struct {
	cache   *Cache
	key     string
	doc     []byte // private copy, compared by Cache.Entry
	dialect Dialect
	claimed atomic.Bool   // set by the caller that compiles
	done    chan struct{} // closed once sch and err are set
	sch     *Schema
	err     error
}

// Entry returns the entry for key without compiling it.
//
// A key stands for one document read one way. If doc or d differ from what
// is cached under key, the entry is replaced, so an edited schema stored
// under a reused key is never served stale. The comparison costs one
// bytes.Equal over the document; callers on a hot path keep the Entry
// rather than looking it up per event.
func (c *Cache) Entry(key string, doc []byte, d Dialect) *Entry {
	for {
		cur, ok := c.entries.Load(key)
		if !ok {
			cur, _ = c.entries.LoadOrStore(key, c.newEntry(key, doc, d))
		}
		e := cur.(*Entry)
		if bytes.Equal(e.doc, doc) && e.dialect == d {
			return e
		}
		// Replace only the entry we looked at; if another goroutine got
		// there first, go round again and use (or replace) its entry.
		ne := c.newEntry(key, doc, d)
		if c.entries.CompareAndSwap(key, e, ne) {
			return ne
		}
	}
}

// Get returns the compiled schema for key, compiling doc on first use; see
// Entry and Entry.Get.
func (c *Cache) Get(ctx context.Context, key string, doc []byte, d Dialect) (*Schema, error) {
	return c.Entry(key, doc, d).Get(ctx)
}

// Put stores sch, compiled from doc under d elsewhere (an API handler
// compiles a submitted schema to check it), under key, so that nobody
// compiles it again. An entry for the same document that is compiled or
// being compiled is kept.
func (c *Cache) Put(key string, doc []byte, d Dialect, sch *Schema) {
	e := c.Entry(key, doc, d)
	if e.claimed.CompareAndSwap(false, true) {
		e.sch = sch
		close(e.done)
	}
}

// Delete drops the entry for key, for example when an event type is removed.
func (c *Cache) Delete(key string) {
	c.entries.Delete(key)
}

// Retain drops the entries whose key keep refuses, for example the
// versions no longer current, so that their compiled schemas can be
// collected. Holders of a dropped Entry may go on using it.
func (c *Cache) Retain(keep func(key string) bool) {
	c.entries.Range(func(k, _ any) bool {
		if !keep(k.(string)) {
			c.entries.Delete(k)
		}
		return true
	})
}

func (c *Cache) newEntry(key string, doc []byte, d Dialect) *Entry {
	// Copy: the caller may reuse its buffer after Entry returns.
	return &Entry{cache: c, key: key, doc: bytes.Clone(doc), dialect: d, done: make(chan struct{})}
}

// Get returns the compiled schema, or the compile error. The first caller
// compiles, in its own goroutine and to the end even if its ctx ends
// meanwhile, so the work is never lost; the others wait for it until their
// ctx ends, and then return ctx.Err().
func (e *Entry) Get(ctx context.Context) (*Schema, error) {
	if e.claimed.CompareAndSwap(false, true) {
		e.compile()
		return e.sch, e.err
	}
	select {
	case <-e.done:
		return e.sch, e.err
	default:
	}
	select {
	case <-e.done:
		return e.sch, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// compile runs the cache's CompileFunc once. A panic in it (a library bug
// on some document) becomes the entry's error rather than leaving the
// waiters blocked for good.
func (e *Entry) compile() {
	defer close(e.done)
	defer func() {
		if r := recover(); r != nil {
			e.sch, e.err = nil, &CompileError{Kind: ErrInvalidSchema, Err: fmt.Errorf("compiler panic: %v", r)}
		}
	}()
	e.sch, e.err = e.cache.compile(e.key, e.doc, e.dialect)
}

// Ready reports whether the entry is compiled (or failed to compile), so
// Get returns without waiting.
func (e *Entry) Ready() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}
