package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/ingest"
)

// recoverLimit bounds the deliveries one recover call re-queues.
const recoverLimit = 10000

// recoverJSON says what a recover call re-queued: Recovered deliveries
// queued again, Skipped ones the endpoint no longer receives, and More when
// the call stopped at recoverLimit (call again). The fields are in the
// order the answer always had.
type recoverJSON struct {
	More      bool `json:"more"`
	Recovered int  `json:"recovered"`
	Skipped   int  `json:"skipped"`
}

// handleEndpointRecover re-queues the endpoint's failed deliveries created
// since a time (typically after the receiver was fixed and the endpoint
// enabled again).
func (s *Server) handleEndpointRecover(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	var in struct {
		Since *time.Time `json:"since"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	if in.Since == nil {
		return herald.Invalid("since", "required", "give an RFC 3339 time: failed deliveries created since then are sent again")
	}
	if e.Status != herald.EndpointActive {
		return herald.Conflict("endpoint %s is disabled; enable it before recovering its deliveries", e.ID)
	}
	res, err := s.retrier.Recover(r.Context(), e.ID, *in.Since, recoverLimit)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusAccepted, recoverJSON{More: res.More, Recovered: res.Recovered, Skipped: res.Skipped})
	return nil
}

// handleEndpointTest sends a test event to the endpoint (partner
// onboarding) and answers with its delivery, to follow in the attempt log.
func (s *Server) handleEndpointTest(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	if e.Status != herald.EndpointActive {
		return herald.Conflict("endpoint %s is disabled; enable it first", e.ID)
	}
	// Optional: an event of a type the endpoint receives, with sample
	// data, instead of Herald's own test event.
	var in struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := httpjson.DecodeOptional(w, r, &in); err != nil {
		return err
	}
	if in.Type == "" && in.Data != nil {
		return herald.Invalid("type", "required", "name the event type the sample data is of")
	}
	if in.Type != "" && in.Data == nil {
		return herald.Invalid("data", "required", "give sample data of type %q", in.Type)
	}
	sample := ingest.TestSample{Type: in.Type, Data: in.Data}
	id, err := s.ingest.SendTest(r.Context(), principal(r), e, sample)
	if err != nil {
		return err
	}
	return s.writeQueuedDelivery(w, r, id)
}
