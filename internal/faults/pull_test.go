package faults

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// wsConsumer reads a consumer group over a WebSocket of one node, acking
// every event it reads (in batches), and records what it got.
type wsConsumer struct {
	conn *websocket.Conn
	mu   sync.Mutex
	// got is every event read, in order: id, partition and sequence.
	got   []pulled
	acked map[string]bool
	err   error
	done  chan struct{}
	// hold stops the acks: what is read from then on stays unacknowledged.
	hold atomic.Bool
}

type pulled struct {
	ID        string
	Partition int
	Seq       string
}

// consumeWS connects to the group on n and reads until the connection
// ends, acking each batch of events as it reads them.
func consumeWS(t *testing.T, n *node, group string) *wsConsumer {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(n.consumer)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/v1/consume/ws?group="+group, &websocket.DialOptions{
		HTTPHeader: h, Subprotocols: []string{"cloudevents.json"}})
	if err != nil {
		t.Fatalf("dial %s: %v", n.addr, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsConsumer{conn: conn, acked: map[string]bool{}, done: make(chan struct{})}
	t.Cleanup(func() { _ = conn.CloseNow() })
	go c.run()
	return c
}

func (c *wsConsumer) run() {
	defer close(c.done)
	read := make(chan string, 1024)
	acker := make(chan struct{})
	go func() {
		// Acks go out every 50 events, or every 100 ms for fewer.
		defer close(acker)
		var pending []string
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			closed := false
			select {
			case id, ok := <-read:
				if ok {
					pending = append(pending, id)
				}
				closed = !ok
			case <-tick.C:
			}
			if len(pending) > 0 && !c.hold.Load() && (len(pending) >= 50 || closed || len(read) == 0) {
				frame, _ := json.Marshal(map[string]any{"ack": pending})
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := c.conn.Write(ctx, websocket.MessageText, frame)
				cancel()
				if err != nil {
					return
				}
				c.mu.Lock()
				for _, id := range pending {
					c.acked[id] = true
				}
				c.mu.Unlock()
				pending = pending[:0]
			}
			if closed {
				return
			}
		}
	}()
	defer func() { close(read); <-acker }()
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var m struct {
			ID          string `json:"id"`
			SpecVersion string `json:"specversion"`
			Partition   int    `json:"partition"`
			Sequence    string `json:"sequence"`
		}
		if json.Unmarshal(data, &m) != nil || m.SpecVersion == "" {
			continue // a notice
		}
		c.mu.Lock()
		c.got = append(c.got, pulled{m.ID, m.Partition, m.Sequence})
		c.mu.Unlock()
		read <- m.ID
	}
}

func (c *wsConsumer) snapshot() ([]pulled, map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	acked := make(map[string]bool, len(c.acked))
	for id := range c.acked {
		acked[id] = true
	}
	return append([]pulled(nil), c.got...), acked
}

