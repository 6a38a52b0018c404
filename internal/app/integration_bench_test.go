package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// BenchmarkIntegrationRead measures Integration API reads over the real
// HTTP path and PostgreSQL: authentication of the integration credential,
// the event load, scope and consume checks, the first-read retention
// update, the attachment listing and the access log insert, from 8
// concurrent readers per core over keep-alive connections.
func BenchmarkIntegrationRead(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.Start(context.Background(), app.Config{
		DatabaseURL: heraldtest.NewDatabase(b), DataDir: b.TempDir(), SkipMigrate: true, MasterKey: randomKey(),
		BootstrapAdmin: adminKey + ":" + adminSecret, AllowPrivateTargets: true, Listener: ln,
		DBMaxConns: 20, ShutdownTimeout: 10 * time.Second, Logger: heraldtest.Logger(b),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = a.Stop(context.Background()) }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	call := func(c cred, method, path string, body any, want int) map[string]any {
		var rd io.Reader
		if body != nil {
			buf, _ := json.Marshal(body)
			rd = bytes.NewReader(buf)
		}
		req, _ := http.NewRequest(method, a.URL()+path, rd)
		req.SetBasicAuth(c.key, c.secret)
		if method == "POST" && path == "/v1/events" {
			req.Header.Set("Content-Type", "application/cloudevents-batch+json")
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return m
	}
	tenant := call(admin, "POST", "/v1/tenants", map[string]any{"name": "planx"}, 201)["id"].(string)
	pm := call(admin, "POST", "/v1/clients", map[string]any{"tenant": tenant, "name": "planx", "roles": []string{"producer", "admin"}}, 201)
	producer := cred{pm["key"].(string), pm["secret"].(string)}
	call(producer, "PUT", "/v1/event-types/uk.planx.session.completed", map[string]any{
		"producers": []string{pm["id"].(string)}, "delivery": "thin", "thin_fields": []string{"$.team", "$.flow"},
	}, 201)
	im := call(producer, "POST", "/v1/integrations", map[string]any{"name": "bops-production", "types": []string{"uk.planx.>"}}, 201)
	integ := cred{im["key"].(string), im["secret"].(string)}
	const events = 500
	var ids []string
	for i := 0; i < events; i += 100 {
		batch := make([]map[string]any, 100)
		for j := range batch {
			batch[j] = map[string]any{"specversion": "1.0", "id": fmt.Sprintf("s-%d", i+j), "source": "/planx",
				"type": "uk.planx.session.completed", "datacontenttype": "application/json",
				"data": map[string]any{"team": "osl", "flow": "ldc", "passport": map[string]any{"applicant": "Alice Example", "email": "alice@example.com"}}}
		}
		m := call(producer, "POST", "/v1/events", batch, 202)
		for _, ev := range m["events"].([]any) {
			ids = append(ids, ev.(map[string]any)["id"].(string))
		}
	}

	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[int(n.Add(1))%len(ids)]
			req, _ := http.NewRequest("GET", a.URL()+"/v1/integration/events/"+id, nil)
			req.SetBasicAuth(integ.key, integ.secret)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reads/s")
}
