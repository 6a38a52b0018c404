package app_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestListPages walks every paged list with a small limit and checks the
// pages hold exactly the unpaged list, in its order, each row once; that
// only a full page carries next_cursor; and that a cursor this server did
// not make is refused naming the field. Dead events include rows reported
// at the same microsecond across a page boundary.
func TestListPages(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	for i := range 5 {
		e.tenant(fmt.Sprintf("pages-tenant-%d", i))
		e.client(w.ownerAdmin, "", fmt.Sprintf("pages-client-%d", i), "producer")
		e.must(201, e.do(w.ownerAdmin, "PUT", fmt.Sprintf("/v1/event-types/com.example.pages.t%d", i), map[string]any{
			"schema": json.RawMessage(`{}`), "consumers": []string{w.consumerID}}))
		e.must(201, e.do(w.consumer, "POST", "/v1/connectors", map[string]any{
			// Names out of creation order: the list is by name.
			"name": fmt.Sprintf("pages connector %d", (i*3)%5), "kind": "function", "types": []string{w.typ},
			"code": transformFunction, "config": map[string]any{"url": "https://example.com/erp"}}))
		e.must(201, e.do(w.ownerAdmin, "POST", "/v1/integrations", map[string]any{"name": fmt.Sprintf("pages-%d", i), "types": []string{w.typ}}))
	}
	same := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	for i := range 7 {
		at := same
		if i >= 5 {
			at = same.Add(time.Duration(i) * time.Minute)
		}
		if _, err := e.app.Pool().Exec(t.Context(), `INSERT INTO dead_events
			(id, tenant_id, client_id, event_id, received_at, seq, type, reason, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'pages', $5)`,
			uuid.New(), w.consumerTenant, w.consumerID, uuid.New(), at, i+1, w.typ); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct {
		path string
		by   cred
		key  string
		min  int // rows the list holds at least, so that it spans pages
	}{
		{"/v1/tenants", admin, "id", 6},
		{"/v1/clients", w.ownerAdmin, "id", 6},
		{"/v1/clients?tenant=" + w.producerTenant, admin, "id", 6},
		{"/v1/event-types", w.ownerAdmin, "name", 6},
		{"/v1/event-types?consumable=true", w.consumer, "name", 6},
		{"/v1/connectors", w.consumer, "id", 5},
		{"/v1/integrations", w.ownerAdmin, "id", 5},
		{"/v1/dead-events", w.consumer, "id", 7},
	} {
		t.Run(c.path, func(t *testing.T) {
			sep := "?"
			if u, _ := url.Parse(c.path); u.RawQuery != "" {
				sep = "&"
			}
			var all []string
			whole := e.must(200, e.do(c.by, "GET", c.path, nil))
			for _, row := range whole["data"].([]any) {
				all = append(all, fmt.Sprint(row.(map[string]any)[c.key]))
			}
			if len(all) < c.min {
				t.Fatalf("the list holds %d rows, want at least %d", len(all), c.min)
			}
			var seen []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(all)+1 {
					t.Fatalf("more pages than rows: %v", seen)
				}
				q := c.path + sep + "limit=2"
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				m := e.must(200, e.do(c.by, "GET", q, nil))
				rows := m["data"].([]any)
				for _, row := range rows {
					seen = append(seen, fmt.Sprint(row.(map[string]any)[c.key]))
				}
				next, _ := m["next_cursor"].(string)
				if len(rows) < 2 && next != "" {
					t.Errorf("a short page has a next_cursor")
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if !slices.Equal(seen, all) {
				t.Errorf("pages hold\n%v\nthe list holds\n%v", seen, all)
			}
			item := problemItem(t, e.must(422, e.do(c.by, "GET", c.path+sep+"limit=2&cursor=bm9wZQ", nil)))
			if item["field"] != "cursor" || item["rule"] != "format" {
				t.Errorf("a made-up cursor: %v", item)
			}
		})
	}
}
