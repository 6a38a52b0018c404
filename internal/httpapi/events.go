package httpapi

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/httpjson"
)

type storedJSON struct {
	ID         uuid.UUID `json:"id"`
	Source     string    `json:"source"`
	CEID       string    `json:"ce_id"`
	Sequence   int64     `json:"sequence"`
	ReceivedAt time.Time `json:"received_at"`
	Duplicate  bool      `json:"duplicate"`
}

type acceptedJSON struct {
	Accepted int          `json:"accepted"`
	Events   []storedJSON `json:"events"`
}

// handleEventsPost ingests CloudEvents in structured, batch or binary mode.
// 202 means every event of the request is committed with its deliveries.
func (s *Server) handleEventsPost(w http.ResponseWriter, r *http.Request) error {
	events, err := cloudevents.Parse(r, s.limits)
	if err != nil {
		return err
	}
	stored, err := s.ingest.Ingest(r.Context(), principal(r), events)
	if err != nil {
		return err
	}
	out := acceptedJSON{Accepted: len(stored), Events: make([]storedJSON, len(stored))}
	for i, st := range stored {
		out.Events[i] = storedJSON{ID: st.ID, Source: st.Source, CEID: st.CEID, Sequence: st.Seq,
			ReceivedAt: st.ReceivedAt, Duplicate: st.Duplicate}
	}
	httpjson.Write(w, http.StatusAccepted, out)
	return nil
}
