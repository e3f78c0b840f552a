package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Short watch settings for the tests.
const (
	testSettle  = 50 * time.Millisecond
	testTimeout = time.Second
	testWait    = 20 * time.Second // upper bound of every wait (a loaded machine)
)

// logRecorder is a slog.Handler keeping the messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

func (l *logRecorder) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if m == msg {
			return true
		}
	}
	return false
}

// watchRun is a Run in watch mode in the background, with the outcomes of
// its frames as reported to Progress.
type watchRun struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{}
	log    *logRecorder

	sum Summary
	err error

	mu        sync.Mutex
	converted map[string]int // conversions per frame
	failed    map[string]int
	last      Progress
}

// startWatch starts Run with cfg (Watch settings filled in when nil) and
// waits until the folders are watched.
func startWatch(t *testing.T, cfg Config) *watchRun {
	t.Helper()
	w := &watchRun{t: t, done: make(chan struct{}), log: &logRecorder{},
		converted: map[string]int{}, failed: map[string]int{}}
	if cfg.Watch == nil {
		cfg.Watch = &Watch{Settle: testSettle, Timeout: testTimeout}
	}
	cfg.Logger = slog.New(w.log)
	cfg.Progress = func(p Progress) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.last = p
		if f := p.File; f != nil {
			switch f.Status {
			case Converted:
				w.converted[f.Path]++
			case Failed:
				w.failed[f.Path]++
			}
		}
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		defer close(w.done)
		w.sum, w.err = c.Run(ctx)
	}()
	t.Cleanup(func() { w.stop() })
	w.waitFor("the watch to start", func() bool { return w.log.has("watching") })
	return w
}

// waitFor waits until cond (called with w.mu held) holds.
func (w *watchRun) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(testWait)
	for {
		w.mu.Lock()
		ok := cond()
		w.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.t.Fatalf("timed out waiting for %s: %d converted, %d failed, last progress %+v",
				what, len(w.converted), len(w.failed), w.last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop cancels the run and returns its summary; the run must end soon.
func (w *watchRun) stop() Summary {
	w.t.Helper()
	w.cancel()
	select {
	case <-w.done:
	case <-time.After(testWait):
		w.t.Fatal("Run did not return after the context was cancelled")
	}
	if w.err != nil && !errors.Is(w.err, context.Canceled) {
		w.t.Errorf("Run: %v", w.err)
	}
	return w.sum
}

// convertedOnce checks that each frame was converted exactly once.
func (w *watchRun) convertedOnce(frames []string) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range frames {
		if n := w.converted[f]; n != 1 {
			w.t.Errorf("%s converted %d times", f, n)
		}
	}
	if len(w.converted) != len(frames) {
		w.t.Errorf("%d frames converted, want %d", len(w.converted), len(frames))
	}
}

// failureNames returns the failed paths of s relative to dir, sorted.
func failureNames(s Summary, dir string) []string {
	var names []string
	for _, f := range s.Failures {
		rel, _ := filepath.Rel(dir, f.Path)
		names = append(names, filepath.ToSlash(rel))
	}
	sort.Strings(names)
	return names
}

// writeSlowly writes data to path in n pieces, pausing between them.
func writeSlowly(t *testing.T, path string, data []byte, n int, pause time.Duration) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	step := (len(data) + n - 1) / n
	for i := 0; i < len(data); i += step {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := f.Write(data[i:min(i+step, len(data))]); err != nil {
			t.Error(err)
			return
		}
	}
}

