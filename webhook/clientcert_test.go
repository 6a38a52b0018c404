package webhook

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// mtlsReceiver is a loopback HTTPS receiver that requires a client
// certificate signed by clientCA and records the subjects it saw.
type mtlsReceiver struct {
	url      string
	serverCA *heraldtest.CA
	newConns atomic.Int64
	mu       sync.Mutex
	subjects []string
}

func newMTLSReceiver(t *testing.T, clientCA *heraldtest.CA) *mtlsReceiver {
	t.Helper()
	rc := &mtlsReceiver{serverCA: heraldtest.NewCA(t, "server CA")}
	srv := rc.serverCA.NewMTLSServer(t, clientCA, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.subjects = append(rc.subjects, r.TLS.PeerCertificates[0].Subject.CommonName)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			rc.newConns.Add(1)
		}
	}
	rc.url = srv.URL + "/hook"
	return rc
}

func (rc *mtlsReceiver) seen() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.subjects...)
}

func clientCert(t *testing.T, ca *heraldtest.CA, cn string) *ClientCertificate {
	t.Helper()
	c, k := ca.ClientCert(t, cn)
	return &ClientCertificate{CertPEM: c, KeyPEM: k}
}

func TestSendClientCertificate(t *testing.T) {
	t.Parallel()
	clientCA := heraldtest.NewCA(t, "client CA")
	rc := newMTLSReceiver(t, clientCA)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate, RootCAs: rc.serverCA.Pool()})

	tests := []struct {
		name    string
		cert    *ClientCertificate
		wantOK  bool
		wantErr string
	}{
		{name: "with certificate", cert: clientCert(t, clientCA, "partner-a"), wantOK: true},
		{name: "without certificate", cert: nil, wantErr: "certificate"},
		{name: "certificate of another CA", cert: clientCert(t, heraldtest.NewCA(t, "stranger"), "mallory"), wantErr: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage(t, rc.url)
			m.ClientCert = tt.cert
			res := s.Send(t.Context(), m)
			if tt.wantOK {
				if !res.Success() || res.Err != nil {
					t.Fatalf("Send = %+v, want 204", res)
				}
				return
			}
			if res.StatusCode != 0 || res.Err == nil || !strings.Contains(res.Err.Error(), tt.wantErr) {
				t.Fatalf("Send = status %d, err %v; want a handshake error mentioning %q", res.StatusCode, res.Err, tt.wantErr)
			}
		})
	}
	if got := rc.seen(); len(got) != 1 || got[0] != "partner-a" {
		t.Fatalf("receiver saw client certificates %q, want [partner-a]", got)
	}
}

// Each certificate has its own keep-alive connections: a second send with
// the same certificate reuses the connection, a different certificate
// opens a new one, and the LRU bound closes the least recently used.
func TestSendClientCertificateTransports(t *testing.T) {
	t.Parallel()
	clientCA := heraldtest.NewCA(t, "client CA")
	rc := newMTLSReceiver(t, clientCA)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate, RootCAs: rc.serverCA.Pool(), MaxClientCerts: 2})
	a, b, c := clientCert(t, clientCA, "a"), clientCert(t, clientCA, "b"), clientCert(t, clientCA, "c")

	send := func(cert *ClientCertificate) {
		t.Helper()
		m := testMessage(t, rc.url)
		m.ClientCert = cert
		if res := s.Send(t.Context(), m); !res.Success() {
			t.Fatalf("Send = %+v", res)
		}
	}
	send(a)
	send(a)
	if n := rc.newConns.Load(); n != 1 {
		t.Fatalf("two sends with one certificate opened %d connections, want 1", n)
	}
	send(b)
	if n := rc.newConns.Load(); n != 2 {
		t.Fatalf("a second certificate reused a connection (%d connections, want 2)", n)
	}
	send(c) // evicts a
	if n := s.certs.len(); n != 2 {
		t.Fatalf("%d transports cached, want the bound 2", n)
	}
	send(a) // a's transport was evicted: a new connection
	if n := rc.newConns.Load(); n != 4 {
		t.Fatalf("%d connections after re-using an evicted certificate, want 4", n)
	}
	if got, want := strings.Join(rc.seen(), ","), "a,a,b,c,a"; got != want {
		t.Fatalf("receiver saw %s, want %s", got, want)
	}
}

