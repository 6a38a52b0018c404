package webhook

import (
	"strings"
	"testing"
)

func TestValidHeaderName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want bool
	}{
		{"X-Api-Key", true},
		{"x_custom.header~1", true},
		{"!#$%&'*+-.^_`|~", true},
		{"", false},
		{"X Api", false},
		{"X-Api:", false},
		{"X\tTab", false},
		{"Ünicode", false},
		{"X-Del\x7f", false},
		{"(comment)", false},
		{"a/b", false},
		{"X\r\nInjected", false},
	}
	for _, tt := range tests {
		if got := ValidHeaderName(tt.name); got != tt.want {
			t.Errorf("ValidHeaderName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestValidHeaderNameIsRFC9110Token checks every byte against the RFC's
// tchar list, spelled out.
func TestValidHeaderNameIsRFC9110Token(t *testing.T) {
	t.Parallel()
	const tchar = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for c := 0; c < 256; c++ {
		name := "X" + string(rune(c))
		if c >= 0x80 {
			name = "X" + string([]byte{byte(c)})
		}
		want := strings.IndexByte(tchar, byte(c)) >= 0
		if got := ValidHeaderName(name); got != want {
			t.Errorf("ValidHeaderName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestValidHeaderValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		want  bool
	}{
		{"", true},
		{"Bearer abc.def", true},
		{"a\tb", true},
		{"caf\xc3\xa9", true}, // obs-text, as Go's client sends it
		{"a\r\nX-Injected: 1", false},
		{"a\x00b", false},
		{"a\x7fb", false},
	}
	for _, tt := range tests {
		if got := ValidHeaderValue(tt.value); got != tt.want {
			t.Errorf("ValidHeaderValue(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}
