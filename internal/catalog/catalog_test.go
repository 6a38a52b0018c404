package catalog_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/secretbox"
)

func TestMain(m *testing.M) {
	os.Exit(heraldtest.Main(m, postgres.MigrateDSN))
}

// env is a store on the test's own database and a catalog over it.
type env struct {
	t     *testing.T
	ctx   context.Context
	pool  *pgxpool.Pool
	store *postgres.Store
	cat   *catalog.Catalog
}

// newEnv returns a catalog whose snapshots never expire by age, so a test
// controls when it consults the database.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	pool, err := postgres.OpenPool(ctx, heraldtest.NewDatabase(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := postgres.New(pool, secretbox.New(secretbox.GenerateKey()))
	return &env{t: t, ctx: ctx, pool: pool, store: store, cat: catalog.New(store, pool, time.Hour, heraldtest.Logger(t))}
}

func (e *env) tenant(name string, platform bool) *herald.Tenant {
	e.t.Helper()
	tn := &herald.Tenant{ID: uuid.New(), Name: name, Platform: platform}
	if err := e.store.TenantCreate(e.ctx, tn); err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// cred is a client with its plaintext secret.
type cred struct {
	*herald.Client
	secret string
}

func (e *env) client(tenant uuid.UUID, name string, roles ...herald.Role) cred {
	e.t.Helper()
	key, secret := herald.NewCredential()
	c := &herald.Client{ID: uuid.New(), TenantID: tenant, Name: name, Key: key, SecretHash: herald.HashSecret(secret), Roles: roles}
	if err := e.store.ClientCreate(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
	return cred{c, secret}
}

func (e *env) eventType(name string, owner uuid.UUID, public bool, consumers ...uuid.UUID) {
	e.t.Helper()
	et := &herald.EventType{
		Name: name, TenantID: owner, Public: public, Schema: []byte(`{"type": "object"}`), SchemaDraft: "2020-12",
		Producers: []uuid.UUID{}, Consumers: append([]uuid.UUID{}, consumers...),
	}
	if _, err := e.store.EventTypePut(e.ctx, et, func(*herald.EventType) error { return nil }); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) endpoint(tenant uuid.UUID, client uuid.UUID, patterns ...string) *herald.Endpoint {
	e.t.Helper()
	return e.subscriber(tenant, client, herald.EndpointActive, "", patterns...)
}

func (e *env) fresh() *catalog.Snapshot {
	e.t.Helper()
	s, err := e.cat.Fresh(e.ctx, e.pool)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) get() *catalog.Snapshot {
	e.t.Helper()
	s, err := e.cat.Get(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	platform, err := e.store.TenantEnsurePlatform(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	acme := e.tenant("acme", false)
	platformAdmin := e.client(platform.ID, "root", herald.RoleAdmin)
	platformProducer := e.client(platform.ID, "platform producer", herald.RoleProducer)
	acmeAdmin := e.client(acme.ID, "acme admin", herald.RoleAdmin)
	acmeConsumer := e.client(acme.ID, "acme consumer", herald.RoleConsumer)
	s := e.fresh()

	tests := []struct {
		name          string
		key, secret   string
		want          *herald.Client // nil: unauthorized
		platformAdmin bool
	}{
		{"platform admin", platformAdmin.Key, platformAdmin.secret, platformAdmin.Client, true},
		{"platform tenant, not admin", platformProducer.Key, platformProducer.secret, platformProducer.Client, false},
		{"tenant admin", acmeAdmin.Key, acmeAdmin.secret, acmeAdmin.Client, false},
		{"consumer", acmeConsumer.Key, acmeConsumer.secret, acmeConsumer.Client, false},
		{"wrong secret", acmeAdmin.Key, platformAdmin.secret, nil, false},
		{"empty secret", acmeAdmin.Key, "", nil, false},
		{"secret hash as secret", acmeAdmin.Key, string(acmeAdmin.SecretHash), nil, false},
		{"unknown key", "hk_nobody", acmeAdmin.secret, nil, false},
		{"empty key", "", "", nil, false},
		{"secret as key", acmeAdmin.secret, acmeAdmin.Key, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := s.Authenticate(tt.key, tt.secret)
			if tt.want == nil {
				if !errors.Is(err, herald.ErrUnauthorized) {
					t.Fatalf("Authenticate = %+v, %v; want ErrUnauthorized", p, err)
				}
				if p.Client != nil || p.PlatformAdmin {
					t.Errorf("refused Authenticate returned principal %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if p.Client == nil || p.Client.ID != tt.want.ID || p.Client.TenantID != tt.want.TenantID {
				t.Errorf("principal client = %+v, want %+v", p.Client, tt.want)
			}
			if p.PlatformAdmin != tt.platformAdmin {
				t.Errorf("PlatformAdmin = %v, want %v", p.PlatformAdmin, tt.platformAdmin)
			}
		})
	}
}

func ids(eps []*herald.Endpoint) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(eps))
	for _, ep := range eps {
		out = append(out, ep.ID)
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out
}

func TestRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	platform, err := e.store.TenantEnsurePlatform(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	shop := e.tenant("shop", false)           // owns the event types
	warehouse := e.tenant("warehouse", false) // consumes them
	shopAdmin := e.client(shop.ID, "shop admin", herald.RoleAdmin)
	listed := e.client(warehouse.ID, "listed consumer", herald.RoleConsumer)
	unlisted := e.client(warehouse.ID, "unlisted consumer", herald.RoleConsumer)
	warehouseAdmin := e.client(warehouse.ID, "warehouse admin", herald.RoleAdmin) // admin, but not of the owner
	root := e.client(platform.ID, "root", herald.RoleAdmin)

	const (
		created = "com.shop.order.created"  // private, listed may consume
		shipped = "com.shop.order.shipped"  // public
		user    = "com.shop.user.created"   // private, nobody listed
		other   = "com.shop.order.refunded" // private, unlisted may consume
	)
	e.eventType(created, shop.ID, false, listed.ID)
	e.eventType(shipped, shop.ID, true)
	e.eventType(user, shop.ID, false)
	e.eventType(other, shop.ID, false, unlisted.ID)

	exact := e.endpoint(warehouse.ID, listed.ID, created)
	star := e.endpoint(warehouse.ID, listed.ID, "com.shop.*.created")
	orderRest := e.endpoint(warehouse.ID, listed.ID, "com.shop.order.>")
	allUnlisted := e.endpoint(warehouse.ID, unlisted.ID, ">")
	ownerAdmin := e.endpoint(shop.ID, shopAdmin.ID, "com.>")
	otherAdmin := e.endpoint(warehouse.ID, warehouseAdmin.ID, "com.shop.>")
	platformEP := e.endpoint(platform.ID, root.ID, user)
	disabled := e.endpoint(warehouse.ID, listed.ID, created)
	if err := e.store.EndpointDisable(e.ctx, disabled.ID, "testing"); err != nil {
		t.Fatal(err)
	}
	// An endpoint whose client belongs to another tenant receives nothing.
	mismatched := e.endpoint(shop.ID, listed.ID, created)
	// Patterns that do not match.
	prefixOnly := e.endpoint(warehouse.ID, listed.ID, "com.shop.order")
	tooShort := e.endpoint(warehouse.ID, listed.ID, "com.*.created")
	_, _, _ = prefixOnly, tooShort, mismatched // never routed: absent from every want below
	// Multiple patterns of one endpoint matching one type give it once.
	multi := e.endpoint(warehouse.ID, listed.ID, created, "com.shop.order.*", "com.>")

	s := e.fresh()
	tests := []struct {
		typ  string
		want []*herald.Endpoint
	}{
		{created, []*herald.Endpoint{exact, star, orderRest, ownerAdmin, multi}},
		{shipped, []*herald.Endpoint{orderRest, allUnlisted, ownerAdmin, otherAdmin, multi}},
		{user, []*herald.Endpoint{ownerAdmin, platformEP}},
		{other, []*herald.Endpoint{allUnlisted, ownerAdmin}},
		{"com.shop.nope.created", nil}, // patterns match, but no such type
		{"com.shop", nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			got := endpointsFor(s, tt.typ)
			if !slices.Equal(ids(got), ids(tt.want)) {
				t.Errorf("Receivers(%q) = %v, want %v", tt.typ, urls(got), urls(tt.want))
			}
			for _, ep := range got {
				if ep.Status != herald.EndpointActive {
					t.Errorf("Route(%q) returned %s endpoint %s", tt.typ, ep.Status, ep.URL)
				}
			}
			// The answer is cached and stays the same.
			if again := endpointsFor(s, tt.typ); !slices.Equal(ids(again), ids(got)) {
				t.Errorf("second Route(%q) = %v, first %v", tt.typ, urls(again), urls(got))
			}
		})
	}
}

// endpointsFor asks the routing rule which endpoints receive an event of a
// type that is not tenant-bound and that no filter looks at.
func endpointsFor(s *catalog.Snapshot, typ string) []*herald.Endpoint {
	return s.Receivers(catalog.Event{Type: typ, Attrs: attrs{}}).Endpoints
}

func urls(eps []*herald.Endpoint) []string {
	var out []string
	for _, ep := range eps {
		out = append(out, ep.URL+" "+ep.Types[0])
	}
	return out
}

func TestRouteFollowsChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	shop := e.tenant("shop", false)
	consumer := e.client(shop.ID, "consumer", herald.RoleConsumer)
	const typ = "com.shop.order.created"
	e.eventType(typ, shop.ID, false, consumer.ID)
	ep := e.endpoint(shop.ID, consumer.ID, "com.shop.>")

	before := e.fresh()
	if got := endpointsFor(before, typ); len(got) != 1 || got[0].ID != ep.ID {
		t.Fatalf("Route = %v, want the endpoint", urls(got))
	}

	if err := e.store.EndpointDisable(e.ctx, ep.ID, "410 Gone"); err != nil {
		t.Fatal(err)
	}
	after := e.fresh()
	if after.Version <= before.Version {
		t.Errorf("version %d after a change, was %d", after.Version, before.Version)
	}
	if got := endpointsFor(after, typ); len(got) != 0 {
		t.Errorf("Route after disabling = %v, want none", urls(got))
	}
	// The old snapshot is immutable.
	if got := endpointsFor(before, typ); len(got) != 1 {
		t.Errorf("old snapshot's Route changed: %v", urls(got))
	}

	// Taking the consumer off the type's list stops routing even for a new
	// active endpoint.
	ep2 := e.endpoint(shop.ID, consumer.ID, typ)
	if got := endpointsFor(e.fresh(), typ); len(got) != 1 || got[0].ID != ep2.ID {
		t.Fatalf("Route = %v, want the new endpoint", urls(got))
	}
	e.eventType(typ, shop.ID, false)
	if got := endpointsFor(e.fresh(), typ); len(got) != 0 {
		t.Errorf("Route after removing the consumer = %v, want none", urls(got))
	}
	// Deleting the client stops its endpoints too (client_id becomes NULL).
	e.eventType(typ, shop.ID, true)
	if got := endpointsFor(e.fresh(), typ); len(got) != 1 {
		t.Fatalf("Route of a public type = %v, want the endpoint", urls(got))
	}
	if err := e.store.ClientDelete(e.ctx, consumer.ID); err != nil {
		t.Fatal(err)
	}
	if got := endpointsFor(e.fresh(), typ); len(got) != 0 {
		t.Errorf("Route after deleting the client = %v, want none", urls(got))
	}
}

func TestFreshGetInvalidate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.tenant("acme", false)
	first := e.client(acme.ID, "first", herald.RoleProducer)

	s1 := e.get()
	if _, err := s1.Authenticate(first.Key, first.secret); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if again := e.get(); again != s1 {
		t.Error("Get with nothing changed returned a new snapshot")
	}
	if again := e.fresh(); again != s1 {
		t.Error("Fresh with nothing changed returned a new snapshot")
	}

	// A write by the store: Fresh sees it at once.
	second := e.client(acme.ID, "second", herald.RoleConsumer)
	s2 := e.fresh()
	if s2.Version <= s1.Version {
		t.Errorf("Fresh version %d, want above %d", s2.Version, s1.Version)
	}
	if _, err := s2.Authenticate(second.Key, second.secret); err != nil {
		t.Errorf("Fresh snapshot does not know the new client: %v", err)
	}
	if s2.Client(second.ID) == nil {
		t.Error("Fresh snapshot: Client(new) = nil")
	}
	// The old snapshot does not change.
	if _, err := s1.Authenticate(second.Key, second.secret); !errors.Is(err, herald.ErrUnauthorized) {
		t.Errorf("old snapshot authenticated a client created after it: %v", err)
	}

	// Another write: Get keeps the snapshot it checked recently (MaxAge is
	// an hour here) until Invalidate.
	third := e.client(acme.ID, "third", herald.RoleConsumer)
	if got := e.get(); got != s2 {
		t.Fatalf("Get within MaxAge returned a new snapshot (version %d)", got.Version)
	}
	if _, err := e.get().Authenticate(third.Key, third.secret); !errors.Is(err, herald.ErrUnauthorized) {
		t.Errorf("stale snapshot authenticated the new client: %v", err)
	}
	e.cat.Invalidate()
	s3 := e.get()
	if s3.Version <= s2.Version {
		t.Errorf("Get after Invalidate: version %d, want above %d", s3.Version, s2.Version)
	}
	if _, err := s3.Authenticate(third.Key, third.secret); err != nil {
		t.Errorf("Get after Invalidate does not know the new client: %v", err)
	}

	// Deleting a client revokes its credential in the next snapshot.
	if err := e.store.ClientDelete(e.ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	e.cat.Invalidate()
	if _, err := e.get().Authenticate(first.Key, first.secret); !errors.Is(err, herald.ErrUnauthorized) {
		t.Errorf("deleted client still authenticates: %v", err)
	}

	// Types and tenants are in the snapshot too.
	e.eventType("com.acme.thing.done", acme.ID, true)
	s4 := e.fresh()
	if te := s4.Type("com.acme.thing.done"); te == nil || te.Type.Version != 1 {
		t.Errorf("Type = %+v", te)
	} else if sch, err := te.Schema(e.ctx); sch == nil || err != nil {
		t.Errorf("Type.Schema = %v, %v", sch, err)
	}
	if s4.Type("com.acme.missing") != nil {
		t.Error("Type of an unknown name is not nil")
	}
	if tn := s4.Tenant(acme.ID); tn == nil || tn.Name != "acme" {
		t.Errorf("Tenant = %+v", tn)
	}
}

// A catalog with a short MaxAge picks up changes through Get alone.
func TestGetRefreshesAfterMaxAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cat := catalog.New(e.store, e.pool, 20*time.Millisecond, heraldtest.Logger(t))
	acme := e.tenant("acme", false)
	s1, err := cat.Get(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(acme.ID, "late", herald.RoleProducer)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := cat.Get(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(c.Key, c.secret); err == nil {
			if s.Version <= s1.Version {
				t.Errorf("version %d, want above %d", s.Version, s1.Version)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Get never saw the new client")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Fresh inside a transaction sees what that transaction sees.
func TestFreshInTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.tenant("acme", false)
	s1 := e.fresh()
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(e.ctx) }()
	// The transaction's snapshot starts with its first statement.
	if _, err := tx.Exec(e.ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	c := e.client(acme.ID, "committed meanwhile", herald.RoleProducer)
	s, err := e.cat.Fresh(e.ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	// Read committed: the transaction's next statement sees the commit.
	if s.Version <= s1.Version {
		t.Errorf("Fresh(tx) version %d, want above %d", s.Version, s1.Version)
	}
	if _, err := s.Authenticate(c.Key, c.secret); err != nil {
		t.Errorf("Fresh(tx) snapshot does not know the committed client: %v", err)
	}
}

// slowVersion is the pool, except that once armed, the next version read
// returns its row only when released: a check that read the version just
// before a write commits, and finishes just after it.
type slowVersion struct {
	*pgxpool.Pool
	armed    atomic.Bool
	read     chan struct{}
	released chan struct{}
}

func (s *slowVersion) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	row := s.Pool.QueryRow(ctx, sql, args...)
	if !s.armed.CompareAndSwap(true, false) {
		return row
	}
	return heldRow{row, s}
}

type heldRow struct {
	pgx.Row
	s *slowVersion
}

func (r heldRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	close(r.s.read)
	<-r.s.released
	return err
}

// TestInvalidateBeatsCheckInFlight: a version check that read the version
// before a local write committed, and finished after the write's
// Invalidate, must not make the old snapshot count as fresh: the next Get
// sees the write (a client created a moment ago authenticates).
func TestInvalidateBeatsCheckInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	slow := &slowVersion{Pool: e.pool, read: make(chan struct{}), released: make(chan struct{})}
	cat := catalog.New(e.store, slow, time.Hour, heraldtest.Logger(t))
	tn := e.tenant("acme", false)
	if _, err := cat.Get(e.ctx); err != nil {
		t.Fatal(err)
	}
	cat.Invalidate()
	slow.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := cat.Get(e.ctx)
		done <- err
	}()
	<-slow.read // the check has the old version
	c := e.client(tn.ID, "new", herald.RoleAdmin)
	cat.Invalidate()
	close(slow.released)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s, err := cat.Get(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(c.Key, c.secret); err != nil {
		t.Fatalf("the client created before the last Invalidate: %v", err)
	}
}