func TestWatchTree(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	out := filepath.Join(data, "out") // inside the watched tree
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 2})

	good := frameBytes(t, testRows, testCols, 1)
	bad := map[string][]byte{ // never complete
		"a/cut-half.tif":  good[:len(good)/2],
		"a/cut-head.tif":  good[:100],
		"new/sub/cut.tif": good[:len(good)-1],
		"a/text.tif":      []byte("this is not a TIFF file\n"),
		"new/notes.TIF":   bytes.Repeat([]byte("ab"), 3000),
	}
	value := func(i int) int32 { return int32(i%7 + 1) }
	var frames []string // relative to data
	for i := range 100 {
		folder := "a" // created by the first write
		if i >= 50 {
			folder = "new/sub" // created halfway, frames written at once
		}
		frames = append(frames, fmt.Sprintf("%s/f%03d.tif", folder, i))
	}
	for i, rel := range frames {
		if i == 50 {
			for name, b := range bad {
				writeFile(t, filepath.Join(data, name), b)
			}
		}
		writeFile(t, filepath.Join(data, rel), frameBytes(t, testRows, testCols, value(i)))
		if i%10 == 9 {
			time.Sleep(20 * time.Millisecond)
		}
	}

	w.waitFor("100 conversions and 5 failures", func() bool {
		return len(w.converted) >= len(frames) && len(w.failed) >= len(bad)
	})
	time.Sleep(4 * testSettle) // room for a wrong second conversion
	s := w.stop()
	var paths []string
	for _, rel := range frames {
		paths = append(paths, filepath.Join(data, rel))
	}
	w.convertedOnce(paths)
	if s.Converted != len(frames) || s.Failed != len(bad) || s.Found != s.Converted+s.Failed {
		t.Errorf("summary %+v", s)
	}
	var wantBad []string
	for name := range bad {
		wantBad = append(wantBad, name)
	}
	sort.Strings(wantBad)
	if got := failureNames(s, data); strings.Join(got, " ") != strings.Join(wantBad, " ") {
		t.Errorf("failures %v, want %v", got, wantBad)
	}
	for _, f := range s.Failures {
		if !strings.HasPrefix(f.Reason(), "incomplete after 1s: ") {
			t.Errorf("reason %q", f.Reason())
		}
	}

	// Exactly the 100 outputs (and the errors log): no temporary file, no
	// output of a bad frame.
	outs := listFiles(t, out)
	var chis []string
	for _, o := range outs {
		if o != ErrorLogName {
			chis = append(chis, o)
		}
	}
	if len(chis) != len(frames) || len(outs) != len(frames)+1 {
		t.Errorf("%d files in the output folder: %v", len(outs), outs)
	}
	for i, rel := range frames {
		checkChi(t, filepath.Join(out, chiName(rel)), float64(value(i)))
	}
	logData, err := os.ReadFile(filepath.Join(out, ErrorLogName))
	if err != nil || strings.Count(string(logData), "\n") != len(bad) {
		t.Errorf("errors log %q, %v", logData, err)
	}
	for name := range bad {
		if !strings.Contains(string(logData), filepath.Join(data, name)+": incomplete after 1s: ") {
			t.Errorf("%s not in the errors log", name)
		}
	}
	waitGoroutines(t, before)
}

func TestWatchSlowWriter(t *testing.T) {
	for _, poll := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(fmt.Sprintf("poll=%v", poll), func(t *testing.T) { testWatchSlowWriter(t, poll) })
	}
}

// testWatchSlowWriter writes frames in pieces, watched by events (poll 0)
// or by polling.
func testWatchSlowWriter(t *testing.T, poll time.Duration) {
	_, cal, data, out := fixture(t)
	os.MkdirAll(data, 0o755)
	w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 2,
		Watch: &Watch{Settle: testSettle, Timeout: 5 * time.Second, Poll: poll}})

	var wg sync.WaitGroup
	// Pauses shorter than the settle time: converted once complete. Longer
	// ones: the pieces look stable, the reads fail and are retried (with
	// close-after-write events the frame is not read before it is closed).
	for i, pause := range []time.Duration{30 * time.Millisecond, 30 * time.Millisecond, 3 * testSettle} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeSlowly(t, filepath.Join(data, fmt.Sprintf("slow%d.tif", i)), frameBytes(t, testRows, testCols, int32(i+2)), 4, pause)
		}()
	}
	wg.Wait()
	w.waitFor("3 conversions", func() bool { return len(w.converted) >= 3 })
	time.Sleep(4 * testSettle)
	s := w.stop()
	w.convertedOnce([]string{filepath.Join(data, "slow0.tif"), filepath.Join(data, "slow1.tif"), filepath.Join(data, "slow2.tif")})
	if s.Converted != 3 || s.Failed != 0 || s.Found != 3 {
		t.Errorf("summary %+v", s)
	}
	for i := range 3 {
		checkChi(t, filepath.Join(out, fmt.Sprintf("slow%d.chi", i)), float64(i+2))
	}
	if closeWriteSupported && poll == 0 {
		if w.log.has("incomplete, retrying") {
			t.Error("a frame still open for writing was read")
		}
	} else if !w.log.has("incomplete, retrying") {
		t.Error("no read of an incomplete frame was retried")
	}
}

