package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/saxsdog/saxs/internal/testframes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fixture is a running server with an empty queue folder.
type fixture struct {
	e         entry
	conf      string
	serverdir string
	outdir    string
	srv       *proc
}

func newFixture(t *testing.T, extra ...string) *fixture {
	t.Helper()
	server := binary(t, "saxsdogserver")
	f := &fixture{serverdir: t.TempDir(), outdir: t.TempDir()}
	f.e = newEntry(t, "Queue1", "9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a")
	f.conf = writeNetconf(t, t.TempDir(), f.e)
	args := append([]string{"--netconf", f.conf, "-o", f.outdir}, extra...)
	f.srv = start(t, 5*time.Minute, server, append(args, f.serverdir)...)
	waitServer(t, f.conf, f.srv)
	return f
}

// newQueue starts a queue on SERVERDIR/dir with the sample's 2.0
// calibration and returns the folder.
func (f *fixture) newQueue(t *testing.T, dir ...string) string {
	t.Helper()
	q := filepath.Join(append([]string{f.serverdir}, dir...)...)
	if err := os.MkdirAll(q, 0o755); err != nil {
		t.Fatal(err)
	}
	if r, out, err := leashReply(t, f.conf, "new", queueCal(t, dir...)); err != nil || r.Result != "new queue" {
		t.Fatalf("saxsleash new %v: %v %q\n%s", dir, err, r.Result, out)
	}
	return q
}

// waitProcessed waits until stat says exactly want; more fails at once.
func (f *fixture) waitProcessed(t *testing.T, want int) {
	t.Helper()
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d processed", want), func() bool {
		if f.srv.exited() {
			t.Fatalf("the server exited")
		}
		p := processed(t, f.conf)
		if p > want {
			t.Fatalf("%d processed, want %d", p, want)
		}
		return p == want
	})
}

// chiComplete checks the .chi layout: 4 header lines, the row count on the
// 4th, that many rows, and the trailing "\n ".
func chiComplete(b []byte) error {
	if !bytes.HasSuffix(b, []byte("\n ")) {
		return fmt.Errorf("no trailing \"\\n \"")
	}
	lines := strings.Split(string(b[:len(b)-2]), "\n")
	if len(lines) < 4 {
		return fmt.Errorf("%d lines", len(lines))
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return fmt.Errorf("line 4 %q: %w", lines[3], err)
	}
	if len(lines) != 4+n {
		return fmt.Errorf("%d rows, line 4 says %d", len(lines)-4, n)
	}
	for _, l := range lines[4:] {
		if len(strings.Fields(l)) != 3 {
			return fmt.Errorf("row %q", l)
		}
	}
	return nil
}

// SIGTERM while frames are being converted: the server finishes the frames
// in flight and exits; no partial or temporary file is left, and every
// frame has both of its curves or none.
func TestSIGTERMLeavesNothingPartial(t *testing.T) {
	f := newFixture(t, "-t", "2")
	q := f.newQueue(t, "data", "run1")
	frames := sampleFrames(t)
	const n = 60
	for i := 0; i < n; i++ {
		copyFile(t, frames[i%len(frames)], filepath.Join(q, fmt.Sprintf("k_%05d.tif", i)))
	}
	waitFor(t, time.Minute, "the first frame converted", func() bool { return processed(t, f.conf) > 0 })
	if err := f.srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.srv.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the server did not exit within 2 minutes of SIGTERM")
	}
	if code := f.srv.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0\n%s", code, f.srv.out.String())
	}
	perFrame := map[string]int{}
	err := filepath.WalkDir(f.outdir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if !strings.HasSuffix(name, ".chi") {
			t.Errorf("a file other than .chi left in the output: %s", p)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := chiComplete(b); err != nil {
			t.Errorf("%s is incomplete: %v", p, err)
		}
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".chi"), "_cR0"), "_cR1")
		perFrame[base]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for b, c := range perFrame {
		if c != 2 {
			t.Errorf("frame %s has %d curves, want 2 (both masks or none)", b, c)
		}
	}
	t.Logf("%d of %d frames converted before the server stopped", len(perFrame), n)
}

