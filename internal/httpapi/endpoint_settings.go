package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/route"
	"github.com/heraldhq/herald/webhook"
)

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

// checkHeaders validates static headers: names Herald sets itself cannot be
// overridden, and values must be safe to put on the wire.
func checkHeaders(ve *herald.ValidationError, h map[string]string, authManaged bool) {
	if err := outbound.ValidateStaticHeaders(h, authManaged); err != nil {
		ve.Add("headers", "headers", "%s", err.Error())
	}
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
