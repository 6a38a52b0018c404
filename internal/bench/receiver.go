package bench

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// receiver is a minimal loopback webhook target.
type receiver struct {
	srv    *http.Server
	url    string
	count  atomic.Int64
	track  atomic.Bool
	sentAt sync.Map // event id → time.Time
	mu     sync.Mutex
	lats   []time.Duration
}

func newReceiver() *receiver {
	rc := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	rc.url = "http://" + ln.Addr().String() + "/hook"
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(r.Body)
	if rc.track.Load() {
		if id := eventID(body); id != "" {
			if v, ok := rc.sentAt.LoadAndDelete(id); ok {
				rc.mu.Lock()
				rc.lats = append(rc.lats, now.Sub(v.(time.Time)))
				rc.mu.Unlock()
			}
		}
	}
	rc.count.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) latencies() []time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.lats)
}

func (rc *receiver) close() { _ = rc.srv.Close() }

// eventID finds the "id" member of an event the bench generated (or Herald
// delivered) without decoding the whole document: the load generator shares
// the machine with the server, so its own costs are kept small.
func eventID(body []byte) string {
	const key = `"id":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}
