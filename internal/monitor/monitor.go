// Package monitor serves the live plot of saxsdog's -m/--plotmonitor
// option (spec §7.1): where the original opened a matplotlib window that
// worker 0 redrew after each image, the Go saxsdog serves a web page that
// shows the curves of the latest converted frame.
//
// The converter calls [Server.Publish] after each frame. The page (a static
// HTML page with a script that draws the plot on a canvas; no external
// resources) follows the frames through server-sent events. The server
// only keeps the latest frame: a slow or stalled browser skips frames and
// never slows the converter down.
//
// Endpoints:
//
//	GET /             the page
//	GET /events       text/event-stream of messages, the latest at once on connect
//	GET /latest.json  the latest message; 204 No Content before the first frame
//
// A message is the JSON object
//
//	{"file": "name", "curves": [{"name": "R0", "q": [...], "i": [...], "sigma": [...]}]}
//
// with null for NaN (empty bins) and infinities.
package monitor

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/saxsdog/saxs"
)

// DefaultAddr is the address [Server.Start] listens on when given none: a
// free port on the loopback interface, so that the plot is not exposed to
// the network.
const DefaultAddr = "127.0.0.1:0"

// Timing of the event stream and of shutdown.
const (
	// Heartbeat is the interval of the comment lines that keep an idle
	// event stream (and any proxy on the way) alive.
	Heartbeat = 15 * time.Second
	// WriteTimeout bounds each write to a client: a client that reads
	// nothing for this long is dropped, so that it cannot hold a handler
	// for ever.
	WriteTimeout = 10 * time.Second
	// ShutdownTimeout bounds the graceful shutdown after the context of
	// Start or Serve is cancelled; connections still open then are closed.
	ShutdownTimeout = 5 * time.Second
	// retryMillis is the reconnection delay the page's EventSource is told.
	retryMillis = 2000
)

//go:embed static
var staticFiles embed.FS

// Server holds the latest frame and serves the monitor page. Create it
// with [New]; its methods may be called from any goroutine.
type Server struct {
	logger    *slog.Logger
	heartbeat time.Duration // Heartbeat, shorter in tests

	mu      sync.Mutex
	seq     uint64        // number of the latest message
	latest  *message      // nil before the first Publish
	changed chan struct{} // closed and replaced by each Publish
	done    chan struct{} // closed when the server started by Start has stopped
	err     error         // Serve's result, set before done is closed
}

// New returns a server without data. A nil logger discards the log.
func New(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		logger:    logger,
		heartbeat: Heartbeat,
		changed:   make(chan struct{}),
	}
}

// message is one published frame; its JSON encoding is made once, when
// the first client asks for it.
type message struct {
	seq    uint64
	file   string
	curves []curve

	once sync.Once
	data []byte
}

type curve struct {
	name        string
	q, i, sigma []float64
}

// Publish makes the curves of the frame name the latest frame and wakes
// the clients. It copies the curves' Name, Q, I and Sigma, so the caller
// may reuse them, and never blocks for longer than a copy: clients are
// served by their own goroutines, and one that is slow simply gets the
// latest frame when it is ready for the next.
func (s *Server) Publish(name string, curves []saxs.Curve) {
	m := &message{file: name, curves: make([]curve, len(curves))}
	for k, c := range curves {
		m.curves[k] = curve{
			name:  c.Name,
			q:     append([]float64(nil), c.Q...),
			i:     append([]float64(nil), c.I...),
			sigma: append([]float64(nil), c.Sigma...),
		}
	}
	s.mu.Lock()
	s.seq++
	m.seq = s.seq
	s.latest = m
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// current returns the latest message (nil if none) and a channel that is
// closed on the next Publish.
func (s *Server) current() (*message, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest, s.changed
}

// Handler returns the handler of the monitor's endpoints. The event
// streams it serves end when their request's context is done: when the
// client goes away, or, under [Server.Serve], when the server stops.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /monitor.js", files)
	mux.HandleFunc("GET /events", s.serveEvents)
	mux.HandleFunc("GET /latest.json", s.serveLatest)
	return securityHeaders(mux)
}

