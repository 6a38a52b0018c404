package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/pull"
)

// WebSocket consumption (GET /v1/consume/ws?group=NAME): the CloudEvents
// WebSocket binding, one structured event per text frame, over one
// instance of the group (kind ws) that lives as long as the connection.
// The client acks, nacks and reports dead events in JSON text frames; the
// server tells it what is not an event in notice frames (docs/design/
// pull-consumers.md, "As built: WebSocket").

// WSSubprotocol is the subprotocol of the CloudEvents WebSocket binding's
// JSON format; a client must offer it.
const WSSubprotocol = "cloudevents.json"

// DefaultPingInterval is how often a WebSocket is pinged: it keeps idle
// connections open through proxies and finds peers that are gone without
// closing (a pong not back within the interval closes the connection).
const DefaultPingInterval = 20 * time.Second

const (
	// wsReadLimit bounds a control frame: a thousand ids fit.
	wsReadLimit = 256 << 10
	// wsFetch is how many events one fetch hands a connection; the
	// in-flight limit (pull.Config.MaxInFlight) holds it back further.
	wsFetch = 500
	// wsWait is how long one fetch waits for events before the next.
	wsWait = 30 * time.Second
	// wsLeaveTimeout bounds the Leave after the connection is gone.
	wsLeaveTimeout = 10 * time.Second
)

// errorNotice is a problem answering a control frame: the problem the HTTP
// API gives for the same mistake, as a notice frame.
type errorNotice struct {
	Notice string `json:"notice"`
	*Problem
}

// noticeError is the kind of the error notice.
const noticeError = "error"

// errStopping: the node shuts down; the connection closes with 1001.
var errStopping = errors.New("server shutting down")

// errPeerGone: a write failed, the connection is gone.
var errPeerGone = errors.New("websocket write")

func (s *Server) handleConsumeWS(w http.ResponseWriter, r *http.Request) error {
	owner, err := groupConsumer(r)
	if err != nil {
		return err
	}
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket") {
		return &upgradeError{reason: "this route serves WebSockets only: send a WebSocket upgrade request (Upgrade: websocket)"}
	}
	if !headerHas(r.Header, "Sec-WebSocket-Protocol", WSSubprotocol) {
		return herald.Invalid("Sec-WebSocket-Protocol", "required",
			"offer the subprotocol %q (the CloudEvents WebSocket binding: one JSON event per text frame)", WSSubprotocol)
	}
	if err := checkOrigin(r); err != nil {
		return err
	}
	name := r.URL.Query().Get("group")
	if name == "" {
		name = herald.DefaultGroup
	}
	g, err := s.ownGroup(r.Context(), owner, name)
	if err != nil {
		return err
	}
	// Joined before the upgrade, so a group at its instance limit is a
	// problem answer, not a closed socket.
	inst, err := s.pull.Join(r.Context(), g, pull.KindWS)
	if err != nil {
		return err
	}
	// Counted from here, and done after the leave below (deferred calls
	// run last first): shutdown waits for the leave before it closes the
	// pool.
	s.sockets.Add(1)
	defer s.sockets.Done()
	// The connection outlives the request's context, which ends when the
	// handler returns; its own context ends with the connection.
	ctx := context.WithoutCancel(r.Context())
	defer func() {
		// Its unacked events go to the group's other instances now, not
		// after the idle TTL.
		lctx, cancel := context.WithTimeout(ctx, wsLeaveTimeout)
		defer cancel()
		if err := s.pull.Leave(lctx, g, inst.ID); err != nil && !errors.Is(err, herald.ErrNotFound) {
			s.logger.Warn("websocket: leave group", "group", g.ID, "instance", inst.ID, "err", err)
		}
	}()
	hj := &wsHijacker{ResponseWriter: w}
	conn, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		Subprotocols: []string{WSSubprotocol},
		// checkOrigin decided, answering with a problem.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return nil // Accept answered the request
	}
	conn.SetReadLimit(wsReadLimit)
	inst.WatchPartitions()
	defer s.pull.Follow(inst)()
	ws := &wsSession{s: s, conn: conn, wire: hj.wire, inst: inst, req: r}
	ws.run(ctx)
	return nil
}

