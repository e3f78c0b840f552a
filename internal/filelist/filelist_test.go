package filelist

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestPathFor(t *testing.T) {
	dir := t.TempDir()
	setup := filepath.Join(dir, "user", "exp", "setup1")
	if got, want := PathFor(setup), filepath.Join(dir, "user", "exp", "results", "filelist_setup1.txt"); got != want {
		t.Errorf("PathFor(%s) = %s, want %s", setup, got, want)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := PathFor("."), filepath.Join(filepath.Dir(wd), "results", "filelist_"+filepath.Base(wd)+".txt"); got != want {
		t.Errorf("PathFor(.) = %s, want %s", got, want)
	}
}

// Lines read back as written: the path relative to the folder holding
// results/ (absolute outside it), the numbers as Python's str() prints
// them and parsed back to the same float64.
func TestLineFormat(t *testing.T) {
	dir := t.TempDir()
	l := New(PathFor(filepath.Join(dir, "setup")), nil)
	outside := t.TempDir()
	tenth := 0.1
	entries := []Entry{
		{filepath.Join(dir, "work", "x.chi"), 1.5, tenth + 0.2, 1e-300},
		{filepath.Join(dir, "setup", "..", "work", "y_cR1.chi"), 0, -2.5e17, 123456789},
		{filepath.Join(outside, "z.chi"), math.NaN(), math.Inf(1), math.Inf(-1)},
		{filepath.Join(dir, "a\nb, c.chi"), 1, 2, 3},
	}
	l.Append(entries...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	want := "work/x.chi, 1.5, 0.30000000000000004, 1e-300\n" +
		"work/y_cR1.chi, 0.0, -2.5e+17, 123456789.0\n" +
		filepath.ToSlash(filepath.Join(outside, "z.chi")) + ", nan, inf, -inf\n" +
		`"a\nb, c.chi", 1.0, 2.0, 3.0` + "\n"
	if string(data) != want {
		t.Fatalf("list\n%s\nwant\n%s", data, want)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, line := range lines {
		e, err := ParseLine(line)
		if err != nil {
			t.Fatal(err)
		}
		w := entries[i]
		for k, pair := range [][2]float64{{e.I0, w.I0}, {e.I1, w.I1}, {e.I2, w.I2}} {
			if pair[0] != pair[1] && !(math.IsNaN(pair[0]) && math.IsNaN(pair[1])) {
				t.Errorf("line %d: I%d = %v, want %v", i, k, pair[0], pair[1])
			}
		}
	}
	if e, _ := ParseLine(lines[3]); e.Path != "a\nb, c.chi" {
		t.Errorf("quoted path read back as %q", e.Path)
	}
	for _, bad := range []string{"", "x.chi, 1, 2", "x.chi, 1, 2, z", ", 1, 2, 3", `"x, 1, 2, 3`} {
		if _, err := ParseLine(bad); err == nil {
			t.Errorf("ParseLine(%q): no error", bad)
		}
	}
	// A second list on the same file appends: nothing is truncated.
	l2 := New(l.Path(), nil)
	l2.Append(entries[0])
	l2.Close()
	data2, _ := os.ReadFile(l.Path())
	if !bytes.HasPrefix(data2, data) || bytes.Count(data2, []byte("\n")) != 5 {
		t.Errorf("reopened list:\n%s", data2)
	}
}

// Writers in parallel and a reader reading the file over and over while
// they write: every newline-terminated piece the reader sees is a whole
// line that parses, the reader follows every line, each line written
// appears exactly once, and (measured, logged) how often a read ended
// after the last newline.
func TestConcurrentWritersAndReader(t *testing.T) {
	dir := t.TempDir()
	l := New(PathFor(filepath.Join(dir, "setup")), nil)
	const writers, frames = 4, 500
	long := strings.Repeat("d", 150) // lines of ~230 bytes: many cross a page boundary
	ctx, cancel := context.WithCancel(context.Background())
	var reads, torn, partialTails, followed atomic.Int64
	readerDone := make(chan struct{})
	go func() { // follows the file like tail -f: reads what was added since the last read
		defer close(readerDone)
		var f *os.File
		var pending []byte // read after the last newline
		buf := make([]byte, 1<<16)
		for {
			last := ctx.Err() != nil // one more pass after the writers ended
			if f == nil {
				f, _ = os.Open(l.Path())
			}
			if f != nil {
				n, _ := f.Read(buf)
				if n > 0 {
					reads.Add(1)
					pending = append(pending, buf[:n]...)
					end := bytes.LastIndexByte(pending, '\n') + 1
					if end != len(pending) {
						partialTails.Add(1)
					}
					for _, line := range strings.SplitAfter(string(pending[:end]), "\n") {
						if line == "" {
							continue
						}
						if _, err := ParseLine(line); err != nil {
							torn.Add(1)
						}
						followed.Add(1)
					}
					pending = pending[end:]
					continue
				}
			}
			if last {
				if f != nil {
					f.Close()
				}
				return
			}
			runtime.Gosched()
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range frames {
				p := filepath.Join(dir, "work", long, fmt.Sprintf("w%d_%05d.chi", w, i))
				l.Append(Entry{p, float64(i), float64(w), 1.0 / 3}, Entry{p + "2", float64(i), float64(w), 2.0 / 3})
			}
		}()
	}
	wg.Wait()
	cancel()
	<-readerDone
	l.Close()
	if torn.Load() != 0 {
		t.Errorf("the reader saw %d torn lines in %d reads", torn.Load(), reads.Load())
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, line := range strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n") {
		e, err := ParseLine(line)
		if err != nil {
			t.Fatalf("final list: %v", err)
		}
		seen[e.Path]++
	}
	if len(seen) != 2*writers*frames {
		t.Errorf("%d distinct lines, want %d", len(seen), 2*writers*frames)
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", p, n)
		}
	}
	if followed.Load() != int64(len(seen)) {
		t.Errorf("the reader followed %d lines, the list has %d", followed.Load(), len(seen))
	}
	t.Logf("%d reads while writing, %d lines followed, %d torn, %d reads ending after the last newline", reads.Load(), followed.Load(), torn.Load(), partialTails.Load())
}

// A list that cannot be written is logged once and does not panic or
// block; entries are dropped.
func TestUnwritableLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	// The results folder is a file: neither MkdirAll nor OpenFile can work
	// (also as root, unlike a permission).
	blocker := filepath.Join(dir, ResultsDir)
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l := New(PathFor(filepath.Join(dir, "setup")), slog.New(slog.NewTextHandler(&logs, nil)))
	for i := range 5 {
		l.Append(Entry{filepath.Join(dir, fmt.Sprintf("%d.chi", i)), 1, 2, 3})
	}
	if n := strings.Count(logs.String(), "live file list not written"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), l.Path()) {
		t.Errorf("the warning does not name %s:\n%s", l.Path(), logs.String())
	}
	// A folder in place of the file is refused too.
	other := filepath.Join(t.TempDir(), "results", "filelist_s.txt")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	l2 := New(other, slog.New(slog.NewTextHandler(&logs, nil)))
	l2.Append(Entry{"a.chi", 1, 2, 3})
	l2.Append(Entry{"b.chi", 1, 2, 3})
	if n := strings.Count(logs.String(), "live file list not written"); n != 1 {
		t.Errorf("folder as list: %d warnings, want 1:\n%s", n, logs.String())
	}
}
