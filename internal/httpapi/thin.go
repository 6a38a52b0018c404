package httpapi

import (
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/thin"
)

// thinRetentionJSON bounds how long a thin event's full payload stays
// readable in the Integration API (Go durations).
type thinRetentionJSON struct {
	Keep           string `json:"keep,omitempty"`
	AfterFirstRead string `json:"after_first_read,omitempty"`
}

// maxThinKeep bounds a thin payload's retention; the event log's own
// retention (HERALD_RETENTION) drops it earlier when shorter.
const maxThinKeep = 8784 * time.Hour

// checkThin validates an event type's delivery mode, kept fields and
// retention, adding problems to ve, and returns the thin settings (nil for
// full delivery).
func checkThin(ve *herald.ValidationError, delivery string, fields []string, ret *thinRetentionJSON) *herald.ThinDelivery {
	switch delivery {
	case "", herald.DeliveryFull:
		if len(fields) > 0 {
			ve.Add("thin_fields", "thin-only", `only thin types keep fields; set "delivery": "thin"`)
		}
		if ret != nil {
			ve.Add("thin_retention", "thin-only", `only thin types have a payload retention; set "delivery": "thin"`)
		}
		return nil
	case herald.DeliveryThin:
	default:
		ve.Add("delivery", "enum", "%q is not a delivery mode; use full or thin", delivery)
		return nil
	}
	t := &herald.ThinDelivery{Fields: []string{}, Keep: herald.DefaultThinKeep, AfterFirstRead: herald.DefaultThinAfterFirstRead}
	if len(fields) > thin.MaxFields {
		ve.Add("thin_fields", "max-items", "at most %d fields", thin.MaxFields)
	}
	seen := map[string]bool{}
	for i, f := range fields {
		if _, err := thin.ParsePath(f); err != nil {
			ve.Add(fmt.Sprintf("thin_fields[%d]", i), "json-path", "%s", err.Error())
			continue
		}
		if !seen[f] {
			seen[f] = true
			t.Fields = append(t.Fields, f)
		}
	}
	if ret != nil {
		parse := func(field, s string, def time.Duration) time.Duration {
			if s == "" {
				return def
			}
			d, err := time.ParseDuration(s)
			if err != nil || d < time.Minute || d > maxThinKeep {
				ve.Add(field, "duration", "must be a Go duration from 1m to %s, such as 720h", maxThinKeep)
				return def
			}
			return d
		}
		t.Keep = parse("thin_retention.keep", ret.Keep, t.Keep)
		t.AfterFirstRead = parse("thin_retention.after_first_read", ret.AfterFirstRead, t.AfterFirstRead)
	}
	return t
}

// thinJSON fills an event type's wire shape with its delivery settings.
func thinJSON(out *eventTypeJSON, t *herald.EventType) {
	out.Delivery = herald.DeliveryFull
	if t.Thin == nil {
		return
	}
	out.Delivery = herald.DeliveryThin
	out.ThinFields = t.Thin.Fields
	if out.ThinFields == nil {
		out.ThinFields = []string{}
	}
	out.ThinRetention = &thinRetentionJSON{Keep: herald.ShortDuration(t.Thin.Keep), AfterFirstRead: herald.ShortDuration(t.Thin.AfterFirstRead)}
}
