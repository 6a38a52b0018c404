package app_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/tokens"
)

// TestPortalLinks: an admin of a consumer client's tenant gets a signed
// link naming that client, for the time asked; others get nothing.
func TestPortalLinks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	issuer := tokens.New(mustKey(t, e.cfg.MasterKey), 0, nil)

	for _, c := range []struct {
		by        cred
		expiresIn string
		ttl       time.Duration
	}{{admin, "", 24 * time.Hour}, {admin, "90m", 90 * time.Minute}} {
		body := map[string]any{"client": w.consumerID}
		if c.expiresIn != "" {
			body["expires_in"] = c.expiresIn
		}
		r := e.do(c.by, "POST", "/v1/portal-links", body)
		m := e.must(201, r)
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("portal link answer is cacheable: %v", r.header)
		}
		u, err := url.Parse(m["url"].(string))
		if err != nil || u.Path != "/portal/enter" || !strings.HasPrefix(m["url"].(string), e.app.URL()) {
			t.Fatalf("link %v", m["url"])
		}
		claims, err := issuer.Check(u.Query().Get("token"), tokens.AudiencePortalLink)
		if err != nil {
			t.Fatalf("link token: %v", err)
		}
		if claims.Client.String() != w.consumerID || claims.Tenant.String() != w.consumerTenant {
			t.Errorf("link names client %s of %s", claims.Client, claims.Tenant)
		}
		if d := time.Until(claims.Expires) - c.ttl; d > 5*time.Second || d < -5*time.Second {
			t.Errorf("expires_in %q: link expires at %s", c.expiresIn, claims.Expires)
		}
		if _, err := issuer.Check(u.Query().Get("token"), tokens.AudienceConsume); err == nil {
			t.Error("a portal link's token opens a consumer WebSocket")
		}
		if m["client"] != w.consumerID || m["expires_at"] == nil {
			t.Errorf("answer %v", m)
		}
	}

	// The tenant's own admin may; another tenant's admin does not see the
	// client; a producer is not a portal client.
	_, consumerAdmin := e.client(admin, w.consumerTenant, "consumer admin", "admin")
	e.must(201, e.do(consumerAdmin, "POST", "/v1/portal-links", map[string]any{"client": w.consumerID}))
	e.must(404, e.do(w.ownerAdmin, "POST", "/v1/portal-links", map[string]any{"client": w.consumerID}))
	e.must(404, e.do(admin, "POST", "/v1/portal-links", map[string]any{"client": uuid.NewString()}))
	e.must(401, e.do(cred{}, "POST", "/v1/portal-links", map[string]any{"client": w.consumerID}))
	refusals := []struct {
		body        map[string]any
		field, rule string
	}{
		{map[string]any{"client": w.producerID}, "client", "role"},
		{map[string]any{}, "client", "required"},
		{map[string]any{"client": w.consumerID, "expires_in": "0s"}, "expires_in", "range"},
		{map[string]any{"client": w.consumerID, "expires_in": "800h"}, "expires_in", "range"},
		{map[string]any{"client": w.consumerID, "expires_in": "soon"}, "expires_in", "format"},
	}
	for _, c := range refusals {
		item := problemItem(t, e.must(422, e.do(admin, "POST", "/v1/portal-links", c.body)))
		if item["field"] != c.field || item["rule"] != c.rule {
			t.Errorf("%v: problem %v, want %s %s", c.body, item, c.field, c.rule)
		}
	}
	e.must(400, e.do(admin, "POST", "/v1/portal-links", map[string]any{"client": w.consumerID, "ttl": "1h"}))
}

// TestClientSecretRotate: the key stays, the new secret works, the old one
// stops at once; only the tenant's admins may rotate.
func TestClientSecretRotate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	e.must(404, e.do(w.ownerAdmin, "POST", "/v1/clients/"+w.consumerID+"/secret/rotate", nil))
	e.must(403, e.do(w.consumer, "POST", "/v1/clients/"+w.consumerID+"/secret/rotate", nil))
	r := e.do(admin, "POST", "/v1/clients/"+w.consumerID+"/secret/rotate", nil)
	m := e.must(200, r)
	if m["key"] != w.consumer.key || m["secret"] == w.consumer.secret || !strings.HasPrefix(m["secret"].(string), "hs_") {
		t.Fatalf("rotation answer %v", m)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("rotation answer is cacheable")
	}
	e.must(401, e.do(w.consumer, "GET", "/v1/endpoints", nil))
	e.must(200, e.do(cred{w.consumer.key, m["secret"].(string)}, "GET", "/v1/endpoints", nil))
}

