package tokens_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/tokens"
)

// TestIssueCheck: a token checks for its audience until it expires; a
// token of another key, another audience, a tampered or expired one is
// unauthorized.
func TestIssueCheck(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	iss := tokens.New(key, time.Minute, clock)
	client, tenant := uuid.New(), uuid.New()
	tok, exp, err := iss.Issue(client, tenant, tokens.AudienceConsume)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(time.Minute)) {
		t.Fatalf("expires %s", exp)
	}
	c, err := iss.Check(tok, tokens.AudienceConsume)
	if err != nil || c.Client != client || c.Tenant != tenant {
		t.Fatalf("check: %+v, %v", c, err)
	}
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	late := tokens.New(key, time.Minute, func() time.Time { return now.Add(61 * time.Second) })
	for name, check := range map[string]func() error{
		"other key": func() error {
			_, err := tokens.New([]byte("another key"), time.Minute, clock).Check(tok, tokens.AudienceConsume)
			return err
		},
		"other audience": func() error { _, err := iss.Check(tok, "herald:console"); return err },
		"tampered":       func() error { _, err := iss.Check(tampered, tokens.AudienceConsume); return err },
		"expired":        func() error { _, err := late.Check(tok, tokens.AudienceConsume); return err },
		"garbage":        func() error { _, err := iss.Check("not.a.token", tokens.AudienceConsume); return err },
	} {
		if err := check(); !errors.Is(err, herald.ErrUnauthorized) {
			t.Errorf("%s: %v, want unauthorized", name, err)
		}
	}
}
