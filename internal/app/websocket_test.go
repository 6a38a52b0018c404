package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/tokens"
)

// wsConn is a WebSocket consumer connection: frames arrive on frames (a
// reader goroutine decodes them) until the connection ends (closed is
// then closed, with err the reason).
type wsConn struct {
	t      *testing.T
	conn   *websocket.Conn
	raw    net.Conn // the TCP connection under it
	frames chan map[string]any
	closed chan struct{}
	err    error
}

// dialWS opens GET /v1/consume/ws?query with c's Basic credentials (none
// when c is empty) and extra headers; it returns the answer when the
// upgrade is refused.
func (e *env) dialWS(c cred, query string, subprotocols []string, header ...string) (*wsConn, *http.Response, error) {
	e.t.Helper()
	h := http.Header{}
	if c.key != "" {
		h.Set("Authorization", basic(c))
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	ws := &wsConn{t: e.t, frames: make(chan map[string]any, 20000), closed: make(chan struct{})}
	var mu sync.Mutex
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		mu.Lock()
		ws.raw = conn
		mu.Unlock()
		return conn, err
	}}
	e.t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws://"+e.app.Addr()+"/v1/consume/ws?"+query, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr}, HTTPHeader: h, Subprotocols: subprotocols,
	})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(1 << 20)
	ws.conn = conn
	go func() {
		defer close(ws.closed)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				ws.err = err
				return
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				ws.err = fmt.Errorf("frame %s: %w", data, err)
				return
			}
			ws.frames <- m
		}
	}()
	e.t.Cleanup(func() { _ = conn.CloseNow() })
	return ws, resp, nil
}

// mustDialWS is dialWS that must succeed.
func (e *env) mustDialWS(c cred, query string) *wsConn {
	e.t.Helper()
	ws, resp, err := e.dialWS(c, query, []string{"cloudevents.json"})
	if err != nil {
		var body []byte
		if resp != nil {
			body, _ = io.ReadAll(resp.Body)
		}
		e.t.Fatalf("dial: %v %s", err, body)
	}
	if p := ws.conn.Subprotocol(); p != "cloudevents.json" {
		e.t.Fatalf("subprotocol %q", p)
	}
	return ws
}

// send writes a control frame.
func (ws *wsConn) send(v any) {
	ws.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		ws.t.Fatal(err)
	}
	if err := ws.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		ws.t.Fatalf("write %s: %v", b, err)
	}
}

// next returns the next frame within timeout, or nil.
func (ws *wsConn) next(timeout time.Duration) map[string]any {
	select {
	case m := <-ws.frames:
		return m
	case <-time.After(timeout):
		return nil
	}
}

// nextEvents collects n events (skipping partition notices), failing on
// an error notice or when they do not come within timeout.
func (ws *wsConn) nextEvents(n int, timeout time.Duration) []map[string]any {
	ws.t.Helper()
	var out []map[string]any
	deadline := time.Now().Add(timeout)
	for len(out) < n {
		m := ws.next(time.Until(deadline))
		switch {
		case m == nil:
			ws.t.Fatalf("got %d of %d events", len(out), n)
		case m["specversion"] != nil:
			out = append(out, m)
		case m["notice"] == "error":
			ws.t.Fatalf("error notice %v", m)
		}
	}
	return out
}

// nextNotice returns the next frame, which must be a notice of kind.
func (ws *wsConn) nextNotice(kind string, timeout time.Duration) map[string]any {
	ws.t.Helper()
	m := ws.next(timeout)
	if m == nil || m["notice"] != kind {
		ws.t.Fatalf("got %v, want a %s notice", m, kind)
	}
	if m["specversion"] != nil {
		ws.t.Fatalf("a notice with specversion: %v", m)
	}
	return m
}

// awaitPartitions reads until the connection's last assigned set has n
// partitions.
func (ws *wsConn) awaitPartitions(n int, timeout time.Duration) []int {
	ws.t.Helper()
	deadline := time.Now().Add(timeout)
	var held []int
	for len(held) != n {
		m := ws.next(time.Until(deadline))
		if m == nil {
			ws.t.Fatalf("holds %v, want %d partitions", held, n)
		}
		if m["notice"] == "partitions_assigned" {
			held = nil
			for _, p := range m["partitions"].([]any) {
				held = append(held, int(p.(float64)))
			}
		}
	}
	return held
}

