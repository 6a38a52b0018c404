package faults

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a webhook receiver on loopback that answers 204 after delay
// and remembers every request: per CloudEvent id, how many requests came,
// with which webhook-ids, and when the first one started.
type receiver struct {
	srv      *httptest.Server
	delay    atomic.Int64 // nanoseconds
	inFlight atomic.Int64

	mu       sync.Mutex
	requests map[string]int                 // event id → requests
	ids      map[string]map[string]struct{} // event id → webhook-ids seen
	first    map[string]time.Time           // event id → start of its first request
	last     map[string]time.Time           // event id → start of its latest request
	answered map[string]int                 // event id → requests answered 2xx to completion
}

func newReceiver(t *testing.T, delay time.Duration) *receiver {
	t.Helper()
	r := &receiver{requests: map[string]int{}, ids: map[string]map[string]struct{}{},
		first: map[string]time.Time{}, last: map[string]time.Time{}, answered: map[string]int{}}
	r.delay.Store(int64(delay))
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	began := time.Now()
	body, _ := io.ReadAll(req.Body)
	var ev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		http.Error(w, "not a CloudEvent", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests[ev.ID]++
	if r.ids[ev.ID] == nil {
		r.ids[ev.ID] = map[string]struct{}{}
		r.first[ev.ID] = began
	}
	r.ids[ev.ID][req.Header.Get("webhook-id")] = struct{}{}
	r.last[ev.ID] = began
	r.mu.Unlock()

	r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	select {
	case <-time.After(time.Duration(r.delay.Load())):
	case <-req.Context().Done():
		return // the sender went away (killed): never answered
	}
	w.WriteHeader(http.StatusNoContent)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	r.mu.Lock()
	r.answered[ev.ID]++
	r.mu.Unlock()
}

// got returns how many distinct events arrived.
func (r *receiver) got() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// missing returns the ids of want that never arrived.
func (r *receiver) missing(want []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, id := range want {
		if r.requests[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// report sums up what arrived: events sent more than once, and events whose
// requests carried more than one webhook-id (which must never happen).
type report struct {
	events, requests int
	duplicated       []string
	mixedIDs         []string
}

func (r *receiver) report() report {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rep report
	for id, n := range r.requests {
		rep.events++
		rep.requests += n
		if n > 1 {
			rep.duplicated = append(rep.duplicated, id)
		}
		if len(r.ids[id]) != 1 {
			rep.mixedIDs = append(rep.mixedIDs, id)
		}
	}
	return rep
}

// firstAt is when an event's first request started.
func (r *receiver) firstAt(id string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first[id]
}

// lastAt is when an event's latest request started.
func (r *receiver) lastAt(id string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[id]
}

// answeredCount is how many of want were answered 2xx to completion.
func (r *receiver) answeredCount(want []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, id := range want {
		if r.answered[id] > 0 {
			n++
		}
	}
	return n
}

// answeredAll says whether every event of want was answered.
func (r *receiver) answeredAll(want []string) bool { return r.answeredCount(want) == len(want) }
