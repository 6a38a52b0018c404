package catalog_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// TestTenantMayConsume: which tenants an integration credential may read a
// type for, and that thin settings reach the snapshot.
func TestTenantMayConsume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	platform := e.tenant("platform", true)
	owner := e.tenant("owner", false)
	listed := e.tenant("listed", false)
	stranger := e.tenant("stranger", false)
	consumer := e.client(listed.ID, "consumer", herald.RoleConsumer)
	e.eventType("com.example.private", owner.ID, false, consumer.ID)
	e.eventType("com.example.public", owner.ID, true)
	et := &herald.EventType{Name: "com.example.thin", TenantID: owner.ID, Schema: []byte("true"), SchemaDraft: "2020-12",
		Thin: &herald.ThinDelivery{Fields: []string{"$.team"}, Keep: 48 * time.Hour, AfterFirstRead: time.Hour}}
	if _, err := e.store.EventTypePut(e.ctx, et, func(*herald.EventType) error { return nil }); err != nil {
		t.Fatal(err)
	}
	s := e.fresh()
	tests := []struct {
		name     string
		tenant   *herald.Tenant
		typ      string
		evTenant *herald.Tenant
		want     bool
	}{
		{"owner", owner, "com.example.private", owner, true},
		{"tenant of a listed consumer", listed, "com.example.private", owner, true},
		{"stranger", stranger, "com.example.private", owner, false},
		{"platform", platform, "com.example.private", owner, true},
		{"public type", stranger, "com.example.public", owner, true},
		{"unknown type", owner, "com.example.nope", owner, false},
	}
	for _, tt := range tests {
		if got := s.TenantMayConsume(tt.tenant.ID, tt.typ, tt.evTenant.ID); got != tt.want {
			t.Errorf("%s: TenantMayConsume = %v, want %v", tt.name, got, tt.want)
		}
	}
	thin := s.Type("com.example.thin").Type.Thin
	if thin == nil || len(thin.Fields) != 1 || thin.Fields[0] != "$.team" || thin.Keep.Hours() != 48 || thin.AfterFirstRead.Hours() != 1 {
		t.Fatalf("thin settings in the snapshot = %+v", thin)
	}
	if s.Type("com.example.public").Type.Thin != nil {
		t.Fatal("a full type has thin settings")
	}
}
