package email_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/connectors/email"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/webhook"
)

const sampleEvent = `{"specversion":"1.0","id":"order-1","source":"/shop","type":"com.acme.order.created","data":{"order":"Ä-1","qty":2}}`

func env(srv *heraldtest.SMTPServer, allowPrivate bool) connectors.Env {
	d := &net.Dialer{Control: webhook.TargetPolicy{AllowPrivate: allowPrivate}.Control}
	return connectors.Env{Dial: d.DialContext, RootCAs: srv.RootCAs}
}

func config(srv *heraldtest.SMTPServer) map[string]any {
	return map[string]any{
		"host": srv.Host, "port": float64(srv.Port), "username": srv.User, "password": srv.Password,
		"from": "Herald <herald@example.com>", "to": []any{"ops@example.com", "sales@example.com"},
		"subject": "Order {{.data.order}} ({{.event.type}})", "body": "Quantity: {{.data.qty}}\nThanks.",
	}
}

// decode reads the subject and text body of a raw message.
func decode(t *testing.T, raw []byte) (string, string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return subj, string(body)
}

func TestEmailSendsOverSTARTTLS(t *testing.T) {
	t.Parallel()
	srv := heraldtest.NewSMTPServer(t, "herald", "smtp-pass-1")
	k := email.New(env(srv, true))
	spec := connectors.Spec{Config: config(srv)}
	if err := k.Validate(spec); err != nil {
		t.Fatal(err)
	}
	r, err := k.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(context.Background(), connectors.Input{Event: json.RawMessage(sampleEvent)})
	if res.Status != connectors.StatusSuccess {
		t.Fatalf("%s: %s %q", res.Status, res.Error, res.Logs)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("got %d mails", len(mails))
	}
	m := mails[0]
	if !m.TLS || m.User != "herald" || m.From != "herald@example.com" || strings.Join(m.To, ",") != "ops@example.com,sales@example.com" {
		t.Fatalf("envelope %+v", m)
	}
	subj, body := decode(t, m.Data)
	if subj != "Order Ä-1 (com.acme.order.created)" || strings.TrimRight(body, "\r\n") != "Quantity: 2\r\nThanks." {
		t.Fatalf("subject %q body %q", subj, body)
	}
}

func TestEmailFailures(t *testing.T) {
	t.Parallel()
	srv := heraldtest.NewSMTPServer(t, "herald", "smtp-pass-1")
	cases := []struct {
		name   string
		env    connectors.Env
		change func(map[string]any)
		errHas string
	}{
		{"wrong password", env(srv, true), func(c map[string]any) { c["password"] = "wrong" }, "smtp auth"},
		{"ssrf guard", env(srv, false), func(map[string]any) {}, "not allowed"},
		{"untrusted certificate", connectors.Env{Dial: env(srv, true).Dial}, func(map[string]any) {}, "certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config(srv)
			c.change(cfg)
			r, err := email.New(c.env).Build(connectors.Spec{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			res := r.Run(context.Background(), connectors.Input{Event: json.RawMessage(sampleEvent)})
			if res.Status != connectors.StatusFailed || !strings.Contains(res.Error, c.errHas) {
				t.Fatalf("got %s %q", res.Status, res.Error)
			}
		})
	}
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("%d mails accepted", n)
	}
}

func TestEmailValidate(t *testing.T) {
	t.Parallel()
	k := email.New(connectors.Env{})
	cases := []struct {
		name        string
		config      map[string]any
		code        string
		field, rule string
	}{
		{"plain smtp refused", map[string]any{"tls": "none"}, "", "config.tls", "insecure"},
		{"bad recipient", map[string]any{"to": []any{"nobody"}}, "", "config.to[0]", "format"},
		{"bad template", map[string]any{"subject": "{{.event"}, "", "config.subject", "template"},
		{"bad port", map[string]any{"port": float64(70000)}, "", "config.port", "range"},
		{"no host", map[string]any{"host": ""}, "", "config.host", "required"},
		{"code", map[string]any{}, "() => 1", "code", "unused"},
	}
	for _, c := range cases {
		cfg := map[string]any{"host": "smtp.example.com", "from": "a@example.com", "to": "b@example.com", "subject": "s", "body": "b"}
		for k, v := range c.config {
			cfg[k] = v
		}
		err := k.Validate(connectors.Spec{Config: cfg, Code: c.code})
		var ve *herald.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: got %v", c.name, err)
			continue
		}
		found := false
		for _, fe := range ve.Errors {
			found = found || (fe.Field == c.field && fe.Rule == c.rule)
		}
		if !found {
			t.Errorf("%s: got %v, want %s/%s", c.name, err, c.field, c.rule)
		}
	}
}
