package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/outbound"
)

func signingKeyAD(id string) []byte { return []byte("signing-key:" + id) }

// SigningKeyList returns the JWT signing keys still published (current and
// rotated-out ones before their not_after), decrypted.
func (s *Store) SigningKeyList(ctx context.Context, now time.Time) ([]*outbound.SigningKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, private_enc, not_after FROM signing_keys
		WHERE not_after IS NULL OR not_after > $1 ORDER BY created_at`, now)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	defer rows.Close()
	var out []*outbound.SigningKey
	for rows.Next() {
		var id string
		var sealed []byte
		var notAfter *time.Time
		if err := rows.Scan(&id, &sealed, &notAfter); err != nil {
			return nil, fmt.Errorf("list signing keys: %w", err)
		}
		raw, err := s.box.Open(sealed, signingKeyAD(id))
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", id, err)
		}
		k, err := outbound.UnmarshalPrivate(raw)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", id, err)
		}
		// The database says when a rotated-out key stops being published.
		k.NotAfter = time.Time{}
		if notAfter != nil {
			k.NotAfter = *notAfter
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// SigningKeyInsert stores a new signing key, encrypted, and ends the
// publication of the previous current keys at retireAt (they keep verifying
// tokens already issued until then). An existing key id is left alone.
func (s *Store) SigningKeyInsert(ctx context.Context, k *outbound.SigningKey, retireAt time.Time) error {
	raw, err := k.MarshalPrivate()
	if err != nil {
		return fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	_, err = s.pool.Exec(ctx, `WITH retire AS (
			UPDATE signing_keys SET not_after = $4 WHERE not_after IS NULL AND id <> $1
		)
		INSERT INTO signing_keys (id, private_enc, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
		k.ID, s.box.Seal(raw, signingKeyAD(k.ID)), k.Created, retireAt)
	if err != nil {
		return fmt.Errorf("store signing key %s: %w", k.ID, err)
	}
	return nil
}
