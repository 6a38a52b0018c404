// Package ingest turns authenticated CloudEvents into stored events and
// delivery jobs. It checks that the producer may send each type and that the
// data satisfies the type's JSON Schema, rejecting a batch whole when any
// event fails, then hands accepted events to a group committer that writes
// events, deliveries and River jobs of many concurrent requests in one
// transaction. A request is answered only after that transaction commits.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/queue"
)

// JobInserter enqueues jobs inside the caller's transaction (River's client).
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	InsertManyFastTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) (int, error)
}

// Config tunes the group committer.
type Config struct {
	// Committers is how many transactions may be in flight at once.
	Committers int
	// MaxBatch caps the events written by one transaction.
	MaxBatch int
}

// Service validates and stores events.
type Service struct {
	pool    *pgxpool.Pool
	store   *postgres.Store
	catalog *catalog.Catalog
	jobs    JobInserter
	logger  *slog.Logger
	cfg     Config
	// attach checks the files events reference (see attachments.go).
	attach    AttachmentChecker
	attachNow func() time.Time
	// handoff makes the first attempts of committed deliveries on this
	// node at once (nil: River's fetch makes them).
	handoff *queue.Handoff

	reqs     chan *pending
	wg       sync.WaitGroup
	stopOnce sync.Once
	stopped  chan struct{}
	mu       sync.RWMutex // guards closed against Submit racing Stop
	closed   bool
}

// New builds the service; call Start before Ingest.
func New(pool *pgxpool.Pool, store *postgres.Store, cat *catalog.Catalog, jobs JobInserter, cfg Config, logger *slog.Logger) *Service {
	if cfg.Committers <= 0 {
		cfg.Committers = 2
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	return &Service{
		pool: pool, store: store, catalog: cat, jobs: jobs, logger: logger, cfg: cfg,
		reqs: make(chan *pending, 4096), stopped: make(chan struct{}),
	}
}

// SetHandoff hands the first attempts of the deliveries this service
// commits to h, which makes them right after the commit (see
// queue.Handoff).
func (s *Service) SetHandoff(h *queue.Handoff) { s.handoff = h }

// ErrStopped is returned for requests arriving during shutdown.
var ErrStopped = fmt.Errorf("ingest is shutting down: %w", herald.ErrUnavailable)

// Problem is one reason an event of a request was refused.
type Problem struct {
	Index  int
	ID     string
	Field  string // attribute, or "data" plus a JSON path for schema failures
	Rule   string
	Detail string
}

// RejectError refuses a whole request: nothing of it was stored. Forbidden
// is true when any event failed for lack of permission.
type RejectError struct {
	Forbidden bool
	Problems  []Problem
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("%d event(s) rejected; first: event %d: %s: %s", len(e.Problems), e.Problems[0].Index,
		e.Problems[0].Field, e.Problems[0].Detail)
}

// Stored describes one accepted event.
type Stored struct {
	ID         uuid.UUID
	Seq        int64
	ReceivedAt time.Time
	Source     string
	CEID       string
	// Duplicate is true when an earlier request already stored this
	// (source, id); the stored event's id is returned and nothing new is
	// delivered.
	Duplicate bool
}

// Ingest checks events from one request and stores them, all or nothing.
func (s *Service) Ingest(ctx context.Context, p herald.Principal, events []*cloudevents.Event) ([]Stored, error) {
	if len(events) == 0 {
		return []Stored{}, nil
	}
	// The test mark is Herald's to give (IngestTest): a producer's event
	// carrying it would pass for a consumer's test event.
	rej := &RejectError{}
	for i, ev := range events {
		if _, ok := ev.Extensions[TestExtension]; ok {
			rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: TestExtension, Rule: "reserved",
				Detail: "the test extension marks consumers' test events (POST /v1/test-events); producers may not set it"})
		}
	}
	if len(rej.Problems) > 0 {
		return nil, rej
	}
	items, err := s.check(ctx, p, events, func(te *catalog.TypeEntry, ev *cloudevents.Event) *Problem {
		if te.Type.MayProduce(p.Client) {
			return nil
		}
		return &Problem{Field: "type", Rule: "producer",
			Detail: fmt.Sprintf("client %s may not produce events of type %q", p.Client.Key, ev.Type)}
	})
	if err != nil {
		return nil, err
	}
	return s.submit(ctx, items)
}

