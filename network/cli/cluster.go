package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/saxsdog/saxs/network/cluster"
)

// natsFlags are the NATS connection options of saxsdogserver and
// saxsdogworker.
type natsFlags struct {
	url, creds, nkey, user, password, token, tlsCA, tlsCert, tlsKey string
}

// add registers the connection flags on fs.
func (n *natsFlags) add(fs *pflag.FlagSet, urlUsage string) {
	fs.StringVar(&n.url, "nats", "", urlUsage)
	fs.StringVar(&n.creds, "nats-creds", "", "NATS user credentials `FILE` (JWT and nkey seed)")
	fs.StringVar(&n.nkey, "nats-nkey", "", "NATS nkey seed `FILE`")
	fs.StringVar(&n.user, "nats-user", "", "NATS `USER` (with --nats-password; required by --nats-embed from clients)")
	fs.StringVar(&n.password, "nats-password", "", "NATS `PASSWORD` of --nats-user")
	fs.StringVar(&n.token, "nats-token", "", "NATS authentication `TOKEN` (required by --nats-embed from clients)")
	fs.StringVar(&n.tlsCA, "nats-tls-ca", "", "CA certificate `FILE` for NATS TLS (with --nats-embed: client certificates signed by it are required)")
	fs.StringVar(&n.tlsCert, "nats-tls-cert", "", "certificate `FILE` for NATS TLS (client certificate; with --nats-embed the server's)")
	fs.StringVar(&n.tlsKey, "nats-tls-key", "", "key `FILE` of --nats-tls-cert")
}

func (n *natsFlags) connectOptions(name string, log *slog.Logger) cluster.ConnectOptions {
	return cluster.ConnectOptions{URL: n.url, Name: name, Creds: n.creds, NKey: n.nkey, User: n.user, Password: n.password,
		Token: n.token, TLSCA: n.tlsCA, TLSCert: n.tlsCert, TLSKey: n.tlsKey, Logger: log}
}

// defaultStateDir is where --nats-embed keeps JetStream's files unless
// --state-dir says otherwise: the user's cache folder, saxs/nats.
func defaultStateDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no --state-dir and no cache folder: %w", err)
	}
	return filepath.Join(d, "saxs", "nats"), nil
}

// headFlags are saxsdogserver's cluster options.
type headFlags struct {
	natsFlags
	embed, stateDir string
	ackWait         time.Duration
	maxDeliver      int
}

func (h *headFlags) add(fs *pflag.FlagSet) {
	h.natsFlags.add(fs, "be a cluster head on the NATS server at `URL`: frames become jobs for saxsdogworker processes")
	fs.StringVar(&h.embed, "nats-embed", "", "be a cluster head and run the NATS server (JetStream) in this process, listening on `ADDR` (host:port)")
	fs.StringVar(&h.stateDir, "state-dir", "", "keep the file store of --nats-embed in `DIR` (default: the user's cache folder/saxs/nats)")
	fs.DurationVar(&h.ackWait, "ack-wait", cluster.DefaultAckWait, "a job held for `DURATION` by a silent worker goes to another one")
	fs.IntVar(&h.maxDeliver, "max-deliver", cluster.DefaultMaxDeliver, "give a job up (dead letter) after `N` failed deliveries")
}

func (h *headFlags) enabled() bool { return h.url != "" || h.embed != "" }

func (h *headFlags) check() error {
	switch {
	case h.url != "" && h.embed != "":
		return errors.New("--nats and --nats-embed exclude each other")
	case !h.enabled() && h.stateDir != "":
		return errors.New("--state-dir needs --nats-embed")
	case h.ackWait <= 0:
		return fmt.Errorf("--ack-wait must be positive, not %v", h.ackWait)
	case h.maxDeliver < 1:
		return fmt.Errorf("--max-deliver must be at least 1, not %d", h.maxDeliver)
	}
	return nil
}

// start connects the head (starting the embedded server first with
// --nats-embed) and sets up the streams. closeAll closes the connection
// and stops the embedded server.
func (h *headFlags) start(ctx context.Context, log *slog.Logger) (head *cluster.Head, closeAll func(), err error) {
	o := h.connectOptions("saxsdogserver", log)
	var emb *cluster.Embedded
	if h.embed != "" {
		dir := h.stateDir
		if dir == "" {
			if dir, err = defaultStateDir(); err != nil {
				return nil, nil, err
			}
		}
		// Not ctx: the server outlives the queues, which drop their jobs
		// when they stop; closeAll shuts it down.
		emb, err = cluster.Embed(context.WithoutCancel(ctx), cluster.EmbedOptions{Addr: h.embed, StateDir: dir, User: h.user, Password: h.password,
			Token: h.token, TLSCA: h.tlsCA, TLSCert: h.tlsCert, TLSKey: h.tlsKey})
		if err != nil {
			return nil, nil, err
		}
		log.Info("nats server started", "url", emb.ClientURL(), "state", dir)
		o.InProcess = emb
		o.TLSCA, o.TLSCert, o.TLSKey = "", "", ""
	}
	nc, err := cluster.Connect(o)
	if err != nil {
		if emb != nil {
			emb.Shutdown()
		}
		return nil, nil, err
	}
	closeAll = func() {
		_ = nc.Drain()
		waitClosed(nc)
		if emb != nil {
			emb.Shutdown()
		}
	}
	head, err = cluster.NewHead(ctx, nc, cluster.Settings{AckWait: h.ackWait, MaxDeliver: h.maxDeliver}, log)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	closeConn := closeAll
	closeAll = func() {
		_ = head.Close()
		closeConn()
	}
	return head, closeAll, nil
}

// waitClosed waits (at most 10 s) until a draining connection is closed.
func waitClosed(nc *nats.Conn) {
	deadline := time.Now().Add(10 * time.Second)
	for !nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
