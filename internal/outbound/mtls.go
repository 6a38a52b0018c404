package outbound

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// Limits on a mutual-TLS setting: generous for real chains and keys
// (a 4096-bit RSA key is about 3.3 KB of PEM), small enough to keep rows
// and the per-attempt decryption cheap.
const (
	MaxClientCertBytes = 64 << 10
	MaxClientKeyBytes  = 16 << 10
	maxChainLength     = 10
)

// ClientCertInfo describes a client certificate without its key: what the
// endpoint shows its owner.
type ClientCertInfo struct {
	Subject string
	Issuer  string
	// NotAfter is when the leaf certificate expires.
	NotAfter time.Time
	// FingerprintSHA256 is the lowercase hex SHA-256 of the leaf's DER
	// encoding (what `openssl x509 -fingerprint -sha256` prints, without
	// the colons).
	FingerprintSHA256 string
}

// ClientCertError says which half of a mutual-TLS setting is unusable and
// why. It never quotes the PEM it was given.
type ClientCertError struct {
	// Field is "certificate" or "private_key".
	Field string
	// Rule is a short machine token: "required", "pem", "format",
	// "expired", "not-yet-valid", "key-usage", "encrypted", "mismatch",
	// "max-size".
	Rule   string
	Detail string
}

func (e *ClientCertError) Error() string {
	return fmt.Sprintf("mtls %s: %s", e.Field, e.Detail)
}

func certErr(field, rule, format string, args ...any) *ClientCertError {
	return &ClientCertError{Field: field, Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// CheckClientCert validates a client certificate chain (PEM, leaf first)
// and its private key (PEM: PKCS #8, PKCS #1 or SEC 1) at time now: both
// parse, the key belongs to the leaf, the leaf is valid now, and when it
// names extended key usages, client authentication is one of them. Errors
// are *ClientCertError. It returns the leaf's description.
func CheckClientCert(certPEM, keyPEM []byte, now time.Time) (ClientCertInfo, error) {
	chain, err := parseChain(certPEM)
	if err != nil {
		return ClientCertInfo{}, err
	}
	leaf := chain[0]
	if now.After(leaf.NotAfter) {
		return ClientCertInfo{}, certErr("certificate", "expired", "the certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return ClientCertInfo{}, certErr("certificate", "not-yet-valid", "the certificate is valid only from %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if !clientAuthUsable(leaf) {
		return ClientCertInfo{}, certErr("certificate", "key-usage",
			"the certificate's extended key usage does not include client authentication (TLS Web Client Authentication)")
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return ClientCertInfo{}, err
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return ClientCertInfo{}, certErr("private_key", "mismatch", "the private key does not belong to the (first) certificate")
	}
	// The TLS stack's own check, so what passes here also loads when sending.
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return ClientCertInfo{}, certErr("private_key", "format", "the certificate and key cannot be used for TLS: %s", tlsReason(err))
	}
	return describe(leaf), nil
}

// DescribeClientCert describes the leaf of a PEM chain that passed
// CheckClientCert.
func DescribeClientCert(certPEM []byte) (ClientCertInfo, error) {
	chain, err := parseChain(certPEM)
	if err != nil {
		return ClientCertInfo{}, err
	}
	return describe(chain[0]), nil
}

func describe(leaf *x509.Certificate) ClientCertInfo {
	sum := sha256.Sum256(leaf.Raw)
	return ClientCertInfo{Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), NotAfter: leaf.NotAfter.UTC(),
		FingerprintSHA256: hex.EncodeToString(sum[:])}
}

// parseChain reads every PEM block of a certificate chain; each must be a
// CERTIFICATE.
func parseChain(certPEM []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(certPEM)) == 0 {
		return nil, certErr("certificate", "required", "give the client certificate in PEM (-----BEGIN CERTIFICATE-----), leaf first, then any intermediates")
	}
	if len(certPEM) > MaxClientCertBytes {
		return nil, certErr("certificate", "max-size", "must be at most %d bytes of PEM", MaxClientCertBytes)
	}
	var chain []*x509.Certificate
	rest := certPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, certErr("certificate", "pem", "holds a %q PEM block; only CERTIFICATE blocks belong here (the key goes in private_key)", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, certErr("certificate", "format", "certificate %d of the chain is not a valid X.509 certificate", len(chain)+1)
		}
		chain = append(chain, c)
		if len(chain) > maxChainLength {
			return nil, certErr("certificate", "max-size", "a chain of at most %d certificates", maxChainLength)
		}
	}
	if len(chain) == 0 {
		return nil, certErr("certificate", "pem", "no PEM certificate found; expected -----BEGIN CERTIFICATE-----")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, certErr("certificate", "pem", "text after the last PEM block is not a certificate")
	}
	return chain, nil
}

// clientAuthUsable: a leaf without extended key usages may be used for
// anything; one that lists them must list client authentication (or any).
func clientAuthUsable(leaf *x509.Certificate) bool {
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// parseKey reads the first private key block of keyPEM (skipping others,
// such as the EC PARAMETERS block openssl writes before an EC key).
func parseKey(keyPEM []byte) (crypto.Signer, error) {
	if len(bytes.TrimSpace(keyPEM)) == 0 {
		return nil, certErr("private_key", "required", "give the certificate's private key in PEM (-----BEGIN PRIVATE KEY-----)")
	}
	if len(keyPEM) > MaxClientKeyBytes {
		return nil, certErr("private_key", "max-size", "must be at most %d bytes of PEM", MaxClientKeyBytes)
	}
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, certErr("private_key", "pem", "no PEM private key found; expected -----BEGIN PRIVATE KEY-----")
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, certErr("private_key", "encrypted", "the private key is encrypted; give it unencrypted (Herald stores it encrypted)")
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
			return signer(k)
		}
		if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
			return k, nil
		}
		return nil, certErr("private_key", "format", "the %s block is not a PKCS #8, PKCS #1 or SEC 1 private key", block.Type)
	}
}

func signer(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, certErr("private_key", "format", "unsupported private key type %T; use RSA, ECDSA or Ed25519", k)
}

// tlsReason is the TLS stack's complaint without its "tls: " prefix.
func tlsReason(err error) string { return strings.TrimPrefix(err.Error(), "tls: ") }