// checkOrigin refuses a browser page of another origin that connects
// with Basic credentials: a browser's cached Basic credentials are ambient,
// a page could use them unasked. A token is not, so token connections may
// come from any origin; clients that are not browsers send no Origin.
func checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" || viaToken(r) {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Host, r.Host) {
		return herald.Forbidden("a page of another origin may not connect with Basic credentials; " +
			"get a token with POST /v1/consume/tokens and pass it as access_token")
	}
	return nil
}

// headerHas reports whether a header's comma-separated values hold token
// (case-insensitive).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// WaitSockets waits until every WebSocket has closed (after the engine's
// Stop closed them with 1001) and left its group, or ctx ends.
func (s *Server) WaitSockets(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.sockets.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for websockets to close: %w", ctx.Err())
	}
}

// wsSession is one WebSocket connection: a writer that fetches and sends
// (the handler's goroutine), a reader of control frames and a pinger.
type wsSession struct {
	s    *Server
	conn *websocket.Conn
	wire *wsWire // conn's network connection, held while a batch is written
	inst *pull.Instance
	req  *http.Request // the upgrade request, naming the route in logs
}

func (ws *wsSession) run(ctx context.Context) {
	// The writer's context ends when the reader or the pinger finds the
	// connection gone; the reader's only when the connection closes, so
	// it can take the client's answer to a close frame.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Go(func() { cancel(ws.read(ctx, wctx, cancel)) })
	wg.Go(func() { ws.ping(wctx, cancel) })
	err := ws.deliver(wctx)
	switch {
	case errors.Is(err, errStopping):
		_ = ws.conn.Close(websocket.StatusGoingAway, "server shutting down")
	case errors.Is(err, herald.ErrNotFound):
		// The instance expired or was deleted under the connection.
		_ = ws.conn.Close(websocket.StatusTryAgainLater, "consumer group instance gone; reconnect")
	case wctx.Err() != nil, errors.Is(err, errPeerGone):
		// The peer closed, vanished or stopped answering pings (a write
		// can find the connection closed before the reader says so).
		_ = ws.conn.CloseNow()
	default:
		ws.s.logger.Error("websocket: deliver", "group", ws.inst.Group.ID, "instance", ws.inst.ID, "err", err)
		_ = ws.conn.Close(websocket.StatusInternalError, "internal error; it has been logged")
	}
	cancel(nil)
	wg.Wait()
}