// Two configured servers in one process: new refuses a folder that
// contains or is contained in the other server's queue folder, or ".".
func TestDirectoryCollision(t *testing.T) {
	server := binary(t, "saxsdogserver")
	serverdir := t.TempDir()
	a, b := newEntry(t, "A", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), newEntry(t, "B", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	conf := writeNetconf(t, t.TempDir(), a, b)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", t.TempDir(), serverdir)
	waitServer(t, conf, srv)
	for _, d := range []string{"data/run1", "data/run2", "other"} {
		if err := os.MkdirAll(filepath.Join(serverdir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if r, out, err := leashReply(t, conf, "-N", "0", "new", queueCal(t, "data", "run1")); err != nil || r.Result != "new queue" {
		t.Fatalf("A: new data/run1: %v %q\n%s", err, r.Result, out)
	}
	for _, dir := range [][]string{{"data"}, {"data", "run1"}, {"."}} {
		r, out, err := leashReply(t, conf, "-N", "1", "new", queueCal(t, dir...))
		if err == nil || r.Result == "new queue" || !strings.Contains(out, "collides") {
			t.Errorf("B: new %v while A runs data/run1: %v %q, want a collision\n%s", dir, err, r.Result, out)
		}
	}
	if r, out, err := leashReply(t, conf, "-N", "1", "new", queueCal(t, "data", "run2")); err != nil || r.Result != "new queue" {
		t.Errorf("B: new data/run2: %v %q\n%s", err, r.Result, out)
	}
	if r, out, err := leashReply(t, conf, "-N", "0", "new", queueCal(t, "data")); err == nil || r.Result == "new queue" {
		t.Errorf("A: new data while B runs data/run2: %v %q, want a collision\n%s", err, r.Result, out)
	}
}

// new while a queue runs: the old queue stops, the counters restart, and
// only the new folder is converted.
func TestNewReplacesQueue(t *testing.T) {
	f := newFixture(t)
	frames := sampleFrames(t)
	q1 := f.newQueue(t, "data", "run1")
	for i := 0; i < 3; i++ {
		writeInTwo(t, frames[i%len(frames)], filepath.Join(q1, fmt.Sprintf("a_%d.tif", i)), 20*time.Millisecond)
	}
	f.waitProcessed(t, 3)
	q2 := f.newQueue(t, "data", "run2")
	if p := processed(t, f.conf); p != 0 {
		t.Errorf("images processed %d right after the second new, want 0", p)
	}
	copyFile(t, frames[0], filepath.Join(q1, "late.tif")) // the old folder
	for i := 0; i < 2; i++ {
		writeInTwo(t, frames[i%len(frames)], filepath.Join(q2, fmt.Sprintf("b_%d.tif", i)), 20*time.Millisecond)
	}
	f.waitProcessed(t, 2)
	time.Sleep(time.Second)
	if p := processed(t, f.conf); p != 2 {
		t.Errorf("images processed %d, want 2", p)
	}
	for name := range chiFiles(t, f.outdir) {
		if strings.Contains(name, "late") {
			t.Errorf("a frame of the old queue was converted after new: %s", name)
		}
	}
}

// The leash's plot -o (SVG, PNG) and get --save-masks on a running queue.
func TestLeashPlotAndMasks(t *testing.T) {
	f := newFixture(t)
	if r, _, _ := leashReply(t, f.conf, "plot"); r.Result == "plot" {
		t.Errorf("plot without a queue: %q", r.Result)
	}
	q := f.newQueue(t, "data", "run1")
	copyFile(t, sampleFrames(t)[0], filepath.Join(q, "x.tif"))
	f.waitProcessed(t, 1)
	dir := t.TempDir()
	for _, c := range []struct{ name, magic string }{{"c.svg", "<svg"}, {"c.png", "\x89PNG"}} {
		p := filepath.Join(dir, c.name)
		if out, err := leash(t, f.conf, "plot", "-o", p); err != nil {
			t.Errorf("saxsleash plot -o %s: %v\n%s", c.name, err, out)
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b[:min(len(b), 512)], []byte(c.magic)) {
			t.Errorf("plot -o %s: %v, starts %q", c.name, err, b[:min(len(b), 40)])
		}
	}
	// plot --follow polls until interrupted, printing each new frame's
	// reply; SIGINT ends it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	follow := exec.CommandContext(ctx, binary(t, "saxsleash"), "--netconf", f.conf, "--timeout", "5s", "plot", "--follow")
	follow.Env = env(t)
	fout := &testframes.SyncBuffer{}
	follow.Stdout, follow.Stderr = fout, fout
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a reply from plot --follow", func() bool {
		return strings.Count(fout.String(), `"result": "plot"`) >= 1
	})
	copyFile(t, sampleFrames(t)[1], filepath.Join(q, "y.tif")) // a new frame: a new reply
	waitFor(t, 30*time.Second, "a second reply from plot --follow", func() bool {
		return strings.Count(fout.String(), `"result": "plot"`) >= 2
	})
	_ = follow.Process.Signal(os.Interrupt)
	if err := follow.Wait(); ctx.Err() != nil {
		t.Errorf("plot --follow did not end after SIGINT: %v", err)
	}
	masks := t.TempDir()
	if out, err := leash(t, f.conf, "get", "--save-masks", masks); err != nil {
		t.Fatalf("saxsleash get --save-masks: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(sampleDir(t), "mask.msk"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(masks, "mask.msk"))
	if err != nil || !bytes.Equal(got, want) {
		ls, _ := os.ReadDir(masks)
		t.Errorf("get --save-masks: mask.msk %v (folder holds %v), or its bytes differ", err, ls)
	}
}

// The 0.3.0 form of new (flat calibration, one mask, the folder) through
// the leash: frames are converted like the saxsdog command does with the
// same flat calibration.
func TestNew030Form(t *testing.T) {
	saxsdog := binary(t, "saxsdog")
	f := newFixture(t)
	q := filepath.Join(f.serverdir, "data", "run1")
	if err := os.MkdirAll(q, 0o755); err != nil {
		t.Fatal(err)
	}
	sd := sampleDir(t)
	caldir := t.TempDir()
	copyFile(t, filepath.Join(sd, "cal.json"), filepath.Join(caldir, "cal.json"))
	copyFile(t, filepath.Join(sd, "mask.msk"), filepath.Join(caldir, "mask.msk"))
	cal, mask := filepath.Join(caldir, "cal.json"), filepath.Join(caldir, "mask.msk")
	if r, out, err := leashReply(t, f.conf, "new", cal, mask, "data/run1"); err != nil || r.Result != "new queue" {
		t.Fatalf("saxsleash new cal.json mask.msk data/run1: %v %q\n%s", err, r.Result, out)
	}
	frames := sampleFrames(t)
	for i := 0; i < 4; i++ {
		writeInTwo(t, frames[i], filepath.Join(q, fmt.Sprintf("o_%d.tif", i)), 20*time.Millisecond)
	}
	f.waitProcessed(t, 4)
	ref := t.TempDir()
	if out, err := run(t, 2*time.Minute, saxsdog, "-c", cal, "--no-cache", "-o", ref, q); err != nil {
		t.Fatalf("saxsdog: %v\n%s", err, out)
	}
	sameOutputs(t, byBase(t, chiFiles(t, f.outdir)), byBase(t, chiFiles(t, ref)))
}

// plotdata answers the original's clean not-implemented reply, mergedata
// without mergeconf an Error, getmergedata before any merge Empty (the
// original's {} has no result string), and fileslist lists the curves of the frames.
func TestNotImplementedAndFileslist(t *testing.T) {
	f := newFixture(t)
	q := f.newQueue(t, "data", "run1")
	for cmd, want := range map[string]string{"plotdata": "ErrorNotimplemented", "mergedata": "Error"} {
		b, err := rawRequest(t, f.e.Server, signedRequest(cmd, "{}", f.e.Secret, now()))
		r, perr := parseReply(b)
		var d struct{ Error string }
		_ = json.Unmarshal(r.Data, &d)
		if err != nil || perr != nil || r.Result != want || d.Error == "" {
			t.Errorf("%s: %v %q, want %s with an Error", cmd, err, b, want)
		}
	}
	if b, err := rawRequest(t, f.e.Server, signedRequest("getmergedata", "{}", f.e.Secret, now())); err != nil || string(b) != `{"data": {}, "result": "Empty"}` {
		t.Errorf("getmergedata before a merge: %v %q, want Empty", err, b)
	}
	frames := sampleFrames(t)
	for i := 0; i < 3; i++ {
		copyFile(t, frames[i], filepath.Join(q, fmt.Sprintf("l_%d.tif", i)))
	}
	f.waitProcessed(t, 3)
	r, out, err := leashReply(t, f.conf, "fileslist")
	if err != nil || r.Result != "resultfileslists" {
		t.Fatalf("fileslist: %v %q\n%s", err, r.Result, out)
	}
	var d struct {
		Fileslist map[string][]string `json:"fileslist"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Radial0", "Radial1"} {
		if got := d.Fileslist[k]; len(got) != 3 || !sort.StringsAreSorted(got) {
			t.Errorf("fileslist %s: %v, want 3 sorted entries", k, got)
		}
	}
}

// Frames in subfolders created after new are converted (with their folder
// mirrored below -o); non-TIFF files are ignored; a frame that never
// completes is reported in fileslist's Failed list (after the watch's 30 s
// timeout), not retried forever, and the queue goes on.
func TestSubfoldersAndIncompleteFrame(t *testing.T) {
	f := newFixture(t)
	q := f.newQueue(t, "data")
	frames := sampleFrames(t)
	copyFile(t, frames[0], filepath.Join(q, "sub", "deeper", "d_0.tif"))
	copyFile(t, frames[1], filepath.Join(q, "sub", "d_1.tif"))
	if err := os.WriteFile(filepath.Join(q, "notes.txt"), []byte("not a frame"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.waitProcessed(t, 2)
	got := chiFiles(t, f.outdir)
	if len(got) != 4 {
		t.Errorf("outputs %v, want 4 .chi files", keys(got))
	}
	b, err := os.ReadFile(frames[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(q, "broken.tif"), b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, frames[3], filepath.Join(q, "after.tif"))
	f.waitProcessed(t, 3)
	waitFor(t, 2*time.Minute, "broken.tif reported as failed", func() bool {
		r, _, err := leashReply(t, f.conf, "fileslist")
		return err == nil && strings.Contains(string(r.Data), "broken.tif")
	})
	if p := processed(t, f.conf); p != 3 {
		t.Errorf("images processed %d, want 3", p)
	}
}

// With -o, frames of the same name in different queue folders must not
// overwrite each other's curves (spec §12.4: silent collisions are a bug
// not to copy): two configured servers of one process, data/run1 and
// data/run2, each get a frame x.tif with different content.
func TestOutputsOfTwoQueuesDoNotCollide(t *testing.T) {
	server := binary(t, "saxsdogserver")
	serverdir, outdir := t.TempDir(), t.TempDir()
	a, b := newEntry(t, "A", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"), newEntry(t, "B", "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1")
	conf := writeNetconf(t, t.TempDir(), a, b)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", outdir, serverdir)
	waitServer(t, conf, srv)
	frames := sampleFrames(t)
	for i, d := range []string{"run1", "run2"} {
		q := filepath.Join(serverdir, "data", d)
		if err := os.MkdirAll(q, 0o755); err != nil {
			t.Fatal(err)
		}
		if r, out, err := leashReply(t, conf, "-N", fmt.Sprint(i), "new", queueCal(t, "data", d)); err != nil || r.Result != "new queue" {
			t.Fatalf("new data/%s: %v %q\n%s", d, err, r.Result, out)
		}
		copyFile(t, frames[i], filepath.Join(q, "x.tif"))
	}
	for i := range 2 {
		waitFor(t, time.Minute, "one frame processed by each server", func() bool {
			r, _, err := leashReply(t, conf, "-N", fmt.Sprint(i), "stat")
			if err != nil {
				return false
			}
			s := statOf(t, r)
			return s.Processed != nil && *s.Processed == 1
		})
	}
	if got := chiFiles(t, outdir); len(got) != 4 {
		t.Errorf("-o holds %v: want 4 .chi files (2 frames × 2 masks); same-named frames of two queues overwrote each other", keys(got))
	}
}

// The directory-collision check of new asks the other configured servers
// with short timeouts: a neighbour that is down, or stopped (it accepts
// TCP but never answers), must not keep new from answering.
func TestCollisionCheckWithUnresponsiveNeighbour(t *testing.T) {
	server := binary(t, "saxsdogserver")
	serverdir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(serverdir, "data", "run1"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, b := newEntry(t, "A", "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2"), newEntry(t, "B", "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2")
	conf := writeNetconf(t, t.TempDir(), a, b)
	srvA := start(t, 5*time.Minute, server, "--netconf", conf, "-N", "0", "-o", t.TempDir(), serverdir)
	waitServer(t, conf, srvA)
	// B is down: nothing listens on its port.
	if r, out, err := leashReply(t, conf, "new", queueCal(t, "data", "run1")); err != nil || r.Result != "new queue" {
		t.Errorf("new on A while B is down: %v %q\n%s", err, r.Result, out)
	}
	// B runs but is stopped.
	srvB := start(t, 5*time.Minute, server, "--netconf", conf, "-N", "1", "-o", t.TempDir(), t.TempDir())
	waitFor(t, time.Minute, "B to answer", func() bool {
		r, _, err := leashReply(t, conf, "-N", "1", "stat")
		return err == nil && r.Result == "stat"
	})
	if err := srvB.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srvB.cmd.Process.Signal(syscall.SIGCONT) })
	r, out, err := leashReply(t, conf, "new", queueCal(t, "data", "run1"))
	if err != nil || r.Result != "new queue" {
		t.Errorf("new on A while B is stopped: %v %q\n%s", err, r.Result, out)
	}
	waitFor(t, 30*time.Second, "A to answer stat", func() bool {
		r, _, err := leashReply(t, conf, "stat")
		return err == nil && r.Result == "stat"
	})
}
