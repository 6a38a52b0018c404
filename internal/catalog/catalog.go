// Package catalog keeps an in-memory, read-only snapshot of what the hot
// paths consult on every request: clients (authentication), event types with
// their compiled schemas (ingest) and the active endpoints indexed by type
// pattern (routing). A counter in the database, bumped by triggers on every
// change, tells each node cheaply when its snapshot is stale, so several
// Herald nodes on one PostgreSQL agree within MaxAge, and ingest re-checks
// inside its own transaction so routing always sees committed endpoints.
package catalog

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/route"
	"github.com/heraldhq/herald/internal/schema"
)

// Loader reads the catalog from storage.
type Loader interface {
	CatalogLoad(ctx context.Context) (*postgres.Catalog, error)
}

// Catalog hands out snapshots and refreshes them when the stored version
// moves.
type Catalog struct {
	loader  Loader
	db      postgres.DBTX
	schemas *schema.Cache
	logger  *slog.Logger
	// MaxAge bounds how long a snapshot is used without asking the database
	// whether it changed.
	maxAge time.Duration

	cur       atomic.Pointer[Snapshot]
	checkedAt atomic.Int64 // unix nanos of the last version check
	mu        sync.Mutex   // serialises reloads
}

// New returns a Catalog. db is used for the cheap version checks.
func New(loader Loader, db postgres.DBTX, maxAge time.Duration, logger *slog.Logger) *Catalog {
	if maxAge <= 0 {
		maxAge = 500 * time.Millisecond
	}
	return &Catalog{loader: loader, db: db, schemas: schema.NewCache(), logger: logger, maxAge: maxAge}
}

// Get returns a snapshot no older than MaxAge (as far as the database's
// version counter tells).
func (c *Catalog) Get(ctx context.Context) (*Snapshot, error) {
	s := c.cur.Load()
	if s != nil && time.Since(time.Unix(0, c.checkedAt.Load())) < c.maxAge {
		return s, nil
	}
	return c.Fresh(ctx, c.db)
}

