package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// describer is a Sender that can show the request it would make without
// making it (*webhook.Sender).
type describer interface {
	Describe(m webhook.Message) (webhook.Request, error)
}

// ErrCannotDescribe is returned by Request when the configured sender
// cannot show its requests.
var ErrCannotDescribe = errors.New("this sender cannot describe its requests")

// MaskedValue replaces what a described request must not show: static
// header values (they often carry the receiver's own credentials, and the
// endpoint API masks them too) and outbound tokens.
const MaskedValue = "****"

// Request is the request the next attempt of dl would make, built by the
// attempt's own load (the same body, thin stays thin; the same content
// mode; the same headers) and the sender's own header builder. It is not
// signed: signatures and Authorization tokens are made per attempt and
// shown as placeholders, and static header values are masked.
func (d *Deliverer) Request(ctx context.Context, dl *herald.Delivery) (webhook.Request, error) {
	desc, ok := d.sender.(describer)
	if !ok {
		return webhook.Request{}, ErrCannotDescribe
	}
	a, err := d.load(ctx, postgres.DeliveryKey{ID: dl.ID, CreatedAt: dl.CreatedAt})
	if err != nil {
		return webhook.Request{}, fmt.Errorf("describe delivery %s: %w", dl.ID, err)
	}
	switch st := a.state; {
	case a.target == nil:
		return webhook.Request{}, herald.NotFound("delivery %s", dl.ID)
	case st.RenderErr != nil:
		return webhook.Request{}, herald.ConflictRule("id", "render", "the delivery's body cannot be rendered: %v", st.RenderErr)
	case st.EncodeErr != nil:
		return webhook.Request{}, herald.ConflictRule("id", "content-mode", "the event cannot be sent in the endpoint's content mode: %v", st.EncodeErr)
	case st.SettingsErr != nil:
		return webhook.Request{}, fmt.Errorf("describe delivery %s: %w", dl.ID, st.SettingsErr)
	case a.credsErr != nil:
		return webhook.Request{}, fmt.Errorf("describe delivery %s: %w", dl.ID, a.credsErr)
	}
	m := a.msg
	m.Header = m.Header.Clone()
	if m.Header == nil {
		m.Header = http.Header{}
	}
	if a.auth != nil {
		m.Header.Set("Authorization", "Bearer <"+string(a.auth.Type)+" token, made per attempt>")
	}
	req, err := desc.Describe(m)
	if err != nil {
		return webhook.Request{}, fmt.Errorf("describe delivery %s: %w", dl.ID, err)
	}
	static, err := d.store.OpenHeaders(dl.EndpointID, a.target.HeadersSealed)
	if err != nil {
		return webhook.Request{}, fmt.Errorf("describe delivery %s: %w", dl.ID, err)
	}
	for k, v := range static {
		// A static header the attempt overrode (a ce- attribute in binary
		// mode) shows the value that is sent.
		ck := http.CanonicalHeaderKey(k)
		if got := req.Header[ck]; len(got) == 1 && got[0] == v {
			req.Header[ck] = []string{MaskedValue}
		}
	}
	return req, nil
}
