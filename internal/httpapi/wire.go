package httpapi

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
)

// ProblemListener wraps the listener the HTTP server accepts on, so that
// the answers net/http writes by itself, before any handler runs, are RFC
// 9457 problems like every other error Herald answers: 431 for header
// fields over the server's limit, 400 for a request that is not valid
// HTTP/1.1 (no Host header, a malformed header line...), 501 for an unknown
// transfer coding, 505 for an unsupported HTTP version, 417 for an Expect
// other than 100-continue. net/http writes those straight to the
// connection as text/plain, so they can only be caught there.
func ProblemListener(ln net.Listener) net.Listener { return problemListener{ln} }

type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c}, nil
}

// problemConn rewrites net/http's own error answers as they are written.
type problemConn struct{ net.Conn }

func (c *problemConn) Write(b []byte) (int, error) {
	resp, ok := serverErrorProblem(b)
	if !ok {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(resp); err != nil {
		return 0, err
	}
	return len(b), nil
}

// CloseWrite keeps net/http's lingering close after a 431 working: it
// half-closes connections that can.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile for response bodies copied from files (only
// response bodies are written this way, never net/http's own answers).
func (c *problemConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// plainErrorHeaders is the header block net/http gives the errors it
// answers by itself; no handler of Herald's writes a response this way (Go
// adds a Date header to every handler response).
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// serverErrorProblem recognises a whole error answer written by net/http
// itself and returns the problem answer to write instead. It recognises
// only exact shapes: "HTTP/1.1 <code> <reason>[: <detail>]" with
// plainErrorHeaders and a body repeating the status (or, for 501, naming
// the transfer coding), and the empty 417 answer to an unknown Expect.
func serverErrorProblem(b []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if len(b) < len(proto)+4 || !bytes.HasPrefix(b, []byte(proto)) || b[len(proto)+3] != ' ' {
		return nil, false
	}
	code, err := strconv.Atoi(string(b[len(proto) : len(proto)+3]))
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	if code == http.StatusExpectationFailed {
		// Written through the response path, with Date and Content-Length
		// headers but no body.
		if !bytes.HasSuffix(b, []byte("\r\nContent-Length: 0\r\n\r\n")) || bytes.Count(b, []byte("\r\n\r\n")) != 1 {
			return nil, false
		}
		return problemResponse(problem(code, "expectation-failed", http.StatusText(code),
			"the Expect header may only ask for 100-continue")), true
	}
	status, body, ok := bytes.Cut(b[len(proto):], []byte(plainErrorHeaders))
	if !ok || bytes.Contains(status, []byte("\r\n")) {
		return nil, false
	}
	// The status may carry net/http's reason: "Bad Request: missing
	// required Host header".
	detail := "the request is not valid HTTP/1.1"
	if _, why, ok := bytes.Cut(status, []byte(": ")); ok {
		detail += ": " + string(why)
	}
	switch {
	case code == http.StatusNotImplemented && string(body) == "Unsupported transfer encoding":
		return problemResponse(problem(code, "unsupported-transfer-encoding", http.StatusText(code),
			"the request's Transfer-Encoding is not supported; send the body with Content-Length or chunked")), true
	case !bytes.Equal(body, status):
		return nil, false
	case code == http.StatusRequestHeaderFieldsTooLarge:
		return problemResponse(problem(code, "request-header-too-large", http.StatusText(code),
			"the request's header fields are larger than Herald accepts")), true
	case code == http.StatusHTTPVersionNotSupported:
		return problemResponse(problem(code, "http-version-not-supported", http.StatusText(code),
			"Herald speaks HTTP/1.1 and HTTP/1.0")), true
	default:
		return problemResponse(problem(code, "bad-request", http.StatusText(code), detail)), true
	}
}