// Fresh returns a snapshot at least as new as the version db sees now. Ingest
// calls it inside its transaction so routing reflects every endpoint
// committed before the events.
func (c *Catalog) Fresh(ctx context.Context, db postgres.DBTX) (*Snapshot, error) {
	v, err := postgres.ConfigVersion(ctx, db)
	if err != nil {
		if s := c.cur.Load(); s != nil && db == c.db {
			// Keep serving the last snapshot through a database hiccup; the
			// write that follows will fail anyway if the database is gone.
			return s, nil
		}
		return nil, err
	}
	now := time.Now().UnixNano()
	if s := c.cur.Load(); s != nil && s.Version >= v {
		c.checkedAt.Store(now)
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.cur.Load(); s != nil && s.Version >= v {
		c.checkedAt.Store(now)
		return s, nil
	}
	data, err := c.loader.CatalogLoad(ctx)
	if err != nil {
		return nil, err
	}
	s := c.build(data)
	c.cur.Store(s)
	c.checkedAt.Store(now)
	return s, nil
}

// Invalidate makes the next Get consult the database; call it after a local
// write so this node sees its own changes at once.
func (c *Catalog) Invalidate() { c.checkedAt.Store(0) }

// TypeEntry is an event type with its compiled schema.
type TypeEntry struct {
	Type   *herald.EventType
	Schema *schema.Schema
	// AnyData is true when the schema accepts every instance (true or {}),
	// so validation can be skipped and non-JSON data is allowed.
	AnyData bool
	// SchemaErr is set when the stored schema does not compile (it was valid
	// when saved, so this means a library change); ingest rejects the type's
	// events rather than accepting them unchecked.
	SchemaErr error
}

// Snapshot is an immutable view of the catalog at one version.
type Snapshot struct {
	Version   int64
	tenants   map[uuid.UUID]*herald.Tenant
	clientsID map[uuid.UUID]*herald.Client
	clientsK  map[string]*herald.Client
	types     map[string]*TypeEntry
	endpoints *route.Index[*herald.Endpoint]
	filters   map[uuid.UUID]*filter.Filter
	// endpointsID holds the routable endpoints by id.
	endpointsID map[uuid.UUID]*herald.Endpoint
	// routes caches, per type name, its subscribers (receivers.go).
	routes sync.Map // string → *typeRoute
	// connectors routes events to hosted connectors (connectors.go).
	connectors *connectorIndex
}

func (c *Catalog) build(d *postgres.Catalog) *Snapshot {
	s := &Snapshot{
		Version:   d.Version,
		tenants:   make(map[uuid.UUID]*herald.Tenant, len(d.Tenants)),
		clientsID: make(map[uuid.UUID]*herald.Client, len(d.Clients)),
		clientsK:  make(map[string]*herald.Client, len(d.Clients)),
		types:     make(map[string]*TypeEntry, len(d.EventTypes)),
	}
	for _, t := range d.Tenants {
		s.tenants[t.ID] = t
	}
	for _, cl := range d.Clients {
		s.clientsID[cl.ID] = cl
		s.clientsK[cl.Key] = cl
	}
	for _, t := range d.EventTypes {
		e := &TypeEntry{Type: t, AnyData: acceptsAnything(t.Schema)}
		e.Schema, e.SchemaErr = c.schemas.Get(fmt.Sprintf("%s@%d", t.Name, t.Version), t.Schema)
		if e.SchemaErr != nil {
			c.logger.Error("stored schema does not compile", "type", t.Name, "version", t.Version, "error", e.SchemaErr)
		}
		s.types[t.Name] = e
	}
	b := route.NewIndex[*herald.Endpoint]()
	s.filters = map[uuid.UUID]*filter.Filter{}
	s.endpointsID = make(map[uuid.UUID]*herald.Endpoint, len(d.Endpoints))
	for _, ep := range d.Endpoints {
		if len(ep.Filter) > 0 {
			f, err := filter.Parse(ep.Filter)
			if err != nil {
				// It compiled when saved; refuse to route rather than deliver
				// what the filter was meant to keep out.
				c.logger.Error("stored endpoint filter is invalid; the endpoint receives nothing", "endpoint", ep.ID, "error", err)
				continue
			}
			s.filters[ep.ID] = f
		}
		s.endpointsID[ep.ID] = ep
		for _, p := range ep.Types {
			if err := b.Add(p, ep); err != nil {
				c.logger.Error("stored endpoint pattern is invalid", "endpoint", ep.ID, "pattern", p, "error", err)
			}
		}
	}
	s.endpoints = b.Build()
	s.connectors = buildConnectors(c.logger, d.Connectors)
	return s
}

// dummyHash keeps authentication of unknown keys as slow as of known ones.
var dummyHash = sha256.New().Sum(nil)

// Authenticate returns the principal for a key and secret, or
// herald.ErrUnauthorized.
func (s *Snapshot) Authenticate(key, secret string) (herald.Principal, error) {
	cl := s.clientsK[key]
	if cl == nil {
		herald.SecretMatches(secret, dummyHash)
		return herald.Principal{}, herald.ErrUnauthorized
	}
	if !herald.SecretMatches(secret, cl.SecretHash) {
		return herald.Principal{}, herald.ErrUnauthorized
	}
	p := herald.Principal{Client: cl}
	if t := s.tenants[cl.TenantID]; t != nil && t.Platform && cl.Has(herald.RoleAdmin) {
		p.PlatformAdmin = true
	}
	return p, nil
}

// Type returns an event type by name, or nil.
func (s *Snapshot) Type(name string) *TypeEntry { return s.types[name] }

// Client returns a client by id, or nil.
func (s *Snapshot) Client(id uuid.UUID) *herald.Client { return s.clientsID[id] }

// Tenant returns a tenant by id, or nil.
func (s *Snapshot) Tenant(id uuid.UUID) *herald.Tenant { return s.tenants[id] }

// clientMayConsume reports whether a subscriber acting for a client of a
// tenant may receive events of a type: the client must belong to that
// tenant and have the type's consume right.
func (s *Snapshot) clientMayConsume(client, tenant uuid.UUID, t *herald.EventType) bool {
	cl := s.clientsID[client]
	if cl == nil || cl.TenantID != tenant {
		return false
	}
	tn := s.tenants[cl.TenantID]
	platformAdmin := tn != nil && tn.Platform && cl.Has(herald.RoleAdmin)
	return t.MayConsume(cl, platformAdmin)
}

// acceptsAnything reports whether a schema document is the trivial "true"
// or "{}" (whitespace aside).
func acceptsAnything(doc []byte) bool {
	var b []byte
	for _, c := range doc {
		if c != ' ' && c != '\n' && c != '\t' && c != '\r' {
			b = append(b, c)
		}
	}
	return string(b) == "true" || string(b) == "{}"
}