func TestWatchRewriteAndWalk(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	a := filepath.Join(data, "a.tif")
	writeFrame(t, a, 1) // converted by the walk
	// In place: the outputs land in the watched folder.
	w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, InPlace: true, Workers: 2})
	w.waitFor("the walk", func() bool { return w.converted[a] == 1 })
	time.Sleep(4 * testSettle) // no second conversion of an unchanged frame
	checkChi(t, filepath.Join(data, "a.chi"), 1)

	writeFrame(t, a, 2) // rewritten: converted again
	w.waitFor("the rewrite", func() bool { return w.converted[a] == 2 })
	checkChi(t, filepath.Join(data, "a.chi"), 2)

	// Written under another name and renamed: converted once.
	b := filepath.Join(data, "b.tif")
	writeFile(t, filepath.Join(data, "b.part"), frameBytes(t, testRows, testCols, 3))
	if err := os.Rename(filepath.Join(data, "b.part"), b); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the renamed frame", func() bool { return w.converted[b] == 1 })
	time.Sleep(4 * testSettle)
	s := w.stop()
	if s.Converted != 3 || s.Failed != 0 || w.converted[a] != 2 || w.converted[b] != 1 {
		t.Errorf("summary %+v, conversions %v", s, w.converted)
	}
	checkChi(t, filepath.Join(data, "b.chi"), 3)
	if got := strings.Join(listFiles(t, data), " "); got != "a.chi a.tif b.chi b.tif" {
		t.Errorf("files %s", got)
	}
}

func TestWatchIncompleteAtExit(t *testing.T) {
	_, cal, data, out := fixture(t)
	writeFrame(t, filepath.Join(data, "old.tif"), 1) // not converted: NoWalk
	before := runtime.NumGoroutine()
	w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out, NoWalk: true,
		Watch: &Watch{Settle: testSettle, Timeout: time.Minute}})
	good := frameBytes(t, testRows, testCols, 1)
	writeFile(t, filepath.Join(data, "cut.tif"), good[:len(good)/2])
	writeFile(t, filepath.Join(data, "ok.tif"), good)
	w.waitFor("ok.tif", func() bool { return len(w.converted) == 1 })
	w.waitFor("a read of cut.tif", func() bool { return w.log.has("incomplete, retrying") })
	s := w.stop()
	if s.Converted != 1 || s.Failed != 1 || len(s.Failures) != 1 {
		t.Fatalf("summary %+v", s)
	}
	f := s.Failures[0]
	if filepath.Base(f.Path) != "cut.tif" || !strings.HasPrefix(f.Reason(), "incomplete at exit: ") ||
		!strings.Contains(f.Reason(), "offset") {
		t.Errorf("failure %s", f)
	}
	if got := strings.Join(listFiles(t, out), " "); got != "ok.chi "+ErrorLogName {
		t.Errorf("outputs %s", got)
	}
	waitGoroutines(t, before)
}

func TestWatchPoll(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	out := filepath.Join(data, "out")
	writeFrame(t, filepath.Join(data, "old.tif"), 9) // converted by the walk
	before := runtime.NumGoroutine()
	w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 2,
		Watch: &Watch{Settle: testSettle, Timeout: testTimeout, Poll: 30 * time.Millisecond}})
	var frames []string
	for i := range 10 {
		rel := fmt.Sprintf("f%02d.tif", i)
		if i >= 5 {
			rel = fmt.Sprintf("new/sub/f%02d.tif", i)
		}
		frames = append(frames, rel)
		writeFrame(t, filepath.Join(data, rel), int32(i+1))
		if i == 4 {
			time.Sleep(40 * time.Millisecond)
		}
	}
	good := frameBytes(t, testRows, testCols, 1)
	writeFile(t, filepath.Join(data, "new/cut.tif"), good[:len(good)-10])
	w.waitFor("11 conversions and a failure", func() bool { return len(w.converted) >= 11 && len(w.failed) >= 1 })
	time.Sleep(4 * testSettle)
	s := w.stop()
	paths := []string{filepath.Join(data, "old.tif")}
	for _, rel := range frames {
		paths = append(paths, filepath.Join(data, rel))
	}
	w.convertedOnce(paths)
	if s.Converted != 11 || s.Failed != 1 || failureNames(s, data)[0] != "new/cut.tif" {
		t.Errorf("summary %+v", s)
	}
	for i, rel := range frames {
		checkChi(t, filepath.Join(out, chiName(rel)), float64(i+1))
	}
	waitGoroutines(t, before)
}

