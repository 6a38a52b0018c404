// Package bench measures Herald end to end on the machine it runs on: ingest
// of batches and of single events over HTTP, the PostgreSQL COPY floor those
// are compared against, delivery throughput to a loopback receiver, and the
// latency from a producer's request to the receiver's first attempt at a
// steady rate. `herald bench` runs it against a real node with its own
// PostgreSQL (durable settings, as `herald serve` runs it).
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/webhook"
)

// Options select what to run and for how long.
type Options struct {
	// Duration of each throughput phase.
	Duration time.Duration
	// LatencyRate is the steady event rate of the latency phase (events/s).
	LatencyRate int
	// BatchClients and SingleClients are the concurrent producers.
	BatchClients  int
	SingleClients int
	// DatabaseURL runs against an external server instead of a fresh
	// embedded cluster.
	DatabaseURL string
	Out         io.Writer
	Logger      *slog.Logger
	// ProfileDir, when set, receives a CPU profile of each phase.
	ProfileDir string
	// Phases limits the run to some of copy, batch, batch-bare, single,
	// deliveries, e2e, ordered, pull-poll, pull-ws, latency and growth (empty: all
	// but growth, which fills the store with GrowthEvents events).
	Phases []string
	// GrowthEvents is the large store size of the growth phase
	// (default 10,000,000; the small one is 100,000).
	GrowthEvents int64
	// Committers overrides the number of ingest committers (0: default).
	Committers int
	// NoHandoff leaves first attempts to River's fetch (see queue.Handoff),
	// to compare.
	NoHandoff bool
}

// Report holds the measured figures.
type Report struct {
	CPUs         int
	CopyFloor    float64 // rows/s
	IngestBatch  float64 // events/s
	IngestSingle float64 // events/s
	Deliveries   float64 // deliveries/s (backlog burn-down)
	// OrderedDeliveries is the burn-down rate with the endpoint ordered
	// (1,000 partition keys).
	OrderedDeliveries float64
	LatencyP50        time.Duration
	LatencyP90        time.Duration
	LatencyP99        time.Duration
	LatencyMax        time.Duration
	LatencyCount      int
	LatencyRateSent   float64
	RiverJobsAtEnd    int64
	SingleRequestP50  time.Duration
	SingleRequestP99  time.Duration
	// IngestBatchBare is batch ingest of a type nobody subscribes to.
	IngestBatchBare float64
	// EndToEnd is events/s from the first produced to the last verified
	// receipt, ingest and delivery at once; PeakRSSMB the process's
	// largest resident set during it (server and load generator).
	EndToEnd  float64
	PeakRSSMB float64
	// PullPoll is the rate one long-poll instance reads and acks a backlog
	// at, in batches of 100 (events/s, the median of pullRuns drains).
	PullPoll float64
	// PullPollPipelined is the same with each batch acked while the next
	// is fetched.
	PullPollPipelined float64
	// PullWS is the rate one WebSocket connection reads and acks a
	// backlog at, acking every 100 events (events/s, the median of
	// pullRuns drains).
	PullWS float64
	// PullGrowth is the growth phase: the pull-poll measurement, batch
	// ingest and the delivery burn-down with 100,000 and with
	// GrowthEvents stored events.
	PullGrowth []GrowthResult
}

// pullBacklog is the events the pull-poll and pull-ws phases drain.
const pullBacklog = 60000

const benchType = "bench.order.created"

// bareType is benchType's twin that nobody subscribes to: ingest with no
// delivery to route or queue.
const bareType = "bench.order.archived"

const benchSchema = `{"type":"object","required":["order","qty","customer","lines"],
 "properties":{"order":{"type":"string"},"qty":{"type":"integer","minimum":1},
  "customer":{"type":"object","required":["id","name"],"properties":{"id":{"type":"string"},"name":{"type":"string"},"email":{"type":"string","format":"email"}}},
  "lines":{"type":"array","items":{"type":"object","required":["sku","price"],"properties":{"sku":{"type":"string"},"price":{"type":"number","minimum":0}}}},
  "note":{"type":"string","maxLength":2000}}}`

