package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// check checks the events of one request, all of them: each type
// registered, the caller's right to use it (mayUse returns the problem,
// without index and id, when it has none: a producer's right for ingest,
// a consumer's for its test events), data against the type's schema, and
// attachments. It returns the items to store, or a RejectError with every
// problem.
func (s *Service) check(ctx context.Context, p herald.Principal, events []*cloudevents.Event,
	mayUse func(*catalog.TypeEntry, *cloudevents.Event) *Problem) ([]item, error) {
	snap, err := s.catalog.Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	rej := &RejectError{}
	items := make([]item, len(events))
	for i, ev := range events {
		te := snap.Type(ev.Type)
		if te == nil {
			rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: "type", Rule: "unknown-type",
				Detail: fmt.Sprintf("event type %q is not registered", ev.Type)})
			continue
		}
		if pr := mayUse(te, ev); pr != nil {
			pr.Index, pr.ID = i, ev.ID
			rej.Forbidden = true
			rej.Problems = append(rej.Problems, *pr)
			continue
		}
		if !te.AnyData {
			sch, err := te.Schema(ctx)
			if errors.Is(err, catalog.ErrSchemaBroken) {
				rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: "type", Rule: "schema",
					Detail: fmt.Sprintf("the schema of type %q cannot be used; ask its owner to fix it", ev.Type)})
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("ingest: %w", err)
			}
			data := ev.Data
			if data == nil {
				if ev.DataBase64 != nil || !ev.DataIsJSON() {
					rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: "data", Rule: "json",
						Detail: fmt.Sprintf("type %q has a JSON Schema, so data must be JSON", ev.Type)})
					continue
				}
				data = []byte("null") // no data: the schema decides whether that is allowed
			}
			for _, v := range sch.Validate(data) {
				rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: "data" + trimDollar(v.Path),
					Rule: v.Rule, Detail: v.Message})
			}
		}
		body, err := ev.MarshalStructured()
		if err != nil {
			rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: "", Rule: "encode", Detail: err.Error()})
			continue
		}
		items[i] = item{
			ce:  ev,
			key: postgres.EventKey{TenantID: p.Client.TenantID, Source: ev.Source, CEID: ev.ID},
			event: herald.Event{
				TenantID: p.Client.TenantID, ProducerID: p.Client.ID, Type: ev.Type, Source: ev.Source, CEID: ev.ID,
				Subject: ev.Subject, PartitionKey: ev.PartitionKey(), TypeVersion: te.Type.Version, Body: body,
			},
		}
	}
	if err := s.checkAttachments(ctx, p.Client.TenantID, events, rej); err != nil {
		return nil, err
	}
	if len(rej.Problems) > 0 {
		return nil, rej
	}
	return items, nil
}