// createGroup creates a group of w's type for w's consumer.
func (e *env) createGroup(w *world, name string) {
	e.t.Helper()
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": name, "types": []string{w.typ}}))
}

// keyedOrders sends n order events o-00000... over keys partition keys,
// in batches.
func (e *env) keyedOrders(w *world, n, keys int) {
	e.t.Helper()
	var batch []map[string]any
	for i := range n {
		ev := orderEvent(fmt.Sprintf("o-%05d", i), 1)
		ev["partitionkey"] = fmt.Sprintf("key-%d", i%keys)
		batch = append(batch, ev)
		if len(batch) == 500 || i == n-1 {
			e.must(202, e.send(w.producer, batch...))
			batch = nil
		}
	}
}

// groupSettled waits until a group has nothing in flight (the acks sent
// are applied) and checks it has no lag.
func (e *env) groupSettled(w *world, name string) {
	e.t.Helper()
	pool := e.pool()
	eventually(e.t, 5*time.Second, "nothing in flight in "+name, func() bool {
		var inflight int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM group_inflight f
			JOIN consumer_groups g ON g.id = f.group_id WHERE g.client_id = $1 AND g.name = $2`, w.consumerID, name).Scan(&inflight)
		return err == nil && inflight == 0
	})
	if n := lag(e.t, e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups/"+name, nil))); n != 0 {
		e.t.Fatalf("group %s lags %d", name, n)
	}
}

// ackLog records, across consumers, every event received and acked, and
// checks each key's acks come in order.
type ackLog struct {
	t         *testing.T
	mu        sync.Mutex
	delivered map[string]int
	acked     map[string]int
	lastOfKey map[string]string
}

func newAckLog(t *testing.T) *ackLog {
	return &ackLog{t: t, delivered: map[string]int{}, acked: map[string]int{}, lastOfKey: map[string]string{}}
}

func (l *ackLog) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// consume reads ws and acks every 100 events (and what is left when no
// frame came for 100 ms) until stop is closed; ackUntil > 0 stops acking
// (but goes on reading) after that many acks and then returns on its own.
func (l *ackLog) consume(ws *wsConn, stop <-chan struct{}, ackUntil int) {
	var pending []map[string]any
	acks := 0
	flush := func() {
		if len(pending) == 0 || (ackUntil > 0 && acks >= ackUntil) {
			return
		}
		ids := make([]string, len(pending))
		l.mu.Lock()
		for i, ev := range pending {
			id, key := ev["id"].(string), ev["partitionkey"].(string)
			if last := l.lastOfKey[key]; last >= id {
				l.t.Errorf("key %s: %s acked after %s", key, id, last)
			}
			l.lastOfKey[key] = id
			l.acked[id]++
			ids[i] = id
		}
		l.mu.Unlock()
		acks += len(ids)
		pending = nil
		ws.send(map[string]any{"ack": ids})
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ws.closed:
			return
		case m := <-ws.frames:
			if m["notice"] == "error" {
				l.t.Errorf("error notice: %v", m)
			}
			if m["specversion"] == nil {
				continue
			}
			l.mu.Lock()
			l.delivered[m["id"].(string)]++
			l.mu.Unlock()
			pending = append(pending, m)
			if len(pending) >= 100 {
				flush()
			}
		case <-tick.C:
			flush()
			if ackUntil > 0 && acks >= ackUntil && len(pending) > 0 {
				return // holds unacked events
			}
		}
	}
}

// threeInstances creates a group and connects three WebSockets to it,
// waiting until each holds its 4 partitions.
func (e *env) threeInstances(w *world, group string) []*wsConn {
	e.t.Helper()
	e.createGroup(w, group)
	var conns []*wsConn
	for range 3 {
		conns = append(conns, e.mustDialWS(w.consumer, "group="+group))
	}
	var all []int
	for _, ws := range conns {
		all = append(all, ws.awaitPartitions(4, 10*time.Second)...)
	}
	if slices.Sort(all); !slices.Equal(all, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}) {
		e.t.Fatalf("partitions held: %v", all)
	}
	return conns
}

// TestWebSocketThreeInstancesInOrder: 10,000 events over 100 partition
// keys, consumed by three WebSocket instances of one group that each hold
// 4 partitions: each key in order, every event delivered and acked exactly
// once in the group, nothing left in flight, the cursors at the head.
func TestWebSocketThreeInstancesInOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	conns := e.threeInstances(w, "orders")
	const n = 10000
	e.keyedOrders(w, n, 100)
	l := newAckLog(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, ws := range conns {
		wg.Go(func() { l.consume(ws, stop, 0) })
	}
	eventually(t, 60*time.Second, "every event acked", func() bool { return l.ackedCount() == n })
	time.Sleep(300 * time.Millisecond) // a redelivery would show now
	close(stop)
	wg.Wait()
	for id, c := range l.delivered {
		if c != 1 || l.acked[id] != 1 {
			t.Errorf("%s delivered %d times, acked %d times", id, c, l.acked[id])
		}
	}
	if len(l.delivered) != n {
		t.Fatalf("%d events delivered, want %d", len(l.delivered), n)
	}
	e.groupSettled(w, "orders")
}

// TestWebSocketKillInstance: one of three instances is killed mid-stream
// (its TCP connection closed without a close frame, as a killed process's
// is): its unacked events reach the other two at once, every event is
// acked once, each key in order across the instances.
func TestWebSocketKillInstance(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	conns := e.threeInstances(w, "orders")
	const n = 3000
	e.keyedOrders(w, n, 100)
	l := newAckLog(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, ws := range conns[1:] {
		wg.Go(func() { l.consume(ws, stop, 0) })
	}
	// The victim acks 200 events, reads on without acking, and dies.
	victim := conns[0]
	l.consume(victim, stop, 200)
	time.Sleep(300 * time.Millisecond) // its last ack is applied
	l.mu.Lock()
	unacked := 0
	for id := range l.delivered {
		if l.acked[id] == 0 {
			unacked++
		}
	}
	l.mu.Unlock()
	if unacked == 0 {
		t.Fatal("the victim holds no unacked events")
	}
	killed := time.Now()
	if err := victim.raw.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "every event acked", func() bool { return l.ackedCount() == n })
	if time.Since(killed) > 30*time.Second {
		t.Fatalf("the victim's events took %s to come back", time.Since(killed))
	}
	close(stop)
	wg.Wait()
	for id, c := range l.acked {
		if c != 1 {
			t.Errorf("%s acked %d times", id, c)
		}
	}
	e.groupSettled(w, "orders")
}

// errorNotice reads the next frame, an error notice, and returns its
// status, field and rule.
func (ws *wsConn) errorNotice() (int, string, string) {
	ws.t.Helper()
	m := ws.nextNotice("error", 5*time.Second)
	field, rule := "", ""
	if errs, _ := m["errors"].([]any); len(errs) > 0 {
		fe := errs[0].(map[string]any)
		field, rule = fe["field"].(string), fe["rule"].(string)
	}
	if m["title"] == nil || m["type"] == nil {
		ws.t.Fatalf("error notice without its problem: %v", m)
	}
	return int(m["status"].(float64)), field, rule
}

// TestWebSocketControlFrames: malformed and refused control frames (bad
// JSON, a binary frame, an unknown id, the id of an event in flight in
// another group only, an ack_upto past the end, a bad delay, two kinds in
// one frame) are answered with error notices carrying the HTTP API's
// problem, change nothing, and leave the connection usable.
func TestWebSocketControlFrames(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	e.createGroup(w, "orders")
	e.createGroup(w, "second")
	ws := e.mustDialWS(w.consumer, "group=orders")
	ws.awaitPartitions(12, 10*time.Second)
	poll := e.instance(w.consumer, "second")
	e.must(202, e.send(w.producer, orderEvent("g-1", 1)))
	first := ws.nextEvents(1, 10*time.Second)[0]
	ws.send(map[string]any{"ack": []string{"g-1"}})
	// g-1 is in flight in "second" only now.
	if _, evs := poll.events("max=10&wait=5s"); len(evs) != 1 {
		t.Fatalf("second group got %v", ids(evs))
	}
	e.must(202, e.send(w.producer, orderEvent("o-1", 1)))
	ev := ws.nextEvents(1, 10*time.Second)[0]

	for _, tc := range []struct {
		frame       string
		status      int
		field, rule string
	}{
		{`{"ack": [`, 400, "", ""},
		{`{"ack": ["nope"]}`, 422, "ack", "unknown"},
		{`{"ack": ["g-1"]}`, 422, "ack", "unknown"},
		{`{"ack": []}`, 422, "ack", "required"},
		{fmt.Sprintf(`{"ack_upto": {"partition": %v, "sequence": "99999999999999999"}}`, ev["partition"]), 422, "ack_upto.sequence", "past-end"},
		{`{"ack_upto": {"partition": 12, "sequence": "1"}}`, 422, "ack_upto.partition", "range"},
		{`{"nack": ["o-1"], "delay": "soon"}`, 422, "delay", "range"},
		{`{"ack": ["o-1"], "nack": ["o-1"]}`, 422, "", "oneOf"},
		{`{"dead": "o-1"}`, 422, "reason", "required"},
		{`{"acks": ["o-1"]}`, 400, "", ""},
	} {
		if err := ws.conn.Write(t.Context(), websocket.MessageText, []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		st, field, rule := ws.errorNotice()
		if st != tc.status || field != tc.field || rule != tc.rule {
			t.Errorf("%s: %d %s/%s, want %d %s/%s", tc.frame, st, field, rule, tc.status, tc.field, tc.rule)
		}
	}
	if err := ws.conn.Write(t.Context(), websocket.MessageBinary, []byte(`{"ack": ["o-1"]}`)); err != nil {
		t.Fatal(err)
	}
	if st, field, rule := ws.errorNotice(); st != 422 || field != "frame" || rule != "text" {
		t.Errorf("binary frame: %d %s/%s", st, field, rule)
	}
	// Nothing changed: o-1 is still in flight here, g-1 in "second".
	e.must(204, e.do(w.consumer, "POST", poll.base+"/ack", map[string]any{"ids": []string{"g-1"}}))
	ws.send(map[string]any{"ack_upto": map[string]any{"partition": ev["partition"], "sequence": ev["sequence"]}})
	if m := ws.next(500 * time.Millisecond); m != nil {
		t.Fatalf("after a good ack: %v", m)
	}
	e.groupSettled(w, "orders")
	if first["sequence"] == nil || first["partition"] == nil || first["receivedat"] == nil {
		t.Fatalf("event without its place in the log: %v", first)
	}
}

// TestWebSocketNackAndDead: a nack with a delay brings the event back on
// the connection after the delay; a dead report over the WebSocket acks it
// and lands in the dead-event store.
func TestWebSocketNackAndDead(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	ws := e.mustDialWS(w.consumer, "")
	ws.awaitPartitions(12, 10*time.Second)
	e.must(202, e.send(w.producer, orderEvent("n-1", 1)))
	ws.nextEvents(1, 10*time.Second)
	nacked := time.Now()
	ws.send(map[string]any{"nack": []string{"n-1"}, "delay": "1s"})
	again := ws.nextEvents(1, 10*time.Second)[0]
	if again["id"] != "n-1" || time.Since(nacked) < time.Second {
		t.Fatalf("after the nack: %v after %s", again["id"], time.Since(nacked))
	}
	ws.send(map[string]any{"dead": "n-1", "reason": "no such warehouse"})
	eventually(t, 5*time.Second, "the dead report", func() bool {
		list := e.must(200, e.do(w.consumer, "GET", "/v1/dead-events?group=default", nil))["data"].([]any)
		return len(list) == 1 && list[0].(map[string]any)["reason"] == "no such warehouse"
	})
	e.groupSettled(w, "default")
}

// TestWebSocketThinType: a thin type's event arrives thin over a
// WebSocket too.
func TestWebSocketThinType(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.thinWorld(nil)
	ws := e.mustDialWS(w.consumer, "group=default")
	ws.awaitPartitions(12, 10*time.Second)
	e.must(202, e.send(w.producer, orderWithNote("o-1")))
	ev := ws.nextEvents(1, 10*time.Second)[0]
	body, _ := json.Marshal(ev)
	if strings.Contains(string(body), "Alice") || ev["dataref"] == nil || ev["sequence"] == nil {
		t.Fatalf("thin event over a websocket: %s", body)
	}
}

// TestWebSocketAuth: an upgrade without credentials is 401, one without
// the cloudevents.json subprotocol, a plain GET and a page of another
// origin using Basic credentials are refused with problems before
// upgrading; a consumer token works as ?access_token= and
// as a Bearer header; an expired, tampered or other-key token and the
// token of a client deleted since are 401.
func TestWebSocketAuth(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	refused := func(what string, status int, c cred, query string, protos []string, header ...string) {
		t.Helper()
		ws, resp, err := e.dialWS(c, query, protos, header...)
		if err == nil {
			_ = ws.conn.CloseNow()
			t.Fatalf("%s: connected", what)
		}
		if resp == nil || resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s: %v (%v)", what, resp, err)
		}
	}
	refused("no credentials", 401, cred{}, "", []string{"cloudevents.json"})
	refused("no subprotocol", 422, w.consumer, "", nil)
	refused("another subprotocol", 422, w.consumer, "", []string{"mqtt"})
	refused("Basic from another origin", 403, w.consumer, "", []string{"cloudevents.json"}, "Origin", "https://evil.example")
	if r := e.do(w.consumer, "GET", "/v1/consume/ws", nil); r.status != 426 {
		t.Fatalf("plain GET: %d %s", r.status, r.body)
	}

	m := e.must(201, e.do(w.consumer, "POST", "/v1/consume/tokens", nil))
	tok, _ := m["token"].(string)
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(m["expires_at"]))
	if tok == "" || err != nil || time.Until(exp) < 4*time.Minute || time.Until(exp) > 6*time.Minute {
		t.Fatalf("token answer %v", m)
	}
	if r := e.do(cred{}, "POST", "/v1/consume/tokens", nil); r.status != 401 {
		t.Fatalf("token without credentials: %d", r.status)
	}
	ws := e.mustDialWS(cred{}, "group=default&access_token="+tok)
	ws.awaitPartitions(12, 10*time.Second)
	_ = ws.conn.Close(websocket.StatusNormalClosure, "")
	ws2, _, err := e.dialWS(cred{}, "", []string{"cloudevents.json"}, "Authorization", "Bearer "+tok)
	if err != nil {
		t.Fatalf("bearer token: %v", err)
	}
	_ = ws2.conn.Close(websocket.StatusNormalClosure, "")
	ws3, _, err := e.dialWS(cred{}, "access_token="+tok, []string{"cloudevents.json"}, "Origin", "https://app.example")
	if err != nil {
		t.Fatalf("token from another origin: %v", err)
	}
	_ = ws3.conn.Close(websocket.StatusNormalClosure, "")

	key, err := secretbox.ParseKey(e.cfg.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	consumerID := uuid.MustParse(w.consumerID)
	tenant := uuid.MustParse(w.consumerTenant)
	old, _, _ := tokens.New(key[:], time.Minute, func() time.Time { return time.Now().Add(-2 * time.Minute) }).
		Issue(consumerID, tenant, tokens.AudienceConsume)
	forged, _, _ := tokens.New([]byte("another key"), time.Minute, nil).Issue(consumerID, tenant, tokens.AudienceConsume)
	otherAudience, _, _ := tokens.New(key[:], time.Minute, nil).Issue(consumerID, tenant, "herald:console")
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "A." + parts[2]
	for name, bad := range map[string]string{"expired": old, "other key": forged, "tampered": tampered,
		"other audience": otherAudience} {
		refused(name+" token", 401, cred{}, "access_token="+bad, []string{"cloudevents.json"})
	}

	// A client deleted after its token was issued.
	goneID, gone := e.client(admin, w.consumerTenant, "short-lived", "consumer")
	goneTok := e.must(201, e.do(gone, "POST", "/v1/consume/tokens", nil))["token"].(string)
	e.must(204, e.do(admin, "DELETE", "/v1/clients/"+goneID, nil))
	eventually(t, 5*time.Second, "the deleted client's token refused", func() bool {
		ws, resp, err := e.dialWS(cred{}, "access_token="+goneTok, []string{"cloudevents.json"})
		if err == nil {
			_ = ws.conn.CloseNow()
			return false
		}
		return resp != nil && resp.StatusCode == 401
	})
}

// TestWebSocketShutdown: a node shutting down closes its WebSockets with
// 1001 (going away) at once.
func TestWebSocketShutdown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	ws := e.mustDialWS(w.consumer, "")
	ws.awaitPartitions(12, 10*time.Second)
	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- e.app.Stop(context.Background()) }()
	select {
	case <-ws.closed:
	case <-time.After(15 * time.Second):
		t.Fatal("the websocket stayed open")
	}
	if code := websocket.CloseStatus(ws.err); code != websocket.StatusGoingAway || time.Since(start) > 5*time.Second {
		t.Fatalf("closed with %v (%d) after %s", ws.err, code, time.Since(start))
	}
	var ce websocket.CloseError
	if !errors.As(ws.err, &ce) {
		t.Fatalf("not a close frame: %v", ws.err)
	}
	// The node left the group before it closed its pool: the instance is
	// gone at once, its partitions free for the other nodes.
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
	var instances int
	if err := e.pool().QueryRow(context.Background(), `SELECT count(*) FROM group_instances`).Scan(&instances); err != nil {
		t.Fatal(err)
	}
	if instances != 0 {
		t.Fatalf("%d instances left in the group after shutdown", instances)
	}
}

// TestWebSocketPingDropsSilentPeer: a peer that stops answering pings (it
// reads nothing, so it sends no pongs: a hung process, a dead network
// path) is dropped after a ping interval or two, and its partitions go to
// the group's other connection.
func TestWebSocketPingDropsSilentPeer(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *app.Config) { c.ConsumerPingInterval = 300 * time.Millisecond })
	w := e.world()
	live := e.mustDialWS(w.consumer, "")
	live.awaitPartitions(12, 10*time.Second)
	h := http.Header{"Authorization": {basic(w.consumer)}}
	silent, _, err := websocket.Dial(t.Context(), "ws://"+e.app.Addr()+"/v1/consume/ws",
		&websocket.DialOptions{HTTPHeader: h, Subprotocols: []string{"cloudevents.json"}})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.CloseNow()
	live.awaitPartitions(6, 10*time.Second)
	start := time.Now()
	live.awaitPartitions(12, 10*time.Second)
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the silent peer was dropped after %s", time.Since(start))
	}
}

// TestWebSocketReconnectResumes: a client that closes its connection
// without acking gets the same events again when it reconnects (a new
// instance), at once rather than after the ack wait.
func TestWebSocketReconnectResumes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	first := e.mustDialWS(w.consumer, "")
	first.awaitPartitions(12, 10*time.Second)
	e.must(202, e.send(w.producer, orderEvent("r-1", 1), orderEvent("r-2", 1)))
	got := ids(first.nextEvents(2, 10*time.Second))
	if err := first.conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	again := e.mustDialWS(w.consumer, "")
	start := time.Now()
	back := ids(again.nextEvents(2, 10*time.Second))
	slices.Sort(got)
	slices.Sort(back)
	if !slices.Equal(got, back) || time.Since(start) > 5*time.Second {
		t.Fatalf("after reconnecting got %v (first had %v) after %s", back, got, time.Since(start))
	}
	again.send(map[string]any{"ack": back})
	e.groupSettled(w, "default")
}

// TestWebSocketAckBurst: ack frames sent back to back may be applied in
// one transaction, but each frame still counts on its own: good ones are
// applied, and an unknown id, or an id a frame before already acked, gets
// its own error notice, in order, whatever else was queued with it.
func TestWebSocketAckBurst(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	ws := e.mustDialWS(w.consumer, "")
	ws.awaitPartitions(12, 10*time.Second)
	const n = 40
	for i := range n {
		e.must(202, e.send(w.producer, orderEvent(fmt.Sprintf("b-%d", i), i+1)))
	}
	got := ws.nextEvents(n, 10*time.Second)
	var frames []string
	for i, ev := range got {
		frames = append(frames, fmt.Sprintf(`{"ack": [%q]}`, ev["id"]))
		switch i {
		case 10:
			frames = append(frames, `{"ack": ["nope-1"]}`)
		case 20:
			frames = append(frames, fmt.Sprintf(`{"ack": [%q]}`, got[3]["id"]))
		case 30:
			frames = append(frames, `{"ack": ["nope-2", "also-nope"]}`)
		}
	}
	for _, f := range frames {
		if err := ws.conn.Write(t.Context(), websocket.MessageText, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"nope-1", got[3]["id"].(string), "nope-2, also-nope"} {
		m := ws.nextNotice("error", 5*time.Second)
		if detail, _ := m["detail"].(string); !strings.Contains(detail, want) {
			t.Errorf("error notice %v, want one naming %s", m, want)
		}
	}
	if m := ws.next(500 * time.Millisecond); m != nil {
		t.Fatalf("after the burst: %v", m)
	}
	e.groupSettled(w, "default")
}
