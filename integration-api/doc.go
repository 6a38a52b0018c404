// Package integrationapi is Herald's Integration API: the pull side of thin
// events (PlanX's integration pattern). A tenant issues an integration
// credential (key and secret, HTTP Basic) to each consuming platform and
// deployment; with it the platform reads the full event a thin
// notification's dataref points at, and downloads the event's attached
// files through short-lived signed URLs. Every request made with a known
// key is recorded in the access log.
//
// The package also holds producers' file uploads and the FileStore they are
// kept in (local disk by default), and the sweep that enforces the
// retention of thin payloads and files.
//
// Its handlers write their success answers and return every error; they
// are listed by ClientRoutes and PublicRoutes and mounted by
// internal/httpapi, which owns authentication of Herald clients (the caller
// reaches a handler through herald.PrincipalFrom) and answers the returned
// errors through its single mapping from errors to RFC 9457 problems, as
// for its own routes. Request bodies are read with internal/httpjson, the
// decoder every route shares. Import the package with an explicit name:
//
//	integrationapi "github.com/heraldhq/herald/integration-api"
package integrationapi
