package postgres_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

// TestEventsAttachFiles: storing events attaches the files their top-level
// "attachments" attribute names (of their tenant, not yet attached), and a
// body the database cannot parse never fails the group commit.
func TestEventsAttachFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	other := createTenant(t, f.store, "other")
	now := herald.Now()
	file := func(tenant uuid.UUID) *herald.File {
		fl := &herald.File{ID: uuid.New(), TenantID: tenant, Name: "f", ContentType: "text/plain", Size: 1,
			SHA256: make([]byte, 32), ExpiresAt: now.Add(time.Hour)}
		if err := f.store.FileCreate(ctx, fl); err != nil {
			t.Fatal(err)
		}
		return fl
	}
	own1, own2, foreign, inData, odd := file(f.tenant.ID), file(f.tenant.ID), file(other.ID), file(f.tenant.ID), file(f.tenant.ID)
	ev := func(ceID, body string) *herald.Event {
		e := newEvent(t, f.tenant.ID, f.client.ID, now, "/shop", ceID)
		e.Body = []byte(body)
		return e
	}
	attached := ev("attached", `{"specversion":"1.0","id":"attached","source":"/shop","type":"com.example.order.created","attachments":"`+
		own1.ID.String()+`, `+own2.ID.String()+`,`+foreign.ID.String()+`","data":{}}`)
	member := ev("member", `{"specversion":"1.0","id":"member","source":"/shop","type":"com.example.order.created","data":{"attachments":"`+
		inData.ID.String()+`"}}`)
	unparsable := ev("odd", `{"specversion":"1.0","id":"odd","source":"/shop","type":"com.example.order.created","attachments":"`+
		odd.ID.String()+`","data":"\ud800 not json`)
	again := ev("again", `{"specversion":"1.0","id":"again","source":"/shop","type":"com.example.order.created","attachments":"`+
		own1.ID.String()+`","data":{}}`)
	if _, _, err := f.store.IngestWrite(ctx, f.pool, ingestRows(now, []*herald.Event{attached, member, unparsable}, f.endpoint)); err != nil {
		t.Fatalf("IngestWrite: %v", err)
	}
	if _, _, err := f.store.IngestWrite(ctx, f.pool, ingestRows(now, []*herald.Event{again}, f.endpoint)); err != nil {
		t.Fatalf("IngestWrite: %v", err)
	}
	tests := []struct {
		name  string
		file  *herald.File
		event uuid.UUID
	}{
		{"first of the list", own1, attached.ID},
		{"second, after a space", own2, attached.ID},
		{"another tenant's file", foreign, uuid.Nil},
		{"a member of data", inData, uuid.Nil},
		{"an unparsable body", odd, uuid.Nil},
	}
	for _, tt := range tests {
		got, err := f.store.FileGet(ctx, tt.file.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.EventID != tt.event {
			t.Errorf("%s: attached to %s, want %s", tt.name, got.EventID, tt.event)
		}
	}
	files, err := f.store.FilesOfEvent(ctx, attached.ID)
	if err != nil || len(files) != 2 {
		t.Fatalf("FilesOfEvent = %d files, %v", len(files), err)
	}
	bad, err := f.store.FilesAttachable(ctx, f.tenant.ID, []uuid.UUID{own1.ID, foreign.ID, inData.ID, uuid.New()}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID]string{own1.ID: "attached", foreign.ID: "not-found"}
	for id, reason := range want {
		if bad[id] != reason {
			t.Errorf("FilesAttachable[%s] = %q, want %q", id, bad[id], reason)
		}
	}
	if _, ok := bad[inData.ID]; ok || len(bad) != 3 {
		t.Errorf("FilesAttachable = %v", bad)
	}
	if bad, _ := f.store.FilesAttachable(ctx, f.tenant.ID, []uuid.UUID{inData.ID}, now.Add(2*time.Hour)); bad[inData.ID] != "expired" {
		t.Errorf("expired upload: %v", bad)
	}
}
