package webhook

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	// MaxRetryAfter caps how far a receiver's Retry-After header can push the
	// next attempt, so a hostile or buggy receiver cannot park messages for
	// days.
	MaxRetryAfter = time.Hour
	// OverloadDelay is the minimum wait after a 429 or a timeout: the
	// receiver is struggling, and an early retry only adds load.
	OverloadDelay = 60 * time.Second
	// RetryJitter is the relative spread applied to every scheduled delay
	// (±20%), so messages that failed together do not retry together.
	RetryJitter = 0.2
)

// RetrySchedule lists the delays before retry 1, 2, ...; a message gets
// 1 + len(schedule) attempts in total.
type RetrySchedule []time.Duration

// DefaultRetrySchedule retries at once, then after 5 s, 5 min, 30 min, 2 h,
// 5 h, 10 h and 10 h: nine attempts over about 27.6 hours. These are Svix's
// delays plus one immediate retry, which absorbs a dropped connection or a
// receiver restart without waiting; overloaded receivers still get
// OverloadDelay.
var DefaultRetrySchedule = RetrySchedule{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// ErrInvalidRetrySchedule is returned (wrapped) by [ParseRetrySchedule].
var ErrInvalidRetrySchedule = errors.New("invalid retry schedule")

// ParseRetrySchedule parses a comma-separated list of Go durations such as
// "5s, 5m, 30m, 2h". Spaces around items are ignored. An empty string, an
// empty item, an unparsable item or a negative delay is an error naming the
// item.
func ParseRetrySchedule(s string) (RetrySchedule, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty; give comma-separated durations like \"5s,5m,30m\"", ErrInvalidRetrySchedule)
	}
	items := strings.Split(s, ",")
	rs := make(RetrySchedule, 0, len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("%w: item %d is empty", ErrInvalidRetrySchedule, i+1)
		}
		d, err := time.ParseDuration(item)
		if err != nil {
			return nil, fmt.Errorf("%w: item %d %q: %v", ErrInvalidRetrySchedule, i+1, item, err)
		}
		if d < 0 {
			return nil, fmt.Errorf("%w: item %d %q is negative", ErrInvalidRetrySchedule, i+1, item)
		}
		rs = append(rs, d)
	}
	return rs, nil
}

// String formats the schedule the way ParseRetrySchedule reads it, e.g.
// "0s,5s,5m0s".
func (rs RetrySchedule) String() string {
	var b strings.Builder
	for i, d := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// Next returns how long to wait before the next attempt, given the number of
// attempts that have failed so far, and false when the schedule is exhausted.
// With attempts < 1 nothing has failed yet, so the first attempt is due now.
//
// The base delay rs[attempts-1] gets ±[RetryJitter] uniform jitter drawn from
// rnd (values in [0,1); nil uses math/rand/v2). A Retry-After from the last
// result, clamped to [0, MaxRetryAfter], raises the delay to at least that
// value; a 429 or a timeout raises it to at least [OverloadDelay].
func (rs RetrySchedule) Next(attempts int, last Result, rnd func() float64) (time.Duration, bool) {
	if attempts < 1 {
		return 0, true
	}
	if attempts > len(rs) {
		return 0, false
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	r := rnd()
	if r < 0 || r >= 1 { // a bad source must not break the ±20% bound
		r = 0.5
	}
	delay := time.Duration(math.Round(float64(rs[attempts-1]) * (1 + RetryJitter*(2*r-1))))
	if last.HasRetryAfter {
		delay = max(delay, min(max(last.RetryAfter, 0), MaxRetryAfter))
	}
	if last.StatusCode == http.StatusTooManyRequests || last.Timeout {
		delay = max(delay, OverloadDelay)
	}
	return delay, true
}

// maxRetryAfterSeconds bounds delta-seconds before conversion so a huge value
// cannot overflow time.Duration; anything this large is clamped by Next anyway.
const maxRetryAfterSeconds = 1 << 31

// parseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): either
// delta-seconds or an HTTP-date, taken relative to now; a date in the past
// means 0. ok is false when the value is absent or malformed.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		if strings.Trim(v, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > maxRetryAfterSeconds {
			// All digits, so the only parse failure is overflow.
			n = maxRetryAfterSeconds
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d = t.Sub(now); d < 0 {
		d = 0
	}
	return d, true
}
