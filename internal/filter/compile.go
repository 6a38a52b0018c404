package filter

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/jsoncheck"
	"github.com/heraldhq/herald/internal/jsonpath"
	"github.com/heraldhq/herald/internal/route"
)

// opcode is what a node does: combine other nodes, or test one value.
type opcode uint8

const (
	opAnd opcode = iota + 1
	opOr
	opNot
	opEq
	opNe
	opIn
	opExists
	opPrefix
	opSuffix
	opContains
	opGt
	opGte
	opLt
	opLte
	opPattern
)

// opNames are the document keys, indexed by opcode.
var opNames = [...]string{
	opAnd: "and", opOr: "or", opNot: "not",
	opEq: "eq", opNe: "ne", opIn: "in", opExists: "exists",
	opPrefix: "prefix", opSuffix: "suffix", opContains: "contains",
	opGt: "gt", opGte: "gte", opLt: "lt", opLte: "lte",
	opPattern: "pattern",
}

// operatorList is for messages.
const operatorList = "eq, ne, in, exists, prefix, suffix, contains, pattern, gt, gte, lt, lte"

// lookupOp returns the opcode named by a document key, or 0.
func lookupOp(key string) opcode {
	for op, name := range opNames {
		if name == key && name != "" {
			return opcode(op)
		}
	}
	return 0
}

func (op opcode) isCombinator() bool { return op == opAnd || op == opOr || op == opNot }

// target says where a condition's value comes from.
type target uint8

const (
	targetAttr target = iota + 1
	targetExt
	targetData
)

var targetNames = [...]string{targetAttr: "attr", targetExt: "ext", targetData: "data"}

func lookupTarget(key string) target {
	switch key {
	case "attr":
		return targetAttr
	case "ext":
		return targetExt
	case "data":
		return targetData
	}
	return 0
}

// attrNames are the CloudEvents v1.0 context attributes a filter can read.
var attrNames = []string{"id", "source", "type", "subject", "datacontenttype", "dataschema", "time", "specversion"}

// scalar is an operand: a string, number, boolean or null.
type scalar struct {
	kind int // jsonString, jsonNumber, jsonBool or jsonNull
	// str is the string; a number's literal text; "true", "false" or
	// "null". Booleans and null keep their text so that comparing them to a
	// canonical string form or a JSON literal is one string comparison.
	str string
	num jsoncheck.Decimal // for numbers
}

// node is a compiled filter: a combinator or a condition.
type node struct {
	op opcode

	// kids are the operands of and/or (in document order, for MarshalJSON)
	// or the single operand of not.
	kids []*node
	// order is kids in evaluation order: those that do not read data come
	// first, so that an attribute that decides the result spares the scan of
	// the data. and/or have no side effects, so the order is unobservable.
	order []*node
	// readsData reports whether a condition in this subtree reads data.
	readsData bool

	target target
	name   string         // attribute or extension name
	segs   jsoncheck.Path // data path
	path   jsonpath.Ref   // data path's slot in the filter's path set

	// vals are the operands: one for eq, ne, prefix, ..., all of them for in
	// (document order, for MarshalJSON).
	vals   []scalar
	exists bool // exists's operand
	// For in: strSet holds the string operands when there are many, for a
	// constant-time lookup, and inList every operand not in strSet.
	strSet map[string]struct{}
	inList []scalar
}

// inSetMin is the number of string operands from which in uses a map; below
// it, comparing one by one is faster than hashing.
const inSetMin = 8

// compiler turns a jsonValue tree into nodes.
type compiler struct {
	conditions int
	paths      jsonpath.Set
}

func errorf(ptr, format string, args ...any) *Error {
	return &Error{Path: ptr, Message: fmt.Sprintf(format, args...)}
}

// filter compiles v, found at ptr and at nesting depth depth.
func (c *compiler) filter(v *jsonValue, ptr string, depth int) (*node, error) {
	if v.kind != jsonObject {
		return nil, errorf(ptr, "want a filter object: a condition such as {\"attr\": \"type\", \"eq\": \"...\"} or one of and, or, not")
	}
	if depth > MaxDepth {
		return nil, errorf(ptr, "filters nest more than %d levels deep", MaxDepth)
	}
	if len(v.keys) == 0 {
		return nil, errorf(ptr, "empty filter object: want a condition or one of and, or, not (to match every event, send no filter or null)")
	}
	for _, k := range v.keys {
		if lookupOp(k) == 0 && lookupTarget(k) == 0 {
			return nil, unknownKey(ptr, k)
		}
	}
	if len(v.keys) > 1 {
		for j, k := range v.keys {
			if lookupOp(k).isCombinator() {
				// Report at the key where the object stops being one thing:
				// the second key when the combinator comes first, else the
				// combinator itself.
				at := max(j, 1)
				return nil, errorf(ptr+"/"+escapePointer(v.keys[at]),
					"%s cannot share an object with %s: an object is one condition or one of and, or, not",
					quote(v.keys[at]), quote(v.keys[0]))
			}
		}
	}
	switch op := lookupOp(v.keys[0]); op {
	case opAnd, opOr:
		return c.list(op, v.elems[0], ptr+"/"+opNames[op], depth)
	case opNot:
		kptr := ptr + "/not"
		if v.elems[0].kind != jsonObject {
			return nil, errorf(kptr, "not takes one filter object")
		}
		kid, err := c.filter(v.elems[0], kptr, depth+1)
		if err != nil {
			return nil, err
		}
		return &node{op: opNot, kids: []*node{kid}, readsData: kid.readsData}, nil
	}
	return c.condition(v, ptr)
}

