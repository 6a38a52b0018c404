package web

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

// signInCookie holds the sign-in form's CSRF token (double submit: the
// form must carry the value the cookie does), because there is no session
// yet to bind it to.
const signInCookie = "herald_signin"

// signInData is the sign-in page's data.
type signInData struct {
	CSRF  string
	Next  string
	Key   string
	Error string
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) error {
	h.showSignIn(w, r, http.StatusOK, signInData{Next: localNext(r.URL.Query().Get("next"))})
	return nil
}

// showSignIn renders the sign-in form with a fresh form token.
func (h *Handler) showSignIn(w http.ResponseWriter, r *http.Request, status int, d signInData) {
	d.CSRF = randomToken(24)
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: d.CSRF, Path: "/console/sign-in", HttpOnly: true,
		Secure: h.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	h.render(w, r, status, "sign-in", view{Title: "Sign in", Data: d})
}

// signIn checks an admin's key and secret and starts a console session.
// Failures are counted per address and per key; past the limit sign-in is
// refused without checking the secret.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.showSignIn(w, r, http.StatusBadRequest, signInData{Error: "The form could not be read."})
		return nil
	}
	c, err := r.Cookie(signInCookie)
	if err != nil || c.Value == "" || !hmac.Equal([]byte(c.Value), []byte(r.PostFormValue(csrfField))) {
		return errCSRF
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	secret := r.PostFormValue("secret")
	next := localNext(r.PostFormValue("next"))
	d := signInData{Next: next, Key: key}
	addr, keySubject := "addr:"+clientAddr(r), "key:"+key
	if blocked, wait := h.throttle.blocked(addr, keySubject); blocked {
		d.Error = fmt.Sprintf("Too many failed sign-ins. Try again in %s.", roundUpMinutes(wait))
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		h.showSignIn(w, r, http.StatusTooManyRequests, d)
		return nil
	}
	if key == "" || secret == "" {
		d.Error = "Enter the key and the secret of an admin client."
		h.showSignIn(w, r, http.StatusUnprocessableEntity, d)
		return nil
	}
	p, err := h.auth.Authenticate(r.Context(), key, secret)
	if err == nil && !p.PlatformAdmin && !p.Client.Has(herald.RoleAdmin) {
		err = herald.ErrUnauthorized
	}
	if err != nil {
		if !errors.Is(err, herald.ErrUnauthorized) {
			return err
		}
		h.throttle.fail(addr, keySubject)
		h.logger.Info("console sign-in refused", "key", key, "addr", clientAddr(r))
		d.Error = "That key and secret do not belong to an admin client."
		h.showSignIn(w, r, http.StatusUnauthorized, d)
		return nil
	}
	h.throttle.succeed(keySubject)
	started := h.now()
	tok, ss, err := h.sessions.issue(uuid.New(), audienceConsole, p.Client, started)
	if err != nil {
		return err
	}
	h.setCookie(w, r, audienceConsole, tok, ss.Expires)
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Path: "/console/sign-in", MaxAge: -1})
	h.logger.Info("console sign-in", "client", p.Client.ID, "session", ss.ID)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// signOut ends the session everywhere, not only in this browser.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) error {
	ss := sessionFrom(r.Context())
	if err := h.sessions.end(r.Context(), ss); err != nil {
		return err
	}
	h.clearCookie(w, r, ss.Audience)
	if ss.Portal() {
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, (*session)(nil)))
		h.render(w, r, http.StatusOK, "signed-out", view{Title: "Signed out"})
		return nil
	}
	http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
	return nil
}

// clientAddr is the address a request came from (the connection's peer:
// Herald does not trust forwarding headers it cannot check).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// roundUpMinutes says how long to wait in words a person reads at a
// glance: seconds under a minute, else whole minutes rounded up.
func roundUpMinutes(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(math.Ceil(d.Seconds())))
	}
	m := int(math.Ceil(d.Minutes()))
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
