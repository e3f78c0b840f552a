package interop

import (
	"bufio"
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The signing helper of these tests (canonical text written by hand) gives
// the spec's first test vector (§9.2, computed with Python 2.7.18).
func TestSignedRequestVector(t *testing.T) {
	got := signedRequest("stat", "{}", "0123456789abcdef0123456789abcd", 1404979588.715198)
	want := `{"argument": {}, "command": "stat", "sign": "d4c0495b292319a33fdc243b79fb35414bb857745d075e444c2358ff875577ac3a1d81da83f6739ce61a141e6163bf5d49a0eb9b4ad3d1e55051add0baa99b44", "time": 1404979588.715198}`
	if string(got) != want {
		t.Fatalf("signedRequest:\n got %s\nwant %s", got, want)
	}
}

// script is the path of a Python script in testdata.
func script(name string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", name))
	return p
}

// startPyServer starts testdata/pyserver.py on a free port and waits until
// it listens; it returns its URL and the path of its request log.
func startPyServer(t *testing.T, secret, serverdir string) (string, string) {
	t.Helper()
	port := freePort(t)
	log := filepath.Join(t.TempDir(), "requests.jsonl")
	p := start(t, 3*time.Minute, "/usr/bin/python3", script("pyserver.py"),
		"--port", strconv.Itoa(port), "--secret", secret, "--serverdir", serverdir, "--log", log, "--lifetime", "170")
	waitFor(t, 30*time.Second, "pyserver.py to listen", func() bool {
		if p.exited() {
			t.Fatalf("pyserver.py exited:\n%s", p.out.String())
		}
		return strings.Contains(p.out.String(), "listening")
	})
	return fmt.Sprintf("tcp://127.0.0.1:%d", port), log
}

// logEntry is one line of pyserver.py's request log.
type logEntry struct {
	Request     map[string]json.RawMessage `json:"request"`
	Attachments []struct {
		Filename string `json:"filename"`
		SHA512   string `json:"sha512"`
	} `json:"attachments"`
	Result string `json:"result"`
}

func readLog(t *testing.T, path string) []logEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var es []logEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var e logEntry
		if err := json.Unmarshal(nanToNull(sc.Bytes()), &e); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		es = append(es, e)
	}
	return es
}

// The Python client and the Python server agree with each other: the test
// tools themselves work (both signing vectors are checked in saxsnet.py's
// terms by the server's acceptance, and a wrong secret is refused).
func TestPythonToolsAgree(t *testing.T) {
	needPython(t)
	serverdir := t.TempDir()
	url, _ := startPyServer(t, "s3cr3t", serverdir)
	sd := sampleDir(t)
	frames := sampleFrames(t)
	out, err := run(t, 2*time.Minute, "/usr/bin/python3", script("pyclient.py"), "scenario", "--url", url, "--secret", "s3cr3t",
		"--cal", filepath.Join(sd, "cal2.json"), "--serverdir", serverdir, "--queue", "data/run1",
		"--frames", strings.Join(frames, ","), "-n", "3", "--timeout", "30")
	if err != nil {
		t.Fatalf("pyclient.py scenario against pyserver.py: %v\n%s", err, out)
	}
	out, err = run(t, time.Minute, "/usr/bin/python3", script("pyclient.py"), "request", "--url", url, "--secret", "wrong", "--command", "stat")
	if err != nil || !strings.Contains(out, `"AuthenticationError"`) {
		t.Fatalf("a wrong secret: %v\n%s", err, out)
	}
}

// The original-style Python client drives our saxsdogserver: new (2.0
// calibration, masks attached base64, a Title with \u escapes and a
// surrogate pair), plot before the first frame, 20 frames copied into the
// queue folder while it runs, stat, plot, get, abort.
func TestPythonClientDrivesServer(t *testing.T) {
	needPython(t)
	server := binary(t, "saxsdogserver")
	serverdir, outdir := t.TempDir(), t.TempDir()
	e := newEntry(t, "Queue1", "0123456789abcdef0123456789abcdef")
	conf := writeNetconf(t, t.TempDir(), e)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-t", "2", "-o", outdir, serverdir)
	waitServer(t, conf, srv)

	sd := sampleDir(t)
	out, err := run(t, 3*time.Minute, "/usr/bin/python3", script("pyclient.py"), "scenario", "--url", e.Server, "--secret", e.Secret,
		"--cal", filepath.Join(sd, "cal2.json"), "--serverdir", serverdir, "--queue", "data/run1",
		"--frames", strings.Join(sampleFrames(t), ","), "-n", "20", "--timeout", "120")
	t.Logf("pyclient.py:\n%s", out)
	if err != nil {
		t.Fatalf("pyclient.py scenario against saxsdogserver: %v", err)
	}
	// Two masks in cal2.json: two .chi files per frame.
	var chis []string
	_ = filepath.Walk(outdir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".chi") {
			chis = append(chis, p)
		}
		return nil
	})
	if len(chis) != 40 {
		t.Errorf("%d .chi files under -o, want 40 (20 frames × 2 masks): %v", len(chis), chis)
	}
	if srv.exited() {
		t.Errorf("the server exited")
	}
}