// Run boots a node and runs every phase.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	if o.LatencyRate <= 0 {
		o.LatencyRate = 1000
	}
	if o.BatchClients <= 0 {
		o.BatchClients = 8
	}
	if o.SingleClients <= 0 {
		o.SingleClients = 64
	}
	dir, err := os.MkdirTemp("", "herald-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The embedded cluster runs as an unprivileged user when we are root; it
	// must be able to enter the folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a, err := app.Start(ctx, app.Config{
		Listener: ln, DatabaseURL: o.DatabaseURL, DataDir: dir, BootstrapAdmin: "bench:bench-secret-0123456789",
		AllowPrivateTargets: true, Workers: 500, DBMaxConns: 60, Logger: o.Logger,
		RetrySchedule: webhook.RetrySchedule{time.Second}, IngestCommitters: o.Committers, NoHandoff: o.NoHandoff,
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = a.Stop(context.Background()) }()

	rep := &Report{CPUs: runtime.NumCPU()}
	// prof starts a phase: its CPU profile (with -profile-dir) and its
	// CPU accounting, both ended by the function it returns.
	prof := func(name string) func() cpuUse {
		start := sampleCPU()
		if o.ProfileDir == "" {
			return start.since
		}
		f, err := os.Create(filepath.Join(o.ProfileDir, "cpu-"+name+".pprof"))
		if err != nil {
			return start.since
		}
		_ = pprof.StartCPUProfile(f)
		return func() cpuUse { pprof.StopCPUProfile(); _ = f.Close(); return start.since() }
	}
	rc := newReceiver()
	defer rc.close()
	b := &bencher{base: a.URL(), client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}}
	if err := b.setup(rc.url); err != nil {
		return nil, fmt.Errorf("set up: %w", err)
	}
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, format+"\n", args...) }
	say("machine: %d CPUs, %s/%s, Go %s", rep.CPUs, runtime.GOOS, runtime.GOARCH, runtime.Version())

	// The COPY floor: the same rows as ingest stores, COPYed 100 at a time
	// into a bare table by as many connections as there are committers.
	has := func(p string) bool { return len(o.Phases) == 0 || slices.Contains(o.Phases, p) }
	if has("copy") {
		rep.CopyFloor, err = copyFloor(ctx, a, b.sampleBody(), o.Duration)
		if err != nil {
			return nil, fmt.Errorf("copy floor: %w", err)
		}
		say("COPY floor (bare table, 100 rows/tx, 4 conns): %.0f rows/s", rep.CopyFloor)
	}

	// ofFloor is a rate's ratio to the COPY floor of this run, when
	// measured, as the report prints it.
	ofFloor := func(rate float64) string {
		if rep.CopyFloor <= 0 {
			return ""
		}
		return fmt.Sprintf(" (%.2f x COPY floor)", rate/rep.CopyFloor)
	}
	// Ingest phases run with deliveries paused so they measure ingest alone;
	// the backlog they leave is the delivery phase's work.
	if err := a.Queue().PauseDeliveries(ctx); err != nil {
		return nil, err
	}
	if has("batch") {
		done := prof("ingest-batch")
		n, _ := b.run(o.Duration, o.BatchClients, 100)
		use := done()
		rep.IngestBatch = float64(n) / o.Duration.Seconds()
		say("ingest, batches of 100 x ~1 KB, schema on, 1 endpoint, %d clients: %.0f events/s%s",
			o.BatchClients, rep.IngestBatch, ofFloor(rep.IngestBatch))
		say("  %s", use.line(n))
	}
	if has("batch-bare") {
		b.bare = true
		done := prof("ingest-batch-bare")
		n, _ := b.run(o.Duration, o.BatchClients, 100)
		use := done()
		b.bare = false
		rep.IngestBatchBare = float64(n) / o.Duration.Seconds()
		say("ingest, batches of 100 x ~1 KB, schema on, no endpoint, %d clients: %.0f events/s%s",
			o.BatchClients, rep.IngestBatchBare, ofFloor(rep.IngestBatchBare))
		say("  %s", use.line(n))
	}
	if has("single") {
		done := prof("ingest-single")
		n, lat := b.run(o.Duration, o.SingleClients, 1)
		use := done()
		rep.IngestSingle = float64(n) / o.Duration.Seconds()
		rep.SingleRequestP50, rep.SingleRequestP99 = pct(lat, 50), pct(lat, 99)
		say("ingest, single-event requests, %d concurrent producers: %.0f events/s (request p50 %s, p99 %s)",
			o.SingleClients, rep.IngestSingle, rep.SingleRequestP50, rep.SingleRequestP99)
		say("  %s", use.line(n))
	}

	burnDown := func(name string) (burnDownResult, error) {
		return burnDownOf(ctx, a, rc, prof, name)
	}
	bd, err := burnDown("deliveries")
	if err != nil {
		return nil, err
	}
	rep.Deliveries = bd.rate
	say("deliveries (burn-down of %d queued, loopback receiver, 500 workers): %.0f deliveries/s (%d failed)", bd.queued, bd.rate, bd.failed)
	say("  %s", bd.cpu.line(bd.delivered))

	// End to end: producers and deliveries at once, from the first event
	// produced to the last signature-verified receipt.
	if has("e2e") {
		done := prof("e2e")
		r, err := b.endToEnd(ctx, rc, o.Duration, o.BatchClients)
		use := done()
		if err != nil {
			return nil, fmt.Errorf("e2e: %w", err)
		}
		rep.EndToEnd, rep.PeakRSSMB = r.rate, r.peakRSSMB
		say("end to end, batches of 100, %d clients, 1 endpoint, deliveries running: %d events, first produce to last verified receipt %s: %.0f events/s%s; %d bad signatures; peak RSS of the process (server and load generator) %.0f MB",
			o.BatchClients, r.events, r.span.Round(time.Millisecond), r.rate, ofFloor(r.rate), r.bad, r.peakRSSMB)
		say("  %s", use.line(r.events))
	}

	// Ordered delivery: the same burn-down with the endpoint ordered, so each
	// of the 1,000 partition keys is sent one event at a time.
	if has("ordered") {
		if err := a.Queue().PauseDeliveries(ctx); err != nil {
			return nil, err
		}
		if _, err := b.call("PATCH", "/v1/endpoints/"+b.endpoint, b.consumer, map[string]any{"ordered": true}); err != nil {
			return nil, err
		}
		b.run(o.Duration, o.BatchClients, 100) // the backlog
		bd, err := burnDown("ordered")
		if err != nil {
			return nil, err
		}
		rep.OrderedDeliveries = bd.rate
		say("ordered deliveries (burn-down of %d queued over 1,000 partition keys): %.0f deliveries/s (%.2f x unordered, %d failed)",
			bd.queued, bd.rate, bd.rate/rep.Deliveries, bd.failed)
		say("  %s", bd.cpu.line(bd.delivered))
		if _, err := b.call("PATCH", "/v1/endpoints/"+b.endpoint, b.consumer, map[string]any{"ordered": false}); err != nil {
			return nil, err
		}
	}

	// Latency at a steady rate: producer request start → receiver's first
	// attempt, for single-event requests.
	if has("latency") {
		rc.track.Store(true)
		done := prof("latency")
		sent, reqLat := b.steady(o.Duration, o.LatencyRate, rc)
		use := done()
		time.Sleep(2 * time.Second)
		lats := rc.latencies()
		rep.LatencyCount = len(lats)
		rep.LatencyRateSent = float64(sent) / o.Duration.Seconds()
		rep.LatencyP50, rep.LatencyP90, rep.LatencyP99, rep.LatencyMax = pct(lats, 50), pct(lats, 90), pct(lats, 99), pct(lats, 100)
		say("latency at %.0f events/s (%d events received of %d sent): p50 %s, p90 %s, p99 %s, max %s",
			rep.LatencyRateSent, len(lats), sent, rep.LatencyP50, rep.LatencyP90, rep.LatencyP99, rep.LatencyMax)
		say("  of which the producer's request (until 202): p50 %s, p99 %s", pct(reqLat, 50), pct(reqLat, 99))
		say("  %s", use.line(sent))
		_ = a.Pool().QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&rep.RiverJobsAtEnd)
		say("river_job rows at the end: %d (completed jobs are cleaned after 10 minutes)", rep.RiverJobsAtEnd)
	}

	// Long polling: one instance drains a backlog of its group in batches
	// of 100, acking each (webhook deliveries paused: it runs last).
	if has("pull-poll") {
		if err := a.Queue().PauseDeliveries(ctx); err != nil {
			return nil, err
		}
		done := prof("pull-poll")
		rates, err := b.pullPoll(ctx, a, pullBacklog, false)
		if err != nil {
			done()
			return nil, fmt.Errorf("pull-poll: %w", err)
		}
		rep.PullPoll = median(rates)
		say("long polling (one instance, batches of 100 acked by id before the next fetch, backlog of %d, median of %s): %.0f events/s",
			pullBacklog, rateList(rates), rep.PullPoll)
		rates, err = b.pullPoll(ctx, a, pullBacklog, true)
		done()
		if err != nil {
			return nil, fmt.Errorf("pull-poll: %w", err)
		}
		rep.PullPollPipelined = median(rates)
		say("long polling, pipelined (each batch acked while the next is fetched, backlog of %d, median of %s): %.0f events/s",
			pullBacklog, rateList(rates), rep.PullPollPipelined)
	}
	// WebSocket: one connection drains a backlog of its group, acking
	// every 100 events by id.
	if has("pull-ws") {
		if err := a.Queue().PauseDeliveries(ctx); err != nil {
			return nil, err
		}
		done := prof("pull-ws")
		rates, err := b.pullWS(ctx, a, pullBacklog)
		done()
		if err != nil {
			return nil, fmt.Errorf("pull-ws: %w", err)
		}
		rep.PullWS = median(rates)
		say("websocket (one connection, acks of 100 ids, backlog of %d, median of %s): %.0f events/s",
			pullBacklog, rateList(rates), rep.PullWS)
	}

	// Cost as the store grows: it fills the store with millions of events,
	// so it runs only when named ("pull-growth" is its older name).
	if slices.Contains(o.Phases, "growth") || slices.Contains(o.Phases, "pull-growth") {
		if err := a.Queue().PauseDeliveries(ctx); err != nil {
			return nil, err
		}
		if o.GrowthEvents <= 0 {
			o.GrowthEvents = 10_000_000
		}
		say("growth: long polling, batch ingest and deliveries with 100,000 and with %d stored events", o.GrowthEvents)
		burn := func(name string) (float64, error) {
			bd, err := burnDown(name)
			return bd.rate, err
		}
		rep.PullGrowth, err = b.growth(ctx, a, 100_000, o.GrowthEvents, o.BatchClients, burn, say)
		if err != nil {
			return nil, fmt.Errorf("growth: %w", err)
		}
		for _, r := range rep.PullGrowth {
			say("  %d stored: long polling %.0f events/s, fetch of 100 p50 %s, p99 %s; batch ingest %.0f events/s; deliveries %.0f/s",
				r.Stored, r.Rate, r.FetchP50, r.FetchP99, r.Ingest, r.Deliveries)
		}
		s, l := rep.PullGrowth[0], rep.PullGrowth[1]
		say("  large vs small: long polling %.2f x, fetch p50 %.2f x, batch ingest %.2f x, deliveries %.2f x",
			l.Rate/s.Rate, float64(l.FetchP50)/float64(s.FetchP50), l.Ingest/s.Ingest, l.Deliveries/s.Deliveries)
	}
	return rep, nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s) - 1) * p / 100
	return s[i]
}

