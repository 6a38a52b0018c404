// Package batch lets many concurrent callers share database round trips:
// each call queues a request, and a few runners each serve everything
// queued (up to a bound) with one call of a batch function.
package batch

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrStopped answers the requests made after Stop.
var ErrStopped = errors.New("batcher stopped")

// Batcher lets many concurrent workers share database round trips: each
// call queues a request, and a few runner goroutines each take everything
// queued (up to max) and serve it with one call of fn. Under load hundreds of
// deliveries share one query; when idle a request goes out alone at once, so
// batching adds no latency.
type Batcher[Req, Res any] struct {
	fn   func(ctx context.Context, reqs []Req) ([]Res, error)
	max  int
	reqs chan *call[Req, Res]
	wg   sync.WaitGroup
	quit chan struct{}
	once sync.Once
}

type call[Req, Res any] struct {
	req  Req
	res  Res
	err  error
	done chan struct{}
}

// New starts runners goroutines; fn must return one result per request,
// in order.
func New[Req, Res any](runners, max int, fn func(context.Context, []Req) ([]Res, error)) *Batcher[Req, Res] {
	b := &Batcher[Req, Res]{fn: fn, max: max, reqs: make(chan *call[Req, Res], 4*max), quit: make(chan struct{})}
	for range runners {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

// Do queues req and waits for its result. If ctx ends first, Do returns its
// error; the request may still be carried out.
func (b *Batcher[Req, Res]) Do(ctx context.Context, req Req) (Res, error) {
	c := &call[Req, Res]{req: req, done: make(chan struct{})}
	var zero Res
	select {
	case <-b.quit:
		return zero, ErrStopped
	default:
	}
	select {
	case b.reqs <- c:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-b.quit:
		return zero, ErrStopped
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-b.quit:
		// Runners finish their batch and answer everything queued before
		// they exit; a request that slipped in after that gets no answer,
		// so don't wait for one.
		b.wg.Wait()
		select {
		case <-c.done:
			return c.res, c.err
		default:
			return zero, ErrStopped
		}
	}
}

// batchTimeout bounds one batched query.
const batchTimeout = 30 * time.Second

func (b *Batcher[Req, Res]) run() {
	defer b.wg.Done()
	batch := make([]*call[Req, Res], 0, b.max)
	reqs := make([]Req, 0, b.max)
	for {
		var first *call[Req, Res]
		select {
		case first = <-b.reqs:
		case <-b.quit:
			b.drain()
			return
		}
		batch = append(batch[:0], first)
	gather:
		for len(batch) < b.max {
			select {
			case c := <-b.reqs:
				batch = append(batch, c)
			default:
				break gather
			}
		}
		reqs = reqs[:0]
		for _, c := range batch {
			reqs = append(reqs, c.req)
		}
		// Not tied to any one worker's context: the batch serves them all.
		// Bounded, so a database that stops answering (a network
		// partition) fails the batch instead of holding its workers.
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		res, err := b.fn(ctx, reqs)
		cancel()
		for i, c := range batch {
			if err != nil {
				c.err = err
			} else {
				c.res = res[i]
			}
			close(c.done)
		}
	}
}

// drain answers everything still queued with ErrStopped.
func (b *Batcher[Req, Res]) drain() {
	for {
		select {
		case c := <-b.reqs:
			c.err = ErrStopped
			close(c.done)
		default:
			return
		}
	}
}

// Stop ends the runners once no caller can call Do any more.
func (b *Batcher[Req, Res]) Stop() {
	b.once.Do(func() {
		close(b.quit)
		b.wg.Wait()
	})
}
