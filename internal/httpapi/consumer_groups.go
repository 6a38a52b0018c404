package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
)

// GroupStarter creates consumer groups, moves them and deletes them,
// queueing the backfills their start positions need and the purge of a
// deleted group's log (queue.Queue).
type GroupStarter interface {
	CreateGroup(ctx context.Context, g *herald.ConsumerGroup, start herald.Start) error
	SeekGroup(ctx context.Context, g *herald.ConsumerGroup, start herald.Start) error
	DeleteGroup(ctx context.Context, id uuid.UUID) error
	// PurgeDeletedGroups queues the purge of the logs of groups deleted
	// with their client or tenant.
	PurgeDeletedGroups(ctx context.Context) error
}

// purgeDeletedGroups starts the purge of the logs of the groups a client or
// tenant delete took with it. The delete stands either way: a purge not
// queued now is queued by the next maintenance run.
func (s *Server) purgeDeletedGroups(ctx context.Context) {
	if err := s.groups.PurgeDeletedGroups(ctx); err != nil {
		s.logger.Warn("queue purge of deleted groups' logs; the maintenance run will", "err", err)
	}
}

// groupJSON is a consumer group as the API shows it. Sequences are strings
// of 20 digits, so they sort as strings.
type groupJSON struct {
	Name            string               `json:"name"`
	Types           []string             `json:"types"`
	Filter          json.RawMessage      `json:"filter,omitempty"`
	AckWait         string               `json:"ack_wait"`
	CreatedSequence string               `json:"created_sequence"`
	Backfill        *backfillJSON        `json:"backfill,omitempty"`
	Partitions      []groupPartitionJSON `json:"partitions"`
	CreatedAt       time.Time            `json:"created_at"`
}

// backfillJSON is the part of the log a group is still writing from stored
// events: after cursor, up to to.
type backfillJSON struct {
	Cursor string `json:"cursor"`
	To     string `json:"to"`
}

type groupPartitionJSON struct {
	Partition int    `json:"partition"`
	AckedUpto string `json:"acked_upto"`
	Last      string `json:"last"`
	Lag       int64  `json:"lag"`
	LagExact  bool   `json:"lag_exact"`
}

func toGroupJSON(g *herald.ConsumerGroup, parts []herald.GroupPartition) groupJSON {
	out := groupJSON{Name: g.Name, Types: g.Types, Filter: json.RawMessage(g.Filter), AckWait: herald.ShortDuration(g.AckWait),
		CreatedSequence: herald.FormatSeq(g.CreatedSeq), CreatedAt: g.CreatedAt, Partitions: []groupPartitionJSON{}}
	if g.Backfill != nil {
		out.Backfill = &backfillJSON{Cursor: herald.FormatSeq(g.Backfill.Cursor), To: herald.FormatSeq(g.Backfill.To)}
	}
	for _, p := range parts {
		out.Partitions = append(out.Partitions, groupPartitionJSON{Partition: p.Partition,
			AckedUpto: herald.FormatSeq(p.AckedUpto), Last: herald.FormatSeq(p.Last), Lag: p.Lag, LagExact: p.LagExact})
	}
	return out
}

// groupNameRE is what a group name may be: it appears in paths and in the
// consume endpoints' query strings, so it needs no escaping.
var groupNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// groupConsumer is the caller as the owner of consumer groups: groups are
// a consumer client's own.
func groupConsumer(r *http.Request) (*herald.Client, error) {
	c := principal(r).Client
	if !c.Has(herald.RoleConsumer) {
		return nil, herald.Forbidden("consumer groups belong to consumer clients; client %s has no consumer role", c.Key)
	}
	return c, nil
}

