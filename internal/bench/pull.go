package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// pullPoll measures long polling: a consumer group gets a backlog of n
// events (ingested in batches of 100), then one instance drains it,
// fetching batches of 100 and acking each batch by id. It returns the
// events read and acked per second.
func (b *bencher) pullPoll(n int) (float64, error) {
	if _, err := b.call("POST", "/v1/consumer-groups", b.consumer, map[string]any{"name": "bench-poll",
		"types": []string{benchType}}); err != nil {
		return 0, err
	}
	r, err := b.drainMeasured("bench-poll", n)
	return r.Rate, err
}

// backlog ingests n bench events in batches of 100.
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
	var evs []struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids, nil
}
