package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

const endpointColumns = `id, tenant_id, client_id, url, description, types, status, disabled_reason, config,
	headers_enc, signing, public_key, filter, auth_enc, verified_at, verified_by, coalesce(rate_limit, 0),
	ordered, created_at, updated_at, mtls_enc, content_mode`

func (s *Store) scanEndpoint(row pgx.Row) (*herald.Endpoint, error) {
	var e herald.Endpoint
	var client *uuid.UUID
	var status string
	var headers, auth, mtls []byte
	var verifiedAt *time.Time
	if err := row.Scan(&e.ID, &e.TenantID, &client, &e.URL, &e.Description, &e.Types, &status, &e.DisabledReason,
		&e.Config, &headers, &e.Signing, &e.PublicKey, &e.Filter, &auth, &verifiedAt, &e.VerifiedBy, &e.RateLimit,
		&e.Ordered, &e.CreatedAt, &e.UpdatedAt, &mtls, &e.ContentMode); err != nil {
		return nil, err
	}
	if client != nil {
		e.ClientID = *client
	}
	if verifiedAt != nil {
		e.VerifiedAt = *verifiedAt
	}
	e.Status = herald.EndpointStatus(status)
	var err error
	if e.Headers, err = s.OpenHeaders(e.ID, headers); err != nil {
		return nil, err
	}
	if e.Auth, err = s.OpenAuth(e.ID, auth); err != nil {
		return nil, err
	}
	if e.MTLS, err = s.OpenMTLS(e.ID, mtls); err != nil {
		return nil, err
	}
	return &e, nil
}

// headersAD separates the headers' ciphertext from the secret's: both are
// bound to the endpoint id, and must not be swappable with each other.
func headersAD(id uuid.UUID) []byte { return append(id[:], "headers"...) }

func (s *Store) sealHeaders(id uuid.UUID, h map[string]string) ([]byte, error) {
	if len(h) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s headers: %w", id, err)
	}
	return s.box.Seal(b, headersAD(id)), nil
}

// OpenHeaders decrypts an endpoint's static headers (nil when none).
func (s *Store) OpenHeaders(id uuid.UUID, sealed []byte) (map[string]string, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	b, err := s.box.Open(sealed, headersAD(id))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s headers: %w", id, err)
	}
	var h map[string]string
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("endpoint %s headers: %w", id, err)
	}
	return h, nil
}

// nullJSON passes a JSON document kept as bytes (bytea), or NULL for none.
func nullJSON(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// sealSecret encrypts an endpoint's signing secret bound to the endpoint's
// id, so a ciphertext copied onto another row does not decrypt.
func (s *Store) sealSecret(id uuid.UUID, secret string) []byte {
	return s.box.Seal([]byte(secret), id[:])
}

// OpenSecret decrypts an endpoint secret read from the database.
func (s *Store) OpenSecret(id uuid.UUID, sealed []byte) (string, error) {
	b, err := s.box.Open(sealed, id[:])
	if err != nil {
		return "", fmt.Errorf("endpoint %s secret: %w", id, err)
	}
	return string(b), nil
}

// sealSettings encrypts an endpoint's static headers, outbound auth and
// client certificate, each bound to the endpoint.
func (s *Store) sealSettings(e *herald.Endpoint) (headers []byte, authType string, auth, mtls []byte, err error) {
	if headers, err = s.sealHeaders(e.ID, e.Headers); err != nil {
		return nil, "", nil, nil, err
	}
	if authType, auth, err = s.sealAuth(e.ID, e.Auth); err != nil {
		return nil, "", nil, nil, err
	}
	if mtls, err = s.sealMTLS(e.ID, e.MTLS); err != nil {
		return nil, "", nil, nil, err
	}
	return headers, authType, auth, mtls, nil
}

// EndpointCreate inserts an endpoint with its (plaintext) secret, which is
// stored encrypted.
func (s *Store) EndpointCreate(ctx context.Context, e *herald.Endpoint) error {
	headers, authType, auth, mtls, err := s.sealSettings(e)
	if err != nil {
		return err
	}
	if e.Signing == "" {
		e.Signing = "v1"
	}
	var verifyToken []byte
	if e.VerifyToken != "" {
		verifyToken = s.box.Seal([]byte(e.VerifyToken), verifyAD(e.ID))
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO endpoints (id, tenant_id, client_id, url, description, types, status, secret_enc,
			config, headers_enc, signing, public_key, filter, auth_type, auth_enc, verify_token_enc, rate_limit, ordered, mtls_enc,
			content_mode)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		RETURNING created_at, updated_at`,
		e.ID, e.TenantID, nullUUID(e.ClientID), e.URL, e.Description, e.Types, string(e.Status),
		s.sealSecret(e.ID, e.Secret), nullJSON(e.Config), headers, e.Signing, e.PublicKey, nullJSON(e.Filter), authType, auth, verifyToken, nullInt(e.RateLimit),
		e.Ordered, mtls, contentMode(e.ContentMode)).
		Scan(&e.CreatedAt, &e.UpdatedAt)
	return translate(err, "endpoint")
}

// EndpointGet returns one endpoint, without its secret.
func (s *Store) EndpointGet(ctx context.Context, id uuid.UUID) (*herald.Endpoint, error) {
	e, err := s.scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM endpoints WHERE id = $1`, id))
	if err != nil {
		return nil, translate(err, "endpoint "+id.String())
	}
	return e, endpointVerificationsFill(ctx, s.pool, e)
}

