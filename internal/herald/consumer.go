package herald

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// DefaultGroup is the consumer group every consumer client has: it is made
// the first time the client asks for its groups (or names it), reading from
// then on every type the client may consume. A client that wants its
// default group to start elsewhere creates it by name first.
const DefaultGroup = "default"

// DefaultAckWait is how long a delivered, unacknowledged event waits before
// it is delivered again, unless the group says otherwise.
const DefaultAckWait = 30 * time.Second

// ConsumerGroup is a consumer client's durable cursor over the events it may
// consume, narrowed by type patterns and a filter. Routing treats it as a
// receiver, like an endpoint: ingest writes one group log row per event it
// reaches, in the event's partition.
type ConsumerGroup struct {
	ID       uuid.UUID
	TenantID uuid.UUID
	// ClientID is the consumer client; names are unique per client.
	ClientID uuid.UUID
	Name     string
	// Types are type names or patterns ("*", ">"), as for endpoints.
	Types []string
	// Filter is the filter document (canonical JSON) or nil.
	Filter  []byte
	AckWait time.Duration
	// CreatedSeq is the log head when the group was made: ingest routes
	// every later event to it.
	CreatedSeq int64
	// LogFrom: the group's log holds every event it receives with a larger
	// sequence, once any backfill is done.
	LogFrom int64
	// Backfill is the range still being written from the stored events
	// (nil when none is under way).
	Backfill  *Backfill
	CreatedAt time.Time
}

// Backfill is a group log range being written from stored events:
// (Cursor, To].
type Backfill struct {
	Cursor, To int64
}

// LagCap is the most events of one partition's log a lag counts. Counting
// is a walk of the log's primary key, so an uncapped count would cost as
// much as the backlog is long, on every listing of the groups; past the
// cap the lag says "at least LagCap" (GroupPartition.LagExact false).
// Sequence numbers are shared by every group, so the distance from the
// cursor to the last sequence is no count at all (Kafka's offsets are
// dense per partition, Herald's are not).
const LagCap = 10_000

// GroupPartition is one partition of a group: its cursor (everything up to
// AckedUpto is consumed), the last sequence in its log, and how many events
// of its log lie past the cursor: exactly, when LagExact, or at least Lag
// (which is then LagCap).
type GroupPartition struct {
	Partition int
	AckedUpto int64
	Last      int64
	Lag       int64
	LagExact  bool
}

// StartKind says where a consumer group starts reading (or a seek moves it).
type StartKind string

// The start positions of issue 11.
const (
	StartNew      StartKind = "new"
	StartAll      StartKind = "all"
	StartSequence StartKind = "sequence"
	StartTime     StartKind = "time"
)

// Start is a start position: new (only events after now), all (every
// stored event), a sequence (that event and later ones) or a time (events
// from the first one received at or after it, in log order).
type Start struct {
	Kind     StartKind
	Sequence int64
	Time     time.Time
}

// FormatSeq renders a sequence number as consumers see it: zero-padded to
// 20 digits, so it sorts as a string.
func FormatSeq(seq int64) string { return fmt.Sprintf("%020d", seq) }

// FormatReceivedAt renders the time Herald received an event as consumers
// see it, on every channel: RFC 3339 in UTC with milliseconds.
func FormatReceivedAt(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