// Our saxsleash talks to a Python REP server that checks signatures the
// original way (json.dumps(sort_keys=True) of the parsed request + secret,
// sha512, |time-now| < 900): stat, new cal2.json with its masks, get, plot
// (a reply with NaN); a wrong secret is rejected and the leash fails.
func TestLeashAgainstPythonServer(t *testing.T) {
	needPython(t)
	binary(t, "saxsleash")
	secret := "fedcba9876543210fedcba9876543210"
	url, logPath := startPyServer(t, secret, t.TempDir())
	e := entry{Name: "py", Server: url, Feeder: fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), Secret: secret}
	conf := writeNetconf(t, t.TempDir(), e)
	sd := sampleDir(t)
	cal := filepath.Join(sd, "cal2.json")
	mask, err := os.ReadFile(filepath.Join(sd, "mask.msk"))
	if err != nil {
		t.Fatal(err)
	}
	maskSum := sha512.Sum512(mask)

	for _, c := range []struct {
		args   []string
		result string
	}{
		{[]string{"stat"}, "stat"},
		{[]string{"get"}, "no queue"},
		{[]string{"new", cal}, "new queue"},
		{[]string{"get"}, "cal"},
		{[]string{"plot"}, "plot"},
		{[]string{"stat"}, "stat"},
		{[]string{"abort"}, "queue aborted"},
	} {
		r, out, err := leashReply(t, conf, c.args...)
		if c.result == "no queue" { // a failed reply: the leash may exit non-zero
			if r.Result != c.result {
				t.Errorf("saxsleash %v: result %q, want %q\n%s", c.args, r.Result, c.result, out)
			}
			continue
		}
		if err != nil || r.Result != c.result {
			t.Errorf("saxsleash %v: %v, result %q, want %q\n%s", c.args, err, r.Result, c.result, out)
			continue
		}
		if c.args[0] == "get" {
			var d struct {
				Attachments []struct {
					Filename string `json:"filename"`
					Data     string `json:"data"`
				} `json:"attachments"`
			}
			if err := json.Unmarshal(r.Data, &d); err != nil {
				t.Fatal(err)
			}
			if len(d.Attachments) != 2 {
				t.Fatalf("get: %d attachments, want 2", len(d.Attachments))
			}
			for _, a := range d.Attachments {
				b, err := base64.StdEncoding.DecodeString(a.Data)
				if err != nil || !bytes.Equal(b, mask) {
					t.Errorf("get: attachment %s is not mask.msk base64 (%v)", a.Filename, err)
				}
			}
		}
	}

	// What the Python server saw of new: the calibration as in the file
	// (numbers of the same type and text), both masks with their bytes.
	var sawNew bool
	for _, le := range readLog(t, logPath) {
		if le.Result != "new queue" {
			continue
		}
		sawNew = true
		if len(le.Attachments) != 2 {
			t.Errorf("new: %d attachments, want 2", len(le.Attachments))
		}
		for _, a := range le.Attachments {
			if a.SHA512 != hex.EncodeToString(maskSum[:]) {
				t.Errorf("new: attachment %s is not mask.msk", a.Filename)
			}
		}
		var arg struct {
			Calibration map[string]any `json:"calibration"`
		}
		dec := json.NewDecoder(bytes.NewReader(le.Request["argument"]))
		dec.UseNumber()
		if err := dec.Decode(&arg); err != nil {
			t.Fatal(err)
		}
		want := decodeNumbers(t, cal)
		delete(arg.Calibration, "Directory")
		delete(want, "Directory")
		if !reflect.DeepEqual(arg.Calibration, want) {
			got, _ := json.Marshal(arg.Calibration)
			w, _ := json.Marshal(want)
			t.Errorf("new: the calibration the server saw differs from cal2.json:\n got %s\nwant %s", got, w)
		}
	}
	if !sawNew {
		t.Errorf("the Python server accepted no new request")
	}

	// A wrong secret: the original-style server rejects it, the leash fails.
	e.Secret = "00000000000000000000000000000000"
	bad := writeNetconf(t, t.TempDir(), e)
	r, out, err := leashReply(t, bad, "stat")
	if err == nil || r.Result != "AuthenticationError" {
		t.Errorf("saxsleash stat with a wrong secret: err %v, result %q, want a non-zero exit and AuthenticationError\n%s", err, r.Result, out)
	}
	// And the right one still works.
	if r, out, err := leashReply(t, conf, "stat"); err != nil || r.Result != "stat" {
		t.Errorf("saxsleash stat after the rejection: %v %q\n%s", err, r.Result, out)
	}
}

