package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// DefaultTimeout is how long a client waits for a server's reply.
const DefaultTimeout = 10 * time.Second

// Reply is a decoded server reply: {"result": ..., "data": {...}}.
type Reply struct {
	Result string
	// Data is the decoded "data" member: usually map[string]any with
	// numbers as json.Number and NaN as float64, but a string in the
	// original's ValidationError replies.
	Data any
	// Raw is the reply frame as received.
	Raw []byte
}

// Number reads a decoded JSON number as float64: a json.Number (as the
// decoder gives numbers; one beyond the float64 range reads as ±Inf), a
// float64 (NaN and the infinities of the original's replies) or a Go
// integer. ok is false for anything else.
func Number(v any) (f float64, ok bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil || errors.Is(err, strconv.ErrRange)
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// Map returns Data as an object (nil when it is not one).
func (r *Reply) Map() map[string]any {
	m, _ := r.Data.(map[string]any)
	return m
}

// ErrorText returns data.Error of a failed reply, or "".
func (r *Reply) ErrorText() string {
	if s, ok := r.Data.(string); ok {
		return s
	}
	if s, ok := r.Map()["Error"].(string); ok {
		return s
	}
	return ""
}

// NoAnswerError is a request that got no reply in time.
type NoAnswerError struct {
	Addr    string
	Timeout time.Duration
	Err     error
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("no server answered at %s within %v", e.Addr, e.Timeout)
}

func (e *NoAnswerError) Unwrap() error { return e.Err }

// ParseReply decodes a reply frame.
func ParseReply(frame []byte) (*Reply, error) {
	v, err := pyjson.Decode(frame)
	if err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("reply: not a JSON object")
	}
	res, ok := m["result"].(string)
	if !ok {
		return nil, errors.New("reply: no result string")
	}
	return &Reply{Result: res, Data: m["data"], Raw: frame}, nil
}

// RoundTrip sends the frames to the REP socket at addr over a new REQ
// socket and returns the reply frames. It gives up after timeout (or when
// ctx ends) with a *NoAnswerError. A fresh socket per request avoids the
// REQ state machine getting stuck after a server restart.
func RoundTrip(ctx context.Context, addr string, frames [][]byte, timeout time.Duration) ([][]byte, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	gaddr, err := guarded(addr)
	if err != nil {
		return nil, err
	}
	sock := zmq4.NewReq(ctx, zmq4.WithDialerRetry(50*time.Millisecond), zmq4.WithDialerMaxRetries(-1),
		zmq4.WithTimeout(timeout), zmq4.WithLogger(discardLogger()))
	defer sock.Close()
	type result struct {
		frames [][]byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		if err := sock.Dial(gaddr); err != nil {
			done <- result{err: err}
			return
		}
		msg := zmq4.NewMsgFrom(frames...)
		var err error
		if len(frames) > 1 {
			err = sock.SendMulti(msg)
		} else {
			err = sock.Send(msg)
		}
		if err != nil {
			done <- result{err: err}
			return
		}
		rep, err := sock.Recv()
		done <- result{frames: rep.Frames, err: err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			if ctx.Err() != nil || errors.Is(r.err, os.ErrDeadlineExceeded) {
				return nil, &NoAnswerError{Addr: addr, Timeout: timeout, Err: ctx.Err()}
			}
			return nil, fmt.Errorf("request to %s: %w", addr, r.err)
		}
		return r.frames, nil
	case <-ctx.Done():
		sock.Close() // ends Dial retries and Recv
		<-done
		return nil, &NoAnswerError{Addr: addr, Timeout: timeout, Err: ctx.Err()}
	}
}

// Handler answers one request (all its frames) with one reply frame. A
// RepServer calls it from several goroutines at once.
type Handler func(ctx context.Context, frames [][]byte) []byte

// MaxConcurrentRequests bounds the requests a RepServer handles at once;
// further requests wait in the socket until one is answered.
const MaxConcurrentRequests = 64

// RepServer answers the requests of REQ clients (the original's REP
// socket) on a bound socket. It is a ROUTER underneath: each request is
// handled in a goroutine of its own and answered to its sender when done,
// so one slow request (new building an operator) does not hold up the
// stat, get and plot of other clients. For each client the protocol is
// REP's: one request, then one reply.
type RepServer struct {
	sock zmq4.Socket
	addr net.Addr
	h    Handler
	log  *slog.Logger
}

// ListenRep binds the socket to addr (tcp://*:port, tcp://127.0.0.1:0).
// The socket lives until ctx ends or Close is called.
func ListenRep(ctx context.Context, addr string, h Handler, log *slog.Logger) (*RepServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gaddr, err := guarded(addr)
	if err != nil {
		return nil, err
	}
	sock := zmq4.NewRouter(ctx, zmq4.WithLogger(discardLogger()))
	if err := sock.Listen(gaddr); err != nil {
		sock.Close()
		return nil, fmt.Errorf("binding %s: %w", addr, err)
	}
	return &RepServer{sock: sock, addr: sock.Addr(), h: h, log: log}, nil
}

// Addr returns the bound address (host:port).
func (s *RepServer) Addr() net.Addr { return s.addr }

// Endpoint returns tcp://127.0.0.1:<bound port>, for clients on the
// same machine.
func (s *RepServer) Endpoint() string {
	if ta, ok := s.addr.(*net.TCPAddr); ok {
		return fmt.Sprintf("tcp://127.0.0.1:%d", ta.Port)
	}
	return "tcp://" + s.addr.String()
}

// Close closes the socket, which ends Serve.
func (s *RepServer) Close() error { return s.sock.Close() }

// splitEnvelope splits a message read by the ROUTER into its envelope
// (the peer's identity, any routing frames, and the empty delimiter a REQ
// socket sends) and the request frames. ok is false for a message with no
// delimiter or no request frame.
func splitEnvelope(frames [][]byte) (envelope, body [][]byte, ok bool) {
	for i := 1; i < len(frames); i++ {
		if len(frames[i]) == 0 {
			if i+1 == len(frames) {
				return nil, nil, false
			}
			return frames[:i+1], frames[i+1:], true
		}
	}
	return nil, nil, false
}

// Serve answers requests until ctx ends or the socket is closed, then
// waits for the handlers still running (they see ctx end). A panic in the
// handler is answered with a ServerError reply and the loop goes on.
func (s *RepServer) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		s.sock.Close()
		wg.Wait()
	}()
	slots := make(chan struct{}, MaxConcurrentRequests)
	for {
		msg, err := s.sock.Recv()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.log.Warn("receiving a request", "error", err)
			continue
		}
		env, body, ok := splitEnvelope(msg.Frames)
		if !ok {
			s.log.Warn("ignoring a message without a REQ envelope", "frames", len(msg.Frames))
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			reply := s.safeHandle(ctx, body)
			out := make([][]byte, 0, len(env)+1)
			out = append(append(out, env...), reply)
			if err := s.sock.SendMulti(zmq4.NewMsgFrom(out...)); err != nil && ctx.Err() == nil {
				s.log.Warn("sending a reply", "error", err)
			}
		}()
	}
}

func (s *RepServer) safeHandle(ctx context.Context, frames [][]byte) (reply []byte) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("request handler panicked", "panic", p)
			reply = mustReply(ServerError(fmt.Sprintf("internal error: %v", p)))
		}
	}()
	return s.h(ctx, frames)
}
