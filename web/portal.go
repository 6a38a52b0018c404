package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

// errBadLink: a portal link that is expired, altered, or names a client
// that no longer exists.
var errBadLink = errors.New("portal link not valid")

// portalRoutes are the partner portal's pages, behind a portal session.
// Everything a partner does goes to the API as the link's client, so the
// API's own rules keep them inside that client's scope.
func (h *Handler) portalRoutes(r chi.Router) {
	r.Get("/", h.page(h.portalCatalog))
	r.Get("/guide", h.page(h.portalGuide))
	r.Get("/brand.css", h.page(h.brandCSS))
	h.endpointRoutes(r)
}

// portalEnter turns a portal link into a portal session and sends the
// browser on to the portal without the token in its address bar.
func (h *Handler) portalEnter(w http.ResponseWriter, r *http.Request) error {
	tok := r.URL.Query().Get("token")
	if tok == "" || h.links == nil {
		return errBadLink
	}
	client, tenant, stamp, err := h.links.CheckPortalLink(tok)
	if err != nil {
		h.logger.Info("portal link refused", "addr", clientAddr(r), "err", err)
		return errBadLink
	}
	p, err := h.auth.Principal(r.Context(), client, tenant)
	if err != nil {
		if errors.Is(err, herald.ErrUnauthorized) {
			return errBadLink
		}
		return err
	}
	if !p.Client.Has(herald.RoleConsumer) || stamp != p.Client.CredentialStamp() {
		h.logger.Info("portal link refused", "addr", clientAddr(r), "client", client, "err", "client no longer a consumer, or its secret was rotated")
		return errBadLink
	}
	tok, ss, err := h.sessions.issue(uuid.New(), audiencePortal, p.Client, h.now())
	if err != nil {
		return err
	}
	h.setCookie(w, r, audiencePortal, tok, ss.Expires)
	h.logger.Info("portal session started", "client", client, "session", ss.ID)
	// A page whose address holds no token, so it does not stay in the
	// browser's history or reach another site.
	http.Redirect(w, r, "/portal", http.StatusSeeOther)
	return nil
}

// catalogEntry is one event type a partner may subscribe to.
type catalogEntry struct {
	Type    eventTypeWire
	Example string
}

func (h *Handler) portalCatalog(w http.ResponseWriter, r *http.Request) error {
	types, cursor, err := getPage[eventTypeWire](h, r, "/v1/event-types", url.Values{"consumable": {"true"}})
	if err != nil {
		return err
	}
	entries := make([]catalogEntry, 0, len(types))
	for _, t := range types {
		entries = append(entries, catalogEntry{Type: t, Example: exampleEvent(t)})
	}
	h.render(w, r, http.StatusOK, "portal/catalog", view{Title: "Event catalogue", Section: "catalog", Data: entries, Next: pageLink("/portal", nil, cursor)})
	return nil
}

// exampleEvent is a CloudEvent of type t whose data is generated from the
// type's schema, as the partner's endpoint would receive it.
func exampleEvent(t eventTypeWire) string {
	data := exampleFromSchema(t.Schema)
	return prettyJSON(fmt.Sprintf(`{"specversion":"1.0","id":"01J9Z8Q6K0EXAMPLE","source":"/example","type":%q,`+
		`"time":"2026-01-01T12:00:00Z","datacontenttype":"application/json","data":%s}`, t.Name, data))
}

func (h *Handler) portalGuide(w http.ResponseWriter, r *http.Request) error {
	h.render(w, r, http.StatusOK, "portal/guide", view{Title: "Verify our signatures", Section: "guide"})
	return nil
}
