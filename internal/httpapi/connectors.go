package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/route"
)

type connectorJSON struct {
	ID          uuid.UUID       `json:"id"`
	Tenant      uuid.UUID       `json:"tenant"`
	Client      uuid.UUID       `json:"client"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Kind        string          `json:"kind"`
	Types       []string        `json:"types"`
	Filter      json.RawMessage `json:"filter,omitempty"`
	Code        string          `json:"code"`
	Config      map[string]any  `json:"config"`
	// Secrets lists the secret keys with their values masked.
	Secrets   map[string]string `json:"secrets"`
	Enabled   bool              `json:"enabled"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func toConnectorJSON(c *herald.Connector) connectorJSON {
	out := connectorJSON{ID: c.ID, Tenant: c.TenantID, Client: c.ClientID, Name: c.Name, Description: c.Description,
		Kind: c.Kind, Types: c.Types, Filter: json.RawMessage(c.Filter), Code: c.Code, Config: c.Config,
		Secrets: make(map[string]string, len(c.Secrets)), Enabled: c.Enabled, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if out.Config == nil {
		out.Config = map[string]any{}
	}
	for k := range c.Secrets {
		out.Secrets[k] = connectors.Mask
	}
	return out
}

// Limits on a connector's plain and secret configuration.
const (
	maxConnectorConfigBytes  = 16 << 10
	maxConnectorSecretsBytes = 8 << 10
)

// checkConnectorObject validates a JSON object field (config or secrets).
func checkConnectorObject(ve *herald.ValidationError, field string, raw json.RawMessage, maxBytes int) (map[string]any, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		ve.Add(field, "type", "must be a JSON object")
		return nil, false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err == nil && buf.Len() > maxBytes {
		ve.Add(field, "max-size", "must be at most %d bytes of compact JSON", maxBytes)
	}
	return m, true
}

// looksSecret says whether a config key names a credential, which must go
// in secrets rather than sit in plain config, shown in every response.
func looksSecret(key string) bool {
	k := strings.NewReplacer("-", "", "_", "", ".", "").Replace(strings.ToLower(key))
	for _, w := range []string{"password", "passwd", "secret", "token", "apikey", "authorization", "privatekey", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// connectorInJSON is a create or update request; absent fields stay as
// they are on update.
type connectorInJSON struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Kind        string          `json:"kind"`
	Types       []string        `json:"types"`
	Filter      json.RawMessage `json:"filter"`
	Code        *string         `json:"code"`
	Config      json.RawMessage `json:"config"`
	// Secrets are merged key by key on update: a key set to null is
	// removed, a key set to the mask keeps its value.
	Secrets json.RawMessage `json:"secrets"`
	Enabled *bool           `json:"enabled"`
	Client  *uuid.UUID      `json:"client"`
}

// applyConnector validates in and applies it to c (a new connector when
// create), adding problems to ve.
func (s *Server) applyConnector(r *http.Request, ve *herald.ValidationError, in *connectorInJSON, c *herald.Connector, owner *herald.Client, create bool) error {
	if in.Name != nil || create {
		name := ""
		if in.Name != nil {
			name = strings.TrimSpace(*in.Name)
		}
		switch {
		case name == "":
			ve.Add("name", "required", "give the connector a name, unique in its tenant")
		case utf8.RuneCountInString(name) > 200:
			ve.Add("name", "max-length", "must be at most 200 characters")
		}
		c.Name = name
	}
	if in.Description != nil {
		if utf8.RuneCountInString(*in.Description) > 1000 {
			ve.Add("description", "max-length", "must be at most 1000 characters")
		}
		c.Description = *in.Description
	}
	if create {
		if _, ok := s.connectors.Kind(in.Kind); !ok {
			ve.Add("kind", "enum", "must be one of %s", strings.Join(s.connectors.Names(), ", "))
		}
		c.Kind = in.Kind
	} else if in.Kind != "" && in.Kind != c.Kind {
		ve.Add("kind", "immutable", "cannot change; create a new connector of kind %s", in.Kind)
	}
	if in.Types != nil || create {
		if in.Types == nil {
			in.Types = []string{}
		}
		if err := s.checkEndpointFields(r, ve, owner, nil, in.Types); err != nil {
			return err
		}
		c.Types = in.Types
	}
	if in.Filter != nil {
		c.Filter = checkFilter(ve, in.Filter)
	}
	if in.Code != nil {
		c.Code = *in.Code
	}
	if in.Config != nil {
		cfg, _ := checkConnectorObject(ve, "config", in.Config, maxConnectorConfigBytes)
		for k := range cfg {
			if looksSecret(k) {
				ve.Add("config."+k, "secret", "looks like a credential; put it in secrets, which are stored encrypted and masked")
			}
		}
		c.Config = cfg
	}
	if in.Secrets != nil {
		sec, present := checkConnectorObject(ve, "secrets", in.Secrets, maxConnectorSecretsBytes)
		switch {
		case !present && string(in.Secrets) == "null":
			c.Secrets = nil
		case present:
			merged := make(map[string]any, len(c.Secrets)+len(sec))
			for k, v := range c.Secrets {
				merged[k] = v
			}
			for k, v := range sec {
				switch {
				case v == nil:
					delete(merged, k)
				case v == connectors.Mask:
					if _, had := c.Secrets[k]; !had {
						ve.Add("secrets."+k, "masked", "give the secret's value; %q only keeps a value already stored", connectors.Mask)
					}
				default:
					merged[k] = v
				}
			}
			c.Secrets = merged
		}
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	for k := range c.Secrets {
		if _, clash := c.Config[k]; clash {
			ve.Add("secrets."+k, "conflict", "is also in config; a key is either plain config or secret")
		}
	}
	if len(ve.Errors) > 0 {
		return nil
	}
	spec := connectors.Spec{Code: c.Code, Config: c.MergedConfig()}
	if err := s.connectors.Validate(c.Kind, spec); err != nil {
		return err
	}
	// Where the connector sends must pass the same policy as an endpoint.
	for _, t := range s.connectors.Targets(c.Kind, spec) {
		s.checkTarget(ve, t)
	}
	return nil
}

func (s *Server) handleConnectorCreate(w http.ResponseWriter, r *http.Request) error {
	var in connectorInJSON
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	owner, err := s.receivingClient(r, in.Client, "a connector")
	if err != nil {
		return err
	}
	c := &herald.Connector{ID: uuid.New(), TenantID: owner.TenantID, ClientID: owner.ID, Enabled: true}
	ve := &herald.ValidationError{}
	if err := s.applyConnector(r, ve, &in, c, owner, true); err != nil {
		return err
	}
	if err := ve.Err(); err != nil {
		return err
	}
	if dry, err := dryRun(r); err != nil || dry {
		// Checked as a creation would be (the code's syntax included),
		// nothing stored: editors check code as it is typed.
		if err != nil {
			return err
		}
		httpjson.Write(w, http.StatusOK, toConnectorJSON(c))
		return nil
	}
	if err := s.store.ConnectorCreate(r.Context(), c); err != nil {
		return err
	}
	s.catalog.Invalidate()
	httpjson.Write(w, http.StatusCreated, toConnectorJSON(c))
	return nil
}

func (s *Server) handleConnectorList(w http.ResponseWriter, r *http.Request) error {
	tenant, client, err := ownedListScope(r, "connectors")
	if err != nil {
		return err
	}
	limit, after, err := pageParams(r)
	if err != nil {
		return err
	}
	cs, err := s.store.ConnectorList(r.Context(), tenant, client, after, limit)
	if err != nil {
		return err
	}
	out := httpjson.PageOf(cs, toConnectorJSON, limit,
		func(c *herald.Connector) postgres.PageKey { return postgres.PageKey{Name: c.Name, ID: c.ID} })
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// visibleConnector loads the connector of the path (see visibleOwned).
func (s *Server) visibleConnector(r *http.Request) (*herald.Connector, error) {
	return visibleOwned(r, "connector", s.store.ConnectorGet,
		func(c *herald.Connector) (uuid.UUID, uuid.UUID) { return c.TenantID, c.ClientID })
}

func (s *Server) handleConnectorGet(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleConnector(r)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toConnectorJSON(c))
	return nil
}

func (s *Server) handleConnectorUpdate(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleConnector(r)
	if err != nil {
		return err
	}
	var in connectorInJSON
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	if in.Client != nil && *in.Client != c.ClientID {
		return herald.Invalid("client", "immutable", "cannot change; create the connector for that client")
	}
	owner := principal(r).Client
	if c.ClientID != uuid.Nil && c.ClientID != owner.ID {
		if cl, err := s.store.ClientGet(r.Context(), c.ClientID); err == nil {
			owner = cl
		}
	}
	ve := &herald.ValidationError{}
	if err := s.applyConnector(r, ve, &in, c, owner, false); err != nil {
		return err
	}
	if err := ve.Err(); err != nil {
		return err
	}
	if dry, err := dryRun(r); err != nil || dry {
		if err != nil {
			return err
		}
		httpjson.Write(w, http.StatusOK, toConnectorJSON(c))
		return nil
	}
	if err := s.store.ConnectorUpdate(r.Context(), c); err != nil {
		return err
	}
	s.catalog.Invalidate()
	httpjson.Write(w, http.StatusOK, toConnectorJSON(c))
	return nil
}

func (s *Server) handleConnectorDelete(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleConnector(r)
	if err != nil {
		return err
	}
	if err := s.store.ConnectorDelete(r.Context(), c.ID); err != nil {
		return err
	}
	s.catalog.Invalidate()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type runResultJSON struct {
	Status     string   `json:"status"`
	Error      string   `json:"error,omitempty"`
	Logs       []string `json:"logs"`
	Requests   int      `json:"requests"`
	DurationMS float64  `json:"duration_ms"`
}

// handleConnectorTest runs the connector once, now, against a sample event
// (or the one given), and answers with the outcome. Nothing is stored or
// queued; only the connector's own requests (or e-mail) go out.
func (s *Server) handleConnectorTest(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleConnector(r)
	if err != nil {
		return err
	}
	var in struct {
		Event json.RawMessage `json:"event"`
	}
	if err := httpjson.DecodeOptional(w, r, &in); err != nil {
		return err
	}
	event := in.Event
	if len(event) == 0 || string(event) == "null" {
		event = sampleEvent(c)
	} else {
		var obj map[string]any
		if err := json.Unmarshal(event, &obj); err != nil {
			return herald.Invalid("event", "type", "must be a CloudEvent as a JSON object")
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, event)
		event = buf.Bytes()
	}
	run, err := s.connectors.Build(c.Kind, connectors.Spec{Code: c.Code, Config: c.MergedConfig()})
	if err != nil {
		return err
	}
	res := connectors.Redact(run.Run(r.Context(), connectors.Input{Event: event}), c.Secrets)
	out := runResultJSON{Status: string(res.Status), Error: res.Error, Logs: res.Logs, Requests: res.Requests,
		DurationMS: float64(res.Duration.Microseconds()) / 1000}
	if out.Logs == nil {
		out.Logs = []string{}
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// sampleEvent is the CloudEvent a test run gets when none is given: of the
// connector's first exact type, else herald.connector.test.
func sampleEvent(c *herald.Connector) json.RawMessage {
	typ := "herald.connector.test"
	for _, t := range c.Types {
		if !route.IsPattern(t) {
			typ = t
			break
		}
	}
	now := time.Now().UTC()
	b, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": herald.NewID(now).String(), "source": "/herald/test", "type": typ,
		"time": now.Format(time.RFC3339Nano), "datacontenttype": "application/json",
		"data": map[string]any{"message": "This is a test event from Herald.", "connector": c.ID},
	})
	return b
}
