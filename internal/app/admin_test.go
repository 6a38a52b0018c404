package app_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.must(200, e.do(cred{}, "GET", "/healthz", nil))
	e.must(200, e.do(cred{}, "GET", "/readyz", nil))
	r := e.do(cred{}, "GET", "/openapi.yaml", nil)
	if r.status != 200 || len(r.body) < 100 {
		t.Fatalf("openapi: %d %d bytes", r.status, len(r.body))
	}
}

// TestSSRFRefusedAtCreation: with the default policy, endpoint URLs naming
// internal addresses are refused with a clear error.
func TestSSRFRefusedAtCreation(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *app.Config) { c.AllowPrivateTargets = false })
	w := e.world()
	for _, url := range []string{
		"http://127.0.0.1:8080/hook",
		"http://localhost/hook",
		"http://[::1]/hook",
		"http://169.254.169.254/latest/meta-data",
		"http://10.1.2.3/hook",
		"http://192.168.0.10/hook",
		"http://172.16.0.1/hook",
		"http://100.64.0.1/hook",
		"http://[::ffff:127.0.0.1]/hook",
		"http://[fd00:ec2::254]/hook",
		"http://0.0.0.0/hook",
	} {
		t.Run(url, func(t *testing.T) {
			r := e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{"url": url, "types": []string{w.typ}})
			p := e.must(422, r)
			f := p["errors"].([]any)[0].(map[string]any)
			if f["field"] != "url" || f["rule"] != "ssrf" {
				t.Fatalf("problem = %v", p)
			}
		})
	}
	// Numeric hosts that resolvers read as IPv4 (2130706433 is 127.0.0.1) are
	// refused as malformed rather than guessed at.
	for _, bad := range []string{"ftp://example.com/x", "not a url", "/relative", "http://2130706433/hook", "http://0x7f.1/hook"} {
		p := e.must(422, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{"url": bad, "types": []string{w.typ}}))
		if p["errors"].([]any)[0].(map[string]any)["field"] != "url" {
			t.Fatalf("%s: %v", bad, p)
		}
	}
	// A public address is accepted.
	e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{"url": "https://93.184.216.34/hook", "types": []string{w.typ}}))
}

// TestAdminPermissions checks who may do what across tenants and roles.
func TestAdminPermissions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	otherTenant := e.tenant("other-" + t.Name())
	_, otherAdmin := e.client(admin, otherTenant, "other admin", "admin")

	// Only platform admins manage tenants.
	e.must(403, e.do(w.ownerAdmin, "POST", "/v1/tenants", map[string]any{"name": "x"}))
	e.must(409, e.do(admin, "POST", "/v1/tenants", map[string]any{"name": "other-" + t.Name()}))
	e.must(422, e.do(admin, "POST", "/v1/tenants", map[string]any{"name": ""}))
	list := e.must(200, e.do(otherAdmin, "GET", "/v1/tenants", nil))["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != otherTenant {
		t.Fatalf("tenant admin sees %v", list)
	}
	e.must(404, e.do(otherAdmin, "GET", "/v1/tenants/"+w.producerTenant, nil))

	// Tenant admins create clients in their own tenant only.
	e.must(403, e.do(otherAdmin, "POST", "/v1/clients", map[string]any{"tenant": w.producerTenant, "name": "x", "roles": []string{"producer"}}))
	e.must(403, e.do(w.producer, "POST", "/v1/clients", map[string]any{"name": "x", "roles": []string{"producer"}}))
	p := e.must(422, e.do(otherAdmin, "POST", "/v1/clients", map[string]any{"name": "x", "roles": []string{"producer", "wizard"}}))
	if p["errors"].([]any)[0].(map[string]any)["field"] != "roles[1]" {
		t.Fatalf("problem = %v", p)
	}
	e.must(400, e.do(otherAdmin, "POST", "/v1/clients", `{"name": "x", "roles": ["producer"], "colour": "red"}`))
	clients := e.must(200, e.do(otherAdmin, "GET", "/v1/clients", nil))["data"].([]any)
	for _, c := range clients {
		if c.(map[string]any)["tenant"] != otherTenant {
			t.Fatalf("tenant admin sees a client of another tenant: %v", c)
		}
		if _, leaked := c.(map[string]any)["secret"]; leaked {
			t.Fatalf("secret listed: %v", c)
		}
	}
	e.must(404, e.do(otherAdmin, "GET", "/v1/clients/"+w.producerID, nil))
	e.must(404, e.do(otherAdmin, "DELETE", "/v1/clients/"+w.producerID, nil))

	// Another tenant may not take over an event type.
	e.must(403, e.do(otherAdmin, "PUT", "/v1/event-types/"+w.typ, map[string]any{"schema": json.RawMessage(`{}`)}))
	// Invalid schemas and names are refused with the field named.
	p = e.must(422, e.do(w.ownerAdmin, "PUT", "/v1/event-types/com.example.bad", map[string]any{"schema": json.RawMessage(`{"type": 5}`)}))
	if p["errors"].([]any)[0].(map[string]any)["field"] != "schema" {
		t.Fatalf("problem = %v", p)
	}
	p = e.must(422, e.do(w.ownerAdmin, "PUT", "/v1/event-types/com.example.x", map[string]any{"producers": []string{"00000000-0000-0000-0000-000000000001"}}))
	if p["errors"].([]any)[0].(map[string]any)["field"] != "producers[0]" {
		t.Fatalf("problem = %v", p)
	}
	e.must(422, e.do(w.ownerAdmin, "PUT", "/v1/event-types/bad..name", map[string]any{}))

	// A consumer may only subscribe to types it may consume.
	_, outsider := e.client(otherAdmin, "", "outsider", "consumer")
	rc := newReceiver(t)
	e.must(403, e.do(outsider, "POST", "/v1/endpoints", map[string]any{"url": rc.URL(), "types": []string{w.typ}}))
	e.must(422, e.do(outsider, "POST", "/v1/endpoints", map[string]any{"url": rc.URL(), "types": []string{"com.example.unknown"}}))
	p = e.must(422, e.do(outsider, "POST", "/v1/endpoints", map[string]any{"url": rc.URL(), "types": []string{"com.>.x"}}))
	if p["errors"].([]any)[0].(map[string]any)["field"] != "types[0]" {
		t.Fatalf("problem = %v", p)
	}
	// A pattern is allowed, but routing only delivers what the consumer may
	// consume: the outsider's wildcard endpoint receives nothing.
	e.must(201, e.do(outsider, "POST", "/v1/endpoints", map[string]any{"url": rc.URL(), "types": []string{"com.example.>"}}))
	e.must(202, e.send(w.producer, orderEvent("private-1", 1)))

	// Making the type public lets the outsider subscribe.
	e.must(200, e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, map[string]any{
		"schema": json.RawMessage(orderSchema), "producers": []string{w.producerID}, "public": true,
	}))
	e.must(201, e.do(outsider, "POST", "/v1/endpoints", map[string]any{"url": rc.URL(), "types": []string{w.typ}}))
	e.must(202, e.send(w.producer, orderEvent("public-1", 1)))
	eventually(t, 10*time.Second, "public-1 on both endpoints", func() bool {
		events, _, _, _ := rc.snapshot()
		return events["public-1"] == 2
	})
	time.Sleep(200 * time.Millisecond)
	if events, _, _, _ := rc.snapshot(); events["private-1"] != 0 || events["public-1"] != 2 {
		t.Fatalf("outsider received %v (want public-1 on both endpoints, never private-1)", events)
	}

	// Deleting a client revokes its credential.
	e.must(204, e.do(w.ownerAdmin, "DELETE", "/v1/clients/"+w.producerID, nil))
	e.must(401, e.send(w.producer, orderEvent("after-delete", 1)))
}

