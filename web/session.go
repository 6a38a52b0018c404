package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

// The two kinds of session. A session's audience is checked on every
// request, and each lives in its own cookie scoped to its own path, so a
// partner's portal session never opens a console page.
const (
	audienceConsole = "herald:console"
	audiencePortal  = "herald:portal"
)

// cookieName is the session cookie of each audience.
func cookieName(aud string) string {
	if aud == audiencePortal {
		return "herald_portal"
	}
	return "herald_console"
}

// cookiePath is the path each session cookie is sent to.
func cookiePath(aud string) string {
	if aud == audiencePortal {
		return "/portal"
	}
	return "/console"
}

// renewAfter is how old a session token may get before a request replaces
// it with a fresh one: the idle timeout counts from the last renewal.
const renewAfter = time.Minute

// csrfField and csrfHeader carry the CSRF token of forms and of htmx
// requests.
const (
	csrfField  = "csrf_token"
	csrfHeader = "X-CSRF-Token"
)

// session is a signed-in browser: who, since when, and its CSRF token.
type session struct {
	ID        uuid.UUID
	Audience  string
	Principal herald.Principal
	Started   time.Time
	Issued    time.Time
	Expires   time.Time
	CSRF      string
	// stamp is the credential stamp of the client's secret at sign-in.
	stamp string
}

// Portal reports whether the session is a partner's.
func (s *session) Portal() bool { return s.Audience == audiencePortal }

type sessionKey struct{}

// sessionFrom returns the request's session; requireSession put it there.
func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// sessions signs, reads and ends session cookies. A session is an HS256
// JWT: nothing is stored while it lives, and every node accepts every
// other node's sessions. Only a sign-out is stored, until the token would
// have expired anyway.
type sessions struct {
	key     []byte
	csrfKey []byte
	store   SessionStore
	idle    time.Duration
	max     time.Duration
	now     func() time.Time
}

func newSessions(key []byte, store SessionStore, idle, maxAge time.Duration, now func() time.Time) *sessions {
	return &sessions{key: derive(key, "herald web sessions v1"), csrfKey: derive(key, "herald web csrf v1"),
		store: store, idle: idle, max: maxAge, now: now}
}

// derive is an HMAC of a fixed label under key, so each use has its own
// key and none of them is the master key.
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// sessionClaims is a session's JWT: sub the client, tid its tenant, ast
// when the session started, stp the stamp of the client's secret then (a
// rotated secret ends the session).
type sessionClaims struct {
	Tenant  string `json:"tid"`
	Started int64  `json:"ast"`
	Stamp   string `json:"stp"`
	jwt.RegisteredClaims
}

// issue returns a session token for a client, started at started.
func (s *sessions) issue(id uuid.UUID, aud string, cl *herald.Client, started time.Time) (string, *session, error) {
	client, tenant := cl.ID, cl.TenantID
	now := s.now().Truncate(time.Second)
	exp := now.Add(s.idle)
	if limit := started.Add(s.max); exp.After(limit) {
		exp = limit
	}
	c := sessionClaims{Tenant: tenant.String(), Started: started.Unix(), Stamp: cl.CredentialStamp(), RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "herald", Subject: client.String(), Audience: jwt.ClaimStrings{aud}, ID: id.String(),
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
	}}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.key)
	if err != nil {
		return "", nil, fmt.Errorf("sign session: %w", err)
	}
	return tok, &session{ID: id, Audience: aud, Started: started, Issued: now, Expires: exp, CSRF: s.csrf(id),
		stamp: c.Stamp}, nil
}

// errNoSession is any reason a request has no usable session; the reason
// itself is never shown (it would help forging).
var errNoSession = errors.New("no session")

// read checks a session token for aud and returns its claims.
func (s *sessions) read(ctx context.Context, tok, aud string) (*session, uuid.UUID, uuid.UUID, error) {
	var c sessionClaims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer("herald"),
		jwt.WithAudience(aud), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(s.now))
	if err != nil {
		return nil, uuid.Nil, uuid.Nil, fmt.Errorf("%w: %w", errNoSession, err)
	}
	id, err1 := uuid.Parse(c.ID)
	client, err2 := uuid.Parse(c.Subject)
	tenant, err3 := uuid.Parse(c.Tenant)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, uuid.Nil, uuid.Nil, fmt.Errorf("%w: %w", errNoSession, err)
	}
	started := time.Unix(c.Started, 0)
	if !s.now().Before(started.Add(s.max)) {
		return nil, uuid.Nil, uuid.Nil, fmt.Errorf("%w: older than %s", errNoSession, s.max)
	}
	if s.store != nil {
		ended, err := s.store.WebSessionEnded(ctx, id)
		if err != nil {
			return nil, uuid.Nil, uuid.Nil, fmt.Errorf("read session: %w", err)
		}
		if ended {
			return nil, uuid.Nil, uuid.Nil, fmt.Errorf("%w: signed out", errNoSession)
		}
	}
	return &session{ID: id, Audience: aud, Started: started, Issued: c.IssuedAt.Time, Expires: c.ExpiresAt.Time,
		CSRF: s.csrf(id), stamp: c.Stamp}, client, tenant, nil
}

