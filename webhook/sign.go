package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// SecretPrefix starts every Standard Webhooks symmetric signing secret.
const SecretPrefix = "whsec_"

// secretBytes is the size of secrets made by NewSecret: 192 bits, the size
// Svix uses and inside the 24-64 bytes the Standard Webhooks spec asks for.
const secretBytes = 24

// ErrInvalidSecret is returned (wrapped) when a signing secret is empty or
// not valid base64 after its "whsec_" prefix.
var ErrInvalidSecret = errors.New("invalid webhook signing secret")

// NewSecret returns a fresh random signing secret: "whsec_" followed by the
// standard base64 encoding of 24 random bytes.
func NewSecret() (string, error) {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

// Sign returns the Standard Webhooks signature "v1,<base64 HMAC-SHA256>" of
// body for message id at ts, computed with secret ("whsec_..." or bare
// base64). Receivers verify it over the webhook-id, webhook-timestamp and raw
// body they receive.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	wh, err := signer(secret)
	if err != nil {
		return "", err
	}
	sig, err := wh.Sign(id, ts, body)
	if err != nil {
		return "", fmt.Errorf("sign webhook %s: %w", id, err)
	}
	return sig, nil
}

// signatureHeader builds the webhook-signature value: one signature per
// secret, space-separated, so receivers holding either the old or the new
// secret verify during a rotation. "whsk_" secrets give v1a (ed25519)
// entries, all others v1 (HMAC) ones.
func signatureHeader(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", fmt.Errorf("%w: message has no signing secret", ErrInvalidSecret)
	}
	if len(secrets) == 1 {
		return signOne(secrets[0], id, ts, body)
	}
	var b strings.Builder
	for i, s := range secrets {
		sig, err := signOne(s, id, ts, body)
		if err != nil {
			return "", fmt.Errorf("secret %d: %w", i+1, err)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(sig)
	}
	return b.String(), nil
}

// maxCachedSecrets bounds the signer cache. Secrets are per endpoint and
// change on rotation, so over a long uptime the set of secrets ever seen
// keeps growing; when the bound is hit the cache is simply emptied; the
// live secrets are re-decoded on their next use.
const maxCachedSecrets = 10_000

// signers caches the decoded *standardwebhooks.Webhook per secret string:
// base64-decoding the key on every attempt is wasted work on the hot path.
// It is package-wide so Sign and every Sender share it.
var signers signerCache

type signerCache struct {
	m sync.Map // secret string -> *standardwebhooks.Webhook
	n atomic.Int64
}

func signer(secret string) (*standardwebhooks.Webhook, error) {
	if v, ok := signers.m.Load(secret); ok {
		return v.(*standardwebhooks.Webhook), nil
	}
	// A v1a or public key would fail below with a base64 error that hides
	// the actual mistake.
	if strings.HasPrefix(secret, SigningKeyPrefix) || strings.HasPrefix(secret, PublicKeyPrefix) {
		return nil, keyKindError(secret)
	}
	// The library accepts an empty key (and thus signs with no secret at all);
	// refuse that here.
	if strings.TrimPrefix(secret, SecretPrefix) == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		// Don't echo the secret: the error may end up in attempt records.
		// The library's message is "unable to create webhook, err: <base64
		// error>"; keep only the base64 part, which names the bad position.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return nil, fmt.Errorf("%w: not base64 after the %q prefix: %v", ErrInvalidSecret, SecretPrefix, err)
	}
	if signers.n.Add(1) > maxCachedSecrets {
		signers.m.Clear()
		signers.n.Store(1)
	}
	if v, loaded := signers.m.LoadOrStore(secret, wh); loaded {
		return v.(*standardwebhooks.Webhook), nil
	}
	return wh, nil
}