func TestWatchConfig(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	frame := filepath.Join(dir, "x.tif")
	writeFrame(t, frame, 1)
	if _, err := New(Config{Calibration: cal, Roots: []string{frame}, Watch: &Watch{}}); err == nil {
		t.Error("watch mode without a folder accepted")
	}
	if _, err := New(Config{Calibration: cal, Roots: []string{dir}, Watch: &Watch{Settle: -1}}); err == nil {
		t.Error("negative settle time accepted")
	}
	c, err := New(Config{Calibration: cal, Roots: []string{dir}, Watch: &Watch{}})
	if err != nil || c.watch.Settle != DefaultSettle || c.watch.Timeout != DefaultTimeout {
		t.Errorf("defaults: %+v, %v", c.watch, err)
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	for tries := 1; tries <= 8; tries++ {
		got = append(got, backoff(300*time.Millisecond, tries))
	}
	want := []time.Duration{300, 600, 1200, 2000, 2000, 2000, 2000, 2000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Errorf("backoff %v, want %v ms", got, want)
			break
		}
	}
	if d := backoff(5*time.Second, 3); d != 5*time.Second {
		t.Errorf("backoff with a long settle time: %v", d)
	}
}

// TestTrackerRescan drives a tracker by hand: a frame found by a rescan
// is skipped when its outputs are up to date, converted otherwise.
func TestTrackerRescan(t *testing.T) {
	_, cal, data, out := fixture(t)
	done, fresh := filepath.Join(data, "done.tif"), filepath.Join(data, "fresh.tif")
	writeFrame(t, done, 1)
	if s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out}); err != nil || s.Converted != 1 {
		t.Fatalf("%+v, %v", s, err)
	}
	writeFrame(t, fresh, 2)
	c, err := New(Config{Calibration: cal, Roots: []string{data}, OutDir: out, Watch: &Watch{Settle: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(&run{c: c, claims: map[string]string{}}, &c.watch)
	// A fake clock: the settle time and the timeout are measured on it, so
	// the test does not depend on how fast the machine runs it.
	clk := time.Now()
	tr.now = func() time.Time { return clk }
	const maxSteps = 1000 // bounds every loop below (5 s of fake time)
	tr.event(done, true)
	tr.event(fresh, true)
	tr.event(fresh, false) // merged
	for i := 0; len(tr.ready) == 0 && i < maxSteps; i++ {
		tr.runDue(clk)
		clk = clk.Add(5 * time.Millisecond)
	}
	tr.runDue(clk)
	if len(tr.ready) != 1 || tr.ready[0].path != fresh {
		t.Fatalf("ready %v", tr.ready)
	}
	if e := tr.files[done]; e == nil || e.state != stateDone {
		t.Errorf("done.tif: %+v", e)
	}
	f, ok := tr.nextReady(context.Background())
	path := f.path
	if !ok || path != fresh || tr.files[fresh].state != stateBusy {
		t.Fatalf("nextReady %q %v", path, ok)
	}
	// A failed read comes back, is retried, and is given up after the
	// timeout; a later change makes it a candidate again.
	tr.timeout = 30 * time.Millisecond
	// The timeout runs from the last change: as if it had changed just now.
	tr.files[fresh].changed = clk
	if taken, _ := tr.jobFailed(fresh, errors.New("truncated")); !taken {
		t.Fatal("failed read not taken back")
	}
	if taken, _ := tr.jobFailed(done, errors.New("x")); taken {
		t.Error("frame not busy taken back")
	}
	for i := 0; tr.files[fresh].state == stateWaiting && i < maxSteps; i++ {
		tr.runDue(clk)
		clk = clk.Add(5 * time.Millisecond)
	}
	e := tr.files[fresh]
	if e.state != stateReady || e.lastErr == nil {
		t.Fatalf("after a failed read: %+v", e)
	}
	tr.nextReady(context.Background())
	tr.jobFailed(fresh, errors.New("truncated"))
	for i := 0; tr.files[fresh].state == stateWaiting && i < maxSteps; i++ {
		tr.runDue(clk)
		clk = clk.Add(5 * time.Millisecond)
	}
	if e.state == stateReady { // retried once more before the timeout
		tr.nextReady(context.Background())
		tr.jobFailed(fresh, errors.New("truncated"))
		for i := 0; tr.files[fresh].state == stateWaiting && i < maxSteps; i++ {
			tr.runDue(clk)
			clk = clk.Add(5 * time.Millisecond)
		}
	}
	s := tr.r.summary()
	if e.state != stateDone || s.Failed != 1 || !strings.Contains(s.Failures[0].Err.Error(), "incomplete after 30ms: truncated") {
		t.Fatalf("after the timeout: %+v, %+v", e, s)
	}
	tr.event(fresh, false) // unchanged: not read again
	for range 5 {
		tr.runDue(clk)
		clk = clk.Add(10 * time.Millisecond)
	}
	if e.state != stateDone || len(tr.ready) != 0 {
		t.Errorf("unchanged frame given up is read again: %+v", e)
	}
	writeFrame(t, fresh, 3)
	tr.event(fresh, false)
	for i := 0; e.state != stateReady && i < maxSteps; i++ {
		tr.runDue(clk)
		clk = clk.Add(5 * time.Millisecond)
	}
	if e.state != stateReady {
		t.Errorf("changed frame not ready: %+v", e)
	}
	tr.close()
	if s := tr.r.summary(); s.Failed != 1 || s.Found != 2 {
		t.Errorf("after close: %+v", s) // the ready frame (never read) is found, not failed
	}
}

// Frames that appear whole, hard-linked or moved into a watched folder,
// are converted once settled: no writer will close them, so they must not
// wait for a close (the Timeout here is longer than the test's wait).
func TestWatchLinkedAndMovedFrames(t *testing.T) {
	_, cal, data, out := fixture(t)
	os.MkdirAll(data, 0o755)
	staging := t.TempDir()
	w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 2,
		Watch: &Watch{Settle: testSettle, Timeout: time.Hour}})
	linked, moved := filepath.Join(staging, "linked.tif"), filepath.Join(staging, "moved.tif")
	writeFrame(t, linked, 4)
	writeFrame(t, moved, 5)
	if err := os.Link(linked, filepath.Join(data, "linked.tif")); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	if err := os.Rename(moved, filepath.Join(data, "moved.tif")); err != nil {
		t.Fatal(err)
	}
	w.waitFor("2 conversions", func() bool { return len(w.converted) >= 2 })
	s := w.stop()
	w.convertedOnce([]string{filepath.Join(data, "linked.tif"), filepath.Join(data, "moved.tif")})
	if s.Converted != 2 || s.Failed != 0 {
		t.Errorf("summary %+v", s)
	}
	checkChi(t, filepath.Join(out, "linked.chi"), 4)
	checkChi(t, filepath.Join(out, "moved.chi"), 5)
}

