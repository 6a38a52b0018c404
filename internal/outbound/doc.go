// Package outbound authenticates Herald toward webhook endpoints: it produces
// the extra request headers the delivery worker adds to each POST, according
// to the endpoint's configuration. Receivers such as Bane NOR want more than
// the Standard Webhooks signature: they want to check who is calling before
// reading the body, with the tools their API gateways already have.
//
// The package does no database access. Keys and credentials come in from the
// caller and go back out in serialisable form; storing them (encrypted, see
// package secretbox) is the caller's business.
//
// # Modes
//
// Platform-signed JWT. Each delivery carries "Authorization: Bearer <jwt>", a
// short-lived token signed by Herald ([JWTIssuer]). Its audience is the
// endpoint URL, so a token captured at one receiver cannot be replayed to
// another, and it names the event and webhook being delivered. Receivers
// verify it against Herald's public keys, published as a JWK Set
// ([KeyRing.JWKS]) at a well-known URL. Keys are ES256 (the default, since
// every JOSE library supports it) or EdDSA (Ed25519). A [KeyRing] rotates
// keys without breaking tokens already in flight: the previous key stays
// published for a grace period after the new one starts signing.
//
// OAuth2 client credentials. The receiver runs (or trusts) an authorization
// server; Herald obtains an access token with the endpoint's client id and
// secret (RFC 6749 section 4.4) and sends it as a bearer token. A
// [TokenSource] caches tokens until shortly before they expire and fetches
// each one once however many deliveries need it at the same moment; when the
// endpoint rejects a token with 401, [TokenSource.Invalidate] forces a fresh
// one.
//
// Static headers. Fixed headers configured on the endpoint, typically an API
// key ("X-Api-Key: ...") or a pre-shared "Authorization: Basic ..." value.
// [ValidateStaticHeaders] vets them when the endpoint is saved, so a header
// that would corrupt the request or impersonate Herald's own headers is
// refused up front instead of failing every delivery.
//
// The modes combine: static headers can accompany a JWT or OAuth2 token, as
// long as they do not also try to set Authorization.
package outbound
