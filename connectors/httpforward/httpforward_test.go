package httpforward_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/connectors/httpforward"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/webhook"
)

const sampleEvent = `{"specversion":"1.0","id":"order-1","source":"/shop","type":"com.acme.order.created","data":{"order":"A-1","qty":2}}`

type hit struct {
	method, ct, auth, key, body string
}

func TestHTTPForward(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var hits []hit
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, hit{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("X-Key"), string(b)})
		mu.Unlock()
		if r.URL.Path == "/fail" {
			http.Error(w, "nope", 503)
			return
		}
		w.WriteHeader(204)
	}))
	t.Cleanup(srv.Close)
	sender := webhook.NewSender(webhook.SenderConfig{Policy: webhook.TargetPolicy{AllowPrivate: true}})
	t.Cleanup(sender.Close)
	k := httpforward.New(connectors.Env{HTTP: sender.HTTPClient()})
	cases := []struct {
		name   string
		code   string
		config map[string]any
		status connectors.Status
		want   *hit
		errHas string
	}{
		{"as is", "", map[string]any{"url": srv.URL + "/in", "token": "t0k3n", "headers": map[string]any{"X-Key": "k"}},
			connectors.StatusSuccess, &hit{"POST", "application/cloudevents+json; charset=utf-8", "Bearer t0k3n", "k", sampleEvent}, ""},
		{"transformed", `({event, config}) => ({id: event.id, qty: event.data.qty, tag: config.tag})`,
			map[string]any{"url": srv.URL + "/in", "method": "put", "tag": "x"},
			connectors.StatusSuccess, &hit{"PUT", "application/json", "", "", `{"id":"order-1","qty":2,"tag":"x"}`}, ""},
		{"text", `({event}) => "order " + event.data.order`, map[string]any{"url": srv.URL + "/in"},
			connectors.StatusSuccess, &hit{"POST", "text/plain; charset=utf-8", "", "", "order A-1"}, ""},
		{"skipped", `() => null`, map[string]any{"url": srv.URL + "/in"}, connectors.StatusSuccess, nil, ""},
		{"receiver fails", "", map[string]any{"url": srv.URL + "/fail"}, connectors.StatusFailed, nil, "HTTP 503"},
		{"transform throws", `() => { throw new Error("bad") }`, map[string]any{"url": srv.URL + "/in"}, connectors.StatusFailed, nil, "transform: Error: bad"},
		{"transform may not request", `({request}) => request.get("http://example.com")`, map[string]any{"url": srv.URL + "/in"}, connectors.StatusFailed, nil, "not available"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := connectors.Spec{Code: c.code, Config: c.config}
			if err := k.Validate(spec); err != nil {
				t.Fatal(err)
			}
			r, err := k.Build(spec)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			before := len(hits)
			mu.Unlock()
			res := r.Run(context.Background(), connectors.Input{Event: json.RawMessage(sampleEvent)})
			if res.Status != c.status || !strings.Contains(res.Error, c.errHas) {
				t.Fatalf("got %s %q (logs %q)", res.Status, res.Error, res.Logs)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.want != nil && (len(hits) != before+1 || hits[before] != *c.want) {
				t.Fatalf("receiver got %+v, want %+v", hits[before:], *c.want)
			}
		})
	}
}

func TestHTTPForwardValidate(t *testing.T) {
	t.Parallel()
	k := httpforward.New(connectors.Env{})
	cases := []struct {
		name  string
		spec  connectors.Spec
		field string
		rule  string
	}{
		{"no url", connectors.Spec{Config: map[string]any{}}, "config.url", "required"},
		{"bad method", connectors.Spec{Config: map[string]any{"url": "https://x.example", "method": "GET"}}, "config.method", "enum"},
		{"bad header", connectors.Spec{Config: map[string]any{"url": "https://x.example", "headers": map[string]any{"X": 1}}}, "config.headers.X", "type"},
		{"syntax", connectors.Spec{Code: "() => {", Config: map[string]any{"url": "https://x.example"}}, "code", "syntax"},
	}
	for _, c := range cases {
		err := k.Validate(c.spec)
		var ve *herald.ValidationError
		if !errors.As(err, &ve) || ve.Errors[0].Field != c.field || ve.Errors[0].Rule != c.rule {
			t.Errorf("%s: got %v, want %s/%s", c.name, err, c.field, c.rule)
		}
	}
}