// parseStart reads a start position: "new", "all", {"sequence": N} (N a
// number or a string of digits, as sequences are shown) or {"time": "RFC
// 3339"}. field names it in problems.
func parseStart(ve *herald.ValidationError, field string, raw json.RawMessage) herald.Start {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return herald.Start{Kind: herald.StartNew}
	}
	var word string
	if json.Unmarshal(raw, &word) == nil {
		switch herald.StartKind(word) {
		case herald.StartNew, herald.StartAll:
			return herald.Start{Kind: herald.StartKind(word)}
		}
		ve.Add(field, "enum", `must be "new", "all", {"sequence": N} or {"time": "RFC 3339"}`)
		return herald.Start{}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || len(obj) != 1 {
		ve.Add(field, "enum", `must be "new", "all", {"sequence": N} or {"time": "RFC 3339"}`)
		return herald.Start{}
	}
	if v, ok := obj["sequence"]; ok {
		seq, ok := parseSequence(v)
		if !ok || seq < 1 {
			ve.Add(field+".sequence", "minimum", "must be a sequence number of at least 1")
			return herald.Start{}
		}
		return herald.Start{Kind: herald.StartSequence, Sequence: seq}
	}
	if v, ok := obj["time"]; ok {
		var t time.Time
		if json.Unmarshal(v, &t) != nil {
			ve.Add(field+".time", "format", "must be an RFC 3339 time")
			return herald.Start{}
		}
		return herald.Start{Kind: herald.StartTime, Time: t.UTC()}
	}
	ve.Add(field, "enum", `must be "new", "all", {"sequence": N} or {"time": "RFC 3339"}`)
	return herald.Start{}
}

// parseAckWait reads a group's ack wait: a Go duration from 1s to 12h.
func parseAckWait(ve *herald.ValidationError, s string) time.Duration {
	if s == "" {
		return herald.DefaultAckWait
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		ve.Add("ack_wait", "format", `must be a duration such as "30s" or "2m"`)
		return 0
	}
	if d < time.Second || d > 12*time.Hour {
		ve.Add("ack_wait", "range", "must be from 1s to 12h")
	}
	return d
}