// deliver fetches and sends events and notices until the connection or
// the node ends. The in-flight limit holds fetches back until the client
// acks, which wakes them. The next batch is fetched while this one is
// written: a fetch is mostly waiting on the database, a write on the
// network.
func (ws *wsSession) deliver(ctx context.Context) error {
	type fetched struct {
		b   pull.Batch
		err error
	}
	batches := make(chan fetched)
	stopping := ws.s.pull.Stopping()
	ctx, cancel := context.WithCancel(ctx)
	var fetcher sync.WaitGroup
	// No fetch outlives the connection: the instance leaves after this
	// returns, and must not be handed events after that.
	defer fetcher.Wait()
	defer cancel()
	fetcher.Go(func() {
		defer close(batches)
		for {
			select {
			case <-stopping:
				return
			case <-ctx.Done():
				return
			default:
			}
			b, err := ws.s.pull.Wait(ctx, ws.inst, wsFetch, wsWait)
			if b.Empty() && err == nil {
				continue
			}
			select {
			case batches <- fetched{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	})
	for {
		var f fetched
		var ok bool
		select {
		case f, ok = <-batches:
		case <-stopping:
			return errStopping
		}
		if !ok {
			select {
			case <-stopping:
				return errStopping
			default:
				return ctx.Err()
			}
		}
		if f.err != nil {
			return f.err
		}
		if err := ws.send(ctx, f.b); err != nil {
			return fmt.Errorf("%w: %w", errPeerGone, err)
		}
	}
}

// send writes a batch's notices and events, one frame each, and then to
// the network in as few writes as they fit.
func (ws *wsSession) send(ctx context.Context, b pull.Batch) error {
	ws.wire.Hold()
	for _, n := range b.Notices {
		if err := ws.sendJSON(ctx, n); err != nil {
			_ = ws.wire.Release()
			return err
		}
	}
	for _, d := range b.Events {
		if err := ws.conn.Write(ctx, websocket.MessageText, d.Event); err != nil {
			_ = ws.wire.Release()
			return err
		}
	}
	return ws.wire.Release()
}

func (ws *wsSession) sendJSON(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("websocket notice: %w", err)
	}
	return ws.conn.Write(ctx, websocket.MessageText, b)
}

// ping pings every interval; a pong not back within the next interval
// means the peer is gone.
func (ws *wsSession) ping(ctx context.Context, cancel context.CancelCauseFunc) {
	every := ws.s.pingInterval
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, done := context.WithTimeout(ctx, every)
		err := ws.conn.Ping(pctx)
		done()
		if err != nil {
			cancel(fmt.Errorf("websocket ping: %w", err))
			return
		}
	}
}

// read reads control frames until the connection closes and hands them to
// an applier, in order. A frame that is malformed or refused is answered
// with an error notice, changes nothing and leaves the connection open.
func (ws *wsSession) read(ctx, wctx context.Context, fail context.CancelCauseFunc) error {
	frames := make(chan wsFrame, 64)
	var applier sync.WaitGroup
	applier.Go(func() { ws.apply(wctx, frames, fail) })
	defer applier.Wait()
	defer close(frames)
	for {
		typ, data, err := ws.conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("websocket read: %w", err)
		}
		frames <- wsFrame{typ: typ, data: data}
	}
}

// wsFrame is a frame as read.
type wsFrame struct {
	typ  websocket.MessageType
	data []byte
}

// maxAckMerge bounds the ack frames applied in one transaction.
const maxAckMerge = 16

// apply applies control frames in the order they came. Ack frames that
// queued up while one was applied go in one transaction, as one ack of
// all their ids: acks are what a fast consumer sends most, and each
// transaction is a durable commit. When the merged ack is refused, each
// frame is applied on its own, so every frame gets its own answer.
func (ws *wsSession) apply(ctx context.Context, frames <-chan wsFrame, fail context.CancelCauseFunc) {
	var next *wsFrame
	for {
		var f wsFrame
		if next != nil {
			f, next = *next, nil
		} else {
			var ok bool
			if f, ok = <-frames; !ok {
				return
			}
		}
		if ctx.Err() != nil {
			continue // the connection is ending: drain, apply nothing
		}
		group := []wsFrame{f}
		ids, mergeable := ackIDs(f)
		if mergeable {
			seen := make(map[string]bool, len(ids))
			for _, id := range ids {
				seen[id] = true
			}
		more:
			for len(group) < maxAckMerge {
				select {
				case g, ok := <-frames:
					if !ok {
						break more
					}
					gids, ok := ackIDs(g)
					if !ok || len(ids)+len(gids) > maxFetch || slices.ContainsFunc(gids, func(id string) bool { return seen[id] }) {
						next = &g
						break more
					}
					for _, id := range gids {
						seen[id] = true
					}
					ids, group = append(ids, gids...), append(group, g)
				default:
					break more
				}
			}
		}
		if len(group) > 1 && ws.s.ack(ctx, ws.inst, ackRequest{IDs: ids}) == nil {
			continue
		}
		for _, g := range group {
			if err := ws.answer(ctx, g); err != nil {
				fail(err) // ends ctx: what follows is drained
				break
			}
		}
	}
}

// ackIDs returns the ids of a well-formed ack frame (an ack merged with
// others must be one that would be accepted on its own, but for its ids
// being in flight).
func ackIDs(f wsFrame) ([]string, bool) {
	if f.typ != websocket.MessageText {
		return nil, false
	}
	var c controlFrame
	if err := httpjson.DecodeBytes(f.data, &c); err != nil || c.Ack == nil || c.AckUpto != nil || c.Nack != nil ||
		c.Dead != nil || c.Delay != "" || c.Reason != "" {
		return nil, false
	}
	ve := &herald.ValidationError{}
	checkIDs(ve, c.Ack)
	return c.Ack, ve.Err() == nil
}

