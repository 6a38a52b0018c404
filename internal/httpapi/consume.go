package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/pull"
)

// Long polling: a client creates an instance of a consumer group and reads
// it at base_uri (docs/design/pull-consumers.md).

// BatchContentType is the CloudEvents JSON batch format.
const BatchContentType = "application/cloudevents-batch+json"

// NoticeHeader carries a long poll's notices (pull.Notice, one JSON object
// per header value): a batch holds only events.
const NoticeHeader = "Herald-Notice"

// Bounds of the long poll's query parameters. A wait stays below the
// server's write timeout (60 s).
const (
	maxFetch = 1000
	maxWait  = 50 * time.Second
	maxNack  = 12 * time.Hour
)

// instanceJSON is a created instance: clients call it at base_uri, as
// given.
type instanceJSON struct {
	ID      string `json:"id"`
	Group   string `json:"group"`
	BaseURI string `json:"base_uri"`
}

func (s *Server) handleInstanceCreate(w http.ResponseWriter, r *http.Request) error {
	g, err := s.pathGroup(r)
	if err != nil {
		return err
	}
	inst, err := s.pull.Join(r.Context(), g, pull.KindPoll)
	if err != nil {
		return err
	}
	path := "/v1/consumer-groups/" + g.Name + "/instances/" + inst.ID.String()
	w.Header().Set("Location", path)
	httpjson.Write(w, http.StatusCreated, instanceJSON{ID: inst.ID.String(), Group: g.Name, BaseURI: s.publicURL + path})
	return nil
}

// pathInstance loads the caller's group and the instance named in the
// path; an id that is not an instance is not found like an expired one.
func (s *Server) pathInstance(r *http.Request) (*pull.Instance, error) {
	g, err := s.pathGroup(r)
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(chi.URLParam(r, "instance"))
	if err != nil {
		return nil, herald.InstanceNotFound(chi.URLParam(r, "instance"))
	}
	return &pull.Instance{ID: id, Group: g}, nil
}

func (s *Server) handleInstanceEvents(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.pathInstance(r)
	if err != nil {
		return err
	}
	ve := &herald.ValidationError{}
	max := 100
	if v := r.URL.Query().Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxFetch {
			ve.Add("max", "range", "must be a whole number from 1 to %d", maxFetch)
		}
		max = n
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxWait {
			ve.Add("wait", "range", `must be a duration from "0s" to %q`, herald.ShortDuration(maxWait))
		}
		wait = d
	}
	if err := ve.Err(); err != nil {
		return err
	}
	b, err := s.pull.Wait(r.Context(), inst, max, wait)
	if err != nil && r.Context().Err() != nil {
		return nil // the client left; nobody to answer
	}
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, d := range b.Events {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(d.Event)
	}
	buf.WriteByte(']')
	for _, n := range b.Notices {
		j, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("notice: %w", err)
		}
		w.Header().Add(NoticeHeader, string(j))
	}
	w.Header().Set("Content-Type", BatchContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// parseSequence reads a sequence: a string of digits, as sequences are
// shown, or a number.
func parseSequence(raw json.RawMessage) (int64, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return 0, false
		}
		s = string(n)
	}
	seq, err := strconv.ParseInt(s, 10, 64)
	return seq, err == nil && seq >= 0
}

// checkIDs requires a non-empty list of event ids.
func checkIDs(ve *herald.ValidationError, ids []string) {
	if len(ids) == 0 {
		ve.Add("ids", "required", "give the ids of the events, as delivered")
	}
	if len(ids) > maxFetch {
		ve.Add("ids", "maxItems", "give at most %d ids at a time", maxFetch)
	}
	for _, id := range ids {
		if id == "" {
			ve.Add("ids", "format", "an id is a non-empty string")
			break
		}
	}
}

// The acks, nacks and dead reports of both transports, long poll bodies
// and WebSocket control frames, are these requests, checked and applied by
// the same functions.

// ackRequest acknowledges events by id, or cumulatively up to a sequence
// in a partition.
type ackRequest struct {
	IDs       []string        `json:"ids"`
	Partition *int            `json:"partition"`
	Sequence  json.RawMessage `json:"sequence"`
}

// ack checks an ack and applies it to inst; invalid input changes nothing.
func (s *Server) ack(ctx context.Context, inst *pull.Instance, in ackRequest) error {
	ve := &herald.ValidationError{}
	cumulative := in.Partition != nil || len(in.Sequence) > 0
	switch {
	case cumulative && in.IDs != nil:
		ve.Add("ids", "exclusive", `give either "ids" or "partition" and "sequence", not both`)
	case cumulative:
		if in.Partition == nil || *in.Partition < 0 || *in.Partition >= herald.Partitions {
			ve.Add("partition", "range", "must be a partition from 0 to %d", herald.Partitions-1)
		}
		if _, ok := parseSequence(in.Sequence); !ok {
			ve.Add("sequence", "format", "must be a sequence as delivered, e.g. \"00000000000000001234\"")
		}
	default:
		checkIDs(ve, in.IDs)
	}
	if err := ve.Err(); err != nil {
		return err
	}
	if cumulative {
		seq, _ := parseSequence(in.Sequence)
		return s.pull.AckUpto(ctx, inst, *in.Partition, seq)
	}
	return s.pull.Ack(ctx, inst, in.IDs)
}

// nackRequest gives events back to the group, due again after a delay.
type nackRequest struct {
	IDs   []string `json:"ids"`
	Delay string   `json:"delay"`
}

// nack checks a nack and applies it to inst; invalid input changes nothing.
func (s *Server) nack(ctx context.Context, inst *pull.Instance, in nackRequest) error {
	ve := &herald.ValidationError{}
	checkIDs(ve, in.IDs)
	var delay time.Duration
	if in.Delay != "" {
		d, err := time.ParseDuration(in.Delay)
		if err != nil || d < 0 || d > maxNack {
			ve.Add("delay", "range", `must be a duration from "0s" to %q`, herald.ShortDuration(maxNack))
		}
		delay = d
	}
	if err := ve.Err(); err != nil {
		return err
	}
	return s.pull.Nack(ctx, inst, in.IDs, delay)
}

func (s *Server) handleInstanceAck(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.pathInstance(r)
	if err != nil {
		return err
	}
	var in ackRequest
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	if err := s.ack(r.Context(), inst, in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleInstanceNack(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.pathInstance(r)
	if err != nil {
		return err
	}
	var in nackRequest
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	if err := s.nack(r.Context(), inst, in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleInstanceDelete(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.pathInstance(r)
	if err != nil {
		return err
	}
	if err := s.pull.Leave(r.Context(), inst.Group, inst.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
