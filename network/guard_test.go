package network

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zmtpGreeting is a ZMTP 3.0 NULL greeting of a client.
func zmtpGreeting() []byte {
	g := make([]byte, 64)
	g[0], g[9] = 0xff, 0x7f
	g[10], g[11] = 3, 0
	copy(g[12:], "NULL")
	return g
}

func shortFrame(flags byte, body []byte) []byte {
	return append([]byte{flags, byte(len(body))}, body...)
}

func longHeader(flags byte, size uint64) []byte {
	h := make([]byte, 9)
	h[0] = flags | flagLong
	binary.BigEndian.PutUint64(h[1:], size)
	return h
}

func readyCommand(socketType string) []byte {
	body := []byte("\x05READY")
	body = append(body, byte(len("Socket-Type")))
	body = append(body, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(socketType)))
	body = append(body, socketType...)
	return shortFrame(flagCommand, body)
}

func TestGuardFollowsFraming(t *testing.T) {
	feed := func(max int64, chunks ...[]byte) error {
		c := &guardConn{max: max}
		var all []byte
		for _, ch := range chunks {
			all = append(all, ch...)
		}
		// Byte by byte, to cross every boundary.
		for i := range all {
			if err := c.follow(all[i : i+1]); err != nil {
				return err
			}
		}
		return nil
	}
	ok := [][]byte{zmtpGreeting(), readyCommand("REQ"), shortFrame(flagMore, nil), shortFrame(0, []byte("hello"))}
	assert.NoError(t, feed(100, ok...))
	assert.NoError(t, feed(100, zmtpGreeting(), longHeader(0, 100), make([]byte, 100), shortFrame(0, []byte("x"))))
	assert.ErrorIs(t, feed(100, zmtpGreeting(), longHeader(0, 101)), errTooLarge)
	assert.ErrorIs(t, feed(100, zmtpGreeting(), longHeader(0, 1<<62)), errTooLarge)
	assert.ErrorIs(t, feed(100, zmtpGreeting(), longHeader(flagMore, 60), make([]byte, 60), longHeader(0, 60)), errTooLarge,
		"the frames of one message add up")
	assert.NoError(t, feed(100, zmtpGreeting(), longHeader(0, 60), make([]byte, 60), longHeader(0, 60)),
		"separate messages do not")
}

// TestServerSurvivesHugeFrameHeader connects with plain TCP, performs the
// ZMTP handshake and announces a frame of 2^62 bytes, which zmq4 alone
// would try to allocate; the server closes that connection and goes on.
func TestServerSurvivesHugeFrameHeader(t *testing.T) {
	s, c, _ := testServer(t, nil)
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.Endpoint(), "tcp://"), 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write(zmtpGreeting())
	require.NoError(t, err)
	_, err = conn.Write(readyCommand("REQ"))
	require.NoError(t, err)
	_, err = conn.Write(append(shortFrame(flagMore, nil), longHeader(0, 1<<62)...))
	require.NoError(t, err)
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			break // closed by the server
		}
	}
	r, err := c.Do(t.Context(), "stat", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, ResultStat, r.Result)
}

// TestSilentPeersDoNotBlock opens connections that say nothing, half a
// greeting or HTTP: zmq4 alone would run their handshake in its accept
// loop and keep every other client out.
func TestSilentPeersDoNotBlock(t *testing.T) {
	s, c, _ := testServer(t, nil)
	addr := strings.TrimPrefix(s.Endpoint(), "tcp://")
	for _, send := range [][]byte{nil, zmtpGreeting()[:10], []byte("GET / HTTP/1.0\r\n\r\n"), zmtpGreeting()} {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err)
		defer conn.Close()
		if send != nil {
			_, err = conn.Write(send)
			require.NoError(t, err)
		}
		c.Timeout = HandshakeTimeout / 2
		r, err := c.Do(t.Context(), "stat", nil, nil)
		require.NoError(t, err, "stat while a peer sent %q", send)
		assert.Equal(t, ResultStat, r.Result)
	}
}

// TestClientGivesUpOnMuteServer dials a listener that accepts TCP
// connections but never speaks (like a stopped process): the request ends
// with NoAnswerError after its timeout.
func TestClientGivesUpOnMuteServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	c := &Client{Addr: "tcp://" + l.Addr().String(), Secret: testSecret, Timeout: 300 * time.Millisecond}
	_, err = c.Do(t.Context(), "stat", nil, nil)
	var na *NoAnswerError
	require.ErrorAs(t, err, &na)
}
