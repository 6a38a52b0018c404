package batch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a batch function that doubles its requests and records the
// size of every batch it served.
type recorder struct {
	t     *testing.T
	max   int
	mu    sync.Mutex
	sizes []int
	// hook, when set, runs at the start of every call with the call's
	// number (0-based) and the requests; a non-nil error fails the batch.
	hook func(n int, reqs []int) error
}

func (r *recorder) fn(_ context.Context, reqs []int) ([]int, error) {
	r.mu.Lock()
	n := len(r.sizes)
	r.sizes = append(r.sizes, len(reqs))
	r.mu.Unlock()
	if len(reqs) == 0 || len(reqs) > r.max {
		r.t.Errorf("batch of %d requests (max %d)", len(reqs), r.max)
	}
	if r.hook != nil {
		if err := r.hook(n, reqs); err != nil {
			return nil, err
		}
	}
	out := make([]int, len(reqs))
	for i, q := range reqs {
		out[i] = q * 2
	}
	return out, nil
}

func (r *recorder) batchSizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sizes)
}

// gate lets a test hold the first batch inside fn.
type gate struct {
	entered chan struct{} // closed when the first call has begun
	release chan struct{} // close to let it return
}

func newGate() *gate { return &gate{entered: make(chan struct{}), release: make(chan struct{})} }

// hook blocks call 0 until release.
func (g *gate) hook(n int, _ []int) error {
	if n == 0 {
		close(g.entered)
		<-g.release
	}
	return nil
}

// waitQueued waits until n requests wait in the batcher's queue.
func waitQueued[Req, Res any](t *testing.T, b *Batcher[Req, Res], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(b.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", len(b.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// testCtx bounds a test so a hung batcher fails it instead of the binary.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBatcherConcurrentCallersGetTheirOwnResults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		runners, max, n int
		slow            bool
	}{
		{"one runner", 1, 4, 300, false},
		{"three runners", 3, 8, 1000, false},
		{"max one", 2, 1, 200, false},
		{"slow fn", 2, 16, 500, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			r := &recorder{t: t, max: tt.max}
			if tt.slow {
				r.hook = func(int, []int) error { time.Sleep(200 * time.Microsecond); return nil }
			}
			b := New(tt.runners, tt.max, r.fn)
			defer b.Stop()

			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range tt.n {
				wg.Go(func() {
					<-start
					got, err := b.Do(ctx, i)
					if err != nil || got != 2*i {
						t.Errorf("do(%d) = %d, %v; want %d", i, got, err, 2*i)
					}
				})
			}
			close(start)
			wg.Wait()

			total := 0
			for _, s := range r.batchSizes() {
				total += s
				if s > tt.max {
					t.Errorf("batch of %d exceeds max %d", s, tt.max)
				}
			}
			if total != tt.n {
				t.Errorf("fn served %d requests, want %d", total, tt.n)
			}
			t.Logf("%d batches for %d requests", len(r.batchSizes()), tt.n)
		})
	}
}

// While one slow call is in flight, requests pile up; the runner takes them
// together next time, at most max at once.
func TestBatcherBatchesRequestsQueuedWhileBusy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		max       int
		queued    int
		wantSizes []int
	}{
		{"fits one batch", 16, 10, []int{1, 10}},
		{"exactly max", 8, 8, []int{1, 8}},
		{"split by max", 16, 40, []int{1, 16, 16, 8}},
		{"max one", 1, 3, []int{1, 1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			g := newGate()
			r := &recorder{t: t, max: tt.max, hook: g.hook}
			b := New(1, tt.max, r.fn)
			defer b.Stop()

			var wg sync.WaitGroup
			wg.Go(func() {
				if got, err := b.Do(ctx, -1); err != nil || got != -2 {
					t.Errorf("first do = %d, %v", got, err)
				}
			})
			<-g.entered
			for i := range tt.queued {
				wg.Go(func() {
					if got, err := b.Do(ctx, i); err != nil || got != 2*i {
						t.Errorf("do(%d) = %d, %v; want %d", i, got, err, 2*i)
					}
				})
			}
			waitQueued(t, b, tt.queued)
			close(g.release)
			wg.Wait()

			sizes := r.batchSizes()
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("batch sizes %v, want %v", sizes, tt.wantSizes)
			}
			if tt.max > 1 && slices.Max(sizes) < 2 {
				t.Errorf("requests queued behind a slow call were not batched: %v", sizes)
			}
		})
	}
}

