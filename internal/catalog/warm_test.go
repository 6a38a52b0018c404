package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/schema"
)

// bigSchema is large but within the registration limits: an object with
// n properties, each a small object schema.
func bigSchema(n int) string {
	var b strings.Builder
	b.WriteString(`{"type":"object","properties":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"p%d":{"type":"object","properties":{"v":{"type":"integer","minimum":%d}}}`, i, i)
	}
	b.WriteString(`}}`)
	return b.String()
}

// putType registers a type as the API does: compiled at registration, the
// dialect it was compiled with stored with it. It returns the stored type
// and the schema compiled for it.
func (e *env) putType(name string, owner uuid.UUID, doc string) (*herald.EventType, *schema.Schema) {
	e.t.Helper()
	sch, err := schema.CompileSubmitted([]byte(doc), schema.Dialect{})
	if err != nil {
		e.t.Fatal(err)
	}
	d := sch.Dialect()
	et := &herald.EventType{Name: name, TenantID: owner, Schema: []byte(doc), SchemaDraft: d.Draft,
		FormatAssertion: d.FormatAssertion, Producers: []uuid.UUID{}, Consumers: []uuid.UUID{}}
	if _, err := e.store.EventTypePut(e.ctx, et, func(*herald.EventType) error { return nil }); err != nil {
		e.t.Fatal(err)
	}
	return et, sch
}

// restart returns a new catalog over the same database, as after a
// restart of Herald, with its compilations counted per type.
func (e *env) restart(hook func(typeName string)) (*catalog.Catalog, *compiles) {
	e.t.Helper()
	cat := catalog.New(e.store, e.pool, time.Hour, heraldtest.Logger(e.t))
	n := &compiles{byType: map[string]int{}}
	cat.SetCompileHook(func(typeName string, _ int) {
		n.mu.Lock()
		n.byType[typeName]++
		n.mu.Unlock()
		if hook != nil {
			hook(typeName)
		}
	})
	e.t.Cleanup(cat.Stop)
	return cat, n
}

type compiles struct {
	mu     sync.Mutex
	byType map[string]int
}

func (c *compiles) of(typeName string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byType[typeName]
}

func (e *env) waitWarmed(cat *catalog.Catalog) {
	e.t.Helper()
	select {
	case <-cat.Warmed():
	case <-e.ctx.Done():
		e.t.Fatal("the warm-up did not finish")
	}
}

