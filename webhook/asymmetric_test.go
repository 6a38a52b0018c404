package webhook

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// vectorFile is the shape shared by every file in testdata/signature: v1
// vectors (standard-webhooks.json) simply have no keys and no public_key.
type vectorFile struct {
	Keys []struct {
		Name      string `json:"name"`
		SeedHex   string `json:"seed_hex"`
		PublicHex string `json:"public_hex"`
		Secret    string `json:"secret"`
		PublicKey string `json:"public_key"`
	} `json:"keys"`
	Vectors []struct {
		Name      string   `json:"name"`
		Secret    string   `json:"secret"`
		Secrets   []string `json:"secrets"` // several secrets, in header order
		PublicKey string   `json:"public_key"`
		ID        string   `json:"id"`
		Timestamp int64    `json:"timestamp"`
		Body      string   `json:"body"`
		Signature string   `json:"signature"` // the whole webhook-signature value
	} `json:"vectors"`
}

func loadVectorFiles(t *testing.T) map[string]vectorFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "signature", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]vectorFile{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f vectorFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("parse %s: %v", p, err)
		}
		files[filepath.Base(p)] = f
	}
	for _, want := range []string{"standard-webhooks.json", "v1a.json"} {
		if len(files[want].Vectors) == 0 {
			t.Fatalf("testdata/signature/%s has no vectors", want)
		}
	}
	return files
}

// verifyV1aPlain is what a receiver without Herald's helpers does: rebuild
// "{webhook-id}.{webhook-timestamp}.{body}" from the request as received and
// check each v1a entry with crypto/ed25519. It returns how many entries
// verified under pub.
func verifyV1aPlain(t *testing.T, pub ed25519.PublicKey, h http.Header, body []byte) int {
	t.Helper()
	msg := []byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body))
	ok := 0
	for _, entry := range strings.Split(h.Get("webhook-signature"), " ") {
		b64, found := strings.CutPrefix(entry, "v1a,")
		if !found {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("v1a entry %q is not base64: %v", entry, err)
		}
		if ed25519.Verify(pub, msg, sig) {
			ok++
		}
	}
	return ok
}

// mustPublic decodes a "whpk_" key without going through the package.
func mustPublic(t *testing.T, public string) ed25519.PublicKey {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(public, PublicKeyPrefix))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		t.Fatalf("public key %q: %d bytes, %v", public, len(raw), err)
	}
	return raw
}

func testSigningKey(tb testing.TB) (secret, public string) {
	tb.Helper()
	secret, public, err := NewSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	return secret, public
}

// TestSignatureVectorFiles runs every vector of every file through the same
// path Message.Secrets takes, then checks each entry the way a receiver
// would: v1 with the reference library, v1a with crypto/ed25519.
func TestSignatureVectorFiles(t *testing.T) {
	t.Parallel()
	n := 0
	for file, f := range loadVectorFiles(t) {
		for _, v := range f.Vectors {
			n++
			t.Run(file+"/"+v.Name, func(t *testing.T) {
				t.Parallel()
				secrets := v.Secrets
				if len(secrets) == 0 {
					secrets = []string{v.Secret}
				}
				ts := time.Unix(v.Timestamp, 0)
				got, err := signatureHeader(secrets, v.ID, ts, []byte(v.Body))
				if err != nil {
					t.Fatal(err)
				}
				if got != v.Signature {
					t.Fatalf("signature header = %s, want %s", got, v.Signature)
				}
				h := http.Header{}
				h.Set("webhook-id", v.ID)
				h.Set("webhook-timestamp", strconv.FormatInt(v.Timestamp, 10))
				h.Set("webhook-signature", got)
				for _, s := range secrets {
					if strings.HasPrefix(s, SigningKeyPrefix) {
						if k := verifyV1aPlain(t, mustPublic(t, v.PublicKey), h, []byte(v.Body)); k != 1 {
							t.Errorf("%d v1a entries verify with ed25519, want 1", k)
						}
						if err := VerifyV1a(v.PublicKey, v.ID, ts, []byte(v.Body), got); err != nil {
							t.Errorf("VerifyV1a: %v", err)
						}
						continue
					}
					wh, err := standardwebhooks.NewWebhook(s)
					if err != nil {
						t.Fatal(err)
					}
					if err := wh.VerifyIgnoringTimestamp([]byte(v.Body), h); err != nil {
						t.Errorf("reference v1 Verify: %v", err)
					}
				}
			})
		}
	}
	if n < 5 {
		t.Fatalf("only %d vectors in testdata/signature", n)
	}
}

