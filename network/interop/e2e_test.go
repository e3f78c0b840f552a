package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// queueCal writes the sample's 2.0 calibration (cal2.json, two masks) with
// its mask into a folder of its own, with Directory set to dir, and returns
// its path.
func queueCal(t testing.TB, dir ...string) string {
	t.Helper()
	sd := sampleDir(t)
	b, err := os.ReadFile(filepath.Join(sd, "cal2.json"))
	if err != nil {
		t.Fatal(err)
	}
	old := "\"Directory\": [\n        \".\"\n    ]"
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("cal2.json has no %q", old)
	}
	q, _ := json.Marshal(dir)
	b = bytes.Replace(b, []byte(old), []byte(`"Directory": `+string(q)), 1)
	caldir := t.TempDir()
	p := filepath.Join(caldir, "cal.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(sd, "mask.msk"), filepath.Join(caldir, "mask.msk"))
	return p
}

// chiFiles maps each .chi file below root by its path relative to root.
func chiFiles(t testing.TB, root string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".chi") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			m[rel] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// byBase re-keys files by base name (the server and saxsdog may nest -o
// output differently; the frame names are unique here).
func byBase(t testing.TB, m map[string][]byte) map[string][]byte {
	t.Helper()
	o := map[string][]byte{}
	for k, v := range m {
		b := filepath.Base(k)
		if _, dup := o[b]; dup {
			t.Fatalf("two outputs named %s", b)
		}
		o[b] = v
	}
	return o
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// sameOutputs compares two sets of .chi files byte for byte.
func sameOutputs(t testing.TB, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d outputs, want %d:\n got %v\nwant %v", len(got), len(want), keys(got), keys(want))
	}
	bad := 0
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("missing output %s", k)
		case !bytes.Equal(g, w):
			bad++
			if bad <= 2 {
				gl, wl := strings.SplitN(string(g), "\n", 6), strings.SplitN(string(w), "\n", 6)
				t.Errorf("%s differs from saxsdog's:\n got %q\nwant %q", k, gl[:min(5, len(gl))], wl[:min(5, len(wl))])
			}
		}
	}
	if bad > 2 {
		t.Errorf("%d outputs differ in all", bad)
	}
}

// End to end on loopback with the bundled sample: server and feeder, a
// queue started by the leash, frames written in three chunks (each frame in
// two halves) while the queue runs. Every frame is converted exactly once,
// and the outputs are those of the saxsdog command with the same
// calibration, byte for byte; with -o and with -R.
func TestEndToEnd(t *testing.T) {
	server, feeder, saxsdog := binary(t, "saxsdogserver"), binary(t, "saxsfeeder"), binary(t, "saxsdog")
	frames := sampleFrames(t)
	for _, mode := range []string{"-o", "-R"} {
		t.Run(mode, func(t *testing.T) {
			serverdir := t.TempDir()
			var outdir string
			args := []string{"-t", "2"}
			if mode == "-o" {
				outdir = t.TempDir()
				args = append(args, "-o", outdir)
			} else {
				outdir = filepath.Join(serverdir, "data", "work")
				args = append(args, "-R", "../work")
			}
			qs := startQueueSetup(t, server, feeder, serverdir, "a1b2c3d4e5f60718293a4b5c6d7e8f90", 5*time.Minute, args...)
			conf, qdir, srv, fd := qs.conf, qs.qdir, qs.srv, qs.fd
			cal := queueCal(t, "data", "run1")
			if r, out, err := leashReply(t, conf, "new", cal); err != nil || r.Result != "new queue" {
				t.Fatalf("saxsleash new: %v, result %q\n%s", err, r.Result, out)
			}

			n := 0
			for chunk := 0; chunk < 3; chunk++ {
				for i := 0; i < 7; i++ {
					writeInTwo(t, frames[n%len(frames)], filepath.Join(qdir, fmt.Sprintf("f_%05d.tif", n)), 30*time.Millisecond)
					n++
				}
				want := n
				waitFor(t, 2*time.Minute, fmt.Sprintf("%d frames processed", want), func() bool {
					if srv.exited() || fd.exited() {
						t.Fatalf("server or feeder exited")
					}
					p := processed(t, conf)
					if p > want {
						t.Fatalf("%d images processed after %d frames were written: a frame converted twice", p, want)
					}
					return p == want
				})
			}
			time.Sleep(2 * time.Second) // a late duplicate would show now
			if p := processed(t, conf); p != n {
				t.Errorf("images processed %d, want %d", p, n)
			}
			got := chiFiles(t, outdir)
			if len(got) != 2*n {
				t.Errorf("%d .chi files, want %d (2 masks × %d frames)", len(got), 2*n, n)
			}

			// The saxsdog command on the same frames, same calibration.
			var refout string
			if mode == "-o" {
				refout = t.TempDir()
				if out, err := run(t, 2*time.Minute, saxsdog, "-c", cal, "--no-cache", "-o", refout, qdir); err != nil {
					t.Fatalf("saxsdog: %v\n%s", err, out)
				}
			} else {
				copydir := filepath.Join(t.TempDir(), "data", "run1")
				for i := 0; i < n; i++ {
					name := fmt.Sprintf("f_%05d.tif", i)
					copyFile(t, filepath.Join(qdir, name), filepath.Join(copydir, name))
				}
				if out, err := run(t, 2*time.Minute, saxsdog, "-c", cal, "--no-cache", "-R", "../work", copydir); err != nil {
					t.Fatalf("saxsdog: %v\n%s", err, out)
				}
				refout = filepath.Join(filepath.Dir(copydir), "work")
			}
			want := chiFiles(t, refout)
			if len(want) != 2*n {
				t.Fatalf("saxsdog wrote %d .chi files, want %d", len(want), 2*n)
			}
			sameOutputs(t, byBase(t, got), byBase(t, want))
			if r, out, err := leashReply(t, conf, "abort"); err != nil || r.Result != "queue aborted" {
				t.Errorf("saxsleash abort: %v, %q\n%s", err, r.Result, out)
			}
		})
	}
}

