package httpjson

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/heraldhq/herald/internal/herald"
)

// Page is the shape of a paged list answer: {"data": [...], "next_cursor":
// "..."}. NextCursor is set only when a page asked for with a limit came
// back full; passed back as ?cursor=, it gives the rows after the last one.
type Page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// PageOf converts items to their wire shape as a Page. When limit > 0 and
// the page is full, key gives the last item's sort key for the cursor.
func PageOf[T, U, K any](items []T, wire func(T) U, limit int, key func(T) K) Page[U] {
	out := Page[U]{Data: ListOf(items, wire).Data}
	if limit > 0 && len(items) == limit {
		out.NextCursor = EncodeCursor(key(items[len(items)-1]))
	}
	return out
}

// EncodeCursor makes an opaque cursor from a page's last sort key: its
// JSON, base64url. Clients must not build or read cursors; the shape can
// change.
func EncodeCursor(key any) string {
	b, err := json.Marshal(key)
	if err != nil {
		// Sort keys are plain structs of times, strings and UUIDs.
		panic("encode cursor: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// errCursor is the refusal of a cursor this server did not make.
func errCursor() error {
	return herald.Invalid("cursor", "format", "use the next_cursor of the previous page")
}

// DecodeCursor reads ?cursor= into key (left as it is when there is none).
func DecodeCursor(r *http.Request, key any) error {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || json.Unmarshal(b, key) != nil {
		return errCursor()
	}
	return nil
}

// PageLimit reads ?limit=: 0 (everything, as the list answered before it
// paged) when absent, else a whole number from 1 to max.
func PageLimit(r *http.Request, max int) (int, error) {
	q := r.URL.Query().Get("limit")
	if q == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > max {
		return 0, herald.Invalid("limit", "range", "must be a whole number from 1 to %d", max)
	}
	return n, nil
}