// decodeNumbers reads a JSON file keeping numbers as their text.
func decodeNumbers(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Requests signed by Python whose canonical text is hard to reproduce
// (float repr boundaries, -0.0, big ints, NaN and infinities, escapes,
// characters above the BMP in values and keys), sent as Python's
// json.dumps bytes and as raw UTF-8: our server must accept every one.
func TestPythonCanonicalForms(t *testing.T) {
	needPython(t)
	server := binary(t, "saxsdogserver")
	e := newEntry(t, "Queue1", "c0ffeec0ffeec0ffeec0ffeec0ffee00")
	conf := writeNetconf(t, t.TempDir(), e)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", t.TempDir(), t.TempDir())
	waitServer(t, conf, srv)
	out, err := run(t, 2*time.Minute, "/usr/bin/python3", script("pyclient.py"), "canon", "--url", e.Server, "--secret", e.Secret)
	if err != nil {
		t.Errorf("pyclient.py canon: %v\n%s", err, out)
	} else {
		t.Logf("pyclient.py canon: %s", out)
	}
}

// Mask attachments are not covered by the original signature; our
// extension's digests in argument.data are checked when present, and
// --strict requires them. The original client (no digests) still works
// without --strict.
func TestAttachmentDigests(t *testing.T) {
	needPython(t)
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			extra := []string{}
			if strict {
				extra = append(extra, "--strict")
			}
			f := newFixture(t, extra...)
			if err := os.MkdirAll(filepath.Join(f.serverdir, "data", "run1"), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := run(t, time.Minute, "/usr/bin/python3", script("pyclient.py"), "digests", "--url", f.e.Server, "--secret", f.e.Secret,
				"--cal", filepath.Join(sampleDir(t), "cal2.json"), "--queue", "data/run1")
			if err != nil {
				t.Fatalf("pyclient.py digests: %v\n%s", err, out)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			want := map[string]bool{"none": !strict, "good": true, "wrong": false, "tampered": false}
			for k, ok := range want {
				if (got[k] == "new queue") != ok {
					t.Errorf("digests %s: result %q, accepted should be %v", k, got[k], ok)
				}
			}
			// Our leash sends the digests: accepted in both modes.
			if r, out, err := leashReply(t, f.conf, "new", queueCal(t, "data", "run1")); err != nil || r.Result != "new queue" {
				t.Errorf("saxsleash new: %v %q\n%s", err, r.Result, out)
			}
		})
	}
}

// A peer that sends many requests (DEALER) and never reads the replies
// must not keep the server from answering others (libzmq's REP drops
// replies to a peer whose pipe is full; the original server never blocks
// on one peer).
func TestUnreadRepliesDoNotBlock(t *testing.T) {
	needPython(t)
	f := newFixture(t)
	q := f.newQueue(t, "data", "run1")
	copyFile(t, sampleFrames(t)[0], filepath.Join(q, "x.tif"))
	f.waitProcessed(t, 1) // get replies now carry the calibration and masks (~10 kB)
	out, err := run(t, 2*time.Minute, "/usr/bin/python3", script("pyclient.py"), "flood", "--url", f.e.Server, "--secret", f.e.Secret,
		"--request-timeout", "10")
	if err != nil {
		t.Errorf("pyclient.py flood: %v\n%s", err, out)
	}
	// And the server still answers once that peer is gone.
	if r, out, err := leashReply(t, f.conf, "stat"); err != nil || r.Result != "stat" {
		t.Errorf("stat after the flood: %v %q\n%s", err, r.Result, out)
	}
}

// get --save-masks writes each mask under DIR by its base name only: an
// attachment name from the server such as "../../evil.msk" or an absolute
// path must not write outside DIR.
func TestLeashSaveMasksStaysInDir(t *testing.T) {
	needPython(t)
	binary(t, "saxsleash")
	secret := "3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a"
	url, _ := startPyServer(t, secret, t.TempDir())
	root := t.TempDir()
	outside := filepath.Join(root, "evil.msk")
	abs := filepath.Join(root, "abs.msk")
	code := `
import sys, json
sys.path.insert(0, sys.argv[3])
from saxsnet import Client, attachment
c = Client(sys.argv[1], sys.argv[2])
cal = {"Masks": [{"MaskFile": "a"}, {"MaskFile": "b"}], "Directory": ["."]}
r = c.request("new", {"calibration": cal, "data": {}}, [attachment("../../evil.msk", b"x"), attachment(sys.argv[4], b"y")])
assert r["result"] == "new queue", r
`
	if out, err := run(t, time.Minute, "/usr/bin/python3", "-c", code, url, secret, filepath.Dir(script("saxsnet.py")), abs); err != nil {
		t.Fatalf("python new: %v\n%s", err, out)
	}
	e := entry{Name: "py", Server: url, Feeder: fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), Secret: secret}
	conf := writeNetconf(t, t.TempDir(), e)
	dir := filepath.Join(root, "a", "b", "masks")
	out, err := leash(t, conf, "get", "--save-masks", dir)
	for _, p := range []string{outside, filepath.Join(root, "a", "evil.msk"), abs} {
		if _, serr := os.Stat(p); serr == nil {
			t.Errorf("saxsleash get --save-masks %s wrote %s (outside the folder)\n%s", dir, p, out)
		}
	}
	if err != nil {
		t.Logf("saxsleash get --save-masks: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "evil.msk")); err == nil && string(b) != "x" {
		t.Errorf("evil.msk in DIR holds %q", b)
	}
}