// TestTwoNodesShareGroupThroughKill9: two `herald serve` processes on one
// PostgreSQL serve one consumer group to one WebSocket each. While both
// live, no event goes to both. Then node a's consumer stops acknowledging
// and the node is killed with SIGKILL in the middle of the stream: once
// its instance expires (the idle TTL, here
// the least allowed, 1m), the survivor holds every partition, receives
// the events the dead node had handed out and not seen acknowledged, and
// every event is acknowledged in the group; each partition's events reach
// the survivor in log order.
func TestTwoNodesShareGroupThroughKill9(t *testing.T) {
	t.Parallel()
	dsn := heraldtest.NewDatabase(t)
	rc := newReceiver(t, 0)
	key := masterKey(t)
	nodeEnv := func() map[string]string {
		env := baseEnv(t, freeAddr(t))
		env["HERALD_DATABASE_URL"] = dsn
		env["HERALD_MASTER_KEY"] = key
		env["HERALD_CONSUMER_INSTANCE_TTL"] = "1m"
		return env
	}
	a := startNode(t, nodeEnv())
	producer, _ := a.world(rc.url())
	b := startNode(t, nodeEnv())
	b.consumer = a.consumer
	a.must(201, "POST", "/v1/consumer-groups", a.consumer, map[string]any{
		"name": "shared", "types": []string{eventType}, "ack_wait": "5s"})

	onA, onB := consumeWS(t, a, "shared"), consumeWS(t, b, "shared")
	ids := eventIDs("pull", 3000)
	a.produce(producer, ids[:1500], 100)
	// Both read while both live.
	if !waitFor(60*time.Second, func() bool {
		gotA, _ := onA.snapshot()
		gotB, _ := onB.snapshot()
		return len(gotA) > 200 && len(gotB) > 200 && len(gotA)+len(gotB) >= 1500
	}) {
		gotA, _ := onA.snapshot()
		gotB, _ := onB.snapshot()
		t.Fatalf("before the kill: node a read %d, node b %d of 1,500", len(gotA), len(gotB))
	}
	gotA, _ := onA.snapshot()
	gotB, _ := onB.snapshot()
	seenA := map[string]bool{}
	for _, p := range gotA {
		seenA[p.ID] = true
	}
	for _, p := range gotB {
		if seenA[p.ID] {
			t.Fatalf("event %s went to both nodes' instances while both lived", p.ID)
		}
	}

	// More events (through node b, which lives on), and node a dies in
	// the middle of reading them.
	produced := make(chan struct{})
	go func() { defer close(produced); b.produce(producer, ids[1500:], 100) }()
	if !waitFor(60*time.Second, func() bool { g, _ := onA.snapshot(); return len(g) > len(gotA)+100 }) {
		t.Fatal("node a read nothing of the second half")
	}
	// Its last events are read and never acknowledged: they must reach
	// node b.
	onA.hold.Store(true)
	heldFrom, _ := onA.snapshot()
	if !waitFor(30*time.Second, func() bool { g, _ := onA.snapshot(); return len(g) > len(heldFrom)+20 }) {
		t.Fatal("node a read nothing after it stopped acking")
	}
	a.signal(syscall.SIGKILL)
	killedAt := time.Now()
	a.wait(10 * time.Second)
	<-onA.done
	<-produced
	gotA, ackedA := onA.snapshot()

	// The survivor gets everything once the dead instance expires.
	if !waitFor(150*time.Second, func() bool {
		_, ackedB := onB.snapshot()
		for _, id := range ids {
			if !ackedA[id] && !ackedB[id] {
				return false
			}
		}
		return true
	}) {
		_, ackedB := onB.snapshot()
		missing := 0
		for _, id := range ids {
			if !ackedA[id] && !ackedB[id] {
				missing++
			}
		}
		t.Fatalf("%d of %d events never acknowledged %s after the kill", missing, len(ids), time.Since(killedAt).Round(time.Second))
	}
	took := time.Since(killedAt)

	gotB, _ = onB.snapshot()
	// An event read through both nodes is one node a read before it died
	// (its ack may have been lost with it); and the survivor gets each
	// partition's events in log order, redeliveries first.
	readA := map[string]bool{}
	for _, p := range gotA {
		readA[p.ID] = true
	}
	twice := 0
	lastSeq := map[int]string{}
	seenB := map[string]bool{}
	for _, p := range gotB {
		if readA[p.ID] {
			twice++
		}
		// An event not acknowledged within the ack wait comes again (to
		// node b too, when its acks were slow); first receipts are what
		// must keep each partition's order.
		if seenB[p.ID] {
			continue
		}
		seenB[p.ID] = true
		if p.Seq <= lastSeq[p.Partition] {
			t.Errorf("partition %d: sequence %s first received after %s on node b (read through node a: %v)",
				p.Partition, p.Seq, lastSeq[p.Partition], readA[p.ID])
		}
		lastSeq[p.Partition] = p.Seq
	}
	for _, p := range gotA[len(heldFrom):] {
		if !slices.ContainsFunc(gotB, func(q pulled) bool { return q.ID == p.ID }) {
			t.Errorf("event %s, read through node a and never acknowledged, did not reach node b", p.ID)
		}
	}
	if !waitFor(10*time.Second, func() bool { return dbCount(t, dsn, `SELECT count(*) FROM group_inflight`) == 0 }) {
		t.Errorf("%d events still in flight after all were acknowledged", dbCount(t, dsn, `SELECT count(*) FROM group_inflight`))
	}
	t.Logf("kill -9 of one of two nodes: node a read %d, node b %d; every event acknowledged %s after the kill; %d read through both",
		len(gotA), len(gotB), took.Round(time.Second), twice)
}
