package herald

import (
	"time"

	"github.com/google/uuid"
)

// Connector is a hosted function (or a built-in: HTTP forward, e-mail) that
// Herald runs for each matching event, for consumers that cannot take
// webhooks. Like an endpoint it belongs to a tenant, receives for one
// client (whose consume rights apply), and subscribes to type patterns,
// optionally narrowed by a filter.
type Connector struct {
	ID       uuid.UUID
	TenantID uuid.UUID
	// ClientID is the consumer the connector receives for (nil when that
	// client was deleted: it then receives nothing).
	ClientID    uuid.UUID
	Name        string
	Description string
	// Kind names the implementation: "function", "http" or "email".
	Kind   string
	Types  []string
	Filter []byte
	// Code is the JavaScript of a function (or an HTTP forward's
	// transform).
	Code string
	// Config is the plain configuration; Secrets the secret part, stored
	// encrypted and merged into Config when the connector runs. Both are
	// only loaded where needed (not in the routing catalog).
	Config  map[string]any
	Secrets map[string]any
	Enabled bool

	CreatedAt time.Time
	UpdatedAt time.Time
}

// MergedConfig is the configuration a run sees: Config with Secrets added.
func (c *Connector) MergedConfig() map[string]any {
	out := make(map[string]any, len(c.Config)+len(c.Secrets))
	for k, v := range c.Config {
		out[k] = v
	}
	for k, v := range c.Secrets {
		out[k] = v
	}
	return out
}

// ConnectorRunStatus says where a connector run stands.
type ConnectorRunStatus string

// Connector run statuses: failed is terminal until retried by hand.
const (
	ConnectorRunPending   ConnectorRunStatus = "pending"
	ConnectorRunSucceeded ConnectorRunStatus = "succeeded"
	ConnectorRunFailed    ConnectorRunStatus = "failed"
)

// ConnectorRun is one event handed to one connector, with its attempts.
type ConnectorRun struct {
	ID              uuid.UUID
	ConnectorID     uuid.UUID
	TenantID        uuid.UUID
	EventID         uuid.UUID
	EventReceivedAt time.Time
	EventType       string
	// Input summarises the event the run works on.
	Input         string
	Status        ConnectorRunStatus
	Attempts      int
	RetryBase     int
	NextAttemptAt time.Time
	LastAttemptAt time.Time
	LastError     string
	// History holds the latest attempts, oldest first.
	History   []ConnectorAttempt
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConnectorAttempt is one execution of a connector.
type ConnectorAttempt struct {
	Attempt int
	At      time.Time
	// Status is "success" or "failed".
	Status   string
	Error    string
	Logs     []string
	Requests int
	Duration time.Duration
}
