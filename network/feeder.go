package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/saxsdog/saxs/internal/batch"
)

// FeederCommand is the command of a feeder message.
const FeederCommand = "new file"

// FeederMessage is what a feeder publishes for each complete frame.
type FeederMessage struct {
	Command  string `json:"command"`
	Argument string `json:"argument"`
}

// reconnectDelay is the pause before a subscriber dials again after
// losing its feeder.
const reconnectDelay = 250 * time.Millisecond

// Subscribe connects a SUB socket to the feeder at addr and calls fn with
// the path of every "new file" message until ctx ends. A lost connection
// is dialled again (a fresh socket) until ctx ends.
func Subscribe(ctx context.Context, addr string, fn func(path string), log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for ctx.Err() == nil {
		err := subscribeOnce(ctx, addr, fn, log)
		if ctx.Err() != nil {
			return nil
		}
		log.Debug("feeder connection lost, reconnecting", "feeder", addr, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(reconnectDelay):
		}
	}
	return nil
}

func subscribeOnce(ctx context.Context, addr string, fn func(path string), log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub := zmq4.NewSub(ctx, zmq4.WithDialerRetry(reconnectDelay), zmq4.WithDialerMaxRetries(-1),
		zmq4.WithLogger(discardLogger()))
	defer sub.Close()
	if err := sub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		return err
	}
	gaddr, err := guarded(addr)
	if err != nil {
		return err
	}
	if err := sub.Dial(gaddr); err != nil {
		return err
	}
	log.Info("subscribed to the feeder", "feeder", addr)
	for {
		msg, err := sub.Recv()
		if err != nil {
			return err
		}
		if len(msg.Frames) == 0 {
			continue
		}
		var m FeederMessage
		if err := json.Unmarshal(msg.Frames[0], &m); err != nil || m.Command != FeederCommand || m.Argument == "" {
			log.Warn("ignoring a feeder message", "message", truncate(string(msg.Frames[0]), 200))
			continue
		}
		fn(m.Argument)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Publisher is a feeder's PUB socket.
type Publisher struct {
	mu   sync.Mutex
	sock zmq4.Socket
	log  *slog.Logger
}

// ListenPub binds a PUB socket to addr (tcp://*:port).
func ListenPub(ctx context.Context, addr string, log *slog.Logger) (*Publisher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gaddr, err := guarded(addr)
	if err != nil {
		return nil, err
	}
	sock := zmq4.NewPub(ctx, zmq4.WithLogger(discardLogger()))
	if err := sock.Listen(gaddr); err != nil {
		sock.Close()
		return nil, fmt.Errorf("binding %s: %w", addr, err)
	}
	return &Publisher{sock: sock, log: log}, nil
}

// Addr returns the bound address.
func (p *Publisher) Addr() net.Addr { return p.sock.Addr() }

// Endpoint returns tcp://127.0.0.1:<bound port>.
func (p *Publisher) Endpoint() string {
	if ta, ok := p.sock.Addr().(*net.TCPAddr); ok {
		return fmt.Sprintf("tcp://127.0.0.1:%d", ta.Port)
	}
	return "tcp://" + p.sock.Addr().String()
}

// Publish sends {"command":"new file","argument":path}.
func (p *Publisher) Publish(path string) error {
	b, err := json.Marshal(FeederMessage{Command: FeederCommand, Argument: path})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.sock.Send(zmq4.NewMsg(b)); err != nil {
		return fmt.Errorf("publishing %s: %w", path, err)
	}
	p.log.Debug("published", "file", path)
	return nil
}

// Close closes the socket.
func (p *Publisher) Close() error { return p.sock.Close() }

// FeederConfig configures RunFeeder.
type FeederConfig struct {
	// Dir is the folder whose frames are announced.
	Dir string
	// Watch sets the completion rules (batch.Watch: settle, timeout, poll).
	Watch batch.Watch
	// Replay re-publishes every frame under Dir every ReplayEvery instead
	// of watching (the original's simulator).
	Replay      bool
	ReplayEvery time.Duration
	Logger      *slog.Logger
	// Watching, when set, is called once Dir is watched: a frame
	// completed from then on is announced (not with Replay).
	Watching func()
}

// DefaultReplayEvery is the pause between two rounds of --replay, as in
// the 2.0 simulator.
const DefaultReplayEvery = 7 * time.Second

// RunFeeder publishes on p the absolute path of each frame below
// cfg.Dir once it is complete (the watch logic of saxsdog: settled size
// and modification time, then a whole TIFF, checked by
// saxs.ImageReader.CheckFile without reading the samples; other formats
// by decoding frame 0), until ctx ends.
// A frame rewritten later is announced again.
func RunFeeder(ctx context.Context, p *Publisher, cfg FeederConfig) error {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return err
	}
	if cfg.Replay {
		return replay(ctx, p, dir, cfg)
	}
	w := cfg.Watch
	conv, err := batch.New(batch.Config{
		Roots:    []string{dir},
		InPlace:  true,
		NoWalk:   true,
		Watch:    &w,
		Workers:  2,
		ErrorLog: "-",
		Logger:   cfg.Logger,
		Announce: p.Publish,
		Watching: cfg.Watching,
	})
	if err != nil {
		return err
	}
	_, err = conv.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// replay publishes all frames below dir, again and again.
func replay(ctx context.Context, p *Publisher, dir string, cfg FeederConfig) error {
	every := cfg.ReplayEvery
	if every <= 0 {
		every = DefaultReplayEvery
	}
	for {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !d.IsDir() && isFrameName(d.Name()) {
				return p.Publish(path)
			}
			return nil
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}
