package webhook

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRetrySchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    RetrySchedule
		errItem string // non-empty: expect ErrInvalidRetrySchedule naming this
	}{
		{in: "1s,1s,1s", want: RetrySchedule{time.Second, time.Second, time.Second}},
		{in: " 5s , 5m,30m ", want: RetrySchedule{5 * time.Second, 5 * time.Minute, 30 * time.Minute}},
		{in: "0", want: RetrySchedule{0}},
		{in: "1h30m", want: RetrySchedule{90 * time.Minute}},
		{in: "", errItem: "empty"},
		{in: "   ", errItem: "empty"},
		{in: "5s,,5m", errItem: "item 2 is empty"},
		{in: "5s,", errItem: "item 2 is empty"},
		{in: "5s,bogus", errItem: `"bogus"`},
		{in: "5", errItem: `"5"`},
		{in: "1s,-5s", errItem: `"-5s" is negative`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRetrySchedule(tt.in)
			if tt.errItem != "" {
				if !errors.Is(err, ErrInvalidRetrySchedule) || !strings.Contains(err.Error(), tt.errItem) {
					t.Fatalf("ParseRetrySchedule(%q) = %v, want ErrInvalidRetrySchedule naming %s", tt.in, err, tt.errItem)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRetrySchedule(%q): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ParseRetrySchedule(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestRetryScheduleStringRoundTrip(t *testing.T) {
	t.Parallel()
	s := DefaultRetrySchedule.String()
	if want := "0s,5s,5m0s,30m0s,2h0m0s,5h0m0s,10h0m0s,10h0m0s"; s != want {
		t.Fatalf("String() = %q, want %q", s, want)
	}
	back, err := ParseRetrySchedule(s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back, DefaultRetrySchedule) {
		t.Fatalf("round trip = %v, want %v", back, DefaultRetrySchedule)
	}
}

func fixed(v float64) func() float64 { return func() float64 { return v } }

func TestRetryScheduleNext(t *testing.T) {
	t.Parallel()
	rs := DefaultRetrySchedule
	mid := fixed(0.5) // no jitter
	tests := []struct {
		name     string
		attempts int
		last     Result
		rnd      func() float64
		want     time.Duration
		ok       bool
	}{
		{"nothing failed yet", 0, Result{}, mid, 0, true},
		{"first retry immediate", 1, Result{StatusCode: 500}, mid, 0, true},
		{"second retry", 2, Result{StatusCode: 500}, mid, 5 * time.Second, true},
		{"jitter low end", 2, Result{StatusCode: 500}, fixed(0), 4 * time.Second, true},
		{"jitter quarter", 2, Result{StatusCode: 500}, fixed(0.25), 4500 * time.Millisecond, true},
		{"jitter three quarters", 3, Result{StatusCode: 500}, fixed(0.75), 330 * time.Second, true},
		{"bad jitter source ignored", 2, Result{StatusCode: 500}, fixed(1.5), 5 * time.Second, true},
		{"last retry", 8, Result{StatusCode: 500}, mid, 10 * time.Hour, true},
		{"exhausted", 9, Result{StatusCode: 500}, mid, 0, false},
		{"far past the end", 100, Result{StatusCode: 500}, mid, 0, false},
		{"retry-after raises delay", 2, Result{StatusCode: 503, RetryAfter: 30 * time.Second, HasRetryAfter: true}, mid, 30 * time.Second, true},
		{"retry-after below schedule", 3, Result{StatusCode: 503, RetryAfter: 10 * time.Second, HasRetryAfter: true}, mid, 5 * time.Minute, true},
		{"retry-after clamped", 2, Result{StatusCode: 503, RetryAfter: 48 * time.Hour, HasRetryAfter: true}, mid, MaxRetryAfter, true},
		{"retry-after negative ignored", 2, Result{StatusCode: 503, RetryAfter: -time.Hour, HasRetryAfter: true}, mid, 5 * time.Second, true},
		{"retry-after without flag ignored", 2, Result{StatusCode: 503, RetryAfter: time.Hour}, mid, 5 * time.Second, true},
		{"429 floor", 1, Result{StatusCode: http.StatusTooManyRequests}, mid, OverloadDelay, true},
		{"timeout floor", 2, Result{Timeout: true}, mid, OverloadDelay, true},
		{"429 floor below schedule", 4, Result{StatusCode: http.StatusTooManyRequests}, mid, 30 * time.Minute, true},
		{"429 with retry-after", 2, Result{StatusCode: http.StatusTooManyRequests, RetryAfter: 120 * time.Second, HasRetryAfter: true}, mid, 120 * time.Second, true},
		{"429 with short retry-after", 2, Result{StatusCode: http.StatusTooManyRequests, RetryAfter: time.Second, HasRetryAfter: true}, mid, OverloadDelay, true},
		{"connection refused no floor", 2, Result{Err: errors.New("refused")}, mid, 5 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := rs.Next(tt.attempts, tt.last, tt.rnd)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Next(%d) = %v, %v; want %v, %v", tt.attempts, got, ok, tt.want, tt.ok)
			}
		})
	}
	if _, ok := (RetrySchedule{}).Next(1, Result{}, mid); ok {
		t.Error("empty schedule must be exhausted after the first attempt")
	}
}

func TestRetryScheduleNextJitterBounds(t *testing.T) {
	t.Parallel()
	rs := RetrySchedule{10 * time.Second}
	src := rand.New(rand.NewPCG(1, 2))
	lo, hi := 8*time.Second, 12*time.Second
	var sawLow, sawHigh bool
	for range 10_000 {
		d, ok := rs.Next(1, Result{}, src.Float64)
		if !ok || d < lo || d > hi {
			t.Fatalf("Next = %v, %v; want within [%v, %v]", d, ok, lo, hi)
		}
		sawLow = sawLow || d < 8200*time.Millisecond
		sawHigh = sawHigh || d > 11800*time.Millisecond
	}
	if !sawLow || !sawHigh {
		t.Errorf("jitter does not spread over ±20%% (low seen %v, high seen %v)", sawLow, sawHigh)
	}
	// nil uses the package source and must respect the same bounds.
	for range 100 {
		if d, _ := rs.Next(1, Result{}, nil); d < lo || d > hi {
			t.Fatalf("Next(nil rnd) = %v, want within [%v, %v]", d, lo, hi)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"seconds", "120", 120 * time.Second, true},
		{"seconds with spaces", " 5 ", 5 * time.Second, true},
		{"zero", "0", 0, true},
		{"huge clamps without overflow", "99999999999999999999", maxRetryAfterSeconds * time.Second, true},
		{"IMF-fixdate", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"RFC 850 date", now.Add(time.Hour).Format(time.RFC850), time.Hour, true},
		{"asctime date", now.Add(2 * time.Minute).Format(time.ANSIC), 2 * time.Minute, true},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"absent", "", 0, false},
		{"negative", "-1", 0, false},
		{"fraction", "1.5", 0, false},
		{"units", "5s", 0, false},
		{"garbage", "soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}
