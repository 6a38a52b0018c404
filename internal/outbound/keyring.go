package outbound

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrNoSigningKey is returned by JWTIssuer.Token when the ring has no current
// key.
var ErrNoSigningKey = errors.New("outbound: no current signing key")

// KeyRing holds Herald's JWT signing keys: the current key, which signs new
// tokens, and previous keys that stay published in the JWKS until their
// NotAfter, so tokens they signed shortly before a rotation still verify.
// It is safe for concurrent use.
//
// The ring copies the keys it is given and never changes them afterwards;
// Keys returns copies for the caller to persist.
type KeyRing struct {
	// Now returns the current time; nil means time.Now. Set it before the
	// ring is shared. It decides when rotated-out keys leave the JWKS.
	Now func() time.Time

	mu sync.RWMutex
	// current signs new tokens; nil when the ring has none.
	current *ringKey
	// previous are the other published keys, newest first. Entries are
	// replaced, never modified, so readers may keep pointers to them.
	previous []*ringKey
}

// ringKey is a key with its public JWK (or the reason it has none) worked
// out once, so signing and publishing do not re-validate it every time.
type ringKey struct {
	key SigningKey
	jwk jwk
	err error
}

func newRingKey(k *SigningKey) *ringKey {
	rk := &ringKey{key: *k}
	rk.jwk, rk.err = rk.key.jwk()
	return rk
}

// NewKeyRing builds a ring from stored keys, in any order. The current key is
// the most recently created key whose NotAfter is zero; every other key is
// published until its NotAfter (or, if that is zero too, until the next
// Rotate retires it). Nil keys are ignored.
//
// Invalid keys are kept, so Keys still returns everything the caller stored,
// but they are left out of the JWKS; if the current key is invalid,
// JWTIssuer.Token reports why.
func NewKeyRing(keys ...*SigningKey) *KeyRing {
	r := &KeyRing{}
	for _, k := range keys {
		if k == nil {
			continue
		}
		rk := newRingKey(k)
		switch {
		case !k.NotAfter.IsZero():
			r.previous = append(r.previous, rk)
		case r.current == nil:
			r.current = rk
		case k.Created.After(r.current.key.Created):
			r.previous = append(r.previous, r.current)
			r.current = rk
		default:
			r.previous = append(r.previous, rk)
		}
	}
	sortNewestFirst(r.previous)
	return r
}

func sortNewestFirst(keys []*ringKey) {
	slices.SortStableFunc(keys, func(a, b *ringKey) int {
		return b.key.Created.Compare(a.key.Created)
	})
}

func (r *KeyRing) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Rotate makes newKey the current signing key. Every key that was not yet
// retiring (the old current key, normally) gets NotAfter = now + keepOld and
// stays in the JWKS until then; keys already retiring keep their NotAfter.
//
// keepOld must be at least the token lifetime (JWTIssuer.TTL), or tokens
// signed just before the rotation fail at receivers once their key is gone.
// Receivers that cache the JWKS must refetch it when they meet an unknown
// kid, because the new key signs at once.
//
// Rotate refuses an invalid newKey, or one whose id is already in the ring,
// and then changes nothing. Persist the result with Keys.
func (r *KeyRing) Rotate(newKey *SigningKey, keepOld time.Duration) error {
	if err := newKey.Validate(); err != nil {
		return err
	}
	keepOld = max(keepOld, 0)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.find(newKey.ID) != nil {
		return fmt.Errorf("%w: key id %s is already in the ring", ErrInvalidKey, newKey.ID)
	}
	now := r.now()
	notAfter := now.Add(keepOld)

	prev := make([]*ringKey, 0, len(r.previous)+1)
	retire := func(rk *ringKey) {
		if rk.key.NotAfter.IsZero() {
			k := rk.key
			k.NotAfter = notAfter
			rk = newRingKey(&k)
		}
		if rk.key.NotAfter.After(now) {
			prev = append(prev, rk)
		}
	}
	if r.current != nil {
		retire(r.current)
	}
	for _, rk := range r.previous {
		retire(rk)
	}
	sortNewestFirst(prev)

	k := *newKey
	k.NotAfter = time.Time{} // the current key is by definition not retiring
	r.current = newRingKey(&k)
	r.previous = prev
	return nil
}

// find returns the published key with the given id, or nil. The caller
// holds r.mu.
func (r *KeyRing) find(id string) *ringKey {
	if r.current != nil && r.current.key.ID == id {
		return r.current
	}
	for _, rk := range r.previous {
		if rk.key.ID == id {
			return rk
		}
	}
	return nil
}

// signingKey returns the current key for signing.
func (r *KeyRing) signingKey() (*ringKey, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.current == nil {
		return nil, ErrNoSigningKey
	}
	if r.current.err != nil {
		return nil, r.current.err
	}
	return r.current, nil
}

// published returns the keys whose NotAfter has not passed, current first,
// then newest first.
func (r *KeyRing) published() []*ringKey {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*ringKey, 0, len(r.previous)+1)
	if r.current != nil {
		out = append(out, r.current)
	}
	for _, rk := range r.previous {
		if rk.key.NotAfter.IsZero() || now.Before(rk.key.NotAfter) {
			out = append(out, rk)
		}
	}
	return out
}

// Current returns a copy of the current signing key, or nil if there is
// none.
func (r *KeyRing) Current() *SigningKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.current == nil {
		return nil
	}
	k := r.current.key
	return &k
}

// Keys returns copies of the keys still published (including invalid ones the
// ring was built with), current first. After a Rotate the caller stores these
// and may delete any stored key not among them.
func (r *KeyRing) Keys() []*SigningKey {
	published := r.published()
	out := make([]*SigningKey, len(published))
	for i, rk := range published {
		k := rk.key
		out[i] = &k
	}
	return out
}

// jwkSet is the RFC 7517 section 5 JWK Set document.
type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// JWKS returns the JWK Set document receivers verify tokens against:
// {"keys":[...]} with the current key first, then the previous keys whose
// NotAfter has not passed. Only public parts are included (kty, crv, x, y,
// kid, alg, use), and keys that are invalid are left out. Serve it as
// application/jwk-set+json; a short Cache-Control max-age keeps receivers
// from refetching it on every delivery while still letting them see a new
// key quickly.
func (r *KeyRing) JWKS() []byte {
	set := jwkSet{Keys: []jwk{}} // "keys":[] rather than null when empty
	for _, rk := range r.published() {
		if rk.err == nil {
			set.Keys = append(set.Keys, rk.jwk)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		// Only strings go in, so this cannot happen.
		panic("outbound: marshal JWKS: " + err.Error())
	}
	return b
}
