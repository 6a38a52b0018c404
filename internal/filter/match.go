package filter

import (
	"strconv"

	"github.com/heraldhq/herald/internal/jsoncheck"
	"github.com/heraldhq/herald/internal/route"
)

// match evaluates n for e. st is nil when the filter reads no data.
func (n *node) match(e Event, st *scanState) bool {
	switch n.op {
	case opAnd:
		for _, k := range n.order {
			if !k.match(e, st) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.order {
			if k.match(e, st) {
				return true
			}
		}
		return false
	case opNot:
		return !n.kids[0].match(e, st)
	}
	switch n.target {
	case targetAttr:
		s, ok := e.Attr(n.name)
		if n.op == opExists {
			return ok == n.exists
		}
		return ok && matchText(n, s, false)
	case targetExt:
		v, ok := e.Ext(n.name)
		if n.op == opExists {
			return ok == n.exists
		}
		return ok && n.matchExt(v)
	}
	raw := st.value(e, n.path)
	if n.op == opExists {
		return (raw != nil) == n.exists
	}
	return raw != nil && n.matchData(raw, st)
}

// matchExt tests an extension value through its canonical string form.
func (n *node) matchExt(v any) bool {
	var buf [24]byte // the longest int64 and more
	switch v := v.(type) {
	case string:
		return matchText(n, v, false)
	case bool:
		return matchText(n, strconv.AppendBool(buf[:0], v), false)
	case int32:
		return matchText(n, strconv.AppendInt(buf[:0], int64(v), 10), false)
	case int:
		return matchText(n, strconv.AppendInt(buf[:0], int64(v), 10), false)
	case int64:
		return matchText(n, strconv.AppendInt(buf[:0], v, 10), false)
	case int16:
		return matchText(n, strconv.AppendInt(buf[:0], int64(v), 10), false)
	case int8:
		return matchText(n, strconv.AppendInt(buf[:0], int64(v), 10), false)
	case uint:
		return matchText(n, strconv.AppendUint(buf[:0], uint64(v), 10), false)
	case uint64:
		return matchText(n, strconv.AppendUint(buf[:0], v, 10), false)
	case uint32:
		return matchText(n, strconv.AppendUint(buf[:0], uint64(v), 10), false)
	case uint16:
		return matchText(n, strconv.AppendUint(buf[:0], uint64(v), 10), false)
	case uint8:
		return matchText(n, strconv.AppendUint(buf[:0], uint64(v), 10), false)
	}
	// A value of another type is present but equal to no operand.
	return n.op == opNe
}

// matchText tests a string: an attribute or extension in canonical form
// (typed false), or a JSON string from data (typed true). Untyped strings
// also compare with boolean operands by text and with numbers numerically.
func matchText[S ~string | ~[]byte](n *node, s S, typed bool) bool {
	switch n.op {
	case opEq:
		return equalText(&n.vals[0], s, typed)
	case opNe:
		return !equalText(&n.vals[0], s, typed)
	case opIn:
		if n.strSet != nil {
			if _, ok := n.strSet[string(s)]; ok {
				return true
			}
		}
		// Parse s as a number once, and only if a number operand needs it.
		var buf [32]byte
		var d jsoncheck.Decimal
		parsed, isNum := false, false
		for i := range n.inList {
			op := &n.inList[i]
			if op.kind != jsonNumber {
				if equalText(op, s, typed) {
					return true
				}
				continue
			}
			if typed {
				continue
			}
			if !parsed {
				d, isNum = jsoncheck.ParseDecimal(s, buf[:0])
				parsed = true
			}
			if isNum && d.Cmp(&op.num) == 0 {
				return true
			}
		}
		return false
	case opPrefix:
		return hasPrefix(s, n.vals[0].str)
	case opSuffix:
		return hasSuffix(s, n.vals[0].str)
	case opContains:
		return contains(s, n.vals[0].str)
	case opPattern:
		// Exactly the matcher that routes events by type, so that a subject
		// pattern and a type pattern can never disagree on a name.
		return route.Match(n.vals[0].str, string(s))
	case opGt, opGte, opLt, opLte:
		if typed {
			return false
		}
		var buf [32]byte
		d, ok := jsoncheck.ParseDecimal(s, buf[:0])
		return ok && numericOK(n.op, d.Cmp(&n.vals[0].num))
	}
	return false
}

// equalText reports whether s equals the operand op (see matchText).
func equalText[S ~string | ~[]byte](op *scalar, s S, typed bool) bool {
	switch op.kind {
	case jsonString:
		return string(s) == op.str
	case jsonBool:
		return !typed && string(s) == op.str
	case jsonNumber:
		if typed {
			return false
		}
		var buf [32]byte
		d, ok := jsoncheck.ParseDecimal(s, buf[:0])
		return ok && d.Cmp(&op.num) == 0
	}
	return false
}

// matchData tests the JSON value raw (non-empty) by its type.
func (n *node) matchData(raw []byte, st *scanState) bool {
	switch raw[0] {
	case '"':
		// Most strings compare as they stand; others are decoded (into
		// scratch space, usually), so that "\u00e9" is "é".
		s, err := jsoncheck.Text(st.scratch[:0], raw)
		if err != nil {
			return false
		}
		return matchText(n, s, true)
	case '{', '[':
		// Objects and arrays equal no scalar.
		return n.op == opNe
	case 't', 'f', 'n':
		return n.matchLiteral(raw)
	}
	var buf [32]byte
	d, ok := jsoncheck.ParseDecimal(raw, buf[:0])
	return ok && n.matchNumber(&d)
}

// matchLiteral tests true, false or null.
func (n *node) matchLiteral(raw []byte) bool {
	var lit string
	switch string(raw) {
	case "true":
		lit = "true"
	case "false":
		lit = "false"
	case "null":
		lit = "null"
	default:
		return false // malformed data
	}
	equal := func(op *scalar) bool {
		return (op.kind == jsonBool || op.kind == jsonNull) && op.str == lit
	}
	switch n.op {
	case opEq:
		return equal(&n.vals[0])
	case opNe:
		return !equal(&n.vals[0])
	case opIn:
		// Strings, which may sit in strSet, never equal a literal.
		for i := range n.inList {
			if equal(&n.inList[i]) {
				return true
			}
		}
	}
	return false
}

// matchNumber tests a number from data.
func (n *node) matchNumber(d *jsoncheck.Decimal) bool {
	equal := func(op *scalar) bool {
		return op.kind == jsonNumber && d.Cmp(&op.num) == 0
	}
	switch n.op {
	case opEq:
		return equal(&n.vals[0])
	case opNe:
		return !equal(&n.vals[0])
	case opIn:
		for i := range n.inList {
			if equal(&n.inList[i]) {
				return true
			}
		}
		return false
	case opGt, opGte, opLt, opLte:
		return numericOK(n.op, d.Cmp(&n.vals[0].num))
	}
	return false
}
