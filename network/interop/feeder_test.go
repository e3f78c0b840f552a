package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// feederMsg is the feeder message of spec §9.3.
func feederMsg(path string) zmq4.Msg {
	b, _ := json.Marshal(map[string]string{"command": "new file", "argument": path})
	return zmq4.NewMsg(b)
}

// The server's feeder subscription, isolated from its own watch: frames
// that exist before new are not converted by the watch, so only feeder
// messages (from a PUB socket of the test, original-style) can queue them.
// The server follows a feeder that goes away and comes back on the same
// port; paths relative to SERVERDIR and absolute ones are accepted; a
// repeated announcement and a sibling folder (run10 for run1) convert
// nothing.
func TestServerFollowsFeederRestart(t *testing.T) {
	server := binary(t, "saxsdogserver")
	frames := sampleFrames(t)
	serverdir := t.TempDir()
	qdir := filepath.Join(serverdir, "data", "run1")
	var pre []string
	for i := 0; i < 6; i++ {
		p := filepath.Join(qdir, fmt.Sprintf("p_%d.tif", i))
		copyFile(t, frames[i%len(frames)], p)
		pre = append(pre, p)
	}
	sibling := filepath.Join(serverdir, "data", "run10", "s.tif")
	copyFile(t, frames[0], sibling)
	e := newEntry(t, "Queue1", "5ab5ab5ab5ab5ab5ab5ab5ab5ab5ab00")
	conf := writeNetconf(t, t.TempDir(), e)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", t.TempDir(), serverdir)
	waitServer(t, conf, srv)
	if r, out, err := leashReply(t, conf, "new", queueCal(t, "data", "run1")); err != nil || r.Result != "new queue" {
		t.Fatalf("saxsleash new: %v %q\n%s", err, r.Result, out)
	}
	time.Sleep(1500 * time.Millisecond)
	if p := processed(t, conf); p != 0 {
		t.Skipf("the server converted %d frames that existed before new: the feeder path cannot be isolated", p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	addr := e.Feeder
	pub := func() zmq4.Socket {
		t.Helper()
		s := zmq4.NewPub(ctx)
		var err error
		for i := 0; i < 50; i++ { // the port of a closed PUB may take a moment
			if err = s.Listen(addr); err == nil {
				return s
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("listen %s: %v", addr, err)
		return nil
	}
	// until publishes path every 200 ms until want frames are processed (a
	// SUB socket connects some time after the PUB binds).
	until := func(s zmq4.Socket, path string, want int) {
		t.Helper()
		waitFor(t, 60*time.Second, fmt.Sprintf("%d processed after announcing %s", want, path), func() bool {
			if err := s.Send(feederMsg(path)); err != nil {
				t.Fatalf("publish: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
			p := processed(t, conf)
			if p > want {
				t.Fatalf("%d processed, want %d: a repeated announcement converted again", p, want)
			}
			return p == want
		})
	}
	once := func(s zmq4.Socket, path string) {
		t.Helper()
		if err := s.Send(feederMsg(path)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	exact := func(want int) {
		t.Helper()
		waitFor(t, 60*time.Second, fmt.Sprintf("%d processed", want), func() bool {
			p := processed(t, conf)
			if p > want {
				t.Fatalf("%d processed, want %d", p, want)
			}
			return p == want
		})
	}

	p1 := pub()
	until(p1, pre[0], 1)                         // absolute path, repeated until the server is subscribed
	once(p1, "data/run1/"+filepath.Base(pre[1])) // relative to SERVERDIR
	exact(2)
	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)

	p2 := pub() // the feeder is back
	defer p2.Close()
	until(p2, pre[2], 3)
	once(p2, pre[3])
	once(p2, pre[4])
	exact(5)
	once(p2, pre[0])  // converted already
	once(p2, sibling) // run10 is not run1
	once(p2, filepath.Join(serverdir, "data", "run1", "..", "run10", "s.tif"))
	once(p2, pre[5])
	exact(6)
	time.Sleep(time.Second)
	if p := processed(t, conf); p != 6 {
		t.Errorf("%d processed, want 6", p)
	}
	if srv.exited() {
		t.Fatal("the server exited")
	}
}

// subscriber collects the feeder messages of a SUB socket of its own.
type subscriber struct {
	mu   sync.Mutex
	got  []string
	sock zmq4.Socket
	done chan struct{}
}

func subscribe(t *testing.T, ctx context.Context, addr string) *subscriber {
	t.Helper()
	s := &subscriber{sock: zmq4.NewSub(ctx, zmq4.WithDialerRetry(100*time.Millisecond), zmq4.WithDialerMaxRetries(-1)), done: make(chan struct{})}
	if err := s.sock.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.sock.Dial(addr); err != nil {
		t.Fatal(err)
	}
	go func() { // ends when the socket is closed or ctx ends
		defer close(s.done)
		for {
			m, err := s.sock.Recv()
			if err != nil {
				return
			}
			var fm struct{ Command, Argument string }
			if json.Unmarshal(m.Bytes(), &fm) == nil && fm.Command == "new file" {
				s.mu.Lock()
				s.got = append(s.got, filepath.Base(fm.Argument))
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *subscriber) close() {
	s.sock.Close()
	<-s.done
}

func (s *subscriber) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.got {
		if g == name {
			n++
		}
	}
	return n
}

// saxsfeeder announces each complete frame once, and after being killed
// and started again it announces every frame written after it is back.
func TestFeederAnnouncesAfterRestart(t *testing.T) {
	feeder := binary(t, "saxsfeeder")
	frames := sampleFrames(t)
	dir := t.TempDir()
	e := newEntry(t, "Queue1", "feedfeedfeedfeedfeedfeedfeedfeed")
	conf := writeNetconf(t, t.TempDir(), e)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	n := 0
	write := func() string {
		name := fmt.Sprintf("h_%05d.tif", n)
		writeInTwo(t, frames[n%len(frames)], filepath.Join(dir, name), 30*time.Millisecond)
		n++
		return name
	}
	// syncUp writes frames until one is announced: then the subscription is
	// live (a SUB misses what is published before it connects).
	syncUp := func(sub *subscriber) {
		t.Helper()
		end := time.Now().Add(60 * time.Second)
		for time.Now().Before(end) {
			name := write()
			for i := 0; i < 20; i++ {
				if sub.count(name) > 0 {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		t.Fatal("the feeder announced nothing within 60 s")
	}
	check := func(sub *subscriber, fd *proc, what string) {
		t.Helper()
		syncUp(sub)
		var names []string
		for i := 0; i < 4; i++ {
			names = append(names, write())
		}
		waitFor(t, 60*time.Second, "4 announcements "+what, func() bool {
			if fd.exited() {
				t.Fatalf("the feeder exited:\n%s", fd.out.String())
			}
			for _, nm := range names {
				if sub.count(nm) == 0 {
					return false
				}
			}
			return true
		})
		time.Sleep(time.Second)
		for _, nm := range names {
			if c := sub.count(nm); c != 1 {
				t.Errorf("%s: %s announced %d times, want once", what, nm, c)
			}
		}
	}

	fd := start(t, 4*time.Minute, feeder, "--netconf", conf, dir)
	sub := subscribe(t, ctx, e.Feeder)
	check(sub, fd, "at the first start")
	fd.kill()
	write() // while no feeder runs
	fd = start(t, 4*time.Minute, feeder, "--netconf", conf, dir)
	sub.close()
	sub = subscribe(t, ctx, e.Feeder)
	check(sub, fd, "after the restart")
}

// A silent TCP connection to the feeder's port must not keep subscribers
// (the server reconnecting after a feeder restart) from connecting.
func TestFeederSilentConnection(t *testing.T) {
	feeder := binary(t, "saxsfeeder")
	frames := sampleFrames(t)
	dir := t.TempDir()
	e := newEntry(t, "Queue1", "5115115115115115115115115115115a")
	conf := writeNetconf(t, t.TempDir(), e)
	fd := start(t, 2*time.Minute, feeder, "--netconf", conf, dir)
	addr := strings.TrimPrefix(e.Feeder, "tcp://")
	var silent net.Conn
	waitFor(t, time.Minute, "the feeder to listen", func() bool {
		if fd.exited() {
			t.Fatalf("the feeder exited:\n%s", fd.out.String())
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		silent = c
		return err == nil
	})
	defer silent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Dialled with the tests' handshake deadline: a blocked accept fails
	// the dial after requestLimit instead of hanging.
	sub := subscribe(t, ctx, strings.Replace(e.Feeder, "tcp://", "tcpdl://", 1))
	for i := 0; ; i++ {
		name := fmt.Sprintf("s_%d.tif", i)
		writeInTwo(t, frames[i%len(frames)], filepath.Join(dir, name), 20*time.Millisecond)
		time.Sleep(time.Second)
		if sub.count(name) > 0 {
			return
		}
		if i == 10 {
			t.Fatal("no announcement reached a subscriber while a silent connection was open")
		}
	}
}

// Feeder messages are unauthenticated: garbage must be ignored, and a frame
// announced before it is completely written must be converted once it is,
// not reported as failed.
func TestFeederGarbageAndEarlyAnnouncement(t *testing.T) {
	server := binary(t, "saxsdogserver")
	frames := sampleFrames(t)
	serverdir := t.TempDir()
	qdir := filepath.Join(serverdir, "data", "run1")
	copyFile(t, frames[0], filepath.Join(qdir, "p_0.tif")) // exists before new: only the feeder can queue it
	e := newEntry(t, "Queue1", "9a4b9a4b9a4b9a4b9a4b9a4b9a4b9a4b")
	conf := writeNetconf(t, t.TempDir(), e)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", t.TempDir(), serverdir)
	waitServer(t, conf, srv)
	if r, out, err := leashReply(t, conf, "new", queueCal(t, "data", "run1")); err != nil || r.Result != "new queue" {
		t.Fatalf("saxsleash new: %v %q\n%s", err, r.Result, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pub := zmq4.NewPub(ctx)
	defer pub.Close()
	if err := pub.Listen(e.Feeder); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 1<<20)
	garbage := [][]byte{
		[]byte("not json"),
		[]byte(`{"command": "new file", "argument": 5}`),
		[]byte(`{"command": "delete", "argument": "data/run1/p_0.tif"}`),
		[]byte(`{"command": "new file", "argument": "` + big + `.tif"}`),
		[]byte("{\"command\": \"new file\", \"argument\": \"data/run1/\xff\xfe.tif\"}"),
		[]byte(`{"command": "new file", "argument": "../../../../etc/passwd.tif"}`),
		[]byte(`{"command": "new file", "argument": "data/run1"}`),
		[]byte(`{"command": "new file", "argument": "data/run1/ghost.tif"}`),
		[]byte(`[]`),
		{},
	}
	// Until the subscription is live, p_0 is announced with the garbage.
	waitFor(t, time.Minute, "p_0 converted through the feeder", func() bool {
		for _, g := range garbage {
			if err := pub.Send(zmq4.NewMsg(g)); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Send(feederMsg(filepath.Join(qdir, "p_0.tif"))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if srv.exited() {
			t.Fatalf("the server exited")
		}
		return processed(t, conf) == 1
	})
	// Announced while half written, completed a second later.
	src, err := os.ReadFile(frames[1])
	if err != nil {
		t.Fatal(err)
	}
	early := filepath.Join(qdir, "early.tif")
	if err := os.WriteFile(early, src[:len(src)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pub.Send(feederMsg(early)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	fh, err := os.OpenFile(early, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(src[len(src)/2:]); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	waitFor(t, time.Minute, "early.tif converted", func() bool {
		p := processed(t, conf)
		if p > 2 {
			t.Fatalf("%d processed, want 2", p)
		}
		return p == 2
	})
	time.Sleep(time.Second)
	r, out, err := leashReply(t, conf, "fileslist")
	if err != nil {
		t.Fatalf("fileslist: %v\n%s", err, out)
	}
	var d struct {
		Fileslist map[string][]string `json:"fileslist"`
	}
	_ = json.Unmarshal(r.Data, &d)
	if len(d.Fileslist["Failed"]) != 0 {
		t.Errorf("failed frames %v, want none (early.tif was announced early, then completed)", d.Fileslist["Failed"])
	}
	if p := processed(t, conf); p != 2 {
		t.Errorf("%d processed, want 2", p)
	}
}