type bencher struct {
	base     string
	client   *http.Client
	producer [2]string
	consumer [2]string
	// producerID and consumerID are the clients' ids.
	producerID, consumerID any
	endpoint               string
	// endpointSecret is the endpoint's signing secret, to verify receipts.
	endpointSecret string
	// bare makes event produce bareType (set between phases only).
	bare bool
	seq  atomic.Int64
}

func (b *bencher) call(method, path string, cred [2]string, body any) (map[string]any, error) {
	buf, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, b.base+path, bytes.NewReader(buf))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(cred[0], cred[1])
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %d %v", method, path, resp.StatusCode, m)
	}
	return m, nil
}

func (b *bencher) setup(target string) error {
	adm := [2]string{"bench", "bench-secret-0123456789"}
	t, err := b.call("POST", "/v1/tenants", adm, map[string]any{"name": "bench"})
	if err != nil {
		return err
	}
	p, err := b.call("POST", "/v1/clients", adm, map[string]any{"tenant": t["id"], "name": "producer", "roles": []string{"producer"}})
	if err != nil {
		return err
	}
	c, err := b.call("POST", "/v1/clients", adm, map[string]any{"tenant": t["id"], "name": "consumer", "roles": []string{"consumer"}})
	if err != nil {
		return err
	}
	b.producer = [2]string{p["key"].(string), p["secret"].(string)}
	b.producerID, b.consumerID = p["id"], c["id"]
	if _, err := b.call("PUT", "/v1/event-types/"+benchType, adm, map[string]any{
		"tenant": t["id"], "schema": json.RawMessage(benchSchema), "producers": []any{p["id"]}, "consumers": []any{c["id"]},
	}); err != nil {
		return err
	}
	if _, err := b.call("PUT", "/v1/event-types/"+bareType, adm, map[string]any{
		"tenant": t["id"], "schema": json.RawMessage(benchSchema), "producers": []any{p["id"]}, "consumers": []any{},
	}); err != nil {
		return err
	}
	b.consumer = [2]string{c["key"].(string), c["secret"].(string)}
	ep, err := b.call("POST", "/v1/endpoints", b.consumer, map[string]any{"url": target, "types": []string{benchType}})
	if err != nil {
		return err
	}
	b.endpoint = ep["id"].(string)
	b.endpointSecret, _ = ep["secret"].(string)
	return nil
}

