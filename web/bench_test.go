package web_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkPages measures how long the console's pages take to render on
// the server with a large delivery history: by default 1,000,000
// deliveries (HERALD_BENCH_DELIVERIES overrides) over the last day,
// 90 % of them to one endpoint, with one attempt each and a failure in
// every 200. Each sub-benchmark is one page, fetched over loopback with a
// signed-in session; ns/op is the whole request, server render included.
//
//	go test ./web -run '^$' -bench Pages -benchtime 50x
func BenchmarkPages(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("HERALD_BENCH_DELIVERIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	e := setup(b)
	w := e.world()
	rc := "http://127.0.0.1:9/hook" // nothing is delivered: the history is written directly
	big := e.api(w.partnerA, "POST", "/v1/endpoints", map[string]any{"url": rc, "types": []string{w.typ}}, 201)["id"].(string)
	small := e.api(w.partnerB, "POST", "/v1/endpoints", map[string]any{"url": rc, "types": []string{w.typ}}, 201)["id"].(string)
	start := time.Now()
	if err := seedDeliveries(context.Background(), e.app.Pool(), w, big, small, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d deliveries in %s", n, time.Since(start).Round(time.Second))

	client := consoleClient(b, e.url, w.admin)
	var delivery string
	{
		body := fetch(b, client, e.url+"/console/endpoints/"+big)
		m := regexp.MustCompile(`/console/deliveries/([0-9a-f-]{36})`).FindStringSubmatch(body)
		if m == nil {
			b.Fatal("the endpoint page lists no delivery")
		}
		delivery = m[1]
	}
	var older string
	{
		body := fetch(b, client, e.url+"/console/endpoints/"+big)
		m := regexp.MustCompile(`href="(/console/endpoints/[^"]+cursor=[^"]+)"`).FindStringSubmatch(body)
		if m == nil {
			b.Fatal("the endpoint page has no link to older deliveries")
		}
		older = html.UnescapeString(m[1])
	}
	pages := []struct{ name, path string }{
		{"endpoint-page-2", older},
		{"overview", "/console"},
		{"endpoints", "/console/endpoints"},
		{"endpoint", "/console/endpoints/" + big},
		{"endpoint-failed", "/console/endpoints/" + big + "?status=failed"},
		{"endpoint-small", "/console/endpoints/" + small},
		{"endpoint-small-failed", "/console/endpoints/" + small + "?status=failed"},
		{"delivery", "/console/deliveries/" + delivery},
		{"dead-letters", "/console/dead-letters"},
		{"event-types", "/console/event-types"},
		{"event-type", "/console/event-types/" + w.typ},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				fetch(b, client, e.url+p.path)
			}
		})
	}
}

// seedDeliveries writes n events of one tenant, each with a delivery and
// its one attempt, spread evenly over the last day: 90 % to big,
// the rest to small, one in 200 failed. It writes the tables directly,
// as months of traffic would have left them, then analyzes them.
func seedDeliveries(ctx context.Context, pool *pgxpool.Pool, w world, big, small string, n int) error {
	const batch = 100_000
	span := 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Millisecond)
	// The days seeded get their partitions, as days Herald ran through do.
	if _, err := pool.Exec(ctx, `SELECT herald_ensure_partitions(($1::timestamptz AT TIME ZONE 'UTC')::date - 4, 6)`, now); err != nil {
		return fmt.Errorf("seed partitions: %w", err)
	}
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		_, err := pool.Exec(ctx, `
WITH rows AS (
	SELECT i, date_trunc('milliseconds', $1::timestamptz - ($2::bigint - i) * ($3::bigint * interval '1 microsecond')) AS at
	FROM generate_series($4::bigint, $5::bigint - 1) AS i
), ids AS (
	SELECT i, at,
		(lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7000' || '8000' || lpad(to_hex(i), 12, '0'))::uuid AS event_id,
		(lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7001' || '8000' || lpad(to_hex(i), 12, '0'))::uuid AS delivery_id
	FROM rows
), ev AS (
	INSERT INTO events (id, received_at, seq, tenant_id, producer_id, type, source, ce_id, body)
	SELECT event_id, at, nextval('event_seq'), $6, $7, $8, '/seed', 'seed-' || i,
		convert_to('{"specversion":"1.0","id":"seed-' || i || '","source":"/seed","type":"' || $8 || '","data":{"order":"S-' || i || '","qty":1}}', 'UTF8')
	FROM ids
), dl AS (
	INSERT INTO deliveries (id, created_at, event_id, endpoint_id, tenant_id, status, attempts, last_attempt_at, last_status_code, last_error)
	SELECT delivery_id, at, event_id, CASE WHEN i % 10 = 0 THEN $10::uuid ELSE $9::uuid END, $6,
		CASE WHEN i % 200 = 7 THEN 'failed' ELSE 'succeeded' END, 1, at + interval '20 milliseconds',
		CASE WHEN i % 200 = 7 THEN 503 ELSE 204 END, CASE WHEN i % 200 = 7 THEN 'receiver answered HTTP 503' ELSE '' END
	FROM ids
)
INSERT INTO delivery_attempts (delivery_id, delivery_created_at, attempt, attempted_at, status_code, latency_us, error,
	tenant_id, endpoint_id)
SELECT delivery_id, at, 1, at + interval '20 milliseconds', CASE WHEN i % 200 = 7 THEN 503 ELSE 204 END, 1800,
	CASE WHEN i % 200 = 7 THEN 'receiver answered HTTP 503' ELSE '' END,
	$6, CASE WHEN i % 10 = 0 THEN $10::uuid ELSE $9::uuid END
FROM ids`, now, int64(n), span.Microseconds()/int64(n), int64(from), int64(to), w.tenant, w.producerID, w.typ, big, small)
		if err != nil {
			return fmt.Errorf("seed deliveries %d-%d: %w", from, to, err)
		}
	}
	// Each failed delivery is a webhook dead letter, as the delivery path
	// leaves it.
	_, err := pool.Exec(ctx, `INSERT INTO dead_events (id, tenant_id, client_id, partition, event_id, received_at, seq,
			type, reason, created_at, channel, endpoint_id, delivery_id)
		SELECT gen_random_uuid(), d.tenant_id, ep.client_id, NULL, d.event_id, d.created_at, e.seq, e.type,
			d.last_error, d.last_attempt_at, 'webhook', d.endpoint_id, d.id
		FROM deliveries d JOIN events e ON e.id = d.event_id AND e.received_at = d.created_at
		JOIN endpoints ep ON ep.id = d.endpoint_id
		WHERE d.status = 'failed'`)
	if err != nil {
		return fmt.Errorf("seed dead letters: %w", err)
	}
	_, err = pool.Exec(ctx, `ANALYZE events; ANALYZE deliveries; ANALYZE delivery_attempts; ANALYZE dead_events`)
	return err
}

// consoleClient signs in to the console through its form and returns a
// client holding the session.
func consoleClient(tb testing.TB, base string, c cred) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	fetch(tb, client, base+"/console/sign-in")
	u, _ := url.Parse(base + "/console/sign-in")
	var token string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "herald_signin" {
			token = ck.Value
		}
	}
	resp, err := client.PostForm(base+"/console/sign-in", url.Values{"csrf_token": {token}, "key": {c.key}, "secret": {c.secret}})
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/console" {
		tb.Fatalf("sign-in: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	return client
}

// fetch GETs a page and fails unless it is 200.
func fetch(tb testing.TB, c *http.Client, u string) string {
	tb.Helper()
	resp, err := c.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return string(body)
}
