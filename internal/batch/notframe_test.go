//go:build unix

package batch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// notFrames makes, below data, entries named like frames that are not
// frames: a folder, a FIFO, a dangling symbolic link and a symbolic link
// loop. It returns their names relative to data, sorted.
func notFrames(t *testing.T, data string) []string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(data, "dir.tif"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(data, "fifo.tif"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(data, "missing"), filepath.Join(data, "dangling.tif")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop.tif", filepath.Join(data, "loop.tif")); err != nil {
		t.Fatal(err)
	}
	return []string{"dangling.tif", "dir.tif", "fifo.tif", "loop.tif"}
}

// TestWalkReportsNotFrames: the walk reports and counts entries named
// like frames that are not frames, and never opens the FIFO (the run
// would hang).
func TestWalkReportsNotFrames(t *testing.T) {
	_, cal, data, out := fixture(t)
	writeFrame(t, filepath.Join(data, "good.tif"), 1)
	writeFrame(t, filepath.Join(data, "dir.tif", "inside.tif"), 2)
	want := notFrames(t, data)
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if s.Converted != 2 || s.Failed != len(want) || s.Found != 2+len(want) {
		t.Errorf("converted %d, failed %d, found %d; want 2, %d, %d", s.Converted, s.Failed, s.Found, len(want), 2+len(want))
	}
	if got := strings.Join(failureNames(s, data), " "); got != strings.Join(want, " ") {
		t.Errorf("failures %s, want %s", got, strings.Join(want, " "))
	}
	for _, f := range s.Failures {
		t.Logf("%s", f)
	}
	checkChi(t, filepath.Join(out, "dir.tif", "inside.chi"), 2)
}

// TestWatchReportsNotFrames: in watch mode, entries named like frames
// that are not frames are reported when they appear.
func TestWatchReportsNotFrames(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(map[bool]string{false: "events", true: "poll"}[poll], func(t *testing.T) {
			_, cal, data, out := fixture(t)
			if err := os.MkdirAll(data, 0o755); err != nil {
				t.Fatal(err)
			}
			w := &Watch{Settle: testSettle, Timeout: testTimeout}
			if poll {
				w.Poll = 20 * testSettle / 10
			}
			wr := startWatch(t, Config{Calibration: cal, Roots: []string{data}, OutDir: out, Watch: w})
			want := notFrames(t, data)
			wr.waitFor("the entries to be reported", func() bool { return len(wr.failed) == len(want) })
			s := wr.stop()
			if got := strings.Join(failureNames(s, data), " "); got != strings.Join(want, " ") {
				t.Errorf("failures %s, want %s", got, strings.Join(want, " "))
			}
		})
	}
}

// TestNameWithNewline: a frame whose name holds a newline cannot forge
// lines in the summary or the errors log.
func TestNameWithNewline(t *testing.T) {
	_, cal, data, out := fixture(t)
	bad := filepath.Join(data, "x.tif\nforged: converted.tif")
	writeFile(t, bad, []byte("not a TIFF"))
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out})
	if err != nil || s.Failed != 1 {
		t.Fatalf("%+v, %v", s, err)
	}
	line := s.Failures[0].String()
	if strings.ContainsAny(line, "\n\r") || !strings.HasPrefix(line, `"`+strings.ReplaceAll(bad, "\n", `\n`)+`": `) {
		t.Errorf("summary line %q", line)
	}
	log, err := os.ReadFile(filepath.Join(out, ErrorLogName))
	if err != nil || strings.Count(string(log), "\n") != 1 {
		t.Errorf("errors log %q, %v: want one line", log, err)
	}
	if QuoteName("a b.tif") != "a b.tif" || QuoteName("a\tb.tif") != `"a\tb.tif"` {
		t.Errorf("QuoteName: %s %s", QuoteName("a b.tif"), QuoteName("a\tb.tif"))
	}
}

// TestSourceFIFO: a FIFO handed over by a Source is reported, not opened.
func TestSourceFIFO(t *testing.T) {
	_, cal, data, out := fixture(t)
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(data, "f.tif")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	src := func(ctx context.Context, add func(string) error) error { return add(fifo) }
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out, NoWalk: true,
		Sources: []Source{src}})
	if err != nil || s.Failed != 1 || !strings.Contains(s.Failures[0].Reason(), "a FIFO, not a frame") {
		t.Errorf("%+v, %v", s, err)
	}
}
