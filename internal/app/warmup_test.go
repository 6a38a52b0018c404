package app_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRestartCompilesSchemasInBackground: after a restart the stored
// schemas are compiled by the warm-up, so the first event's request does
// not compile its type's schema.
func TestRestartCompilesSchemasInBackground(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	var b strings.Builder
	b.WriteString(`{"type":"object","required":["order"],"properties":{"order":{"type":"string"}`)
	for i := range 1500 {
		fmt.Fprintf(&b, `,"p%d":{"type":"object","properties":{"v":{"type":"integer","minimum":%d}}}`, i, i)
	}
	b.WriteString(`}}`)
	e.must(200, e.putSchema(w, b.String(), nil))

	e.stop()
	e.start()
	select {
	case <-e.app.Catalog().Warmed():
	case <-time.After(30 * time.Second):
		t.Fatal("the warm-up did not finish")
	}
	var compiled atomic.Int64
	e.app.Catalog().SetCompileHook(func(string, int) { compiled.Add(1) })

	e.must(202, e.send(w.producer, orderEvent("after-restart", 1)))
	item := problemItem(t, e.must(422, e.send(w.producer, eventWith("bad", map[string]any{"order": "A", "p7": map[string]any{"v": 1}}))))
	if item["field"] != "data.p7.v" || item["rule"] != "minimum" {
		t.Errorf("problem item = %v", item)
	}
	if n := compiled.Load(); n != 0 {
		t.Errorf("requests after the warm-up compiled %d schemas, want none", n)
	}
}
