// Package studio is the service owners' workbench, served by the gateway
// under /studio/: a phone simulator that dials the loaded services through
// the same session manager and flow engine as real traffic, and each
// service drawn as a diagram with what users did at every node (entered,
// choices, where they left and why). It is a transport beside gateway/:
// it imports ussd, flows and the codecs, never another transport
// (gateway, smpp, api), an adapter, or the commands.
//
// Its pages, script and styles are embedded in the binary; it loads
// nothing from elsewhere, so it works offline.
//
// Nothing in it answers a stranger: every page but the login form, and
// every request that changes anything, needs a session cookie obtained by
// logging in with a key that Config.Login accepts (an API key with the
// studio or admin scope, in the gateway). See docs/studio.md.
package studio

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/ussdgw/ussdgw/ussd"
)

//go:embed assets
var assets embed.FS

// Prefix is where the workbench is served.
const Prefix = "/studio/"

// Config configures a Server.
type Config struct {
	// Manager runs the simulated sessions: the gateway's USSD manager,
	// the one real traffic goes through.
	Manager *ussd.Manager
	// Inbox must be the SMS route of Manager (or in front of it), so that
	// the flows' SMS to simulated numbers land in it.
	Inbox *Inbox
	// Analytics gives the diagram its counts; nil (analytics off): the
	// diagram is drawn without counts, saying so.
	Analytics Analytics
	// Login checks a key typed on the login page and returns who it is
	// (a name for the log). Required: without it nobody gets in.
	Login func(ctx context.Context, key string) (who string, err error)
	// SessionTTL is how long a login lasts (8 h).
	SessionTTL time.Duration
	Now        func() time.Time
	Log        *slog.Logger
}

// Server is the workbench. It is an http.Handler for everything under
// Prefix.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	log    *slog.Logger
	logins *rate.Limiter
	auth   *sessions
}

// New builds the workbench.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.Inbox == nil {
		cfg.Inbox = NewInbox(nil, cfg.Now)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Log.With("comp", "studio"),
		// Keys are 128-bit random: the limit is not against guessing but
		// against a stranger making the gateway hash and ask Redis at will.
		logins: rate.NewLimiter(5, 20),
		auth:   newSessions(cfg.SessionTTL, cfg.Now)}
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	m := s.mux
	m.HandleFunc("GET /studio/login", s.loginPage)
	m.HandleFunc("POST /studio/login", s.login)
	m.Handle("GET /studio/static/", http.StripPrefix("/studio/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // files only, no listing
			return
		}
		files.ServeHTTP(w, r)
	})))
	m.Handle("GET /studio/{$}", s.page(s.index))
	m.Handle("GET /studio", http.RedirectHandler(Prefix, http.StatusMovedPermanently))
	m.Handle("POST /studio/api/logout", s.change(s.logout))
	m.Handle("GET /studio/api/services", s.api(s.services))
	m.Handle("GET /studio/api/phone", s.api(s.phone))
	m.Handle("POST /studio/api/dial", s.change(s.dial))
	m.Handle("POST /studio/api/reply", s.change(s.reply))
	m.Handle("POST /studio/api/hangup", s.change(s.hangup))
	m.Handle("POST /studio/api/number", s.change(s.newNumber))
	m.Handle("GET /studio/api/report/{service}", s.api(s.report))
	m.Handle("GET /studio/api/diagram/{service}", s.api(s.diagram))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Everything the pages use is served from here; nothing inline runs.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer a form post says
	// "Origin: null", which sameOrigin refuses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFileFS(w, r, assets, "assets/index.html")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
