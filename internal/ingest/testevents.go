package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/jsoncheck"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/queue"
)

// TestExtension is the CloudEvents extension that marks a consumer's test
// event. It is part of the stored event, so every channel shows it as it
// shows any extension: in the JSON of pull deliveries and structured
// webhooks, as the ce-test header of binary ones.
const TestExtension = "test"

// RuleConsumer names the rule refusing a test event of a type its sender
// may not consume.
const RuleConsumer = "consumer"

// IngestTest stores a consumer's test event (POST /v1/test-events): checked
// like any event (its type registered, its data against the schema), of a
// type the consumer client may consume, marked with the test extension
// and addressed to the client, so that routing (catalog.Snapshot.Receivers)
// sends it to that client's endpoints and consumer groups only. It belongs
// to the consumer's tenant and is written by the same committer as
// producers' events.
func (s *Service) IngestTest(ctx context.Context, p herald.Principal, ev *cloudevents.Event) (Stored, error) {
	if ev.Extensions == nil {
		ev.Extensions = map[string]any{}
	}
	ev.Extensions[TestExtension] = true
	items, err := s.check(ctx, p, []*cloudevents.Event{ev}, func(te *catalog.TypeEntry, ev *cloudevents.Event) *Problem {
		if te.Type.MayConsume(p.Client, p.PlatformAdmin) {
			return nil
		}
		return &Problem{Field: "type", Rule: RuleConsumer,
			Detail: fmt.Sprintf("client %s does not consume events of type %q; test events are of types it consumes", p.Client.Key, ev.Type)}
	})
	if err != nil {
		return Stored{}, err
	}
	items[0].event.AddressedTo = p.Client.ID
	stored, err := s.submit(ctx, items)
	if err != nil {
		return Stored{}, err
	}
	return stored[0], nil
}

// address records in tx who the new addressed events (test events) among
// rows are addressed to; seqs holds the new ones.
func (s *Service) address(ctx context.Context, tx pgx.Tx, rows *postgres.IngestRows, seqs map[uuid.UUID]int64) error {
	for _, ev := range rows.Events {
		if _, isNew := seqs[ev.ID]; !isNew || ev.AddressedTo == uuid.Nil {
			continue
		}
		if err := s.store.EventAddress(ctx, tx, ev.ID, ev.ReceivedAt, ev.AddressedTo); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
	}
	return nil
}

// TestSample shapes a test send: an event of a type the endpoint receives,
// with sample data (validated against the type's schema). The zero value
// sends Herald's own herald.endpoint.test event.
type TestSample struct {
	Type string
	Data json.RawMessage
}

