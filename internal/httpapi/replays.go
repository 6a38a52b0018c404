package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/route"
)

type replayJSON struct {
	ID         uuid.UUID  `json:"id"`
	EndpointID uuid.UUID  `json:"endpoint_id"`
	Types      []string   `json:"types"`
	From       *time.Time `json:"from,omitempty"`
	FromSeq    string     `json:"from_sequence,omitempty"`
	To         time.Time  `json:"to"`
	Status     string     `json:"status"`
	Scanned    int64      `json:"scanned"`
	Queued     int64      `json:"queued"`
	ScannedAt  *time.Time `json:"scanned_at,omitempty"`
	Delivered  int64      `json:"delivered"`
	Failed     int64      `json:"failed"`
	Pending    int64      `json:"pending"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

func toReplayJSON(r *postgres.Replay) replayJSON {
	types := r.Types
	if types == nil {
		types = []string{}
	}
	from, fromSeq := &r.From, ""
	if r.FromSeq > 0 {
		from, fromSeq = nil, herald.FormatSeq(r.FromSeq)
	}
	return replayJSON{ID: r.ID, EndpointID: r.EndpointID, Types: types, From: from, FromSeq: fromSeq, To: r.To, Status: r.Status,
		Scanned: r.Scanned, Queued: r.Queued, ScannedAt: httpjson.Time(r.ScannedAt), Delivered: r.Counts.Delivered,
		Failed: r.Counts.Failed, Pending: r.Counts.Pending, Error: r.Error, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// handleEndpointReplay starts a background replay of stored events (from
// a time or a sequence, up to a time; optionally of some types) to the
// endpoint.
func (s *Server) handleEndpointReplay(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	var in struct {
		From    *time.Time      `json:"from"`
		FromSeq json.RawMessage `json:"from_sequence"`
		To      *time.Time      `json:"to"`
		Types   []string        `json:"types"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	ve := &herald.ValidationError{}
	now := time.Now()
	var fromSeq int64
	switch {
	case in.From != nil && len(in.FromSeq) > 0:
		ve.Add("from_sequence", "exclusive", `give either "from" (a time) or "from_sequence", not both`)
	case len(in.FromSeq) > 0:
		seq, ok := parseSequence(in.FromSeq)
		if !ok || seq < 1 {
			ve.Add("from_sequence", "format", `must be a sequence as Herald shows it, e.g. "00000000000000001234"`)
		}
		fromSeq = seq
	case in.From == nil:
		ve.Add("from", "required", `give the RFC 3339 time the replay starts at (or "from_sequence")`)
	}
	to := now
	if in.To != nil {
		to = *in.To
	}
	if in.From != nil && !in.From.Before(to) {
		ve.Add("to", "range", "must be after from")
	}
	for i, p := range in.Types {
		if err := route.ValidatePattern(p); err != nil {
			ve.Add(fmt.Sprintf("types[%d]", i), "pattern", "%s", err.Error())
		}
	}
	if err := ve.Err(); err != nil {
		return err
	}
	if e.Status != herald.EndpointActive {
		return herald.Conflict("endpoint %s is disabled; enable it before replaying to it", e.ID)
	}
	rp := &postgres.Replay{ID: uuid.New(), TenantID: e.TenantID, EndpointID: e.ID, Types: in.Types,
		From: time.Unix(0, 0).UTC(), FromSeq: fromSeq, To: to.UTC()}
	if in.From != nil {
		rp.From = in.From.UTC()
	}
	if rp.Types == nil {
		rp.Types = []string{}
	}
	if err := s.retrier.StartReplay(r.Context(), rp); err != nil {
		return err
	}
	httpjson.Write(w, http.StatusAccepted, toReplayJSON(rp))
	return nil
}

func (s *Server) handleReplayGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id", "replay")
	if err != nil {
		return err
	}
	rp, err := s.store.ReplayGet(r.Context(), id)
	if err != nil {
		return err
	}
	e, err := s.store.EndpointGet(r.Context(), rp.EndpointID)
	if err != nil || !mayManage(principal(r), e.TenantID, e.ClientID) {
		return herald.NotFound("replay %s", id)
	}
	httpjson.Write(w, http.StatusOK, toReplayJSON(rp))
	return nil
}