// csrf is the CSRF token of a session: an HMAC of its id, so it needs no
// storage and a page rendered before a renewal stays valid.
func (s *sessions) csrf(id uuid.UUID) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write(id[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// end records that a session was signed out.
func (s *sessions) end(ctx context.Context, ss *session) error {
	if s.store == nil {
		return nil
	}
	return s.store.WebSessionEnd(ctx, ss.ID, ss.Started.Add(s.max))
}

// setCookie sends a session token.
func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, aud, tok string, exp time.Time) {
	http.SetCookie(w, &http.Cookie{Name: cookieName(aud), Value: tok, Path: cookiePath(aud), Expires: exp,
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
}

// clearCookie removes a session cookie.
func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request, aud string) {
	http.SetCookie(w, &http.Cookie{Name: cookieName(aud), Value: "", Path: cookiePath(aud), MaxAge: -1,
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
}

// secure says whether cookies get the Secure attribute: when Herald
// serves TLS itself, or its public URL is https (TLS ended by a proxy in
// front).
func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.httpsPublic }

// requireSession lets through requests with a valid session of aud whose
// client still exists (and, for the console, is still an admin), renews
// the cookie when it is more than a minute old, and checks the CSRF token
// of every request that may change state.
func (h *Handler) requireSession(aud string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ss, err := h.session(r, aud)
			if err != nil {
				if !errors.Is(err, errNoSession) {
					h.fail(w, r, err)
					return
				}
				h.noSession(w, r, aud)
				return
			}
			if !safeMethod(r.Method) && !h.validCSRF(r, ss) {
				h.fail(w, r, errCSRF)
				return
			}
			if h.now().Sub(ss.Issued) >= renewAfter {
				tok, fresh, err := h.sessions.issue(ss.ID, aud, ss.Principal.Client, ss.Started)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				fresh.Principal = ss.Principal
				ss = fresh
				h.setCookie(w, r, aud, tok, ss.Expires)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, ss)))
		})
	}
}

// session reads and checks the request's session of aud.
func (h *Handler) session(r *http.Request, aud string) (*session, error) {
	c, err := r.Cookie(cookieName(aud))
	if err != nil {
		return nil, errNoSession
	}
	ss, client, tenant, err := h.sessions.read(r.Context(), c.Value, aud)
	if err != nil {
		return nil, err
	}
	p, err := h.auth.Principal(r.Context(), client, tenant)
	if err != nil {
		if errors.Is(err, herald.ErrUnauthorized) {
			return nil, fmt.Errorf("%w: client gone", errNoSession)
		}
		return nil, err
	}
	if aud == audienceConsole && !p.PlatformAdmin && !p.Client.Has(herald.RoleAdmin) {
		return nil, fmt.Errorf("%w: no longer an admin", errNoSession)
	}
	if aud == audiencePortal && !p.Client.Has(herald.RoleConsumer) {
		return nil, fmt.Errorf("%w: no longer a consumer", errNoSession)
	}
	if ss.stamp != p.Client.CredentialStamp() {
		return nil, fmt.Errorf("%w: the client's secret was rotated", errNoSession)
	}
	ss.Principal = p
	return ss, nil
}

// noSession sends a browser without a session to sign in (the console) or
// tells it the link has ended (the portal, which has no sign-in page). An
// htmx request is told to load that page instead of swapping it in.
func (h *Handler) noSession(w http.ResponseWriter, r *http.Request, aud string) {
	h.clearCookie(w, r, aud)
	if aud == audiencePortal {
		h.fail(w, r, errPortalSessionEnded)
		return
	}
	target := "/console/sign-in"
	if r.Method == http.MethodGet && r.URL.Path != "/console" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// validCSRF checks the token of a state-changing request: a form field, or
// the header htmx sends.
func (h *Handler) validCSRF(r *http.Request, ss *session) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && hmac.Equal([]byte(got), []byte(ss.CSRF))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// localNext is the page to show after sign-in: only a page of the
// console itself, never another site or another part of Herald.
func localNext(next string) string {
	if strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" || u.User != nil {
		return "/console"
	}
	clean := path.Clean(u.Path)
	if clean != "/console" && !strings.HasPrefix(clean, "/console/") {
		return "/console"
	}
	if u.RawQuery != "" {
		return clean + "?" + u.RawQuery
	}
	return clean
}

// randomToken returns n random bytes, base64url encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