// securityHeaders forbids the page everything but its own script and
// streams.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) serveLatest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	m, _ := s.current()
	if m == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(m.json()); err != nil {
		s.logger.Debug("plot monitor: writing latest.json", "remote", r.RemoteAddr, "err", err)
	}
}

// serveEvents streams the messages: the latest at once, then each newer
// one when the client can take it (so a slow client skips messages), and a
// comment line every heartbeat.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	log := s.logger.With("remote", r.RemoteAddr)
	ctx := r.Context()
	// When the request ends (the client is gone, or the server is shutting
	// down), a write blocked on a client that does not read is cut short.
	cut := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cut)
		_ = rc.SetWriteDeadline(time.Now())
	})
	defer func() {
		if !stop() {
			<-cut // do not leave it to touch a connection serving another request
		}
	}()
	write := func(parts ...[]byte) error {
		// Not every ResponseWriter supports deadlines; without one, a
		// stalled client holds the handler until its connection closes.
		if err := rc.SetWriteDeadline(time.Now().Add(WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		// After the deadline: the AfterFunc may have run just before it.
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, p := range parts {
			if _, err := w.Write(p); err != nil {
				return err
			}
		}
		return rc.Flush()
	}
	if err := write(fmt.Appendf(nil, "retry: %d\n\n", retryMillis)); err != nil {
		if errors.Is(err, http.ErrNotSupported) {
			log.Warn("plot monitor: the response writer cannot stream events")
			return
		}
		log.Debug("plot monitor: event stream ended", "err", err)
		return
	}
	log.Debug("plot monitor: client connected")
	defer log.Debug("plot monitor: client disconnected")

	ticker := time.NewTicker(s.heartbeat)
	defer ticker.Stop()
	var sent uint64
	for {
		m, changed := s.current()
		if m != nil && m.seq != sent {
			id := strconv.AppendUint([]byte("id: "), m.seq, 10)
			if err := write(id, []byte("\ndata: "), m.json(), []byte("\n\n")); err != nil {
				log.Debug("plot monitor: event stream ended", "err", err)
				return
			}
			sent = m.seq
			continue // a newer message may have come meanwhile
		}
		select {
		case <-changed:
		case <-ticker.C:
			if err := write([]byte(": heartbeat\n\n")); err != nil {
				log.Debug("plot monitor: event stream ended", "err", err)
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// Start listens on addr ([DefaultAddr] if empty) and serves the monitor in
// the background until ctx is cancelled; it returns the URL of the page.
// [Server.Wait] waits for the server to stop. A Server can be started
// once.
func (s *Server) Start(ctx context.Context, addr string) (url string, err error) {
	if addr == "" {
		addr = DefaultAddr
	}
	s.mu.Lock()
	if s.done != nil {
		s.mu.Unlock()
		return "", errors.New("plot monitor: already started")
	}
	done := make(chan struct{})
	s.done = done
	s.mu.Unlock()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		s.mu.Lock()
		s.done = nil
		s.mu.Unlock()
		return "", fmt.Errorf("plot monitor: %w", err)
	}
	url = URL(ln.Addr())
	s.logger.Info("plot monitor listening", "url", url)
	go func() {
		err := s.Serve(ctx, ln)
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(done)
	}()
	return url, nil
}

// Wait blocks until the server started by [Server.Start] has stopped and
// returns the error it stopped with (nil after a clean shutdown), or until
// ctx is done. It returns at once if the server was never started.
func (s *Server) Wait(ctx context.Context) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Serve serves the monitor on ln until ctx is cancelled, then shuts down:
// the event streams end, requests in progress get [ShutdownTimeout] to
// finish, and Serve returns nil once every handler has returned. It closes
// ln. An error is returned if serving fails before that.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: s.Handler(),
		// Handlers see ctx: cancelling it ends the event streams.
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("plot monitor: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Connections that did not finish in time.
		srv.Close()
		s.logger.Warn("plot monitor: forced shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("plot monitor: %w", err)
	}
	s.logger.Debug("plot monitor stopped")
	return nil
}

// URL returns the address of the page served on addr. An unspecified
// host (listening on all interfaces) is shown as localhost.
func URL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
