package integrationapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// Defaults of Config.
const (
	DefaultMaxFileBytes = 25 << 20
	DefaultUploadTTL    = 24 * time.Hour
	DefaultURLTTL       = 5 * time.Minute
)

// Config tunes the Integration API and files.
type Config struct {
	// PublicURL is how consumers reach Herald: datarefs and download links
	// are absolute URLs under it.
	PublicURL string
	// MaxFileBytes caps one upload.
	MaxFileBytes int64
	// UploadTTL is how long an upload no event references is kept.
	UploadTTL time.Duration
	// URLTTL is how long a signed download link works.
	URLTTL time.Duration
	// Now is the clock (tests move it days ahead); nil is time.Now.
	Now func() time.Time
	// Retention is how long events are kept by default (HERALD_RETENTION;
	// 0: forever); a type's own retention.keep overrides it. A payload is
	// never readable longer than its event is kept.
	Retention time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxFileBytes <= 0 {
		c.MaxFileBytes = DefaultMaxFileBytes
	}
	if c.UploadTTL <= 0 {
		c.UploadTTL = DefaultUploadTTL
	}
	if c.URLTTL <= 0 {
		c.URLTTL = DefaultURLTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Deps is what the handlers need from the rest of Herald.
type Deps struct {
	Store   *postgres.Store
	Catalog *catalog.Catalog
	Files   FileStore
	Signer  *Signer
	Logger  *slog.Logger
}

// Handler serves the Integration API, its management and files.
type Handler struct {
	Deps
	cfg Config
}

// New builds the handler.
func New(d Deps, cfg Config) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{Deps: d, cfg: cfg.withDefaults()}
}

func (h *Handler) now() time.Time { return h.cfg.Now().UTC() }

// Route is one route of the Integration API. Its handler writes its
// success answer and returns every error, which the server mounting the
// route (internal/httpapi) answers through its single error mapping, as it
// does for its own routes.
type Route struct {
	Method  string
	Pattern string
	Handle  func(w http.ResponseWriter, r *http.Request) error
}

// ClientRoutes are the routes Herald clients use, relative to /v1, to be
// mounted behind the server's client authentication, which puts the client
// in the request context (herald.PrincipalFrom): integration credentials
// (tenant admins) and file uploads (producers).
func (h *Handler) ClientRoutes() []Route {
	return []Route{
		{http.MethodPost, "/integrations", h.handleCreate},
		{http.MethodGet, "/integrations", h.handleList},
		{http.MethodGet, "/integrations/{id}", h.handleGet},
		{http.MethodDelete, "/integrations/{id}", h.handleRevoke},
		{http.MethodPost, "/integrations/{id}/secret/rotate", h.handleRotate},
		{http.MethodGet, "/integrations/{id}/access-log", h.handleAccessLog},
		{http.MethodPost, "/files", h.handleUpload},
		{http.MethodGet, "/files/{id}", h.handleFileGet},
	}
}

// PublicRoutes are the routes that authenticate on their own, mounted as
// they are: event reads with integration credentials and signed file
// downloads.
func (h *Handler) PublicRoutes() []Route {
	return []Route{
		{http.MethodGet, "/v1/integration/events/{id}", h.handleEventGet},
		{http.MethodGet, "/v1/files/{id}/content", h.handleFileContent},
	}
}

// Sweep enforces retention once: it scrubs the expired thin payloads (the
// stored event keeps its notification only) and deletes their files, and
// deletes expired unattached uploads and files of events past logRetention
// (herald.KeptSince: 0 keeps them with the log forever). The maintenance job runs it
// periodically; it is safe on several nodes at once.
func (h *Handler) Sweep(ctx context.Context, logRetention time.Duration) error {
	now := h.now()
	for {
		n, files, err := h.Store.PayloadsExpire(ctx, now, 500, h.scrub)
		if err != nil {
			return err
		}
		h.deleteFiles(ctx, files)
		if n > 0 {
			h.Logger.Info("thin payloads expired", "events", n, "files", len(files))
		}
		if n < 500 {
			break
		}
	}
	cutoff, kept := herald.KeptSince(logRetention, now)
	if kept {
		if err := h.Store.PayloadsForget(ctx, cutoff); err != nil {
			return err
		}
		if _, err := h.Store.AccessLogExpire(ctx, now.Add(-logRetention)); err != nil {
			return err
		}
	}
	files, err := h.Store.FilesExpire(ctx, now, cutoff)
	if err != nil {
		return err
	}
	h.deleteFiles(ctx, files)
	return nil
}

func (h *Handler) deleteFiles(ctx context.Context, ids []uuid.UUID) {
	for _, id := range ids {
		if err := h.Files.Delete(ctx, id); err != nil {
			h.Logger.Warn("delete expired file", "file", id, "error", err)
		}
	}
}
