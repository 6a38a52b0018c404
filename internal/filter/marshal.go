package filter

import (
	"github.com/heraldhq/herald/internal/jsoncheck"
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
		b = jsoncheck.AppendString(b, n.segs.Canonical())
	} else {
		b = jsoncheck.AppendString(b, n.name)
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
		return jsoncheck.AppendString(b, s.str)
	}
	// Numbers keep their literal text; true, false and null are their text.
	return append(b, s.str...)
}
