package ingest

import (
	"time"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// routeRows fills rows with what routing gives each event (sources are the
// parsed events, parallel to rows.Events): a delivery per endpoint, a run
// per connector, a group log row per consumer group, in the event's
// partition. It returns orderedBy extended with each delivery's ordering
// key ("" for endpoints that are not ordered).
func routeRows(snap *catalog.Snapshot, rows *postgres.IngestRows, sources []*cloudevents.Event, orderedBy []string,
	now time.Time) []string {
	rows.Deliveries = rows.Deliveries[:0]
	rows.ConnectorRuns = rows.ConnectorRuns[:0]
	rows.GroupRows = rows.GroupRows[:0]
	for i, ev := range rows.Events {
		rcv := snap.Receivers(catalog.Event{Type: ev.Type, TenantID: ev.TenantID, To: ev.AddressedTo,
			Attrs: catalog.CloudEvent(sources[i])})
		for _, ep := range rcv.Endpoints {
			rows.Deliveries = append(rows.Deliveries, &herald.Delivery{
				ID: herald.NewID(now), CreatedAt: now, EventID: ev.ID, EndpointID: ep.ID,
				TenantID: ep.TenantID, Status: herald.DeliveryPending,
			})
			orderedBy = append(orderedBy, ep.OrderKey(ev.PartitionKey))
		}
		for _, c := range rcv.Connectors {
			rows.ConnectorRuns = append(rows.ConnectorRuns, connectorRun(c, ev, now))
		}
		for _, g := range rcv.Groups {
			rows.GroupRows = append(rows.GroupRows, postgres.GroupLogRow{GroupID: g.ID, Partition: ev.Partition(),
				EventID: ev.ID})
		}
	}
	return orderedBy
}
