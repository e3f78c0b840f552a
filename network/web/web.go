// Package web is the leash as a web page: a local HTTP server that holds
// the network configuration and its secrets, talks to the saxsdog servers
// with the network client and serves a page (HTML, CSS and JavaScript
// embedded in the binary, nothing loaded from elsewhere) to calibrate,
// start queues and watch them live.
//
// Safety: every request needs the session token that the printed URL
// carries (kept in a cookie after the first load); the Host header must
// name this server (against DNS rebinding) and a request carrying an
// Origin must come from this server's own page. The secrets never leave
// the process: the servers are named to the browser by their index.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/network"
)

//go:embed static
var staticFiles embed.FS

// CookieName is the cookie that carries the session token after the page
// was opened with ?token=…, followed by "_" and the port: cookies do not
// tell ports apart, and two leashes on one machine must not overwrite
// each other's.
const CookieName = "saxsleash_token"

// MaxUpload bounds the body of any request (a calibration, a fit2d
// text, a mask, new with all masks of a calibration, or a calibrant frame
// with its mask): a Pilatus 2M mask or frame as a 32-bit TIFF is about
// 10 MB, base64 adds a third.
const MaxUpload = 64 << 20

// Config configures a Server.
type Config struct {
	// NetConf lists the saxsdog servers; its secrets stay in this process.
	NetConf *network.NetConf
	// Token is the session token; empty means a new random one.
	Token string
	// Timeout bounds each request to a saxsdog server (default
	// network.DefaultTimeout).
	Timeout time.Duration
	// StatusTimeout bounds the online check of the server list (default 2 s).
	StatusTimeout time.Duration
	// Poll is the interval of the stat polls behind /events (default 1 s).
	Poll time.Duration
	// MaxUpload bounds the body of a request (default MaxUpload).
	MaxUpload int64
	// CalibrateTimeout bounds one calibration of the Calibrate tab
	// (default DefaultCalibrateTimeout).
	CalibrateTimeout time.Duration
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger
}

// Server is the web leash: an http.Handler.
type Server struct {
	cfg    Config
	token  string
	log    *slog.Logger
	static fs.FS
	mux    *http.ServeMux
	// hosts are the accepted Host header values (lower case, with port).
	hosts map[string]bool
	// cookie is the name of the session cookie.
	cookie string

	hubsMu sync.Mutex
	hubs   map[int]*hub // the watches of the servers with open event streams

	// calibrating holds a token while a calibration runs (one at a time).
	calibrating chan struct{}
	// calibrateFn is saxs.Calibrate.
	calibrateFn calibrateFunc
}

// NewServer prepares a Server for the listener address addr
// (host:port, as bound; it decides the accepted Host headers).
func NewServer(cfg Config, addr string) (*Server, error) {
	if cfg.NetConf == nil || len(cfg.NetConf.Entries) == 0 {
		return nil, errors.New("web: no network configuration")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = network.DefaultTimeout
	}
	if cfg.StatusTimeout <= 0 {
		cfg.StatusTimeout = 2 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = MaxUpload
	}
	if cfg.CalibrateTimeout <= 0 {
		cfg.CalibrateTimeout = DefaultCalibrateTimeout
	}
	tok := cfg.Token
	if tok == "" {
		var err error
		if tok, err = NewToken(); err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	hosts, err := allowedHosts(addr)
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	s := &Server{cfg: cfg, token: tok, log: log, static: sub, hosts: hosts, cookie: CookieName + "_" + port,
		hubs: map[int]*hub{}, calibrating: make(chan struct{}, 1), calibrateFn: saxs.Calibrate}
	s.routes()
	return s, nil
}

// NewToken returns a random session token (32 hex digits).
func NewToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("web: token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Token returns the session token.
func (s *Server) Token() string { return s.token }

// allowedHosts returns the Host header values accepted for a server
// listening on addr: the loopback names with the port, the bound host,
// and for a wildcard or non-loopback bind this machine's host name and
// interface addresses.
func allowedHosts(addr string) (map[string]bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("web: address %q: %w", addr, err)
	}
	hosts := map[string]bool{}
	add := func(h string) {
		h = strings.ToLower(strings.Trim(h, "[]"))
		if h == "" {
			return
		}
		hosts[net.JoinHostPort(h, port)] = true
		if port == "80" {
			hosts[h] = true
		}
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", host} {
		add(h)
	}
	if !IsLoopback(host) {
		if hn, err := os.Hostname(); err == nil {
			add(hn)
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					add(ipn.IP.String())
				}
			}
		}
	}
	return hosts, nil
}

// IsLoopback reports whether a listen host is a loopback address or
// "localhost".
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP checks Host, Origin and the token, then serves the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if !s.hosts[strings.ToLower(r.Host)] {
		http.Error(w, "unknown Host: open the address saxsleash web printed", http.StatusMisdirectedRequest)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !s.sameOrigin(o, r.Host) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	if t := r.URL.Query().Get("token"); t != "" && r.Method == http.MethodGet && (r.URL.Path == "/" || r.URL.Path == "/index.html") {
		if !s.tokenOK(t) {
			http.Error(w, "wrong token: open the address saxsleash web printed", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: s.token, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !s.authorized(r) {
		http.Error(w, "no session token: open the address with ?token=… that saxsleash web printed", http.StatusForbidden)
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
	}
	defer s.recoverHandler(w, r)
	s.mux.ServeHTTP(w, r)
}

// recoverHandler answers a handler's panic with a JSON 500 that names it
// (stage "internal"), logged with its stack, so that one bad request never
// stops the server or leaves the page with a broken connection.
// http.ErrAbortHandler keeps its meaning.
func (s *Server) recoverHandler(w http.ResponseWriter, r *http.Request) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	s.log.Error("handler panic", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
	writeJSON(w, http.StatusInternalServerError, map[string]any{"stage": "internal",
		"error": fmt.Sprintf("%s failed with an internal error (a bug, please report it): %v", r.URL.Path, p)})
}

// sameOrigin reports whether origin is this server as the browser sees it.
func (s *Server) sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" {
		return false
	}
	return strings.EqualFold(u.Host, host) && s.hosts[strings.ToLower(u.Host)]
}

func (s *Server) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1
}

// authorized reports whether r carries the token: the cookie, the
// X-Saxsleash-Token header or "Authorization: token …".
func (s *Server) authorized(r *http.Request) bool {
	if c, err := r.Cookie(s.cookie); err == nil && s.tokenOK(c.Value) {
		return true
	}
	if t := r.Header.Get("X-Saxsleash-Token"); t != "" && s.tokenOK(t) {
		return true
	}
	if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "token "); ok && s.tokenOK(a) {
		return true
	}
	return false
}

// client returns the network client of configuration entry i.
func (s *Server) client(i int) (*network.Client, network.Entry, error) {
	e, err := s.cfg.NetConf.Entry(i)
	if err != nil {
		return nil, e, err
	}
	return &network.Client{Addr: e.Server, Secret: e.Secret, Timeout: s.cfg.Timeout}, e, nil
}

// serverIndex reads the {n} path value.
func serverIndex(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad server number %q", r.PathValue("n"))
	}
	return n, nil
}

// Serve serves on ln until ctx ends, then shuts down (waiting up to 2 s
// for the requests in flight; event streams end with ctx).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-done
	return err
}
