package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// AdminPrefix is where the admin API lives, on the platform API's listener.
const AdminPrefix = "/_mock/"

// Service is a platform service's responses layer on the Server.
type Service interface {
	// Route reports whether the service answers requests to this escaped path (the
	// service then answers every method, 405 included).
	Route(escapedPath string) bool
	http.Handler
}

// ServerConfig configures the listener.
type ServerConfig struct {
	// Addr is the listen address, e.g. "127.0.0.1:0".
	Addr string
	// TLS, when set, serves HTTPS with it.
	TLS *tls.Config
	// ReadHeaderTimeout, ReadTimeout, IdleTimeout and MaxHeaderBytes are net/http's
	// (see mockserver.Limits).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// WriteTimeout bounds the writing of an answer, from its first byte, so that a client
	// that reads slowly or not at all cannot hold its connection and its answer's memory;
	// waiting for the device does not count. 0 leaves the writing unbounded.
	WriteTimeout time.Duration
	// MaxAnswerBytes bounds the bytes of answers to GET and HEAD requests being written at
	// once (answers of up to 4 KiB do not count, and one answer alone is always written);
	// an answer beyond it is refused with 429 APIGW.0308 and a Retry-After (answers.go).
	// 0 leaves them unbounded.
	MaxAnswerBytes int64
	// Logger receives the server's own errors, at debug level.
	Logger *slog.Logger
}

// Server serves the platform API's services, the admin API and /healthz on one listener.
type Server struct {
	api      *API
	cfg      ServerConfig
	admin    http.Handler
	services []Service
	answers  *answerBudget

	mu        sync.Mutex
	srv       *http.Server
	ln        net.Listener
	url       string        // the API's base URL, by a name clients can reach (ReachableAddr)
	served    chan struct{} // closed when Serve returns
	closeOnce sync.Once
	closeErr  error
}

// NewServer returns a server of api's services, with admin (nil for none) under
// AdminPrefix. Requests to other paths go to the first service whose Route matches, or are
// answered 404 (API.NotFound).
func NewServer(api *API, cfg ServerConfig, admin http.Handler, services ...Service) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	budget := &answerBudget{max: cfg.MaxAnswerBytes}
	if budget.max <= 0 {
		budget.max = math.MaxInt64
	}
	return &Server{api: api, cfg: cfg, admin: admin, services: services, answers: budget}
}

// Start listens on ServerConfig.Addr and serves in the background; it returns once the
// listener is open, so the URL is usable as soon as it returns.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("mockserver: listen on %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	srv := &http.Server{
		Handler: s,
		// ReadTimeout bounds the request line, the headers and the body; net/http lifts it
		// once the body has been read to its end, so waiting for the device does not
		// count. There is no WriteTimeout: it would bound the platform timeout too; each
		// answer's writing is bounded from its first byte instead (answerWriter).
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return s.api.ctx },
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	scheme := "http"
	if s.cfg.TLS != nil {
		scheme = "https"
	}
	url := scheme + "://" + ReachableAddr(ln.Addr().String())
	s.mu.Lock()
	s.srv, s.ln, s.url, s.served = srv, ln, url, make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.served)
		// Serve always returns an error; http.ErrServerClosed is the normal end.
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("mockserver: HTTP server stopped", "error", err)
		}
	}()
	return nil
}

// Close cancels the requests in flight (API.Shutdown, so that none waits out the platform
// timeout), then shuts the server down. It is safe to call more than once and before Start.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.api.Shutdown()
		s.mu.Lock()
		srv, served := s.srv, s.served
		s.mu.Unlock()
		if srv == nil {
			return
		}
		// Requests in flight were cancelled above, so they answer at once. Shutdown would still
		// wait up to 5 s for a connection a client opened but never used (it counts as active),
		// so give it a moment and then close whatever is left: that is not an error.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.closeErr = fmt.Errorf("mockserver: shut down HTTP API: %w", err)
		}
		if err := srv.Close(); err != nil {
			s.closeErr = errors.Join(s.closeErr, fmt.Errorf("mockserver: close HTTP API: %w", err))
		}
		<-served
	})
	return s.closeErr
}

// URL is the API's base URL, or "" before Start. A listener bound to every interface is
// named by the machine's name or address (ReachableAddr), not by 0.0.0.0 or [::].
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// ServeHTTP stamps every response with an X-Request-Id and a JSON content type, then routes.
// Every answer is written within the server's bounds (answerWriter).
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &answerWriter{ResponseWriter: rw, budget: s.answers, timeout: s.cfg.WriteTimeout,
		read: r.Method == http.MethodGet || r.Method == http.MethodHead}
	defer w.finish()
	s.route(w, r)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(HeaderRequestID, RandomHex(16))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/healthz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			WriteError(w, http.StatusMethodNotAllowed, CodeNoAPI, MsgNoAPI)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case s.admin != nil && strings.HasPrefix(r.URL.Path, AdminPrefix):
		s.admin.ServeHTTP(w, r)
		return
	}
	escaped := r.URL.EscapedPath()
	for _, svc := range s.services {
		if svc.Route(escaped) {
			svc.ServeHTTP(w, r)
			return
		}
	}
	s.api.NotFound(w, r)
}
