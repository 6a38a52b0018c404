package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

const connectorColumns = `id, tenant_id, client_id, name, description, kind, types, filter, code, config,
	secrets_enc, enabled, created_at, updated_at`

// secretsAD binds a connector's sealed secrets to its row.
func secretsAD(id uuid.UUID) []byte { return append(id[:], "connector-secrets"...) }

func (s *Store) sealConnectorSecrets(id uuid.UUID, secrets map[string]any) ([]byte, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(secrets)
	if err != nil {
		return nil, fmt.Errorf("connector %s secrets: %w", id, err)
	}
	return s.box.Seal(b, secretsAD(id)), nil
}

func (s *Store) openConnectorSecrets(id uuid.UUID, sealed []byte) (map[string]any, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	b, err := s.box.Open(sealed, secretsAD(id))
	if err != nil {
		return nil, fmt.Errorf("connector %s secrets: %w", id, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("connector %s secrets: %w", id, err)
	}
	return m, nil
}

func (s *Store) scanConnector(row pgx.Row) (*herald.Connector, error) {
	var c herald.Connector
	var client *uuid.UUID
	var config, secrets []byte
	if err := row.Scan(&c.ID, &c.TenantID, &client, &c.Name, &c.Description, &c.Kind, &c.Types, &c.Filter, &c.Code,
		&config, &secrets, &c.Enabled, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	if client != nil {
		c.ClientID = *client
	}
	if err := json.Unmarshal(config, &c.Config); err != nil {
		return nil, fmt.Errorf("connector %s config: %w", c.ID, err)
	}
	var err error
	if c.Secrets, err = s.openConnectorSecrets(c.ID, secrets); err != nil {
		return nil, err
	}
	return &c, nil
}

// configJSON is how a connector's configuration is kept: JSON bytes
// (bytea, which unlike jsonb holds any string, "\u0000" included).
func configJSON(m map[string]any) ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(m)
}

// ConnectorCreate inserts a connector; its secrets are stored encrypted.
func (s *Store) ConnectorCreate(ctx context.Context, c *herald.Connector) error {
	secrets, err := s.sealConnectorSecrets(c.ID, c.Secrets)
	if err != nil {
		return err
	}
	config, err := configJSON(c.Config)
	if err != nil {
		return fmt.Errorf("connector %s config: %w", c.ID, err)
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO connectors (id, tenant_id, client_id, name, description, kind, types, filter,
			code, config, secrets_enc, enabled)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING created_at, updated_at`,
		c.ID, c.TenantID, nullUUID(c.ClientID), c.Name, c.Description, c.Kind, c.Types, nullJSON(c.Filter),
		c.Code, config, secrets, c.Enabled).Scan(&c.CreatedAt, &c.UpdatedAt)
	return translate(err, fmt.Sprintf("connector named %q", c.Name))
}

// ConnectorGet returns one connector with its secrets decrypted.
func (s *Store) ConnectorGet(ctx context.Context, id uuid.UUID) (*herald.Connector, error) {
	c, err := s.scanConnector(s.pool.QueryRow(ctx, `SELECT `+connectorColumns+` FROM connectors WHERE id = $1`, id))
	return c, translate(err, "connector "+id.String())
}

// ConnectorList lists connectors, of one tenant (uuid.Nil: all) and one
// client (uuid.Nil: all of the tenant), by name: with limit > 0, a page of
// them after the key (see PageKey; Name and ID).
func (s *Store) ConnectorList(ctx context.Context, tenant, client uuid.UUID, after PageKey, limit int) ([]*herald.Connector, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+connectorColumns+` FROM connectors
		WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR client_id = $2)
			AND ($3 OR (name, id) > ($4, $5))
		ORDER BY name, id LIMIT $6`, nullUUID(tenant), nullUUID(client), after.IsZero(), after.Name, after.ID, limitArg(limit))
	return collect(rows, err, "list connectors", s.scanConnector)
}

// ConnectorUpdate saves a connector's editable fields.
func (s *Store) ConnectorUpdate(ctx context.Context, c *herald.Connector) error {
	secrets, err := s.sealConnectorSecrets(c.ID, c.Secrets)
	if err != nil {
		return err
	}
	config, err := configJSON(c.Config)
	if err != nil {
		return fmt.Errorf("connector %s config: %w", c.ID, err)
	}
	err = s.pool.QueryRow(ctx, `UPDATE connectors SET name = $2, description = $3, types = $4, filter = $5,
			code = $6, config = $7, secrets_enc = $8, enabled = $9, updated_at = now()
		WHERE id = $1 RETURNING updated_at`,
		c.ID, c.Name, c.Description, c.Types, nullJSON(c.Filter), c.Code, config, secrets, c.Enabled).Scan(&c.UpdatedAt)
	return translate(err, fmt.Sprintf("connector named %q", c.Name))
}

// ConnectorDelete removes a connector and its run history.
func (s *Store) ConnectorDelete(ctx context.Context, id uuid.UUID) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM connectors WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete connector %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return herald.NotFound("connector %s", id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM connector_runs WHERE connector_id = $1`, id); err != nil {
			return fmt.Errorf("delete runs of connector %s: %w", id, err)
		}
		return nil
	})
}

