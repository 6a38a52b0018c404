package secretbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testKey is a fixed key so failures are reproducible.
func testKey(b byte) Key {
	var k Key
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	box := New(testKey(1))
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"signing secret", []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), []byte("endpoint:ep_2a7c")},
		{"empty plaintext", []byte{}, []byte("endpoint:ep_1")},
		{"nil plaintext and AD", nil, nil},
		{"binary", bytes.Repeat([]byte{0, 0xff, 0x10}, 1000), []byte{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sealed := box.Seal(tt.plaintext, tt.ad)
			if len(sealed) != len(tt.plaintext)+Overhead {
				t.Errorf("sealed length %d, want %d", len(sealed), len(tt.plaintext)+Overhead)
			}
			if sealed[0] != 1 {
				t.Errorf("version byte %d, want 1", sealed[0])
			}
			got, err := box.Open(sealed, tt.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %x, want %x", got, tt.plaintext)
			}
		})
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	t.Parallel()
	box := New(testKey(1))
	seen := map[string]bool{}
	for range 100 {
		s := box.Seal([]byte("same"), []byte("ad"))
		nonce := string(s[1:headerLen])
		if seen[nonce] {
			t.Fatal("nonce reused")
		}
		seen[nonce] = true
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	t.Parallel()
	box := New(testKey(1))
	plaintext := []byte("whsec_secret-value")
	ad := []byte("endpoint:ep_1")
	sealed := box.Seal(plaintext, ad)

	regions := []struct {
		name       string
		start, end int
	}{
		{"version", 0, 1},
		{"nonce", 1, headerLen},
		{"ciphertext", headerLen, len(sealed) - tagSize},
		{"tag", len(sealed) - tagSize, len(sealed)},
	}
	for _, r := range regions {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			for i := r.start; i < r.end; i++ {
				for _, mask := range []byte{0x01, 0x80} {
					bad := bytes.Clone(sealed)
					bad[i] ^= mask
					if _, err := box.Open(bad, ad); !errors.Is(err, ErrDecrypt) {
						t.Fatalf("byte %d ^ %#x: err = %v, want ErrDecrypt", i, mask, err)
					}
				}
			}
		})
	}

	others := []struct {
		name   string
		sealed []byte
	}{
		{"empty", nil},
		{"header only", sealed[:headerLen]},
		{"one byte short of minimum", sealed[:Overhead-1]},
		{"truncated tag", sealed[:len(sealed)-1]},
		{"appended byte", append(bytes.Clone(sealed), 0)},
		{"future version", append([]byte{2}, sealed[1:]...)},
	}
	for _, tt := range others {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := box.Open(tt.sealed, ad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("err = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestOpenWrongADOrKey(t *testing.T) {
	t.Parallel()
	box := New(testKey(1))
	sealed := box.Seal([]byte("secret"), []byte("endpoint:ep_1"))
	tests := []struct {
		name string
		box  *Box
		ad   []byte
	}{
		{"other row", box, []byte("endpoint:ep_2")},
		{"missing AD", box, nil},
		{"AD prefix", box, []byte("endpoint:ep_")},
		{"wrong key", New(testKey(2)), []byte("endpoint:ep_1")},
		{"key differing in one bit", New(func() Key { k := testKey(1); k[31] ^= 1; return k }()), []byte("endpoint:ep_1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.box.Open(sealed, tt.ad)
			if !errors.Is(err, ErrDecrypt) || got != nil {
				t.Fatalf("Open = %q, %v; want nil, ErrDecrypt", got, err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	want := testKey(7)
	raw := want[:]
	tests := []struct {
		name    string
		in      string
		wantErr string // "" = must parse to want
	}{
		{"std padded", base64.StdEncoding.EncodeToString(raw), ""},
		{"std unpadded", base64.RawStdEncoding.EncodeToString(raw), ""},
		{"url padded", base64.URLEncoding.EncodeToString(raw), ""},
		{"url unpadded", base64.RawURLEncoding.EncodeToString(raw), ""},
		{"hex lower", hex.EncodeToString(raw), ""},
		{"hex upper", strings.ToUpper(hex.EncodeToString(raw)), ""},
		{"surrounding whitespace", "  " + base64.StdEncoding.EncodeToString(raw) + "\n", ""},
		{"empty", "", "expected base64 of 32 bytes"},
		{"garbage", "not a key at all!", "or 64 hex characters"},
		{"31 bytes base64", base64.StdEncoding.EncodeToString(raw[:31]), "decoded 31 bytes"},
		{"33 bytes base64", base64.StdEncoding.EncodeToString(append(bytes.Clone(raw), 1)), "decoded 33 bytes"},
		{"62 hex chars", hex.EncodeToString(raw[:31]), "expected"},
		{"66 hex chars", hex.EncodeToString(append(bytes.Clone(raw), 1)), "expected"},
		{"64 chars neither hex nor 32-byte base64", strings.Repeat("g", 64), "decoded 48 bytes"},
		{"bad padding", base64.RawStdEncoding.EncodeToString(raw) + "==", "expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKey(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKey: %v", err)
				}
				if got != want {
					t.Fatal("ParseKey returned a different key")
				}
				return
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("err = %v, want ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if tt.in != "" && len(tt.in) > 8 && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
				t.Errorf("error echoes the key material: %q", err)
			}
		})
	}
}

func TestKeyIsRedacted(t *testing.T) {
	t.Parallel()
	k := testKey(9)
	enc := k.Encode()
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, enc) || strings.Contains(s, hex.EncodeToString(k[:])) || !strings.Contains(s, "REDACTED") {
			t.Errorf("formatted key not redacted: %q", s)
		}
	}
	if back, err := ParseKey(enc); err != nil || back != k {
		t.Errorf("Encode does not round-trip through ParseKey: %v", err)
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	a, b := GenerateKey(), GenerateKey()
	if a == b || a == (Key{}) {
		t.Error("GenerateKey returned repeated or zero keys")
	}
}

func BenchmarkSeal(b *testing.B) {
	box := New(testKey(1))
	pt := []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	ad := []byte("endpoint:ep_2a7c")
	b.ReportAllocs()
	for b.Loop() {
		_ = box.Seal(pt, ad)
	}
}

func BenchmarkOpen(b *testing.B) {
	box := New(testKey(1))
	ad := []byte("endpoint:ep_2a7c")
	sealed := box.Seal([]byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), ad)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := box.Open(sealed, ad); err != nil {
			b.Fatal(err)
		}
	}
}
