package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf16"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// PushBodyFunc returns what a push channel carries for a stored event: for
// a thin event type, the notification (attributes, the declared fields and
// a dataref), never the full payload.
type PushBodyFunc func(ctx context.Context, event uuid.UUID, typ string, body []byte) ([]byte, error)

// pushBodies replaces the loaded bodies by what may be pushed. Every
// attempt (first sends, retries, recoveries, replays and test sends) loads
// its body through here, so a thin payload cannot leave by another path.
func pushBodies(ctx context.Context, push PushBodyFunc, targets map[uuid.UUID]*postgres.SendTarget) error {
	if push == nil {
		return nil
	}
	for _, t := range targets {
		b, err := push(ctx, t.Delivery.EventID, t.Delivery.EventType, t.Body)
		if err != nil {
			// Only this delivery fails; the others loaded with it go on.
			t.Body, t.RenderErr = nil, fmt.Errorf("render delivery %s: %w", t.Delivery.ID, err)
			continue
		}
		t.Body = b
	}
	return nil
}

// toBinary turns a message carrying a structured-mode event into the HTTP
// binary content mode: the event's data as the body (signed as sent), its
// attributes as ce- headers, which win over static headers of those names.
func toBinary(m *webhook.Message) error {
	ev, err := cloudevents.ParseStored(m.Body)
	if err != nil {
		return err
	}
	h, body, ct, err := ev.Binary()
	if err != nil {
		return err
	}
	if m.Header == nil {
		m.Header = make(http.Header, len(h))
	}
	for k, v := range h {
		m.Header[k] = v
	}
	m.Body, m.ContentType, m.OmitContentType = body, ct, ct == ""
	return nil
}

// ConfigHeader carries the endpoint's config object with every delivery, as
// compact JSON with non-ASCII characters escaped (header values are ASCII).
const ConfigHeader = "Herald-Endpoint-Config"

// SequenceHeader and ReceivedAtHeader carry the event's place in the log
// with every delivery, as pull consumers get them: its sequence number,
// zero-padded to 20 digits so it sorts as a string, and the time Herald
// received it (RFC 3339, UTC, milliseconds). Receivers use them to order
// what arrives out of order and to ask for a replay from where they are.
const (
	SequenceHeader   = "Herald-Sequence"
	ReceivedAtHeader = "Herald-Received-At"
)

// extraHeaders builds the endpoint's static headers, its config header and
// the event's sequence and receive time (which static headers cannot
// override: outbound reserves their names).
func (d *Deliverer) extraHeaders(t *postgres.SendTarget) (http.Header, error) {
	static, err := d.store.OpenHeaders(t.Delivery.EndpointID, t.HeadersSealed)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(static)+3)
	for k, v := range static {
		h.Set(k, v)
	}
	if len(t.Config) > 0 {
		v, err := asciiJSON(t.Config)
		if err != nil {
			return nil, err
		}
		h.Set(ConfigHeader, v)
	}
	h.Set(SequenceHeader, herald.FormatSeq(t.Seq))
	h.Set(ReceivedAtHeader, herald.FormatReceivedAt(t.Delivery.CreatedAt))
	return h, nil
}

// asciiJSON compacts a JSON document and escapes every non-ASCII character,
// so it can travel in an HTTP header.
func asciiJSON(doc []byte) (string, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		return "", fmt.Errorf("compact config: %w", err)
	}
	var b strings.Builder
	for _, r := range buf.String() {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, "\\u%04x\\u%04x", r1, r2)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String(), nil
}
