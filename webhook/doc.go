// Package webhook performs single outbound webhook attempts: it signs a
// message the Standard Webhooks way, POSTs it through an SSRF-safe HTTP
// client, and reports what happened as a [Result]. It also provides the
// target policy used to vet endpoint URLs ([TargetPolicy]), signing-secret
// helpers ([Sign], [NewSecret]) and the retry schedule that says when to try
// again ([RetrySchedule]).
//
// The package knows nothing about databases or queues: the delivery worker
// loads a message, calls [Sender.Send], records the Result, and asks
// [RetrySchedule.Next] for the delay before the next attempt.
//
// # Safety
//
// Target addresses are checked twice. [TargetPolicy.CheckURL] rejects obvious
// internal targets when an endpoint is created, so users get an early, precise
// error. The authoritative check runs when the socket is dialled: the
// [Sender]'s dialer applies [TargetPolicy.CheckAddr] to the address actually
// being connected to, after DNS resolution, so a hostname that resolves (or
// later re-resolves) to an internal address is refused, with no window for DNS
// rebinding. Proxies are never used and redirects are never followed, because
// either would let a request reach an address that was not checked.
//
// A message may carry a client certificate ([Message.ClientCert]) for
// receivers that require mutual TLS. Each distinct certificate gets its own
// transport, cloned from the shared one (same dialer, same checks, same
// roots, see [SenderConfig.RootCAs]) and kept in a bounded LRU cache, so a
// connection opened with one endpoint's certificate never carries another
// endpoint's request.
//
// # Wire format
//
// Each request carries webhook-id, webhook-timestamp and webhook-signature
// headers as defined by the Standard Webhooks specification. The signature
// header holds one entry per secret, space-separated, so a receiver keeps
// verifying while a secret is rotated: "v1,<base64 HMAC-SHA256>" for whsec_
// secrets and "v1a,<base64 ed25519>" for whsk_ signing keys (see
// [SignV1a]). [Sender.Handshake] performs the CloudEvents abuse-protection
// OPTIONS handshake that verifies an endpoint before deliveries start.
package webhook
