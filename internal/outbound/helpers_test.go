package outbound

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// errUnknownKid is returned by parseJWKS lookups for a kid not in the set.
var errUnknownKid = errors.New("kid not in JWKS")

// parseJWKS is what a receiver does with Herald's JWKS: it decodes the
// public keys by kid, written independently of the production encoder so
// the two check each other. It accepts EC P-256 and OKP Ed25519 keys and
// refuses anything carrying private material.
func parseJWKS(data []byte) (map[string]crypto.PublicKey, error) {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, err
	}
	if set.Keys == nil {
		return nil, errors.New(`no "keys" array`)
	}
	str := func(m map[string]any, name string) string {
		s, _ := m[name].(string)
		return s
	}
	b64 := func(m map[string]any, name string, size int) ([]byte, error) {
		b, err := base64.RawURLEncoding.DecodeString(str(m, name))
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", name, err)
		}
		if len(b) != size {
			return nil, fmt.Errorf("member %s is %d bytes, want %d", name, len(b), size)
		}
		return b, nil
	}
	out := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		kid := str(k, "kid")
		if kid == "" {
			return nil, errors.New("key without kid")
		}
		if _, dup := out[kid]; dup {
			return nil, fmt.Errorf("duplicate kid %s", kid)
		}
		if _, ok := k["d"]; ok {
			return nil, fmt.Errorf("key %s has private member d", kid)
		}
		if str(k, "use") != "sig" {
			return nil, fmt.Errorf("key %s: use %q, want sig", kid, str(k, "use"))
		}
		switch kty, crv, alg := str(k, "kty"), str(k, "crv"), str(k, "alg"); {
		case kty == "EC" && crv == "P-256" && alg == "ES256":
			x, err := b64(k, "x", 32)
			if err != nil {
				return nil, err
			}
			y, err := b64(k, "y", 32)
			if err != nil {
				return nil, err
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", kid, err)
			}
			out[kid] = pub
		case kty == "OKP" && crv == "Ed25519" && alg == "EdDSA":
			if _, ok := k["y"]; ok {
				return nil, fmt.Errorf("key %s: OKP key with y", kid)
			}
			x, err := b64(k, "x", ed25519.PublicKeySize)
			if err != nil {
				return nil, err
			}
			out[kid] = ed25519.PublicKey(x)
		default:
			return nil, fmt.Errorf("key %s: unsupported kty/crv/alg %s/%s/%s", kid, kty, crv, alg)
		}
	}
	return out, nil
}

// mustKey generates a signing key or fails the test.
func mustKey(t *testing.T, alg KeyAlg) *SigningKey {
	t.Helper()
	k, err := NewSigningKey(alg)
	if err != nil {
		t.Fatalf("NewSigningKey(%q): %v", alg, err)
	}
	return k
}

// opaqueSigner hides the concrete key type behind crypto.Signer, as an HSM
// or KMS signer would.
type opaqueSigner struct{ crypto.Signer }
