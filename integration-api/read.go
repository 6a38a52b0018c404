package integrationapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/route"
)

// dummyHash keeps the check of an unknown key as slow as of a known one.
var dummyHash = sha256.New().Sum(nil)

// errNoEvent answers both an unknown event and one the credential may not
// read, so an unauthorised caller cannot tell whether an event exists.
var errNoEvent = herald.NotFound("event")

// call is one Integration API request on its way to the access log.
type call struct {
	h     *Handler
	r     *http.Request
	entry herald.AccessEntry
	// logged is false while the key is unknown (nothing to attribute).
	logged bool
}

func (h *Handler) newCall(r *http.Request) *call {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return &call{h: h, r: r, entry: herald.AccessEntry{At: h.now(), RemoteAddr: host, Method: r.Method,
		Path: r.URL.Path}}
}

// fail records the outcome and returns err, for the handler to return: the
// access log holds what the caller is about to be answered.
func (c *call) fail(status int, outcome string, err error) error {
	c.record(status, outcome)
	return err
}

// record writes the access log entry (when the key is known). It reports
// false when that failed: a read must not succeed unrecorded.
func (c *call) record(status int, outcome string) bool {
	if !c.logged {
		return true
	}
	c.entry.Status, c.entry.Outcome = status, outcome
	if err := c.h.Store.AccessLogInsert(c.r.Context(), &c.entry); err != nil {
		c.h.Logger.Error("integration access log", "integration", c.entry.IntegrationID, "error", err)
		return false
	}
	return true
}

// authenticate checks the integration key and secret (HTTP Basic). A wrong
// secret of a known key is logged; a revoked or expired credential with the
// right secret is 403.
func (c *call) authenticate() (*herald.Integration, error) {
	key, secret, ok := c.r.BasicAuth()
	if !ok {
		return nil, herald.ErrUnauthorized
	}
	i, err := c.h.Store.IntegrationGetByKey(c.r.Context(), key)
	if errors.Is(err, herald.ErrNotFound) {
		herald.SecretMatches(secret, dummyHash)
		return nil, herald.ErrUnauthorized
	}
	if err != nil {
		return nil, err
	}
	c.entry.IntegrationID, c.entry.TenantID, c.logged = i.ID, i.TenantID, true
	if !herald.SecretMatches(secret, i.SecretHash) {
		return nil, c.fail(http.StatusUnauthorized, "wrong secret", herald.ErrUnauthorized)
	}
	if why := i.Usable(c.entry.At); why != "" {
		return nil, c.fail(http.StatusForbidden, why, herald.Forbidden("%s", why))
	}
	return i, nil
}

// readable loads an event the integration may read. Unknown and
// out-of-scope events get the same 404; an expired thin payload 410.
func (c *call) readable(i *herald.Integration, id uuid.UUID) (*postgres.PayloadEvent, error) {
	c.entry.EventID = id
	pe, err := c.h.Store.PayloadEventGet(c.r.Context(), id)
	if errors.Is(err, herald.ErrNotFound) {
		return nil, c.fail(http.StatusNotFound, "not found or out of scope", errNoEvent)
	}
	if err != nil {
		return nil, c.fail(http.StatusInternalServerError, "error", err)
	}
	snap, err := c.h.Catalog.Get(c.r.Context())
	if err != nil {
		return nil, c.fail(http.StatusServiceUnavailable, "error", err)
	}
	ev := &pe.Event
	inScope := slices.ContainsFunc(i.Types, func(p string) bool { return route.Match(p, ev.Type) })
	if !inScope || !snap.TenantMayConsume(i.TenantID, ev.Type, ev.TenantID) {
		return nil, c.fail(http.StatusNotFound, "not found or out of scope", errNoEvent)
	}
	if pe.Thin {
		// The payload goes with its event at the latest.
		keep := c.h.cfg.Retention
		if te := snap.Type(ev.Type); te != nil {
			keep = te.Type.Retention.KeepOf(keep)
		}
		if until, ok := herald.KeptUntil(ev.ReceivedAt, keep); ok && until.Before(pe.ExpiresAt) {
			pe.ExpiresAt = until
		}
	}
	if pe.Thin && (!pe.ExpiredAt.IsZero() || !c.entry.At.Before(pe.ExpiresAt)) {
		return nil, c.fail(http.StatusGone, "payload expired", herald.Gone("the payload of event %s has expired under its retention and was deleted", id))
	}
	return pe, nil
}

