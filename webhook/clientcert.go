package webhook

import (
	"container/list"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// DefaultMaxClientCerts bounds how many client certificates keep a transport
// (and its keep-alive connections) of their own at once.
const DefaultMaxClientCerts = 256

// ErrInvalidClientCert is returned (wrapped) in [Result.Err] when a
// message's client certificate and key cannot be used (bad PEM, a key that
// does not match the certificate). It also wraps [ErrInvalidMessage]:
// retrying will not help.
var ErrInvalidClientCert = errors.New("invalid client certificate")

// ClientCertificate is what an endpoint using mutual TLS asks Herald to
// present in the TLS handshake: a PEM certificate chain (leaf first) and
// the leaf's PEM private key.
type ClientCertificate struct {
	CertPEM []byte
	KeyPEM  []byte
}

// cacheKey identifies a certificate and key pair without keeping either:
// a SHA-256 over both, length-prefixed so that no two pairs collide by
// moving bytes from one to the other.
func (c *ClientCertificate) cacheKey() [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(c.CertPEM)))
	h.Write(n[:])
	h.Write(c.CertPEM)
	h.Write(c.KeyPEM)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// certClients keeps one HTTP client per distinct client certificate, least
// recently used first out. Each client has its own transport, because a
// transport's connections are bound to the certificate their handshake
// presented; sharing one would let a connection opened with one endpoint's
// certificate carry another endpoint's request.
type certClients struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *certClient, most recently used at the front
	byKey map[[sha256.Size]byte]*list.Element
	// build makes the transport for a parsed certificate.
	build func(tls.Certificate) *http.Transport
	// redirect is every client's CheckRedirect.
	redirect func(*http.Request, []*http.Request) error
}

type certClient struct {
	key       [sha256.Size]byte
	client    *http.Client
	transport *http.Transport
}

func newCertClients(max int, build func(tls.Certificate) *http.Transport,
	redirect func(*http.Request, []*http.Request) error) *certClients {
	return &certClients{max: max, order: list.New(), byKey: map[[sha256.Size]byte]*list.Element{},
		build: build, redirect: redirect}
}

// get returns the client presenting c, building it on first use. Parsing
// happens outside the lock; when two callers race for a new certificate,
// the first to finish wins and the other's transport is dropped unused.
func (cc *certClients) get(c *ClientCertificate) (*http.Client, error) {
	key := c.cacheKey()
	cc.mu.Lock()
	if el, ok := cc.byKey[key]; ok {
		cc.order.MoveToFront(el)
		client := el.Value.(*certClient).client
		cc.mu.Unlock()
		return client, nil
	}
	cc.mu.Unlock()

	pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %v", ErrInvalidMessage, ErrInvalidClientCert, err)
	}
	t := cc.build(pair)
	entry := &certClient{key: key, transport: t, client: &http.Client{Transport: t, CheckRedirect: cc.redirect}}

	cc.mu.Lock()
	defer cc.mu.Unlock()
	if el, ok := cc.byKey[key]; ok {
		cc.order.MoveToFront(el)
		return el.Value.(*certClient).client, nil
	}
	cc.byKey[key] = cc.order.PushFront(entry)
	for cc.order.Len() > cc.max {
		oldest := cc.order.Back()
		cc.order.Remove(oldest)
		ev := oldest.Value.(*certClient)
		delete(cc.byKey, ev.key)
		// Requests in flight on the evicted transport finish normally;
		// its idle connections are closed now, and those still busy are
		// closed when they go idle, since nothing refers to it any more.
		ev.transport.CloseIdleConnections()
	}
	return entry.client, nil
}

// len reports how many certificates have a client.
func (cc *certClients) len() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.order.Len()
}

// closeIdle closes the idle connections of every cached transport.
func (cc *certClients) closeIdle() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for el := cc.order.Front(); el != nil; el = el.Next() {
		el.Value.(*certClient).transport.CloseIdleConnections()
	}
}

// clientFor returns the HTTP client to send with: the shared one, or the
// one presenting the message's client certificate.
func (s *Sender) clientFor(c *ClientCertificate) (*http.Client, error) {
	if c == nil || len(c.CertPEM) == 0 {
		return s.client, nil
	}
	return s.certs.get(c)
}
