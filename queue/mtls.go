package queue

import (
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// clientCert decrypts the endpoint's mutual-TLS certificate for the
// sender (nil when the endpoint has none).
func (w *deliverWorker) clientCert(t *postgres.SendTarget) (*webhook.ClientCertificate, error) {
	c, err := w.store.OpenMTLS(t.Delivery.EndpointID, t.MTLSSealed)
	if err != nil || c == nil {
		return nil, err
	}
	return toClientCertificate(c), nil
}

// toClientCertificate converts the stored credential for the sender.
func toClientCertificate(c *herald.ClientCert) *webhook.ClientCertificate {
	if c == nil {
		return nil
	}
	return &webhook.ClientCertificate{CertPEM: c.Certificate, KeyPEM: c.PrivateKey}
}
