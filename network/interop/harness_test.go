package interop

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/saxsdog/saxs/internal/testframes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

// The commands built by TestMain, by name.
var commands = []string{"saxsnetconf", "saxsdogserver", "saxsfeeder", "saxsleash", "saxsdog"}

// build is what TestMain found: the folder holding the built commands, or
// why they could not be built.
type build struct {
	dir     string // folder with the binaries
	root    string // module root
	missing string // a command folder that does not exist (tests skip)
	err     error  // a failed build (tests fail)
}

var built build // written once by TestMain before any test runs

// leashTimeout is saxsleash's --timeout in the tests' requests to a
// server that runs.
const leashTimeout = "60s"

// requestLimit bounds every one-shot request of the tests: dial, ZMTP
// handshake, send and receive.
const requestLimit = 20 * time.Second

// deadlineTCP is the zmq4 transport "tcpdl" of the tests' one-shot sockets:
// TCP whose connections carry a deadline of requestLimit, because zmq4's
// Dial does the ZMTP handshake without one (a server that accepts but
// never greets would hang it).
type deadlineTCP struct{ transport.Transport }

// Dial connects and sets the deadline.
func (d deadlineTCP) Dial(ctx context.Context, dialer transport.Dialer, addr string) (net.Conn, error) {
	c, err := d.Transport.Dial(ctx, dialer, addr)
	if err == nil {
		err = c.SetDeadline(time.Now().Add(requestLimit))
	}
	return c, err
}

