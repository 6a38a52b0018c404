package webhook

import (
	"encoding/base64"
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

type signatureVector struct {
	Name      string `json:"name"`
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

func loadSignatureVectors(t *testing.T) []signatureVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "signature", "standard-webhooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []signatureVector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors in testdata")
	}
	return file.Vectors
}

func TestSignPublishedVector(t *testing.T) {
	t.Parallel()
	for _, v := range loadSignatureVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			ts := time.Unix(v.Timestamp, 0)
			got, err := Sign(v.Secret, v.ID, ts, []byte(v.Body))
			if err != nil {
				t.Fatal(err)
			}
			if got != v.Signature {
				t.Fatalf("Sign = %s, want %s", got, v.Signature)
			}
			// The same bytes must verify with the reference library, as a
			// receiver would do it.
			wh, err := standardwebhooks.NewWebhook(v.Secret)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set("webhook-id", v.ID)
			h.Set("webhook-timestamp", strconv.FormatInt(v.Timestamp, 10))
			h.Set("webhook-signature", got)
			if err := wh.VerifyIgnoringTimestamp([]byte(v.Body), h); err != nil {
				t.Fatalf("reference Verify: %v", err)
			}
		})
	}
}

func TestSignatureHeaderRotation(t *testing.T) {
	t.Parallel()
	v := loadSignatureVectors(t)[0]
	other, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(v.Timestamp, 0)
	got, err := signatureHeader([]string{v.Secret, other}, v.ID, ts, []byte(v.Body))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Sign(other, v.ID, ts, []byte(v.Body))
	if err != nil {
		t.Fatal(err)
	}
	if want := v.Signature + " " + second; got != want {
		t.Fatalf("signatureHeader = %q, want %q", got, want)
	}
}

func TestSignInvalidSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, secret, rule string
	}{
		{"empty", "", "empty"},
		{"prefix only", "whsec_", "empty"},
		{"not base64", "whsec_not*base64!", "not base64"},
		{"bad padding", "whsec_abc", "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Sign(tt.secret, "msg_1", time.Unix(1, 0), []byte("{}"))
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("Sign(%q) = %v, want ErrInvalidSecret", tt.secret, err)
			}
			if !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("error %q does not name %q", err, tt.rule)
			}
			if rest := strings.TrimPrefix(tt.secret, SecretPrefix); rest != "" && strings.Contains(err.Error(), rest) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
	if _, err := signatureHeader(nil, "msg_1", time.Unix(1, 0), nil); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("signatureHeader(no secrets) = %v, want ErrInvalidSecret", err)
	}
}

func TestSignBareBase64Secret(t *testing.T) {
	t.Parallel()
	v := loadSignatureVectors(t)[0]
	got, err := Sign(strings.TrimPrefix(v.Secret, SecretPrefix), v.ID, time.Unix(v.Timestamp, 0), []byte(v.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got != v.Signature {
		t.Fatalf("Sign without prefix = %s, want %s", got, v.Signature)
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		s, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(s, SecretPrefix)
		if !ok {
			t.Fatalf("secret %q lacks %q", s, SecretPrefix)
		}
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(key) != 24 {
			t.Fatalf("secret %q decodes to %d bytes (%v), want 24", s, len(key), err)
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
		if _, err := Sign(s, "msg_1", time.Now(), []byte("{}")); err != nil {
			t.Fatalf("Sign with new secret: %v", err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	secret, err := NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(strings.Repeat("x", 1024))
	ts := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(secret, "msg_2Yb7l0Q9mBXJ3wq6r5p1KzVhT0e", ts, body); err != nil {
			b.Fatal(err)
		}
	}
}
