package jsoncheck

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/jsoncheck/jsonchecktest"
)

func TestDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"0", "0", 0},
		{"0", "-0", 0},
		{"-0.0e7", "0", 0},
		{"1", "1.0", 0},
		{"1", "1.000000000000000000000000000001", -1},
		{"100", "1e2", 0},
		{"100", "1E+2", 0},
		{"100", "10000e-2", 0},
		{"0.001", "1e-3", 0},
		{"12.5", "1.25e1", 0},
		{"0.10", "0.1", 0},
		{"0.5", "0.05", 1},
		{"10", "9", 1},
		{"9", "10", -1},
		{"-1", "1", -1},
		{"-2", "-1", -1},
		{"-1", "-2", 1},
		{"-0.5", "-0.50001", 1},
		{"0", "1e-300", -1},
		{"0", "-1e-300", 1},
		{"9007199254740993", "9007199254740992", 1},
		{"123456789012345678901234567890", "123456789012345678901234567891", -1},
		{"1e400", "1e399", 1},
		{"1e-400", "1e-399", -1},
		{"1e400", "9e399", 1},
		{"2e00000000000000000000000000001", "20", 0},
		// Beyond the exponent clamp, only the digits tell numbers apart.
		{"1e100000000000000000000", "1e100000000000000000001", 0},
		{"1e100000000000000000000", "2e100000000000000000001", -1},
	}
	for _, tt := range tests {
		a, ok1 := ParseDecimal(tt.a, nil)
		b, ok2 := ParseDecimal([]byte(tt.b), nil)
		if !ok1 || !ok2 {
			t.Errorf("ParseDecimal(%q) or (%q) failed", tt.a, tt.b)
			continue
		}
		if got := a.Cmp(&b); got != tt.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Cmp(&a); got != -tt.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
	for _, bad := range []string{"", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "1E-", "0x10", " 1", "1 ", "--1", "1-", "NaN", "Infinity", "1.5e3.2", "1e1e1", "١"} {
		if _, ok := ParseDecimal(bad, nil); ok {
			t.Errorf("ParseDecimal(%q) succeeded", bad)
		}
	}
}

// FuzzDecimal checks ParseDecimal and Cmp against the regexp grammar and
// big.Rat.
func FuzzDecimal(f *testing.F) {
	for _, s := range [][2]string{{"0", "-0"}, {"1.5e3", "1500"}, {"9007199254740993", "9007199254740992"}, {"-0.001", "-1e-3"}, {"01", "1."}, {"123.4500e-2", "1.2345"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, okA := ParseDecimal(a, nil)
		db, okB := ParseDecimal(b, nil)
		if okA != jsonchecktest.NumberGrammar.MatchString(a) || okB != jsonchecktest.NumberGrammar.MatchString(b) {
			t.Fatalf("ParseDecimal disagrees with the grammar on %q (%v) or %q (%v)", a, okA, b, okB)
		}
		ra, ok1 := jsonchecktest.Rat(a)
		rb, ok2 := jsonchecktest.Rat(b)
		if !ok1 || !ok2 {
			return
		}
		if got, want := da.Cmp(&db), ra.Cmp(rb); got != want {
			t.Fatalf("cmp(%s, %s) = %d, big.Rat says %d", a, b, got, want)
		}
	})
}

func TestFitsFloat64(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lit  string
		want bool
	}{
		{"0", true}, {"-1.5", true}, {"1e308", true}, {"1.7976931348623157e308", true},
		{"1e-400", true}, {"0e99999", true}, {strings.Repeat("9", 308), true},
		{"1e309", false}, {"-1.8e308", false}, {"1E400", false}, {strings.Repeat("9", 309), false},
	} {
		if got := FitsFloat64([]byte(tc.lit)); got != tc.want {
			t.Errorf("FitsFloat64(%.20s) = %t, want %t", tc.lit, got, tc.want)
		}
	}
}