func TestV1aKeyVectors(t *testing.T) {
	t.Parallel()
	for _, k := range loadVectorFiles(t)["v1a.json"].Keys {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			pub, err := PublicKeyOf(k.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if pub != k.PublicKey {
				t.Errorf("PublicKeyOf = %s, want %s", pub, k.PublicKey)
			}
			if k.SeedHex != "" {
				// The whsk_ form is the 64-byte RFC 8032 private key:
				// seed followed by public key.
				seed, err := hex.DecodeString(k.SeedHex)
				if err != nil {
					t.Fatal(err)
				}
				want := SigningKeyPrefix + base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(seed))
				if k.Secret != want {
					t.Errorf("secret = %s, want %s (from seed)", k.Secret, want)
				}
			}
			if k.PublicHex != "" {
				if got := hex.EncodeToString(mustPublic(t, k.PublicKey)); got != k.PublicHex {
					t.Errorf("public key bytes = %s, want the published %s", got, k.PublicHex)
				}
			}
		})
	}
}

func TestNewSigningKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	body := []byte(`{"type":"order.created"}`)
	ts := time.Now()
	for range 20 {
		secret, public := testSigningKey(t)
		priv, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SigningKeyPrefix))
		if !strings.HasPrefix(secret, SigningKeyPrefix) || err != nil || len(priv) != ed25519.PrivateKeySize {
			t.Fatalf("secret %q: %d bytes (%v), want whsk_ + 64 bytes", secret, len(priv), err)
		}
		if !strings.HasPrefix(public, PublicKeyPrefix) {
			t.Fatalf("public key %q lacks %q", public, PublicKeyPrefix)
		}
		if got, err := PublicKeyOf(secret); err != nil || got != public {
			t.Fatalf("PublicKeyOf = %q, %v; want %q", got, err, public)
		}
		if seen[secret] {
			t.Fatalf("key %q repeated", secret)
		}
		seen[secret] = true
		sig, err := SignV1a(secret, "msg_1", ts, body)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyV1a(public, "msg_1", ts, body, sig); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	}
}

func TestSignV1aInvalidSecret(t *testing.T) {
	t.Parallel()
	b64 := base64.StdEncoding.EncodeToString
	seed := make([]byte, ed25519.SeedSize)
	good := ed25519.NewKeyFromSeed(seed)
	// Svix's own test for a key whose public half was altered.
	svixBad := "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlaaaaaaaaaaAJ6p9lMicMFs6Kvg=="
	tests := []struct {
		name, secret, rule string
	}{
		{"empty", "", "starts with"},
		{"prefix only", "whsk_", "empty"},
		{"no prefix", b64(good), "starts with"},
		{"not base64", "whsk_not*base64!", "not base64"},
		{"bad padding", "whsk_" + strings.TrimRight(b64(good), "="), "not base64"},
		{"bare seed", "whsk_" + b64(seed), "32-byte seed"},
		{"short", "whsk_" + b64(good[:63]), "63 bytes"},
		{"long", "whsk_" + b64(append(good[:64:64], 0)), "65 bytes"},
		{"public half altered", svixBad, "does not match"},
		{"public key", "whpk_" + b64(good[32:]), "public key"},
		{"hmac secret", "whsec_plJ3nmyCDGBKInavdOK15jsl", "HMAC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := SignV1a(tt.secret, "msg_1", time.Unix(1, 0), []byte("{}"))
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("SignV1a = %v, want ErrInvalidSecret", err)
			}
			t.Logf("Err: %v", err)
			if !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("error %q does not name %q", err, tt.rule)
			}
			if _, rest, ok := strings.Cut(tt.secret, "_"); ok && len(rest) > 4 && strings.Contains(err.Error(), rest) {
				t.Errorf("error %q echoes the key", err)
			}
			if _, err := PublicKeyOf(tt.secret); !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("PublicKeyOf = %v, want ErrInvalidSecret", err)
			}
		})
	}
}

// Sign is v1-only; handing it another kind of key must say so instead of
// failing on base64.
func TestSignRejectsV1aKeys(t *testing.T) {
	t.Parallel()
	secret, public := testSigningKey(t)
	for _, tt := range []struct{ key, rule string }{
		{secret, "SignV1a"},
		{public, "public key"},
	} {
		_, err := Sign(tt.key, "msg_1", time.Unix(1, 0), nil)
		if !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), tt.rule) {
			t.Errorf("Sign(%.10s...) = %v, want ErrInvalidSecret naming %q", tt.key, err, tt.rule)
		}
	}
}