// attachmentJSON is one attached file with its signed download link.
type attachmentJSON struct {
	ID           uuid.UUID `json:"id"`
	Name         string    `json:"name"`
	ContentType  string    `json:"content_type"`
	Size         int64     `json:"size"`
	SHA256       string    `json:"sha256"`
	URL          string    `json:"url"`
	URLExpiresAt time.Time `json:"url_expires_at"`
}

// eventJSON is the Integration API's answer: the full event in CloudEvents
// structured JSON, its attachments and when its payload expires.
type eventJSON struct {
	Event       json.RawMessage  `json:"event"`
	Attachments []attachmentJSON `json:"attachments"`
	// ExpiresAt is when a thin event's payload stops being readable.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func (h *Handler) handleEventGet(w http.ResponseWriter, r *http.Request) error {
	c := h.newCall(r)
	i, err := c.authenticate()
	if err != nil {
		return err
	}
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return c.fail(http.StatusNotFound, "not found or out of scope", errNoEvent)
	}
	pe, err := c.readable(i, id)
	if err != nil {
		return err
	}
	out := eventJSON{Event: json.RawMessage(pe.Event.Body), Attachments: []attachmentJSON{}}
	var files []*herald.File
	if bytes.Contains(pe.Event.Body, []byte(`"attachments"`)) {
		// Files attach only through this attribute, so most events need
		// no lookup.
		if files, err = h.Store.FilesOfEvent(r.Context(), id); err != nil {
			return c.fail(http.StatusInternalServerError, "error", err)
		}
	}
	until := c.entry.At.Add(h.cfg.URLTTL).Truncate(time.Second)
	for _, f := range files {
		out.Attachments = append(out.Attachments, attachmentJSON{ID: f.ID, Name: f.Name, ContentType: f.ContentType,
			Size: f.Size, SHA256: hex.EncodeToString(f.SHA256), URLExpiresAt: until,
			URL: h.cfg.PublicURL + "/v1/files/" + f.ID.String() + "/content?" + h.Signer.Query(f.ID, i.ID, until)})
	}
	if pe.Thin {
		// The first read starts the after-first-read clock; recorded with
		// the access in one statement.
		c.entry.Status, c.entry.Outcome = http.StatusOK, "ok"
		expires, err := h.Store.PayloadReadLogged(r.Context(), id, c.entry.At, &c.entry)
		if errors.Is(err, herald.ErrGone) {
			return c.fail(http.StatusGone, "payload expired", err)
		}
		if err != nil {
			c.h.Logger.Error("integration access log", "integration", i.ID, "error", err)
			return herald.ErrUnavailable
		}
		if pe.ExpiresAt.Before(expires) {
			expires = pe.ExpiresAt
		}
		out.ExpiresAt = &expires
	} else if !c.record(http.StatusOK, "ok") {
		return herald.ErrUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	if !wantsEnvelope(r) {
		// The event alone, as CloudEvents SDKs read it; attachments become
		// Link headers (RFC 8288) and the expiry a header.
		for _, a := range out.Attachments {
			w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="enclosure"; type=%q; title=%q`, a.URL, a.ContentType, a.Name))
		}
		if out.ExpiresAt != nil {
			w.Header().Set("Herald-Payload-Expires", out.ExpiresAt.UTC().Format(http.TimeFormat))
		}
		w.Header().Set("Content-Type", "application/cloudevents+json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(pe.Event.Body)
		return nil
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// wantsEnvelope reports whether the caller asked for the JSON envelope
// (the event, its attachments with their links, its expiry) rather than the
// event alone, which is the default: a client following a notification's
// dataref gets the CloudEvent it expects.
func wantsEnvelope(r *http.Request) bool {
	return r.URL.Query().Get("envelope") == "true"
}
