package pglocal

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
)

// logTailLines is how many recent server log lines are kept for error
// messages: enough for a FATAL with its DETAIL and HINT and some context.
const logTailLines = 40

// logLinePrefix is passed to the server so that each log line starts with the
// pid of the process that wrote it; the timestamp is left to slog.
const logLinePrefix = "[%p] "

// serverLog forwards the server's stderr to the logger and remembers the
// last lines, so that a failed start can say why.
type serverLog struct {
	logger *slog.Logger

	mu   sync.Mutex
	tail []string // ring buffer, oldest first once full
	next int
}

// consume reads r until EOF (every writer of the pipe has exited).
func (l *serverLog) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		l.line(sc.Text())
	}
	// A scanner error (a line over 1 MiB) ends forwarding; drain the pipe
	// so the server never blocks writing to a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

func (l *serverLog) line(s string) {
	l.mu.Lock()
	if len(l.tail) < logTailLines {
		l.tail = append(l.tail, s)
	} else {
		l.tail[l.next] = s
		l.next = (l.next + 1) % logTailLines
	}
	l.mu.Unlock()

	level, pid, severity, msg := parseLogLine(s)
	attrs := []slog.Attr{slog.String("component", "postgres")}
	if severity != "" {
		attrs = append(attrs, slog.String("severity", severity))
	}
	if pid != 0 {
		attrs = append(attrs, slog.Int("pid", pid))
	}
	l.logger.LogAttrs(context.Background(), level, msg, attrs...)
}

// lastLines returns the remembered lines, oldest first.
func (l *serverLog) lastLines() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := append(append([]string(nil), l.tail[l.next:]...), l.tail[:l.next]...)
	return strings.Join(lines, "\n")
}

// reset forgets the remembered lines.
func (l *serverLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tail, l.next = nil, 0
}

// contains reports whether a remembered line contains s.
func (l *serverLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.tail {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// parseLogLine splits "[pid] SEVERITY:  message" and maps PostgreSQL's
// severity to a slog level. Routine server chatter (LOG, DETAIL, ...) is
// Debug. ERROR is Info: these are failed client statements, which Herald
// reports itself where they matter. FATAL is Warn because it mostly ends one
// session (a refused connection) rather than the server; PANIC is Error.
// Lines that do not parse are kept whole at Debug.
func parseLogLine(line string) (level slog.Level, pid int, severity, msg string) {
	s := line
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "] "); end > 0 {
			if n, err := strconv.Atoi(s[1:end]); err == nil {
				pid = n
				s = s[end+2:]
			}
		}
	}
	sev, rest, ok := strings.Cut(s, ":  ")
	if !ok {
		return slog.LevelDebug, pid, "", s
	}
	switch sev {
	case "PANIC":
		return slog.LevelError, pid, sev, rest
	case "FATAL", "WARNING":
		if strings.HasPrefix(rest, "terminating connection due to administrator command") ||
			strings.HasPrefix(rest, "connection to client lost") {
			// Every pooled connection gets the first when Herald stops the
			// server on purpose, and a session Herald closes mid-reply (at
			// its own shutdown) the second; Herald is the server's only
			// client and reports its own connection errors, so neither is
			// worth a warning.
			return slog.LevelDebug, pid, sev, rest
		}
		return slog.LevelWarn, pid, sev, rest
	case "ERROR":
		return slog.LevelInfo, pid, sev, rest
	case "LOG", "DETAIL", "HINT", "CONTEXT", "STATEMENT", "NOTICE", "INFO",
		"DEBUG", "DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4", "DEBUG5":
		return slog.LevelDebug, pid, sev, rest
	default:
		return slog.LevelDebug, pid, "", s
	}
}
