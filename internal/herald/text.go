package herald

import (
	"strings"
	"unicode/utf8"
)

// StorableText reports whether s can be kept as a PostgreSQL text value:
// valid UTF-8 without U+0000, which text cannot hold. Input that is not is
// refused where it enters (a name, a path, a query parameter); JSON that may
// legitimately hold "\u0000" is stored as bytes instead.
func StorableText(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// LogText makes diagnostic text storable (errors and logs Herald records
// about runs and attempts, which may quote what a receiver or a connector
// function produced): U+0000 becomes U+2400 (␀, the symbol for null) and
// bytes that are not UTF-8 become U+FFFD. Input is never passed through
// it; input is refused instead.
func LogText(s string) string {
	if StorableText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\u2400")
}
