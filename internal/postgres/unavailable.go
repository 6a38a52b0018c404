package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err means the database could not be reached
// or could not serve for now (it is down, restarting, unreachable, out of
// connections), rather than that the statement was wrong. Such failures
// change nothing (a transaction that did not commit is rolled back by the
// server), so callers answer "try again shortly" instead of failing for
// good; a commit whose answer was lost may have happened, which the
// producer's retry finds as a duplicate.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08": // connection_exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		case pgErr.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, pgconn.ErrConnClosed):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ENOENT):
		return true
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		// Herald's own bound on a statement or a commit ran out: the
		// database did not answer in time.
		return true
	}
	return pgconn.SafeToRetry(err)
}