// TestWarmUpCompilesBeforeFirstLookup: after a restart, the warm-up
// compiles every stored schema in the background, so the first request's
// lookup finds its type's schema compiled and compiles nothing.
func TestWarmUpCompilesBeforeFirstLookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.tenant("acme", false)
	e.putType("com.acme.big", acme.ID, bigSchema(1200))
	e.putType("com.acme.small", acme.ID, `{"type":"object"}`)

	cat, n := e.restart(nil)
	cat.Start(e.ctx)
	e.waitWarmed(cat)
	for _, name := range []string{"com.acme.big", "com.acme.small"} {
		if got := n.of(name); got != 1 {
			t.Errorf("warm-up compiled %s %d times, want once", name, got)
		}
	}

	// The first request: its lookup is served without compiling.
	snap, err := cat.Get(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	te := snap.Type("com.acme.big")
	if !te.Compiled() {
		t.Fatal("schema of com.acme.big not compiled after the warm-up")
	}
	sch, err := te.Schema(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if vs := sch.Validate([]byte(`{"p7":{"v":3}}`)); len(vs) != 1 || vs[0].Rule != "minimum" {
		t.Errorf("violations = %v, want one minimum", vs)
	}
	if got := n.of("com.acme.big"); got != 1 {
		t.Errorf("compiled %d times in all, want once (by the warm-up)", got)
	}

	// Without the warm-up the same lookup pays for the compilation: what
	// the warm-up saves.
	cold, coldN := e.restart(nil)
	snap, err = cold.Get(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Type("com.acme.big").Compiled() {
		t.Fatal("a catalog without warm-up has compiled schemas")
	}
	if _, err := snap.Type("com.acme.big").Schema(e.ctx); err != nil || coldN.of("com.acme.big") != 1 {
		t.Fatalf("lookup without warm-up: err %v, %d compilations", err, coldN.of("com.acme.big"))
	}
}

// TestLookupWaitsOnlyForItsOwnType: while the warm-up is busy with one
// type's schema, lookups of other types and catalog reloads go on; a
// lookup of that type waits for the warm-up's compilation (until its
// context ends) rather than compiling it again.
func TestLookupWaitsOnlyForItsOwnType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.tenant("acme", false)
	e.putType("com.acme.a", acme.ID, bigSchema(500)) // warmed first (by name)
	e.putType("com.acme.b", acme.ID, `{"type":"object","required":["x"]}`)

	started, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseA := func() { releaseOnce.Do(func() { close(release) }) }
	cat, n := e.restart(func(typeName string) {
		if typeName == "com.acme.a" {
			close(started)
			<-release
		}
	})
	// Before the catalog's Stop (cleanups run last first): a failing test
	// must not leave the warm-up blocked.
	t.Cleanup(releaseA)
	cat.Start(e.ctx)
	select {
	case <-started:
	case <-e.ctx.Done():
		t.Fatal("the warm-up did not start compiling")
	}

	// The warm-up holds com.acme.a's compilation. Reloads do not wait, nor
	// do lookups of other types.
	type lookup struct {
		snap *catalog.Snapshot
		b    *schema.Schema
		err  error
	}
	done := make(chan lookup, 1)
	go func() {
		var l lookup
		cat.Invalidate()
		if l.snap, l.err = cat.Get(e.ctx); l.err == nil {
			l.b, l.err = l.snap.Type("com.acme.b").Schema(e.ctx)
		}
		done <- l
	}()
	var l lookup
	select {
	case l = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a reload and a lookup of com.acme.b waited for com.acme.a's compilation")
	}
	if l.err != nil {
		t.Fatal(l.err)
	}
	snap := l.snap
	if vs := l.b.Validate([]byte(`{}`)); len(vs) != 1 {
		t.Errorf("violations = %v, want one", vs)
	}
	// A lookup of com.acme.a waits for that compilation, until its
	// context ends.
	a := snap.Type("com.acme.a")
	if a.Compiled() {
		t.Fatal("com.acme.a compiled while its compilation is held")
	}
	gone, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := a.Schema(gone); !errors.Is(err, context.Canceled) || errors.Is(err, catalog.ErrSchemaBroken) {
		t.Fatalf("lookup with an ended context: err = %v, want context.Canceled", err)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := a.Schema(e.ctx)
		waiting <- err
	}()
	releaseA()
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
	if got := n.of("com.acme.a"); got != 1 {
		t.Errorf("com.acme.a compiled %d times, want once", got)
	}
	e.waitWarmed(cat)
}

// TestWarmUpFollowsNewVersions: a version registered on another node is
// compiled by the warm-up once the catalog reloads; one registered on this
// node is handed over by Prime and compiled by nobody.
func TestWarmUpFollowsNewVersions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.tenant("acme", false)
	cat, n := e.restart(nil)
	cat.Start(e.ctx)
	e.waitWarmed(cat)

	// Another node registers a type: this one compiles it in the
	// background after reloading.
	e.putType("com.acme.elsewhere", acme.ID, bigSchema(300))
	cat.Invalidate()
	if _, err := cat.Get(e.ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for n.of("com.acme.elsewhere") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the warm-up did not compile the new type")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// This node registers one: the registration's compilation is reused.
	et, sch := e.putType("com.acme.here", acme.ID, bigSchema(200))
	cat.Prime(et, sch)
	cat.Invalidate()
	snap, err := cat.Get(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	te := snap.Type("com.acme.here")
	if !te.Compiled() {
		t.Fatal("primed schema not compiled")
	}
	if got, err := te.Schema(e.ctx); err != nil || got != sch {
		t.Errorf("Schema = %p, %v; want the primed %p", got, err, sch)
	}
	if got := n.of("com.acme.here"); got != 0 {
		t.Errorf("primed schema compiled %d times", got)
	}
}

// TestBrokenStoredSchema: a stored schema that does not compile is an
// ErrSchemaBroken for its lookups and does not hold up the warm-up.
func TestBrokenStoredSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.tenant("acme", false)
	e.putType("com.acme.ok", acme.ID, `{"type":"object"}`)
	// As if a library upgrade made a stored document invalid.
	e.eventType("com.acme.broken", acme.ID, false)
	if _, err := e.pool.Exec(e.ctx, `UPDATE event_type_versions SET schema = '{"type": 5}' WHERE type_name = 'com.acme.broken'`); err != nil {
		t.Fatal(err)
	}
	cat, _ := e.restart(nil)
	cat.Start(e.ctx)
	e.waitWarmed(cat)
	snap, err := cat.Get(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = snap.Type("com.acme.broken").Schema(e.ctx)
	var ce *schema.CompileError
	if !errors.Is(err, catalog.ErrSchemaBroken) || !errors.As(err, &ce) {
		t.Fatalf("err = %v, want ErrSchemaBroken with the compile error", err)
	}
	if _, err := snap.Type("com.acme.ok").Schema(e.ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStopWithoutStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cat.Stop()
	e.cat.Stop()
}
