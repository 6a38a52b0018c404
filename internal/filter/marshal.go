package filter

import (
	"unicode/utf8"
)

// appendJSON appends n in canonical form (see Filter.MarshalJSON).
func (n *node) appendJSON(b []byte) []byte {
	switch n.op {
	case opAnd, opOr:
		b = append(b, `{"`...)
		b = append(b, opNames[n.op]...)
		b = append(b, `":[`...)
		for i, k := range n.kids {
			if i > 0 {
				b = append(b, ',')
			}
			b = k.appendJSON(b)
		}
		return append(b, "]}"...)
	case opNot:
		b = append(b, `{"not":`...)
		b = n.kids[0].appendJSON(b)
		return append(b, '}')
	}
	b = append(b, `{"`...)
	b = append(b, targetNames[n.target]...)
	b = append(b, `":`...)
	if n.target == targetData {
		b = appendString(b, formatPath(n.segs))
	} else {
		b = appendString(b, n.name)
	}
	b = append(b, `,"`...)
	b = append(b, opNames[n.op]...)
	b = append(b, `":`...)
	switch n.op {
	case opExists:
		if n.exists {
			return append(b, "true}"...)
		}
		return append(b, "false}"...)
	case opIn:
		b = append(b, '[')
		for i := range n.vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = n.vals[i].appendJSON(b)
		}
		b = append(b, ']')
	default:
		b = n.vals[0].appendJSON(b)
	}
	return append(b, '}')
}

func (s *scalar) appendJSON(b []byte) []byte {
	if s.kind == jsonString {
		return appendString(b, s.str)
	}
	// Numbers keep their literal text; true, false and null are their text.
	return append(b, s.str...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Unlike encoding/json it does not
// escape <, > and &: the result is stored and echoed as JSON, never embedded
// in HTML. U+2028 and U+2029 are escaped so that the text is also valid
// JavaScript. Invalid UTF-8 (which Parse never produces) becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\u2028', '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			b = utf8.AppendRune(b, r)
		}
		i += size
	}
	return append(b, '"')
}
