package app_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// withTLSCAFile makes Herald trust the CA in a PEM file (HERALD_TLS_CA_FILE)
// for receivers' server certificates.
func withTLSCAFile(path string) option {
	return func(c *app.Config) { c.TLSCAFile = path }
}

// mtlsReceiver is a loopback HTTPS receiver requiring a client certificate
// of clientCA; it records the subject of each delivery's certificate.
type mtlsReceiver struct {
	url      string
	serverCA *heraldtest.CA
	mu       sync.Mutex
	subjects []string
}

func newMTLSReceiver(t *testing.T, clientCA *heraldtest.CA) *mtlsReceiver {
	t.Helper()
	rc := &mtlsReceiver{serverCA: heraldtest.NewCA(t, "receiver CA")}
	srv := rc.serverCA.NewMTLSServer(t, clientCA, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			rc.mu.Lock()
			rc.subjects = append(rc.subjects, r.TLS.PeerCertificates[0].Subject.CommonName)
			rc.mu.Unlock()
		}
		w.Header().Set("WebHook-Allowed-Origin", "*")
		w.WriteHeader(http.StatusNoContent)
	}))
	rc.url = srv.URL + "/hook"
	return rc
}

func (rc *mtlsReceiver) seen() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.subjects...)
}

// caFile writes a CA bundle for HERALD_TLS_CA_FILE.
func caFile(t *testing.T, ca *heraldtest.CA) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// noKey fails the test when an API answer carries any part of the private
// key.
func noKey(t *testing.T, what string, r response, keyPEM []byte) {
	t.Helper()
	for line := range strings.SplitSeq(string(keyPEM), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") && bytes.Contains(r.body, []byte(line[:16])) {
			t.Fatalf("%s: answer carries private key material: %s", what, r.body)
		}
	}
}

// TestEndpointMTLS: an endpoint with a client certificate gets its
// deliveries over mutual TLS (the receiver sees the certificate), the key
// never appears in an answer, and removing the certificate makes the
// receiver refuse the handshake.
func TestEndpointMTLS(t *testing.T) {
	t.Parallel()
	clientCA := heraldtest.NewCA(t, "partner client CA")
	rc := newMTLSReceiver(t, clientCA)
	e := setup(t, withTLSCAFile(caFile(t, rc.serverCA)), withSchedule("50ms"))
	w := e.world()
	certPEM, keyPEM := clientCA.ClientCert(t, "herald-at-partner")

	created := e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.url, "types": []string{w.typ},
		"mtls": map[string]any{"certificate": string(certPEM), "private_key": string(keyPEM)},
	})
	noKey(t, "create", created, keyPEM)
	ep := e.must(201, created)
	id := ep["id"].(string)
	m, _ := ep["mtls"].(map[string]any)
	if m == nil || m["subject"] != "CN=herald-at-partner,O=Herald tests" || !strings.Contains(m["issuer"].(string), "partner client CA") ||
		len(m["fingerprint_sha256"].(string)) != 64 || m["not_after"] == nil {
		t.Fatalf("mtls in the answer = %v", ep["mtls"])
	}

	e.must(202, e.send(w.producer, orderEvent("mtls-1", 1)))
	eventually(t, 10*time.Second, "delivery over mutual TLS", func() bool { return len(rc.seen()) == 1 })
	if got := rc.seen(); got[0] != "herald-at-partner" {
		t.Fatalf("receiver saw client certificate %q", got[0])
	}

	got := e.do(w.consumer, "GET", "/v1/endpoints/"+id, nil)
	noKey(t, "get", got, keyPEM)
	if e.must(200, got)["mtls"] == nil {
		t.Fatal("GET lost the mtls description")
	}
	list := e.do(w.consumer, "GET", "/v1/endpoints", nil)
	noKey(t, "list", list, keyPEM)
	e.must(200, list)
	patched := e.do(w.consumer, "PATCH", "/v1/endpoints/"+id, map[string]any{"description": "renamed"})
	noKey(t, "patch", patched, keyPEM)
	if e.must(200, patched)["mtls"] == nil {
		t.Fatal("PATCH of another field dropped the certificate")
	}
	// A renewed certificate for the same key may be sent alone.
	renewed := e.do(w.consumer, "PATCH", "/v1/endpoints/"+id, map[string]any{
		"mtls": map[string]any{"certificate": string(certPEM)}})
	noKey(t, "patch certificate", renewed, keyPEM)
	e.must(200, renewed)

	// null removes it: the receiver refuses the handshake, and the attempt
	// records why.
	removed := e.must(200, e.do(w.consumer, "PATCH", "/v1/endpoints/"+id, map[string]any{"mtls": nil}))
	if _, ok := removed["mtls"]; ok {
		t.Fatalf("mtls still shown after removal: %v", removed["mtls"])
	}
	e.must(202, e.send(w.producer, orderEvent("mtls-2", 1)))
	eventually(t, 10*time.Second, "failed attempt without a certificate", func() bool {
		ds := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+id+"/deliveries", nil))["data"].([]any)
		for _, d := range ds {
			for _, a := range d.(map[string]any)["attempt_log"].([]any) {
				if errText, _ := a.(map[string]any)["error"].(string); strings.Contains(errText, "certificate") {
					return true
				}
			}
		}
		return false
	})
	if n := len(rc.seen()); n != 1 {
		t.Fatalf("receiver handled %d deliveries, want 1", n)
	}
}