func TestMain(m *testing.M) {
	if err := zmq4.RegisterTransport("tcpdl", deadlineTCP{transport.New("tcp")}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			built.err = fmt.Errorf("go env GOMOD: %w", err)
			return m.Run()
		}
		built.root = filepath.Dir(strings.TrimSpace(string(out)))
		var pkgs []string
		for _, c := range commands {
			if _, err := os.Stat(filepath.Join(built.root, "cmd", c)); err != nil {
				built.missing = "cmd/" + c
				return m.Run()
			}
			pkgs = append(pkgs, "./cmd/"+c)
		}
		dir, err := os.MkdirTemp("", "saxs-interop-bin-")
		if err != nil {
			built.err = err
			return m.Run()
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		args := []string{"build", "-o", dir + string(os.PathSeparator)}
		if os.Getenv("SAXS_INTEROP_RACE") != "" { // the commands themselves under the race detector
			args = append(args, "-race")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
		cmd.Dir = built.root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
		built.dir = dir
		return m.Run()
	}()
	os.Exit(code)
}

// binary returns the path of a built command, skipping the test when the
// network commands do not exist yet.
func binary(t testing.TB, name string) string {
	t.Helper()
	switch {
	case built.err != nil:
		t.Fatal(built.err)
	case built.missing != "":
		t.Skipf("%s does not exist (yet): nothing to test", built.missing)
	}
	return filepath.Join(built.dir, name)
}

// sampleDir is the bundled sample data set.
func sampleDir(t testing.TB) string {
	t.Helper()
	if built.root == "" {
		t.Fatal("module root unknown")
	}
	return filepath.Join(built.root, "testdata", "sample")
}

// sampleFrames lists the bundled sample frames.
func sampleFrames(t testing.TB) []string {
	t.Helper()
	fs, err := filepath.Glob(filepath.Join(sampleDir(t), "frames", "*", "*.tif"))
	if err != nil || len(fs) == 0 {
		t.Fatalf("no sample frames: %v", err)
	}
	return fs
}

// needPython skips the test without Debian's python3 and python3-zmq.
func needPython(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3: the interoperability test with Python needs python3 and python3-zmq (.ci/run installs them)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", "import zmq").CombinedOutput(); err != nil {
		t.Skipf("python3 has no zmq module (apt-get install python3-zmq; .ci/run does): %v %s", err, out)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// entry is one server of a netconf file, in the 2.0 layout.
type entry struct {
	Name   string
	Server string
	Feeder string
	Secret string
}

// newEntry makes an entry with free ports on 127.0.0.1.
func newEntry(t testing.TB, name, secret string) entry {
	return entry{
		Name:   name,
		Server: fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		Feeder: fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		Secret: secret,
	}
}

// writeNetconf writes a 2.0 netconf file (a JSON array), mode 0600.
func writeNetconf(t testing.TB, dir string, entries ...entry) string {
	t.Helper()
	b, err := json.MarshalIndent(entries, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "saxsdognetwork.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// proc is a subprocess owned by a test; Cleanup kills it.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *testframes.SyncBuffer
	cancel context.CancelFunc
	done   chan struct{}
}

// env is the environment of every subprocess: a private HOME (so no test
// touches ~/.saxsdognetwork) and no SAXSDOG_NETWORK.
func env(t testing.TB) []string {
	var e []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "SAXSDOG_NETWORK=") || strings.HasPrefix(kv, "EDITOR=") {
			continue
		}
		e = append(e, kv)
	}
	return append(e, "HOME="+t.TempDir())
}

// start runs a long-lived command (a server, a feeder, the Python server)
// for at most limit; the test's Cleanup kills it and logs its output if the
// test failed.
func start(t testing.TB, limit time.Duration, path string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env(t)
	out := &testframes.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", path, err)
	}
	p := &proc{name: filepath.Base(path) + " " + strings.Join(args, " "), cmd: cmd, out: out, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		p.kill()
		if strings.Contains(p.out.String(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", p.name)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// kill ends the process (SIGKILL) and waits for it.
func (p *proc) kill() {
	p.cancel()
	<-p.done
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// run runs a short command with a deadline and returns its combined output
// and error (wrapping context.DeadlineExceeded when it had to be killed).
func run(t testing.TB, limit time.Duration, path string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env(t)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s killed after %v: %w", filepath.Base(path), limit, ctx.Err())
	}
	return string(out), err
}

// leash runs saxsleash with the netconf file and a generous answer
// deadline (leashTimeout): a busy machine may take seconds for a new.
func leash(t testing.TB, conf string, args ...string) (string, error) {
	t.Helper()
	return run(t, 2*time.Minute, binary(t, "saxsleash"), append([]string{"--netconf", conf, "--timeout", leashTimeout}, args...)...)
}

// reply is the part of a reply every test looks at.
type reply struct {
	Result string          `json:"result"`
	Data   json.RawMessage `json:"data"`
}

// parseReply reads a reply, which may hold bare NaN tokens (the original's
// replies do): they are replaced by null before decoding.
func parseReply(b []byte) (reply, error) {
	var r reply
	err := json.Unmarshal(nanToNull(b), &r)
	return r, err
}

// nanToNull replaces bare NaN/Infinity tokens outside strings by null.
func nanToNull(b []byte) []byte {
	var out []byte
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if in {
			out = append(out, c)
			if c == '\\' && i+1 < len(b) {
				i++
				out = append(out, b[i])
			} else if c == '"' {
				in = false
			}
			continue
		}
		switch {
		case c == '"':
			in = true
		case bytes.HasPrefix(b[i:], []byte("NaN")):
			out = append(out, "null"...)
			i += 2
			continue
		case bytes.HasPrefix(b[i:], []byte("-Infinity")):
			out = append(out, "null"...)
			i += 8
			continue
		case bytes.HasPrefix(b[i:], []byte("Infinity")):
			out = append(out, "null"...)
			i += 7
			continue
		}
		out = append(out, c)
	}
	return out
}

// leashReply runs saxsleash and decodes the JSON reply it prints.
func leashReply(t testing.TB, conf string, args ...string) (reply, string, error) {
	t.Helper()
	out, err := leash(t, conf, args...)
	i := strings.Index(out, "{")
	if i < 0 {
		return reply{}, out, err
	}
	dec := json.NewDecoder(bytes.NewReader(nanToNull([]byte(out[i:]))))
	var r reply
	if derr := dec.Decode(&r); derr != nil {
		return reply{}, out, errors.Join(err, fmt.Errorf("decode the printed reply: %w", derr))
	}
	return r, out, err
}

// stat is the 2.0 stat object.
type stat struct {
	Processed *int     `json:"images processed"`
	Queue     *int     `json:"queue length"`
	Time      *float64 `json:"time"`
	Start     *float64 `json:"start time"`
}

// statOf decodes data.stat of a reply.
func statOf(t testing.TB, r reply) stat {
	t.Helper()
	var d struct {
		Stat stat `json:"stat"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatalf("stat reply %q: %v", r.Data, err)
	}
	return d.Stat
}

// waitFor polls cond every 100 ms until it is true or limit has passed
// (a bound on the test's duration, not a timing assertion).
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("gave up after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// queueSetup is a server and a feeder on one SERVERDIR with a new
// one-entry configuration.
type queueSetup struct {
	e       entry
	conf    string // the configuration file
	qdir    string // SERVERDIR/data/run1, the folder the feeder watches
	srv, fd *proc
}

// startQueueSetup makes SERVERDIR/data/run1, writes a configuration with
// the entry Queue1 of secret, and starts the server (args before
// serverdir) and the feeder on data/run1; it returns once the server
// answers stat.
func startQueueSetup(t testing.TB, server, feeder, serverdir, secret string, limit time.Duration, args ...string) queueSetup {
	t.Helper()
	s := queueSetup{qdir: filepath.Join(serverdir, "data", "run1"), e: newEntry(t, "Queue1", secret)}
	if err := os.MkdirAll(s.qdir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.conf = writeNetconf(t, t.TempDir(), s.e)
	s.srv = start(t, limit, server, append(append([]string{"--netconf", s.conf}, args...), serverdir)...)
	s.fd = start(t, limit, feeder, "--netconf", s.conf, s.qdir)
	waitServer(t, s.conf, s.srv)
	return s
}

// waitServer waits until the server of conf answers stat through saxsleash.
func waitServer(t testing.TB, conf string, srv *proc) {
	t.Helper()
	waitFor(t, 60*time.Second, "the server to answer stat", func() bool {
		if srv.exited() {
			t.Fatalf("the server exited:\n%s", srv.out.String())
		}
		r, _, err := leashReply(t, conf, "stat")
		return err == nil && r.Result == "stat"
	})
}

// processed asks the server for "images processed" (-1 on any failure).
func processed(t testing.TB, conf string) int {
	t.Helper()
	r, _, err := leashReply(t, conf, "stat")
	if err != nil || r.Result != "stat" {
		return -1
	}
	s := statOf(t, r)
	if s.Processed == nil {
		return -1
	}
	return *s.Processed
}

// pyTime formats a time as Python's repr(float) does for times of today:
// the shortest round-trip digits in fixed notation, at least one decimal.
func pyTime(sec float64) string {
	s := strconv.FormatFloat(sec, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// signedRequest builds a request the way the original client does, with the
// canonical text written out by hand: argument must already be in Python's
// json.dumps(sort_keys=True) form. It returns the bytes to send.
func signedRequest(command, argument, secret string, at float64) []byte {
	ts := pyTime(at)
	canon := `{"argument": ` + argument + `, "command": "` + command + `", "sign": "", "time": ` + ts + `}`
	sum := sha512.Sum512([]byte(canon + secret))
	return []byte(`{"argument": ` + argument + `, "command": "` + command + `", "sign": "` + hex.EncodeToString(sum[:]) + `", "time": ` + ts + `}`)
}

// now is the current time in seconds, as Python's time.time().
func now() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// rawRequest sends frames on a fresh REQ socket and waits at most
// requestLimit for the one reply.
func rawRequest(t testing.TB, url string, frames ...[]byte) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestLimit)
	defer cancel()
	sock := zmq4.NewReq(ctx, zmq4.WithDialerTimeout(5*time.Second))
	defer sock.Close()
	if err := sock.Dial(strings.Replace(url, "tcp://", "tcpdl://", 1)); err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	if err := sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	type result struct {
		msg zmq4.Msg
		err error
	}
	ch := make(chan result, 1)
	go func() { // ends when Recv returns: a reply, or the socket closed below
		m, err := sock.Recv()
		ch <- result{m, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("receive: %w", r.err)
		}
		return bytes.Join(r.msg.Frames, nil), nil
	case <-ctx.Done():
		sock.Close()
		<-ch
		return nil, fmt.Errorf("no reply from %s: %w", url, ctx.Err())
	}
}

// copyFile copies a file, creating the destination's folder.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeInTwo writes a frame the way a detector might: the first half, a
// pause, then the rest, so a reader can see it incomplete.
func writeInTwo(t testing.TB, src, dst string, pause time.Duration) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b[:len(b)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pause)
	if _, err := io.Copy(f, bytes.NewReader(b[len(b)/2:])); err != nil {
		t.Fatal(err)
	}
}
