package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
)

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
		NextAttemptAt: httpjson.Time(v.NextAttemptAt)}
	if v.StatusCode != 0 {
		code := v.StatusCode
		out.StatusCode = &code
	}
	return out
}

// startVerification makes the endpoint pending with a fresh callback token,
// queues its handshake and answers with the endpoint.
func (s *Server) startVerification(w http.ResponseWriter, r *http.Request, id uuid.UUID) error {
	if err := s.store.EndpointSetPending(r.Context(), id, newVerifyToken()); err != nil {
		return err
	}
	if err := s.retrier.StartVerification(r.Context(), id); err != nil {
		return err
	}
	s.catalog.Invalidate()
	fresh, err := s.store.EndpointGet(r.Context(), id)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toEndpointJSON(fresh))
	return nil
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
func (s *Server) handleEndpointVerify(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	p := principal(r)
	if !p.IsAdminOf(e.TenantID) {
		return herald.Forbidden("verifying an endpoint by hand needs the admin role of its tenant")
	}
	ok, err := s.store.EndpointVerify(r.Context(), e.ID, "manual by "+p.Client.Key)
	if err != nil {
		return err
	}
	if !ok {
		return herald.Conflict("endpoint %s is not waiting for verification", e.ID)
	}
	s.logger.Info("endpoint verified by hand", "endpoint", e.ID, "by", p.Client.Key)
	s.catalog.Invalidate()
	fresh, err := s.store.EndpointGet(r.Context(), e.ID)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toEndpointJSON(fresh))
	return nil
}

// handleVerificationCallback is the one-time URL a receiver calls (GET or
// POST) to grant consent asynchronously. It needs no credentials: the
// token is the credential.
func (s *Server) handleVerificationCallback(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return herald.NotFound("verification")
	}
	token, err := s.store.EndpointVerifyToken(r.Context(), id)
	if err != nil || subtle.ConstantTimeCompare([]byte(token), []byte(chi.URLParam(r, "token"))) != 1 {
		return herald.NotFound("verification")
	}
	if _, err := s.store.EndpointVerify(r.Context(), id, "handshake callback"); err != nil {
		return err
	}
	s.logger.Info("endpoint verified by handshake callback", "endpoint", id)
	s.catalog.Invalidate()
	httpjson.Write(w, http.StatusOK, statusJSON{Status: "verified"})
	return nil
}
