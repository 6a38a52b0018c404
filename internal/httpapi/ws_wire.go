package httpapi

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// wsFlushBytes bounds what a held connection keeps before it writes
// anyway: a batch of 1 KB events goes out in a few writes, not one per
// event, and memory per connection stays small.
const wsFlushBytes = 64 << 10

// wsWire is a WebSocket's network connection with a hold: while the
// session writes a batch of frames, what the WebSocket library flushes
// (once per frame) collects here and goes out in one write when the batch
// ends. Writing each 1 KB event with its own system call cost the server
// about a tenth of its CPU time during a drain. Frames written by others
// while nothing is held (pings, close frames, answers to control frames)
// go straight out.
type wsWire struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte
}

func (c *wsWire) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.held {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= wsFlushBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Hold collects writes until Release.
func (c *wsWire) Hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// Release writes what was collected and ends the hold. Its error is the
// write's: the peer is gone.
func (c *wsWire) Release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = false
	return c.flushLocked()
}

func (c *wsWire) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	if cap(c.buf) > wsFlushBytes*2 {
		c.buf = nil
	}
	return err
}

// wsHijacker hands the WebSocket library the connection wrapped in a
// wsWire when it takes the connection over from net/http.
type wsHijacker struct {
	http.ResponseWriter
	wire *wsWire
}

func (h *wsHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http's writer is fresh (the 101 answer was flushed before the
	// connection was handed over); this one writes through the wire.
	h.wire = &wsWire{Conn: c}
	return h.wire, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(h.wire)), nil
}

func (h *wsHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
