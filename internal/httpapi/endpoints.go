package httpapi

import (
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
)

type endpointJSON struct {
	ID             uuid.UUID `json:"id"`
	Tenant         uuid.UUID `json:"tenant"`
	Client         uuid.UUID `json:"client"`
	URL            string    `json:"url"`
	Description    string    `json:"description"`
	Types          []string  `json:"types"`
	Status         string    `json:"status"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	// RateLimit caps deliveries per second (absent: unlimited).
	RateLimit int `json:"rate_limit,omitempty"`
	// Ordered sends each partition key's events one at a time, in order.
	Ordered bool `json:"ordered"`
	// ContentMode is structured (the event as JSON) or binary (data as the
	// body, attributes as ce- headers).
	ContentMode string `json:"content_mode"`
	// VerifiedAt and VerifiedBy tell when and how the receiver consented.
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
	VerifiedBy string     `json:"verified_by,omitempty"`
	// Verification is the latest verification handshake: why a pending
	// endpoint is still pending, and when it is tried again.
	Verification *verificationJSON `json:"verification,omitempty"`
	// Signing is v1 (HMAC) or v1a (ed25519); PublicKey verifies v1a.
	Signing   string `json:"signing"`
	PublicKey string `json:"public_key,omitempty"`
	// Auth is how Herald authenticates to the endpoint; the client secret
	// is never shown.
	Auth *authOutJSON `json:"auth,omitempty"`
	// MTLS describes the client certificate Herald presents; the private
	// key is never shown.
	MTLS *mtlsOutJSON `json:"mtls,omitempty"`
	// Filter narrows the subscription beyond type patterns.
	Filter json.RawMessage `json:"filter,omitempty"`
	// Config is the endpoint's own JSON object, sent with every delivery.
	Config json.RawMessage `json:"config,omitempty"`
	// Headers lists the static headers with their values masked: they often
	// hold credentials.
	Headers   map[string]string `json:"headers,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// endpointCreatedJSON is the creation answer: the endpoint and, this once,
// its signing secret (after every other field, as it always was).
type endpointCreatedJSON struct {
	endpointJSON
	Secret string `json:"secret"`
}

func toEndpointJSON(e *herald.Endpoint) endpointJSON {
	out := endpointJSON{ID: e.ID, Tenant: e.TenantID, Client: e.ClientID, URL: e.URL, Description: e.Description,
		Types: e.Types, Status: string(e.Status), DisabledReason: e.DisabledReason, Config: json.RawMessage(e.Config),
		Signing: e.Signing, PublicKey: e.PublicKey, Filter: json.RawMessage(e.Filter), Auth: toAuthJSON(e.Auth),
		VerifiedAt: httpjson.Time(e.VerifiedAt), VerifiedBy: e.VerifiedBy, RateLimit: e.RateLimit,
		Ordered: e.Ordered, ContentMode: e.ContentMode, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, MTLS: toMTLSJSON(e.MTLS),
		Verification: toVerificationJSON(e.Verification)}
	if len(e.Headers) > 0 {
		out.Headers = make(map[string]string, len(e.Headers))
		for k := range e.Headers {
			out.Headers[k] = "****"
		}
	}
	return out
}

func (s *Server) handleEndpointCreate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		URL         string            `json:"url"`
		Types       []string          `json:"types"`
		Description string            `json:"description"`
		Client      *uuid.UUID        `json:"client"`
		Config      json.RawMessage   `json:"config"`
		Headers     map[string]string `json:"headers"`
		Signing     string            `json:"signing"`
		Filter      json.RawMessage   `json:"filter"`
		Auth        *authInJSON       `json:"auth"`
		RateLimit   *int              `json:"rate_limit"`
		Ordered     bool              `json:"ordered"`
		ContentMode string            `json:"content_mode"`
		MTLS        json.RawMessage   `json:"mtls"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	owner, err := s.receivingClient(r, in.Client, "an endpoint")
	if err != nil {
		return err
	}
	if in.Types == nil {
		in.Types = []string{}
	}
	ve := &herald.ValidationError{}
	if utf8.RuneCountInString(in.Description) > 1000 {
		ve.Add("description", "max-length", "must be at most 1000 characters")
	}
	if err := s.checkEndpointFields(r, ve, owner, &in.URL, in.Types); err != nil {
		return err
	}
	config := checkConfig(ve, in.Config)
	auth := s.checkAuth(ve, in.Auth, nil)
	checkHeaders(ve, in.Headers, auth != nil)
	flt := checkFilter(ve, in.Filter)
	rate := checkRate(ve, in.RateLimit)
	mode := checkContentMode(ve, in.ContentMode)
	mtls := checkMTLS(ve, in.MTLS, nil, in.URL)
	if in.Signing == "" {
		in.Signing = "v1"
	}
	if in.Signing != "v1" && in.Signing != "v1a" {
		ve.Add("signing", "enum", "must be v1 (HMAC-SHA256) or v1a (ed25519)")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	secret, public, err := newEndpointSecret(in.Signing)
	if err != nil {
		return err
	}
	ep := &herald.Endpoint{ID: uuid.New(), TenantID: owner.TenantID, ClientID: owner.ID, URL: in.URL,
		Description: in.Description, Types: in.Types, Status: herald.EndpointActive, Secret: secret,
		Config: config, Headers: in.Headers, Signing: in.Signing, PublicKey: public, Filter: flt, Auth: auth, RateLimit: rate,
		Ordered: in.Ordered, MTLS: mtls, ContentMode: mode}
	if s.verify {
		ep.Status, ep.VerifyToken = herald.EndpointPending, newVerifyToken()
	}
	if err := s.store.EndpointCreate(r.Context(), ep); err != nil {
		return err
	}
	s.catalog.Invalidate()
	if ep.Status == herald.EndpointPending {
		if err := s.retrier.StartVerification(r.Context(), ep.ID); err != nil {
			return err
		}
	}
	out := endpointCreatedJSON{endpointJSON: toEndpointJSON(ep), Secret: secret}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusCreated, out)
	return nil
}

func (s *Server) handleEndpointList(w http.ResponseWriter, r *http.Request) error {
	tenant, client, err := ownedListScope(r, "endpoints")
	if err != nil {
		return err
	}
	limit, after, err := pageParams(r)
	if err != nil {
		return err
	}
	status := herald.EndpointStatus(r.URL.Query().Get("status"))
	switch status {
	case "", herald.EndpointActive, herald.EndpointPending, herald.EndpointDisabled:
	default:
		return herald.Invalid("status", "enum", "must be active, pending or disabled")
	}
	eps, err := s.store.EndpointList(r.Context(), tenant, client, status, after, limit)
	if err != nil {
		return err
	}
	out := httpjson.PageOf(eps, toEndpointJSON, limit,
		func(e *herald.Endpoint) postgres.PageKey { return postgres.PageKey{Time: e.CreatedAt, ID: e.ID} })
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// visibleEndpoint loads the endpoint of the path (see visibleOwned).
func (s *Server) visibleEndpoint(r *http.Request) (*herald.Endpoint, error) {
	return visibleOwned(r, "endpoint", s.store.EndpointGet,
		func(e *herald.Endpoint) (uuid.UUID, uuid.UUID) { return e.TenantID, e.ClientID })
}

func (s *Server) handleEndpointGet(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toEndpointJSON(e))
	return nil
}

func (s *Server) handleEndpointPatch(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	var in struct {
		URL         *string           `json:"url"`
		Types       []string          `json:"types"`
		Description *string           `json:"description"`
		Status      *string           `json:"status"`
		Config      json.RawMessage   `json:"config"`
		Headers     map[string]string `json:"headers"`
		Filter      json.RawMessage   `json:"filter"`
		Auth        *authInJSON       `json:"auth"`
		RateLimit   *int              `json:"rate_limit"`
		Ordered     *bool             `json:"ordered"`
		ContentMode *string           `json:"content_mode"`
		MTLS        json.RawMessage   `json:"mtls"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	owner := principal(r).Client
	if e.ClientID != uuid.Nil && e.ClientID != owner.ID {
		if c, err := s.store.ClientGet(r.Context(), e.ClientID); err == nil {
			owner = c
		}
	}
	ve := &herald.ValidationError{}
	if in.Description != nil && utf8.RuneCountInString(*in.Description) > 1000 {
		ve.Add("description", "max-length", "must be at most 1000 characters")
	}
	if in.Status != nil && *in.Status != string(herald.EndpointActive) && *in.Status != string(herald.EndpointDisabled) {
		ve.Add("status", "enum", "must be active or disabled")
	}
	if err := s.checkEndpointFields(r, ve, owner, in.URL, in.Types); err != nil {
		return err
	}
	var config []byte
	if in.Config != nil {
		config = checkConfig(ve, in.Config)
	}
	if in.RateLimit != nil {
		e.RateLimit = checkRate(ve, in.RateLimit)
	}
	if in.Ordered != nil {
		e.Ordered = *in.Ordered
	}
	if in.ContentMode != nil {
		e.ContentMode = checkContentMode(ve, *in.ContentMode)
	}
	auth := e.Auth
	if in.Auth != nil {
		auth = s.checkAuth(ve, in.Auth, e.Auth)
	}
	checkHeaders(ve, in.Headers, auth != nil)
	var flt []byte
	if in.Filter != nil {
		flt = checkFilter(ve, in.Filter)
	}
	target := e.URL
	if in.URL != nil {
		target = *in.URL
	}
	mtls := e.MTLS
	if in.MTLS != nil {
		mtls = checkMTLS(ve, in.MTLS, e.MTLS, target)
	} else if mtls != nil && !isHTTPS(target) {
		ve.Add("url", "https", "the endpoint presents a client certificate (mtls), which needs an https URL")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	if in.Config != nil {
		e.Config = config
	}
	if in.Filter != nil {
		e.Filter = flt // null clears it
	}
	e.Auth = auth
	e.MTLS = mtls // null removes it
	if in.Headers != nil {
		e.Headers = in.Headers // {} clears them
	}
	if in.Status != nil && *in.Status == string(herald.EndpointActive) && e.Status == herald.EndpointPending {
		return herald.Conflict("endpoint %s is waiting for its receiver's consent; an admin can verify it with POST /v1/endpoints/{id}/verify", e.ID)
	}
	reverify := s.verify && (in.URL != nil && *in.URL != e.URL ||
		in.Status != nil && *in.Status == string(herald.EndpointActive) && e.VerifiedAt.IsZero())
	if in.URL != nil {
		e.URL = *in.URL
	}
	if in.Types != nil {
		e.Types = in.Types
	}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if in.Status != nil {
		setStatus(e, herald.EndpointStatus(*in.Status), "disabled by "+principal(r).Client.Key)
	}
	if reverify && e.Status != herald.EndpointDisabled {
		// A new URL is a new receiver, and a receiver that never consented
		// has not yet: ask first.
		if err := s.store.EndpointUpdate(r.Context(), e); err != nil {
			return err
		}
		return s.startVerification(w, r, e.ID)
	}
	return s.updateEndpoint(w, r, e)
}

func setStatus(e *herald.Endpoint, st herald.EndpointStatus, reason string) {
	if e.Status == st {
		return
	}
	e.Status = st
	e.DisabledReason = ""
	if st == herald.EndpointDisabled {
		e.DisabledReason = reason
	}
}

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request, e *herald.Endpoint) error {
	if err := s.store.EndpointUpdate(r.Context(), e); err != nil {
		return err
	}
	s.catalog.Invalidate()
	httpjson.Write(w, http.StatusOK, toEndpointJSON(e))
	return nil
}

func (s *Server) handleEndpointDisable(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	setStatus(e, herald.EndpointDisabled, "disabled by "+principal(r).Client.Key)
	return s.updateEndpoint(w, r, e)
}

func (s *Server) handleEndpointEnable(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	if e.Status == herald.EndpointPending {
		return herald.Conflict("endpoint %s is waiting for its receiver's consent; an admin can verify it with POST /v1/endpoints/{id}/verify", e.ID)
	}
	if err := s.store.EndpointHealthReset(r.Context(), e.ID); err != nil {
		return err
	}
	if s.verify && e.VerifiedAt.IsZero() {
		// Never consented (disabled while pending, say): ask first.
		return s.startVerification(w, r, e.ID)
	}
	setStatus(e, herald.EndpointActive, "")
	return s.updateEndpoint(w, r, e)
}

func (s *Server) handleEndpointDelete(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	if err := s.store.EndpointDelete(r.Context(), e.ID); err != nil {
		return err
	}
	s.catalog.Invalidate()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
