// Package email is the built-in "email" connector: it sends one e-mail per
// event over SMTP, with STARTTLS (or implicit TLS) and AUTH PLAIN, its
// subject and body rendered by Go text/template over the event. Its
// configuration:
//
//	{"host": "smtp.example.com", "port": 587, "tls": "starttls",
//	 "username": "herald", "from": "herald@example.com", "to": ["ops@example.com"],
//	 "subject": "Order {{.data.order}}", "body": "{{.event.type}}: {{.data.qty}} items"}
//
// with the password among the connector's secrets ({"password": "..."}).
// Templates see .event (the CloudEvent), .data (its data) and .config.
// "tls": "none" (plain SMTP) is refused unless Herald allows it for
// development.
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/internal/herald"
)

// KindName is the API name of the e-mail connector.
const KindName = "email"

// Kind is the e-mail connector kind.
type Kind struct{ env connectors.Env }

// New returns the kind, dialling through env's guarded dialer.
func New(env connectors.Env) *Kind {
	env.Limits = env.Limits.WithDefaults()
	return &Kind{env: env}
}

// Name implements connectors.Kind.
func (k *Kind) Name() string { return KindName }

type settings struct {
	host, tlsMode      string
	port               int
	username, password string
	from               *mail.Address
	to                 []*mail.Address
	subject, body      *template.Template
}

