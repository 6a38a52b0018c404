// Package migrations holds Herald's own SQL schema changes, numbered and
// embedded in the binary so that `herald migrate` and `herald serve` need no
// files beside the executable. River's tables are migrated separately through
// rivermigrate; nothing here depends on them.
package migrations

import "embed"

// FS holds the migration files, named NNNN_name.up.sql and NNNN_name.down.sql.
//
//go:embed *.sql
var FS embed.FS
