package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/webhook"
)

func TestMain(m *testing.M) {
	os.Exit(heraldtest.Main(m, postgres.MigrateDSN))
}

// fixture is a store with one active endpoint at url, signing with secret.
type fixture struct {
	store    *postgres.Store
	endpoint *herald.Endpoint
}

func setup(t *testing.T, url, secret string) *fixture {
	t.Helper()
	ctx := t.Context()
	pool, err := postgres.OpenPool(ctx, heraldtest.NewDatabase(t), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := &fixture{store: postgres.New(pool, secretbox.New(secretbox.GenerateKey()))}
	tenant := &herald.Tenant{ID: uuid.New(), Name: "acme"}
	if err := f.store.TenantCreate(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	key, clientSecret := herald.NewCredential()
	client := &herald.Client{ID: uuid.New(), TenantID: tenant.ID, Name: "consumer", Key: key,
		SecretHash: herald.HashSecret(clientSecret), Roles: []herald.Role{herald.RoleConsumer}}
	if err := f.store.ClientCreate(ctx, client); err != nil {
		t.Fatal(err)
	}
	f.endpoint = &herald.Endpoint{ID: uuid.New(), TenantID: tenant.ID, ClientID: client.ID, URL: url,
		Types: []string{"com.example.>"}, Status: herald.EndpointActive, Secret: secret}
	if err := f.store.EndpointCreate(ctx, f.endpoint); err != nil {
		t.Fatal(err)
	}
	return f
}

// enqueue stores one event with a pending delivery to the endpoint.
func (f *fixture) enqueue(t *testing.T) postgres.DeliveryKey {
	t.Helper()
	at := herald.Now()
	body, err := json.Marshal(map[string]any{"specversion": "1.0", "id": "1", "source": "/shop",
		"type": "com.example.order.created", "data": map[string]any{"order": 1}})
	if err != nil {
		t.Fatal(err)
	}
	ev := &herald.Event{ID: herald.NewID(at), ReceivedAt: at, TenantID: f.endpoint.TenantID, ProducerID: f.endpoint.ClientID,
		Type: "com.example.order.created", Source: "/shop", CEID: "1", TypeVersion: 1, Body: body}
	d := &herald.Delivery{ID: herald.NewID(at), CreatedAt: at, EventID: ev.ID, EndpointID: f.endpoint.ID,
		TenantID: f.endpoint.TenantID, Status: herald.DeliveryPending}
	rows := &postgres.IngestRows{ReceivedAt: at, Events: []*herald.Event{ev}, Deliveries: []*herald.Delivery{d},
		Keys: []postgres.EventKey{{TenantID: ev.TenantID, Source: ev.Source, CEID: ev.CEID, EventID: ev.ID, ReceivedAt: at}}}
	if _, _, err := f.store.IngestWrite(t.Context(), f.store.Pool(), rows); err != nil {
		t.Fatal(err)
	}
	return postgres.DeliveryKey{ID: d.ID, CreatedAt: at}
}

func (f *fixture) delivery(t *testing.T, id uuid.UUID) *herald.Delivery {
	t.Helper()
	d, err := f.store.DeliveryGet(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newDeliverer(t *testing.T, f *fixture, sender Sender) *Deliverer {
	t.Helper()
	d := New(f.store, sender, Config{InFlight: 4, Schedule: webhook.RetrySchedule{0, 0}, ProbeTimeout: time.Minute,
		PreciseWait: 4500 * time.Millisecond}, heraldtest.Logger(t))
	t.Cleanup(d.Stop)
	return d
}

func loopbackSender() *webhook.Sender {
	return webhook.NewSender(webhook.SenderConfig{Policy: webhook.TargetPolicy{AllowPrivate: true}})
}

// senderFunc adapts a function to Sender.
type senderFunc func(ctx context.Context, m webhook.Message) webhook.Result

func (f senderFunc) Send(ctx context.Context, m webhook.Message) webhook.Result { return f(ctx, m) }

// An attempt loaded before its endpoint's secret is rotated goes out
// signed with the old secret, which stays live for the grace period; a
// receiver that already verifies with the new one refuses it, and the
// retry is signed with both.
func TestDeliverSecretRotatedMidFlight(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := mustSecret(t), mustSecret(t)
	var mu sync.Mutex
	var signatures []int // entries in each request's webhook-signature
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		sec, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		want, err := webhook.Sign(newSecret, r.Header.Get("webhook-id"), time.Unix(sec, 0), body)
		if err != nil {
			t.Error(err)
		}
		got := strings.Fields(r.Header.Get("webhook-signature"))
		mu.Lock()
		signatures = append(signatures, len(got))
		mu.Unlock()
		for _, s := range got {
			if s == want {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	f := setup(t, srv.URL+"/hook", oldSecret)
	key := f.enqueue(t)
	hs := loopbackSender()
	var rotate sync.Once
	d := newDeliverer(t, f, senderFunc(func(ctx context.Context, m webhook.Message) webhook.Result {
		rotate.Do(func() {
			if err := f.store.EndpointRotateSecret(ctx, f.endpoint.ID, newSecret, "", time.Hour, time.Now()); err != nil {
				t.Error(err)
			}
		})
		return hs.Send(ctx, m)
	}))

	wait, err := d.Deliver(t.Context(), key, 0)
	if err != nil || wait <= 0 {
		t.Fatalf("first attempt: Deliver = %v, %v; want a wait before the retry", wait, err)
	}
	if got := f.delivery(t, key.ID); got.Status != herald.DeliveryPending || got.Attempts != 1 || got.LastStatusCode != 401 {
		t.Fatalf("after the first attempt: %s, %d attempts, last status %d; want pending, 1, 401", got.Status, got.Attempts, got.LastStatusCode)
	}
	if wait, err := d.Deliver(t.Context(), key, 0); err != nil || wait != 0 {
		t.Fatalf("retry: Deliver = %v, %v; want settled", wait, err)
	}
	if got := f.delivery(t, key.ID); got.Status != herald.DeliverySucceeded || got.Attempts != 2 {
		t.Fatalf("after the retry: %s, %d attempts; want succeeded, 2", got.Status, got.Attempts)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(signatures) != 2 || signatures[0] != 1 || signatures[1] != 2 {
		t.Errorf("signatures per request = %v, want [1 2] (old only, then new and old)", signatures)
	}
}

// An attempt that this node's own context cuts short (its shutdown, the
// job's timeout) is not the receiver's failure: nothing is recorded, and
// the job's error makes it run again.
func TestDeliverInterruptedAttemptIsNotRecorded(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	f := setup(t, srv.URL+"/hook", mustSecret(t))
	key := f.enqueue(t)
	d := newDeliverer(t, f, loopbackSender())

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	wait, err := d.Deliver(ctx, key, 0)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "attempt interrupted") {
		t.Fatalf("Deliver = %v, %v; want the interruption as the job's error", wait, err)
	}
	if got := f.delivery(t, key.ID); got.Status != herald.DeliveryPending || got.Attempts != 0 || len(got.AttemptLog) != 0 {
		t.Errorf("delivery %s with %d attempts (%d logged); want pending and none", got.Status, got.Attempts, len(got.AttemptLog))
	}
}

// An attempt whose answer arrived is recorded even when the job's context
// ends right after (a stop that ran out of time): its outcome is not lost.
func TestDeliverRecordsAnAnsweredAttemptAfterTheJobEnds(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	f := setup(t, srv.URL+"/hook", mustSecret(t))
	key := f.enqueue(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hs := loopbackSender()
	d := newDeliverer(t, f, senderFunc(func(ctx context.Context, m webhook.Message) webhook.Result {
		res := hs.Send(ctx, m)
		cancel()
		return res
	}))

	if wait, err := d.Deliver(ctx, key, 0); err != nil || wait != 0 {
		t.Fatalf("Deliver = %v, %v; want settled", wait, err)
	}
	if got := f.delivery(t, key.ID); got.Status != herald.DeliverySucceeded || got.Attempts != 1 {
		t.Errorf("delivery %s with %d attempts; want succeeded with 1", got.Status, got.Attempts)
	}
}

func mustSecret(t *testing.T) string {
	t.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
