package ingest

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
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