// SendTest stores a test event and delivers it to one endpoint only, through
// the normal queue (signature, auth, content mode, a thin type's
// notification, retries and the attempt log included), so a partner can
// check their receiver. The event is addressed to the endpoint: routing
// never sends it anywhere else, and a sample is sent only if the endpoint
// receives it (its types, filter and consume rights). It returns the
// delivery's id.
func (s *Service) SendTest(ctx context.Context, p herald.Principal, ep *herald.Endpoint, sample TestSample) (uuid.UUID, error) {
	snap, err := s.catalog.Get(ctx)
	if err != nil {
		return uuid.Nil, fmt.Errorf("test event: catalog: %w", err)
	}
	now := herald.Now()
	id := herald.NewID(now)
	ce := &cloudevents.Event{
		ID: id.String(), Source: "/herald/test", SpecVersion: cloudevents.SpecVersion, Type: herald.TestEventType,
		DataContentType: "application/json", Time: now,
		Data: []byte(fmt.Sprintf(`{"message":"This is a test event from Herald.","endpoint":%q}`, ep.ID)),
	}
	version := 0
	var te *catalog.TypeEntry
	if sample.Type != "" {
		if te = snap.Type(sample.Type); te == nil {
			return uuid.Nil, herald.Invalid("type", "unknown-type", "event type %q is not registered", sample.Type)
		}
		if jsoncheck.Check(sample.Data) != nil {
			return uuid.Nil, herald.Invalid("data", "json", "must be a JSON value")
		}
		ce.Type, ce.Data, version = sample.Type, sample.Data, te.Type.Version
	}
	if !snap.Receives(catalog.Event{Type: ce.Type, TenantID: ep.TenantID, To: ep.ID, Attrs: catalog.CloudEvent(ce)}, ep.ID) {
		return uuid.Nil, herald.Invalid("type", catalog.RuleNotReceived,
			"endpoint %s does not receive %q: its types, filter or its client's consume rights exclude it", ep.ID, ce.Type)
	}
	if te != nil {
		if err := checkSample(ctx, te, sample.Data); err != nil {
			return uuid.Nil, err
		}
	}
	body, err := ce.MarshalStructured()
	if err != nil {
		return uuid.Nil, fmt.Errorf("test event: %w", err)
	}
	ev := &herald.Event{ID: id, ReceivedAt: now, TenantID: ep.TenantID, ProducerID: p.Client.ID, Type: ce.Type,
		Source: ce.Source, CEID: ce.ID, TypeVersion: version, Body: body}
	d := &herald.Delivery{ID: herald.NewID(now), CreatedAt: now, EventID: id, EndpointID: ep.ID, TenantID: ep.TenantID,
		Status: herald.DeliveryPending}
	rows := &postgres.IngestRows{ReceivedAt: now, Events: []*herald.Event{ev}, Deliveries: []*herald.Delivery{d},
		Keys: []postgres.EventKey{{TenantID: ep.TenantID, Source: ce.Source, CEID: ce.ID, EventID: id, ReceivedAt: now}}}
	var claim *queue.Claim
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, _, err := s.store.IngestWrite(ctx, tx, rows); err != nil {
			return err
		}
		if err := s.store.EventAddress(ctx, tx, id, now, ep.ID); err != nil {
			return err
		}
		claim, err = s.enqueue(ctx, tx, []river.InsertManyParams{{Args: queue.DeliverArgs{DeliveryID: d.ID, CreatedAt: now}}})
		return err
	})
	if err != nil {
		claim.Cancel()
		return uuid.Nil, fmt.Errorf("test event: %w", err)
	}
	claim.Start()
	return d.ID, nil
}

// CheckData checks sample data against the current schema of a type, as
// an event's data is checked, and stores nothing: the console's "try a
// sample" and POST /v1/event-types/{type}/validate.
func (s *Service) CheckData(ctx context.Context, typ string, data json.RawMessage) error {
	if jsoncheck.Check(data) != nil {
		return herald.Invalid("data", "json", "must be a JSON value")
	}
	snap, err := s.catalog.Get(ctx)
	if err != nil {
		return err
	}
	te := snap.Type(typ)
	if te == nil {
		return herald.NotFound("event type %q", typ)
	}
	return checkSample(ctx, te, data)
}

// checkSample checks a test sample's data against its type's schema.
func checkSample(ctx context.Context, te *catalog.TypeEntry, data json.RawMessage) error {
	if te.AnyData {
		return nil
	}
	sch, err := te.Schema(ctx)
	if errors.Is(err, catalog.ErrSchemaBroken) {
		return herald.Invalid("type", "schema", "the schema of type %q cannot be used; ask its owner to fix it", te.Type.Name)
	}
	if err != nil {
		return fmt.Errorf("test event: %w", err)
	}
	ve := &herald.ValidationError{}
	for _, v := range sch.Validate(data) {
		ve.Add("data"+trimDollar(v.Path), v.Rule, "%s", v.Message)
	}
	return ve.Err()
}

// OperationalTypes lists Herald's own event types (see herald.OpEndpointDisabled),
// which app registers at start.
var OperationalTypes = []string{herald.OpEndpointDisabled, herald.OpEndpointVerified, herald.OpDeliveryExhausted,
	herald.OpDeliveryRecovered}
