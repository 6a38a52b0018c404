package outbound

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func TestCheckClientCert(t *testing.T) {
	t.Parallel()
	ca := heraldtest.NewCA(t, "partner CA")
	now := time.Now()
	good, goodKey := ca.ClientCert(t, "herald-client")
	_, otherKey := ca.ClientCert(t, "other")
	noEKU, noEKUKey := ca.Issue(t, heraldtest.CertOptions{CommonName: "no-eku"})
	server, serverKey := ca.Issue(t, heraldtest.CertOptions{CommonName: "server-only",
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	expired, expiredKey := ca.Issue(t, heraldtest.CertOptions{CommonName: "old",
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	future, futureKey := ca.Issue(t, heraldtest.CertOptions{CommonName: "future",
		NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)})
	chain := append(append([]byte{}, good...), ca.PEM...)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})

	tests := []struct {
		name      string
		cert, key []byte
		field     string // "" when valid
		rule      string
	}{
		{"valid", good, goodKey, "", ""},
		{"valid with intermediate", chain, goodKey, "", ""},
		{"no extended key usage", noEKU, noEKUKey, "", ""},
		{"empty certificate", nil, goodKey, "certificate", "required"},
		{"certificate not PEM", []byte("not a certificate"), goodKey, "certificate", "pem"},
		{"key in certificate field", goodKey, goodKey, "certificate", "pem"},
		{"garbage certificate block", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), goodKey, "certificate", "format"},
		{"expired", expired, expiredKey, "certificate", "expired"},
		{"not yet valid", future, futureKey, "certificate", "not-yet-valid"},
		{"server authentication only", server, serverKey, "certificate", "key-usage"},
		{"empty key", good, nil, "private_key", "required"},
		{"key not PEM", good, []byte("secret"), "private_key", "pem"},
		{"encrypted key", good, encrypted, "private_key", "encrypted"},
		{"garbage key block", good, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}), "private_key", "format"},
		{"mismatched key", good, otherKey, "private_key", "mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info, err := CheckClientCert(tt.cert, tt.key, now)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("CheckClientCert: %v", err)
				}
				if !strings.Contains(info.Subject, "CN=") || !strings.Contains(info.Issuer, "CN=partner CA") || info.NotAfter.Before(now) {
					t.Fatalf("info = %+v", info)
				}
				return
			}
			var ce *ClientCertError
			if !errors.As(err, &ce) || ce.Field != tt.field || ce.Rule != tt.rule {
				t.Fatalf("err = %#v, want field %s rule %s", err, tt.field, tt.rule)
			}
			if strings.Contains(err.Error(), string(goodKey[40:60])) || strings.Contains(err.Error(), "secret") {
				t.Fatalf("error quotes PEM: %v", err)
			}
		})
	}
}

func TestDescribeClientCert(t *testing.T) {
	t.Parallel()
	ca := heraldtest.NewCA(t, "partner CA")
	cert, _ := ca.ClientCert(t, "herald-client")
	info, err := DescribeClientCert(cert)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(cert)
	sum := sha256.Sum256(block.Bytes)
	if info.FingerprintSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("fingerprint %s, want %x", info.FingerprintSHA256, sum)
	}
	if info.Subject != "CN=herald-client,O=Herald tests" {
		t.Errorf("subject %q", info.Subject)
	}
}