// TestEventTypeChecks: a dry run checks a type as a PUT would and stores
// nothing; schema problems point at their place; sample data is checked
// against the current schema; the consumable list is the consume rule's.
func TestEventTypeChecks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	path := "/v1/event-types/com.example.parcel.sent"

	m := e.must(200, e.do(w.ownerAdmin, "PUT", path+"?dry_run=true", map[string]any{"schema": map[string]any{"type": "object"}}))
	if m["name"] != "com.example.parcel.sent" {
		t.Errorf("dry run answer %v", m)
	}
	e.must(404, e.do(w.ownerAdmin, "GET", path, nil))
	e.must(422, e.do(w.ownerAdmin, "PUT", path+"?dry_run=maybe", map[string]any{}))

	bad := e.must(422, e.do(w.ownerAdmin, "PUT", path+"?dry_run=true", map[string]any{
		"schema": map[string]any{"properties": map[string]any{"w": map[string]any{"minimum": "heavy"}, "v": map[string]any{"type": 5}}}}))
	pointers := map[string]bool{}
	for _, it := range bad["errors"].([]any) {
		item := it.(map[string]any)
		if item["field"] != "schema" || item["rule"] != "schema" {
			t.Errorf("problem item %v", item)
		}
		p, _ := item["pointer"].(string)
		pointers[p] = true
	}
	if !pointers["/properties/w/minimum"] || !pointers["/properties/v/type"] {
		t.Errorf("pointers %v, want both places", pointers)
	}
	// A dry run of another tenant's type is refused like the PUT.
	e.must(403, e.do(mustAdminOf(t, e, w.consumerTenant), "PUT", "/v1/event-types/"+w.typ+"?dry_run=true", map[string]any{}))

	valid := "/v1/event-types/" + w.typ + "/validate"
	if m := e.must(200, e.do(w.consumer, "POST", valid, map[string]any{"data": map[string]any{"order": "A", "qty": 1}})); m["valid"] != true {
		t.Errorf("valid sample: %v", m)
	}
	item := problemItem(t, e.must(422, e.do(w.consumer, "POST", valid, map[string]any{"data": map[string]any{"order": "A", "qty": 0}})))
	if item["field"] != "data.qty" || item["rule"] != "minimum" {
		t.Errorf("invalid sample: %v", item)
	}
	item = problemItem(t, e.must(422, e.do(w.consumer, "POST", valid, map[string]any{})))
	if item["field"] != "data" || item["rule"] != "required" {
		t.Errorf("no sample: %v", item)
	}
	e.must(404, e.do(w.consumer, "POST", "/v1/event-types/no.such.type/validate", map[string]any{"data": 1}))

	names := func(c cred) []string {
		var out []string
		for _, it := range e.must(200, e.do(c, "GET", "/v1/event-types?consumable=true", nil))["data"].([]any) {
			out = append(out, it.(map[string]any)["name"].(string))
		}
		return out
	}
	if got := names(w.consumer); !contains(got, w.typ) {
		t.Errorf("the listed consumer's catalogue %v lacks %s", got, w.typ)
	}
	_, stranger := e.client(admin, w.consumerTenant, "stranger", "consumer")
	if got := names(stranger); contains(got, w.typ) {
		t.Errorf("a consumer not listed sees %s: %v", w.typ, got)
	}
}