func TestVerifyV1a(t *testing.T) {
	t.Parallel()
	secret, public := testSigningKey(t)
	_, otherPublic := testSigningKey(t)
	id, ts, body := "msg_2Yb7l0Q9mBXJ3wq6r5p1KzVhT0e", time.Unix(1731705121, 0), []byte(`{"a":1}`)
	sig, err := SignV1a(secret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := Sign(testSecret(t), id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	// Swap one base64 character: still decodes, no longer the signature.
	flipped := []byte(sig)
	if flipped[10] == 'A' {
		flipped[10] = 'B'
	} else {
		flipped[10] = 'A'
	}
	tests := []struct {
		name    string
		public  string
		id      string
		ts      time.Time
		body    string
		header  string
		wantErr bool
	}{
		{"alone", public, id, ts, string(body), sig, false},
		{"after v1 during rotation", public, id, ts, string(body), v1 + " " + sig, false},
		{"after another key's entry", public, id, ts, string(body), string(flipped) + " " + sig, false},
		{"extra whitespace", public, id, ts, string(body), "  " + v1 + "   " + sig + " ", false},
		{"after malformed entries", public, id, ts, string(body), "garbage v1a, v1a,!!! v1a,AAAA v2," + sig[4:] + " " + sig, false},
		{"tampered body", public, id, ts, `{"a":2}`, sig, true},
		{"other id", public, "msg_other", ts, string(body), sig, true},
		{"other timestamp", public, id, ts.Add(time.Second), string(body), sig, true},
		{"other key", otherPublic, id, ts, string(body), sig, true},
		{"flipped signature", public, id, ts, string(body), string(flipped), true},
		{"only v1", public, id, ts, string(body), v1, true},
		{"empty header", public, id, ts, string(body), "", true},
		{"version is case-sensitive", public, id, ts, string(body), "V1A," + sig[4:], true},
		{"signature as v1", public, id, ts, string(body), "v1," + sig[4:], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := VerifyV1a(tt.public, tt.id, tt.ts, []byte(tt.body), tt.header)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("VerifyV1a = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrNoMatchingSignature) {
				t.Fatalf("VerifyV1a = %v, want ErrNoMatchingSignature", err)
			}
		})
	}
}

func TestVerifyV1aEntryCap(t *testing.T) {
	t.Parallel()
	secret, public := testSigningKey(t)
	sig, err := SignV1a(secret, "msg_1", time.Unix(1, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := testSigningKey(t)
	junk, err := SignV1a(other, "msg_1", time.Unix(1, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Repeat(junk+" ", maxV1aEntries-1) + sig
	if err := VerifyV1a(public, "msg_1", time.Unix(1, 0), nil, header); err != nil {
		t.Errorf("match at entry %d: %v", maxV1aEntries, err)
	}
	header = strings.Repeat(junk+" ", maxV1aEntries) + sig
	if err := VerifyV1a(public, "msg_1", time.Unix(1, 0), nil, header); !errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("match past the cap = %v, want ErrNoMatchingSignature", err)
	}
}

func TestVerifyV1aInvalidPublicKey(t *testing.T) {
	t.Parallel()
	secret, public := testSigningKey(t)
	raw := strings.TrimPrefix(public, PublicKeyPrefix)
	tests := []struct {
		name, key, rule string
		echoes          bool // the key is a secret and must not be echoed
	}{
		{"empty", "", "starts with", false},
		{"no prefix", raw, "starts with", false},
		{"not base64", "whpk_not*base64!", "not base64", false},
		{"short", "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 31)), "31 bytes", false},
		{"signing key", secret, "signing secret", true},
		{"hmac secret", "whsec_plJ3nmyCDGBKInavdOK15jsl", "signing secret", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := VerifyV1a(tt.key, "msg_1", time.Unix(1, 0), nil, "v1a,AAAA")
			if !errors.Is(err, ErrInvalidPublicKey) || !strings.Contains(err.Error(), tt.rule) {
				t.Fatalf("VerifyV1a = %v, want ErrInvalidPublicKey naming %q", err, tt.rule)
			}
			if _, rest, _ := strings.Cut(tt.key, "_"); tt.echoes && strings.Contains(err.Error(), rest) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}

func TestV1aKeyCached(t *testing.T) {
	t.Parallel()
	secret, _ := testSigningKey(t)
	first, err := v1aKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v1aKeys.m.Load(secret); !ok {
		t.Fatal("parsed key not cached")
	}
	again, err := v1aKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	if &first[0] != &again[0] {
		t.Error("second use parsed the key again instead of using the cache")
	}
	// Keys that fail to parse are not cached, so a bad one cannot crowd
	// out good ones.
	if _, err := v1aKey("whsk_AAAA"); err == nil {
		t.Fatal("bad key parsed")
	}
	if _, ok := v1aKeys.m.Load("whsk_AAAA"); ok {
		t.Error("a bad key was cached")
	}
}

// TestSendV1aReceiverVerifies sends a real request signed with a whsk_ key
// and checks it at the receiver with nothing but crypto/ed25519.
func TestSendV1aReceiverVerifies(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	secret, public := testSigningKey(t)

	m := testMessage(t, rc.URL)
	m.Secrets = []string{secret}
	m.Timestamp = time.Now().Truncate(time.Second)
	if res := s.Send(t.Context(), m); !res.Success() {
		t.Fatalf("Send = %+v", res)
	}
	got := rc.last(t)
	sig := got.header.Get("webhook-signature")
	if !strings.HasPrefix(sig, "v1a,") || strings.Contains(sig, " ") {
		t.Fatalf("webhook-signature = %q, want one v1a entry", sig)
	}
	if n := verifyV1aPlain(t, mustPublic(t, public), got.header, got.body); n != 1 {
		t.Fatalf("ed25519.Verify accepted %d entries, want 1 (headers %v)", n, got.header)
	}
	tampered := append([]byte(nil), got.body...)
	tampered[0] ^= 1
	if n := verifyV1aPlain(t, mustPublic(t, public), got.header, tampered); n != 0 {
		t.Fatal("a tampered body verified")
	}
}

// TestSendRotationV1AndV1a: an endpoint moving from HMAC to ed25519 keeps
// both secrets live for a while; each receiver setup must verify on its own.
func TestSendRotationV1AndV1a(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	hmacSecret := testSecret(t)
	edSecret, edPublic := testSigningKey(t)

	m := testMessage(t, rc.URL)
	m.Secrets = []string{hmacSecret, edSecret}
	if res := s.Send(t.Context(), m); !res.Success() {
		t.Fatalf("Send = %+v", res)
	}
	got := rc.last(t)
	entries := strings.Split(got.header.Get("webhook-signature"), " ")
	if len(entries) != 2 || !strings.HasPrefix(entries[0], "v1,") || !strings.HasPrefix(entries[1], "v1a,") {
		t.Fatalf("webhook-signature = %q, want a v1 then a v1a entry", got.header.Get("webhook-signature"))
	}

	// A receiver still on the HMAC secret, with the reference library,
	// which skips the v1a entry.
	wh, err := standardwebhooks.NewWebhook(hmacSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.body, got.header); err != nil {
		t.Errorf("v1 receiver: %v", err)
	}
	// A receiver already on the public key, with plain ed25519.
	if n := verifyV1aPlain(t, mustPublic(t, edPublic), got.header, got.body); n != 1 {
		t.Errorf("v1a receiver: %d entries verify, want 1", n)
	}
	// Each entry verifies alone, too: neither depends on the other.
	only := func(entry string) http.Header {
		h := got.header.Clone()
		h.Set("webhook-signature", entry)
		return h
	}
	if err := wh.Verify(got.body, only(entries[0])); err != nil {
		t.Errorf("v1 entry alone: %v", err)
	}
	if n := verifyV1aPlain(t, mustPublic(t, edPublic), only(entries[1]), got.body); n != 1 {
		t.Errorf("v1a entry alone does not verify")
	}
	ts, err := strconv.ParseInt(got.header.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyV1a(edPublic, got.header.Get("webhook-id"), time.Unix(ts, 0), got.body, got.header.Get("webhook-signature")); err != nil {
		t.Errorf("VerifyV1a: %v", err)
	}
}

func TestSendInvalidV1aSecret(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	_, public := testSigningKey(t)
	for _, bad := range []string{public, "whsk_AAAA"} {
		m := testMessage(t, rc.URL)
		m.Secrets = append(m.Secrets, bad)
		res := s.Send(t.Context(), m)
		if !errors.Is(res.Err, ErrInvalidSecret) || res.StatusCode != 0 {
			t.Errorf("Send with %.10s... = %+v, want ErrInvalidSecret", bad, res)
		}
	}
	if n := rc.hits.Load(); n != 0 {
		t.Errorf("receiver got %d badly signed messages", n)
	}
}

func BenchmarkSignV1a(b *testing.B) {
	secret, _ := testSigningKey(b)
	body := []byte(strings.Repeat("x", 1024))
	ts := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignV1a(secret, "msg_2Yb7l0Q9mBXJ3wq6r5p1KzVhT0e", ts, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyV1a(b *testing.B) {
	secret, public := testSigningKey(b)
	body := []byte(strings.Repeat("x", 1024))
	ts := time.Now()
	sig, err := SignV1a(secret, "msg_2Yb7l0Q9mBXJ3wq6r5p1KzVhT0e", ts, body)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyV1a(public, "msg_2Yb7l0Q9mBXJ3wq6r5p1KzVhT0e", ts, body, sig); err != nil {
			b.Fatal(err)
		}
	}
}