func TestSendClientCertificateInvalid(t *testing.T) {
	t.Parallel()
	ca := heraldtest.NewCA(t, "client CA")
	certA, _ := ca.ClientCert(t, "a")
	_, keyB := ca.ClientCert(t, "b")
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	for name, cc := range map[string]*ClientCertificate{
		"mismatched key": {CertPEM: certA, KeyPEM: keyB},
		"not PEM":        {CertPEM: []byte("hello"), KeyPEM: []byte("world")},
	} {
		t.Run(name, func(t *testing.T) {
			m := testMessage(t, "https://127.0.0.1:1/hook")
			m.ClientCert = cc
			res := s.Send(t.Context(), m)
			if !errors.Is(res.Err, ErrInvalidClientCert) || !errors.Is(res.Err, ErrInvalidMessage) {
				t.Fatalf("Send err = %v, want ErrInvalidClientCert and ErrInvalidMessage", res.Err)
			}
			if strings.Contains(res.Err.Error(), "PRIVATE KEY") {
				t.Fatalf("error quotes key material: %v", res.Err)
			}
		})
	}
}

// The per-certificate transports keep the SSRF guard and the server
// certificate check of the shared one.
func TestSendClientCertificateKeepsGuards(t *testing.T) {
	t.Parallel()
	clientCA := heraldtest.NewCA(t, "client CA")
	rc := newMTLSReceiver(t, clientCA)
	cert := clientCert(t, clientCA, "a")

	guarded := newTestSender(t, SenderConfig{RootCAs: rc.serverCA.Pool()}) // production policy
	m := testMessage(t, rc.url)
	m.ClientCert = cert
	if res := guarded.Send(t.Context(), m); !res.Blocked || !errors.Is(res.Err, ErrForbiddenTarget) {
		t.Fatalf("loopback with the production policy: %+v, want blocked", res)
	}

	systemRoots := newTestSender(t, SenderConfig{Policy: allowPrivate}) // test CA not trusted
	if res := systemRoots.Send(t.Context(), m); res.Err == nil || !strings.Contains(res.Err.Error(), "certificate") {
		t.Fatalf("untrusted server certificate: %+v, want a verification error", res)
	}
	if n := len(rc.seen()); n != 0 {
		t.Fatalf("receiver handled %d requests, want 0", n)
	}
}

func TestHandshakeClientCertificate(t *testing.T) {
	t.Parallel()
	clientCA := heraldtest.NewCA(t, "client CA")
	rc := newMTLSReceiver(t, clientCA)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate, RootCAs: rc.serverCA.Pool()})
	req := HandshakeRequest{URL: rc.url, Origin: "herald.example"}
	if _, err := s.Handshake(t.Context(), req); err == nil {
		t.Fatal("handshake without the client certificate reached the receiver")
	}
	req.ClientCert = clientCert(t, clientCA, "a")
	res, err := s.Handshake(t.Context(), req)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("handshake with the client certificate = %+v, %v; want a 204 answer", res, err)
	}
}

func BenchmarkSendClientCertificate(b *testing.B) {
	clientCA := heraldtest.NewCA(b, "client CA")
	serverCA := heraldtest.NewCA(b, "server CA")
	srv := serverCA.NewMTLSServer(b, clientCA, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	s := newTestSender(b, SenderConfig{Policy: allowPrivate, RootCAs: serverCA.Pool()})
	c, k := clientCA.ClientCert(b, "bench")
	m := testMessage(b, srv.URL)
	m.ClientCert = &ClientCertificate{CertPEM: c, KeyPEM: k}
	b.ReportAllocs()
	for b.Loop() {
		if res := s.Send(b.Context(), m); !res.Success() {
			b.Fatal(res.Err)
		}
	}
}

// BenchmarkClientForCached is the per-attempt cost of finding the
// transport of a certificate already seen: hashing the PEM pair and an LRU
// lookup.
func BenchmarkClientForCached(b *testing.B) {
	ca := heraldtest.NewCA(b, "client CA")
	c, k := ca.ClientCert(b, "bench")
	s := newTestSender(b, SenderConfig{Policy: allowPrivate})
	cc := &ClientCertificate{CertPEM: c, KeyPEM: k}
	if _, err := s.clientFor(cc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.clientFor(cc); err != nil {
			b.Fatal(err)
		}
	}
}
