package studio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// cookieName is the login session's cookie: HttpOnly (no script reads
// it), SameSite=Strict (no other site's page sends it), Path /studio/.
const cookieName = "ussdgw_studio"

// maxSessions bounds the logins kept; past it the oldest is forgotten.
const maxSessions = 1000

// session is one login: who, until when, and the simulated phone it uses.
type session struct {
	token   string
	who     string
	expires time.Time
	phone   phone
}

// sessions are the logins, in memory: a login lasts until it expires or
// the gateway restarts, and holds on the instance it was made on.
type sessions struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: map[string]*session{}}
}

func (ss *sessions) create(who string) *session {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	s := &session{token: base64.RawURLEncoding.EncodeToString(b), who: who, expires: ss.now().Add(ss.ttl)}
	s.phone.number = newNumber()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	for t, o := range ss.m {
		if now.After(o.expires) {
			delete(ss.m, t)
		}
	}
	if len(ss.m) >= maxSessions {
		var oldest *session
		for _, o := range ss.m {
			if oldest == nil || o.expires.Before(oldest.expires) {
				oldest = o
			}
		}
		delete(ss.m, oldest.token)
	}
	ss.m[s.token] = s
	return s
}

func (ss *sessions) get(token string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[token]
	if s == nil {
		return nil
	}
	if ss.now().After(s.expires) {
		delete(ss.m, token)
		return nil
	}
	return s
}

func (ss *sessions) drop(token string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, token)
}

type ctxKey struct{}

func current(r *http.Request) *session { return r.Context().Value(ctxKey{}).(*session) }

// authed finds the request's login, or answers with deny.
func (s *Server) authed(next http.HandlerFunc, deny func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		var sess *session
		if err == nil {
			sess = s.auth.get(c.Value)
		}
		if sess == nil {
			deny(w, r)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess)))
	})
}

// page is a page for logged-in users; others go to the login form.
func (s *Server) page(next http.HandlerFunc) http.Handler {
	return s.authed(next, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/studio/login", http.StatusSeeOther)
	})
}

// api is a read for logged-in users; others get 401.
func (s *Server) api(next http.HandlerFunc) http.Handler {
	return s.authed(next, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusUnauthorized, "log in first: "+Prefix+"login")
	})
}

// change is a request that changes something: logged in, from a page of
// this origin, and JSON (which an HTML form of another site cannot send
// without the browser asking first). SameSite=Strict already keeps the
// cookie off other sites' requests; these checks hold if it did not.
func (s *Server) change(next http.HandlerFunc) http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			writeError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "send application/json")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		next(w, r)
	})
}

// sameOrigin reports whether the request comes from a page of this host
// (an Origin header naming it, or none: browsers send one on every POST
// made by a script or form of another site).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

var loginTmpl = template.Must(template.ParseFS(assets, "assets/login.html"))

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, http.StatusOK, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = loginTmpl.Execute(w, map[string]string{"Error": msg})
}

// login exchanges a key for a session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		s.renderLogin(w, http.StatusForbidden, "Cross-origin login refused.")
		return
	}
	if !s.logins.Allow() {
		w.Header().Set("Retry-After", "5")
		s.renderLogin(w, http.StatusTooManyRequests, "Too many attempts. Wait a few seconds and try again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	key := r.PostFormValue("key")
	if s.cfg.Login == nil || key == "" {
		s.renderLogin(w, http.StatusUnauthorized, "Enter a key with the studio or admin scope.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	who, err := s.cfg.Login(ctx, key)
	if err != nil {
		s.log.Info("studio login refused", "from", r.RemoteAddr, "err", err)
		s.renderLogin(w, http.StatusUnauthorized, "This key does not open the studio.")
		return
	}
	sess := s.auth.create(who)
	s.log.Info("studio login", "who", who, "from", r.RemoteAddr)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: sess.token, Path: Prefix, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
		Expires: sess.expires})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.auth.drop(current(r).token)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
