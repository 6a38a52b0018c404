package ingest_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/ingest"
)

// TestReadersSeeAPrefixOfTheLog breaks the log order the way production
// does: several committers commit at once while a pull reader repeatedly
// reads seq > cursor and moves its cursor to the largest seq it saw. If a
// commit could become visible with numbers below those of one already seen,
// the reader would skip it for good. It must end up having seen every
// committed event.
func TestReadersSeeAPrefixOfTheLog(t *testing.T) {
	e := newEnv(t, ingest.Config{Committers: 4, MaxBatch: 20})
	const producers, perProducer = 24, 60

	var writing atomic.Bool
	writing.Store(true)
	seen := map[int64]bool{}
	readerDone := make(chan error, 1)
	go func() {
		var cursor int64
		read := func() error {
			rows, err := e.pool.Query(e.ctx, `SELECT seq FROM events WHERE seq > $1 ORDER BY seq`, cursor)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var seq int64
				if err := rows.Scan(&seq); err != nil {
					return err
				}
				seen[seq], cursor = true, seq
			}
			return rows.Err()
		}
		for writing.Load() {
			if err := read(); err != nil {
				readerDone <- err
				return
			}
		}
		readerDone <- read() // everything is committed now
	}()

	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				evs := []*cloudevents.Event{order(fmt.Sprintf("p%d-%d", p, i), `{"order":"o","qty":1}`)}
				if _, err := e.svc.Ingest(e.ctx, e.producer, evs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	writing.Store(false)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}

	rows, err := e.pool.Query(e.ctx, `SELECT seq FROM events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var total, missed int
	var firstMissed int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			t.Fatal(err)
		}
		total++
		if !seen[seq] {
			if missed == 0 {
				firstMissed = seq
			}
			missed++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if total != producers*perProducer {
		t.Fatalf("stored %d events, want %d", total, producers*perProducer)
	}
	if missed > 0 {
		t.Fatalf("the reader never saw %d of %d committed events (first: seq %d): a commit became visible after a larger seq",
			missed, total, firstMissed)
	}
}