// trimDollar turns a JSON path "$.a.b" into ".a.b" so it reads "data.a.b";
// the root "$" becomes "".
func trimDollar(p string) string {
	if len(p) > 0 && p[0] == '$' {
		return p[1:]
	}
	return p
}

type item struct {
	ce    *cloudevents.Event // for filters
	key   postgres.EventKey
	event herald.Event
	// filled by the committer
	stored Stored
}

type pending struct {
	ctx   context.Context
	items []item
	done  chan error
}

func (s *Service) submit(ctx context.Context, items []item) ([]Stored, error) {
	p := &pending{ctx: ctx, items: items, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, ErrStopped
	}
	select {
	case s.reqs <- p:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return nil, ctx.Err()
	}
	// Once queued, wait for the outcome even if the client goes away: the
	// events may be committing, and the producer's retry will be answered as
	// a duplicate.
	if err := <-p.done; err != nil {
		return nil, err
	}
	out := make([]Stored, len(items))
	for i := range items {
		out[i] = items[i].stored
	}
	return out, nil
}

// Start runs the committers.
func (s *Service) Start() {
	for range s.cfg.Committers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.commitLoop()
		}()
	}
}

// Stop refuses new requests and waits until every queued one is committed
// and answered.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.reqs)
		s.mu.Unlock()
		s.wg.Wait()
		close(s.stopped)
	})
}

func (s *Service) commitLoop() {
	batch := make([]*pending, 0, 64)
	for {
		first, ok := <-s.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		n := len(first.items)
	gather:
		for n < s.cfg.MaxBatch {
			select {
			case p, ok := <-s.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, p)
				n += len(p.items)
			default:
				break gather
			}
		}
		err := s.commit(batch)
		for _, p := range batch {
			p.done <- err
		}
	}
}

// commit writes a group of requests in one transaction.
func (s *Service) commit(batch []*pending) error {
	// The group's own deadline: requests' contexts may end while their
	// events commit, and one cancelled producer must not fail the others.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := herald.Now()

	// Within the group, the first occurrence of a key wins; later ones are
	// duplicates of it.
	type ref struct{ p, i int }
	first := make(map[postgres.EventKey]ref)
	rows := &postgres.IngestRows{ReceivedAt: now}
	var sources []*cloudevents.Event // parallel to rows.Events
	var orderedBy []string           // parallel to rows.Deliveries: the partition key of ordered ones
	for pi, p := range batch {
		for ii := range p.items {
			it := &p.items[ii]
			if _, seen := first[it.key]; seen {
				continue
			}
			first[it.key] = ref{pi, ii}
			it.event.ID = herald.NewID(now)
			it.event.ReceivedAt = now
			k := it.key
			k.EventID, k.ReceivedAt = it.event.ID, now
			rows.Keys = append(rows.Keys, k)
			rows.Events = append(rows.Events, &it.event)
			sources = append(sources, it.ce)
		}
	}

	early := true
	for try := 0; ; try++ {
		snap, err := s.catalog.Get(ctx)
		if err != nil {
			return fmt.Errorf("ingest: catalog: %w", err)
		}
		orderedBy = routeRows(snap, rows, sources, orderedBy[:0], now)
		err = s.write(ctx, batch, rows, orderedBy, snap.Version, try < 5, early)
		if errors.Is(err, errKnownKeys) {
			early = false // write again, placing jobs once the new events are known
			continue
		}
		if errors.Is(err, errStaleRoutes) {
			// The configuration changed after the snapshot was taken: load
			// the new one and route again, so no endpoint committed before
			// these events is missed.
			if _, err := s.catalog.Fresh(ctx, s.pool); err != nil {
				return fmt.Errorf("ingest: catalog: %w", err)
			}
			continue
		}
		return err
	}
}

