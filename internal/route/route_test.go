package route

import (
	"errors"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		// exact
		{"a", "a", true},
		{"a.b.c", "a.b.c", true},
		{"a.b.c", "a.b", false},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b.d", false},
		{"md.gov.mpass.user.created", "md.gov.mpass.user.created", true},
		{"md.gov.mpass.user.created", "md.gov.mpass.user.Created", false}, // case-sensitive
		{"ab", "a", false},
		{"a", "ab", false},
		{"a.bc", "a.b", false},
		// "*" is exactly one token
		{"*", "a", true},
		{"*", "a.b", false},
		{"*.b", "a.b", true},
		{"*.b", "a.b.c", false},
		{"*.b", "b", false},
		{"a.*", "a", false},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.d", false},
		{"a.*.c", "a.c", false},
		{"*.*", "a.b", true},
		{"*.*", "a", false},
		{"*.*", "a.b.c", false},
		{"md.*.mpass.user.*", "md.gov.mpass.user.created", true},
		// ">" is one or more trailing tokens
		{">", "a", true},
		{">", "a.b.c.d", true},
		{"a.>", "a", false},
		{"a.>", "a.b", true},
		{"a.>", "a.b.c", true},
		{"a.>", "b.c", false},
		{"a.b.>", "a.b", false},
		{"a.b.>", "a.b.c", true},
		{"a.b.>", "a.c.d", false},
		{"*.>", "a", false},
		{"*.>", "a.b", true},
		{"*.b.>", "a.b.c.d", true},
		{"*.b.>", "a.c.c.d", false},
		{"md.gov.>", "md.gov.mpass.user.created", true},
		{"md.gov.>", "md.gove.x", false},
		// empty input never matches
		{"", "a", false},
		{"a", "", false},
		{">", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.subject, func(t *testing.T) {
			t.Parallel()
			if got := Match(tt.pattern, tt.subject); got != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
			}
		})
	}
}

func TestValidatePattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		token   int    // 0 = valid
		reason  string // substring of the error
	}{
		{"a", 0, ""},
		{"md.gov.mpass.user.created", 0, ""},
		{"A_b-9.x", 0, ""},
		{"*", 0, ""},
		{">", 0, ""},
		{"a.*", 0, ""},
		{"*.b.*", 0, ""},
		{"a.>", 0, ""},
		{"*.>", 0, ""},
		{strings.Repeat("a", MaxNameLen), 0, ""},
		{"", 0, "empty"},
		{".a", 1, "empty token"},
		{"a.", 2, "empty token"},
		{"a..b", 2, "empty token"},
		{".", 1, "empty token"},
		{"a.b*", 2, `"*" must be a whole token`},
		{"*a", 1, `"*" must be a whole token`},
		{"a.>b", 2, `">" must be a whole token`},
		{"a.**", 2, `"*" must be a whole token`},
		{">.a", 1, `">" must be the last token`},
		{"a.>.>", 2, `">" must be the last token`},
		{"a.b c", 2, "character ' ' not allowed"},
		{"a/b", 1, "character '/' not allowed"},
		{"ä", 1, "not allowed"},
		{"a.b\x00", 2, "not allowed"},
		{strings.Repeat("a", MaxNameLen+1), 0, "maximum is 255"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			t.Parallel()
			err := ValidatePattern(tt.pattern)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("ValidatePattern(%q) = %v, want nil", tt.pattern, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidatePattern(%q) = nil, want error", tt.pattern)
			}
			if !errors.Is(err, ErrInvalidPattern) {
				t.Errorf("error %v does not wrap ErrInvalidPattern", err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *SyntaxError", err)
			}
			if se.Token != tt.token {
				t.Errorf("Token = %d, want %d (%v)", se.Token, tt.token, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not contain %q", err, tt.reason)
			}
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input string
		want  string
	}{
		{"a.b*", `invalid subscription pattern "a.b*": token 2 "b*" at byte 3: wildcard "*" must be a whole token`},
		{"a..b", `invalid subscription pattern "a..b": token 2 "" at byte 2: empty token (leading, trailing or double dot)`},
		{"", `invalid subscription pattern "": must not be empty`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			t.Parallel()
			if got := ValidatePattern(tt.input).Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestValidateTypeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		reason string // "" = valid
	}{
		{"a", ""},
		{"md.gov.mpass.user.created", ""},
		{"com.example.order_v2.created-late", ""},
		{"UPPER.lower.123", ""},
		{strings.Repeat("a.", 127) + "a", ""},
		{"", "empty"},
		{"a.*", `wildcard "*" not allowed`},
		{"a.>", `wildcard ">" not allowed`},
		{"a.b*", `wildcard "*" not allowed`},
		{"a..b", "empty token"},
		{"a.", "empty token"},
		{".a", "empty token"},
		{"a b", "not allowed"},
		{"a:b", "not allowed"},
		{"a$", "not allowed"},
		{strings.Repeat("a", 256), "maximum is 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateTypeName(tt.name)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("ValidateTypeName(%q) = %v", tt.name, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("ValidateTypeName(%q) = %v, want error containing %q", tt.name, err, tt.reason)
			}
			if !errors.Is(err, ErrInvalidTypeName) || errors.Is(err, ErrInvalidPattern) {
				t.Errorf("error %v should wrap ErrInvalidTypeName only", err)
			}
		})
	}
}

func TestIsPattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"a.b.c", false},
		{"*", true},
		{">", true},
		{"a.*.c", true},
		{"a.>", true},
		{"a.b*", false}, // not a wildcard token (and not valid either)
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := IsPattern(tt.in); got != tt.want {
				t.Errorf("IsPattern(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
