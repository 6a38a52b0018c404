package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Key prefixes of the Standard Webhooks asymmetric scheme ("v1a", ed25519).
const (
	// SigningKeyPrefix starts every ed25519 signing key. What follows is the
	// standard base64 encoding of the 64-byte ed25519 private key: the 32-byte
	// seed followed by the 32-byte public key (RFC 8032 layout, the same as
	// Go's [ed25519.PrivateKey] and the key Svix serializes after "whsk_").
	SigningKeyPrefix = "whsk_"
	// PublicKeyPrefix starts every ed25519 public key, the half handed to
	// receivers: standard base64 of the 32-byte public key.
	PublicKeyPrefix = "whpk_"
)

// v1aVersion is the signature identifier of ed25519 signatures in
// webhook-signature.
const v1aVersion = "v1a"

// maxV1aEntries bounds how many v1a entries [VerifyV1a] tries. A sender signs
// with the current key plus a few rotated-out ones (Svix keeps at most ten
// old keys); a header with more is either broken or an attempt to make the
// receiver burn CPU on ed25519 verifications.
const maxV1aEntries = 16

// ErrInvalidPublicKey is returned (wrapped) by [VerifyV1a] when the public key
// is not "whpk_" followed by the base64 encoding of 32 bytes.
var ErrInvalidPublicKey = errors.New("invalid webhook public key")

// ErrNoMatchingSignature is returned (wrapped) by [VerifyV1a] when no v1a
// entry of the signature header verifies.
var ErrNoMatchingSignature = errors.New("no matching webhook signature")

// NewSigningKey returns a fresh ed25519 key pair in Standard Webhooks form:
// the signing key "whsk_..." to keep (put it in [Message.Secrets]) and the
// public key "whpk_..." to give the receiver.
func NewSigningKey() (secret, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate webhook signing key: %w", err)
	}
	return SigningKeyPrefix + base64.StdEncoding.EncodeToString(priv),
		PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub), nil
}

// PublicKeyOf returns the "whpk_..." public key belonging to the "whsk_..."
// signing key secret, e.g. to show it again to the endpoint's owner.
func PublicKeyOf(secret string) (string, error) {
	key, err := v1aKey(secret)
	if err != nil {
		return "", err
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(key[ed25519.SeedSize:]), nil
}

// SignV1a returns the Standard Webhooks asymmetric signature
// "v1a,<base64 ed25519 signature>" of body for message id at ts, made with the
// "whsk_..." signing key secret over the same content as v1:
// "{id}.{unix seconds}.{body}".
func SignV1a(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := v1aKey(secret)
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(key, signedContent(id, ts, body))
	out := make([]byte, len(v1aVersion)+1+base64.StdEncoding.EncodedLen(len(sig)))
	n := copy(out, v1aVersion+",")
	base64.StdEncoding.Encode(out[n:], sig)
	return string(out), nil
}

// VerifyV1a reports whether header, a webhook-signature value, holds a v1a
// entry made by the key pair of public ("whpk_...") for body, id and ts. Other
// entries (v1, unknown versions, malformed ones) are skipped, as receivers
// must do during a rotation. The error wraps [ErrNoMatchingSignature] or
// [ErrInvalidPublicKey].
//
// VerifyV1a does not judge ts: receivers must also refuse a webhook-timestamp
// too far from their clock (every Standard Webhooks library allows ±5
// minutes), or a captured request could be replayed forever.
func VerifyV1a(public string, id string, ts time.Time, body []byte, header string) error {
	pub, err := parsePublicKey(public)
	if err != nil {
		return err
	}
	var content []byte // built on the first v1a entry: most headers have one
	tried := 0
	for entry := range strings.FieldsSeq(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != v1aVersion {
			continue
		}
		if tried++; tried > maxV1aEntries {
			break
		}
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || len(raw) != ed25519.SignatureSize {
			continue
		}
		if content == nil {
			content = signedContent(id, ts, body)
		}
		if ed25519.Verify(pub, content, raw) {
			return nil
		}
	}
	if tried == 0 {
		return fmt.Errorf("%w: the header has no v1a entry", ErrNoMatchingSignature)
	}
	return fmt.Errorf("%w: no v1a entry verifies with this public key", ErrNoMatchingSignature)
}

// signOne signs with one entry of Message.Secrets: the prefix picks the
// scheme, as the spec intends ("allows implementations to correctly use the
// correct scheme without additional configuration").
func signOne(secret, id string, ts time.Time, body []byte) (string, error) {
	if strings.HasPrefix(secret, SigningKeyPrefix) {
		return SignV1a(secret, id, ts, body)
	}
	return Sign(secret, id, ts, body)
}

// signedContent is what both v1 and v1a sign: "{id}.{unix seconds}.{body}".
func signedContent(id string, ts time.Time, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(body)+22) // 2 dots + up to 20 digits
	b = append(b, id...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts.Unix(), 10)
	b = append(b, '.')
	return append(b, body...)
}