var (
	errStaleRoutes = errors.New("routing snapshot is older than the database")
	// errKnownKeys: a write that placed jobs before its events were
	// stored found some of them stored already (a producer's retry).
	errKnownKeys = errors.New("some events of the group are stored already")
)

// write runs the transaction: events, deliveries and jobs, then commit.
// orderedBy gives each delivery's partition key when its endpoint is
// ordered ("" otherwise): those join their key's queue instead of getting a
// job of their own.
//
// The statement that stores the events holds the log head's row lock
// until the commit (IngestWrite), so every other committer waits for
// whatever follows it. With early set, the jobs of the deliveries that are
// not ordered are inserted before it, for every event of the group, as if
// none were a duplicate; a group that turns out to hold a stored event is
// rolled back with errKnownKeys, and written again without early. Ordered
// deliveries still join their keys' queues after it: their position
// follows the sequence, which the lock hands out.
func (s *Service) write(ctx context.Context, batch []*pending, rows *postgres.IngestRows, orderedBy []string, routedAt int64, checkRoutes, early bool) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ingest: begin: %w: %w", herald.ErrUnavailable, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// The first attempts claimed by this transaction run once it commits.
	var claims []*queue.Claim
	committed := false
	defer func() {
		for _, c := range claims {
			if committed {
				c.Start()
			} else {
				c.Cancel()
			}
		}
	}()
	enqueue := func(jobs []river.InsertManyParams) error {
		c, err := s.enqueue(ctx, tx, jobs)
		if c != nil {
			claims = append(claims, c)
		}
		return err
	}

	// place gives the deliveries that keep picks their jobs (deliveries of
	// this commit to one endpoint share a job, or a few) or, ordered ones,
	// their keys' queues.
	place := func(keep func(i int) bool) ([]river.InsertManyParams, error) {
		var ds []*herald.Delivery
		var keys []string
		for i, d := range rows.Deliveries {
			if keep(i) {
				ds, keys = append(ds, d), append(keys, orderedBy[i])
			}
		}
		jobs, err := queue.PlaceDeliveries(ctx, tx, s.store, ds, func(i int) string { return keys[i] })
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		return jobs, nil
	}
	if early {
		jobs, err := place(func(i int) bool { return orderedBy[i] == "" })
		if err != nil {
			return err
		}
		if err := enqueue(jobs); err != nil {
			return err
		}
	}
	seqs, version, err := s.store.IngestWrite(ctx, tx, rows)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if early && len(seqs) < len(rows.Keys) {
		return errKnownKeys
	}
	// After a few tries routing may lag behind endpoint changes (they race
	// with the events, and either order is right), but never behind a
	// consumer group's creation or deletion: a group's log must hold
	// every event numbered after it was created.
	if (checkRoutes && version != routedAt) || rows.RoutesVersion > routedAt {
		return errStaleRoutes
	}
	if err := s.address(ctx, tx, rows, seqs); err != nil {
		return err
	}
	if len(rows.GroupRows) > 0 {
		// Wake the pull consumers of these groups, on every node, when
		// the events commit.
		groups := make([]uuid.UUID, len(rows.GroupRows))
		for i, g := range rows.GroupRows {
			groups[i] = g.GroupID
		}
		if err := s.store.GroupLogNotify(ctx, tx, groups); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
	}
	existing := map[postgres.EventKey]postgres.StoredKey{}
	if len(seqs) < len(rows.Keys) {
		var dupKeys []postgres.EventKey
		for _, k := range rows.Keys {
			if _, ok := seqs[k.EventID]; !ok {
				dupKeys = append(dupKeys, k)
			}
		}
		found, err := s.store.EventKeysLookup(ctx, tx, dupKeys)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		for i, k := range dupKeys {
			k.EventID, k.ReceivedAt = uuid.Nil, time.Time{}
			existing[k] = found[i]
		}
	}
	// The new events' deliveries, those placed early aside.
	jobs, err := place(func(i int) bool {
		_, isNew := seqs[rows.Deliveries[i].EventID]
		return isNew && (!early || orderedBy[i] != "")
	})
	if err != nil {
		return err
	}
	connectorJobs, err := s.writeConnectorRuns(ctx, tx, rows.ConnectorRuns, seqs)
	if err != nil {
		return err
	}
	jobs = append(jobs, connectorJobs...)
	if err := enqueue(jobs); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ingest: commit: %w", err)
	}
	committed = true

	// Answer every item: stored, a duplicate of an earlier request, or a
	// repeat of a key stored by this very group.
	for _, p := range batch {
		for ii := range p.items {
			it := &p.items[ii]
			k := it.key
			switch sk, dup := existing[k]; {
			case dup:
				it.stored = Stored{ID: sk.EventID, Seq: sk.Seq, ReceivedAt: sk.ReceivedAt, Duplicate: true}
			case it.event.ID != uuid.Nil:
				it.stored = Stored{ID: it.event.ID, Seq: seqs[it.event.ID], ReceivedAt: rows.ReceivedAt}
			}
			it.stored.Source, it.stored.CEID = k.Source, k.CEID
		}
	}
	owners := make(map[postgres.EventKey]*item, len(rows.Keys))
	for _, p := range batch {
		for ii := range p.items {
			if it := &p.items[ii]; it.event.ID != uuid.Nil {
				owners[it.key] = it
			}
		}
	}
	for _, p := range batch {
		for ii := range p.items {
			if it := &p.items[ii]; it.event.ID == uuid.Nil {
				// A repeat within this group: answer with the first one.
				it.stored = owners[it.key].stored
				it.stored.Duplicate = true
			}
		}
	}
	return nil
}