var note = strconv.Quote(strings.Repeat("lorem ipsum ", 55))

// event returns one ~1 KB CloudEvent as JSON.
func (b *bencher) event(buf []byte) []byte {
	n := b.seq.Add(1)
	typ := benchType
	if b.bare {
		typ = bareType
	}
	return fmt.Appendf(buf, `{"specversion":"1.0","id":"e-%d","source":"/bench","type":%q,"datacontenttype":"application/json",`+
		`"partitionkey":"c-%d","data":{"order":"o-%d","qty":3,"customer":{"id":"c-%d","name":"Ana Popescu","email":"ana@example.md"},`+
		`"lines":[{"sku":"A-1","price":12.5},{"sku":"B-2","price":3}],"note":%s}}`, n, typ, n%1000, n, n%1000, note)
}

func (b *bencher) sampleBody() []byte { return b.event(nil) }

// run sends for d with the given concurrency and batch size, returning
// accepted events and per-request latencies.
func (b *bencher) run(d time.Duration, clients, batch int) (int64, []time.Duration) {
	var accepted atomic.Int64
	var mu sync.Mutex
	var lats []time.Duration
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			buf := make([]byte, 0, 120*1024)
			for time.Now().Before(stop) {
				buf = buf[:0]
				ct := "application/cloudevents+json"
				if batch > 1 {
					ct = "application/cloudevents-batch+json"
					buf = append(buf, '[')
					for i := range batch {
						if i > 0 {
							buf = append(buf, ',')
						}
						buf = b.event(buf)
					}
					buf = append(buf, ']')
				} else {
					buf = b.event(buf)
				}
				t0 := time.Now()
				if b.post(buf, ct) {
					accepted.Add(int64(batch))
					local = append(local, time.Since(t0))
				}
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return accepted.Load(), lats
}

func (b *bencher) post(body []byte, ct string) bool {
	req, _ := http.NewRequest("POST", b.base+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.SetBasicAuth(b.producer[0], b.producer[1])
	resp, err := b.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusAccepted
}

// steady sends single events at rate/s for d, recording each send time.
func (b *bencher) steady(d time.Duration, rate int, rc *receiver) (int64, []time.Duration) {
	var sent atomic.Int64
	var mu sync.Mutex
	var lats []time.Duration
	interval := time.Second / time.Duration(rate)
	stop := time.Now().Add(d)
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	next := time.Now()
	for next.Before(stop) {
		if w := time.Until(next); w > 0 {
			time.Sleep(w)
		}
		next = next.Add(interval)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body := b.event(nil)
			id := eventID(body)
			t0 := time.Now()
			rc.sentAt.Store(id, t0)
			if b.post(body, "application/cloudevents+json") {
				sent.Add(1)
				mu.Lock()
				lats = append(lats, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return sent.Load(), lats
}

// median is the middle of rates (the upper middle of an even count).
func median(rates []float64) float64 {
	s := slices.Sorted(slices.Values(rates))
	return s[len(s)/2]
}

// rateList prints rates as "a / b / c".
func rateList(rates []float64) string {
	parts := make([]string, len(rates))
	for i, r := range rates {
		parts[i] = strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strings.Join(parts, " / ")
}