// EndpointList returns the endpoints of a tenant (all tenants when tenant is
// uuid.Nil), optionally only those of one client and of one status (""
// for any), newest first: with limit > 0, a page of them after the key
// (see PageKey; Time and ID).
func (s *Store) EndpointList(ctx context.Context, tenant, client uuid.UUID, status herald.EndpointStatus,
	after PageKey, limit int) ([]*herald.Endpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+endpointColumns+` FROM endpoints
		WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR client_id = $2)
			AND ($7 = '' OR status = $7)
			AND ($3 OR created_at < $4 OR (created_at = $4 AND id > $5))
		ORDER BY created_at DESC, id LIMIT $6`, nullUUID(tenant), nullUUID(client), after.IsZero(), after.Time, after.ID,
		limitArg(limit), string(status))
	eps, err := collect(rows, err, "list endpoints", s.scanEndpoint)
	if err != nil {
		return nil, err
	}
	return eps, endpointVerificationsFill(ctx, s.pool, eps...)
}

// EndpointUpdate writes an endpoint's editable fields (url, description,
// types, status, disabled reason, config, headers, filter, auth, rate limit,
// client certificate).
func (s *Store) EndpointUpdate(ctx context.Context, e *herald.Endpoint) error {
	headers, authType, auth, mtls, err := s.sealSettings(e)
	if err != nil {
		return err
	}
	err = s.pool.QueryRow(ctx, `UPDATE endpoints SET url = $2, description = $3, types = $4, status = $5,
		disabled_reason = $6, config = $7, headers_enc = $8, filter = $9, auth_type = $10, auth_enc = $11,
		rate_limit = $12, ordered = $13, mtls_enc = $14, content_mode = $15,
		-- a new URL is a new receiver: its consent is not the old one's
		verified_at = CASE WHEN url = $2 THEN verified_at END,
		verified_by = CASE WHEN url = $2 THEN verified_by ELSE '' END,
		updated_at = now()
		WHERE id = $1 RETURNING updated_at`,
		e.ID, e.URL, e.Description, e.Types, string(e.Status), e.DisabledReason, nullJSON(e.Config), headers,
		nullJSON(e.Filter), authType, auth, nullInt(e.RateLimit), e.Ordered, mtls, contentMode(e.ContentMode)).Scan(&e.UpdatedAt)
	return translate(err, "endpoint "+e.ID.String())
}