// list compiles the array operand of and/or.
func (c *compiler) list(op opcode, v *jsonValue, ptr string, depth int) (*node, error) {
	if v.kind != jsonArray {
		return nil, errorf(ptr, "%s takes an array of filters, e.g. [{...}, {...}]", opNames[op])
	}
	if len(v.elems) == 0 {
		return nil, errorf(ptr, "%s needs at least one filter", opNames[op])
	}
	n := &node{op: op, kids: make([]*node, len(v.elems))}
	for i, e := range v.elems {
		kid, err := c.filter(e, ptr+"/"+strconv.Itoa(i), depth+1)
		if err != nil {
			return nil, err
		}
		n.kids[i] = kid
		n.readsData = n.readsData || kid.readsData
	}
	n.order = make([]*node, 0, len(n.kids))
	for _, data := range []bool{false, true} {
		for _, kid := range n.kids {
			if kid.readsData == data {
				n.order = append(n.order, kid)
			}
		}
	}
	return n, nil
}

// condition compiles an object holding one target and one operator.
func (c *compiler) condition(v *jsonValue, ptr string) (*node, error) {
	c.conditions++
	if c.conditions > MaxConditions {
		return nil, errorf(ptr, "a filter may hold at most %d conditions", MaxConditions)
	}
	var tKey, oKey string
	var tVal, oVal *jsonValue
	for i, k := range v.keys {
		kptr := ptr + "/" + escapePointer(k)
		if lookupTarget(k) != 0 {
			if tKey != "" {
				return nil, errorf(kptr, "a condition has one target, but %s and %s are both here; combine conditions with and", quote(tKey), quote(k))
			}
			tKey, tVal = k, v.elems[i]
			continue
		}
		if oKey != "" {
			return nil, errorf(kptr, "a condition has one operator, but %s and %s are both here; combine conditions with and", quote(oKey), quote(k))
		}
		oKey, oVal = k, v.elems[i]
	}
	if tKey == "" {
		return nil, errorf(ptr, "condition %s has no target: want attr, ext or data", quote(oKey))
	}
	if oKey == "" {
		return nil, errorf(ptr, "condition on %s has no operator: want one of %s", quote(tKey), operatorList)
	}
	n := &node{op: lookupOp(oKey), target: lookupTarget(tKey)}
	tptr := ptr + "/" + tKey
	if tVal.kind != jsonString {
		return nil, errorf(tptr, "%s takes a string", tKey)
	}
	switch n.target {
	case targetAttr:
		if err := checkAttr(tVal.str); err != "" {
			return nil, errorf(tptr, "%s", err)
		}
		n.name = tVal.str
	case targetExt:
		if err := checkExt(tVal.str); err != "" {
			return nil, errorf(tptr, "%s", err)
		}
		n.name = tVal.str
	case targetData:
		segs, perr := jsonpath.Parse(tVal.str, jsonpath.Singular)
		if perr != nil {
			return nil, errorf(tptr, "invalid path %s at offset %d: %s", quote(tVal.str), perr.Offset, perr.Message)
		}
		n.segs = segs
		n.path = c.paths.Add(segs)
		n.readsData = true
	}
	if err := c.operand(n, oVal, ptr+"/"+oKey); err != nil {
		return nil, err
	}
	return n, nil
}

// checkAttr returns why name is not a context attribute a filter can read,
// or "".
func checkAttr(name string) string {
	for _, a := range attrNames {
		if a == name {
			return ""
		}
	}
	msg := fmt.Sprintf("unknown attribute %s: want one of %s", quote(name), strings.Join(attrNames, ", "))
	switch {
	case name == "data" || name == "data_base64":
		msg += `; to test the data use {"data": "$..."}`
	case validExtName(name):
		msg += fmt.Sprintf(`; for an extension attribute use {"ext": %s}`, strconv.Quote(name))
	case validExtName(strings.ToLower(name)):
		msg += "; attribute names are lowercase"
	}
	return msg
}

// checkExt returns why name cannot be an extension attribute, or "".
func checkExt(name string) string {
	for _, a := range attrNames {
		if a == name {
			return fmt.Sprintf(`%s is a core attribute, not an extension: use {"attr": %s}`, quote(name), strconv.Quote(name))
		}
	}
	switch {
	case name == "data":
		return `"data" is the event data, not an extension: use {"data": "$..."}`
	case validExtName(name):
		return ""
	case validExtName(strings.ToLower(name)):
		return fmt.Sprintf("extension name %s must be lowercase: %s", quote(name), strconv.Quote(strings.ToLower(name)))
	}
	return fmt.Sprintf("extension name %s must be 1 to 20 characters, each a-z or 0-9", quote(name))
}