// TestConnectorChecks: a dry run reports a syntax error with its line and
// column and stores nothing.
func TestConnectorChecks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	body := map[string]any{"name": "erp", "kind": "function", "types": []string{w.typ},
		"code": "({event}) => {\n  return \"success\" +;\n}"}
	item := problemItem(t, e.must(422, e.do(w.consumer, "POST", "/v1/connectors?dry_run=true", body)))
	if item["field"] != "code" || item["rule"] != "syntax" || item["line"] != float64(2) || item["column"] == nil {
		t.Errorf("syntax error: %v", item)
	}
	body["code"] = "({event}) => \"success\""
	e.must(200, e.do(w.consumer, "POST", "/v1/connectors?dry_run=true", body))
	if got := e.must(200, e.do(w.consumer, "GET", "/v1/connectors", nil))["data"].([]any); len(got) != 0 {
		t.Fatalf("a dry run stored %v", got)
	}
	id := e.must(201, e.do(w.consumer, "POST", "/v1/connectors", body))["id"].(string)
	e.must(422, e.do(w.consumer, "PATCH", "/v1/connectors/"+id+"?dry_run=true", map[string]any{"code": "(("}))
	e.must(200, e.do(w.consumer, "PATCH", "/v1/connectors/"+id+"?dry_run=true", map[string]any{"description": "changed"}))
	if got := e.must(200, e.do(w.consumer, "GET", "/v1/connectors/"+id, nil)); got["description"] != "" {
		t.Errorf("a dry run changed the connector: %v", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mustAdminOf creates an admin client of a tenant.
func mustAdminOf(t *testing.T, e *env, tenant string) cred {
	t.Helper()
	_, c := e.client(admin, tenant, "admin of "+tenant[:8], "admin")
	return c
}

// mustKey decodes the test's master key as Herald does.
func mustKey(t *testing.T, s string) []byte {
	t.Helper()
	k, err := secretbox.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k[:]
}

// TestEndpointListPages: with limit, the endpoint list pages by keyset,
// newest first, every endpoint once; without, it lists them all.
func TestEndpointListPages(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	var made []string
	for i := range 7 {
		id, _ := e.endpoint(w.consumer, rc.URL()+"?n="+string(rune('a'+i)), w.typ)
		made = append(made, id)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		q := "/v1/endpoints?limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		m := e.must(200, e.do(w.consumer, "GET", q, nil))
		for _, ep := range m["data"].([]any) {
			seen = append(seen, ep.(map[string]any)["id"].(string))
		}
		next, _ := m["next_cursor"].(string)
		if len(m["data"].([]any)) < 3 && next != "" {
			t.Errorf("short page with a next_cursor")
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 7 {
		t.Fatalf("pages held %d endpoints: %v", len(seen), seen)
	}
	for i, id := range seen {
		if id != made[len(made)-1-i] {
			t.Fatalf("page order %v, want newest first of %v", seen, made)
		}
	}
	if all := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints", nil)); len(all["data"].([]any)) != 7 || all["next_cursor"] != nil {
		t.Errorf("unpaged list: %v", all)
	}

	// The status filter, paged too.
	for _, id := range []string{made[1], made[4], made[5]} {
		e.must(200, e.do(w.consumer, "POST", "/v1/endpoints/"+id+"/disable", nil))
	}
	var disabled []string
	for q := "/v1/endpoints?status=disabled&limit=2"; ; {
		m := e.must(200, e.do(w.consumer, "GET", q, nil))
		for _, ep := range m["data"].([]any) {
			if st := ep.(map[string]any)["status"]; st != "disabled" {
				t.Errorf("status=disabled lists a %v endpoint", st)
			}
			disabled = append(disabled, ep.(map[string]any)["id"].(string))
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			break
		}
		q = "/v1/endpoints?status=disabled&limit=2&cursor=" + url.QueryEscape(next)
	}
	if want := []string{made[5], made[4], made[1]}; strings.Join(disabled, ",") != strings.Join(want, ",") {
		t.Errorf("disabled endpoints %v, want %v", disabled, want)
	}
	if n := len(e.must(200, e.do(w.consumer, "GET", "/v1/endpoints?status=active", nil))["data"].([]any)); n != 4 {
		t.Errorf("%d active endpoints, want 4", n)
	}
	if item := problemItem(t, e.must(422, e.do(w.consumer, "GET", "/v1/endpoints?status=broken", nil))); item["field"] != "status" || item["rule"] != "enum" {
		t.Errorf("status=broken: %v", item)
	}
	for _, q := range []string{"limit=0", "limit=251", "limit=x", "limit=3&cursor=bm9wZQ"} {
		item := problemItem(t, e.must(422, e.do(w.consumer, "GET", "/v1/endpoints?"+q, nil)))
		if item["field"] != strings.SplitN(q, "=", 2)[0] && !(strings.Contains(q, "cursor") && item["field"] == "cursor") {
			t.Errorf("%s: %v", q, item)
		}
	}
}
