package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ConnectOptions are the client settings of a connection to NATS: the
// URL and the credentials and TLS options, passed through to nats.go.
type ConnectOptions struct {
	// URL is the NATS server, e.g. nats://head:4222 (a comma-separated
	// list for a NATS cluster).
	URL string
	// Name names the connection in the server's monitoring.
	Name string
	// Creds is a NATS user credentials file (JWT and nkey seed).
	Creds string
	// NKey is an nkey seed file.
	NKey string
	// User and Password, or Token, authenticate against a server with
	// plain users (the embedded server's options).
	User, Password, Token string
	// TLSCA, TLSCert and TLSKey: the CA that signed the server's
	// certificate, and the client certificate and key (mutual TLS).
	TLSCA, TLSCert, TLSKey string
	// InProcess, when set, connects to this embedded server without a
	// socket (URL is then ignored).
	InProcess *Embedded
	Logger    *slog.Logger
}

// Connect opens a connection that reconnects for ever. It is the caller's
// to Close (or Drain).
func Connect(o ConnectOptions) (*nats.Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []nats.Option{nats.Name(o.Name), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.NKey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats nkey: %w", err)
		}
		opts = append(opts, opt)
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" || o.TLSKey != "" {
		if o.TLSCert == "" || o.TLSKey == "" {
			return nil, errors.New("nats tls: a client certificate needs its key and the key its certificate")
		}
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	if o.InProcess != nil {
		opts = append(opts, nats.InProcessServer(o.InProcess.srv))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", o.URL, err)
	}
	return nc, nil
}

// EmbedOptions configure a NATS server run inside the process.
type EmbedOptions struct {
	// Addr is host:port to listen on ("127.0.0.1:0" picks a free port).
	Addr string
	// StateDir holds JetStream's file store (created when missing).
	StateDir string
	// User and Password, or Token, are required from clients when set.
	User, Password, Token string
	// TLSCert and TLSKey make the server speak TLS; TLSCA, with them,
	// requires client certificates signed by it.
	TLSCA, TLSCert, TLSKey string
}

// Embedded is a NATS server with JetStream running in this process.
type Embedded struct {
	srv  *server.Server
	once sync.Once
	done chan struct{}
}

// Embed starts a NATS server with JetStream in the process; it runs until
// ctx ends or Shutdown is called.
func Embed(ctx context.Context, o EmbedOptions) (*Embedded, error) {
	host, portStr, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("nats embed address %q: %w", o.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("nats embed port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if o.StateDir == "" {
		return nil, errors.New("nats embed: no state folder")
	}
	store := filepath.Join(o.StateDir, "jetstream")
	if err := os.MkdirAll(store, 0o700); err != nil {
		return nil, fmt.Errorf("nats embed state folder: %w", err)
	}
	opts := &server.Options{Host: host, Port: port, JetStream: true, StoreDir: store, NoSigs: true, NoLog: true,
		Username: o.User, Password: o.Password, Authorization: o.Token, ServerName: "saxsdog-head"}
	if o.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLSCert, KeyFile: o.TLSKey, CaFile: o.TLSCA, Verify: o.TLSCA != ""})
		if err != nil {
			return nil, fmt.Errorf("nats embed tls: %w", err)
		}
		opts.TLSConfig = tc
		opts.TLS = true
		opts.TLSVerify = o.TLSCA != ""
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats embed: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats embed: the server did not start within 10 s")
	}
	e := &Embedded{srv: srv, done: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			srv.Shutdown()
		case <-e.done:
		}
	}()
	return e, nil
}

// ClientURL is the URL clients of this machine connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.once.Do(func() { close(e.done) })
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