// validExtName applies the CloudEvents naming rule for attributes, as
// ingest does: 1 to 20 characters, each a-z or 0-9.
func validExtName(name string) bool {
	if name == "" || len(name) > 20 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// operand checks and stores the operand of n's operator, found at ptr.
func (c *compiler) operand(n *node, v *jsonValue, ptr string) error {
	name := opNames[n.op]
	switch n.op {
	case opEq, opNe:
		s, err := c.scalar(n, v, ptr, name)
		if err != nil {
			return err
		}
		n.vals = []scalar{s}
	case opIn:
		if v.kind != jsonArray {
			return errorf(ptr, "in takes an array of values")
		}
		if len(v.elems) == 0 {
			return errorf(ptr, "in needs at least one value")
		}
		if len(v.elems) > MaxInValues {
			return errorf(ptr+"/"+strconv.Itoa(MaxInValues), "in may list at most %d values", MaxInValues)
		}
		n.vals = make([]scalar, len(v.elems))
		strs := 0
		for i, e := range v.elems {
			s, err := c.scalar(n, e, ptr+"/"+strconv.Itoa(i), "in")
			if err != nil {
				return err
			}
			n.vals[i] = s
			if s.kind == jsonString {
				strs++
			}
		}
		n.inList = n.vals
		if strs >= inSetMin {
			n.strSet = make(map[string]struct{}, strs)
			n.inList = nil
			for _, s := range n.vals {
				if s.kind == jsonString {
					n.strSet[s.str] = struct{}{}
				} else {
					n.inList = append(n.inList, s)
				}
			}
		}
	case opExists:
		if v.kind != jsonBool {
			return errorf(ptr, "exists takes true or false")
		}
		n.exists = v.boolean
	case opPrefix, opSuffix, opContains:
		if v.kind != jsonString {
			return errorf(ptr, "%s takes a string", name)
		}
		n.vals = []scalar{{kind: jsonString, str: v.str}}
	case opPattern:
		if v.kind != jsonString {
			return errorf(ptr, "pattern takes a string such as \"orders.*.created\" or \"orders.>\"")
		}
		// The same syntax, checked by the same function, as an endpoint's
		// or a group's event type patterns.
		if err := route.ValidatePattern(v.str); err != nil {
			return errorf(ptr, "%s", err)
		}
		n.vals = []scalar{{kind: jsonString, str: v.str}}
	case opGt, opGte, opLt, opLte:
		if v.kind != jsonNumber {
			if v.kind == jsonString {
				if _, ok := jsoncheck.ParseDecimal(v.str, nil); ok {
					return errorf(ptr, "%s takes a number; write %s without quotes", name, v.str)
				}
			}
			return errorf(ptr, "%s takes a number", name)
		}
		s, err := c.scalar(n, v, ptr, name)
		if err != nil {
			return err
		}
		n.vals = []scalar{s}
	}
	return nil
}

// scalar converts an eq, ne or in operand, or a number.
func (c *compiler) scalar(n *node, v *jsonValue, ptr, opName string) (scalar, error) {
	switch v.kind {
	case jsonString:
		return scalar{kind: jsonString, str: v.str}, nil
	case jsonNumber:
		d, ok := jsoncheck.ParseDecimal(v.str, nil)
		if !ok {
			// The decoder has checked the syntax already; this is defence.
			return scalar{}, errorf(ptr, "invalid number %s", quote(v.str))
		}
		return scalar{kind: jsonNumber, str: v.str, num: d}, nil
	case jsonBool:
		return scalar{kind: jsonBool, str: strconv.FormatBool(v.boolean)}, nil
	case jsonNull:
		if n.target != targetData {
			return scalar{}, errorf(ptr, `%s values are never null; to match a missing one use {"exists": false}`, targetNames[n.target])
		}
		return scalar{kind: jsonNull, str: "null"}, nil
	}
	kind := "an object"
	if v.kind == jsonArray {
		kind = "an array"
	}
	return scalar{}, errorf(ptr, "%s takes a string, number, boolean or null, not %s", opName, kind)
}

// unknownKey reports a key that is neither a target, an operator nor a
// combinator, suggesting the nearest known key when it looks like a typo.
func unknownKey(ptr, key string) *Error {
	msg := fmt.Sprintf("unknown key %s: want attr, ext or data with one of %s; or one of and, or, not", quote(key), operatorList)
	best, bestDist := "", 3
	for _, k := range append(targetNames[1:], opNames[1:]...) {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		msg = fmt.Sprintf("unknown key %s (did you mean %s?)", quote(key), strconv.Quote(best))
	}
	return errorf(ptr+"/"+escapePointer(key), "%s", msg)
}

// editDistance is the Levenshtein distance between a and b, in bytes; keys
// are short, so the quadratic algorithm is fine. It gives up early (with a
// large result) on long inputs.
func editDistance(a, b string) int {
	if len(a) > 32 {
		return len(a)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
