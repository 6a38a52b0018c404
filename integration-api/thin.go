package integrationapi

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/thin"
)

// DataRef is the absolute URL of an event in the Integration API, the
// dataref of its thin notification.
func (h *Handler) DataRef(event uuid.UUID) string {
	return h.cfg.PublicURL + "/v1/integration/events/" + event.String()
}

// PushBody returns what push channels (webhooks, test sends, replays,
// retries) carry for a stored event: the notification when its type is
// thin, the stored body unchanged otherwise.
func (h *Handler) PushBody(ctx context.Context, event uuid.UUID, typ string, body []byte) ([]byte, error) {
	snap, err := h.Catalog.Get(ctx)
	if err != nil {
		return nil, err
	}
	te := snap.Type(typ)
	if te == nil || te.Type.Thin == nil {
		return body, nil
	}
	out, err := thin.Notification(body, thin.ParsePaths(te.Type.Thin.Fields), h.DataRef(event))
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", event, err)
	}
	return out, nil
}

// scrub gives the body an expired thin event keeps: its notification, with
// the fields its type declares now (none if the type is gone).
func (h *Handler) scrub(d *postgres.DuePayload) ([]byte, error) {
	var fields []thin.Path
	if snap, err := h.Catalog.Get(context.Background()); err == nil {
		if te := snap.Type(d.Type); te != nil && te.Type.Thin != nil {
			fields = thin.ParsePaths(te.Type.Thin.Fields)
		}
	}
	return thin.Notification(d.Body, fields, h.DataRef(d.EventID))
}
