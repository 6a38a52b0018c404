package webhook

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestDescribeMatchesSend holds the request view to what receivers get:
// every header Describe lists reaches the receiver with that value (the
// signature aside, whose schemes match), and nothing else does but what
// the transport adds.
func TestDescribeMatchesSend(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	key, _, err := NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage(t, rc.URL)
	m.Secrets = append(m.Secrets, key)
	m.Timestamp = time.Unix(1_700_000_000, 0)
	m.Header = http.Header{"X-Team": {"blue"}, "Host": {"evil.example"}, "Webhook-Id": {"spoofed"}}

	want, err := s.Describe(m)
	if err != nil {
		t.Fatal(err)
	}
	if res := s.Send(context.Background(), m); !res.Success() {
		t.Fatalf("send: %+v", res)
	}
	got := rc.last(t)

	if want.Method != http.MethodPost || want.URL != rc.URL || !bytes.Equal(want.Body, got.body) {
		t.Errorf("described %s %s with %d body bytes; sent %d", want.Method, want.URL, len(want.Body), len(got.body))
	}
	if sig := want.Header.Get("Webhook-Signature"); sig != "v1,"+SignaturePlaceholder+" v1a,"+SignaturePlaceholder {
		t.Errorf("described signature %q", sig)
	}
	for k, v := range want.Header {
		if k == "Webhook-Signature" {
			continue
		}
		if !slices.Equal(got.header[k], v) {
			t.Errorf("header %s: described %q, received %q", k, v, got.header[k])
		}
	}
	transport := map[string]bool{"Content-Length": true, "Accept-Encoding": true}
	for k := range got.header {
		if _, ok := want.Header[k]; !ok && !transport[k] {
			t.Errorf("header %s reached the receiver but is not described", k)
		}
	}
	if _, ok := want.Header["Idempotency-Key"]; ok {
		t.Error("the transport's replay marker is described as a header")
	}
}

func TestDescribeRefusesWhatSendRefuses(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	for name, m := range map[string]Message{
		"no id":      {URL: "https://example.com/hook", Secrets: []string{testSecret(t)}},
		"no secret":  {URL: "https://example.com/hook", ID: "msg_1"},
		"bad scheme": {URL: "ftp://example.com/hook", ID: "msg_1", Secrets: []string{testSecret(t)}},
		"bad header": {URL: "https://example.com/hook", ID: "msg_1", Secrets: []string{testSecret(t)}, Header: http.Header{"X-A": {"a\nb"}}},
	} {
		if _, err := s.Describe(m); err == nil {
			t.Errorf("%s: described", name)
		} else if !errors.Is(err, ErrInvalidMessage) && !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("%s: %v is neither ErrInvalidMessage nor ErrInvalidSecret", name, err)
		}
	}
}