// connectorsForCatalog loads what routing needs of the enabled connectors:
// no code, no configuration, no secrets.
func connectorsForCatalog(ctx context.Context, tx pgx.Tx) ([]*herald.Connector, error) {
	rows, err := tx.Query(ctx, `SELECT id, tenant_id, client_id, name, kind, types, filter FROM connectors WHERE enabled`)
	if err != nil {
		return nil, fmt.Errorf("load connectors: %w", err)
	}
	defer rows.Close()
	var out []*herald.Connector
	for rows.Next() {
		c := &herald.Connector{Enabled: true}
		var client *uuid.UUID
		if err := rows.Scan(&c.ID, &c.TenantID, &client, &c.Name, &c.Kind, &c.Types, &c.Filter); err != nil {
			return nil, fmt.Errorf("load connectors: %w", err)
		}
		if client != nil {
			c.ClientID = *client
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load connectors: %w", err)
	}
	return out, nil
}

// ConnectorRunsInsert writes new runs (ingest calls it in the events'
// transaction, before their jobs).
func (s *Store) ConnectorRunsInsert(ctx context.Context, db DBTX, runs []*herald.ConnectorRun) error {
	if len(runs) == 0 {
		return nil
	}
	n := len(runs)
	ids, conns, tenants, events := make([][16]byte, n), make([][16]byte, n), make([][16]byte, n), make([][16]byte, n)
	received, created := make([]time.Time, n), make([]time.Time, n)
	types, inputs := make([]string, n), make([]string, n)
	for i, r := range runs {
		ids[i], conns[i], tenants[i], events[i] = raw(r.ID), raw(r.ConnectorID), raw(r.TenantID), raw(r.EventID)
		received[i], created[i], types[i], inputs[i] = r.EventReceivedAt, r.CreatedAt, r.EventType, r.Input
	}
	_, err := db.Exec(ctx, `INSERT INTO connector_runs (id, connector_id, tenant_id, event_id, event_received_at,
			event_type, input, created_at)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::text[], $7::text[], $8::timestamptz[])`,
		ids, conns, tenants, events, received, types, inputs, created)
	if err != nil {
		return fmt.Errorf("insert connector runs: %w", err)
	}
	return nil
}

const runColumns = `r.id, r.connector_id, r.tenant_id, r.event_id, r.event_received_at, r.event_type, r.input, r.status,
	r.attempts, r.retry_base, r.next_attempt_at, r.last_attempt_at, r.last_error, r.history::text, r.created_at, r.updated_at`

// attemptJSON is how an attempt is kept in connector_runs.history.
type attemptJSON struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	Logs       []string  `json:"logs,omitempty"`
	Requests   int       `json:"requests"`
	DurationUS int64     `json:"duration_us"`
}

