package schema

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// countingCache returns a Cache whose compilations are counted.
func countingCache() (*Cache, *atomic.Int64) {
	var n atomic.Int64
	c := NewCache(func(_ string, doc []byte, d Dialect) (*Schema, error) {
		n.Add(1)
		return Compile(doc, d)
	})
	return c, &n
}

func TestCacheConcurrentFirstUseCompilesOnce(t *testing.T) {
	t.Parallel()
	c, n := countingCache()
	doc := []byte(orderSchema)

	const workers = 64
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		got   [workers]*Schema
	)
	for i := range workers {
		wg.Go(func() {
			<-start
			s, err := c.Get(t.Context(), "order.created@1", doc, Dialect{})
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	close(start)
	wg.Wait()

	if n.Load() != 1 {
		t.Fatalf("compiled %d times, want 1", n.Load())
	}
	for i := range got {
		if got[i] != got[0] || got[i] == nil {
			t.Fatalf("worker %d got a different schema", i)
		}
	}
}

type cacheStep struct {
	key, doc string
	wantErr  bool
}

func TestCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		steps        []cacheStep
		wantCompiles int64
	}{
		{
			name:         "same key and doc reuses",
			steps:        []cacheStep{{"a", `{"type":"string"}`, false}, {"a", `{"type":"string"}`, false}, {"a", `{"type":"string"}`, false}},
			wantCompiles: 1,
		},
		{
			name:         "distinct keys compile separately",
			steps:        []cacheStep{{"a", `{}`, false}, {"b", `{}`, false}, {"a", `{}`, false}},
			wantCompiles: 2,
		},
		{
			name:         "errors are cached",
			steps:        []cacheStep{{"bad", `{"type":5}`, true}, {"bad", `{"type":5}`, true}},
			wantCompiles: 1,
		},
		{
			name:         "changed doc under same key recompiles",
			steps:        []cacheStep{{"a", `{"type":"string"}`, false}, {"a", `{"type":"integer"}`, false}, {"a", `{"type":"integer"}`, false}},
			wantCompiles: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, n := countingCache()
			for _, st := range tt.steps {
				s, err := c.Get(t.Context(), st.key, []byte(st.doc), Dialect{})
				if (err != nil) != st.wantErr {
					t.Fatalf("Get(%q, %s) err = %v, wantErr %v", st.key, st.doc, err, st.wantErr)
				}
				if err != nil && !errors.Is(err, ErrInvalidSchema) {
					t.Errorf("cached error lost its kind: %v", err)
				}
				if err == nil && s == nil {
					t.Fatal("nil schema without error")
				}
			}
			if got := n.Load(); got != tt.wantCompiles {
				t.Errorf("compiled %d times, want %d", got, tt.wantCompiles)
			}
		})
	}
}

func TestCacheServesCurrentDocument(t *testing.T) {
	t.Parallel()
	c := NewCache(nil)
	buf := []byte(`{"type":"string"}`)
	s1, err := c.Get(t.Context(), "k", buf, Dialect{})
	if err != nil {
		t.Fatal(err)
	}
	// The cache must have copied the document: mutating the caller's buffer
	// must not make the cached entry look like a different document.
	copy(buf, `{"type":"number"}`)
	s2, err := c.Get(t.Context(), "k", []byte(`{"type":"string"}`), Dialect{})
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 {
		t.Error("entry recompiled after caller reused its buffer")
	}
	s3, err := c.Get(t.Context(), "k", []byte(`{"type":"number"}`), Dialect{})
	if err != nil {
		t.Fatal(err)
	}
	if s3.Validate([]byte(`1`)) != nil || s3.Validate([]byte(`"x"`)) == nil {
		t.Error("changed document under the same key served the stale schema")
	}
	c.Delete("k")
	s4, err := c.Get(t.Context(), "k", []byte(`{"type":"number"}`), Dialect{})
	if err != nil || s4 == s3 {
		t.Errorf("Delete did not drop the entry (err %v)", err)
	}
}

func TestCacheConcurrentMixedKeys(t *testing.T) {
	t.Parallel()
	c, n := countingCache()
	docs := map[string]string{"a": `{"type":"string"}`, "b": `{"type":"integer"}`, "c": `{"type":"object"}`}
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			for k, d := range docs {
				if _, err := c.Get(t.Context(), k, []byte(d), Dialect{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := n.Load(); got != int64(len(docs)) {
		t.Errorf("compiled %d times, want %d", got, len(docs))
	}
}

func TestCacheRetain(t *testing.T) {
	t.Parallel()
	c, n := countingCache()
	for _, k := range []string{"a@1", "a@2", "b@1"} {
		if _, err := c.Get(t.Context(), k, []byte(`{}`), Dialect{}); err != nil {
			t.Fatal(err)
		}
	}
	c.Retain(func(key string) bool { return key != "a@1" })
	for _, k := range []string{"a@2", "b@1", "a@1"} {
		if _, err := c.Get(t.Context(), k, []byte(`{}`), Dialect{}); err != nil {
			t.Fatal(err)
		}
	}
	// Only the dropped entry compiles again.
	if got := n.Load(); got != 4 {
		t.Errorf("compiled %d times, want 4", got)
	}
}
