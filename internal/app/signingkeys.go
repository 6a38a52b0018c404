package app

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/outbound"
)

// signingKeys loads the keys Herald signs outbound JWTs with, creating the
// first one on a new database.
func (a *App) signingKeys(ctx context.Context) (*outbound.KeyRing, error) {
	keys, err := a.store.SigningKeyList(ctx, time.Now())
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		k, err := outbound.NewSigningKey(outbound.ES256)
		if err != nil {
			return nil, fmt.Errorf("create JWT signing key: %w", err)
		}
		// A key created by another node starting at the same moment stays
		// published for a day, so its tokens keep verifying.
		if err := a.store.SigningKeyInsert(ctx, k, time.Now().Add(24*time.Hour)); err != nil {
			return nil, err
		}
		// Another node may have created one at the same moment: use what
		// the database holds.
		if keys, err = a.store.SigningKeyList(ctx, time.Now()); err != nil {
			return nil, err
		}
	}
	return outbound.NewKeyRing(keys...), nil
}

// keyOverlap is how long a rotated-out JWT signing key stays published:
// well over the tokens' 5-minute lifetime.
const keyOverlap = time.Hour

// rotateSigningKey makes a new JWT signing key current on this node at
// once and stores it; other nodes adopt it within followKeys' period.
func (a *App) rotateSigningKey(ctx context.Context) (string, error) {
	k, err := outbound.NewSigningKey(outbound.ES256)
	if err != nil {
		return "", fmt.Errorf("create JWT signing key: %w", err)
	}
	if err := a.store.SigningKeyInsert(ctx, k, time.Now().Add(keyOverlap)); err != nil {
		return "", err
	}
	if err := a.ring.Rotate(k, keyOverlap); err != nil {
		return "", err
	}
	a.logger.Info("rotated JWT signing key", "kid", k.ID)
	return k.ID, nil
}

// followKeys adopts signing keys that other nodes rotated in, so every node
// signs with, and publishes, the same keys within a minute.
func (a *App) followKeys(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		keys, err := a.store.SigningKeyList(ctx, time.Now())
		if err != nil {
			a.logger.Warn("reload JWT signing keys", "error", err)
			continue
		}
		cur := a.ring.Current()
		for _, k := range keys { // oldest first
			if k.NotAfter.IsZero() && (cur == nil || k.Created.After(cur.Created)) {
				if err := a.ring.Rotate(k, keyOverlap); err == nil {
					a.logger.Info("adopted JWT signing key rotated by another node", "kid", k.ID)
				}
			}
		}
	}
}
