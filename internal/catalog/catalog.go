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
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
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
//
// Building a snapshot compiles no schema: each type's schema is compiled on
// its own, by the warm-up (see Start) or by the first request that needs
// it, whichever comes first, so a reload never waits for compilations and
// a request waits at most for its own type's.
type Catalog struct {
	loader  Loader
	db      postgres.DBTX
	schemas *schema.Cache
	logger  *slog.Logger
	// MaxAge bounds how long a snapshot is used without asking the database
	// whether it changed.
	maxAge time.Duration

	cur atomic.Pointer[Snapshot]
	// checkedAt is when the last version check began (unix nanos), and
	// invalidAt when Invalidate last ran: a check that began before an
	// invalidation may have read the version before the write that
	// invalidated, and does not vouch for the snapshot after it.
	checkedAt atomic.Int64
	invalidAt atomic.Int64
	mu        sync.Mutex // serialises reloads

	// compileHook, when set, is called before each schema compilation.
	compileHook atomic.Pointer[func(typeName string, version int)]
	// built wakes the warm-up after a new snapshot (capacity 1: a pending
	// wake-up covers any number of builds).
	built chan struct{}
	// warmed is closed when the first warm-up pass has compiled every
	// schema of the snapshot it found.
	warmed    chan struct{}
	startOnce sync.Once
	stopOnce  sync.Once
	stop      context.CancelFunc
	stopped   chan struct{}
}

// New returns a Catalog. db is used for the cheap version checks.
func New(loader Loader, db postgres.DBTX, maxAge time.Duration, logger *slog.Logger) *Catalog {
	if maxAge <= 0 {
		maxAge = 500 * time.Millisecond
	}
	c := &Catalog{loader: loader, db: db, logger: logger, maxAge: maxAge,
		built: make(chan struct{}, 1), warmed: make(chan struct{}), stopped: make(chan struct{})}
	c.schemas = schema.NewCache(c.compile)
	return c
}

// Start begins the schema warm-up in the background: it loads the catalog,
// compiles the schema of every type's current version, one at a time, and
// then, after every reload, those of new versions. Requests arriving
// meanwhile are served at once; one that needs a schema not compiled yet
// compiles it (or waits for the warm-up's compilation of that one schema).
// Start returns at once; Stop ends the warm-up.
func (c *Catalog) Start(ctx context.Context) {
	c.startOnce.Do(func() {
		ctx, c.stop = context.WithCancel(context.WithoutCancel(ctx))
		go c.warm(ctx)
	})
}

// Stop ends the warm-up started by Start and waits for it; a compilation in
// progress finishes first. Stop may be called more than once, and without
// Start.
func (c *Catalog) Stop() {
	c.stopOnce.Do(func() {
		c.startOnce.Do(func() { close(c.stopped) }) // never started
		if c.stop != nil {
			c.stop()
		}
	})
	<-c.stopped
}

// Warmed is closed once the warm-up has compiled every schema of the first
// snapshot it loaded.
func (c *Catalog) Warmed() <-chan struct{} { return c.warmed }

// SetCompileHook makes h run before each schema compilation, with the type
// and version compiled (nil removes it). Tests use it to count or hold
// compilations.
func (c *Catalog) SetCompileHook(h func(typeName string, version int)) {
	if h == nil {
		c.compileHook.Store(nil)
		return
	}
	c.compileHook.Store(&h)
}