func (s *Server) handleGroupCreate(w http.ResponseWriter, r *http.Request) error {
	owner, err := groupConsumer(r)
	if err != nil {
		return err
	}
	var in struct {
		Name    string          `json:"name"`
		Types   []string        `json:"types"`
		Filter  json.RawMessage `json:"filter"`
		Start   json.RawMessage `json:"start"`
		AckWait string          `json:"ack_wait"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	ve := &herald.ValidationError{}
	if !groupNameRE.MatchString(in.Name) {
		ve.Add("name", "format", "give 1 to 100 letters, digits, '_', '-' or '.'")
	}
	if in.Types == nil {
		in.Types = []string{">"} // every type the client may consume
	}
	if err := s.checkEndpointFields(r, ve, owner, nil, in.Types); err != nil {
		return err
	}
	flt := checkFilter(ve, in.Filter)
	start := parseStart(ve, "start", in.Start)
	ackWait := parseAckWait(ve, in.AckWait)
	if err := ve.Err(); err != nil {
		return err
	}
	g := &herald.ConsumerGroup{ID: uuid.New(), TenantID: owner.TenantID, ClientID: owner.ID, Name: in.Name,
		Types: in.Types, Filter: flt, AckWait: ackWait}
	if err := s.groups.CreateGroup(r.Context(), g, start); err != nil {
		return err
	}
	s.catalog.Invalidate()
	return s.writeGroup(w, r, http.StatusCreated, g)
}

func (s *Server) writeGroup(w http.ResponseWriter, r *http.Request, status int, g *herald.ConsumerGroup) error {
	parts, err := s.store.GroupPartitions(r.Context(), g.ID)
	if err != nil {
		return err
	}
	httpjson.Write(w, status, toGroupJSON(g, parts))
	return nil
}

// ensureDefaultGroup makes the client's default group the first time it is
// asked for: every type the client may consume, from the end of the log.
func (s *Server) ensureDefaultGroup(ctx context.Context, c *herald.Client) error {
	if _, err := s.store.ConsumerGroupGet(ctx, c.ID, herald.DefaultGroup); !errors.Is(err, herald.ErrNotFound) {
		return err
	}
	g := &herald.ConsumerGroup{ID: uuid.New(), TenantID: c.TenantID, ClientID: c.ID, Name: herald.DefaultGroup,
		Types: []string{">"}, AckWait: herald.DefaultAckWait}
	err := s.groups.CreateGroup(ctx, g, herald.Start{Kind: herald.StartNew})
	if errors.Is(err, herald.ErrConflict) {
		return nil // made meanwhile by another request
	}
	s.catalog.Invalidate()
	return err
}

func (s *Server) handleGroupList(w http.ResponseWriter, r *http.Request) error {
	var owner *herald.Client
	if id := r.URL.Query().Get("client"); id != "" {
		// A tenant admin reads a consumer's groups and their lag (the
		// console); nothing is created for it.
		cid, err := uuid.Parse(id)
		if err != nil {
			return herald.Invalid("client", "format", "must be a client id")
		}
		c, err := s.store.ClientGet(r.Context(), cid)
		if err != nil || !principal(r).IsAdminOf(c.TenantID) {
			return herald.NotFound("client %s", cid)
		}
		owner = c
	} else {
		var err error
		if owner, err = groupConsumer(r); err != nil {
			return err
		}
		if err := s.ensureDefaultGroup(r.Context(), owner); err != nil {
			return err
		}
	}
	gs, err := s.store.ConsumerGroupList(r.Context(), owner.ID)
	if err != nil {
		return err
	}
	out := httpjson.List[groupJSON]{Data: make([]groupJSON, 0, len(gs))}
	for _, g := range gs {
		parts, err := s.store.GroupPartitions(r.Context(), g.ID)
		if err != nil {
			return err
		}
		out.Data = append(out.Data, toGroupJSON(g, parts))
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// pathGroup loads the caller's group named in the path; a name the caller
// does not have is not found, whoever else has it.
func (s *Server) pathGroup(r *http.Request) (*herald.ConsumerGroup, error) {
	owner, err := groupConsumer(r)
	if err != nil {
		return nil, err
	}
	return s.ownGroup(r.Context(), owner, chi.URLParam(r, "name"))
}

// ownGroup loads the owner's group of that name, making the default group
// the first time it is asked for.
func (s *Server) ownGroup(ctx context.Context, owner *herald.Client, name string) (*herald.ConsumerGroup, error) {
	if name == herald.DefaultGroup {
		if err := s.ensureDefaultGroup(ctx, owner); err != nil {
			return nil, err
		}
	}
	return s.store.ConsumerGroupGet(ctx, owner.ID, name)
}

func (s *Server) handleGroupGet(w http.ResponseWriter, r *http.Request) error {
	g, err := s.pathGroup(r)
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, http.StatusOK, g)
}

func (s *Server) handleGroupDelete(w http.ResponseWriter, r *http.Request) error {
	g, err := s.pathGroup(r)
	if err != nil {
		return err
	}
	if err := s.groups.DeleteGroup(r.Context(), g.ID); err != nil {
		return err
	}
	s.catalog.Invalidate()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleGroupSeek(w http.ResponseWriter, r *http.Request) error {
	g, err := s.pathGroup(r)
	if err != nil {
		return err
	}
	var in struct {
		Start json.RawMessage `json:"start"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	ve := &herald.ValidationError{}
	if len(in.Start) == 0 {
		ve.Add("start", "required", `give where to move to: "new", "all", {"sequence": N} or {"time": "RFC 3339"}`)
	}
	start := parseStart(ve, "start", in.Start)
	if err := ve.Err(); err != nil {
		return err
	}
	if err := s.groups.SeekGroup(r.Context(), g, start); err != nil {
		return err
	}
	return s.writeGroup(w, r, http.StatusOK, g)
}
