package outbound

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// KeyAlg names the JWS algorithm (RFC 7518, RFC 8037) a signing key is used
// with.
type KeyAlg string

const (
	// ES256 is ECDSA on P-256 with SHA-256. It is the default because every
	// JOSE library and API gateway supports it.
	ES256 KeyAlg = "ES256"
	// EdDSA is Ed25519 (RFC 8037): smaller keys and deterministic
	// signatures, but some receivers' libraries do not support it yet.
	EdDSA KeyAlg = "EdDSA"
)

// ErrInvalidKey reports a signing key that cannot be used: wrong key type for
// its algorithm, missing id, or undecodable storage.
var ErrInvalidKey = errors.New("outbound: invalid signing key")

// SigningKey is one of Herald's JWT signing keys.
type SigningKey struct {
	// ID is the JWS "kid" that receivers use to pick the key from the JWKS.
	// NewSigningKey sets it to the key's RFC 7638 thumbprint.
	ID string
	// Alg is the algorithm the key signs with.
	Alg KeyAlg
	// Private is the private key: *ecdsa.PrivateKey on P-256 for ES256,
	// ed25519.PrivateKey for EdDSA. Any crypto.Signer with the matching
	// public key works for signing (an HSM or KMS key, say), but only those
	// two types can be exported by MarshalPrivate.
	Private crypto.Signer
	// Created is when the key was generated.
	Created time.Time
	// NotAfter is when the key leaves the JWKS. Zero means the key is not
	// retiring: it is the current signing key. Rotate sets it on the keys
	// it replaces.
	NotAfter time.Time
}

// NewSigningKey generates a key for alg; an empty alg means ES256.
func NewSigningKey(alg KeyAlg) (*SigningKey, error) {
	if alg == "" {
		alg = ES256
	}
	var priv crypto.Signer
	switch alg {
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("outbound: generate ES256 key: %w", err)
		}
		priv = k
	case EdDSA:
		_, k, err := ed25519.GenerateKey(nil) // nil: the system's secure source
		if err != nil {
			return nil, fmt.Errorf("outbound: generate EdDSA key: %w", err)
		}
		priv = k
	default:
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidKey, alg)
	}
	j, err := publicJWK(alg, priv.Public())
	if err != nil {
		return nil, err
	}
	// UTC() also strips the monotonic reading, so the value round-trips
	// through MarshalPrivate unchanged.
	return &SigningKey{ID: j.thumbprint(), Alg: alg, Private: priv, Created: time.Now().UTC()}, nil
}

// Validate reports whether k can sign and be published: it needs an id, a
// private key, and a public key that matches Alg.
func (k *SigningKey) Validate() error {
	_, err := k.jwk()
	return err
}

