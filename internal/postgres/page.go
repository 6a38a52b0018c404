package postgres

import (
	"time"

	"github.com/google/uuid"
)

// PageKey is where a page of a list starts: after the row with this sort
// key. Lists by creation time read Time and ID, lists by name Name and ID;
// the zero PageKey is the first page. It travels, as JSON, inside the
// API's opaque cursors.
type PageKey struct {
	Time time.Time `json:"t,omitzero"`
	Name string    `json:"n,omitempty"`
	ID   uuid.UUID `json:"i"`
}

// IsZero reports whether k is the first page's key.
func (k PageKey) IsZero() bool { return k.Time.IsZero() && k.Name == "" && k.ID == uuid.Nil }

// limitArg is a LIMIT parameter: NULL (no limit) for 0.
func limitArg(limit int) *int {
	if limit <= 0 {
		return nil
	}
	return &limit
}
