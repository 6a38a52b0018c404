package web

import (
	"encoding/json"
	"time"
)

// The API's JSON shapes, as far as the pages read them. The API owns them
// (openapi/openapi.yaml); these only decode.

type listOf[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

type tenantWire struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Platform bool         `json:"platform"`
	Branding brandingWire `json:"branding"`
}

type clientWire struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	Key       string    `json:"key"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"secret"`
}

type eventTypeWire struct {
	Name            string          `json:"name"`
	Tenant          string          `json:"tenant"`
	Description     string          `json:"description"`
	Public          bool            `json:"public"`
	Version         int             `json:"version"`
	Schema          json.RawMessage `json:"schema"`
	SchemaDraft     string          `json:"schema_draft"`
	FormatAssertion bool            `json:"format_assertion"`
	Delivery        string          `json:"delivery"`
	Producers       []string        `json:"producers"`
	Consumers       []string        `json:"consumers"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

type schemaVersionWire struct {
	Version     int             `json:"version"`
	Schema      json.RawMessage `json:"schema"`
	SchemaDraft string          `json:"schema_draft"`
	CreatedAt   time.Time       `json:"created_at"`
}

type verificationWire struct {
	Attempts      int        `json:"attempts"`
	LastAttemptAt time.Time  `json:"last_attempt_at"`
	StatusCode    *int       `json:"status_code"`
	Error         string     `json:"error"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

type endpointWire struct {
	ID             string            `json:"id"`
	Tenant         string            `json:"tenant"`
	Client         string            `json:"client"`
	URL            string            `json:"url"`
	Description    string            `json:"description"`
	Types          []string          `json:"types"`
	Status         string            `json:"status"`
	DisabledReason string            `json:"disabled_reason"`
	RateLimit      int               `json:"rate_limit"`
	Ordered        bool              `json:"ordered"`
	ContentMode    string            `json:"content_mode"`
	VerifiedAt     *time.Time        `json:"verified_at"`
	VerifiedBy     string            `json:"verified_by"`
	Verification   *verificationWire `json:"verification"`
	Signing        string            `json:"signing"`
	Filter         json.RawMessage   `json:"filter"`
	Config         json.RawMessage   `json:"config"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	Secret         string            `json:"secret"`
}

type attemptWire struct {
	Attempt      int       `json:"attempt"`
	At           time.Time `json:"at"`
	StatusCode   int       `json:"status_code"`
	LatencyMS    float64   `json:"latency_ms"`
	Error        string    `json:"error"`
	ResponseBody string    `json:"response_body"`
}

type deliveryWire struct {
	ID             string        `json:"id"`
	EventID        string        `json:"event_id"`
	EventType      string        `json:"event_type"`
	EndpointID     string        `json:"endpoint_id"`
	Status         string        `json:"status"`
	Attempts       int           `json:"attempts"`
	NextAttemptAt  *time.Time    `json:"next_attempt_at"`
	LastAttemptAt  *time.Time    `json:"last_attempt_at"`
	LastStatusCode int           `json:"last_status_code"`
	LastError      string        `json:"last_error"`
	CreatedAt      time.Time     `json:"created_at"`
	AttemptLog     []attemptWire `json:"attempt_log"`
}

type deadEventWire struct {
	ID         string    `json:"id"`
	Channel    string    `json:"channel"`
	Group      string    `json:"group"`
	Endpoint   string    `json:"endpoint"`
	DeliveryID string    `json:"delivery_id"`
	EventID    string    `json:"event_id"`
	Type       string    `json:"type"`
	Reason     string    `json:"reason"`
	ReceivedAt time.Time `json:"received_at"`
	CreatedAt  time.Time `json:"created_at"`
}

type requestWire struct {
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
	BodyBase64 string            `json:"body_base64"`
}