// TestWatchFolderMovedIn checks that a folder of frames moved into the
// watched tree is scanned and watched: its frames are converted once, and
// a frame written into it later and one written into a subfolder created
// in it are converted too. A folder named like a frame is reported, not
// converted.
func TestWatchFolderMovedIn(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data, out, stage := filepath.Join(dir, "data"), filepath.Join(dir, "out"), filepath.Join(dir, "stage")
	for _, d := range []string{data, filepath.Join(stage, "run7")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		writeFile(t, filepath.Join(stage, "run7", fmt.Sprintf("m%d.tif", i)), frameBytes(t, testRows, testCols, int32(i+1)))
	}
	w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 2, NoWalk: true})
	moved := filepath.Join(data, "run7")
	if err := os.Rename(filepath.Join(stage, "run7"), moved); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the moved folder's frames", func() bool { return len(w.converted) >= 3 })
	later := filepath.Join(moved, "later.tif")
	writeFile(t, later, frameBytes(t, testRows, testCols, 5))
	if err := os.MkdirAll(filepath.Join(moved, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(moved, "sub", "deep.tif")
	writeFile(t, deep, frameBytes(t, testRows, testCols, 6))
	if err := os.Mkdir(filepath.Join(data, "odd.tif"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the later frames", func() bool { return w.converted[later] == 1 && w.converted[deep] == 1 })
	w.waitFor("the folder named like a frame", func() bool { return len(w.failed) == 1 })
	time.Sleep(4 * testSettle)
	s := w.stop()
	w.convertedOnce([]string{filepath.Join(moved, "m0.tif"), filepath.Join(moved, "m1.tif"), filepath.Join(moved, "m2.tif"), later, deep})
	if s.Converted != 5 || s.Failed != 1 {
		t.Errorf("summary %+v, failed %v", s, w.failed)
	}
	if w.failed[filepath.Join(data, "odd.tif")] != 1 {
		t.Errorf("the folder odd.tif not reported: %v", w.failed)
	}
	for i := range 3 {
		checkChi(t, filepath.Join(out, "run7", fmt.Sprintf("m%d.chi", i)), float64(i+1))
	}
	checkChi(t, filepath.Join(out, "run7", "sub", "deep.chi"), 6)
}
