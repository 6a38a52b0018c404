package outbound

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValidateStaticHeaders(t *testing.T) {
	t.Parallel()
	many := func(n int) map[string]string {
		h := make(map[string]string, n)
		for i := range n {
			h[fmt.Sprintf("X-Header-%02d", i)] = "v"
		}
		return h
	}
	tests := []struct {
		name        string
		headers     map[string]string
		authManaged bool
		wantErr     []string // substrings, one per expected problem; nil: valid
	}{
		{"nil", nil, false, nil},
		{"api key", map[string]string{"X-Api-Key": "k_live_123"}, true, nil},
		{"static Authorization without another mode", map[string]string{"Authorization": "Basic aGVyYWxkOnB3"}, false, nil},
		{"odd but legal name", map[string]string{"X-Tenant_ID.v2~!": "bane-nor"}, false, nil},
		{"empty value", map[string]string{"X-Flag": ""}, false, nil},
		{"tab in value", map[string]string{"X-List": "a\tb"}, false, nil},
		{"non-ASCII value", map[string]string{"X-Team": "Trafikkstyring Østlandet"}, false, nil},
		{"exactly the maximum count", many(MaxStaticHeaders), false, nil},
		{"value at the size limit", map[string]string{"X-Big": strings.Repeat("a", MaxStaticHeaderValue)}, false, nil},

		{"too many", many(MaxStaticHeaders + 1), false, []string{"21 headers, at most 20"}},
		{"value too long", map[string]string{"X-Big": strings.Repeat("a", MaxStaticHeaderValue+1)}, false, []string{"4097 bytes"}},
		{"Authorization with another mode", map[string]string{"Authorization": "Bearer x"}, true, []string{"JWT or OAuth2"}},
		{"lower-case authorization with another mode", map[string]string{"authorization": "Bearer x"}, true, []string{"JWT or OAuth2"}},
		{"CRLF injection", map[string]string{"X-Api-Key": "k\r\nX-Admin: 1"}, false, []string{"control characters"}},
		{"bare LF", map[string]string{"X-Api-Key": "k\nx"}, false, []string{"control characters"}},
		{"NUL", map[string]string{"X-Api-Key": "k\x00"}, false, []string{"control characters"}},
		{"DEL", map[string]string{"X-Api-Key": "k\x7f"}, false, []string{"control characters"}},
		{"empty name", map[string]string{"": "v"}, false, []string{"not a valid header name"}},
		{"space in name", map[string]string{"X Api": "v"}, false, []string{"not a valid header name"}},
		{"colon in name", map[string]string{"X-Api:": "v"}, false, []string{"not a valid header name"}},
		{"CRLF in name", map[string]string{"X-A\r\nX-B": "v"}, false, []string{"not a valid header name"}},
		{"non-ASCII name", map[string]string{"X-Nøkkel": "v"}, false, []string{"not a valid header name"}},
		{"name too long", map[string]string{strings.Repeat("X", maxStaticHeaderName+1): "v"}, false, []string{"longer than 256"}},
		{"case duplicates", map[string]string{"X-Api-Key": "a", "x-api-key": "b"}, false, []string{`"x-api-key" duplicates "X-Api-Key"`}},
		{"several problems reported together", map[string]string{"Host": "h", "X-Ok": "fine", "X-Bad": "a\nb"},
			false, []string{`"Host" cannot be set`, `"X-Bad" value contains control characters`}},
	}
	reserved := []string{
		"Host", "content-length", "Content-Type", "Transfer-Encoding", "Connection", "Keep-Alive",
		"Proxy-Connection", "TE", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Authenticate",
		"Content-Encoding", "Expect", "User-Agent",
		"webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE", "Webhook-Future-Thing",
	}
	for _, name := range reserved {
		tests = append(tests, struct {
			name        string
			headers     map[string]string
			authManaged bool
			wantErr     []string
		}{"reserved " + name, map[string]string{name: "v"}, false, []string{fmt.Sprintf("%q cannot be set", name)}})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateStaticHeaders(tt.headers, tt.authManaged)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ValidateStaticHeaders: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidStaticHeader) {
				t.Fatalf("error %v does not wrap ErrInvalidStaticHeader", err)
			}
			msg := err.Error()
			for _, want := range tt.wantErr {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if got := strings.Count(msg, "outbound: invalid static header"); got != len(tt.wantErr) {
				t.Errorf("error reports %d problems, want %d: %s", got, len(tt.wantErr), msg)
			}
			// errors.Join puts one newline between problems; any other line
			// break would have come from the input.
			if strings.Contains(msg, "\r") || strings.Count(msg, "\n") != len(tt.wantErr)-1 {
				t.Errorf("error has raw line breaks from input: %q", msg)
			}
		})
	}
}

// TestValidateStaticHeadersNeverEchoesValues matters because static header
// values are usually API keys, and errors end up in API responses and logs.
func TestValidateStaticHeadersNeverEchoesValues(t *testing.T) {
	t.Parallel()
	const secret = "sk_live_DO_NOT_LEAK"
	inputs := []map[string]string{
		{"X-Api-Key": secret + "\r\n"},
		{"X-Api-Key": secret + strings.Repeat("x", MaxStaticHeaderValue)},
		{"Authorization": "Bearer " + secret},
		{"Host": secret},
		{"X-Api-Key": secret, "x-api-key": secret},
	}
	for _, h := range inputs {
		err := ValidateStaticHeaders(h, true)
		if err == nil {
			t.Errorf("ValidateStaticHeaders(%v) accepted invalid headers", keysOf(h))
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error echoes a header value: %v", err)
		}
	}
}

func keysOf(h map[string]string) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	return out
}

func TestValidateStaticHeadersIsDeterministic(t *testing.T) {
	t.Parallel()
	h := map[string]string{"Host": "a", "Connection": "b", "Upgrade": "c", "Te": "d", "Expect": "e"}
	want := ValidateStaticHeaders(h, false).Error()
	for range 20 {
		if got := ValidateStaticHeaders(h, false).Error(); got != want {
			t.Fatalf("error changed between calls:\n%s\n%s", got, want)
		}
	}
}
