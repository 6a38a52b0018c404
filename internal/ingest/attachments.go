package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/cloudevents"
)

// AttachmentsAttr is the CloudEvents extension attribute by which an event
// references uploaded files: their ids, comma-separated. The files must
// belong to the producer's tenant, be unexpired and attached to no other
// event; they are attached when the event is stored.
const AttachmentsAttr = "attachments"

// MaxAttachments bounds the files of one event.
const MaxAttachments = 20

// AttachmentChecker tells which files may not be attached to a new event of
// a tenant, with the reason ("not-found", "attached", "expired").
type AttachmentChecker interface {
	FilesAttachable(ctx context.Context, tenant uuid.UUID, ids []uuid.UUID, now time.Time) (map[uuid.UUID]string, error)
}

// SetAttachments enables file attachments (nil: the attribute is an
// ordinary extension). now is the clock expiry is judged by.
func (s *Service) SetAttachments(c AttachmentChecker, now func() time.Time) {
	s.attach, s.attachNow = c, now
}

// checkAttachments adds a problem for each event whose attachments
// attribute names files it may not attach.
func (s *Service) checkAttachments(ctx context.Context, tenant uuid.UUID, events []*cloudevents.Event, rej *RejectError) error {
	if s.attach == nil {
		return nil
	}
	type ref struct {
		index int
		ev    *cloudevents.Event
	}
	refs := map[uuid.UUID][]ref{}
	var ids []uuid.UUID
	for i, ev := range events {
		v, ok := ev.Extensions[AttachmentsAttr]
		if !ok {
			continue
		}
		str, ok := v.(string)
		if !ok {
			rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: AttachmentsAttr, Rule: "format",
				Detail: "must be a string of comma-separated file ids"})
			continue
		}
		parts := strings.Split(str, ",")
		if len(parts) > MaxAttachments {
			rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: AttachmentsAttr, Rule: "max-items",
				Detail: fmt.Sprintf("at most %d files per event", MaxAttachments)})
			continue
		}
		for _, p := range parts {
			id, err := uuid.Parse(strings.TrimSpace(p))
			if err != nil || len(strings.TrimSpace(p)) != 36 {
				rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: AttachmentsAttr, Rule: "format",
					Detail: fmt.Sprintf("%q is not a file id (the canonical UUID from POST /v1/files)", strings.TrimSpace(p))})
				continue
			}
			if len(refs[id]) > 0 {
				rej.Problems = append(rej.Problems, Problem{Index: i, ID: ev.ID, Field: AttachmentsAttr, Rule: "attached",
					Detail: fmt.Sprintf("file %s is referenced more than once; a file belongs to one event", id)})
				continue
			}
			refs[id] = append(refs[id], ref{i, ev})
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	now := time.Now
	if s.attachNow != nil {
		now = s.attachNow
	}
	bad, err := s.attach.FilesAttachable(ctx, tenant, ids, now())
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	for _, id := range ids {
		reason, ok := bad[id]
		if !ok {
			continue
		}
		detail := map[string]string{
			"not-found": "no file %s was uploaded by this tenant",
			"attached":  "file %s is already attached to another event",
			"expired":   "file %s has expired; upload it again",
		}[reason]
		for _, r := range refs[id] {
			rej.Problems = append(rej.Problems, Problem{Index: r.index, ID: r.ev.ID, Field: AttachmentsAttr, Rule: reason,
				Detail: fmt.Sprintf(detail, id)})
		}
	}
	return nil
}
