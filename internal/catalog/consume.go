package catalog

import (
	"slices"

	"github.com/google/uuid"
)

// TenantMayConsume reports whether a tenant has the right to consume events
// of a type, as the Integration API requires of an integration's tenant:
// the type is public, the tenant owns it, one of its clients is a listed
// consumer, or it is the platform tenant. Herald's operational events are
// readable only by the tenant they concern (eventTenant), the rule routing
// applies to them (receivers.go).
func (s *Snapshot) TenantMayConsume(tenant uuid.UUID, typeName string, eventTenant uuid.UUID) bool {
	te := s.types[typeName]
	if te == nil {
		return false
	}
	if tenantBound(typeName) {
		return visibleTo(typeName, eventTenant, tenant)
	}
	t := te.Type
	if t.Public || t.TenantID == tenant {
		return true
	}
	if tn := s.tenants[tenant]; tn != nil && tn.Platform {
		return true
	}
	return slices.ContainsFunc(t.Consumers, func(id uuid.UUID) bool {
		c := s.clientsID[id]
		return c != nil && c.TenantID == tenant
	})
}
