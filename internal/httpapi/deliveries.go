package httpapi

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
)

type attemptJSON struct {
	Attempt      int       `json:"attempt"`
	At           time.Time `json:"at"`
	StatusCode   int       `json:"status_code,omitempty"`
	LatencyMS    float64   `json:"latency_ms"`
	Error        string    `json:"error,omitempty"`
	ResponseBody string    `json:"response_body,omitempty"`
}

type deliveryJSON struct {
	ID             uuid.UUID     `json:"id"`
	EventID        uuid.UUID     `json:"event_id"`
	EventType      string        `json:"event_type"`
	EndpointID     uuid.UUID     `json:"endpoint_id"`
	Status         string        `json:"status"`
	Attempts       int           `json:"attempts"`
	NextAttemptAt  *time.Time    `json:"next_attempt_at,omitempty"`
	LastAttemptAt  *time.Time    `json:"last_attempt_at,omitempty"`
	LastStatusCode int           `json:"last_status_code,omitempty"`
	LastError      string        `json:"last_error,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	AttemptLog     []attemptJSON `json:"attempt_log"`
}

func toDeliveryJSON(d *herald.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, EndpointID: d.EndpointID,
		Status: string(d.Status), Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, AttemptLog: make([]attemptJSON, 0, len(d.AttemptLog))}
	if d.Status == herald.DeliveryPending {
		out.NextAttemptAt = httpjson.Time(d.NextAttemptAt)
	}
	out.LastAttemptAt = httpjson.Time(d.LastAttemptAt)
	for _, a := range d.AttemptLog {
		out.AttemptLog = append(out.AttemptLog, attemptJSON{Attempt: a.Attempt, At: a.At, StatusCode: a.StatusCode,
			LatencyMS: float64(a.Latency.Microseconds()) / 1000, Error: a.Error, ResponseBody: printable(a.ResponseBody)})
	}
	return out
}

// printable shows a receiver's response body as text; bytes that are not
// UTF-8 become U+FFFD rather than breaking the JSON.
func printable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

type deliveryPageJSON struct {
	Data       []deliveryJSON `json:"data"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

func (s *Server) handleDeliveryList(w http.ResponseWriter, r *http.Request) error {
	e, err := s.visibleEndpoint(r)
	if err != nil {
		return err
	}
	f := postgres.DeliveryFilter{EndpointID: e.ID}
	if f.Limit, err = parseLimit(r, 50, 250); err != nil {
		return err
	}
	q := r.URL.Query()
	if st := q.Get("status"); st != "" {
		switch herald.DeliveryStatus(st) {
		case herald.DeliveryPending, herald.DeliverySucceeded, herald.DeliveryFailed:
			f.Status = herald.DeliveryStatus(st)
		default:
			return herald.Invalid("status", "enum", "must be pending, succeeded or failed")
		}
	}
	if f.Before, err = pageCursor(r); err != nil {
		return err
	}
	ds, err := s.store.DeliveryList(r.Context(), f)
	if err != nil {
		return err
	}
	out := deliveryPageJSON{Data: make([]deliveryJSON, 0, len(ds))}
	for _, d := range ds {
		out.Data = append(out.Data, toDeliveryJSON(d))
	}
	if len(ds) == f.Limit {
		out.NextCursor = ds[len(ds)-1].ID.String()
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// authorizeDelivery lets the endpoint's managers (or, for a deleted
// endpoint, the tenant's admins) see and retry a delivery.
func (s *Server) authorizeDelivery(r *http.Request, d *herald.Delivery) error {
	p := principal(r)
	if p.IsAdminOf(d.TenantID) {
		return nil
	}
	e, err := s.store.EndpointGet(r.Context(), d.EndpointID)
	if err == nil && mayManage(p, e.TenantID, e.ClientID) {
		return nil
	}
	return herald.NotFound("delivery %s", d.ID)
}

// visibleDelivery loads the delivery of the path, if the caller may see it
// (see authorizeDelivery).
func (s *Server) visibleDelivery(r *http.Request) (*herald.Delivery, error) {
	id, err := pathUUID(r, "id", "delivery")
	if err != nil {
		return nil, err
	}
	d, err := s.store.DeliveryGet(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return d, s.authorizeDelivery(r, d)
}

func (s *Server) handleDeliveryGet(w http.ResponseWriter, r *http.Request) error {
	d, err := s.visibleDelivery(r)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toDeliveryJSON(d))
	return nil
}

func (s *Server) handleDeliveryRetry(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id", "delivery")
	if err != nil {
		return err
	}
	if _, err := s.retrier.Retry(r.Context(), id, func(d *herald.Delivery) error { return s.authorizeDelivery(r, d) }); err != nil {
		return err
	}
	return s.writeQueuedDelivery(w, r, id)
}

// writeQueuedDelivery answers 202 with a delivery just queued (a retry, a
// test send), read back as stored, to follow in its attempt log.
func (s *Server) writeQueuedDelivery(w http.ResponseWriter, r *http.Request, id uuid.UUID) error {
	d, err := s.store.DeliveryGet(r.Context(), id)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusAccepted, toDeliveryJSON(d))
	return nil
}

// requestJSON is the request a delivery's next attempt would make.
type requestJSON struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	// Body is set when the body is UTF-8 text, BodyBase64 otherwise (a
	// binary-mode event's binary data).
	Body       *string `json:"body,omitempty"`
	BodyBase64 string  `json:"body_base64,omitempty"`
}

// handleDeliveryRequest shows what the receiver gets: the method, URL,
// headers and body of the delivery's next attempt, built by the attempt's
// own code, with signatures, tokens and static header values masked.
func (s *Server) handleDeliveryRequest(w http.ResponseWriter, r *http.Request) error {
	d, err := s.visibleDelivery(r)
	if err != nil {
		return err
	}
	if s.reqs == nil {
		return herald.NotFound("request of delivery %s", d.ID)
	}
	req, err := s.reqs.DeliveryRequest(r.Context(), d)
	if err != nil {
		return err
	}
	out := requestJSON{Method: req.Method, URL: req.URL, Headers: make(map[string]string, len(req.Header))}
	for k, v := range req.Header {
		out.Headers[k] = strings.Join(v, ", ")
	}
	if utf8.Valid(req.Body) {
		b := string(req.Body)
		out.Body = &b
	} else {
		out.BodyBase64 = base64.StdEncoding.EncodeToString(req.Body)
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, out)
	return nil
}
