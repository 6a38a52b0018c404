package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// e2eResult is what the end-to-end phase measured.
type e2eResult struct {
	events    int64
	span      time.Duration
	rate      float64
	bad       int64
	peakRSSMB float64
}

// endToEnd produces batches of 100 from clients producers for d while
// deliveries run, then waits until the receiver has every accepted event
// (each counted once, however often it was delivered), each signature
// verified. The rate is the events over the time from the
// first request to the last receipt; the process's resident set is
// sampled throughout.
func (b *bencher) endToEnd(ctx context.Context, rc *receiver, d time.Duration, clients int) (e2eResult, error) {
	wh, err := standardwebhooks.NewWebhook(b.endpointSecret)
	if err != nil {
		return e2eResult{}, fmt.Errorf("endpoint secret: %w", err)
	}
	rc.verifier.Store(wh)
	defer rc.verifier.Store(nil)
	badBefore := rc.bad.Load()
	before := rc.distinct.Load()

	var peak atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := residentKB(); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
		}
	}()

	start := time.Now()
	accepted, _ := b.run(d, clients, 100)
	deadline := time.Now().Add(10 * time.Minute)
	for rc.distinct.Load()-before < accepted {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return e2eResult{}, fmt.Errorf("%d of %d events received after 10 minutes", rc.distinct.Load()-before, accepted)
		}
		time.Sleep(5 * time.Millisecond)
	}
	span := time.Unix(0, rc.last.Load()).Sub(start)
	stopSampling()
	if kb := residentKB(); kb > peak.Load() {
		peak.Store(kb)
	}
	return e2eResult{events: accepted, span: span, rate: float64(accepted) / span.Seconds(),
		bad: rc.bad.Load() - badBefore, peakRSSMB: float64(peak.Load()) / 1024}, nil
}

// residentKB is the process's resident set (VmRSS, KiB; 0 where /proc is
// not there).
func residentKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			kb, _ := strconv.ParseInt(string(bytes.Fields(v)[0]), 10, 64)
			return kb
		}
	}
	return 0
}