func scanRun(row pgx.Row, extra ...any) (*herald.ConnectorRun, error) {
	var r herald.ConnectorRun
	var status, history string
	var next, last *time.Time
	dest := []any{&r.ID, &r.ConnectorID, &r.TenantID, &r.EventID, &r.EventReceivedAt, &r.EventType, &r.Input, &status,
		&r.Attempts, &r.RetryBase, &next, &last, &r.LastError, &history, &r.CreatedAt, &r.UpdatedAt}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	r.Status = herald.ConnectorRunStatus(status)
	if next != nil {
		r.NextAttemptAt = *next
	}
	if last != nil {
		r.LastAttemptAt = *last
	}
	var hs []attemptJSON
	if err := json.Unmarshal([]byte(history), &hs); err != nil {
		return nil, fmt.Errorf("connector run %s history: %w", r.ID, err)
	}
	for _, h := range hs {
		r.History = append(r.History, herald.ConnectorAttempt{Attempt: h.Attempt, At: h.At, Status: h.Status, Error: h.Error,
			Logs: h.Logs, Requests: h.Requests, Duration: time.Duration(h.DurationUS) * time.Microsecond})
	}
	return &r, nil
}

// ConnectorRunGet returns one run.
func (s *Store) ConnectorRunGet(ctx context.Context, id uuid.UUID) (*herald.ConnectorRun, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM connector_runs r WHERE r.id = $1`, id))
	return r, translate(err, "connector run "+id.String())
}

// ConnectorRunList lists a connector's runs, newest first, optionally of
// one status and before a run (paging).
func (s *Store) ConnectorRunList(ctx context.Context, connector uuid.UUID, status string, before uuid.UUID, limit int) ([]*herald.ConnectorRun, error) {
	var st *string
	if status != "" {
		st = &status
	}
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM connector_runs r
		WHERE r.connector_id = $1 AND ($2::text IS NULL OR r.status = $2)
		  AND ($3::uuid IS NULL OR (r.created_at, r.id) < (SELECT created_at, id FROM connector_runs WHERE id = $3))
		ORDER BY r.created_at DESC, r.id DESC LIMIT $4`, connector, st, nullUUID(before), limit)
	return collect(rows, err, "list connector runs", func(row pgx.Row) (*herald.ConnectorRun, error) {
		return scanRun(row)
	})
}

// ConnectorRunTarget is what a worker needs for one attempt: the run, its
// connector (nil when deleted) and the event body (nil when expired).
type ConnectorRunTarget struct {
	Run       *herald.ConnectorRun
	Connector *herald.Connector
	Event     []byte
}

// ConnectorRunLoad reads a run with its connector and event in one query.
func (s *Store) ConnectorRunLoad(ctx context.Context, id uuid.UUID) (*ConnectorRunTarget, error) {
	var connID *uuid.UUID
	var body []byte
	var c herald.Connector
	var client *uuid.UUID
	var kind, code *string
	var config, secrets []byte
	var enabled *bool
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+`, c.id, c.client_id, c.kind, c.code, c.config,
			c.secrets_enc, c.enabled, e.body
		FROM connector_runs r
		LEFT JOIN connectors c ON c.id = r.connector_id
		LEFT JOIN events e ON e.id = r.event_id AND e.received_at = r.event_received_at
		WHERE r.id = $1`, id), &connID, &client, &kind, &code, &config, &secrets, &enabled, &body)
	if err != nil {
		return nil, translate(err, "connector run "+id.String())
	}
	t := &ConnectorRunTarget{Run: r, Event: body}
	if connID != nil {
		c.ID, c.TenantID, c.Kind, c.Code, c.Enabled = *connID, r.TenantID, *kind, *code, *enabled
		if client != nil {
			c.ClientID = *client
		}
		if err := json.Unmarshal(config, &c.Config); err != nil {
			return nil, fmt.Errorf("connector %s config: %w", c.ID, err)
		}
		if c.Secrets, err = s.openConnectorSecrets(c.ID, secrets); err != nil {
			return nil, err
		}
		t.Connector = &c
	}
	return t, nil
}