// v1aKeys caches decoded and checked signing keys per secret string, like
// signers does for v1: decoding and re-deriving the public half (a scalar
// multiplication) on every attempt would be wasted work. It is a separate
// cache so each holds one value type.
var v1aKeys signerCache

func v1aKey(secret string) (ed25519.PrivateKey, error) {
	if v, ok := v1aKeys.m.Load(secret); ok {
		return v.(ed25519.PrivateKey), nil
	}
	key, err := parseSigningKey(secret)
	if err != nil {
		return nil, err
	}
	if v1aKeys.n.Add(1) > maxCachedSecrets {
		v1aKeys.m.Clear()
		v1aKeys.n.Store(1)
	}
	if v, loaded := v1aKeys.m.LoadOrStore(secret, key); loaded {
		return v.(ed25519.PrivateKey), nil
	}
	return key, nil
}

// parseSigningKey decodes a "whsk_" key. Errors never echo the key: they may
// end up in attempt records.
func parseSigningKey(secret string) (ed25519.PrivateKey, error) {
	rest, ok := strings.CutPrefix(secret, SigningKeyPrefix)
	if !ok {
		if err := keyKindError(secret); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: an ed25519 signing key starts with %q", ErrInvalidSecret, SigningKeyPrefix)
	}
	if rest == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 after the %q prefix: %v", ErrInvalidSecret, SigningKeyPrefix, err)
	}
	switch len(raw) {
	case ed25519.PrivateKeySize:
	case ed25519.SeedSize:
		// Accepting bare seeds would let keys in that Svix and other
		// implementations of the spec refuse, so a key pasted here could
		// not be moved there.
		return nil, fmt.Errorf("%w: %q key is a 32-byte seed; it must hold the 64-byte ed25519 private key (seed followed by public key)", ErrInvalidSecret, SigningKeyPrefix)
	default:
		return nil, fmt.Errorf("%w: %q key decodes to %d bytes, want 64", ErrInvalidSecret, SigningKeyPrefix, len(raw))
	}
	key := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
	// ed25519.Sign hashes the stored public half into every signature. With
	// a wrong half the signatures verify under no key at all, so a corrupt
	// key must fail here, not at every receiver.
	if !bytes.Equal(key[ed25519.SeedSize:], raw[ed25519.SeedSize:]) {
		return nil, fmt.Errorf("%w: %q key's public half does not match its seed", ErrInvalidSecret, SigningKeyPrefix)
	}
	return key, nil
}

// keyKindError explains a key of the wrong kind, so that a public key or a
// v1a key pasted where another is expected gets a precise message instead of
// a base64 error. It returns nil for anything else.
func keyKindError(secret string) error {
	switch {
	case strings.HasPrefix(secret, PublicKeyPrefix):
		return fmt.Errorf("%w: %q is the prefix of a public key, which only verifies; signing needs the %q signing key", ErrInvalidSecret, PublicKeyPrefix, SigningKeyPrefix)
	case strings.HasPrefix(secret, SigningKeyPrefix):
		return fmt.Errorf("%w: %q is an ed25519 (v1a) signing key; sign with SignV1a or list it in Message.Secrets", ErrInvalidSecret, SigningKeyPrefix)
	case strings.HasPrefix(secret, SecretPrefix):
		return fmt.Errorf("%w: %q is an HMAC (v1) secret, not an ed25519 signing key", ErrInvalidSecret, SecretPrefix)
	}
	return nil
}

// parsePublicKey decodes a "whpk_" key.
func parsePublicKey(public string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(public, PublicKeyPrefix)
	if !ok {
		if strings.HasPrefix(public, SigningKeyPrefix) || strings.HasPrefix(public, SecretPrefix) {
			// Don't echo it: it is a secret.
			return nil, fmt.Errorf("%w: got a signing secret; verification needs the %q public key", ErrInvalidPublicKey, PublicKeyPrefix)
		}
		return nil, fmt.Errorf("%w: a public key starts with %q", ErrInvalidPublicKey, PublicKeyPrefix)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 after the %q prefix: %v", ErrInvalidPublicKey, PublicKeyPrefix, err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: decodes to %d bytes, want 32", ErrInvalidPublicKey, len(raw))
	}
	return ed25519.PublicKey(raw), nil
}
