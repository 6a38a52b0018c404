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

// TestIssueStamped: a portal link's token lives as long as asked, carries
// its credential stamp, and opens nothing but the portal.
func TestIssueStamped(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	iss := tokens.New([]byte("0123456789abcdef0123456789abcdef"), time.Minute, func() time.Time { return now })
	client, tenant := uuid.New(), uuid.New()
	tok, exp, err := iss.IssueStamped(client, tenant, tokens.AudiencePortalLink, "stamp-1", 24*time.Hour)
	if err != nil || !exp.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("issue: %s, %v", exp, err)
	}
	c, err := iss.Check(tok, tokens.AudiencePortalLink)
	if err != nil || c.Client != client || c.Tenant != tenant || c.Stamp != "stamp-1" || !c.Expires.Equal(exp) {
		t.Fatalf("check: %+v, %v", c, err)
	}
	if _, err := iss.Check(tok, tokens.AudienceConsume); !errors.Is(err, herald.ErrUnauthorized) {
		t.Errorf("a portal link's token opens a consumer connection: %v", err)
	}
	plain, _, _ := iss.Issue(client, tenant, tokens.AudienceConsume)
	if _, err := iss.Check(plain, tokens.AudiencePortalLink); !errors.Is(err, herald.ErrUnauthorized) {
		t.Errorf("a consumer token opens the portal: %v", err)
	}
}
