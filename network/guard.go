package network

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

// MaxMessageSize bounds the size of a message (all frames) that a bound
// socket of ours accepts from a peer. zmq4 allocates the size a frame
// header declares before reading the body, so a peer declaring a frame of
// 2^62 bytes would crash the process; the guard closes such a connection
// as soon as the header is read. Messages up to this size are read and
// then answered (a request above MaxRequestSize gets an error reply).
const MaxMessageSize = 256 << 20

// WriteTimeout bounds each write to a peer of a bound socket: a peer that
// stops reading (its TCP window full) is disconnected after it instead of
// stalling the socket's single writer, and with it every other client.
// Once a write has failed the connection is closed, so the replies still
// queued for that peer fail at once instead of waiting in turn.
const WriteTimeout = 5 * time.Second

// guardScheme is the zmq4 transport name of guarded TCP.
const guardScheme = "saxstcp"

var registerGuard = sync.OnceValue(func() error {
	return zmq4.RegisterTransport(guardScheme, guardTransport{transport.New("tcp")})
})

// guarded turns tcp://addr into the guarded transport's address.
func guarded(addr string) (string, error) {
	rest, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return addr, nil
	}
	if err := registerGuard(); err != nil {
		return "", fmt.Errorf("registering the guarded transport: %w", err)
	}
	return guardScheme + "://" + rest, nil
}

type guardTransport struct{ tcp transport.Transport }

