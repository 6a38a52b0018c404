// Package openapi embeds Herald's API description (OpenAPI 3.1), which the
// server publishes at /openapi.yaml and the tests hold against the router.
package openapi

import _ "embed"

// Spec is openapi.yaml.
//
//go:embed openapi.yaml
var Spec []byte