// TestSchemaVersions: a changed schema is a new version; an unchanged one
// (even reformatted) is not; old versions stay readable.
func TestSchemaVersions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	put := func(schema string) map[string]any {
		return e.must(200, e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, map[string]any{
			"schema": json.RawMessage(schema), "producers": []string{w.producerID}, "consumers": []string{w.consumerID},
		}))
	}
	if v := put(orderSchema)["version"]; v != float64(1) {
		t.Fatalf("unchanged schema bumped version to %v", v)
	}
	v2 := `{"type":"object","required":["order","qty","currency"],"properties":{"currency":{"enum":["EUR","MDL"]}}}`
	if v := put(v2)["version"]; v != float64(2) {
		t.Fatalf("changed schema has version %v", v)
	}
	vs := e.must(200, e.do(w.consumer, "GET", "/v1/event-types/"+w.typ+"/versions", nil))["data"].([]any)
	if len(vs) != 2 {
		t.Fatalf("versions = %v", vs)
	}
	one := e.must(200, e.do(w.consumer, "GET", "/v1/event-types/"+w.typ+"/versions/1", nil))
	if one["schema"].(map[string]any)["$schema"] == nil {
		t.Fatalf("version 1 = %v", one)
	}
	e.must(404, e.do(w.consumer, "GET", "/v1/event-types/"+w.typ+"/versions/9", nil))
	// The new schema applies at once.
	p := e.must(422, e.send(w.producer, orderEvent("no-currency", 1)))
	if f := p["errors"].([]any)[0].(map[string]any); f["rule"] != "required" {
		t.Fatalf("problem = %v", p)
	}
	ev := orderEvent("with-currency", 1)
	ev["data"].(map[string]any)["currency"] = "MDL"
	e.must(202, e.send(w.producer, ev))
	var mine []map[string]any
	for _, x := range e.must(200, e.do(w.consumer, "GET", "/v1/event-types", nil))["data"].([]any) {
		if m := x.(map[string]any); !strings.HasPrefix(m["name"].(string), "herald.") {
			mine = append(mine, m)
		}
	}
	if len(mine) != 1 || mine[0]["version"] != float64(2) {
		t.Fatalf("types = %v", mine)
	}
	_ = fmt.Sprint
}