// Wrong, old, future and replayed signatures are rejected with
// AuthenticationError, and the server goes on answering valid requests.
func TestAuthenticationRejected(t *testing.T) {
	server := binary(t, "saxsdogserver")
	e := newEntry(t, "Queue1", "5ec4e75ec4e75ec4e75ec4e75ec4e75e")
	conf := writeNetconf(t, t.TempDir(), e)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", t.TempDir(), t.TempDir())
	waitServer(t, conf, srv)

	send := func(what string, req []byte) reply {
		t.Helper()
		b, err := rawRequest(t, e.Server, req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		r, err := parseReply(b)
		if err != nil {
			t.Fatalf("%s: reply %q: %v", what, b, err)
		}
		return r
	}
	valid := func(after string) {
		t.Helper()
		if r := send("valid stat after "+after, signedRequest("stat", "{}", e.Secret, now())); r.Result != "stat" {
			t.Errorf("a valid stat after %s: result %q (%s)", after, r.Result, r.Data)
		}
	}
	rejected := func(what string, req []byte) {
		t.Helper()
		r := send(what, req)
		var d struct{ Error string }
		_ = json.Unmarshal(r.Data, &d)
		if r.Result != "AuthenticationError" || d.Error == "" {
			t.Errorf("%s: result %q data %s, want AuthenticationError with an Error message", what, r.Result, r.Data)
		}
		valid(what)
	}

	valid("start")
	rejected("wrong secret", signedRequest("stat", "{}", "5ec4e75ec4e75ec4e75ec4e75ec4e75f", now()))
	rejected("old (time - 1000 s)", signedRequest("stat", "{}", e.Secret, now()-1000))
	rejected("future (time + 1000 s)", signedRequest("stat", "{}", e.Secret, now()+1000))
	req := signedRequest("stat", "{}", e.Secret, now())
	tampered := bytes.Replace(req, []byte(`"stat"`), []byte(`"abort"`), 1)
	rejected("signed stat sent as abort", tampered)
	if r := send("first use", req); r.Result != "stat" {
		t.Fatalf("a valid request: %q", r.Result)
	}
	rejected("the same request again (replay)", req)
	if r := send("no sign", []byte(fmt.Sprintf(`{"argument": {}, "command": "stat", "time": %s}`, pyTime(now())))); r.Result == "stat" {
		t.Errorf("a request without sign was answered: %q", r.Result)
	}
	valid("no sign")
	if srv.exited() {
		t.Fatal("the server exited")
	}
}

// Malformed inputs each get an error reply and the next valid request works.
func TestMalformedInputs(t *testing.T) {
	server := binary(t, "saxsdogserver")
	e := newEntry(t, "Queue1", "0bad0bad0bad0bad0bad0bad0bad0bad")
	conf := writeNetconf(t, t.TempDir(), e)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", t.TempDir(), t.TempDir())
	waitServer(t, conf, srv)

	huge := make([]byte, 100<<20)
	copy(huge, `{"argument": {"data": "`)
	for i := 23; i < len(huge)-2; i++ {
		huge[i] = 'x'
	}
	copy(huge[len(huge)-2:], `"}`)
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	ts := pyTime(now())
	cases := []struct {
		name   string
		frames [][]byte
	}{
		{"not JSON", [][]byte{[]byte(`{"command": "stat", `)}},
		{"empty frame", [][]byte{{}}},
		{"JSON array", [][]byte{[]byte(`[1, 2, 3]`)}},
		{"JSON string", [][]byte{[]byte(`"stat"`)}},
		{"wrong types", [][]byte{[]byte(`{"argument": [], "command": 7, "sign": 5, "time": "now"}`)}},
		{"NaN time", [][]byte{[]byte(`{"argument": {}, "command": "stat", "sign": "00", "time": NaN}`)}},
		{"time 1e400", [][]byte{[]byte(`{"argument": {}, "command": "stat", "sign": "00", "time": 1e400}`)}},
		{"unknown command (signed)", [][]byte{signedRequest("frobnicate", "{}", e.Secret, now())}},
		{"unknown key (signed)", [][]byte{signedRequest("stat", `{"frob": 1}`, e.Secret, now())}},
		{"listdir with a number (signed)", [][]byte{signedRequest("listdir", `{"directory": 5}`, e.Secret, now())}},
		{"new without calibration (signed)", [][]byte{signedRequest("new", `{"data": {}}`, e.Secret, now())}},
		{"new with a string calibration (signed)", [][]byte{signedRequest("new", `{"calibration": "cal.json", "data": {}}`, e.Secret, now())}},
		{"new with garbage attachments (signed)", [][]byte{signedRequest("new", `{"calibration": {"Masks": [{"MaskFile": "m.msk"}]}, "data": {}}`, e.Secret, now()), []byte("garbage"), []byte(`{"filename": 3}`)}},
		{"100 MB frame", [][]byte{huge}},
		{"invalid UTF-8", [][]byte{[]byte("{\"argument\": {}, \"command\": \"st\xff\xfeat\", \"sign\": \"\", \"time\": " + ts + "}")}},
		{"invalid UTF-8 in a key", [][]byte{[]byte("{\"argument\": {\"\xc3\x28\": 1}, \"command\": \"stat\", \"sign\": \"\", \"time\": " + ts + "}")}},
		{"lone surrogate escape", [][]byte{[]byte(`{"argument": {"data": "\ud800"}, "command": "stat", "sign": "", "time": ` + ts + `}`)}},
		{"200000 nested arrays", [][]byte{[]byte(`{"argument": {"data": ` + deep + `}, "command": "stat", "sign": "", "time": ` + ts + `}`)}},
	}
	for _, c := range cases {
		b, err := rawRequest(t, e.Server, c.frames...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if r, err := parseReply(b); err != nil {
			t.Errorf("%s: the reply is not JSON: %q", c.name, b)
		} else if r.Result == "" || r.Result == "stat" || r.Result == "new queue" || len(r.Data) == 0 {
			t.Errorf("%s: reply %q, want an error result with data", c.name, b)
		} else {
			t.Logf("%s: %.200s", c.name, b)
		}
		if srv.exited() {
			t.Fatalf("%s: the server exited:\n%s", c.name, srv.out.String())
		}
		b, err = rawRequest(t, e.Server, signedRequest("stat", "{}", e.Secret, now()))
		if r, perr := parseReply(b); err != nil || perr != nil || r.Result != "stat" {
			t.Errorf("a valid stat after %s: %v %q", c.name, err, b)
		}
	}
	// Extra frames after a valid stat: an error reply (stat takes no
	// attachments), and the server goes on.
	b, err := rawRequest(t, e.Server, signedRequest("stat", "{}", e.Secret, now()), []byte("x"), []byte("y"))
	if r, perr := parseReply(b); err != nil || perr != nil || r.Result == "" || r.Result == "stat" {
		t.Errorf("stat with two extra frames: %v %q", err, b)
	} else {
		t.Logf("stat with two extra frames: %.200s", b)
	}
	b, err = rawRequest(t, e.Server, signedRequest("stat", "{}", e.Secret, now()))
	if r, perr := parseReply(b); err != nil || perr != nil || r.Result != "stat" {
		t.Errorf("a valid stat at the end: %v %q", err, b)
	}
}

// listdir and new refuse folders outside SERVERDIR: "..", absolute paths
// and a symlink that leaves it.
func TestOutsideServerdirRefused(t *testing.T) {
	server := binary(t, "saxsdogserver")
	e := newEntry(t, "Queue1", "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1")
	conf := writeNetconf(t, t.TempDir(), e)
	serverdir, outside := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(serverdir, "data", "run1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(outside, "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A marker that must never show up in a reply.
	const marker = "marker-7f3e9a.tif"
	for _, d := range []string{outside, filepath.Join(outside, "inner")} {
		if err := os.WriteFile(filepath.Join(d, marker), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(serverdir, "escape")); err != nil {
		t.Fatal(err)
	}
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", t.TempDir(), serverdir)
	waitServer(t, conf, srv)

	listdir := func(dir string) reply {
		t.Helper()
		b, err := rawRequest(t, e.Server, signedRequest("listdir", `{"directory": `+dir+`}`, e.Secret, now()))
		if err != nil {
			t.Fatalf("listdir %s: %v", dir, err)
		}
		r, err := parseReply(b)
		if err != nil {
			t.Fatalf("listdir %s: %q", dir, b)
		}
		return r
	}
	r := listdir(`["data"]`)
	if r.Result != "listdir" {
		t.Fatalf("listdir data: %q %s", r.Result, r.Data)
	}
	var d struct {
		Dircontent []struct {
			Isdir bool   `json:"isdir"`
			Path  string `json:"path"`
		} `json:"dircontent"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil || len(d.Dircontent) != 1 || d.Dircontent[0].Path != "run1" || !d.Dircontent[0].Isdir {
		t.Errorf("listdir data: %s, want one folder run1", r.Data)
	}
	for _, dir := range []string{`[".."]`, `["data", "..", ".."]`, `["/etc"]`, `["` + outside + `"]`, `["escape"]`, `["escape", "inner"]`, `["data/../.."]`} {
		r := listdir(dir)
		if r.Result == "listdir" || strings.Contains(string(r.Data), marker) || strings.Contains(string(r.Data), "passwd") {
			t.Errorf("listdir %s: %q %s, want a refusal", dir, r.Result, r.Data)
		}
	}
	if out, err := leash(t, conf, "listdir", ".."); err == nil {
		t.Errorf("saxsleash listdir ..: exit 0, want a failure\n%s", out)
	}
	for _, dir := range [][]string{{".."}, {"escape"}, {outside}} {
		cal := queueCal(t, dir...)
		if r, out, err := leashReply(t, conf, "new", cal); err == nil || r.Result == "new queue" {
			t.Errorf("saxsleash new with Directory %v: %v %q, want a refusal\n%s", dir, err, r.Result, out)
		}
	}
	if p := processed(t, conf); p < 0 && srv.exited() {
		t.Errorf("the server exited")
	}
}

// Killing the feeder and starting it again loses nothing announced after it
// is back; every frame is converted once.
func TestFeederRestart(t *testing.T) {
	server, feeder := binary(t, "saxsdogserver"), binary(t, "saxsfeeder")
	frames := sampleFrames(t)
	outdir := t.TempDir()
	qs := startQueueSetup(t, server, feeder, t.TempDir(), "feedfeedfeedfeedfeedfeedfeedfeed", 5*time.Minute, "-o", outdir)
	conf, qdir, srv, fd := qs.conf, qs.qdir, qs.srv, qs.fd
	if r, out, err := leashReply(t, conf, "new", queueCal(t, "data", "run1")); err != nil || r.Result != "new queue" {
		t.Fatalf("saxsleash new: %v %q\n%s", err, r.Result, out)
	}
	n := 0
	write := func(k int) {
		for i := 0; i < k; i++ {
			writeInTwo(t, frames[n%len(frames)], filepath.Join(qdir, fmt.Sprintf("g_%05d.tif", n)), 20*time.Millisecond)
			n++
		}
	}
	wait := func() {
		want := n
		waitFor(t, 2*time.Minute, fmt.Sprintf("%d frames processed", want), func() bool {
			p := processed(t, conf)
			if p > want {
				t.Fatalf("%d processed after %d frames: one converted twice", p, want)
			}
			return p == want
		})
	}
	write(3)
	wait()
	fd.kill()
	write(2) // while no feeder runs
	fd = start(t, 5*time.Minute, feeder, "--netconf", conf, qdir)
	wait()
	write(4)
	wait()
	if fd.exited() || srv.exited() {
		t.Fatal("the server or the feeder exited")
	}
	if got := len(chiFiles(t, outdir)); got != 2*n {
		t.Errorf("%d .chi files, want %d", got, 2*n)
	}
}

// A leash without a server fails within its deadline, and says so.
func TestLeashNoServer(t *testing.T) {
	e := newEntry(t, "nobody", "0123456789abcdef0123456789abcdef")
	conf := writeNetconf(t, t.TempDir(), e)
	out, err := run(t, time.Minute, binary(t, "saxsleash"), "--netconf", conf, "--timeout", "1s", "stat")
	if err == nil || !strings.Contains(out, "no server answered at "+e.Server) {
		t.Errorf("saxsleash stat without a server: %v\n%s\nwant a failure saying \"no server answered at %s\"", err, out, e.Server)
	}
}

// saxsnetconf creates a 0600 netconf with the documented defaults and a
// secret of at least 30 hex characters, keeps it without -n and renews it
// with -n; a group-readable file gets a warning.
func TestNetconfCreate(t *testing.T) {
	nc := binary(t, "saxsnetconf")
	p := filepath.Join(t.TempDir(), "netconf")
	read := func() []map[string]string {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
		b, _ := os.ReadFile(p)
		var es []map[string]string
		if err := json.Unmarshal(b, &es); err != nil {
			var one map[string]string
			if err1 := json.Unmarshal(b, &one); err1 != nil {
				t.Fatalf("netconf %q: %v", b, err)
			}
			es = []map[string]string{one}
		}
		return es
	}
	if out, err := run(t, time.Minute, nc, "--no-edit", "--netconf", p); err != nil {
		t.Fatalf("saxsnetconf: %v\n%s", err, out)
	}
	es := read()
	if len(es) != 1 || es[0]["Server"] != "tcp://localhost:9723" || es[0]["Feeder"] != "tcp://localhost:9823" || es[0]["Name"] != "Queue1" {
		t.Errorf("defaults: %v", es)
	}
	sec := es[0]["Secret"]
	if len(sec) < 30 || strings.Trim(sec, "0123456789abcdef") != "" {
		t.Errorf("secret %q: want at least 30 lowercase hex characters", sec)
	}
	if out, err := run(t, time.Minute, nc, "--no-edit", "--netconf", p); err != nil {
		t.Fatalf("saxsnetconf again: %v\n%s", err, out)
	}
	if s := read()[0]["Secret"]; s != sec {
		t.Errorf("without -n the secret changed")
	}
	if out, err := run(t, time.Minute, nc, "-n", "--no-edit", "--netconf", p); err != nil {
		t.Fatalf("saxsnetconf -n: %v\n%s", err, out)
	}
	if s := read()[0]["Secret"]; s == sec {
		t.Errorf("-n kept the secret")
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := run(t, time.Minute, binary(t, "saxsleash"), "--netconf", p, "--timeout", "1s", "stat")
	if !strings.Contains(strings.ToLower(out), "warn") && !strings.Contains(out, "readable") {
		t.Errorf("a group-readable netconf: no warning in\n%s", out)
	}
}

// A peer that opens a TCP connection to the command port and says nothing
// (a port scanner, a health check, telnet), or sends half a ZMTP greeting,
// or HTTP, must not keep the server from answering the other clients.
func TestSilentConnectionDoesNotBlock(t *testing.T) {
	f := newFixture(t)
	addr := strings.TrimPrefix(f.e.Server, "tcp://")
	for _, c := range []struct {
		name string
		send []byte
	}{
		{"an idle TCP connection", nil},
		{"half a ZMTP greeting", []byte("\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f")},
		{"an HTTP request", []byte("GET / HTTP/1.0\r\n\r\n")},
	} {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if c.send != nil {
			if _, err := conn.Write(c.send); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		b, err := rawRequest(t, f.e.Server, signedRequest("stat", "{}", f.e.Secret, now()))
		if r, perr := parseReply(b); err != nil || perr != nil || r.Result != "stat" {
			t.Errorf("stat while %s is open: %v %q", c.name, err, b)
		}
		conn.Close()
	}
}

// A server that accepts connections but does not answer (stopped with
// SIGSTOP: the kernel still completes the TCP handshake) makes saxsleash
// fail after --timeout, not hang.
func TestLeashTimeoutStoppedServer(t *testing.T) {
	f := newFixture(t)
	if err := f.srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.srv.cmd.Process.Signal(syscall.SIGCONT) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t, "saxsleash"), "--netconf", f.conf, "--timeout", "2s", "stat")
	cmd.Env = env(t)
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		t.Errorf("saxsleash --timeout 2s was still waiting after a minute for a stopped server\n%s", out)
	case err == nil:
		t.Errorf("saxsleash stat on a stopped server: exit 0\n%s", out)
	case !strings.Contains(string(out), "no server answered"):
		t.Errorf("saxsleash stat on a stopped server: %v\n%s\nwant \"no server answered at …\"", err, out)
	}
}
