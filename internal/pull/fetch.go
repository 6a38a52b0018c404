package pull

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/jsoncheck"
	"github.com/heraldhq/herald/internal/postgres"
)

// The CloudEvents extension attributes a pull delivery carries (extension
// names are lowercase letters and digits only): the event's sequence,
// zero-padded to 20 digits so it sorts as a string, its partition in the
// group, and the time Herald received it (RFC 3339, UTC, milliseconds).
// They replace producer attributes of the same names.
const (
	ExtSequence   = "sequence"
	ExtPartition  = "partition"
	ExtReceivedAt = "receivedat"
)

// recheck bounds how long a following instance goes by its estimate of
// the events it has in flight without asking the database.
const recheck = 100 * time.Millisecond

// Delivery is an event handed to an instance.
type Delivery struct {
	Partition  int
	Seq        int64
	EventID    uuid.UUID
	ReceivedAt time.Time
	// Deliveries counts the times the event was handed out in the group,
	// this one included.
	Deliveries int
	// Event is the event in the CloudEvents JSON format, with the
	// extensions above; a thin type's event is its notification.
	Event []byte
}

// Notice kinds: what an instance is told besides events. A WebSocket
// sends each as a JSON text frame; a long poll answers them in
// Herald-Notice headers.
const (
	// NoticeGap: events the cursor had not reached were removed by
	// retention; the group continues at FirstAvailable.
	NoticeGap = "gap"
	// NoticeAssigned and NoticeRevoked: partitions moved to or away from
	// the instance (an instance joined, left or expired).
	NoticeAssigned = "partitions_assigned"
	NoticeRevoked  = "partitions_revoked"
)

// Notice is something an instance is told besides events. Its JSON form
// is what consumers get (a WebSocket frame, a Herald-Notice header):
// never a "specversion", so it is not mistaken for an event.
type Notice struct {
	Notice string `json:"notice"`
	// Partition is the partition of a gap.
	Partition *int `json:"partition,omitempty"`
	// FirstMissing and FirstAvailable bound a gap: the first sequence the
	// group had not read that is gone, and the sequence it continues at
	// (empty when nothing is kept past the gap yet).
	FirstMissing   string `json:"first_missing,omitempty"`
	FirstAvailable string `json:"first_available,omitempty"`
	// Partitions are the partitions assigned or revoked.
	Partitions []int `json:"partitions,omitempty"`
}

// Batch is what one fetch hands an instance.
type Batch struct {
	Events  []Delivery
	Notices []Notice
}

// Empty reports whether the batch has neither events nor notices.
func (b Batch) Empty() bool { return len(b.Events) == 0 && len(b.Notices) == 0 }

// Fetch hands the instance up to max events of the partitions it holds:
// those due again first, then new ones in log order. It returns none when
// there is nothing, or when the instance has MaxInFlight unacknowledged
// events. Idle instances of the group expire here, so their partitions and
// events pass to the callers that are still there. Where retention removed
// events the group had not read, the batch carries a gap notice, once per
// gap, and the partition continues at the oldest event kept.
func (e *Engine) Fetch(ctx context.Context, inst *Instance, max int) (Batch, error) {
	b, held, err := e.fetch(ctx, inst, max)
	if err != nil {
		return Batch{}, err
	}
	if inst.watch {
		// The partitions held when the fetch locked them: the events
		// handed out are of those, and a later move is told by the next
		// fetch.
		b.Notices = append(b.Notices, inst.partitionNotices(held)...)
	}
	return b, nil
}

// partitionNotices compares the partitions the instance holds now with
// those it was last told of: the ones it lost are revoked, and when
// anything changed (and it holds any) the whole set it holds is assigned.
func (i *Instance) partitionNotices(now []int) []Notice {
	if slices.Equal(now, i.held) {
		return nil
	}
	var ns []Notice
	var lost []int
	for _, p := range i.held {
		if !slices.Contains(now, p) {
			lost = append(lost, p)
		}
	}
	if len(lost) > 0 {
		ns = append(ns, Notice{Notice: NoticeRevoked, Partitions: lost})
	}
	if len(now) > 0 {
		ns = append(ns, Notice{Notice: NoticeAssigned, Partitions: now})
	}
	i.held = now
	return ns
}

func (e *Engine) fetch(ctx context.Context, inst *Instance, max int) (Batch, []int, error) {
	// The fetch records the instance alive in its own transaction, and
	// then also looks for the group's expired instances: as often as the
	// instance records it is alive, as the others do (the sweeper covers
	// groups nobody fetches from).
	touch := e.touchIn(inst)
	lim := postgres.FetchLimits{Max: max, MaxInFlight: e.cfg.MaxInFlight, AckWait: inst.Group.AckWait, Touch: touch.TTL}
	inst.skipped = false
	if inst.woken != nil {
		// A connection that follows the group reads as fast as it acks:
		// refill it by a quarter of its window, not by every ack. Half
		// made fewer, larger fetches, but the consumer then sat idle
		// while each one ran (measured: 17,000 against 22,000 events/s).
		lim.MinRoom = min(max, e.cfg.MaxInFlight/4)
		// Every ack wakes it, and most leave too little room: a fetch
		// would take its locks and commit durably for nothing. What it
		// has in flight is known well enough from its last fetch and the
		// acks since; the database is asked again after recheck at the
		// latest, for what the estimate cannot see (events due again,
		// acks through another connection).
		if est := inst.inFlight.Load(); est > 0 && int64(lim.MaxInFlight)-est < int64(lim.MinRoom) &&
			time.Since(inst.checked) < recheck {
			inst.skipped = true
			return Batch{}, inst.fetchedHeld, nil
		}
	}
	res, err := e.store.GroupFetch(ctx, inst.Group.ID, inst.ID, lim)
	if err != nil {
		return Batch{}, nil, err
	}
	e.touched(inst, touch)
	if res.Expired {
		// Their partitions and events pass to the instances still there,
		// this one included: it reads again for what is left of max.
		if err := e.membership(ctx, inst.Group.ID, nil); err != nil {
			return Batch{}, nil, err
		}
		lim.Max, lim.Touch = max-len(res.Events), 0
		more, err := e.store.GroupFetch(ctx, inst.Group.ID, inst.ID, lim)
		if err != nil {
			return Batch{}, nil, err
		}
		res.Events, res.Gaps = append(res.Events, more.Events...), append(res.Gaps, more.Gaps...)
		res.Held, res.InFlight = more.Held, more.InFlight
	}
	inst.fetchedHeld, inst.checked = res.Held, time.Now()
	inst.inFlight.Store(int64(res.InFlight))
	var b Batch
	gaps := res.Gaps
	if len(res.Events) > 0 {
		var gone []postgres.Fetched
		if b.Events, gone, err = e.renderAll(ctx, res.Events); err != nil {
			return Batch{}, nil, err
		}
		if len(gone) > 0 {
			more, err := e.store.GroupSkipGone(ctx, inst.Group.ID, gone)
			if err != nil {
				return Batch{}, nil, err
			}
			gaps = append(gaps, more...)
		}
	}
	for _, g := range gaps {
		b.Notices = append(b.Notices, gapNotice(g))
	}
	return b, res.Held, nil
}

