package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/pull"
)

// maxReason bounds a dead report's reason.
const maxReason = 2000

// deadEventJSON is an event in a consumer's dead-event store.
type deadEventJSON struct {
	ID         string    `json:"id"`
	Group      string    `json:"group,omitempty"`
	Partition  int       `json:"partition"`
	EventID    string    `json:"event_id"`
	Sequence   string    `json:"sequence"`
	Type       string    `json:"type"`
	Reason     string    `json:"reason"`
	ReceivedAt time.Time `json:"received_at"`
	CreatedAt  time.Time `json:"created_at"`
}

func toDeadEventJSON(d postgres.DeadEvent, group string) deadEventJSON {
	return deadEventJSON{ID: d.ID.String(), Group: group, Partition: d.Partition, EventID: d.EventID.String(),
		Sequence: herald.FormatSeq(d.Seq), Type: d.Type, Reason: d.Reason, ReceivedAt: d.ReceivedAt, CreatedAt: d.CreatedAt}
}

// deadRequest reports an event the consumer cannot process.
type deadRequest struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// dead checks a dead report and applies it to inst; invalid input changes
// nothing.
func (s *Server) dead(ctx context.Context, inst *pull.Instance, in deadRequest) ([]postgres.DeadEvent, error) {
	ve := &herald.ValidationError{}
	if in.ID == "" {
		ve.Add("id", "required", "give the id of the event, as delivered")
	}
	if in.Reason == "" {
		ve.Add("reason", "required", "say why the event cannot be processed")
	} else if utf8.RuneCountInString(in.Reason) > maxReason {
		ve.Add("reason", "maxLength", "give at most %d characters", maxReason)
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return s.pull.Dead(ctx, inst, in.ID, in.Reason)
}

func (s *Server) handleInstanceDead(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.pathInstance(r)
	if err != nil {
		return err
	}
	var in deadRequest
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	dead, err := s.dead(r.Context(), inst, in)
	if err != nil {
		return err
	}
	out := httpjson.List[deadEventJSON]{Data: make([]deadEventJSON, 0, len(dead))}
	for _, d := range dead {
		out.Data = append(out.Data, toDeadEventJSON(d, inst.Group.Name))
	}
	httpjson.Write(w, http.StatusCreated, out)
	return nil
}

// handleDeadEventList lists the caller's dead events, newest first,
// narrowed by group (name), type and time of the report.
func (s *Server) handleDeadEventList(w http.ResponseWriter, r *http.Request) error {
	owner, err := groupConsumer(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ve := &herald.ValidationError{}
	f := postgres.DeadEventFilter{Type: q.Get("type"), Limit: 100}
	names := map[uuid.UUID]string{}
	if name := q.Get("group"); name != "" {
		g, err := s.store.ConsumerGroupGet(r.Context(), owner.ID, name)
		if err != nil {
			return err
		}
		f.GroupID, names[g.ID] = g.ID, g.Name
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				ve.Add(p.name, "format", "must be an RFC 3339 time")
			}
			*p.to = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			ve.Add("limit", "range", "must be a whole number from 1 to 1000")
		}
		f.Limit = n
	}
	if err := ve.Err(); err != nil {
		return err
	}
	dead, err := s.store.DeadEventList(r.Context(), owner.ID, f)
	if err != nil {
		return err
	}
	out := httpjson.List[deadEventJSON]{Data: make([]deadEventJSON, 0, len(dead))}
	for _, d := range dead {
		if _, ok := names[d.GroupID]; !ok && d.GroupID != uuid.Nil {
			if g, err := s.store.ConsumerGroupByID(r.Context(), d.GroupID); err == nil {
				names[d.GroupID] = g.Name
			}
		}
		out.Data = append(out.Data, toDeadEventJSON(d, names[d.GroupID]))
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// handleDeadEventRedrive puts one of the caller's dead events back in
// front of its group.
func (s *Server) handleDeadEventRedrive(w http.ResponseWriter, r *http.Request) error {
	owner, err := groupConsumer(r)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return herald.NotFound("dead event %q", chi.URLParam(r, "id"))
	}
	if err := s.store.DeadEventRedrive(r.Context(), owner.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
