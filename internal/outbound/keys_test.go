package outbound

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewSigningKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alg     KeyAlg
		wantAlg KeyAlg
		wantKty string
	}{
		{"", ES256, "EC"},
		{ES256, ES256, "EC"},
		{EdDSA, EdDSA, "OKP"},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			t.Parallel()
			before := time.Now().Add(-time.Second)
			k := mustKey(t, tt.alg)
			if k.Alg != tt.wantAlg {
				t.Errorf("Alg = %q, want %q", k.Alg, tt.wantAlg)
			}
			if err := k.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if k.Created.Before(before) || k.Created.After(time.Now()) || k.Created.Location() != time.UTC {
				t.Errorf("Created = %v, want now in UTC", k.Created)
			}
			if !k.NotAfter.IsZero() {
				t.Errorf("NotAfter = %v, want zero for a new key", k.NotAfter)
			}
			j, err := k.jwk()
			if err != nil {
				t.Fatal(err)
			}
			if j.Kty != tt.wantKty {
				t.Errorf("kty = %q, want %q", j.Kty, tt.wantKty)
			}
			// The id is the RFC 7638 thumbprint: 32 bytes in base64url.
			if k.ID != j.thumbprint() || len(k.ID) != 43 {
				t.Errorf("ID = %q, want the 43-character thumbprint %q", k.ID, j.thumbprint())
			}
		})
	}
	if _, err := NewSigningKey("RS256"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("NewSigningKey(RS256) error = %v, want ErrInvalidKey", err)
	}
}

func TestNewSigningKeyIDsDiffer(t *testing.T) {
	t.Parallel()
	a, b := mustKey(t, ES256), mustKey(t, ES256)
	if a.ID == b.ID {
		t.Fatal("two new keys share an id")
	}
}

// TestThumbprintRFC8037 checks the thumbprint against the worked example of
// RFC 8037 appendix A.3.
func TestThumbprintRFC8037(t *testing.T) {
	t.Parallel()
	j := jwk{Kty: "OKP", Crv: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
	if got, want := j.thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("thumbprint = %s, want %s", got, want)
	}
}

func TestSigningKeyValidate(t *testing.T) {
	t.Parallel()
	ec := mustKey(t, ES256)
	ed := mustKey(t, EdDSA)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     *SigningKey
		wantErr string // empty: valid
	}{
		{"ES256", ec, ""},
		{"EdDSA", ed, ""},
		{"opaque ES256 signer", &SigningKey{ID: "hsm-1", Alg: ES256, Private: opaqueSigner{ec.Private}}, ""},
		{"nil", nil, "nil key"},
		{"empty id", &SigningKey{Alg: ES256, Private: ec.Private}, "empty key id"},
		{"id with space", &SigningKey{ID: "a b", Alg: ES256, Private: ec.Private}, "printable ASCII"},
		{"id too long", &SigningKey{ID: strings.Repeat("k", 257), Alg: ES256, Private: ec.Private}, "printable ASCII"},
		{"no private key", &SigningKey{ID: "k", Alg: ES256}, "no private key"},
		{"ES256 with Ed25519 key", &SigningKey{ID: "k", Alg: ES256, Private: ed.Private}, "ES256 needs a P-256"},
		{"EdDSA with P-256 key", &SigningKey{ID: "k", Alg: EdDSA, Private: ec.Private}, "EdDSA needs an Ed25519"},
		{"ES256 with P-384 key", &SigningKey{ID: "k", Alg: ES256, Private: p384}, "P-384"},
		{"unknown alg", &SigningKey{ID: "k", Alg: "HS256", Private: ec.Private}, "unsupported algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.key.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate = %v, want ErrInvalidKey mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestMarshalPrivateRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range []KeyAlg{ES256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			k := mustKey(t, alg)
			k.NotAfter = k.Created.Add(time.Hour)
			data, err := k.MarshalPrivate()
			if err != nil {
				t.Fatalf("MarshalPrivate: %v", err)
			}
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			pemText, _ := doc["private_key"].(string)
			if block, _ := pem.Decode([]byte(pemText)); block == nil || block.Type != "PRIVATE KEY" {
				t.Errorf("private_key is not a PKCS#8 PEM block: %q", pemText)
			}

			got, err := UnmarshalPrivate(data)
			if err != nil {
				t.Fatalf("UnmarshalPrivate: %v", err)
			}
			if got.ID != k.ID || got.Alg != k.Alg || !got.Created.Equal(k.Created) || !got.NotAfter.Equal(k.NotAfter) {
				t.Errorf("metadata = %+v, want %+v", got, k)
			}
			type equaler interface{ Equal(crypto.PrivateKey) bool }
			if eq, ok := got.Private.(equaler); !ok || !eq.Equal(k.Private) {
				t.Error("private key differs after the round trip")
			}
		})
	}
}