// warm is the warm-up loop; see Start.
func (c *Catalog) warm(ctx context.Context) {
	defer close(c.stopped)
	first := true
	for {
		s, err := c.Get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.logger.Warn("schema warm-up: cannot load the catalog; retrying", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		for _, e := range s.typeList {
			if ctx.Err() != nil {
				return
			}
			// Errors are logged where they happen (compile) and reported
			// to producers by ingest.
			_, _ = e.schema.Get(ctx)
		}
		if first {
			close(c.warmed)
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-c.built:
		}
	}
}

// compile is the schema cache's CompileFunc: it compiles a stored version
// under the dialect recorded with it, and logs the outcome.
func (c *Catalog) compile(key string, doc []byte, d schema.Dialect) (*schema.Schema, error) {
	name, version := splitKey(key)
	if h := c.compileHook.Load(); h != nil {
		(*h)(name, version)
	}
	start := time.Now()
	sch, err := schema.Compile(doc, d)
	if err != nil {
		c.logger.Error("stored schema does not compile", "type", name, "version", version, "error", err)
		return nil, err
	}
	c.logger.Debug("compiled schema", "type", name, "version", version, "draft", sch.Draft(), "took", time.Since(start))
	return sch, nil
}

// schemaKey names a type version in the schema cache; splitKey reverses it.
// Type names hold no "@" (route.ValidateTypeName).
func schemaKey(name string, version int) string { return name + "@" + strconv.Itoa(version) }

func splitKey(key string) (string, int) {
	i := strings.LastIndexByte(key, '@')
	v, _ := strconv.Atoi(key[i+1:])
	return key[:i], v
}

// Get returns a snapshot no older than MaxAge (as far as the database's
// version counter tells).
func (c *Catalog) Get(ctx context.Context) (*Snapshot, error) {
	s := c.cur.Load()
	if checked := c.checkedAt.Load(); s != nil && checked > c.invalidAt.Load() &&
		time.Since(time.Unix(0, checked)) < c.maxAge {
		return s, nil
	}
	return c.Fresh(ctx, c.db)
}

// Fresh returns a snapshot at least as new as the version db sees now. Ingest
// calls it inside its transaction so routing reflects every endpoint
// committed before the events.
func (c *Catalog) Fresh(ctx context.Context, db postgres.DBTX) (*Snapshot, error) {
	// The check counts from before the version is read: what it proves
	// is that nothing committed before then is missing.
	now := time.Now().UnixNano()
	v, err := postgres.ConfigVersion(ctx, db)
	if err != nil {
		if s := c.cur.Load(); s != nil && db == c.db {
			// Keep serving the last snapshot through a database hiccup; the
			// write that follows will fail anyway if the database is gone.
			return s, nil
		}
		return nil, err
	}
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
	select {
	case c.built <- struct{}{}:
	default: // a wake-up is already pending
	}
	return s, nil
}

// Prime hands the catalog a schema compiled for the version of t just
// stored (registration compiles it to validate it), so that neither the
// warm-up nor the first event compiles it again. t.Schema must be the
// document as stored, and sch compiled from the same JSON.
func (c *Catalog) Prime(t *herald.EventType, sch *schema.Schema) {
	c.schemas.Put(schemaKey(t.Name, t.Version), t.Schema, dialectOf(t), sch)
}

// dialectOf is the dialect recorded with t's current version.
func dialectOf(t *herald.EventType) schema.Dialect {
	return schema.Dialect{Draft: t.SchemaDraft, FormatAssertion: t.FormatAssertion}
}

// Invalidate makes the next Get consult the database; call it after a local
// write so this node sees its own changes at once.
func (c *Catalog) Invalidate() { c.invalidAt.Store(time.Now().UnixNano()) }

// ErrSchemaBroken means a stored schema no longer compiles (it compiled
// when saved, so this means a library change); ingest rejects the type's
// events rather than accepting them unchecked.
var ErrSchemaBroken = errors.New("stored schema does not compile")

// TypeEntry is an event type with its schema.
type TypeEntry struct {
	Type *herald.EventType
	// AnyData is true when the schema accepts every instance (true or {}),
	// so validation can be skipped and non-JSON data is allowed.
	AnyData bool
	schema  *schema.Entry
}

// Schema returns the type's compiled schema. If it is not compiled yet, the
// call compiles it, or waits for the compilation under way (the warm-up's or
// another request's) until ctx ends. A schema that does not compile is an
// error wrapping ErrSchemaBroken and the *schema.CompileError.
func (e *TypeEntry) Schema(ctx context.Context) (*schema.Schema, error) {
	sch, err := e.schema.Get(ctx)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, fmt.Errorf("schema of %s: %w", e.Type.Name, err)
		}
		return nil, fmt.Errorf("%w: %s version %d: %w", ErrSchemaBroken, e.Type.Name, e.Type.Version, err)
	}
	return sch, nil
}

// Compiled reports whether Schema returns without compiling or waiting.
func (e *TypeEntry) Compiled() bool { return e.schema.Ready() }

// Snapshot is an immutable view of the catalog at one version.
type Snapshot struct {
	Version   int64
	tenants   map[uuid.UUID]*herald.Tenant
	clientsID map[uuid.UUID]*herald.Client
	clientsK  map[string]*herald.Client
	types     map[string]*TypeEntry
	typeList  []*TypeEntry // types by name, for the warm-up
	endpoints *route.Index[*herald.Endpoint]
	filters   map[uuid.UUID]*filter.Filter
	// endpointsID holds the routable endpoints by id.
	endpointsID map[uuid.UUID]*herald.Endpoint
	// routes caches, per type name, its subscribers (receivers.go).
	routes sync.Map // string → *typeRoute
	// connectors routes events to hosted connectors, groups to consumer
	// groups (connectors.go).
	connectors *subscriberIndex[*herald.Connector]
	groups     *subscriberIndex[*herald.ConsumerGroup]
	groupsID   map[uuid.UUID]*herald.ConsumerGroup
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
	current := make(map[string]bool, len(d.EventTypes))
	for _, t := range d.EventTypes { // by name
		key := schemaKey(t.Name, t.Version)
		current[key] = true
		e := &TypeEntry{Type: t, AnyData: acceptsAnything(t.Schema), schema: c.schemas.Entry(key, t.Schema, dialectOf(t))}
		s.types[t.Name] = e
		s.typeList = append(s.typeList, e)
	}
	// Older versions' schemas are no longer looked up; let them go.
	c.schemas.Retain(func(key string) bool { return current[key] })
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
	s.groups = buildGroups(c.logger, d.ConsumerGroups)
	s.groupsID = make(map[uuid.UUID]*herald.ConsumerGroup, len(d.ConsumerGroups))
	for _, g := range d.ConsumerGroups {
		s.groupsID[g.ID] = g
	}
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
	return s.principal(cl), nil
}

// ClientPrincipal is the principal of a client authenticated earlier (by
// a token naming it and its tenant): it must still exist, in that tenant.
// A client deleted since is unauthorized.
func (s *Snapshot) ClientPrincipal(client, tenant uuid.UUID) (herald.Principal, error) {
	cl := s.clientsID[client]
	if cl == nil || cl.TenantID != tenant {
		return herald.Principal{}, herald.ErrUnauthorized
	}
	return s.principal(cl), nil
}

// principal is the caller a client is: platform admins are the admins of
// the platform tenant.
func (s *Snapshot) principal(cl *herald.Client) herald.Principal {
	p := herald.Principal{Client: cl}
	if t := s.tenants[cl.TenantID]; t != nil && t.Platform && cl.Has(herald.RoleAdmin) {
		p.PlatformAdmin = true
	}
	return p
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
	return t.MayConsume(cl, s.principal(cl).PlatformAdmin)
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