// Dial connects and bounds the ZMTP handshake (zmq4 has no deadline for
// it: a server that accepts but does not answer, stopped with SIGSTOP,
// would hang the dial forever) by HandshakeTimeout or ctx's deadline.
func (g guardTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	c, err := g.tcp.Dial(ctx, d, addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(HandshakeTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := c.SetReadDeadline(deadline); err != nil {
		c.Close()
		return nil, err
	}
	return &guardConn{Conn: c, max: MaxMessageSize, handshake: true}, nil
}

func (g guardTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	l, err := g.tcp.Listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	return newGuardListener(l), nil
}

func (g guardTransport) Addr(ep string) (string, error) { return g.tcp.Addr(ep) }

// HandshakeTimeout bounds the ZMTP greeting and READY exchange of a new
// connection.
const HandshakeTimeout = 5 * time.Second

// guardListener performs the start of the ZMTP handshake of each accepted
// connection in a goroutine of its own before zmq4 sees it: zmq4 runs the
// handshake inside its single accept loop without a deadline, so one
// silent peer (a port scanner, half a greeting, an HTTP request) would
// keep every other client out. The listener sends zmq4's greeting, reads
// the peer's greeting and its first command (READY) within
// HandshakeTimeout, and hands zmq4 a connection that replays those bytes
// and drops zmq4's own greeting, so that zmq4's handshake does not wait
// on the network.
type guardListener struct {
	net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newGuardListener(l net.Listener) *guardListener {
	g := &guardListener{Listener: l, conns: make(chan net.Conn), done: make(chan struct{})}
	go g.loop()
	return g
}

// loop accepts connections until the listener is closed.
func (g *guardListener) loop() {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select { // too many open files, ...: do not spin
			case <-g.done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		go g.screen(c)
	}
}

// screen runs the start of the handshake of c and hands it over.
func (g *guardListener) screen(c net.Conn) {
	prefix, err := handshakeStart(c)
	if err != nil {
		c.Close()
		return
	}
	gc := &guardConn{Conn: c, max: MaxMessageSize, prefix: prefix, skipWrite: len(nullGreeting)}
	select {
	case g.conns <- gc:
	case <-g.done:
		c.Close()
	}
}

// Accept returns the next connection whose handshake has started well.
func (g *guardListener) Accept() (net.Conn, error) {
	select {
	case c := <-g.conns:
		return c, nil
	case <-g.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (g *guardListener) Close() error {
	g.once.Do(func() { close(g.done) })
	return g.Listener.Close()
}

// nullGreeting is the ZMTP 3.0 greeting zmq4 sends: signature, version
// 3.0, mechanism NULL, as-server 0, filler.
var nullGreeting = func() []byte {
	b := make([]byte, 64)
	b[0], b[9], b[10], b[11] = 0xff, 0x7f, 3, 0
	copy(b[12:32], "NULL")
	return b
}()

// maxReady bounds the size of the peer's first command (READY and its
// metadata).
const maxReady = 64 << 10

// handshakeStart sends zmq4's greeting on c and reads the peer's greeting
// and first command, within HandshakeTimeout; it returns the bytes read.
func handshakeStart(c net.Conn) ([]byte, error) {
	if err := c.SetDeadline(time.Now().Add(HandshakeTimeout)); err != nil {
		return nil, err
	}
	if _, err := c.Write(nullGreeting); err != nil {
		return nil, err
	}
	buf := make([]byte, 64, 128)
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, err
	}
	if buf[0] != 0xff || buf[9]&1 == 0 || buf[10] < 3 {
		return nil, errors.New("zmtp: not a ZMTP 3 greeting")
	}
	var hdr [1]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	if hdr[0]&flagCommand == 0 {
		return nil, errors.New("zmtp: no command after the greeting")
	}
	buf = append(buf, hdr[0])
	n := 1
	if hdr[0]&flagLong != 0 {
		n = 8
	}
	sz := make([]byte, n)
	if _, err := io.ReadFull(c, sz); err != nil {
		return nil, err
	}
	buf = append(buf, sz...)
	size := uint64(sz[0])
	if n == 8 {
		size = binary.BigEndian.Uint64(sz)
	}
	if size > maxReady {
		return nil, errTooLarge
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return append(buf, body...), nil
}

// errTooLarge closes a connection whose peer announces a message above
// MaxMessageSize.
var errTooLarge = errors.New("zmtp: message too large")

// guardConn writes with a deadline and follows the ZMTP 3 framing of the bytes it reads (64 bytes of
// greeting, then frames: a flags byte, a 1- or 8-byte size, the body) and
// fails the read when a message's declared size exceeds max.
type guardConn struct {
	net.Conn
	max int64

	prefix    []byte // bytes read ahead by the listener, returned first
	skipWrite int    // bytes of zmq4's writes to drop (its greeting, already sent)
	handshake bool   // a read deadline is set until the first frame is read

	greeting int    // greeting bytes still to come (64 at first)
	started  bool   // greeting counted
	state    int    // 0 flags, 1 size bytes, 2 body
	flags    byte   // of the current frame
	sizeBuf  []byte // size bytes collected
	sizeLen  int    // 1 or 8
	body     uint64 // body bytes still to come
	msgSize  int64  // declared bytes of the current message so far

	// Reads go through rbuf: zmq4 reads each frame as a header and a
	// body, two reads, so that without it every message of a feeder
	// costs two system calls; with it, a burst of messages costs one
	// per rbuf.
	rbuf       []byte
	rpos, rend int   // the unread bytes are rbuf[rpos:rend]
	rerr       error // the error of the read that filled rbuf, after its bytes
}

// readBufSize is the size of a guardConn's read buffer.
const readBufSize = 4096

const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

// Write writes with a deadline of WriteTimeout.
func (c *guardConn) Write(p []byte) (int, error) {
	skipped := 0
	if c.skipWrite > 0 {
		skipped = min(c.skipWrite, len(p))
		c.skipWrite -= skipped
		p = p[skipped:]
		if len(p) == 0 {
			return skipped, nil
		}
	}
	if err := c.Conn.SetWriteDeadline(time.Now().Add(WriteTimeout)); err != nil {
		return skipped, err
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.Conn.Close() // a peer that does not read is dropped (see WriteTimeout)
	}
	return skipped + n, err
}

func (c *guardConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		if err := c.follow(p[:n]); err != nil {
			c.Conn.Close()
			return 0, err
		}
		return n, nil
	}
	n, err := c.read(p)
	if n > 0 {
		if ferr := c.follow(p[:n]); ferr != nil {
			c.Conn.Close()
			return 0, ferr
		}
	}
	return n, err
}

// read reads into p through rbuf (directly when p is at least as large).
func (c *guardConn) read(p []byte) (int, error) {
	if c.rpos == c.rend {
		if err := c.rerr; err != nil {
			c.rerr = nil
			return 0, err
		}
		if len(p) >= readBufSize {
			return c.Conn.Read(p)
		}
		if c.rbuf == nil {
			c.rbuf = make([]byte, readBufSize)
		}
		n, err := c.Conn.Read(c.rbuf)
		c.rpos, c.rend = 0, n
		if n == 0 {
			return 0, err
		}
		c.rerr = err
	}
	n := copy(p, c.rbuf[c.rpos:c.rend])
	c.rpos += n
	return n, nil
}

// follow advances the framing state over b.
func (c *guardConn) follow(b []byte) error {
	if !c.started {
		c.started, c.greeting = true, 64
	}
	for len(b) > 0 {
		if c.greeting > 0 {
			k := min(c.greeting, len(b))
			c.greeting -= k
			b = b[k:]
			continue
		}
		switch c.state {
		case 0:
			c.flags = b[0]
			b = b[1:]
			c.sizeLen = 1
			if c.flags&flagLong != 0 {
				c.sizeLen = 8
			}
			c.sizeBuf = c.sizeBuf[:0]
			c.state = 1
		case 1:
			k := min(c.sizeLen-len(c.sizeBuf), len(b))
			c.sizeBuf = append(c.sizeBuf, b[:k]...)
			b = b[k:]
			if len(c.sizeBuf) < c.sizeLen {
				continue
			}
			var size uint64
			if c.sizeLen == 1 {
				size = uint64(c.sizeBuf[0])
			} else {
				size = binary.BigEndian.Uint64(c.sizeBuf)
			}
			if size > uint64(c.max) {
				return errTooLarge
			}
			if c.flags&flagCommand == 0 {
				c.msgSize += int64(size)
				if c.msgSize > c.max {
					return errTooLarge
				}
				if c.flags&flagMore == 0 {
					c.msgSize = 0
				}
			}
			c.body = size
			c.state = 2
			if size == 0 {
				c.state = 0
				c.frameDone()
			}
		case 2:
			k := uint64(len(b))
			if k > c.body {
				k = c.body
			}
			c.body -= k
			b = b[k:]
			if c.body == 0 {
				c.state = 0
				c.frameDone()
			}
		}
	}
	return nil
}

// frameDone ends the handshake deadline once the first frame (the peer's
// READY) has been read.
func (c *guardConn) frameDone() {
	if c.handshake {
		c.handshake = false
		c.Conn.SetReadDeadline(time.Time{})
	}
}
