package cloudevents

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// eventWithData returns a structured event whose JSON object is exactly size
// bytes long (size must leave room for the envelope).
func eventWithData(id string, size int) string {
	head := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/s","type":"t","data":"`, id)
	return head + strings.Repeat("x", size-len(head)-2) + `"}`
}

// batchOf joins events into a batch body.
func batchOf(events ...string) []byte {
	return []byte("[" + strings.Join(events, ",") + "]")
}

// countingReader yields an endless run of spaces and counts what was read,
// to prove Parse stops at the limit.
type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n += len(p)
	return len(p), nil
}

func (c *countingReader) Close() error { return nil }

func TestParseTooLarge(t *testing.T) {
	t.Parallel()
	const kib = 1 << 10

	// A 65 KiB event inside a 200 KiB batch: event 2 of 5.
	var events []string
	for i := range 5 {
		size := 20 * kib
		if i == 2 {
			size = 65 * kib
		}
		events = append(events, eventWithData(fmt.Sprint("e", i), size))
	}
	bigBatch := batchOf(events...)
	for len(bigBatch) < 200*kib {
		events = append(events, eventWithData("filler", 20*kib))
		bigBatch = batchOf(events...)
	}

	oneMiBPlus := batchOf(eventWithData("a", 60*kib))
	for len(oneMiBPlus) <= DefaultMaxRequestBytes {
		oneMiBPlus = append(oneMiBPlus[:len(oneMiBPlus)-1], ","+eventWithData("a", 60*kib)+"]"...)
	}

	cases := []struct {
		name    string
		req     func() *http.Request
		lim     Limits
		want    TooLargeError
		anySize bool // Size is a lower bound, not checked exactly
	}{
		{
			name: "65 KiB event in a 200 KiB batch",
			req:  func() *http.Request { return newRequest(MediaTypeBatch, bigBatch) },
			want: TooLargeError{Which: WhichEvent, Index: 2, Limit: DefaultMaxEventBytes, Size: 65 * kib},
		},
		{
			name: "request over 1 MiB with Content-Length",
			req:  func() *http.Request { return newRequest(MediaTypeBatch, oneMiBPlus) },
			want: TooLargeError{Which: WhichRequest, Index: -1, Limit: DefaultMaxRequestBytes, Size: len(oneMiBPlus)},
		},
		{
			name: "request over 1 MiB streamed",
			req: func() *http.Request {
				r := newRequest(MediaTypeBatch, nil)
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(oneMiBPlus)))
				r.ContentLength = -1
				return r
			},
			want:    TooLargeError{Which: WhichRequest, Index: -1, Limit: DefaultMaxRequestBytes},
			anySize: true,
		},
		{
			name: "structured event over its limit",
			req:  func() *http.Request { return newRequest(MediaTypeStructured, []byte(eventWithData("e", 1001))) },
			lim:  Limits{MaxEventBytes: 1000},
			want: TooLargeError{Which: WhichEvent, Index: 0, Limit: 1000, Size: 1001},
		},
		{
			name: "binary event counts headers",
			req: func() *http.Request {
				return newRequest("application/octet-stream", bytes.Repeat([]byte{1}, 1000-len("e1/s1.0t")+1), binHeaders()...)
			},
			lim:  Limits{MaxEventBytes: 1000},
			want: TooLargeError{Which: WhichEvent, Index: 0, Limit: 1000, Size: 1001},
		},
		{
			name: "request one byte over a custom limit",
			req:  func() *http.Request { return newRequest(MediaTypeStructured, []byte(minimal+" ")) },
			lim:  Limits{MaxRequestBytes: len(minimal)},
			want: TooLargeError{Which: WhichRequest, Index: -1, Limit: len(minimal), Size: len(minimal) + 1},
		},
		{
			name: "upstream MaxBytesReader",
			req: func() *http.Request {
				r := newRequest(MediaTypeStructured, nil)
				r.Body = http.MaxBytesReader(nil, io.NopCloser(strings.NewReader(minimal)), 10)
				r.ContentLength = -1
				return r
			},
			want:    TooLargeError{Which: WhichRequest, Index: -1, Limit: 10},
			anySize: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.req(), tc.lim)
			var tl *TooLargeError
			if !errors.As(err, &tl) {
				t.Fatalf("error = %v, want *TooLargeError", err)
			}
			got := *tl
			if tc.anySize {
				if got.Size <= got.Limit {
					t.Errorf("Size = %d, want more than Limit %d", got.Size, got.Limit)
				}
				got.Size = 0
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if tl.Error() == "" {
				t.Error("empty Error()")
			}
		})
	}
}

func TestParseAtLimits(t *testing.T) {
	t.Parallel()
	ev := eventWithData("e", 1000)
	body := batchOf(ev, ev)
	got, err := Parse(newRequest(MediaTypeBatch, body), Limits{MaxEventBytes: 1000, MaxRequestBytes: len(body)})
	if err != nil {
		t.Fatalf("events exactly at the limits: %v", err)
	}
	if len(got) != 2 || got[0].Size != 1000 {
		t.Errorf("got %d events, first of size %d", len(got), got[0].Size)
	}
}

func TestParseReadsAtMostLimitPlusOne(t *testing.T) {
	t.Parallel()
	body := &countingReader{}
	r := newRequest(MediaTypeStructured, nil)
	r.Body = body
	r.ContentLength = -1
	_, err := Parse(r, Limits{MaxRequestBytes: 5000})
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Which != WhichRequest {
		t.Fatalf("error = %v, want a request TooLargeError", err)
	}
	if body.n > 5001 {
		t.Errorf("read %d bytes from the body, want at most 5001", body.n)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestParseReadError(t *testing.T) {
	t.Parallel()
	r := newRequest(MediaTypeStructured, nil)
	r.Body = io.NopCloser(failingReader{})
	r.ContentLength = -1
	_, err := Parse(r, Limits{})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("error = %v, want the read error", err)
	}
	var tl *TooLargeError
	var ve *ValidationError
	if errors.As(err, &tl) || errors.As(err, &ve) || errors.Is(err, ErrUnsupportedMediaType) {
		t.Errorf("read error %v was classified as a client error", err)
	}
}
