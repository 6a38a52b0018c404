package bench

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
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
	// verifier, when set, checks each delivery's Standard Webhooks
	// signature; bad counts those that fail (they are still counted
	// received). last is when the latest delivery arrived (unix ns).
	verifier atomic.Pointer[standardwebhooks.Webhook]
	bad      atomic.Int64
	last     atomic.Int64
	// seen marks, while verifying, the bench events received (by the
	// number in their id, "e-N"), so that a delivery retried is counted
	// once: distinct counts them.
	seenMu   sync.Mutex
	seen     []uint64
	distinct atomic.Int64
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
	if wh := rc.verifier.Load(); wh != nil {
		if wh.Verify(body, r.Header) != nil {
			rc.bad.Add(1)
		}
		rc.markSeen(eventID(body))
	}
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
	rc.last.Store(time.Now().UnixNano())
	w.WriteHeader(http.StatusNoContent)
}

// markSeen counts a bench event the first time it is received.
func (rc *receiver) markSeen(id string) {
	n, err := strconv.ParseUint(strings.TrimPrefix(id, "e-"), 10, 64)
	if err != nil || !strings.HasPrefix(id, "e-") {
		return
	}
	rc.seenMu.Lock()
	defer rc.seenMu.Unlock()
	if w := int(n / 64); w >= len(rc.seen) {
		rc.seen = append(rc.seen, make([]uint64, w-len(rc.seen)+1+len(rc.seen)/2)...)
	}
	if bit := uint64(1) << (n % 64); rc.seen[n/64]&bit == 0 {
		rc.seen[n/64] |= bit
		rc.distinct.Add(1)
	}
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
