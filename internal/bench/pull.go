package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/jsoncheck"
)

// pullRuns is the drains the pull-poll and pull-ws phases measure; the
// median counts.
const pullRuns = 3

// pullPoll measures long polling: a consumer group gets a backlog of n
// events (ingested in batches of 100, then settled), then one instance
// drains it, fetching batches of 100 and acking each batch by id (before
// the next fetch, or, pipelined, during it); pullRuns times. It returns
// the events read and acked per second of each drain.
func (b *bencher) pullPoll(ctx context.Context, a *app.App, n int, pipelined bool) ([]float64, error) {
	group := "bench-poll"
	if pipelined {
		group = "bench-poll-pipelined"
	}
	if _, err := b.call("POST", "/v1/consumer-groups", b.consumer, map[string]any{"name": group,
		"types": []string{benchType}}); err != nil {
		return nil, err
	}
	var rates []float64
	for range pullRuns {
		r, err := b.drainMeasured(ctx, a, group, n, pipelined)
		if err != nil {
			return nil, err
		}
		rates = append(rates, r.Rate)
	}
	return rates, nil
}

// fetch long-polls once and returns the ids of the events.
func (b *bencher) fetch(url string) ([]string, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth(b.consumer[0], b.consumer[1])
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	ids, err := batchIDs(body)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	return ids, nil
}

// batchIDs returns the ids of the events of a batch in one checking pass,
// decoding nothing else, as the WebSocket consumer reads only envelopes
// (decoding every event with encoding/json cost the consumer ~12 µs an
// event, on the cores the server uses).
func batchIDs(body []byte) ([]string, error) {
	var r jsoncheck.Reader
	r.Reset(body, jsoncheck.Options{})
	var ids []string
	idNext := false
	for {
		k, jerr := r.Next()
		if jerr != nil {
			return nil, jerr
		}
		switch {
		case k == jsoncheck.KindEnd:
			return ids, nil
		case k == jsoncheck.KindObjectStart && r.Depth() == 2:
			ids = append(ids, "") // an event; its id follows
		case r.Depth() != 2 || len(ids) == 0:
		case k == jsoncheck.KindName:
			idNext = string(r.Name()) == "id"
		case k == jsoncheck.KindString && idNext:
			t := r.Token()
			if err := json.Unmarshal(body[t.Start:t.End], &ids[len(ids)-1]); err != nil {
				return nil, err
			}
			idNext = false
		default:
			idNext = false
		}
	}
}

// pullWS measures WebSocket consumption: a consumer group gets a backlog
// of n events (then settled), then one WebSocket connection reads it,
// acking every 100 events by id; pullRuns times. It returns the events
// read and acked per second of each drain, from the dial to the last ack
// written.
func (b *bencher) pullWS(ctx context.Context, a *app.App, n int) ([]float64, error) {
	if _, err := b.call("POST", "/v1/consumer-groups", b.consumer, map[string]any{"name": "bench-ws",
		"types": []string{benchType}}); err != nil {
		return nil, err
	}
	var rates []float64
	for range pullRuns {
		if err := b.backlog(n); err != nil {
			return nil, err
		}
		if err := settle(ctx, a); err != nil {
			return nil, err
		}
		r, err := b.drainWS(ctx, n)
		if err != nil {
			return nil, err
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// drainWS reads n events with one new WebSocket connection of the bench-ws
// group, acking every 100 by id, and returns the rate.
func (b *bencher) drainWS(ctx context.Context, n int) (float64, error) {
	start := time.Now()
	hdr := http.Header{}
	hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(b.consumer[0]+":"+b.consumer[1])))
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.base, "http")+"/v1/consume/ws?group=bench-ws",
		&websocket.DialOptions{Subprotocols: []string{"cloudevents.json"}, HTTPHeader: hdr})
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	ids := make([]string, 0, 100)
	got := 0
	for got < n {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, frame, err := conn.Read(rctx)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("websocket: %d of %d events, then: %w", got, n, err)
		}
		ev, err := envelope(frame)
		if err != nil {
			return 0, fmt.Errorf("websocket frame: %w", err)
		}
		if ev.notice == "error" {
			return 0, fmt.Errorf("websocket: %s", frame)
		}
		if ev.specVersion == "" {
			continue // partitions assigned
		}
		got++
		if ids = append(ids, ev.id); len(ids) == cap(ids) || got == n {
			ack, _ := json.Marshal(map[string][]string{"ack": ids})
			if err := conn.Write(ctx, websocket.MessageText, ack); err != nil {
				return 0, fmt.Errorf("websocket ack: %w", err)
			}
			ids = ids[:0]
		}
	}
	rate := float64(got) / time.Since(start).Seconds()
	_ = conn.Close(websocket.StatusNormalClosure, "")
	return rate, nil
}

// backlog ingests n events in batches of 100.
func (b *bencher) backlog(n int) error {
	var batch bytes.Buffer
	for sent := 0; sent < n; sent += 100 {
		batch.Reset()
		batch.WriteByte('[')
		for i := range 100 {
			if i > 0 {
				batch.WriteByte(',')
			}
			batch.Write(b.event(nil))
		}
		batch.WriteByte(']')
		if !b.post(batch.Bytes(), "application/cloudevents-batch+json") {
			return fmt.Errorf("ingest the backlog: a batch was refused")
		}
	}
	return nil
}

// frameEnvelope is what the bench consumer reads of a frame.
type frameEnvelope struct{ specVersion, id, notice string }

// envelope reads the top-level specversion, id and notice of a frame and
// stops there, as a consumer that routes events by their envelope would:
// the data is not decoded (Herald writes it after the attributes), so the
// consumer's share of the two cores goes to Herald as far as it can.
func envelope(frame []byte) (frameEnvelope, error) {
	var ev frameEnvelope
	var r jsoncheck.Reader
	r.Reset(frame, jsoncheck.Options{})
	var field *string
	for {
		k, jerr := r.Next()
		if jerr != nil {
			return ev, jerr
		}
		switch {
		case k == jsoncheck.KindEnd:
			return ev, nil
		case r.Depth() != 1:
			continue
		case k == jsoncheck.KindName:
			switch string(r.Name()) {
			case "specversion":
				field = &ev.specVersion
			case "id":
				field = &ev.id
			case "notice":
				field = &ev.notice
			case "data", "data_base64":
				return ev, nil
			default:
				field = nil
			}
		case k == jsoncheck.KindString && field != nil:
			t := r.Token()
			if err := json.Unmarshal(frame[t.Start:t.End], field); err != nil {
				return ev, err
			}
			field = nil
		}
	}
}
