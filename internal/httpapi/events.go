package httpapi

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
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

// handleTestEventPost stores a consumer's test event: one CloudEvent (any
// content mode) of a type it consumes, delivered to its own endpoints and
// consumer groups only, marked with the extension test: true. 202 as for
// events.
func (s *Server) handleTestEventPost(w http.ResponseWriter, r *http.Request) error {
	if c := principal(r).Client; !c.Has(herald.RoleConsumer) {
		return herald.Forbidden("test events are sent by consumer clients, to themselves; client %s has no consumer role", c.Key)
	}
	events, err := cloudevents.Parse(r, s.limits)
	if err != nil {
		return err
	}
	if len(events) != 1 {
		return herald.Invalid("", "single", "send one test event, not a batch of %d", len(events))
	}
	st, err := s.ingest.IngestTest(r.Context(), principal(r), events[0])
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusAccepted, acceptedJSON{Accepted: 1, Events: []storedJSON{{ID: st.ID, Source: st.Source,
		CEID: st.CEID, Sequence: st.Seq, ReceivedAt: st.ReceivedAt, Duplicate: st.Duplicate}}})
	return nil
}