func TestMarshalPrivateCurrentKeyOmitsNotAfter(t *testing.T) {
	t.Parallel()
	data, err := mustKey(t, ES256).MarshalPrivate()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("not_after")) {
		t.Errorf("current key serialised with not_after: %s", data)
	}
	k, err := UnmarshalPrivate(data)
	if err != nil {
		t.Fatal(err)
	}
	if !k.NotAfter.IsZero() {
		t.Errorf("NotAfter = %v, want zero", k.NotAfter)
	}
}

func TestMarshalPrivateRefusesUnexportableKeys(t *testing.T) {
	t.Parallel()
	ec := mustKey(t, ES256)
	tests := []struct {
		name string
		key  *SigningKey
	}{
		{"opaque signer", &SigningKey{ID: "hsm-1", Alg: ES256, Private: opaqueSigner{ec.Private}}},
		{"invalid key", &SigningKey{ID: "", Alg: ES256, Private: ec.Private}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tt.key.MarshalPrivate(); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("MarshalPrivate error = %v, want ErrInvalidKey", err)
			}
		})
	}
}

func TestUnmarshalPrivateRejects(t *testing.T) {
	t.Parallel()
	ec := mustKey(t, ES256)
	good, err := ec.MarshalPrivate()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	edit := func(change func(map[string]any)) []byte {
		d := map[string]any{}
		for k, v := range doc {
			d[k] = v
		}
		change(d)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER}))

	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"not JSON", []byte("-----BEGIN PRIVATE KEY-----"), "decode stored key"},
		{"trailing JSON", append(append([]byte{}, good...), []byte(` {}`)...), "trailing data"},
		{"unknown field", edit(func(d map[string]any) { d["notafter"] = "2030-01-01T00:00:00Z" }), "unknown field"},
		{"future version", edit(func(d map[string]any) { d["v"] = 2 }), "version 2"},
		{"missing version", edit(func(d map[string]any) { delete(d, "v") }), "version 0"},
		{"no PEM", edit(func(d map[string]any) { d["private_key"] = "not a key" }), "no PKCS#8 PEM block"},
		{"wrong PEM type", edit(func(d map[string]any) {
			d["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}))
		}), "no PKCS#8 PEM block"},
		{"two PEM blocks", edit(func(d map[string]any) { d["private_key"] = doc["private_key"].(string) + rsaPEM }), "data after its PEM block"},
		{"garbage DER", edit(func(d map[string]any) {
			d["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("nope")}))
		}), "stored key"},
		{"alg does not match key", edit(func(d map[string]any) { d["alg"] = "EdDSA" }), "EdDSA needs an Ed25519"},
		{"RSA key", edit(func(d map[string]any) { d["private_key"] = rsaPEM }), "ES256 needs a P-256"},
		{"empty kid", edit(func(d map[string]any) { d["kid"] = "" }), "empty key id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := UnmarshalPrivate(tt.data)
			if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("UnmarshalPrivate = %v, %v; want ErrInvalidKey mentioning %q", k, err, tt.wantErr)
			}
		})
	}
}

// TestUnmarshalPrivateEd25519Type pins the concrete type, since code outside
// the package may type-switch on it.
func TestUnmarshalPrivateEd25519Type(t *testing.T) {
	t.Parallel()
	data, err := mustKey(t, EdDSA).MarshalPrivate()
	if err != nil {
		t.Fatal(err)
	}
	k, err := UnmarshalPrivate(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Private.(ed25519.PrivateKey); !ok {
		t.Errorf("Private is %T, want ed25519.PrivateKey", k.Private)
	}
}
