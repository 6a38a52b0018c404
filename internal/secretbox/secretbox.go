// Package secretbox encrypts, at rest, the secrets Herald must be able to read
// back: endpoint signing secrets today, outbound credentials later. (Secrets
// Herald only has to verify, such as API keys, should be hashed instead.)
//
// Ciphertexts are AES-256-GCM under a 32-byte master key, taken from
// HERALD_MASTER_KEY (see ParseKey) or from a key file created on first start
// (see LoadOrCreateKeyFile).
//
// # Format
//
// A sealed value is
//
//	version (1 byte, = 1) || nonce (12 random bytes) || ciphertext || GCM tag (16 bytes)
//
// The GCM additional data is the version byte followed by the caller's
// additional data, so neither the header nor the row binding can be changed
// without Open failing.
//
// # Rotation
//
// The version byte exists so the format can change without a flag day. Key
// rotation would add version 2 as
//
//	2 || key id (e.g. 4 bytes) || nonce || ciphertext || tag
//
// with a keyring mapping key ids to keys: Seal writes with the newest key,
// Open dispatches on the version and key id, and a background job re-seals
// version-1 and old-key rows. Version 1 keeps meaning "the single master key".
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the master key length in bytes (AES-256).
const KeySize = 32

const (
	version1  = 1
	nonceSize = 12 // standard GCM nonce
	tagSize   = 16
	headerLen = 1 + nonceSize
	// Overhead is how many bytes Seal adds to the plaintext.
	Overhead = headerLen + tagSize
)

// ErrDecrypt is returned by Open for every failure: tampering, truncation, the
// wrong key, the wrong additional data or an unknown version. Callers should
// branch on errors.Is(err, ErrDecrypt); the wrapped detail is for logs.
var ErrDecrypt = errors.New("secretbox: cannot decrypt")

// ErrInvalidKey is wrapped by ParseKey and LoadOrCreateKeyFile when key
// material is malformed.
var ErrInvalidKey = errors.New("secretbox: invalid master key")

// Key is a 32-byte AES-256 master key. Its String and GoString methods redact
// it so a key accidentally passed to a logger or %v does not leak.
type Key [KeySize]byte

// String returns a redacted placeholder, never the key.
func (Key) String() string { return "secretbox.Key(REDACTED)" }

// GoString returns a redacted placeholder, never the key.
func (k Key) GoString() string { return k.String() }

// Encode returns the key as padded standard base64, the form ParseKey accepts
// and LoadOrCreateKeyFile writes. The result is secret.
func (k Key) Encode() string { return base64.StdEncoding.EncodeToString(k[:]) }

// GenerateKey returns a new random key.
func GenerateKey() Key {
	var k Key
	// crypto/rand.Read never fails (it crashes the program if the OS source
	// is broken), so there is no error to return.
	_, _ = rand.Read(k[:])
	return k
}

// ParseKey decodes a master key from text. Accepted forms, after trimming
// surrounding whitespace:
//
//   - 64 hexadecimal characters (either case);
//   - base64 of exactly 32 bytes, standard or URL-safe alphabet, with or
//     without padding (44 or 43 characters).
//
// The error wraps ErrInvalidKey and says what was expected; it never contains
// the input.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Key{}, fmt.Errorf("%w: empty; %s", ErrInvalidKey, keyFormat)
	}
	var k Key
	if len(s) == 2*KeySize {
		// 64 hex characters would also be valid base64 (of 48 bytes), so
		// hex has to be tried first.
		if _, err := hex.Decode(k[:], []byte(s)); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.Strict().DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != KeySize {
			return Key{}, fmt.Errorf("%w: decoded %d bytes from base64; %s", ErrInvalidKey, len(b), keyFormat)
		}
		copy(k[:], b)
		clear(b)
		return k, nil
	}
	return Key{}, fmt.Errorf("%w: got %d characters that are neither; %s", ErrInvalidKey, len(s), keyFormat)
}

// keyFormat describes what ParseKey accepts, for error messages.
const keyFormat = "expected base64 of 32 bytes (standard or URL alphabet, padding optional) or 64 hex characters; generate one with: openssl rand -base64 32"

// Box seals and opens values under one master key. It is safe for concurrent
// use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for k.
func New(k Key) *Box {
	block, err := aes.NewCipher(k[:])
	if err != nil {
		// Only possible for a key of the wrong length, which Key rules out.
		panic("secretbox: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("secretbox: " + err.Error())
	}
	return &Box{aead: aead}
}

// Seal encrypts plaintext and returns version || nonce || ciphertext+tag.
//
// additionalData is authenticated but not stored: pass what identifies the
// row the value belongs to (for example "endpoint:" + endpoint id) so that a
// ciphertext copied into another row fails to open. Open must be given the
// same bytes.
//
// Nonces are random, so the same plaintext seals differently each time. With
// 96-bit random nonces a key should seal well under 2^32 values; Herald's
// secrets are orders of magnitude fewer, and rotation (see the package doc)
// resets the count.
func (b *Box) Seal(plaintext, additionalData []byte) []byte {
	out := make([]byte, headerLen, headerLen+len(plaintext)+tagSize)
	out[0] = version1
	_, _ = rand.Read(out[1:headerLen]) // never fails; see GenerateKey
	return b.aead.Seal(out, out[1:headerLen], plaintext, authData(version1, additionalData))
}

// Open authenticates and decrypts a value produced by Seal with the same key
// and additional data. Every failure wraps ErrDecrypt.
func (b *Box) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte minimum", ErrDecrypt, len(sealed), Overhead)
	}
	if v := sealed[0]; v != version1 {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrDecrypt, v)
	}
	plaintext, err := b.aead.Open(nil, sealed[1:headerLen], sealed[headerLen:], authData(version1, additionalData))
	if err != nil {
		// GCM does not say why; it is tampering, wrong key or wrong AD.
		return nil, fmt.Errorf("%w: authentication failed (wrong key, wrong additional data or modified ciphertext)", ErrDecrypt)
	}
	return plaintext, nil
}

// authData is the GCM additional data: the version byte, then the caller's
// additional data. Covering the version keeps a future format from
// reinterpreting a version-1 ciphertext.
func authData(version byte, additionalData []byte) []byte {
	ad := make([]byte, 0, 1+len(additionalData))
	ad = append(ad, version)
	return append(ad, additionalData...)
}
