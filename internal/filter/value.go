package filter

// numericOK reports whether the result c of comparing a value with the
// operand satisfies the numeric operator op.
func numericOK(op opcode, c int) bool {
	switch op {
	case opGt:
		return c > 0
	case opGte:
		return c >= 0
	case opLt:
		return c < 0
	case opLte:
		return c <= 0
	}
	return false
}

// The string operators are generic for the same reason as
// jsoncheck.ParseDecimal:
// string(s[...]) == t does not allocate for either type argument.

func hasPrefix[S ~string | ~[]byte](s S, p string) bool {
	return len(s) >= len(p) && string(s[:len(p)]) == p
}

func hasSuffix[S ~string | ~[]byte](s S, p string) bool {
	return len(s) >= len(p) && string(s[len(s)-len(p):]) == p
}

func contains[S ~string | ~[]byte](s S, p string) bool {
	if len(p) == 0 {
		return true
	}
	first := p[0]
	for i := 0; i+len(p) <= len(s); i++ {
		if s[i] == first && string(s[i:i+len(p)]) == p {
			return true
		}
	}
	return false
}
