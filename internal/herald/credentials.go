package herald

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
)

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewCredential returns a fresh key id and secret. The key is public (it
// names the client in logs and URLs); the secret carries 256 random bits and
// is shown to its owner once.
func NewCredential() (key, secret string) {
	var k [10]byte
	var s [32]byte
	_, _ = rand.Read(k[:])
	_, _ = rand.Read(s[:])
	return "hk_" + lower(keyEncoding.EncodeToString(k[:])), "hs_" + base64.RawURLEncoding.EncodeToString(s[:])
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// HashSecret returns the stored form of a secret. Secrets are long random
// strings, so a single SHA-256 is enough to make a leaked table useless; a
// slow password hash would only cost every API request CPU time.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// SecretMatches compares a presented secret with a stored hash in constant
// time.
func SecretMatches(secret string, hash []byte) bool {
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}
