package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/herald"
)

const eventTypeColumns = `t.name, t.tenant_id, t.description, t.public, t.producers, t.consumers, t.version,
	v.schema, v.schema_draft, v.format_assertion, t.retention_keep, COALESCE(t.retention_max_count, 0),
	t.created_at, t.updated_at`

const eventTypeFrom = ` FROM event_types t JOIN event_type_versions v ON v.type_name = t.name AND v.version = t.version`

func scanEventType(row pgx.Row) (*herald.EventType, error) {
	var t herald.EventType
	var keep pgtype.Interval
	if err := row.Scan(&t.Name, &t.TenantID, &t.Description, &t.Public, &t.Producers, &t.Consumers, &t.Version,
		&t.Schema, &t.SchemaDraft, &t.FormatAssertion, &keep, &t.Retention.MaxCount, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	if keep.Valid {
		t.Retention.Keep = intervalDuration(keep)
	}
	return &t, nil
}

// EventTypePut creates or updates an event type. When the schema differs
// (as JSON, not byte for byte: see sameJSON) from the current one, or is to
// be read another way (SchemaDraft, FormatAssertion), it becomes a new
// version; older versions stay readable. Schemas are stored
// as the bytes given (checked JSON), not as jsonb, which cannot hold a
// "\u0000" escape. allowed decides, under the row lock,
// whether the caller may change an existing type (it receives the stored
// row). created reports whether the type is new.
func (s *Store) EventTypePut(ctx context.Context, t *herald.EventType, allowed func(existing *herald.EventType) error) (created bool, err error) {
	if t.Producers == nil {
		t.Producers = []uuid.UUID{}
	}
	if t.Consumers == nil {
		t.Consumers = []uuid.UUID{}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock the type's row on its own first: a join locked in one query
		// would re-check only the locked row after waiting for a concurrent
		// update, pair it with the stale version row and find nothing.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM event_types WHERE name = $1 FOR UPDATE`, t.Name); err != nil {
			return fmt.Errorf("put event type %s: lock: %w", t.Name, err)
		}
		existing, err := scanEventType(tx.QueryRow(ctx, `SELECT `+eventTypeColumns+eventTypeFrom+` WHERE t.name = $1`, t.Name))
		if err != nil && err != pgx.ErrNoRows {
			return fmt.Errorf("put event type %s: %w", t.Name, err)
		}
		if existing == nil {
			created = true
			t.Version = 1
			if _, err := tx.Exec(ctx, `INSERT INTO event_types (name, tenant_id, description, public, producers, consumers, version,
					retention_keep, retention_max_count)
				VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)`, t.Name, t.TenantID, t.Description, t.Public, t.Producers, t.Consumers,
				retentionKeep(t.Retention), retentionMaxCount(t.Retention)); err != nil {
				return translate(err, "event type "+t.Name)
			}
			if err := eventTypeVersionInsert(ctx, tx, t); err != nil {
				return err
			}
		} else {
			if err := allowed(existing); err != nil {
				return err
			}
			t.Version = existing.Version
			if !sameJSON(existing.Schema, t.Schema) || existing.SchemaDraft != t.SchemaDraft || existing.FormatAssertion != t.FormatAssertion {
				t.Version++
				if err := eventTypeVersionInsert(ctx, tx, t); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE event_types SET tenant_id = $2, description = $3, public = $4, producers = $5,
				consumers = $6, version = $7, retention_keep = $8, retention_max_count = $9, updated_at = now() WHERE name = $1`,
				t.Name, t.TenantID, t.Description, t.Public, t.Producers, t.Consumers, t.Version,
				retentionKeep(t.Retention), retentionMaxCount(t.Retention)); err != nil {
				return translate(err, "event type "+t.Name)
			}
			if existing.Retention != t.Retention {
				if err := retentionPurgesReset(ctx, tx); err != nil {
					return err
				}
			}
		}
		if err := eventTypeThinPut(ctx, tx, t); err != nil {
			return err
		}
		stored, err := scanEventType(tx.QueryRow(ctx, `SELECT `+eventTypeColumns+eventTypeFrom+` WHERE t.name = $1`, t.Name))
		if err != nil {
			return fmt.Errorf("put event type %s: reread: %w", t.Name, err)
		}
		if err := eventTypeThinFill(ctx, tx, stored); err != nil {
			return err
		}
		*t = *stored
		return nil
	})
	return created, err
}

// eventTypeVersionInsert stores t's schema, as the bytes given, as its
// version t.Version.
func eventTypeVersionInsert(ctx context.Context, db DBTX, t *herald.EventType) error {
	if _, err := db.Exec(ctx, `INSERT INTO event_type_versions (type_name, version, schema, schema_draft, format_assertion)
		VALUES ($1, $2, $3, $4, $5)`, t.Name, t.Version, []byte(t.Schema), t.SchemaDraft, t.FormatAssertion); err != nil {
		return fmt.Errorf("put event type %s: schema: %w", t.Name, err)
	}
	return nil
}

// EventTypeGet returns a type with its current schema.
func (s *Store) EventTypeGet(ctx context.Context, name string) (*herald.EventType, error) {
	t, err := scanEventType(s.pool.QueryRow(ctx, `SELECT `+eventTypeColumns+eventTypeFrom+` WHERE t.name = $1`, name))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("event type %q", name))
	}
	return t, eventTypeThinFill(ctx, s.pool, t)
}

// EventTypeList returns all types with their current schemas, by name.
func (s *Store) EventTypeList(ctx context.Context) ([]*herald.EventType, error) {
	return s.eventTypeList(ctx, s.pool)
}

// EventTypePage returns up to limit types by name, after the key (see
// PageKey; Name, unique), with their current schemas.
func (s *Store) EventTypePage(ctx context.Context, after PageKey, limit int) ([]*herald.EventType, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventTypeColumns+eventTypeFrom+`
		WHERE $1 OR t.name > $2 ORDER BY t.name LIMIT $3`, after.IsZero(), after.Name, limitArg(limit))
	out, err := collect(rows, err, "list event types", scanEventType)
	if err != nil {
		return nil, err
	}
	return out, eventTypeThinFill(ctx, s.pool, out...)
}

func (s *Store) eventTypeList(ctx context.Context, db DBTX) ([]*herald.EventType, error) {
	rows, err := db.Query(ctx, `SELECT `+eventTypeColumns+eventTypeFrom+` ORDER BY t.name`)
	out, err := collect(rows, err, "list event types", scanEventType)
	if err != nil {
		return nil, err
	}
	return out, eventTypeThinFill(ctx, db, out...)
}

// EventTypeVersions returns every schema version of a type, oldest first.
func (s *Store) EventTypeVersions(ctx context.Context, name string) ([]herald.SchemaVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT version, schema, schema_draft, format_assertion, created_at
		FROM event_type_versions WHERE type_name = $1 ORDER BY version`, name)
	out, err := collect(rows, err, "event type "+name+" versions", func(row pgx.Row) (herald.SchemaVersion, error) {
		var v herald.SchemaVersion
		err := row.Scan(&v.Version, &v.Schema, &v.SchemaDraft, &v.FormatAssertion, &v.CreatedAt)
		return v, err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, herald.NotFound("event type %q", name)
	}
	return out, nil
}

// sameJSON reports whether two JSON documents hold the same value, as jsonb
// equality did: member order, whitespace, string escapes and the spelling
// of numbers (1, 1.0, 10e-1) aside. Documents that do not decode are never
// the same.
func sameJSON(a, b []byte) bool {
	va, errA := decodeNumbers(a)
	vb, errB := decodeNumbers(b)
	return errA == nil && errB == nil && equalJSON(va, vb)
}

func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func equalJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalJSON(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && canonicalNumber(string(x)) == canonicalNumber(string(y))
	default: // string, bool, nil
		return a == b
	}
}

// canonicalNumber spells a JSON number exactly, in one way: sign, digits
// without leading or trailing zeros, and a decimal exponent ("-15e-1" for
// -1.50). Every spelling of one value gets the same form.
func canonicalNumber(lit string) string {
	neg := strings.HasPrefix(lit, "-")
	lit = strings.TrimPrefix(lit, "-")
	mant, expPart, hasExp := strings.Cut(strings.ToLower(lit), "e")
	exp := 0
	if hasExp {
		n, err := strconv.Atoi(expPart)
		if err != nil {
			return lit // an exponent past int range: compared as written
		}
		exp = n
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	if digits == "" {
		return "0"
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	sign := ""
	if neg {
		sign = "-"
	}
	return sign + trimmed + "e" + strconv.Itoa(exp)
}
