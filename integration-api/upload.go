package integrationapi

import (
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
)

// fileJSON is a file's record on the wire.
type fileJSON struct {
	ID          uuid.UUID  `json:"id"`
	Tenant      uuid.UUID  `json:"tenant"`
	Name        string     `json:"name"`
	ContentType string     `json:"content_type"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	EventID     *uuid.UUID `json:"event_id,omitempty"`
}

func toFileJSON(f *herald.File) fileJSON {
	out := fileJSON{ID: f.ID, Tenant: f.TenantID, Name: f.Name, ContentType: f.ContentType, Size: f.Size,
		SHA256: hex.EncodeToString(f.SHA256), CreatedAt: f.CreatedAt, EventID: uuidPtr(f.EventID)}
	if f.EventID == uuid.Nil {
		out.ExpiresAt = &f.ExpiresAt
	}
	return out
}

// cleanName keeps the base name of an uploaded file, without control
// characters, at most 255 bytes of valid UTF-8.
func cleanName(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" {
		return ""
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

// handleUpload stores a producer's file: the raw request body (its
// Content-Type kept, the name from ?name= or Content-Disposition), or the
// part named "file" of a multipart/form-data body.
func (h *Handler) handleUpload(w http.ResponseWriter, r *http.Request) {
	p := h.Principal(r)
	if !p.Client.Has(herald.RoleProducer) {
		h.WriteError(w, r, herald.Forbidden("uploading files needs the producer role"))
		return
	}
	limit := h.cfg.MaxFileBytes
	// Multipart framing adds a little; the content itself is capped below.
	r.Body = http.MaxBytesReader(w, r.Body, limit+64<<10)
	var (
		body        io.Reader = r.Body
		name                  = r.URL.Query().Get("name")
		contentType           = r.Header.Get("Content-Type")
	)
	if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil && name == "" {
		name = params["filename"]
	}
	if mt, params, err := mime.ParseMediaType(contentType); err == nil && mt == "multipart/form-data" {
		part, err := fileFormPart(multipart.NewReader(r.Body, params["boundary"]))
		if err != nil {
			h.WriteError(w, r, err)
			return
		}
		defer part.Close()
		body, contentType = part, part.Header.Get("Content-Type")
		if name == "" {
			name = part.FileName()
		}
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if _, _, err := mime.ParseMediaType(contentType); err != nil || len(contentType) > 255 || !herald.StorableText(contentType) {
		h.WriteError(w, r, herald.Invalid("Content-Type", "format", "must be a media type such as application/pdf"))
		return
	}
	f := &herald.File{ID: uuid.New(), TenantID: p.Client.TenantID, ClientID: p.Client.ID, Name: cleanName(name),
		ContentType: contentType, ExpiresAt: h.now().Add(h.cfg.UploadTTL)}
	size, sum, err := h.Files.Put(r.Context(), f.ID, body, limit)
	var mbe *http.MaxBytesError
	if errors.Is(err, ErrTooLarge) || errors.As(err, &mbe) {
		h.WriteError(w, r, &cloudevents.TooLargeError{Which: cloudevents.WhichRequest, Index: -1, Limit: int(limit)})
		return
	}
	if err != nil {
		h.WriteError(w, r, err)
		return
	}
	if size == 0 {
		// Nothing to attach: almost always a client that lost the file
		// (curl's --data-binary @ of a missing path sends nothing).
		_ = h.Files.Delete(r.Context(), f.ID)
		h.WriteError(w, r, herald.Invalid("file", "empty", "the file is empty (0 bytes); send its content as the body or as the multipart part named \"file\""))
		return
	}
	f.Size, f.SHA256 = size, sum
	if err := h.Store.FileCreate(r.Context(), f); err != nil {
		_ = h.Files.Delete(r.Context(), f.ID)
		h.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/files/"+f.ID.String())
	h.WriteJSON(w, http.StatusCreated, toFileJSON(f))
}

// fileFormPart finds the form part named "file".
func fileFormPart(mr *multipart.Reader) (*multipart.Part, error) {
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, herald.Invalid("file", "required", "the multipart body has no part named \"file\"")
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &cloudevents.TooLargeError{Which: cloudevents.WhichRequest, Index: -1, Limit: int(mbe.Limit)}
		}
		if err != nil {
			return nil, herald.Invalid("file", "multipart", "the multipart body cannot be read: %s", err.Error())
		}
		if part.FormName() == "file" {
			return part, nil
		}
		_ = part.Close()
	}
}

// handleFileGet shows a file's record to its tenant's producers and admins.
func (h *Handler) handleFileGet(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		h.WriteError(w, r, herald.NotFound("file %q", chi.URLParam(r, "id")))
		return
	}
	f, err := h.Store.FileGet(r.Context(), id)
	if err != nil {
		h.WriteError(w, r, err)
		return
	}
	p := h.Principal(r)
	if !p.IsAdminOf(f.TenantID) && !(p.Client.TenantID == f.TenantID && p.Client.Has(herald.RoleProducer)) {
		h.WriteError(w, r, herald.NotFound("file %s", id))
		return
	}
	h.WriteJSON(w, http.StatusOK, toFileJSON(f))
}

// handleFileContent serves an attached file to the holder of a signed link
// the Integration API issued. The link's credential must still be usable
// and still allowed to read the event.
func (h *Handler) handleFileContent(w http.ResponseWriter, r *http.Request) {
	c := h.newCall(w, r)
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		h.WriteError(w, r, herald.ErrUnauthorized)
		return
	}
	c.entry.FileID = id
	integration, verr := h.Signer.Verify(id, r.URL.Query(), c.entry.At)
	if errors.Is(verr, errBadSignature) {
		h.WriteError(w, r, herald.ErrUnauthorized)
		return
	}
	i, err := h.Store.IntegrationGet(r.Context(), integration)
	if err != nil {
		h.WriteError(w, r, herald.ErrUnauthorized)
		return
	}
	c.entry.IntegrationID, c.entry.TenantID, c.logged = i.ID, i.TenantID, true
	if verr != nil {
		c.fail(http.StatusUnauthorized, "download link expired", herald.ErrUnauthorized)
		return
	}
	if why := i.Usable(c.entry.At); why != "" {
		c.fail(http.StatusForbidden, why, herald.Forbidden("%s", why))
		return
	}
	f, err := h.Store.FileGet(r.Context(), id)
	if errors.Is(err, herald.ErrNotFound) {
		// Herald signed a link to it, so it existed: it has expired.
		c.fail(http.StatusGone, "file expired", herald.Gone("file %s has expired with its event's payload and was deleted", id))
		return
	}
	if err != nil {
		c.fail(http.StatusInternalServerError, "error", err)
		return
	}
	if f.EventID == uuid.Nil {
		c.fail(http.StatusNotFound, "not found or out of scope", herald.NotFound("file %s", id))
		return
	}
	if _, ok := c.readable(i, f.EventID); !ok {
		return
	}
	content, err := h.Files.Open(r.Context(), id)
	if err != nil {
		c.fail(http.StatusGone, "file content missing", herald.Gone("file %s is no longer stored", id))
		return
	}
	defer content.Close()
	if !c.record(http.StatusOK, "ok") {
		h.WriteError(w, r, herald.ErrUnavailable)
		return
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Producers choose the content and its type: never let a browser run
	// it in Herald's origin, even if opened inline.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": f.Name})
	if f.Name == "" || disp == "" {
		disp = "attachment"
	}
	w.Header().Set("Content-Disposition", disp)
	http.ServeContent(w, r, "", f.CreatedAt, content)
}
