package webhook

import "strings"

// ValidHeaderName reports whether s is an RFC 9110 token, the form of a
// header field name: one or more visible ASCII characters other than the
// delimiters "(),/:;<=>?@[\]{}. Every header name Herald accepts (static
// headers, connector headers) or sends is checked with it.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether s has no control characters other than
// horizontal tab (RFC 9110 field-value; obs-text bytes are tolerated as Go's
// HTTP client does).
func ValidHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
