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

// deadEventJSON is an event in a dead-event store: a pull consumer's
// report (channel "pull", with group and partition) or a webhook delivery
// that failed for good (channel "webhook", with endpoint and delivery).
type deadEventJSON struct {
	ID         string    `json:"id"`
	Channel    string    `json:"channel"`
	Group      string    `json:"group,omitempty"`
	Partition  *int      `json:"partition,omitempty"`
	Endpoint   string    `json:"endpoint,omitempty"`
	DeliveryID string    `json:"delivery_id,omitempty"`
	EventID    string    `json:"event_id"`
	Sequence   string    `json:"sequence"`
	Type       string    `json:"type"`
	Reason     string    `json:"reason"`
	ReceivedAt time.Time `json:"received_at"`
	CreatedAt  time.Time `json:"created_at"`
}

func toDeadEventJSON(d postgres.DeadEvent, group string) deadEventJSON {
	out := deadEventJSON{ID: d.ID.String(), Channel: d.Channel, Group: group, EventID: d.EventID.String(),
		Sequence: herald.FormatSeq(d.Seq), Type: d.Type, Reason: d.Reason, ReceivedAt: d.ReceivedAt, CreatedAt: d.CreatedAt}
	if d.Channel == postgres.DeadWebhook {
		out.Endpoint, out.DeliveryID = d.EndpointID.String(), d.DeliveryID.String()
	} else {
		out.Partition = &d.Partition
	}
	return out
}

// deadEventScope is whose dead events the caller sees: a client its own
// (its groups' reports, its endpoints' failed deliveries), an admin of
// its tenant also every webhook dead event of the tenant, as for
// deliveries (authorizeDelivery). Clients that are neither consumers nor
// admins have none.
func deadEventScope(r *http.Request) (postgres.DeadEventScope, error) {
	p := principal(r)
	c := p.Client
	scope := postgres.DeadEventScope{ClientID: c.ID}
	if p.IsAdminOf(c.TenantID) {
		scope.AdminTenant = c.TenantID
	}
	if !c.Has(herald.RoleConsumer) && scope.AdminTenant == uuid.Nil {
		return scope, herald.Forbidden("dead events belong to consumer clients and tenant admins; client %s is neither", c.Key)
	}
	return scope, nil
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
// narrowed by group (name), endpoint (id), type and time of the report.
func (s *Server) handleDeadEventList(w http.ResponseWriter, r *http.Request) error {
	scope, err := deadEventScope(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ve := &herald.ValidationError{}
	f := postgres.DeadEventFilter{Type: q.Get("type"), Limit: 100}
	names := map[uuid.UUID]string{}
	if name := q.Get("group"); name != "" {
		g, err := s.store.ConsumerGroupGet(r.Context(), scope.ClientID, name)
		if err != nil {
			return err
		}
		f.GroupID, names[g.ID] = g.ID, g.Name
	}
	if v := q.Get("endpoint"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			ve.Add("endpoint", "format", "must be an endpoint id (a UUID)")
		}
		f.EndpointID = id
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
	if httpjson.DecodeCursor(r, &f.After) != nil {
		ve.Add("cursor", "format", "use the next_cursor of the previous page")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	dead, err := s.store.DeadEventList(r.Context(), scope, f)
	if err != nil {
		return err
	}
	out := httpjson.Page[deadEventJSON]{Data: make([]deadEventJSON, 0, len(dead))}
	if len(dead) == f.Limit {
		last := dead[len(dead)-1]
		out.NextCursor = httpjson.EncodeCursor(postgres.PageKey{Time: last.CreatedAt, ID: last.ID})
	}
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

// handleDeadEventRedrive brings one of the caller's dead events back: a
// pull consumer's in front of its group, a webhook delivery's by retrying
// it (the retry of POST /v1/deliveries/{id}/retry, which also takes it out
// of the store).
func (s *Server) handleDeadEventRedrive(w http.ResponseWriter, r *http.Request) error {
	scope, err := deadEventScope(r)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return herald.NotFound("dead event %q", chi.URLParam(r, "id"))
	}
	d, err := s.store.DeadEventGet(r.Context(), scope, id)
	if err != nil {
		return err
	}
	if d.Channel == postgres.DeadWebhook {
		_, err = s.retrier.Retry(r.Context(), d.DeliveryID, func(dl *herald.Delivery) error { return s.authorizeDelivery(r, dl) })
	} else {
		err = s.store.DeadEventRedrive(r.Context(), scope.ClientID, id)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
