package delivery

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errStopped answers the loads and records asked for after Stop.
var errStopped = errors.New("deliveries stopped")

// batcher lets many concurrent workers share database round trips: each
// call queues a request, and a few runner goroutines each take everything
// queued (up to max) and serve it with one call of fn. Under load hundreds of
// deliveries share one query; when idle a request goes out alone at once, so
// batching adds no latency.
type batcher[Req, Res any] struct {
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

// newBatcher starts runners goroutines; fn must return one result per
// request, in order.
func newBatcher[Req, Res any](runners, max int, fn func(context.Context, []Req) ([]Res, error)) *batcher[Req, Res] {
	b := &batcher[Req, Res]{fn: fn, max: max, reqs: make(chan *call[Req, Res], 4*max), quit: make(chan struct{})}
	for range runners {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

// do queues req and waits for its result. If ctx ends first, do returns its
// error; the request may still be carried out.
func (b *batcher[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	c := &call[Req, Res]{req: req, done: make(chan struct{})}
	var zero Res
	select {
	case <-b.quit:
		return zero, errStopped
	default:
	}
	select {
	case b.reqs <- c:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-b.quit:
		return zero, errStopped
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
			return zero, errStopped
		}
	}
}

// batchTimeout bounds one batched query.
const batchTimeout = 30 * time.Second

func (b *batcher[Req, Res]) run() {
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

// drain answers everything still queued with errStopped.
func (b *batcher[Req, Res]) drain() {
	for {
		select {
		case c := <-b.reqs:
			c.err = errStopped
			close(c.done)
		default:
			return
		}
	}
}

// stop ends the runners once no worker can call do any more.
func (b *batcher[Req, Res]) stop() {
	b.once.Do(func() {
		close(b.quit)
		b.wg.Wait()
	})
}