// answer applies one frame and sends the error notice when it is refused.
func (ws *wsSession) answer(ctx context.Context, f wsFrame) error {
	var err error
	if f.typ != websocket.MessageText {
		err = herald.Invalid("frame", "text", "control messages are JSON text frames; a binary frame is not read")
	} else {
		err = ws.control(ctx, f.data)
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The connection is ending: the frame's fate is the client's to
		// find out from what comes back, not an error to answer or log.
		return ctx.Err()
	}
	p, _ := ws.s.problemFor(ws.req, err)
	return ws.sendJSON(ctx, errorNotice{Notice: noticeError, Problem: p})
}

// controlFrame is a client's control message: exactly one of ack,
// ack_upto, nack (with an optional delay) or dead (with a reason).
type controlFrame struct {
	Ack     []string      `json:"ack"`
	AckUpto *ackUptoFrame `json:"ack_upto"`
	Nack    []string      `json:"nack"`
	Delay   string        `json:"delay"`
	Dead    *string       `json:"dead"`
	Reason  string        `json:"reason"`
}

type ackUptoFrame struct {
	Partition *int            `json:"partition"`
	Sequence  json.RawMessage `json:"sequence"`
}

// control applies a control frame through the long poll's functions (ack,
// nack, dead), whose problems name the long poll's fields; they are
// renamed to the frame's.
func (ws *wsSession) control(ctx context.Context, data []byte) error {
	var f controlFrame
	if err := httpjson.DecodeBytes(data, &f); err != nil {
		return err
	}
	kinds := 0
	for _, given := range []bool{f.Ack != nil, f.AckUpto != nil, f.Nack != nil, f.Dead != nil} {
		if given {
			kinds++
		}
	}
	ve := &herald.ValidationError{}
	if kinds != 1 {
		ve.Add("", "oneOf", `give exactly one of "ack", "ack_upto", "nack" or "dead"`)
	}
	if f.Delay != "" && f.Nack == nil {
		ve.Add("delay", "unexpected", `"delay" goes with "nack"`)
	}
	if f.Reason != "" && f.Dead == nil {
		ve.Add("reason", "unexpected", `"reason" goes with "dead"`)
	}
	if f.AckUpto != nil && (f.AckUpto.Partition == nil || len(f.AckUpto.Sequence) == 0) {
		ve.Add("ack_upto", "required", `give "partition" and "sequence"`)
	}
	if err := ve.Err(); err != nil {
		return err
	}
	inst := ws.inst
	switch {
	case f.Ack != nil:
		return renameFields(ws.s.ack(ctx, inst, ackRequest{IDs: f.Ack}), map[string]string{"ids": "ack"})
	case f.AckUpto != nil:
		return renameFields(ws.s.ack(ctx, inst, ackRequest{Partition: f.AckUpto.Partition, Sequence: f.AckUpto.Sequence}),
			map[string]string{"partition": "ack_upto.partition", "sequence": "ack_upto.sequence"})
	case f.Nack != nil:
		return renameFields(ws.s.nack(ctx, inst, nackRequest{IDs: f.Nack, Delay: f.Delay}), map[string]string{"ids": "nack"})
	default:
		_, err := ws.s.dead(ctx, inst, deadRequest{ID: *f.Dead, Reason: f.Reason})
		return renameFields(err, map[string]string{"id": "dead"})
	}
}

// renameFields renames the fields a validation error names (a long poll
// body's) to a control frame's; other errors pass as they are.
func renameFields(err error, names map[string]string) error {
	var ve *herald.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &herald.ValidationError{Errors: make([]herald.FieldError, len(ve.Errors))}
	for i, fe := range ve.Errors {
		if n, ok := names[fe.Field]; ok {
			fe.Field = n
		}
		out.Errors[i] = fe
	}
	return out
}