// maxHistory bounds the attempts kept per run.
const maxHistory = 20

// ConnectorRunRecord records attempt a of a run and its new state. It
// applies only if the run is still pending at attempt a-1, so a duplicate
// job cannot record twice; ok reports whether it applied.
func (s *Store) ConnectorRunRecord(ctx context.Context, id uuid.UUID, a herald.ConnectorAttempt, status herald.ConnectorRunStatus, next time.Time) (bool, error) {
	// A function's output may hold anything, U+0000 included, which
	// neither text nor jsonb can store; an attempt must still be recorded.
	a.Error = herald.LogText(a.Error)
	logs := make([]string, len(a.Logs))
	for i, l := range a.Logs {
		logs[i] = herald.LogText(l)
	}
	h, err := json.Marshal([]attemptJSON{{Attempt: a.Attempt, At: a.At, Status: a.Status, Error: a.Error, Logs: logs,
		Requests: a.Requests, DurationUS: a.Duration.Microseconds()}})
	if err != nil {
		return false, fmt.Errorf("record connector run %s: %w", id, err)
	}
	var nextAt *time.Time
	if !next.IsZero() {
		nextAt = &next
	}
	tag, err := s.pool.Exec(ctx, `UPDATE connector_runs SET attempts = $2, status = $3, next_attempt_at = $4,
			last_attempt_at = $5, last_error = $6, updated_at = now(),
			history = CASE WHEN jsonb_array_length(history) >= $8 THEN (history - 0) || $7::jsonb ELSE history || $7::jsonb END
		WHERE id = $1 AND status = 'pending' AND attempts = $2 - 1`,
		id, a.Attempt, string(status), nextAt, a.At, a.Error, string(h), maxHistory)
	if err != nil {
		return false, fmt.Errorf("record connector run %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ConnectorRunFail ends a pending run without an attempt (its connector or
// event is gone).
func (s *Store) ConnectorRunFail(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE connector_runs SET status = 'failed', last_error = $2, next_attempt_at = NULL,
		updated_at = now() WHERE id = $1 AND status = 'pending'`, id, herald.LogText(reason))
	if err != nil {
		return fmt.Errorf("fail connector run %s: %w", id, err)
	}
	return nil
}

// ErrRunNotRetriable is returned for a retry of a run still pending.
var ErrRunNotRetriable = errors.New("run is still pending")

// ConnectorRunRetry starts a fresh retry cycle of a finished run, inside
// tx (the caller enqueues its job in the same transaction). authorize sees
// the run first.
func (s *Store) ConnectorRunRetry(ctx context.Context, tx pgx.Tx, id uuid.UUID, authorize func(*herald.ConnectorRun) error) (*herald.ConnectorRun, error) {
	r, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM connector_runs r WHERE r.id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, translate(err, "connector run "+id.String())
	}
	if err := authorize(r); err != nil {
		return nil, err
	}
	if r.Status == herald.ConnectorRunPending {
		return nil, herald.Conflict("connector run %s is still pending: %v", id, ErrRunNotRetriable)
	}
	if _, err := tx.Exec(ctx, `UPDATE connector_runs SET status = 'pending', retry_base = attempts, next_attempt_at = now(),
		updated_at = now() WHERE id = $1`, id); err != nil {
		return nil, fmt.Errorf("retry connector run %s: %w", id, err)
	}
	r.Status, r.RetryBase = herald.ConnectorRunPending, r.Attempts
	return r, nil
}

// ConnectorRunsExpire deletes runs created before cutoff, in batches.
func ConnectorRunsExpire(ctx context.Context, db DBTX, cutoff time.Time) (int64, error) {
	var total int64
	for {
		tag, err := db.Exec(ctx, `DELETE FROM connector_runs WHERE id = ANY (ARRAY(
			SELECT id FROM connector_runs WHERE created_at < $1 LIMIT 5000))`, cutoff)
		if err != nil {
			return total, fmt.Errorf("expire connector runs: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}
