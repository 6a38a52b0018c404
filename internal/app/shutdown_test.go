package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// TestShutdownFinishesInFlightDeliveries stops Herald while a slow receiver
// holds deliveries open: shutdown waits for them, and their success is
// recorded before the node is gone.
func TestShutdownFinishesInFlightDeliveries(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	started := make(chan struct{}, 100)
	rc.respond = func(int, *http.Request) int {
		started <- struct{}{}
		time.Sleep(700 * time.Millisecond)
		return http.StatusOK
	}
	_, rc.secret = e.endpoint(w.consumer, rc.URL(), w.typ)
	e.must(202, e.send(w.producer, orderEvent("slow-1", 1), orderEvent("slow-2", 1), orderEvent("slow-3", 1)))
	for range 3 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("deliveries did not start")
		}
	}
	stopped := time.Now()
	e.stop() // returns once in-flight work is done
	if time.Since(stopped) < 300*time.Millisecond {
		t.Fatalf("shutdown took %s: it did not wait for the deliveries in flight", time.Since(stopped))
	}
	events, _, _, _ := rc.snapshot()
	if len(events) != 3 {
		t.Fatalf("receiver answered %d of 3 in-flight deliveries before shutdown ended", len(events))
	}
	// The outcome was recorded: read it through a fresh node on the same
	// database.
	e.start()
	counts, err := e.app.Store().DeliveryCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counts[herald.DeliverySucceeded] != 3 {
		t.Fatalf("delivery counts after restart = %v, want 3 succeeded", counts)
	}
}
