package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
)

// ConnectorRetrier re-queues a finished connector run.
type ConnectorRetrier interface {
	RetryConnectorRun(ctx context.Context, id uuid.UUID, authorize func(*herald.ConnectorRun) error) (*herald.ConnectorRun, error)
}

type attemptOutJSON struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	Logs       []string  `json:"logs"`
	Requests   int       `json:"requests"`
	DurationMS float64   `json:"duration_ms"`
}

type connectorRunJSON struct {
	ID            uuid.UUID        `json:"id"`
	Connector     uuid.UUID        `json:"connector"`
	EventID       uuid.UUID        `json:"event_id"`
	EventType     string           `json:"event_type"`
	Input         string           `json:"input"`
	Status        string           `json:"status"`
	Attempts      int              `json:"attempts"`
	NextAttemptAt *time.Time       `json:"next_attempt_at,omitempty"`
	LastAttemptAt *time.Time       `json:"last_attempt_at,omitempty"`
	LastError     string           `json:"last_error,omitempty"`
	History       []attemptOutJSON `json:"history"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
}

func toConnectorRunJSON(run *herald.ConnectorRun) connectorRunJSON {
	out := connectorRunJSON{ID: run.ID, Connector: run.ConnectorID, EventID: run.EventID, EventType: run.EventType,
		Input: run.Input, Status: string(run.Status), Attempts: run.Attempts, NextAttemptAt: httpjson.Time(run.NextAttemptAt),
		LastAttemptAt: httpjson.Time(run.LastAttemptAt), LastError: run.LastError, History: make([]attemptOutJSON, 0, len(run.History)),
		CreatedAt: run.CreatedAt, UpdatedAt: run.UpdatedAt}
	if run.Status != herald.ConnectorRunPending {
		out.NextAttemptAt = nil
	}
	for _, a := range run.History {
		logs := a.Logs
		if logs == nil {
			logs = []string{}
		}
		out.History = append(out.History, attemptOutJSON{Attempt: a.Attempt, At: a.At, Status: a.Status, Error: a.Error,
			Logs: logs, Requests: a.Requests, DurationMS: float64(a.Duration.Microseconds()) / 1000})
	}
	return out
}

type connectorRunPageJSON struct {
	Data       []connectorRunJSON `json:"data"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (s *Server) handleConnectorRuns(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleConnector(r)
	if err != nil {
		return err
	}
	limit, err := parseLimit(r, 50, 250)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	switch herald.ConnectorRunStatus(status) {
	case "", herald.ConnectorRunPending, herald.ConnectorRunSucceeded, herald.ConnectorRunFailed:
	default:
		return herald.Invalid("status", "enum", "must be pending, succeeded or failed")
	}
	before, err := pageCursor(r)
	if err != nil {
		return err
	}
	runs, err := s.store.ConnectorRunList(r.Context(), c.ID, status, before, limit)
	if err != nil {
		return err
	}
	out := connectorRunPageJSON{Data: make([]connectorRunJSON, 0, len(runs))}
	for _, run := range runs {
		out.Data = append(out.Data, toConnectorRunJSON(run))
	}
	if len(runs) == limit {
		out.NextCursor = runs[len(runs)-1].ID.String()
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// authorizeRun lets the connector's managers (or, once it is deleted, the
// tenant's admins) see and retry a run.
func (s *Server) authorizeRun(r *http.Request, run *herald.ConnectorRun) error {
	p := principal(r)
	c, err := s.store.ConnectorGet(r.Context(), run.ConnectorID)
	switch {
	case err == nil && mayManage(p, c.TenantID, c.ClientID):
		return nil
	case err != nil && p.IsAdminOf(run.TenantID):
		return nil
	}
	return herald.NotFound("connector run %s", run.ID)
}

func (s *Server) handleConnectorRunGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id", "connector run")
	if err != nil {
		return err
	}
	run, err := s.store.ConnectorRunGet(r.Context(), id)
	if err == nil {
		err = s.authorizeRun(r, run)
	}
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toConnectorRunJSON(run))
	return nil
}

func (s *Server) handleConnectorRunRetry(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id", "connector run")
	if err != nil {
		return err
	}
	run, err := s.runs.RetryConnectorRun(r.Context(), id, func(run *herald.ConnectorRun) error { return s.authorizeRun(r, run) })
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusAccepted, toConnectorRunJSON(run))
	return nil
}
