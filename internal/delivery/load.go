package delivery

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// attempt is one look at a delivery: what its load read and opened, the
// state Decide reads, and the message ready to sign and send.
type attempt struct {
	key    postgres.DeliveryKey
	target *postgres.SendTarget // nil: no longer stored
	state  State
	msg    webhook.Message
	auth   *herald.EndpointAuth
	// credsErr is set when the endpoint's auth or client certificate
	// cannot be opened: the attempt fails (and is retried) without being
	// sent.
	credsErr error
}

// delivery is the loaded delivery (the key's fields only when it is no
// longer stored).
func (a *attempt) delivery() *herald.Delivery {
	if a.target == nil {
		return &herald.Delivery{ID: a.key.ID, CreatedAt: a.key.CreatedAt}
	}
	return &a.target.Delivery
}

// loadMany serves a batch of loads with one query, rendering the bodies
// that are pushed (see pushBodies). A delivery no longer stored gets nil.
func (d *Deliverer) loadMany(ctx context.Context, keys []postgres.DeliveryKey) ([]*postgres.SendTarget, error) {
	found, err := d.store.DeliveryLoadMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	if err := pushBodies(ctx, d.cfg.PushBody, found); err != nil {
		return nil, err
	}
	out := make([]*postgres.SendTarget, len(keys))
	for i, k := range keys {
		out[i] = found[k.ID] // nil: gone
	}
	return out, nil
}

// load reads one delivery through the batcher and opens what its attempt
// needs, in the caller's goroutine so that concurrent attempts decrypt in
// parallel: the live signing secrets, static and config headers, the body
// in the endpoint's content mode, its auth and client certificate. What
// cannot be opened is noted in the state for Decide, which weighs it after
// the endpoint's own state.
func (d *Deliverer) load(ctx context.Context, key postgres.DeliveryKey) (*attempt, error) {
	t, err := d.loads.Do(ctx, key)
	if err != nil {
		return nil, err
	}
	a := &attempt{key: key, target: t, state: State{Want: key.Gen}}
	if t == nil {
		return a, nil
	}
	dl := &t.Delivery
	a.state = State{
		Found: true, Status: dl.Status, Attempts: dl.Attempts, RetryBase: dl.RetryBase, JobGen: t.JobGen, Want: key.Gen,
		RenderErr: t.RenderErr, EndpointStatus: t.EndpointStatus, OpenUntil: t.OpenUntil,
		RateLimit: t.RateLimit, SlotAt: t.SlotAt, Exhausted: t.Exhausted, Operational: herald.IsOperational(dl.EventType),
	}
	a.msg = webhook.Message{URL: t.URL, ID: dl.ID.String(), Body: t.Body}
	if a.msg.Secrets, err = d.secrets(t); err == nil {
		a.msg.Header, err = d.extraHeaders(t)
	}
	if err != nil {
		a.state.SettingsErr = err
		return a, nil
	}
	if t.ContentMode == herald.ContentModeBinary {
		a.state.EncodeErr = toBinary(&a.msg)
	}
	if a.auth, a.credsErr = d.store.OpenAuth(dl.EndpointID, t.AuthSealed); a.credsErr == nil {
		a.msg.ClientCert, a.credsErr = d.clientCert(t)
	}
	return a, nil
}

// secrets returns the endpoint's live signing secrets: the current one and
// those rotated out whose grace has not ended (one signature each).
func (d *Deliverer) secrets(t *postgres.SendTarget) ([]string, error) {
	ep := &herald.Endpoint{ID: t.Delivery.EndpointID}
	var err error
	if ep.Secret, err = d.store.OpenSecret(ep.ID, t.SecretSealed); err != nil {
		return nil, err
	}
	if ep.OldSecrets, err = d.store.OpenOldSecrets(ep.ID, t.OldSecrets); err != nil {
		return nil, err
	}
	return ep.LiveSecrets(time.Now()), nil
}

// clientCert opens the endpoint's mutual-TLS certificate for the sender
// (nil when the endpoint has none).
func (d *Deliverer) clientCert(t *postgres.SendTarget) (*webhook.ClientCertificate, error) {
	c, err := d.store.OpenMTLS(t.Delivery.EndpointID, t.MTLSSealed)
	if err != nil || c == nil {
		return nil, err
	}
	return ClientCertificate(c), nil
}

// ClientCertificate converts a stored client certificate for the sender
// (nil stays nil); the endpoint handshake presents it too.
func ClientCertificate(c *herald.ClientCert) *webhook.ClientCertificate {
	if c == nil {
		return nil
	}
	return &webhook.ClientCertificate{CertPEM: c.Certificate, KeyPEM: c.PrivateKey}
}
