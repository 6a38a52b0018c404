package route

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

type sub struct {
	pattern string
	value   int
}

// bruteForce is the reference answer: every subscription checked with Match,
// values deduplicated.
func bruteForce(subs []sub, subject string) []int {
	var out []int
	for _, s := range subs {
		if Match(s.pattern, subject) && !slices.Contains(out, s.value) {
			out = append(out, s.value)
		}
	}
	slices.Sort(out)
	return out
}

func build(t testing.TB, subs []sub) *Index[int] {
	t.Helper()
	b := NewIndex[int]()
	for _, s := range subs {
		if err := b.Add(s.pattern, s.value); err != nil {
			t.Fatalf("Add(%q): %v", s.pattern, err)
		}
	}
	return b.Build()
}

func sorted(vs []int) []int {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	return vs
}

func TestIndexMatch(t *testing.T) {
	t.Parallel()
	subs := []sub{
		{"a", 1},
		{"a.b", 2},
		{"a.*", 3},
		{"a.>", 4},
		{">", 5},
		{"*.b", 6},
		{"*.b.c", 7},
		{"a.b.c", 8},
		{"x.*.z", 9},
	}
	ix := build(t, subs)
	tests := []struct {
		subject string
		want    []int
	}{
		{"a", []int{1, 5}},
		{"a.b", []int{2, 3, 4, 5, 6}},
		{"a.b.c", []int{4, 5, 7, 8}},
		{"a.c", []int{3, 4, 5}},
		{"q.b", []int{5, 6}},
		{"x.y.z", []int{5, 9}},
		{"x.y", []int{5}},
		{"zzz", []int{5}},
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			t.Parallel()
			got := sorted(ix.Match(tt.subject, nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Match(%q) = %v, want %v", tt.subject, got, tt.want)
			}
			if want := bruteForce(subs, tt.subject); !slices.Equal(got, want) {
				t.Errorf("Match(%q) = %v, brute force %v", tt.subject, got, want)
			}
		})
	}
}

func TestIndexValueOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		subs    []sub
		subject string
		want    []int
	}{
		{"two matching patterns", []sub{{"a.b", 1}, {"a.*", 1}}, "a.b", []int{1}},
		{"exact, star and tail", []sub{{"a.b", 1}, {"a.*", 1}, {"a.>", 1}, {">", 1}, {"*.b", 2}}, "a.b", []int{1, 2}},
		{"same pattern twice", []sub{{"a.b", 7}, {"a.b", 7}}, "a.b", []int{7}},
		{"shared value, one match", []sub{{"a.b", 1}, {"c.d", 1}}, "a.b", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := build(t, tt.subs).Match(tt.subject, nil)
			if !slices.Equal(sorted(got), tt.want) {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIndexLen(t *testing.T) {
	t.Parallel()
	ix := build(t, []sub{{"a", 1}, {"a", 1}, {"a", 2}, {"a.>", 1}})
	if ix.Len() != 3 {
		t.Errorf("Len = %d, want 3", ix.Len())
	}
	var nilIx *Index[int]
	if nilIx.Len() != 0 || nilIx.Match("a", nil) != nil {
		t.Error("nil Index should be empty")
	}
}

func TestIndexKeepsCallerEntries(t *testing.T) {
	t.Parallel()
	// A value already in dst before the call is the caller's business; the
	// query's own results must still contain each match once.
	ix := build(t, []sub{{"a.b", 1}, {"a.*", 1}, {"a.>", 2}})
	got := ix.Match("a.b", []int{1, 99})
	if !slices.Equal(got[:2], []int{1, 99}) || !slices.Equal(sorted(got[2:]), []int{1, 2}) {
		t.Errorf("got %v", got)
	}
}

func TestIndexBuilderIndependence(t *testing.T) {
	t.Parallel()
	b := NewIndex[string]()
	if err := b.Add("a.*", "first"); err != nil {
		t.Fatal(err)
	}
	ix1 := b.Build()
	if err := b.Add("a.b", "second"); err != nil {
		t.Fatal(err)
	}
	if err := b.Add("a.>", "first"); err != nil { // makes "first" shared in later builds
		t.Fatal(err)
	}
	ix2 := b.Build()
	if got := ix1.Match("a.b", nil); !slices.Equal(got, []string{"first"}) {
		t.Errorf("first index changed after later Add: %v", got)
	}
	got := ix2.Match("a.b", nil)
	slices.Sort(got)
	if !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("second index: %v", got)
	}
}

func TestIndexAddRejectsInvalid(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "a.b*", "a..b", ">.a", "a b"} {
		err := NewIndex[int]().Add(p, 1)
		if !errors.Is(err, ErrInvalidPattern) {
			t.Errorf("Add(%q) = %v, want ErrInvalidPattern", p, err)
		}
	}
}

// randomTokens builds n tokens, each drawn from alphabet.
func randomTokens(r *rand.Rand, n int, alphabet []string) string {
	toks := make([]string, n)
	for i := range toks {
		toks[i] = alphabet[r.Intn(len(alphabet))]
	}
	return strings.Join(toks, ".")
}

func randomPattern(r *rand.Rand) string {
	n := 1 + r.Intn(4)
	toks := make([]string, n)
	for i := range toks {
		switch x := r.Intn(10); {
		case x < 2:
			toks[i] = "*"
		case x < 3 && i == n-1:
			toks[i] = ">"
		default:
			toks[i] = []string{"a", "b", "c"}[r.Intn(3)]
		}
	}
	return strings.Join(toks, ".")
}

func TestIndexMatchesBruteForce(t *testing.T) {
	t.Parallel()
	for seed := int64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewSource(seed))
			subs := make([]sub, 50+r.Intn(300))
			for i := range subs {
				// Few distinct values so many are shared between patterns.
				subs[i] = sub{randomPattern(r), r.Intn(40)}
			}
			ix := build(t, subs)
			var dst []int
			for range 500 {
				subject := randomTokens(r, 1+r.Intn(5), []string{"a", "b", "c", "d"})
				dst = ix.Match(subject, dst[:0])
				got := sorted(dst)
				if want := bruteForce(subs, subject); !slices.Equal(got, want) {
					t.Fatalf("Match(%q) = %v, brute force %v", subject, got, want)
				}
				if len(slices.Compact(got)) != len(dst) {
					t.Fatalf("Match(%q) returned duplicates: %v", subject, dst)
				}
			}
		})
	}
}