// copyThreshold is the batch size from which COPY beats a multi-row
// INSERT for River's jobs: COPY's fixed cost per call (measured ~1.6 ms in
// PostgreSQL for a handful of rows) dominates small group commits.
const copyThreshold = 200

// enqueue inserts jobs in tx. The first attempts the handoff can take are
// claimed: they run on this node once tx commits (see write), and the
// claim is returned; nil when it takes none.
func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, jobs []river.InsertManyParams) (*queue.Claim, error) {
	var claim *queue.Claim
	var err error
	switch {
	case len(jobs) == 0:
		return nil, nil
	case len(jobs) < copyThreshold:
		// The handoff needs the jobs' ids, which only this insert returns;
		// groups as large as copyThreshold favour throughput over latency
		// anyway, and River's batched fetch serves them well.
		claim = s.handoff.Claim(jobs)
		var res []*rivertype.JobInsertResult
		res, err = s.jobs.InsertManyTx(ctx, tx, jobs)
		if err == nil {
			err = claim.Inserted(res)
		}
	default:
		_, err = s.jobs.InsertManyFastTx(ctx, tx, jobs)
	}
	if err != nil {
		claim.Cancel()
		return nil, fmt.Errorf("ingest: enqueue deliveries: %w", err)
	}
	return claim, nil
}

// Emit stores and routes one of Herald's operational events about a tenant,
// through the same committer as producers' events.
func (s *Service) Emit(ctx context.Context, tenant uuid.UUID, typ, subject string, data map[string]any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("emit %s: %w", typ, err)
	}
	ce := &cloudevents.Event{ID: uuid.NewString(), Source: "/herald", SpecVersion: cloudevents.SpecVersion, Type: typ,
		Subject: subject, DataContentType: "application/json", Time: time.Now().UTC(), Data: raw}
	body, err := ce.MarshalStructured()
	if err != nil {
		return fmt.Errorf("emit %s: %w", typ, err)
	}
	it := item{
		ce:  ce,
		key: postgres.EventKey{TenantID: tenant, Source: ce.Source, CEID: ce.ID},
		event: herald.Event{TenantID: tenant, Type: typ, Source: ce.Source, CEID: ce.ID, Subject: subject,
			TypeVersion: 1, Body: body},
	}
	if _, err := s.submit(ctx, []item{it}); err != nil {
		return fmt.Errorf("emit %s: %w", typ, err)
	}
	return nil
}
