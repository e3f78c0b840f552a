package network

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

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

func (g guardTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	c, err := g.tcp.Dial(ctx, d, addr)
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c, max: MaxMessageSize}, nil
}

func (g guardTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	l, err := g.tcp.Listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	return guardListener{l}, nil
}

func (g guardTransport) Addr(ep string) (string, error) { return g.tcp.Addr(ep) }

type guardListener struct{ net.Listener }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c, max: MaxMessageSize}, nil
}

// errTooLarge closes a connection whose peer announces a message above
// MaxMessageSize.
var errTooLarge = errors.New("zmtp: message too large")

// guardConn follows the ZMTP 3 framing of the bytes it reads (64 bytes of
// greeting, then frames: a flags byte, a 1- or 8-byte size, the body) and
// fails the read when a message's declared size exceeds max.
type guardConn struct {
	net.Conn
	max int64

	greeting int    // greeting bytes still to come (64 at first)
	started  bool   // greeting counted
	state    int    // 0 flags, 1 size bytes, 2 body
	flags    byte   // of the current frame
	sizeBuf  []byte // size bytes collected
	sizeLen  int    // 1 or 8
	body     uint64 // body bytes still to come
	msgSize  int64  // declared bytes of the current message so far
}

const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

func (c *guardConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if ferr := c.follow(p[:n]); ferr != nil {
			c.Conn.Close()
			return 0, ferr
		}
	}
	return n, err
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
			}
		}
	}
	return nil
}