// EndpointDisable disables an endpoint with a reason (e.g. the receiver
// answered 410 Gone). It is a no-op for an already disabled endpoint.
func (s *Store) EndpointDisable(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE endpoints SET status = 'disabled', disabled_reason = $2, updated_at = now()
		WHERE id = $1 AND status <> 'disabled'`, id, reason)
	if err != nil {
		return fmt.Errorf("disable endpoint %s: %w", id, err)
	}
	return nil
}

// EndpointDelete removes an endpoint. Its delivery history stays until
// retention drops it.
func (s *Store) EndpointDelete(ctx context.Context, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM endpoints WHERE id = $1`, id)
	if err != nil {
		return translate(err, "endpoint "+id.String())
	}
	if tag.RowsAffected() == 0 {
		return herald.NotFound("endpoint %s", id)
	}
	return nil
}

func oldSecretsAD(id uuid.UUID) []byte { return append(id[:], "old-secrets"...) }

type oldSecretJSON struct {
	Secret    string    `json:"s"`
	ExpiresAt time.Time `json:"e"`
}

// OpenOldSecrets decrypts an endpoint's rotated-out secrets (nil when none).
func (s *Store) OpenOldSecrets(id uuid.UUID, sealed []byte) ([]herald.OldSecret, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	b, err := s.box.Open(sealed, oldSecretsAD(id))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s old secrets: %w", id, err)
	}
	var list []oldSecretJSON
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("endpoint %s old secrets: %w", id, err)
	}
	out := make([]herald.OldSecret, len(list))
	for i, o := range list {
		out[i] = herald.OldSecret{Secret: o.Secret, ExpiresAt: o.ExpiresAt}
	}
	return out, nil
}

func (s *Store) sealOldSecrets(id uuid.UUID, old []herald.OldSecret) ([]byte, error) {
	if len(old) == 0 {
		return nil, nil
	}
	list := make([]oldSecretJSON, len(old))
	for i, o := range old {
		list[i] = oldSecretJSON{Secret: o.Secret, ExpiresAt: o.ExpiresAt}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s old secrets: %w", id, err)
	}
	return s.box.Seal(b, oldSecretsAD(id)), nil
}

// EndpointSecrets returns an endpoint's current secret and its rotated-out
// secrets still in their grace period (the "reveal secret" call).
func (s *Store) EndpointSecrets(ctx context.Context, id uuid.UUID, now time.Time) (string, []herald.OldSecret, error) {
	var cur, old []byte
	if err := s.pool.QueryRow(ctx, `SELECT secret_enc, old_secrets_enc FROM endpoints WHERE id = $1`, id).Scan(&cur, &old); err != nil {
		return "", nil, translate(err, "endpoint "+id.String())
	}
	secret, err := s.OpenSecret(id, cur)
	if err != nil {
		return "", nil, err
	}
	olds, err := s.OpenOldSecrets(id, old)
	if err != nil {
		return "", nil, err
	}
	return secret, liveOld(olds, now), nil
}

func liveOld(old []herald.OldSecret, now time.Time) []herald.OldSecret {
	out := old[:0:0]
	for _, o := range old {
		if now.Before(o.ExpiresAt) {
			out = append(out, o)
		}
	}
	return out
}

