package batch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchPreallocatedFrame: a frame preallocated to its full size and
// filled in 5 chunks, with pauses longer than the settle time, by a writer
// that keeps it open, is converted once, from its final content (with
// settle-and-decode alone each chunk looked like a whole frame).
func TestWatchPreallocatedFrame(t *testing.T) {
	if !closeWriteSupported {
		t.Skip("no close-after-write events on this system")
	}
	_, cal, data, out := fixture(t)
	os.MkdirAll(data, 0o755)
	w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out,
		Watch: &Watch{Settle: testSettle, Timeout: time.Minute}})
	path := filepath.Join(data, "pre.tif")
	frame := frameBytes(t, testRows, testCols, 7)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(len(frame))); err != nil {
		t.Fatal(err)
	}
	const chunks = 5
	step := (len(frame) + chunks - 1) / chunks
	for i := 0; i < len(frame); i += step {
		time.Sleep(3 * testSettle) // the file is stable meanwhile
		if _, err := f.WriteAt(frame[i:min(i+step, len(frame))], int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the conversion", func() bool { return w.converted[path] >= 1 })
	time.Sleep(4 * testSettle) // a second conversion would show now
	w.stop()
	w.convertedOnce([]string{path})
	checkChi(t, filepath.Join(out, "pre.chi"), 7)
}

// TestWatchWrongSizeAtOnce: a complete frame of the wrong size is reported
// at once, not after the timeout (a minute here, longer than any wait of
// the test).
func TestWatchWrongSizeAtOnce(t *testing.T) {
	for _, poll := range []time.Duration{0, 20 * time.Millisecond} {
		_, cal, data, out := fixture(t)
		os.MkdirAll(data, 0o755)
		w := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out,
			Watch: &Watch{Settle: testSettle, Timeout: time.Minute, Poll: poll}})
		path := filepath.Join(data, "big.tif")
		writeFile(t, path, frameBytes(t, testRows+1, testCols, 3))
		w.waitFor("the failure", func() bool { return w.failed[path] == 1 })
		s := w.stop()
		if s.Failed != 1 || !strings.Contains(s.Failures[0].Reason(), "rows") {
			t.Errorf("poll %v: summary %+v", poll, s)
		}
	}
}