// gapNotice is what an instance is told of a gap.
func gapNotice(g postgres.Gap) Notice {
	p := g.Partition
	n := Notice{Notice: NoticeGap, Partition: &p, FirstMissing: herald.FormatSeq(g.FirstMissing)}
	if g.FirstAvailable > 0 {
		n.FirstAvailable = herald.FormatSeq(g.FirstAvailable)
	}
	return n
}

// renderAll renders the events of fetched rows; rows whose stored event
// is gone (removed by retention since it was logged) come back apart.
func (e *Engine) renderAll(ctx context.Context, rows []postgres.Fetched) (out []Delivery, gone []postgres.Fetched, err error) {
	out = make([]Delivery, 0, len(rows))
	for _, r := range rows {
		if r.Body == nil {
			gone = append(gone, r)
			continue
		}
		body, err := e.render(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, Delivery{Partition: r.Partition, Seq: r.Seq, EventID: r.EventID, ReceivedAt: r.ReceivedAt,
			Deliveries: r.Deliveries, Event: body})
	}
	return out, gone, nil
}

// render makes a stored event what a pull consumer gets: what push
// channels carry (thin types thin, through the same step as webhooks) with
// its place in the log as extensions.
func (e *Engine) render(ctx context.Context, r postgres.Fetched) ([]byte, error) {
	body := r.Body
	if e.cfg.PushBody != nil {
		b, err := e.cfg.PushBody(ctx, r.EventID, r.Type, body)
		if err != nil {
			return nil, fmt.Errorf("render event %s: %w", r.EventID, err)
		}
		body = b
	}
	if out, ok := appendPlace(body, r); ok {
		return out, nil
	}
	return e.renderParsed(body, r)
}

// renderParsed is render by a full parse of the stored event.
func (e *Engine) renderParsed(body []byte, r postgres.Fetched) ([]byte, error) {
	ce, err := cloudevents.ParseStored(body)
	if err != nil {
		return nil, fmt.Errorf("render event %s: %w", r.EventID, err)
	}
	if ce.Extensions == nil {
		ce.Extensions = make(map[string]any, 3)
	}
	ce.Extensions[ExtSequence] = herald.FormatSeq(r.Seq)
	ce.Extensions[ExtPartition] = int32(r.Partition)
	ce.Extensions[ExtReceivedAt] = herald.FormatReceivedAt(r.ReceivedAt)
	out, err := ce.MarshalStructured()
	if err != nil {
		return nil, fmt.Errorf("render event %s: %w", r.EventID, err)
	}
	return out, nil
}

// appendPlace is render's fast way for the common event, which has no
// attributes of the extensions' names: it checks the stored event is a
// well-formed JSON object, then writes the extensions before its closing
// brace, without decoding it. It reports false when the event has a
// member of one of those names (however its name is escaped) or is not a
// well-formed non-empty object; the full parse then renders it, or says
// what is wrong.
func appendPlace(body []byte, r postgres.Fetched) ([]byte, bool) {
	// One pass checks the whole text and looks at the top-level names;
	// repeated names are not looked for (the stored event was checked for
	// them at ingest, and the full parse would not look either).
	var rd jsoncheck.Reader
	rd.Reset(body, jsoncheck.Options{})
	members := 0
	for {
		k, err := rd.Next()
		if err != nil {
			return nil, false
		}
		if k == jsoncheck.KindEnd {
			break
		}
		if k != jsoncheck.KindName || rd.Depth() != 1 {
			continue
		}
		members++
		switch string(rd.Name()) {
		case ExtSequence, ExtPartition, ExtReceivedAt:
			return nil, false
		}
	}
	obj := jsoncheck.TrimSpace(body)
	if members == 0 || obj[0] != '{' {
		return nil, false
	}
	out := make([]byte, 0, len(obj)+96)
	out = append(out, obj[:len(obj)-1]...)
	out = append(out, `,"`+ExtPartition+`":`...)
	out = strconv.AppendInt(out, int64(r.Partition), 10)
	out = append(out, `,"`+ExtReceivedAt+`":"`...)
	out = append(out, herald.FormatReceivedAt(r.ReceivedAt)...)
	out = append(out, `","`+ExtSequence+`":"`...)
	out = append(out, herald.FormatSeq(r.Seq)...)
	out = append(out, `"}`...)
	return out, true
}