func TestBatcherErrorGoesToTheWholeBatch(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	boom := errors.New("database is down")
	g := newGate()
	r := &recorder{t: t, max: 8}
	r.hook = func(n int, reqs []int) error {
		if n == 0 {
			return g.hook(n, reqs)
		}
		if n == 1 {
			return boom
		}
		return nil
	}
	b := New(1, 8, r.fn)
	defer b.Stop()

	var wg sync.WaitGroup
	wg.Go(func() {
		if got, err := b.Do(ctx, 1); err != nil || got != 2 {
			t.Errorf("first do = %d, %v", got, err)
		}
	})
	<-g.entered
	const queued = 5
	var failed atomic.Int32
	for i := range queued {
		wg.Go(func() {
			got, err := b.Do(ctx, 10+i)
			if !errors.Is(err, boom) {
				t.Errorf("do(%d) in the failing batch = %d, %v; want %v", 10+i, got, err, boom)
				return
			}
			if got != 0 {
				t.Errorf("do(%d) returned %d with the error, want the zero value", 10+i, got)
			}
			failed.Add(1)
		})
	}
	waitQueued(t, b, queued)
	close(g.release)
	wg.Wait()
	if failed.Load() != queued {
		t.Errorf("%d callers got the error, want %d", failed.Load(), queued)
	}
	if sizes := r.batchSizes(); !slices.Equal(sizes, []int{1, queued}) {
		t.Errorf("batch sizes %v, want [1 %d]", sizes, queued)
	}

	// The runner survives a failed batch.
	if got, err := b.Do(ctx, 21); err != nil || got != 42 {
		t.Errorf("do after a failed batch = %d, %v; want 42", got, err)
	}
}

func TestBatcherContext(t *testing.T) {
	t.Parallel()

	// Each case runs against a batcher whose only runner is stuck in fn, so
	// no result can arrive: do must give up when its ctx ends.
	tests := []struct {
		name string
		// ctx returns the context for do and a function that ends it (nil
		// when it is over already or ends by itself).
		ctx     func(t *testing.T) (context.Context, func())
		wantErr error
		// fill fills the queue first, so do waits to enqueue rather than
		// for its result.
		fill bool
	}{
		{"already cancelled", func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, nil
		}, context.Canceled, false},
		{"cancelled while waiting for the result", func(t *testing.T) (context.Context, func()) {
			return context.WithCancel(context.Background())
		}, context.Canceled, false},
		{"deadline while waiting for the result", func(t *testing.T) (context.Context, func()) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			t.Cleanup(cancel) // it ends by itself
			return ctx, nil
		}, context.DeadlineExceeded, false},
		{"cancelled while the queue is full", func(t *testing.T) (context.Context, func()) {
			return context.WithCancel(context.Background())
		}, context.Canceled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const max = 2
			g := newGate()
			r := &recorder{t: t, max: max, hook: g.hook}
			b := New(1, max, r.fn)
			bg := testCtx(t)
			var wg sync.WaitGroup
			defer func() {
				close(g.release)
				wg.Wait()
				b.Stop()
			}()
			wg.Go(func() { _, _ = b.Do(bg, 0) })
			<-g.entered
			if tt.fill {
				for i := range cap(b.reqs) {
					wg.Go(func() { _, _ = b.Do(bg, i+1) })
				}
				waitQueued(t, b, cap(b.reqs))
			}

			ctx, end := tt.ctx(t)
			type result struct {
				v   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				v, err := b.Do(ctx, 100)
				done <- result{v, err}
			}()
			if end != nil {
				select {
				case r := <-done:
					t.Fatalf("do returned %v, %v before its ctx ended", r.v, r.err)
				case <-time.After(20 * time.Millisecond):
				}
				end()
			}
			select {
			case r := <-done:
				if !errors.Is(r.err, tt.wantErr) || r.v != 0 {
					t.Errorf("do = %d, %v; want %v", r.v, r.err, tt.wantErr)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("do did not return after its ctx ended")
			}
		})
	}
}

func TestBatcherStopWaitsForTheRunningBatchAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	g := newGate()
	r := &recorder{t: t, max: 4, hook: g.hook}
	b := New(2, 4, r.fn)

	result := make(chan error, 1)
	go func() {
		v, err := b.Do(ctx, 7)
		if err == nil && v != 14 {
			err = errors.New("wrong result")
		}
		result <- err
	}()
	<-g.entered

	stopped := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 { // concurrent stops
		wg.Go(b.Stop)
	}
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned while a batch was still running")
	case <-time.After(30 * time.Millisecond):
	}
	close(g.release)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return after the batch finished")
	}
	if err := <-result; err != nil {
		t.Errorf("the batch running at stop: %v", err)
	}
	b.Stop() // again, after it has stopped
}

func TestBatcherDoAfterStop(t *testing.T) {
	t.Parallel()
	r := &recorder{t: t, max: 64}
	b := New(2, 64, r.fn)
	if got, err := b.Do(testCtx(t), 1); err != nil || got != 2 {
		t.Fatalf("do = %d, %v", got, err)
	}
	b.Stop()

	// Every do after stop should return ErrStopped at once. Give each a
	// deadline so a call that would block forever shows up as
	// DeadlineExceeded instead of hanging the test.
	const calls = 32 // fewer than the queue's capacity (4*max)
	var stopped, hung atomic.Int32
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err := b.Do(ctx, i)
			switch {
			case errors.Is(err, ErrStopped):
				stopped.Add(1)
			case errors.Is(err, context.DeadlineExceeded):
				hung.Add(1)
			default:
				t.Errorf("do after stop: %v", err)
			}
		})
	}
	wg.Wait()
	if n := hung.Load(); n > 0 {
		t.Errorf("%d of %d calls after stop blocked until their ctx deadline instead of returning ErrStopped", n, calls)
	}
	if stopped.Load() != calls {
		t.Errorf("%d of %d calls after stop returned ErrStopped", stopped.Load(), calls)
	}
}
