package app

import (
	"net"
	"net/http"
	"time"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/connectors/email"
	"github.com/heraldhq/herald/connectors/function"
	"github.com/heraldhq/herald/connectors/httpforward"
	"github.com/heraldhq/herald/webhook"
)

// connectorRegistry builds the connector kinds over Herald's SSRF guard:
// HTTP through the webhook sender's client, SMTP through a dialer with the
// same policy.
func connectorRegistry(cfg Config, policy webhook.TargetPolicy, client *http.Client) (*connectors.Registry, connectors.Limits) {
	lim := connectors.Limits{
		Timeout: cfg.ConnectorTimeout, Memory: cfg.ConnectorMemoryMB << 20, MaxRequests: cfg.ConnectorMaxRequests,
	}.WithDefaults()
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1, Control: policy.Control}
	env := connectors.Env{HTTP: client, Dial: dialer.DialContext, RootCAs: cfg.SMTPRootCAs,
		AllowPlainSMTP: cfg.AllowPlainSMTP, Limits: lim}
	return connectors.NewRegistry(function.New(env), httpforward.New(env), email.New(env)), lim
}