// EndpointRotateSecret makes next the endpoint's current secret; the old
// current one keeps signing until now+grace. At most herald.MaxOldSecrets
// rotated-out secrets are kept (those expiring last); expired ones are
// dropped.
func (s *Store) EndpointRotateSecret(ctx context.Context, id uuid.UUID, next, publicKey string, grace time.Duration, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cur, oldSealed []byte
		if err := tx.QueryRow(ctx, `SELECT secret_enc, old_secrets_enc FROM endpoints WHERE id = $1 FOR UPDATE`, id).
			Scan(&cur, &oldSealed); err != nil {
			return translate(err, "endpoint "+id.String())
		}
		current, err := s.OpenSecret(id, cur)
		if err != nil {
			return err
		}
		old, err := s.OpenOldSecrets(id, oldSealed)
		if err != nil {
			return err
		}
		old = liveOld(old, now)
		if grace > 0 {
			old = append(old, herald.OldSecret{Secret: current, ExpiresAt: now.Add(grace)})
		}
		slices.SortFunc(old, func(a, b herald.OldSecret) int { return b.ExpiresAt.Compare(a.ExpiresAt) })
		if len(old) > herald.MaxOldSecrets {
			old = old[:herald.MaxOldSecrets]
		}
		sealedOld, err := s.sealOldSecrets(id, old)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE endpoints SET secret_enc = $2, old_secrets_enc = $3, public_key = $4, updated_at = now()
			WHERE id = $1`, id, s.sealSecret(id, next), sealedOld, publicKey)
		if err != nil {
			return fmt.Errorf("rotate secret of endpoint %s: %w", id, err)
		}
		return nil
	})
}

func authAD(id uuid.UUID) []byte { return append(id[:], "auth"...) }

type authJSON struct {
	Type         string   `json:"type"`
	TokenURL     string   `json:"token_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	Audience     string   `json:"audience,omitempty"`
}

func (s *Store) sealAuth(id uuid.UUID, a *herald.EndpointAuth) (string, []byte, error) {
	if a == nil {
		return "none", nil, nil
	}
	b, err := json.Marshal(authJSON{Type: a.Type, TokenURL: a.TokenURL, ClientID: a.ClientID,
		ClientSecret: a.ClientSecret, Scopes: a.Scopes, Audience: a.Audience})
	if err != nil {
		return "", nil, fmt.Errorf("endpoint %s auth: %w", id, err)
	}
	return a.Type, s.box.Seal(b, authAD(id)), nil
}

// OpenAuth decrypts an endpoint's outbound authentication (nil when none).
func (s *Store) OpenAuth(id uuid.UUID, sealed []byte) (*herald.EndpointAuth, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	b, err := s.box.Open(sealed, authAD(id))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s auth: %w", id, err)
	}
	var a authJSON
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("endpoint %s auth: %w", id, err)
	}
	return &herald.EndpointAuth{Type: a.Type, TokenURL: a.TokenURL, ClientID: a.ClientID, ClientSecret: a.ClientSecret,
		Scopes: a.Scopes, Audience: a.Audience}, nil
}

func mtlsAD(id uuid.UUID) []byte { return append(id[:], "mtls"...) }

type mtlsJSON struct {
	Certificate []byte `json:"c"`
	PrivateKey  []byte `json:"k"`
}

func (s *Store) sealMTLS(id uuid.UUID, c *herald.ClientCert) ([]byte, error) {
	if c == nil {
		return nil, nil
	}
	b, err := json.Marshal(mtlsJSON{Certificate: c.Certificate, PrivateKey: c.PrivateKey})
	if err != nil {
		return nil, fmt.Errorf("endpoint %s client certificate: %w", id, err)
	}
	return s.box.Seal(b, mtlsAD(id)), nil
}

// OpenMTLS decrypts an endpoint's client certificate and key (nil when
// none).
func (s *Store) OpenMTLS(id uuid.UUID, sealed []byte) (*herald.ClientCert, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	b, err := s.box.Open(sealed, mtlsAD(id))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s client certificate: %w", id, err)
	}
	var m mtlsJSON
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("endpoint %s client certificate: %w", id, err)
	}
	return &herald.ClientCert{Certificate: m.Certificate, PrivateKey: m.PrivateKey}, nil
}

func verifyAD(id uuid.UUID) []byte { return append(id[:], "verify-token"...) }

