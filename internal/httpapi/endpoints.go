package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/ingest"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/route"
	"github.com/heraldhq/herald/webhook"
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
	// Secret is only present in the creation response.
	Secret string `json:"secret,omitempty"`
}

// verificationJSON is an endpoint's latest verification handshake.
type verificationJSON struct {
	Attempts      int        `json:"attempts"`
	LastAttemptAt time.Time  `json:"last_attempt_at"`
	StatusCode    *int       `json:"status_code"` // null: no response arrived
	Error         string     `json:"error"`       // "" once the receiver consented
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

func toVerificationJSON(v *herald.Verification) *verificationJSON {
	if v == nil {
		return nil
	}
	out := &verificationJSON{Attempts: v.Attempts, LastAttemptAt: v.LastAttemptAt.UTC(), Error: v.Error,
		NextAttemptAt: timePtr(v.NextAttemptAt)}
	if v.StatusCode != 0 {
		code := v.StatusCode
		out.StatusCode = &code
	}
	return out
}

func toEndpointJSON(e *herald.Endpoint) endpointJSON {
	out := endpointJSON{ID: e.ID, Tenant: e.TenantID, Client: e.ClientID, URL: e.URL, Description: e.Description,
		Types: e.Types, Status: string(e.Status), DisabledReason: e.DisabledReason, Config: json.RawMessage(e.Config),
		Signing: e.Signing, PublicKey: e.PublicKey, Filter: json.RawMessage(e.Filter), Auth: toAuthJSON(e.Auth),
		VerifiedAt: timePtr(e.VerifiedAt), VerifiedBy: e.VerifiedBy, RateLimit: e.RateLimit,
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

// maxConfigBytes bounds the config object: it travels in a header.
const maxConfigBytes = 2048

// checkConfig validates an endpoint's config object and returns it compact
// (nil for JSON null, which clears it).
func checkConfig(ve *herald.ValidationError, raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		ve.Add("config", "type", "must be a JSON object")
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		ve.Add("config", "type", "must be a JSON object")
		return nil
	}
	if buf.Len() > maxConfigBytes {
		ve.Add("config", "max-size", "must be at most %d bytes of compact JSON", maxConfigBytes)
		return nil
	}
	return buf.Bytes()
}

// checkTarget applies the SSRF target policy to a place a client tells
// Herald to send to, whatever names it: an endpoint's url, its OAuth2
// token_url, a connector's config.url or config.host. It adds a problem for
// t.Field: rule ssrf when the policy forbids the target (private, loopback,
// metadata addresses...), url (format, for a host) when it is not a valid
// target at all.
func (s *Server) checkTarget(ve *herald.ValidationError, t connectors.Target) {
	var err error
	invalid := "url"
	if t.Host != "" {
		err, invalid = s.targets.CheckHost(t.Host), "format"
	} else {
		err = s.targets.CheckURL(t.URL)
	}
	switch {
	case err == nil:
	case errors.Is(err, webhook.ErrForbiddenTarget):
		ve.Add(t.Field, "ssrf", "%s", err.Error())
	default:
		ve.Add(t.Field, invalid, "%s", err.Error())
	}
}

// checkEndpointFields validates url and types for a consumer, adding field
// errors to ve. It returns a forbidden error when the consumer subscribes to
// an exact type it may not consume.
func (s *Server) checkEndpointFields(r *http.Request, ve *herald.ValidationError, owner *herald.Client, url *string, types []string) error {
	if url != nil {
		if *url == "" {
			ve.Add("url", "required", "give the URL Herald should POST events to")
		} else if len(*url) > 2048 {
			ve.Add("url", "max-length", "must be at most 2048 characters")
		} else {
			s.checkTarget(ve, connectors.Target{Field: "url", URL: *url})
		}
	}
	if types == nil {
		return nil
	}
	if len(types) == 0 {
		ve.Add("types", "required", "subscribe to at least one event type or pattern")
	}
	if len(types) > 100 {
		ve.Add("types", "max-items", "at most 100 types or patterns per endpoint")
	}
	snap, err := s.catalog.Get(r.Context())
	if err != nil {
		return err
	}
	tenant := snap.Tenant(owner.TenantID)
	platformAdmin := tenant != nil && tenant.Platform && owner.Has(herald.RoleAdmin)
	for i, t := range types {
		field := fmt.Sprintf("types[%d]", i)
		if route.IsPattern(t) {
			if err := route.ValidatePattern(t); err != nil {
				ve.Add(field, "pattern", "%s", err.Error())
			}
			continue
		}
		if err := route.ValidateTypeName(t); err != nil {
			ve.Add(field, "format", "%s", err.Error())
			continue
		}
		te := snap.Type(t)
		if te == nil {
			ve.Add(field, "unknown-type", "event type %q is not registered", t)
			continue
		}
		if !te.Type.MayConsume(owner, platformAdmin) {
			return herald.Forbidden("client %s may not consume events of type %q", owner.Key, t)
		}
	}
	return nil
}

func (s *Server) handleEndpointCreate(w http.ResponseWriter, r *http.Request) {
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
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	owner, err := s.receivingClient(r, in.Client, "an endpoint")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Types == nil {
		in.Types = []string{}
	}
	ve := &herald.ValidationError{}
	if utf8.RuneCountInString(in.Description) > 1000 {
		ve.Add("description", "max-length", "must be at most 1000 characters")
	}
	if err := s.checkEndpointFields(r, ve, owner, &in.URL, in.Types); err != nil {
		s.writeError(w, r, err)
		return
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
		s.writeError(w, r, err)
		return
	}
	secret, public, err := newEndpointSecret(in.Signing)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ep := &herald.Endpoint{ID: uuid.New(), TenantID: owner.TenantID, ClientID: owner.ID, URL: in.URL,
		Description: in.Description, Types: in.Types, Status: herald.EndpointActive, Secret: secret,
		Config: config, Headers: in.Headers, Signing: in.Signing, PublicKey: public, Filter: flt, Auth: auth, RateLimit: rate,
		Ordered: in.Ordered, MTLS: mtls, ContentMode: mode}
	if s.verify {
		ep.Status, ep.VerifyToken = herald.EndpointPending, newVerifyToken()
	}
	if err := s.store.EndpointCreate(r.Context(), ep); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.Invalidate()
	if ep.Status == herald.EndpointPending {
		if err := s.retrier.StartVerification(r.Context(), ep.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	out := toEndpointJSON(ep)
	out.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleEndpointList(w http.ResponseWriter, r *http.Request) {
	tenant, client, err := ownedListScope(r, "endpoints")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	eps, err := s.store.EndpointList(r.Context(), tenant, client)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := listJSON[endpointJSON]{Data: make([]endpointJSON, 0, len(eps))}
	for _, e := range eps {
		out.Data = append(out.Data, toEndpointJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// receivingClient resolves the client a new endpoint or connector receives
// for: the caller, or (for a tenant admin) a consumer or admin client of a
// tenant the caller administers. what names the resource in the error.
func (s *Server) receivingClient(r *http.Request, given *uuid.UUID, what string) (*herald.Client, error) {
	p := principal(r)
	if given != nil && *given != p.Client.ID {
		c, err := s.store.ClientGet(r.Context(), *given)
		if err != nil || !p.IsAdminOf(c.TenantID) {
			return nil, herald.Invalid("client", "exists", "no client %s in a tenant you administer", *given)
		}
		if !c.Has(herald.RoleConsumer) && !c.Has(herald.RoleAdmin) {
			return nil, herald.Invalid("client", "role", "client %s has neither the consumer nor the admin role", c.ID)
		}
		return c, nil
	}
	if !p.Client.Has(herald.RoleConsumer) && !p.Client.Has(herald.RoleAdmin) {
		return nil, herald.Forbidden("creating %s needs the consumer or admin role", what)
	}
	return p.Client, nil
}

// mayManage says whether the caller may manage a resource a client owns
// within a tenant (an endpoint, a connector): the tenant's admins and that
// client may.
func mayManage(p herald.Principal, tenant, client uuid.UUID) bool {
	return p.IsAdminOf(tenant) || (client != uuid.Nil && client == p.Client.ID)
}

// ownedListScope reads which client-owned resources (endpoints,
// connectors) a list request covers: platform admins see all, or one
// tenant's with ?tenant=; tenant admins their tenant's; other clients only
// their own. A nil tenant means every tenant, a nil client every client.
func ownedListScope(r *http.Request, what string) (tenant, client uuid.UUID, err error) {
	p := principal(r)
	tenant = p.Client.TenantID
	switch q := r.URL.Query().Get("tenant"); {
	case p.PlatformAdmin && q == "":
		tenant = uuid.Nil
	case q != "":
		id, err := uuid.Parse(q)
		if err != nil {
			return uuid.Nil, uuid.Nil, herald.Invalid("tenant", "format", "must be a UUID")
		}
		switch {
		case p.IsAdminOf(id):
		case id == p.Client.TenantID:
			client = p.Client.ID
		default:
			return uuid.Nil, uuid.Nil, herald.Forbidden("you may not list %s of tenant %s", what, id)
		}
		tenant = id
	case !p.IsAdminOf(tenant):
		client = p.Client.ID // consumers see their own
	}
	return tenant, client, nil
}

// visibleOwned loads the client-owned resource (an endpoint, a connector)
// named by the path's id; one the caller may not manage is reported as not
// found, so its existence does not leak.
func visibleOwned[T any](r *http.Request, what string, get func(context.Context, uuid.UUID) (T, error),
	owner func(T) (tenant, client uuid.UUID)) (T, error) {
	var zero T
	id, err := pathUUID(r, "id", what)
	if err != nil {
		return zero, err
	}
	v, err := get(r.Context(), id)
	if err != nil {
		return zero, err
	}
	if tenant, client := owner(v); !mayManage(principal(r), tenant, client) {
		return zero, herald.NotFound("%s %s", what, id)
	}
	return v, nil
}

// visibleEndpoint loads the endpoint of the path (see visibleOwned).
func (s *Server) visibleEndpoint(r *http.Request) (*herald.Endpoint, error) {
	return visibleOwned(r, "endpoint", s.store.EndpointGet,
		func(e *herald.Endpoint) (uuid.UUID, uuid.UUID) { return e.TenantID, e.ClientID })
}

func (s *Server) handleEndpointGet(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toEndpointJSON(e))
}

func (s *Server) handleEndpointPatch(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
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
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
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
		s.writeError(w, r, err)
		return
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
		s.writeError(w, r, err)
		return
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
		s.writeError(w, r, herald.Conflict("endpoint %s is waiting for its receiver's consent; an admin can verify it with POST /v1/endpoints/{id}/verify", e.ID))
		return
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
			s.writeError(w, r, err)
			return
		}
		s.startVerification(w, r, e.ID)
		return
	}
	s.updateEndpoint(w, r, e)
}

// startVerification makes the endpoint pending with a fresh callback token,
// queues its handshake and answers with the endpoint.
func (s *Server) startVerification(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
	if err := s.store.EndpointSetPending(r.Context(), id, newVerifyToken()); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.retrier.StartVerification(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.Invalidate()
	fresh, err := s.store.EndpointGet(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toEndpointJSON(fresh))
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

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request, e *herald.Endpoint) {
	if err := s.store.EndpointUpdate(r.Context(), e); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.Invalidate()
	writeJSON(w, http.StatusOK, toEndpointJSON(e))
}

func (s *Server) handleEndpointDisable(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setStatus(e, herald.EndpointDisabled, "disabled by "+principal(r).Client.Key)
	s.updateEndpoint(w, r, e)
}

func (s *Server) handleEndpointEnable(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if e.Status == herald.EndpointPending {
		s.writeError(w, r, herald.Conflict("endpoint %s is waiting for its receiver's consent; an admin can verify it with POST /v1/endpoints/{id}/verify", e.ID))
		return
	}
	if err := s.store.EndpointHealthReset(r.Context(), e.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.verify && e.VerifiedAt.IsZero() {
		// Never consented (disabled while pending, say): ask first.
		s.startVerification(w, r, e.ID)
		return
	}
	setStatus(e, herald.EndpointActive, "")
	s.updateEndpoint(w, r, e)
}

// recoverLimit bounds the deliveries one recover call re-queues.
const recoverLimit = 10000

// handleEndpointRecover re-queues the endpoint's failed deliveries created
// since a time (typically after the receiver was fixed and the endpoint
// enabled again).
func (s *Server) handleEndpointRecover(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		Since *time.Time `json:"since"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Since == nil {
		s.writeError(w, r, herald.Invalid("since", "required", "give an RFC 3339 time: failed deliveries created since then are sent again"))
		return
	}
	if e.Status != herald.EndpointActive {
		s.writeError(w, r, herald.Conflict("endpoint %s is disabled; enable it before recovering its deliveries", e.ID))
		return
	}
	res, err := s.retrier.Recover(r.Context(), e.ID, *in.Since, recoverLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"recovered": res.Recovered, "skipped": res.Skipped, "more": res.More})
}

func (s *Server) handleEndpointDelete(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.EndpointDelete(r.Context(), e.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.Invalidate()
	w.WriteHeader(http.StatusNoContent)
}

// parseLimit reads ?limit= with a default and a maximum.
func parseLimit(r *http.Request, def, max int) (int, error) {
	q := r.URL.Query().Get("limit")
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > max {
		return 0, herald.Invalid("limit", "range", "must be a whole number from 1 to %d", max)
	}
	return n, nil
}

// checkHeaders validates static headers: names Herald sets itself cannot be
// overridden, and values must be safe to put on the wire.
func checkHeaders(ve *herald.ValidationError, h map[string]string, authManaged bool) {
	if err := outbound.ValidateStaticHeaders(h, authManaged); err != nil {
		ve.Add("headers", "headers", "%s", err.Error())
	}
}

// newEndpointSecret makes a signing secret of the endpoint's scheme (and
// the public key, for v1a).
func newEndpointSecret(signing string) (secret, public string, err error) {
	if signing == "v1a" {
		return webhook.NewSigningKey()
	}
	secret, err = webhook.NewSecret()
	return secret, "", err
}

// defaultGrace is how long a rotated-out secret keeps signing by default.
const defaultGrace = 24 * time.Hour

// maxGrace bounds the grace period a caller may ask for.
const maxGrace = 7 * 24 * time.Hour

type secretJSON struct {
	Secret    string `json:"secret"`
	PublicKey string `json:"public_key,omitempty"`
	// OldSecretsExpire lists when each rotated-out secret still signing
	// stops being used.
	OldSecretsExpire []time.Time `json:"old_secrets_expire"`
}

func (s *Server) handleEndpointRotate(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		Grace *string `json:"grace"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	grace := defaultGrace
	if in.Grace != nil {
		if grace, err = time.ParseDuration(*in.Grace); err != nil || grace < 0 || grace > maxGrace {
			s.writeError(w, r, herald.Invalid("grace", "range", "must be a Go duration from 0s to %s, such as 24h", maxGrace))
			return
		}
	}
	secret, public, err := newEndpointSecret(e.Signing)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := time.Now()
	if err := s.store.EndpointRotateSecret(r.Context(), e.ID, secret, public, grace, now); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeSecrets(w, r, e.ID, now)
}

// handleEndpointSecret reveals the current secret: the one explicit way to
// read it after creation.
func (s *Server) handleEndpointSecret(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeSecrets(w, r, e.ID, time.Now())
}

func (s *Server) writeSecrets(w http.ResponseWriter, r *http.Request, id uuid.UUID, now time.Time) {
	secret, old, err := s.store.EndpointSecrets(r.Context(), id, now)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := secretJSON{Secret: secret, OldSecretsExpire: make([]time.Time, 0, len(old))}
	if strings.HasPrefix(secret, webhook.SigningKeyPrefix) {
		if out.PublicKey, err = webhook.PublicKeyOf(secret); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	for _, o := range old {
		out.OldSecretsExpire = append(out.OldSecretsExpire, o.ExpiresAt.UTC())
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// checkFilter compiles a filter document and returns its canonical form
// (nil for none). Errors name the position in the document, as a JSON
// Pointer after "filter".
func checkFilter(ve *herald.ValidationError, raw json.RawMessage) []byte {
	f, err := filter.Parse(raw)
	if err != nil {
		var fe *filter.Error
		if errors.As(err, &fe) {
			ve.Add("filter"+fe.Path, "filter", "%s", fe.Message)
		} else {
			ve.Add("filter", "filter", "%s", err.Error())
		}
		return nil
	}
	if f == nil {
		return nil
	}
	b, err := f.MarshalJSON()
	if err != nil {
		ve.Add("filter", "filter", "%s", err.Error())
		return nil
	}
	return b
}

// authInJSON is the auth field of a request: {"type": "none" | "jwt" |
// "oauth2", ...}; the OAuth2 fields go with "oauth2".
type authInJSON struct {
	Type         string   `json:"type"`
	TokenURL     string   `json:"token_url"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Scopes       []string `json:"scopes"`
	Audience     string   `json:"audience"`
}

type authOutJSON struct {
	Type     string   `json:"type"`
	TokenURL string   `json:"token_url,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	Audience string   `json:"audience,omitempty"`
}

func toAuthJSON(a *herald.EndpointAuth) *authOutJSON {
	if a == nil {
		return nil
	}
	return &authOutJSON{Type: a.Type, TokenURL: a.TokenURL, ClientID: a.ClientID, Scopes: a.Scopes, Audience: a.Audience}
}

// checkAuth validates an auth setting. On PATCH an OAuth2 client secret
// left empty keeps the stored one, so clients can change other fields
// without re-sending it.
func (s *Server) checkAuth(ve *herald.ValidationError, in *authInJSON, prev *herald.EndpointAuth) *herald.EndpointAuth {
	if in == nil || in.Type == "" || in.Type == "none" {
		return nil
	}
	switch in.Type {
	case herald.AuthJWT:
		return &herald.EndpointAuth{Type: herald.AuthJWT}
	case herald.AuthOAuth2:
		a := &herald.EndpointAuth{Type: herald.AuthOAuth2, TokenURL: in.TokenURL, ClientID: in.ClientID,
			ClientSecret: in.ClientSecret, Scopes: in.Scopes, Audience: in.Audience}
		if a.ClientSecret == "" && prev != nil && prev.Type == herald.AuthOAuth2 {
			a.ClientSecret = prev.ClientSecret
		}
		if a.TokenURL == "" {
			ve.Add("auth.token_url", "required", "give the partner's OAuth2 token URL")
		} else {
			s.checkTarget(ve, connectors.Target{Field: "auth.token_url", URL: a.TokenURL})
		}
		if a.ClientID == "" {
			ve.Add("auth.client_id", "required", "give the OAuth2 client id")
		}
		if a.ClientSecret == "" {
			ve.Add("auth.client_secret", "required", "give the OAuth2 client secret")
		}
		if err := (outbound.ClientCredentials{TokenURL: a.TokenURL, ClientID: a.ClientID, ClientSecret: a.ClientSecret,
			Scopes: a.Scopes, Audience: a.Audience}).Validate(); err != nil && len(ve.Errors) == 0 {
			ve.Add("auth", "oauth2", "%s", err.Error())
		}
		return a
	default:
		ve.Add("auth.type", "enum", "must be none, jwt or oauth2")
		return nil
	}
}

// handleEndpointTest sends a test event to the endpoint (partner
// onboarding) and answers with its delivery, to follow in the attempt log.
func (s *Server) handleEndpointTest(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if e.Status != herald.EndpointActive {
		s.writeError(w, r, herald.Conflict("endpoint %s is disabled; enable it first", e.ID))
		return
	}
	var sample ingest.TestSample
	if r.ContentLength != 0 {
		// Optional: an event of a type the endpoint receives, with sample
		// data, instead of Herald's own test event.
		var in struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := decodeJSON(w, r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
		if in.Type == "" && in.Data != nil {
			s.writeError(w, r, herald.Invalid("type", "required", "name the event type the sample data is of"))
			return
		}
		if in.Type != "" && in.Data == nil {
			s.writeError(w, r, herald.Invalid("data", "required", "give sample data of type %q", in.Type))
			return
		}
		sample = ingest.TestSample{Type: in.Type, Data: in.Data}
	}
	id, err := s.ingest.SendTest(r.Context(), principal(r), e, sample)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.store.DeliveryGet(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, toDeliveryJSON(d))
}

type replayJSON struct {
	ID         uuid.UUID  `json:"id"`
	EndpointID uuid.UUID  `json:"endpoint_id"`
	Types      []string   `json:"types"`
	From       time.Time  `json:"from"`
	To         time.Time  `json:"to"`
	Status     string     `json:"status"`
	Scanned    int64      `json:"scanned"`
	Queued     int64      `json:"queued"`
	ScannedAt  *time.Time `json:"scanned_at,omitempty"`
	Delivered  int64      `json:"delivered"`
	Failed     int64      `json:"failed"`
	Pending    int64      `json:"pending"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

func toReplayJSON(r *postgres.Replay) replayJSON {
	types := r.Types
	if types == nil {
		types = []string{}
	}
	return replayJSON{ID: r.ID, EndpointID: r.EndpointID, Types: types, From: r.From, To: r.To, Status: r.Status,
		Scanned: r.Scanned, Queued: r.Queued, ScannedAt: timePtr(r.ScannedAt), Delivered: r.Counts.Delivered,
		Failed: r.Counts.Failed, Pending: r.Counts.Pending, Error: r.Error, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// handleEndpointReplay starts a background replay of stored events of a
// time range (optionally of some types) to the endpoint.
func (s *Server) handleEndpointReplay(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		From  *time.Time `json:"from"`
		To    *time.Time `json:"to"`
		Types []string   `json:"types"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	ve := &herald.ValidationError{}
	now := time.Now()
	if in.From == nil {
		ve.Add("from", "required", "give the RFC 3339 time the replay starts at")
	}
	to := now
	if in.To != nil {
		to = *in.To
	}
	if in.From != nil && !in.From.Before(to) {
		ve.Add("to", "range", "must be after from")
	}
	for i, p := range in.Types {
		if err := route.ValidatePattern(p); err != nil {
			ve.Add(fmt.Sprintf("types[%d]", i), "pattern", "%s", err.Error())
		}
	}
	if err := ve.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if e.Status != herald.EndpointActive {
		s.writeError(w, r, herald.Conflict("endpoint %s is disabled; enable it before replaying to it", e.ID))
		return
	}
	rp := &postgres.Replay{ID: uuid.New(), TenantID: e.TenantID, EndpointID: e.ID, Types: in.Types,
		From: in.From.UTC(), To: to.UTC()}
	if rp.Types == nil {
		rp.Types = []string{}
	}
	if err := s.retrier.StartReplay(r.Context(), rp); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, toReplayJSON(rp))
}

func (s *Server) handleReplayGet(w http.ResponseWriter, r *http.Request) {
	id, err := pathUUID(r, "id", "replay")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rp, err := s.store.ReplayGet(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.store.EndpointGet(r.Context(), rp.EndpointID)
	if err != nil || !mayManage(principal(r), e.TenantID, e.ClientID) {
		s.writeError(w, r, herald.NotFound("replay %s", id))
		return
	}
	writeJSON(w, http.StatusOK, toReplayJSON(rp))
}

// newVerifyToken returns the one-time token of a handshake callback URL.
func newVerifyToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// handleEndpointVerify lets a tenant admin mark a pending endpoint verified
// by hand (a receiver that cannot answer the handshake); the endpoint keeps
// the record of who did.
func (s *Server) handleEndpointVerify(w http.ResponseWriter, r *http.Request) {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := principal(r)
	if !p.IsAdminOf(e.TenantID) {
		s.writeError(w, r, herald.Forbidden("verifying an endpoint by hand needs the admin role of its tenant"))
		return
	}
	ok, err := s.store.EndpointVerify(r.Context(), e.ID, "manual by "+p.Client.Key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ok {
		s.writeError(w, r, herald.Conflict("endpoint %s is not waiting for verification", e.ID))
		return
	}
	s.logger.Info("endpoint verified by hand", "endpoint", e.ID, "by", p.Client.Key)
	s.catalog.Invalidate()
	fresh, err := s.store.EndpointGet(r.Context(), e.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toEndpointJSON(fresh))
}

// handleVerificationCallback is the one-time URL a receiver calls (GET or
// POST) to grant consent asynchronously. It needs no credentials: the
// token is the credential.
func (s *Server) handleVerificationCallback(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, herald.NotFound("verification"))
		return
	}
	token, err := s.store.EndpointVerifyToken(r.Context(), id)
	if err != nil || subtle.ConstantTimeCompare([]byte(token), []byte(chi.URLParam(r, "token"))) != 1 {
		s.writeError(w, r, herald.NotFound("verification"))
		return
	}
	if _, err := s.store.EndpointVerify(r.Context(), id, "handshake callback"); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.logger.Info("endpoint verified by handshake callback", "endpoint", id)
	s.catalog.Invalidate()
	writeJSON(w, http.StatusOK, map[string]string{"status": "verified"})
}

// maxRateLimit bounds rate_limit (deliveries per second).
const maxRateLimit = 10000

// checkRate validates rate_limit; 0 (or absent) means unlimited.
func checkRate(ve *herald.ValidationError, n *int) int {
	if n == nil || *n == 0 {
		return 0
	}
	if *n < 0 || *n > maxRateLimit {
		ve.Add("rate_limit", "range", "must be from 1 to %d deliveries per second, or 0 for no limit", maxRateLimit)
		return 0
	}
	return *n
}

// mtlsInJSON is the mtls field of a request: a PEM certificate chain and
// its PEM private key.
type mtlsInJSON struct {
	Certificate string `json:"certificate"`
	PrivateKey  string `json:"private_key"`
}

// mtlsOutJSON describes an endpoint's client certificate; the key is never
// part of it.
type mtlsOutJSON struct {
	Subject           string    `json:"subject"`
	Issuer            string    `json:"issuer"`
	NotAfter          time.Time `json:"not_after"`
	FingerprintSHA256 string    `json:"fingerprint_sha256"`
}

func toMTLSJSON(c *herald.ClientCert) *mtlsOutJSON {
	if c == nil {
		return nil
	}
	info, err := outbound.DescribeClientCert(c.Certificate)
	if err != nil {
		// Validated when saved; an unreadable one still says it is there.
		return &mtlsOutJSON{Subject: "(unreadable certificate)"}
	}
	return &mtlsOutJSON{Subject: info.Subject, Issuer: info.Issuer, NotAfter: info.NotAfter,
		FingerprintSHA256: info.FingerprintSHA256}
}

// checkMTLS validates an mtls setting for an endpoint at url and returns
// it (nil for JSON null, which removes it). On PATCH an empty private_key
// keeps the stored one, so a renewed certificate for the same key can be
// sent alone. Errors name mtls.certificate or mtls.private_key and never
// quote either.
func checkMTLS(ve *herald.ValidationError, raw json.RawMessage, prev *herald.ClientCert, target string) *herald.ClientCert {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var in mtlsInJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		ve.Add("mtls", "type", "must be an object with certificate and private_key (PEM strings), or null")
		return nil
	}
	c := &herald.ClientCert{Certificate: []byte(in.Certificate), PrivateKey: []byte(in.PrivateKey)}
	if in.PrivateKey == "" && prev != nil {
		c.PrivateKey = prev.PrivateKey
	}
	if _, err := outbound.CheckClientCert(c.Certificate, c.PrivateKey, time.Now()); err != nil {
		var ce *outbound.ClientCertError
		if errors.As(err, &ce) {
			ve.Add("mtls."+ce.Field, ce.Rule, "%s", ce.Detail)
		} else {
			ve.Add("mtls", "mtls", "%s", err.Error())
		}
		return nil
	}
	if !isHTTPS(target) {
		ve.Add("mtls", "https", "a client certificate is presented in the TLS handshake, so the endpoint URL must be https")
		return nil
	}
	return c
}

// isHTTPS reports whether target is an https URL.
func isHTTPS(target string) bool {
	u, err := url.Parse(target)
	return err == nil && u.Scheme == "https"
}

// checkContentMode validates content_mode; "" means structured.
func checkContentMode(ve *herald.ValidationError, m string) string {
	switch m {
	case "", herald.ContentModeStructured:
		return herald.ContentModeStructured
	case herald.ContentModeBinary:
		return m
	}
	ve.Add("content_mode", "enum", "must be structured (the event as JSON) or binary (data as the body, attributes as ce- headers)")
	return ""
}