// TestEndpointMTLSHandshake: a receiver requiring client certificates can
// consent to the verification handshake, which presents the certificate.
func TestEndpointMTLSHandshake(t *testing.T) {
	t.Parallel()
	clientCA := heraldtest.NewCA(t, "partner client CA")
	rc := newMTLSReceiver(t, clientCA)
	e := setup(t, withTLSCAFile(caFile(t, rc.serverCA)), func(c *app.Config) { c.VerifyEndpoints = true })
	w := e.world()
	certPEM, keyPEM := clientCA.ClientCert(t, "herald-at-partner")
	id := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.url, "types": []string{w.typ},
		"mtls": map[string]any{"certificate": string(certPEM), "private_key": string(keyPEM)},
	}))["id"].(string)
	eventually(t, 15*time.Second, "endpoint verified", func() bool {
		return e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+id, nil))["status"] == "active"
	})
}

// TestEndpointMTLSValidation: unusable certificates and keys are refused
// with a problem naming the field, and nothing is stored.
func TestEndpointMTLSValidation(t *testing.T) {
	t.Parallel()
	ca := heraldtest.NewCA(t, "partner client CA")
	e := setup(t)
	w := e.world()
	cert, key := ca.ClientCert(t, "ok")
	_, otherKey := ca.ClientCert(t, "other")
	expired, expiredKey := ca.Issue(t, heraldtest.CertOptions{CommonName: "old",
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	serverOnly, serverKey := ca.Issue(t, heraldtest.CertOptions{CommonName: "server",
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	const httpsURL = "https://127.0.0.1:9/hook"

	tests := []struct {
		name   string
		url    string
		mtls   any
		status int
		field  string
		rule   string
	}{
		{"bad certificate PEM", httpsURL, map[string]any{"certificate": "-----BEGIN CERTIFICATE-----\nnope\n", "private_key": string(key)}, 422, "mtls.certificate", "pem"},
		{"bad key PEM", httpsURL, map[string]any{"certificate": string(cert), "private_key": "nope"}, 422, "mtls.private_key", "pem"},
		{"mismatched key", httpsURL, map[string]any{"certificate": string(cert), "private_key": string(otherKey)}, 422, "mtls.private_key", "mismatch"},
		{"expired certificate", httpsURL, map[string]any{"certificate": string(expired), "private_key": string(expiredKey)}, 422, "mtls.certificate", "expired"},
		{"server-only certificate", httpsURL, map[string]any{"certificate": string(serverOnly), "private_key": string(serverKey)}, 422, "mtls.certificate", "key-usage"},
		{"missing key", httpsURL, map[string]any{"certificate": string(cert)}, 422, "mtls.private_key", "required"},
		{"not an object", httpsURL, "pem", 422, "mtls", "type"},
		{"plain http URL", "http://127.0.0.1:9/hook", map[string]any{"certificate": string(cert), "private_key": string(key)}, 422, "mtls", "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{"url": tt.url, "types": []string{w.typ}, "mtls": tt.mtls})
			if r.status != tt.status || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d (%s), want %d problem: %s", r.status, r.header.Get("Content-Type"), tt.status, r.body)
			}
			noKey(t, tt.name, r, key)
			f := r.json(t)["errors"].([]any)[0].(map[string]any)
			if f["field"] != tt.field || f["rule"] != tt.rule {
				t.Fatalf("problem names %v / %v, want %s / %s: %s", f["field"], f["rule"], tt.field, tt.rule, r.body)
			}
		})
	}
	list := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints", nil))["data"].([]any)
	if len(list) != 0 {
		t.Fatalf("refused endpoints were stored: %v", list)
	}

	// PATCH validates the same way and changes nothing.
	id, _ := e.endpoint(w.consumer, httpsURL, w.typ)
	r := e.do(w.consumer, "PATCH", "/v1/endpoints/"+id, map[string]any{"description": "x",
		"mtls": map[string]any{"certificate": string(cert), "private_key": string(otherKey)}})
	if r.status != 422 || !strings.Contains(string(r.body), "mtls.private_key") {
		t.Fatalf("PATCH with a mismatched key: %d %s", r.status, r.body)
	}
	if got := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+id, nil)); got["description"] != "" || got["mtls"] != nil {
		t.Fatalf("refused PATCH changed the endpoint: %v", got)
	}
}

// TestTLSCAFileInvalid: a CA bundle without certificates stops start-up
// with an error naming the setting.
func TestTLSCAFileInvalid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(path, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := app.Start(context.Background(), app.Config{DatabaseURL: heraldtest.NewDatabase(t), SkipMigrate: true,
		MasterKey: randomKey(), Listener: ln, TLSCAFile: path, Logger: heraldtest.Logger(t)})
	if err == nil {
		_ = a.Stop(context.Background())
		t.Fatal("Start accepted a CA bundle without certificates")
	}
	if !strings.Contains(err.Error(), "HERALD_TLS_CA_FILE") {
		t.Fatalf("error does not name the setting: %v", err)
	}
}