// EndpointSetPending marks an endpoint as waiting for verification, with the
// one-time callback token the handshake offers (stored encrypted).
func (s *Store) EndpointSetPending(ctx context.Context, id uuid.UUID, token string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE endpoints SET status = 'pending', verify_token_enc = $2, verified_at = NULL,
			verified_by = '', disabled_reason = '', updated_at = now() WHERE id = $1`, raw(id), s.box.Seal([]byte(token), verifyAD(id)))
		if err != nil {
			return fmt.Errorf("endpoint %s: set pending: %w", id, err)
		}
		// The handshakes of an earlier verification say nothing of this one.
		return endpointVerificationClear(ctx, tx, id)
	})
}

// EndpointVerifyToken returns a pending endpoint's callback token.
func (s *Store) EndpointVerifyToken(ctx context.Context, id uuid.UUID) (string, error) {
	var sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT verify_token_enc FROM endpoints WHERE id = $1 AND status = 'pending'
		AND verify_token_enc IS NOT NULL`, raw(id)).Scan(&sealed)
	if err != nil {
		return "", translate(err, "pending endpoint "+id.String())
	}
	b, err := s.box.Open(sealed, verifyAD(id))
	if err != nil {
		return "", fmt.Errorf("endpoint %s verify token: %w", id, err)
	}
	return string(b), nil
}

// EndpointVerify activates a pending endpoint, recording how consent was
// given. It reports false when the endpoint was not pending.
func (s *Store) EndpointVerify(ctx context.Context, id uuid.UUID, by string) (bool, error) {
	var verified bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE endpoints SET status = 'active', verify_token_enc = NULL, verified_at = now(),
			verified_by = $2, updated_at = now() WHERE id = $1 AND status = 'pending'`, raw(id), by)
		if err != nil {
			return fmt.Errorf("endpoint %s: verify: %w", id, err)
		}
		if verified = tag.RowsAffected() == 1; !verified {
			return nil
		}
		// However consent came, no further handshake is due.
		return endpointVerificationSettle(ctx, tx, id)
	})
	return verified, err
}

func nullInt(n int) *int32 {
	if n <= 0 {
		return nil
	}
	v := int32(n)
	return &v
}

// EndpointReserveSlot reserves the next delivery slot of a rate-limited
// endpoint for a delivery and returns it: now when the endpoint is under
// its rate, later otherwise. One row per endpoint serialises the
// reservations of every node, so the rate holds across the cluster.
func (s *Store) EndpointReserveSlot(ctx context.Context, endpoint, delivery uuid.UUID, createdAt time.Time, perSecond int) (time.Time, error) {
	step := time.Second / time.Duration(perSecond)
	var slot time.Time
	err := s.pool.QueryRow(ctx, `WITH r AS (
			INSERT INTO endpoint_rate (endpoint_id, tat) VALUES ($1, clock_timestamp() + $2::interval)
			ON CONFLICT (endpoint_id) DO UPDATE SET tat = greatest(endpoint_rate.tat, clock_timestamp()) + $2::interval
			RETURNING tat - $2::interval AS slot
		), d AS (
			UPDATE deliveries SET slot_at = (SELECT slot FROM r) WHERE id = $3 AND created_at = $4
		)
		SELECT slot FROM r`, raw(endpoint), step, raw(delivery), createdAt).Scan(&slot)
	if err != nil {
		return time.Time{}, fmt.Errorf("reserve a slot of endpoint %s: %w", endpoint, err)
	}
	return slot, nil
}

// EndpointCapRate lowers an endpoint's rate limit to perSecond if it has
// none or a higher one (the receiver's WebHook-Allowed-Rate).
func (s *Store) EndpointCapRate(ctx context.Context, id uuid.UUID, perSecond int) error {
	_, err := s.pool.Exec(ctx, `UPDATE endpoints SET rate_limit = LEAST(coalesce(rate_limit, $2), $2), updated_at = now()
		WHERE id = $1 AND (rate_limit IS NULL OR rate_limit > $2)`, raw(id), perSecond)
	if err != nil {
		return fmt.Errorf("cap rate of endpoint %s: %w", id, err)
	}
	return nil
}

// contentMode stores an endpoint's content mode, structured when unset.
func contentMode(m string) string {
	if m == "" {
		return herald.ContentModeStructured
	}
	return m
}