func (k *Kind) parse(spec connectors.Spec) (*settings, error) {
	cfg := spec.Config
	ve := &herald.ValidationError{}
	s := &settings{port: 587, tlsMode: "starttls"}
	str := func(key string, required bool) string {
		v, ok, err := connectors.ConfigString(cfg, key)
		if err != nil {
			ve.Add("config."+key, "type", "must be a string")
		} else if required && (!ok || strings.TrimSpace(v) == "") {
			ve.Add("config."+key, "required", "is required")
		}
		return v
	}
	s.host = str("host", true)
	if strings.ContainsAny(s.host, " /:@") {
		ve.Add("config.host", "format", "must be a host name or IP address")
	}
	switch p := cfg["port"].(type) {
	case nil:
	case float64:
		if p != float64(int(p)) || p < 1 || p > 65535 {
			ve.Add("config.port", "range", "must be a port number, 1-65535")
		}
		s.port = int(p)
	default:
		ve.Add("config.port", "type", "must be a number")
	}
	if m := str("tls", false); m != "" {
		switch m {
		case "starttls", "tls":
			s.tlsMode = m
		case "none":
			if !k.env.AllowPlainSMTP {
				ve.Add("config.tls", "insecure", "plain SMTP is not allowed; use starttls or tls")
			}
			s.tlsMode = m
		default:
			ve.Add("config.tls", "enum", "must be starttls (the default), tls or none")
		}
	}
	s.username = str("username", false)
	s.password = str("password", false)
	if s.password != "" && s.username == "" {
		ve.Add("config.username", "required", "is required with a password")
	}
	if from := str("from", true); from != "" {
		a, err := mail.ParseAddress(from)
		if err != nil {
			ve.Add("config.from", "format", "is not an e-mail address: %v", err)
		}
		s.from = a
	}
	var tos []string
	switch v := cfg["to"].(type) {
	case string:
		tos = []string{v}
	case []any:
		for i, e := range v {
			es, ok := e.(string)
			if !ok {
				ve.Add(fmt.Sprintf("config.to[%d]", i), "type", "must be a string")
			}
			tos = append(tos, es)
		}
	case nil:
		ve.Add("config.to", "required", "give at least one recipient")
	default:
		ve.Add("config.to", "type", "must be an address or a list of addresses")
	}
	if len(tos) > 50 {
		ve.Add("config.to", "max-items", "at most 50 recipients")
	}
	for i, t := range tos {
		a, err := mail.ParseAddress(t)
		if err != nil {
			ve.Add(fmt.Sprintf("config.to[%d]", i), "format", "is not an e-mail address: %v", err)
			continue
		}
		s.to = append(s.to, a)
	}
	var err error
	subj := str("subject", true)
	if s.subject, err = template.New("subject").Parse(subj); err != nil {
		ve.Add("config.subject", "template", "%v", err)
	}
	body := str("body", true)
	if s.body, err = template.New("body").Parse(body); err != nil {
		ve.Add("config.body", "template", "%v", err)
	}
	if strings.TrimSpace(spec.Code) != "" {
		ve.Add("code", "unused", "the email kind takes no code; its subject and body are templates in config")
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate implements connectors.Kind.
func (k *Kind) Validate(spec connectors.Spec) error {
	_, err := k.parse(spec)
	return err
}

// Targets implements connectors.Targeter: config.host, the SMTP server.
func (k *Kind) Targets(spec connectors.Spec) []connectors.Target {
	if h, ok, _ := connectors.ConfigString(spec.Config, "host"); ok && h != "" {
		return []connectors.Target{{Field: "config.host", Host: h}}
	}
	return nil
}

// Build implements connectors.Kind.
func (k *Kind) Build(spec connectors.Spec) (connectors.Runnable, error) {
	s, err := k.parse(spec)
	if err != nil {
		return nil, err
	}
	return &runnable{k: k, s: s, config: spec.Config}, nil
}

type runnable struct {
	k      *Kind
	s      *settings
	config map[string]any
}

// Run renders and sends one message.
func (r *runnable) Run(ctx context.Context, in connectors.Input) connectors.Result {
	start := time.Now()
	log := connectors.NewLogger(r.k.env.Limits.MaxLogBytes)
	res := r.run(ctx, in, log)
	res.Logs, res.Duration = log.Lines(), time.Since(start)
	return res
}

func (r *runnable) run(ctx context.Context, in connectors.Input, log *connectors.Logger) connectors.Result {
	var ev map[string]any
	if err := json.Unmarshal(in.Event, &ev); err != nil {
		return connectors.Failed("read event: %v", err)
	}
	data := map[string]any{"event": ev, "data": ev["data"], "config": r.config}
	var subj, body bytes.Buffer
	if err := r.s.subject.Execute(&subj, data); err != nil {
		return connectors.Failed("subject template: %v", err)
	}
	if err := r.s.body.Execute(&body, data); err != nil {
		return connectors.Failed("body template: %v", err)
	}
	msg, err := r.message(strings.Join(strings.Fields(subj.String()), " "), body.String())
	if err != nil {
		return connectors.Failed("compose: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.k.env.Limits.Timeout)
	defer cancel()
	if err := r.send(ctx, msg); err != nil {
		log.Printf("smtp %s:%d: %v", r.s.host, r.s.port, err)
		return connectors.Result{Status: connectors.StatusFailed, Requests: 1, Error: err.Error()}
	}
	log.Printf("sent %q to %d recipient(s) via %s:%d", connectors.Truncate(subj.String(), 100), len(r.s.to), r.s.host, r.s.port)
	return connectors.Result{Status: connectors.StatusSuccess, Requests: 1}
}

// message builds an RFC 5322 message: UTF-8 text, quoted-printable, the
// subject encoded for non-ASCII.
func (r *runnable) message(subject, body string) ([]byte, error) {
	var b bytes.Buffer
	to := make([]string, len(r.s.to))
	for i, a := range r.s.to {
		to[i] = a.String()
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := r.s.from.Address[strings.LastIndexByte(r.s.from.Address, '@')+1:]
	fmt.Fprintf(&b, "From: %s\r\n", r.s.from.String())
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id[:]), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// send delivers msg over one SMTP session, within ctx.
func (r *runnable) send(ctx context.Context, msg []byte) error {
	if r.k.env.Dial == nil {
		return fmt.Errorf("smtp: outbound connections are not configured")
	}
	addr := net.JoinHostPort(r.s.host, strconv.Itoa(r.s.port))
	conn, err := r.k.env.Dial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp connect %s: %w", addr, err)
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	tlsCfg := &tls.Config{ServerName: r.s.host, RootCAs: r.k.env.RootCAs, MinVersion: tls.VersionTLS12}
	if r.s.tlsMode == "tls" {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("smtp tls: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, r.s.host)
	if err != nil {
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("herald"); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if r.s.tlsMode == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("smtp: server %s does not offer STARTTLS, which is required", addr)
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if r.s.username != "" {
		if err := c.Auth(plainAuth{user: r.s.username, pass: r.s.password}); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(r.s.from.Address); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	for _, a := range r.s.to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("smtp rcpt to %s: %w", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("smtp quit: %w", err)
	}
	return nil
}

// plainAuth is AUTH PLAIN. Unlike net/smtp's PlainAuth it does not second-
// guess the connection: this package only authenticates after TLS is up,
// or over plain SMTP that Herald was told to allow.
type plainAuth struct{ user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, fmt.Errorf("unexpected server challenge")
	}
	return nil, nil
}