// jwk validates k and returns its public JWK with kid, alg and use set.
func (k *SigningKey) jwk() (jwk, error) {
	if k == nil {
		return jwk{}, fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	if k.ID == "" {
		return jwk{}, fmt.Errorf("%w: empty key id", ErrInvalidKey)
	}
	if !validKeyID(k.ID) {
		return jwk{}, fmt.Errorf("%w: key id %q has characters outside printable ASCII", ErrInvalidKey, k.ID)
	}
	if k.Private == nil {
		return jwk{}, fmt.Errorf("%w: key %s has no private key", ErrInvalidKey, k.ID)
	}
	j, err := publicJWK(k.Alg, k.Private.Public())
	if err != nil {
		return jwk{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	j.Kid, j.Alg, j.Use = k.ID, string(k.Alg), "sig"
	return j, nil
}

// validKeyID keeps kids to printable ASCII of a sane length: receivers match
// them byte for byte, often after copying them through config files.
func validKeyID(s string) bool {
	if len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// storedKeyVersion is the version of the MarshalPrivate format.
const storedKeyVersion = 1

// storedKey is the MarshalPrivate format: metadata as JSON around the
// private key as PKCS#8 PEM, so an operator can still pull the key out with
// standard tools.
type storedKey struct {
	Version  int       `json:"v"`
	ID       string    `json:"kid"`
	Alg      KeyAlg    `json:"alg"`
	Created  time.Time `json:"created,omitzero"`
	NotAfter time.Time `json:"not_after,omitzero"`
	// PrivateKey is "-----BEGIN PRIVATE KEY-----" PEM (PKCS#8).
	PrivateKey string `json:"private_key"`
}

// MarshalPrivate serialises k, private key included, for the caller to
// encrypt and store; UnmarshalPrivate reverses it. The result is JSON with
// the id, algorithm, Created and NotAfter, and the private key as PKCS#8 PEM.
// It is secret: never log it or store it unencrypted.
func (k *SigningKey) MarshalPrivate() ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		// Typically a KMS or HSM signer, whose key never leaves the device.
		return nil, fmt.Errorf("%w: key %s cannot be exported as PKCS#8: %v", ErrInvalidKey, k.ID, err)
	}
	defer clear(der)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	defer clear(pemBytes)
	return json.Marshal(storedKey{
		Version:    storedKeyVersion,
		ID:         k.ID,
		Alg:        k.Alg,
		Created:    k.Created,
		NotAfter:   k.NotAfter,
		PrivateKey: string(pemBytes),
	})
}

// UnmarshalPrivate parses the output of MarshalPrivate and checks that the
// key matches its algorithm.
func UnmarshalPrivate(data []byte) (*SigningKey, error) {
	var s storedKey
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a typo'd field must not silently drop NotAfter
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: decode stored key: %v", ErrInvalidKey, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after stored key", ErrInvalidKey)
	}
	if s.Version != storedKeyVersion {
		return nil, fmt.Errorf("%w: stored key format version %d, want %d", ErrInvalidKey, s.Version, storedKeyVersion)
	}
	block, rest := pem.Decode([]byte(s.PrivateKey))
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: stored key %s has no PKCS#8 PEM block", ErrInvalidKey, s.ID)
	}
	defer clear(block.Bytes)
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: stored key %s has data after its PEM block", ErrInvalidKey, s.ID)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: stored key %s: %v", ErrInvalidKey, s.ID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: stored key %s is a %T, not a signer", ErrInvalidKey, s.ID, parsed)
	}
	k := &SigningKey{ID: s.ID, Alg: s.Alg, Private: signer, Created: s.Created, NotAfter: s.NotAfter}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return k, nil
}

// jwk is a public JSON Web Key (RFC 7517) for an EC P-256 or OKP Ed25519
// key. It has no field for private material, so none can be published by
// mistake.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// publicJWK converts pub to a JWK, checking that it is the key type alg
// requires (ES256 signatures with a P-384 key, say, would verify nowhere).
func publicJWK(alg KeyAlg, pub crypto.PublicKey) (jwk, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch alg {
	case ES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return jwk{}, fmt.Errorf("%w: ES256 needs a P-256 ECDSA key, got %s", ErrInvalidKey, describeKey(pub))
		}
		// Bytes is the uncompressed point 0x04 || X || Y, each coordinate
		// padded to 32 bytes as RFC 7518 section 6.2.1.2 requires.
		pt, err := k.Bytes()
		if err != nil || len(pt) != 65 {
			return jwk{}, fmt.Errorf("%w: encode P-256 public key: %v", ErrInvalidKey, err)
		}
		return jwk{Kty: "EC", Crv: "P-256", X: b64(pt[1:33]), Y: b64(pt[33:])}, nil
	case EdDSA:
		k, ok := pub.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return jwk{}, fmt.Errorf("%w: EdDSA needs an Ed25519 key, got %s", ErrInvalidKey, describeKey(pub))
		}
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64(k)}, nil
	default:
		return jwk{}, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidKey, alg)
	}
}

// describeKey names a public key's type for error messages.
func describeKey(pub crypto.PublicKey) string {
	if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve != nil {
		return "ECDSA " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", pub)
}

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 over the required
// members in lexicographic order with no whitespace. The member values are
// base64url or fixed names, so they need no JSON escaping.
func (j jwk) thumbprint() string {
	var canon string
	switch j.Kty {
	case "EC":
		canon = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	default:
		canon = `{"crv":"` + j.Crv + `","kty":"` + j.Kty + `","x":"` + j.X + `"}`
	}
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
