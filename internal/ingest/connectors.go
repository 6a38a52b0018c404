package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/queue"
)

// connectorRun is the run of a connector that receives a new event.
func connectorRun(c *herald.Connector, ev *herald.Event, now time.Time) *herald.ConnectorRun {
	return &herald.ConnectorRun{
		ID: herald.NewID(now), ConnectorID: c.ID, TenantID: c.TenantID, EventID: ev.ID, EventReceivedAt: now,
		EventType: ev.Type, Input: inputSummary(ev), Status: herald.ConnectorRunPending, CreatedAt: now,
	}
}

// inputSummary is the one-line description of a run's input.
func inputSummary(ev *herald.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s id=%s source=%s", ev.Type, ev.CEID, ev.Source)
	if ev.Subject != "" {
		fmt.Fprintf(&b, " subject=%s", ev.Subject)
	}
	fmt.Fprintf(&b, " (%d bytes)", len(ev.Body))
	return b.String()
}

// writeConnectorRuns stores the runs of the events that are new in this
// transaction (duplicates get none) and returns their jobs.
func (s *Service) writeConnectorRuns(ctx context.Context, tx postgres.DBTX, runs []*herald.ConnectorRun, seqs map[uuid.UUID]int64) ([]river.InsertManyParams, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	fresh := make([]*herald.ConnectorRun, 0, len(runs))
	for _, r := range runs {
		if _, isNew := seqs[r.EventID]; isNew {
			fresh = append(fresh, r)
		}
	}
	if err := s.store.ConnectorRunsInsert(ctx, tx, fresh); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	jobs := make([]river.InsertManyParams, len(fresh))
	for i, r := range fresh {
		jobs[i] = river.InsertManyParams{Args: queue.ConnectorRunArgs{RunID: r.ID}}
	}
	return jobs, nil
}
