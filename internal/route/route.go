// Package route matches event type names against subscription patterns.
//
// Event type names are dot-separated tokens, most specific last, e.g.
// "md.gov.mpass.user.created". Subscriptions name either one type exactly or
// a pattern with NATS subject semantics:
//
//   - "*" matches exactly one token: "md.*.user.created";
//   - ">" matches one or more trailing tokens and must be the last token:
//     "md.gov.>" matches "md.gov.mpass" but not "md.gov";
//   - wildcards are whole tokens only: "user*" or "a.>b" are errors, not
//     literals (NATS treats "New*" as a literal; Herald refuses it because a
//     literal "*" can never occur in a type name and is almost surely a typo);
//   - tokens are case-sensitive and never empty.
//
// Name syntax: at most MaxNameLen bytes; tokens of ASCII letters, digits, '_'
// and '-'. This keeps names safe in URLs, headers, log lines and NATS subjects
// alike. Pattern tokens use the same characters plus the two wildcards.
//
// Match answers for one pattern; Index answers for many subscriptions at once
// and is what the ingest path uses.
package route

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLen is the maximum length in bytes of a type name or pattern.
const MaxNameLen = 255

// Sentinel errors, matched with errors.Is; the concrete error is *SyntaxError.
var (
	// ErrInvalidTypeName reports a malformed concrete event type name.
	ErrInvalidTypeName = errors.New("invalid event type name")
	// ErrInvalidPattern reports a malformed subscription pattern.
	ErrInvalidPattern = errors.New("invalid subscription pattern")
)

// SyntaxError says what is wrong with a name or pattern and where.
type SyntaxError struct {
	// Input is the rejected name or pattern.
	Input string
	// Token is the 1-based index of the offending token; 0 when the problem
	// concerns the whole input (empty, too long).
	Token int
	// Offset is the byte offset in Input where the problem is.
	Offset int
	// Reason explains the problem.
	Reason string

	kind error // ErrInvalidTypeName or ErrInvalidPattern
}

// Error renders e.g. `invalid subscription pattern "a.b*": token 2 "b*" at
// byte 2: wildcard "*" must be a whole token`.
func (e *SyntaxError) Error() string {
	if e.Token == 0 {
		return fmt.Sprintf("%v %q: %s", e.kind, e.Input, e.Reason)
	}
	return fmt.Sprintf("%v %q: token %d %q at byte %d: %s",
		e.kind, e.Input, e.Token, tokenAt(e.Input, e.Offset), e.Offset, e.Reason)
}

// Unwrap returns ErrInvalidTypeName or ErrInvalidPattern.
func (e *SyntaxError) Unwrap() error { return e.kind }

// tokenAt returns the token of s that contains byte offset off.
func tokenAt(s string, off int) string {
	if off > len(s) {
		off = len(s)
	}
	start := strings.LastIndexByte(s[:off], '.') + 1
	end := strings.IndexByte(s[off:], '.')
	if end < 0 {
		return s[start:]
	}
	return s[start : off+end]
}

// ValidateTypeName checks a concrete event type name: 1..MaxNameLen bytes of
// dot-separated, non-empty tokens made of [A-Za-z0-9_-]. Wildcards are not
// allowed. The error is a *SyntaxError wrapping ErrInvalidTypeName.
func ValidateTypeName(name string) error {
	return validate(name, ErrInvalidTypeName)
}

// ValidatePattern checks a subscription: either a concrete type name or a
// pattern whose tokens may also be "*" (any one token) or, as the last token
// only, ">" (one or more tokens). The error is a *SyntaxError wrapping
// ErrInvalidPattern.
func ValidatePattern(p string) error {
	return validate(p, ErrInvalidPattern)
}

func validate(s string, kind error) error {
	fail := func(token, offset int, reason string) error {
		return &SyntaxError{Input: s, Token: token, Offset: offset, Reason: reason, kind: kind}
	}
	if s == "" {
		return fail(0, 0, "must not be empty")
	}
	if len(s) > MaxNameLen {
		return fail(0, MaxNameLen, fmt.Sprintf("%d bytes long, maximum is %d", len(s), MaxNameLen))
	}
	wildOK := kind == ErrInvalidPattern
	token, start := 1, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			continue
		}
		// s[start:i] is one token.
		tok := s[start:i]
		switch {
		case tok == "":
			reason := "empty token (leading, trailing or double dot)"
			return fail(token, start, reason)
		case tok == "*" || tok == ">":
			if !wildOK {
				return fail(token, start, fmt.Sprintf("wildcard %q not allowed in a type name", tok))
			}
			if tok == ">" && i != len(s) {
				return fail(token, start, `wildcard ">" must be the last token`)
			}
		default:
			for j := start; j < i; j++ {
				c := s[j]
				if isNameByte(c) {
					continue
				}
				if c == '*' || c == '>' {
					if wildOK {
						return fail(token, j, fmt.Sprintf("wildcard %q must be a whole token", string(c)))
					}
					return fail(token, j, fmt.Sprintf("wildcard %q not allowed in a type name", string(c)))
				}
				return fail(token, j, fmt.Sprintf("character %q not allowed; use letters, digits, '_' or '-'", rune(c)))
			}
		}
		token++
		start = i + 1
	}
	return nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// IsPattern reports whether p contains a wildcard token ("*" or ">"), i.e.
// whether it can match more than one type name. It does not validate p.
func IsPattern(p string) bool {
	for {
		tok, rest, more := strings.Cut(p, ".")
		if tok == "*" || tok == ">" {
			return true
		}
		if !more {
			return false
		}
		p = rest
	}
}

// Match reports whether the type name subject matches pattern. Both are
// expected to be valid (see ValidatePattern and ValidateTypeName); Match does
// not validate, and for invalid input its answer is unspecified, though it
// never panics and is false for an empty pattern or subject.
func Match(pattern, subject string) bool {
	if pattern == "" || subject == "" {
		return false
	}
	for {
		pt, prest, pmore := strings.Cut(pattern, ".")
		st, srest, smore := strings.Cut(subject, ".")
		switch pt {
		case ">":
			// The current subject token exists, so ">" has its one-or-more.
			return !pmore
		case "*":
		default:
			if pt != st {
				return false
			}
		}
		if !pmore || !smore {
			// Both must run out together: "a.*" does not match "a" or "a.b.c".
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}