func TestIndexConcurrentReaders(t *testing.T) {
	t.Parallel()
	ix := build(t, []sub{{"a.*", 1}, {"a.>", 2}, {"a.b", 3}})
	done := make(chan []int)
	for range 8 {
		go func() {
			var dst []int
			for range 1000 {
				dst = ix.Match("a.b", dst[:0])
			}
			done <- sorted(dst)
		}()
	}
	for range 8 {
		if got := <-done; !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("got %v", got)
		}
	}
}

// benchSubs returns 10,000 subscriptions shaped like a real tenant mix:
// mostly exact type names, some "*" and ">" patterns, and some endpoints
// subscribed under several patterns.
func benchSubs() []sub {
	r := rand.New(rand.NewSource(42))
	domains := []string{"md.gov", "com.shop", "io.pay", "org.health", "net.iot"}
	entities := []string{"user", "order", "invoice", "device", "session", "payment", "ticket", "report"}
	verbs := []string{"created", "updated", "deleted", "approved", "failed", "expired"}
	subs := make([]sub, 0, 10000)
	for i := 0; len(subs) < 10000; i++ {
		d := domains[r.Intn(len(domains))]
		svc := fmt.Sprintf("svc%d", r.Intn(60))
		e := entities[r.Intn(len(entities))]
		v := verbs[r.Intn(len(verbs))]
		var p string
		switch x := r.Intn(100); {
		case x < 70:
			p = strings.Join([]string{d, svc, e, v}, ".")
		case x < 85:
			p = strings.Join([]string{d, svc, e, "*"}, ".")
		case x < 95:
			p = strings.Join([]string{d, "*", e, v}, ".")
		default:
			p = d + "." + svc + ".>"
		}
		subs = append(subs, sub{p, r.Intn(7000)})
	}
	return subs
}

func BenchmarkIndexMatch(b *testing.B) {
	subs := benchSubs()
	ix := build(b, subs)
	subjects := []string{
		"md.gov.svc7.user.created",
		"com.shop.svc12.order.updated",
		"io.pay.svc59.payment.failed",
		"net.iot.svc0.device.expired",
		"org.nothing.matches.here",
	}
	dst := make([]int, 0, 256)
	b.ReportAllocs()
	matched := 0
	for i := 0; b.Loop(); i++ {
		dst = ix.Match(subjects[i%len(subjects)], dst[:0])
		matched += len(dst)
	}
	b.ReportMetric(float64(matched)/float64(b.N), "matches/op")
}

func BenchmarkBruteForceMatch(b *testing.B) {
	subs := benchSubs()
	subject := "md.gov.svc7.user.created"
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, s := range subs {
			if Match(s.pattern, subject) {
				n++
			}
		}
		_ = n
	}
}
