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
	"github.com/heraldhq/herald/internal/httpjson"
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
func (h *Handler) handleUpload(w http.ResponseWriter, r *http.Request) error {
	p := herald.PrincipalFrom(r.Context())
	if !p.Client.Has(herald.RoleProducer) {
		return herald.Forbidden("uploading files needs the producer role")
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
			return err
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
		return herald.Invalid("Content-Type", "format", "must be a media type such as application/pdf")
	}
	f := &herald.File{ID: uuid.New(), TenantID: p.Client.TenantID, ClientID: p.Client.ID, Name: cleanName(name),
		ContentType: contentType, ExpiresAt: h.now().Add(h.cfg.UploadTTL)}
	size, sum, err := h.Files.Put(r.Context(), f.ID, body, limit)
	var mbe *http.MaxBytesError
	if errors.Is(err, ErrTooLarge) || errors.As(err, &mbe) {
		return &cloudevents.TooLargeError{Which: cloudevents.WhichRequest, Index: -1, Limit: int(limit)}
	}
	if err != nil {
		return err
	}
	if size == 0 {
		// Nothing to attach: almost always a client that lost the file
		// (curl's --data-binary @ of a missing path sends nothing).
		_ = h.Files.Delete(r.Context(), f.ID)
		return herald.Invalid("file", "empty", "the file is empty (0 bytes); send its content as the body or as the multipart part named \"file\"")
	}
	f.Size, f.SHA256 = size, sum
	if err := h.Store.FileCreate(r.Context(), f); err != nil {
		_ = h.Files.Delete(r.Context(), f.ID)
		return err
	}
	w.Header().Set("Location", "/v1/files/"+f.ID.String())
	httpjson.Write(w, http.StatusCreated, toFileJSON(f))
	return nil
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
func (h *Handler) handleFileGet(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return herald.NotFound("file %q", chi.URLParam(r, "id"))
	}
	f, err := h.Store.FileGet(r.Context(), id)
	if err != nil {
		return err
	}
	p := herald.PrincipalFrom(r.Context())
	if !p.IsAdminOf(f.TenantID) && !(p.Client.TenantID == f.TenantID && p.Client.Has(herald.RoleProducer)) {
		return herald.NotFound("file %s", id)
	}
	httpjson.Write(w, http.StatusOK, toFileJSON(f))
	return nil
}

// handleFileContent serves an attached file to the holder of a signed link
// the Integration API issued. The link's credential must still be usable
// and still allowed to read the event.
func (h *Handler) handleFileContent(w http.ResponseWriter, r *http.Request) error {
	c := h.newCall(r)
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return herald.ErrUnauthorized
	}
	c.entry.FileID = id
	integration, verr := h.Signer.Verify(id, r.URL.Query(), c.entry.At)
	if errors.Is(verr, errBadSignature) {
		return herald.ErrUnauthorized
	}
	i, err := h.Store.IntegrationGet(r.Context(), integration)
	if err != nil {
		return herald.ErrUnauthorized
	}
	c.entry.IntegrationID, c.entry.TenantID, c.logged = i.ID, i.TenantID, true
	if verr != nil {
		return c.fail(http.StatusUnauthorized, "download link expired", herald.ErrUnauthorized)
	}
	if why := i.Usable(c.entry.At); why != "" {
		return c.fail(http.StatusForbidden, why, herald.Forbidden("%s", why))
	}
	f, err := h.Store.FileGet(r.Context(), id)
	if errors.Is(err, herald.ErrNotFound) {
		// Herald signed a link to it, so it existed: it has expired.
		return c.fail(http.StatusGone, "file expired", herald.Gone("file %s has expired with its event's payload and was deleted", id))
	}
	if err != nil {
		return c.fail(http.StatusInternalServerError, "error", err)
	}
	if f.EventID == uuid.Nil {
		return c.fail(http.StatusNotFound, "not found or out of scope", herald.NotFound("file %s", id))
	}
	if _, err := c.readable(i, f.EventID); err != nil {
		return err
	}
	content, err := h.Files.Open(r.Context(), id)
	if err != nil {
		return c.fail(http.StatusGone, "file content missing", herald.Gone("file %s is no longer stored", id))
	}
	defer content.Close()
	if !c.record(http.StatusOK, "ok") {
		return herald.ErrUnavailable
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
	return nil
}
