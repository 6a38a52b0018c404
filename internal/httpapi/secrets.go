package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/webhook"
)

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

func (s *Server) handleEndpointRotate(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	var in struct {
		Grace *string `json:"grace"`
	}
	if err := httpjson.DecodeOptional(w, r, &in); err != nil {
		return err
	}
	grace := defaultGrace
	if in.Grace != nil {
		if grace, err = time.ParseDuration(*in.Grace); err != nil || grace < 0 || grace > maxGrace {
			return herald.Invalid("grace", "range", "must be a Go duration from 0s to %s, such as 24h", maxGrace)
		}
	}
	secret, public, err := newEndpointSecret(e.Signing)
	if err != nil {
		return err
	}
	now := time.Now()
	if err := s.store.EndpointRotateSecret(r.Context(), e.ID, secret, public, grace, now); err != nil {
		return err
	}
	return s.writeSecrets(w, r, e.ID, now)
}

// handleEndpointSecret reveals the current secret: the one explicit way to
// read it after creation.
func (s *Server) handleEndpointSecret(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	return s.writeSecrets(w, r, e.ID, time.Now())
}

func (s *Server) writeSecrets(w http.ResponseWriter, r *http.Request, id uuid.UUID, now time.Time) error {
	secret, old, err := s.store.EndpointSecrets(r.Context(), id, now)
	if err != nil {
		return err
	}
	out := secretJSON{Secret: secret, OldSecretsExpire: make([]time.Time, 0, len(old))}
	if strings.HasPrefix(secret, webhook.SigningKeyPrefix) {
		if out.PublicKey, err = webhook.PublicKeyOf(secret); err != nil {
			return err
		}
	}
	for _, o := range old {
		out.OldSecretsExpire = append(out.OldSecretsExpire, o.ExpiresAt.UTC())
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, out)
	return nil
}
