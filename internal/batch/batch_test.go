package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/monitor"
	"github.com/saxsdog/saxs/internal/testframes"
)

// The fixtures shared with the other saxsdog tests (package testframes).
const (
	testRows = testframes.Rows
	testCols = testframes.Cols
)

var (
	writeFile  = testframes.WriteFile
	writeMask  = testframes.WriteMask
	flatCal    = testframes.FlatCal
	frameBytes = testframes.FrameBytes
	writeFrame = testframes.WriteFrame
	checkChi   = testframes.CheckChi
	writeTree  = testframes.WriteTree
	tree       = testframes.Tree()
	treeChi    = testframes.TreeChi()
	checkSVG   = testframes.CheckSVG
	decodePNG  = testframes.DecodePNG
	isMagenta  = testframes.IsMagenta
)

// nestedCal writes a 2.0 calibration with two masks into dir.
func nestedCal(t *testing.T, dir string) string {
	t.Helper()
	writeMask(t, filepath.Join(dir, "m0.msk"), 5)
	writeMask(t, filepath.Join(dir, "m1.msk"), 10)
	p := filepath.Join(dir, "cal2.json")
	writeFile(t, p, []byte(fmt.Sprintf(`{
  "Title": "batch test 2",
  "Geometry": {
    "Imagesize": [%d, %d],
    "BeamCenter": [20.3, 24.7],
    "DedectorDistanceMM": 100,
    "PixelSizeMicroM": [172],
    "Tilt": {"TiltRotDeg": 0, "TiltAngleDeg": 0}
  },
  "Wavelength": 1.54,
  "Directory": ["."],
  "Masks": [
    {"MaskFile": "m0.msk", "Oversampling": 2, "PixelPerRadialElement": 1, "qStart": 0, "qStop": 0},
    {"MaskFile": "m1.msk", "Oversampling": 3, "PixelPerRadialElement": 2, "qStart": 0, "qStop": 0}
  ]
}`, testRows, testCols)))
	return p
}

func loadCal(t *testing.T, path string) *saxs.Calibration {
	t.Helper()
	c, err := saxs.LoadCalibration(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// listFiles returns the regular files below dir, relative and sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var list []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			list = append(list, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(list)
	return list
}

func sortedValues(m map[string]string) []string {
	var l []string
	for _, v := range m {
		l = append(l, v)
	}
	sort.Strings(l)
	return l
}

func TestConvertMirrorsTree(t *testing.T) {
	for _, walkFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("WalkFirst=%v", walkFirst), func(t *testing.T) {
			dir := t.TempDir()
			cal := loadCal(t, flatCal(t, dir))
			data := filepath.Join(dir, "data")
			out := filepath.Join(dir, "out")
			writeTree(t, data)
			var calls int
			s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out,
				Workers: 3, WalkFirst: walkFirst, Progress: func(Progress) { calls++ }})
			if err != nil {
				t.Fatal(err)
			}
			if s.Converted != len(tree) || s.Failed != 0 || s.Skipped != 0 || s.Found != len(tree) {
				t.Fatalf("summary %+v, want %d converted", s, len(tree))
			}
			if calls < len(tree) {
				t.Errorf("progress called %d times", calls)
			}
			if got, want := listFiles(t, out), sortedValues(treeChi); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("outputs %v, want %v", got, want)
			}
			for rel, v := range tree {
				checkChi(t, filepath.Join(out, treeChi[rel]), float64(v))
			}
			if s.ErrorLog != "" {
				t.Errorf("errors log %q written without failures", s.ErrorLog)
			}
		})
	}
}

func TestDefaultOutDirAndRelativeRoots(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	writeTree(t, filepath.Join(dir, "data"))
	t.Chdir(dir)
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{"data"}})
	if err != nil || s.Converted != len(tree) {
		t.Fatalf("Run: %+v, %v", s, err)
	}
	for rel, v := range tree {
		checkChi(t, filepath.Join("out", treeChi[rel]), float64(v))
	}
}

func TestSeveralRoots(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	r1 := filepath.Join(dir, "run1")
	r2 := filepath.Join(dir, "x", "run10")
	writeFrame(t, filepath.Join(r1, "a.tif"), 1)
	writeFrame(t, filepath.Join(r2, "sub", "a.tif"), 2)
	single := filepath.Join(dir, "x", "single.tif")
	writeFrame(t, single, 3)
	out := filepath.Join(dir, "out")
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{r1, r2, single}, OutDir: out})
	if err != nil || s.Converted != 3 {
		t.Fatalf("Run: %+v, %v", s, err)
	}
	checkChi(t, filepath.Join(out, "run1", "a.chi"), 1)
	checkChi(t, filepath.Join(out, "run10", "sub", "a.chi"), 2)
	checkChi(t, filepath.Join(out, "single.chi"), 3)

	// Two folders with the same name would mix their outputs.
	r3 := filepath.Join(dir, "y", "run1")
	writeFrame(t, filepath.Join(r3, "b.tif"), 1)
	_, err = New(Config{Calibration: cal, Roots: []string{r1, r3}, OutDir: out})
	if err == nil || !strings.Contains(err.Error(), "same name") {
		t.Errorf("same-name roots: err = %v", err)
	}
	// Nested and repeated roots.
	if _, err = New(Config{Calibration: cal, Roots: []string{r2, filepath.Join(r2, "sub")}, OutDir: out}); err == nil || !strings.Contains(err.Error(), "inside") {
		t.Errorf("nested roots: err = %v", err)
	}
	if _, err = New(Config{Calibration: cal, Roots: []string{r1, r1 + "/"}, OutDir: out}); err == nil {
		t.Errorf("repeated root accepted")
	}
	if _, err = New(Config{Calibration: cal, Roots: []string{filepath.Join(dir, "missing")}, OutDir: out}); err == nil {
		t.Errorf("missing root accepted")
	}
}

func TestOutDirInsideRootIsSkipped(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	writeFrame(t, filepath.Join(data, "a.tif"), 1)
	out := filepath.Join(data, "out")
	writeFrame(t, filepath.Join(out, "stray.tif"), 1) // must not be converted
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out})
	if err != nil || s.Converted != 1 || s.Found != 1 {
		t.Fatalf("Run: %+v, %v", s, err)
	}
	checkChi(t, filepath.Join(out, "a.chi"), 1)
}

func TestBadFramesAreSkipped(t *testing.T) {
	_, cal, data, out := fixture(t)
	writeTree(t, data)
	good := frameBytes(t, testRows, testCols, 1)
	bad := map[string][]byte{
		"a/truncated.tif": good[:len(good)/2],
		"a/text.tif":      []byte("this is not a TIFF file\n"),
		"b/small.tif":     frameBytes(t, testRows-1, testCols, 1),
		"b/empty.tiff":    nil,
	}
	for rel, b := range bad {
		writeFile(t, filepath.Join(data, rel), b)
	}
	// An earlier errors log is replaced.
	writeFile(t, filepath.Join(out, ErrorLogName), []byte("old\n"))

	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if s.Converted != len(tree) || s.Failed != len(bad) {
		t.Fatalf("summary %+v", s)
	}
	var names []string
	for _, f := range s.Failures {
		rel, _ := filepath.Rel(data, f.Path)
		names = append(names, filepath.ToSlash(rel))
		if f.Reason() == "" || strings.HasPrefix(f.Reason(), f.Path) {
			t.Errorf("reason of %s: %q", f.Path, f.Reason())
		}
	}
	if got, want := strings.Join(names, " "), "a/text.tif a/truncated.tif b/empty.tiff b/small.tif"; got != want {
		t.Errorf("failures %s, want %s", got, want)
	}
	for _, f := range s.Failures {
		if strings.HasSuffix(f.Path, "small.tif") {
			var se *saxs.SizeError
			if !errors.As(f.Err, &se) {
				t.Errorf("small.tif: error %v is not a SizeError", f.Err)
			}
		} else {
			var fe *saxs.FormatError
			if !errors.As(f.Err, &fe) {
				t.Errorf("%s: error %v is not a FormatError", f.Path, f.Err)
			}
		}
	}
	for rel, v := range tree {
		checkChi(t, filepath.Join(out, treeChi[rel]), float64(v))
	}
	for rel := range bad {
		if _, err := os.Stat(filepath.Join(out, chiName(rel))); err == nil {
			t.Errorf("output written for bad frame %s", rel)
		}
	}
	if s.ErrorLog != filepath.Join(out, ErrorLogName) {
		t.Fatalf("errors log %q", s.ErrorLog)
	}
	logData, err := os.ReadFile(s.ErrorLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(logData), "\n"), "\n")
	if len(lines) != len(bad) {
		t.Fatalf("errors log:\n%s", logData)
	}
	for i, f := range s.Failures {
		if !strings.HasPrefix(lines[i], f.Path+": ") {
			t.Errorf("errors log line %q does not start with %s", lines[i], f.Path)
		}
	}

	// A clean run removes the errors log.
	for rel := range bad {
		os.Remove(filepath.Join(data, rel))
	}
	s, err = Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out})
	if err != nil || s.Failed != 0 {
		t.Fatalf("clean run: %+v, %v", s, err)
	}
	if _, err := os.Stat(filepath.Join(out, ErrorLogName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors log left after a clean run: %v", err)
	}
}

// fixture returns a temporary folder with a flat calibration and its mask,
// the calibration, and the paths of its data and output folders (neither
// is created).
func fixture(t *testing.T) (dir string, cal *saxs.Calibration, data, out string) {
	t.Helper()
	dir = t.TempDir()
	return dir, loadCal(t, flatCal(t, dir)), filepath.Join(dir, "data"), filepath.Join(dir, "out")
}

func TestResume(t *testing.T) {
	_, cal, data, out := fixture(t)
	writeTree(t, data)
	cfg := Config{Calibration: cal, Roots: []string{data}, OutDir: out, Resume: true}
	s, err := Run(context.Background(), cfg)
	if err != nil || s.Converted != len(tree) {
		t.Fatalf("first run: %+v, %v", s, err)
	}
	s, err = Run(context.Background(), cfg)
	if err != nil || s.Converted != 0 || s.Skipped != len(tree) {
		t.Fatalf("second run: %+v, %v", s, err)
	}

	// Two deleted outputs are made again, and only they.
	os.Remove(filepath.Join(out, "a/b/x.chi"))
	os.Remove(filepath.Join(out, "top.chi"))
	s, err = Run(context.Background(), cfg)
	if err != nil || s.Converted != 2 || s.Skipped != len(tree)-2 {
		t.Fatalf("after deleting 2: %+v, %v", s, err)
	}
	checkChi(t, filepath.Join(out, "a/b/x.chi"), 3)
	checkChi(t, filepath.Join(out, "top.chi"), 6)

	// An incomplete output (no "\n " ending) and an output older than its
	// frame are made again.
	p := filepath.Join(out, "a/z.chi")
	b, _ := os.ReadFile(p)
	writeFile(t, p, b[:len(b)-10])
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(data, "c/deep.TIFF"), future, future); err != nil {
		t.Fatal(err)
	}
	s, err = Run(context.Background(), cfg)
	if err != nil || s.Converted != 2 || s.Skipped != len(tree)-2 {
		t.Fatalf("after damaging 2: %+v, %v", s, err)
	}
	checkChi(t, p, 5)

	// Without Resume everything is converted.
	cfg.Resume = false
	s, err = Run(context.Background(), cfg)
	if err != nil || s.Converted != len(tree) {
		t.Fatalf("without resume: %+v, %v", s, err)
	}
}

func TestInPlaceAndRelPath(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	writeTree(t, data)
	errLog := filepath.Join(dir, "errors.log")

	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, InPlace: true, ErrorLog: errLog})
	if err != nil || s.Converted != len(tree) {
		t.Fatalf("in place: %+v, %v", s, err)
	}
	for rel, v := range tree {
		checkChi(t, filepath.Join(data, treeChi[rel]), float64(v))
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("out folder made in place mode")
	}

	for _, rp := range []string{"work", "../work"} {
		s, err = Run(context.Background(), Config{Calibration: cal, Roots: []string{filepath.Join(data, "a")},
			RelPath: rp, ErrorLog: errLog})
		if err != nil || s.Converted != 3 || s.Failed != 0 {
			t.Fatalf("relpath %s: %+v, %v", rp, s, err)
		}
		checkChi(t, filepath.Join(data, "a/b", rp, "x.chi"), 3)
		checkChi(t, filepath.Join(data, "a/b", rp, "y.chi"), 4)
		checkChi(t, filepath.Join(data, "a", rp, "z.chi"), 5)
	}

	// With ../work, data/a/z.tif and data/b/z.tif would both write
	// data/work/z.chi: the second one is reported, not overwritten.
	writeFrame(t, filepath.Join(data, "b", "z.tif"), 9)
	s, err = Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, RelPath: "../work", ErrorLog: errLog})
	if err != nil || s.Failed != 1 || !strings.Contains(s.Failures[0].Reason(), "already written") {
		t.Fatalf("collision: %+v, %v", s, err)
	}

	if _, err := New(Config{Calibration: cal, Roots: []string{data}, InPlace: true, RelPath: "w"}); err == nil {
		t.Error("InPlace with RelPath accepted")
	}
}

func TestSameNameDifferentExtensionCollides(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	writeFrame(t, filepath.Join(data, "x.tif"), 1)
	writeFrame(t, filepath.Join(data, "x.tiff"), 2)
	out := filepath.Join(dir, "out")
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out})
	if err != nil || s.Converted != 1 || s.Failed != 1 || !strings.HasSuffix(s.Failures[0].Path, "x.tiff") {
		t.Fatalf("%+v, %v", s, err)
	}
	checkChi(t, filepath.Join(out, "x.chi"), 1) // the lexically first wins
}

func TestTwoMasks(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, nestedCal(t, dir))
	data := filepath.Join(dir, "data")
	writeFrame(t, filepath.Join(data, "s", "f.tif"), 7)
	out := filepath.Join(dir, "out")
	c, err := New(Config{Calibration: cal, Roots: []string{data}, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := c.OutputPaths(filepath.Join(data, "s", "f.tif"))
	if err != nil || len(paths) != 2 || paths[0] != filepath.Join(out, "s", "f_cR0.chi") || paths[1] != filepath.Join(out, "s", "f_cR1.chi") {
		t.Fatalf("OutputPaths: %v, %v", paths, err)
	}
	s, err := c.Run(context.Background())
	if err != nil || s.Converted != 1 {
		t.Fatalf("%+v, %v", s, err)
	}
	if got := strings.Join(listFiles(t, out), " "); got != "s/f_cR0.chi s/f_cR1.chi" {
		t.Fatalf("outputs %s", got)
	}
	a, _ := saxs.ReadChiFile(paths[0])
	b, _ := saxs.ReadChiFile(paths[1])
	if a == nil || b == nil || a.Len() == b.Len() {
		t.Errorf("the two curves should differ in length (PPRE 1 and 2)")
	}
	checkChi(t, paths[0], 7)
	checkChi(t, paths[1], 7)

	// Resume checks both outputs.
	os.Remove(paths[1])
	s, err = Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out, Resume: true})
	if err != nil || s.Converted != 1 {
		t.Fatalf("resume with one of two outputs: %+v, %v", s, err)
	}
}

// waitGoroutines waits until the goroutine count drops to n or below.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCancelledContext(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	writeTree(t, data)
	out := filepath.Join(dir, "out")
	c, err := New(Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := c.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if s.Converted != 0 {
		t.Errorf("converted %d frames with a cancelled context", s.Converted)
	}
	waitGoroutines(t, before)
}

func TestCancelStopsEarly(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	const n = 60
	for i := range n {
		writeFrame(t, filepath.Join(data, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%03d.tif", i)), 2)
	}
	out := filepath.Join(dir, "out")
	for _, walkFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("WalkFirst=%v", walkFirst), func(t *testing.T) {
			os.RemoveAll(out)
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const workers = 3
			s, err := Run(ctx, Config{Calibration: cal, Roots: []string{data}, OutDir: out, Workers: workers,
				WalkFirst: walkFirst, Progress: func(p Progress) {
					if p.Done() >= 5 {
						cancel()
					}
				}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if s.Converted < 5 || s.Converted > 5+workers || s.Failed != 0 {
				t.Errorf("summary %+v: want 5 to %d converted", s, 5+workers)
			}
			// Every frame started was finished: its output is complete.
			outs := listFiles(t, out)
			if len(outs) != s.Converted {
				t.Errorf("%d outputs for %d converted frames", len(outs), s.Converted)
			}
			for _, o := range outs {
				checkChi(t, filepath.Join(out, o), 2)
			}
			waitGoroutines(t, before)
		})
	}
}

func TestSource(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	writeTree(t, data)
	out := filepath.Join(dir, "out")
	var mu sync.Mutex
	var done []string
	src := func(ctx context.Context, add func(string) error) error {
		for _, rel := range []string{"a/b/x.tif", "top.tif"} {
			if err := add(filepath.Join(data, rel)); err != nil {
				return err
			}
		}
		return add(filepath.Join(dir, "elsewhere.tif")) // outside the roots: a failure
	}
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out, NoWalk: true,
		Sources: []Source{src}, Progress: func(p Progress) {
			if p.File != nil {
				mu.Lock()
				done = append(done, p.File.Path)
				mu.Unlock()
			}
		}})
	if err != nil || s.Converted != 2 || s.Failed != 1 {
		t.Fatalf("%+v, %v", s, err)
	}
	checkChi(t, filepath.Join(out, "a/b/x.chi"), 3)
	checkChi(t, filepath.Join(out, "top.chi"), 6)
	if len(done) != 3 {
		t.Errorf("progress saw %v", done)
	}

	failing := func(ctx context.Context, add func(string) error) error { return errors.New("watch broke") }
	_, err = Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out, Sources: []Source{failing}})
	if err == nil || !strings.Contains(err.Error(), "watch broke") {
		t.Errorf("source error not returned: %v", err)
	}
}

func TestSymlinks(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	other := filepath.Join(dir, "other")
	writeFrame(t, filepath.Join(data, "a.tif"), 1)
	writeFrame(t, filepath.Join(other, "b.tif"), 2)
	if err := os.Symlink(other, filepath.Join(data, "linkdir")); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := os.Symlink(filepath.Join(other, "b.tif"), filepath.Join(data, "link.tif")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out})
	if err != nil || s.Converted != 2 {
		t.Fatalf("%+v, %v", s, err)
	}
	if got := strings.Join(listFiles(t, out), " "); got != "a.chi link.chi" {
		t.Errorf("outputs %s (a symlinked folder must not be followed)", got)
	}
	// A root that is itself a symlink to a folder is followed.
	root := filepath.Join(dir, "rootlink")
	if err := os.Symlink(other, root); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "out2")
	s, err = Run(context.Background(), Config{Calibration: cal, Roots: []string{root}, OutDir: out2})
	if err != nil || s.Converted != 1 {
		t.Fatalf("symlinked root: %+v, %v", s, err)
	}
	checkChi(t, filepath.Join(out2, "b.chi"), 2)
}

func TestUnreadableFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every folder")
	}
	dir := t.TempDir()
	cal := loadCal(t, flatCal(t, dir))
	data := filepath.Join(dir, "data")
	writeFrame(t, filepath.Join(data, "a.tif"), 1)
	locked := filepath.Join(data, "locked")
	writeFrame(t, filepath.Join(locked, "b.tif"), 1)
	os.Chmod(locked, 0)
	defer os.Chmod(locked, 0o755)
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: filepath.Join(dir, "out")})
	if err != nil || s.Converted != 1 || s.Failed != 1 || s.Failures[0].Path != locked {
		t.Fatalf("%+v, %v", s, err)
	}
}

func TestChiName(t *testing.T) {
	for in, want := range map[string]string{
		"x.tif": "x.chi", "x.TIF": "x.chi", "x.tiff": "x.chi", "x.TiFf": "x.chi",
		"a.b.tif": "a.b.chi", "x.png": "x.chi", "x": "x.chi",
	} {
		if got := chiName(in); got != want {
			t.Errorf("chiName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]bool{
		"x.tif": true, "X.TIFF": true, ".tif": false, "motif": false, "x.tif.bak": false, "x.tiff2": false,
	} {
		if got := isTIFFName(in); got != want {
			t.Errorf("isTIFFName(%q) = %v", in, got)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		p, d string
		want bool
	}{
		{"/run1/a", "/run1", true},
		{"/run10/a", "/run1", false},
		{"/run1", "/run1", false},
		{"/a", "/", true},
	} {
		if got := within(c.p, c.d); got != c.want {
			t.Errorf("within(%q, %q) = %v", c.p, c.d, got)
		}
	}
}

// BenchmarkConvert converts the Pilatus 1M reference frame (from the shared
// reference data, skipped when absent) repeatedly on one worker's reader,
// image and result: bytes/op shows that no image buffer is allocated per
// frame (a frame is 4 MB).
func BenchmarkConvert(b *testing.B) {
	ref := "../../../shared/data/saxsdog-reference"
	frame := filepath.Join(ref, "buf1_00000.tif")
	if _, err := os.Stat(frame); err != nil {
		b.Skip("reference data not found")
	}
	cal, err := saxs.LoadCalibration(filepath.Join(ref, "cal.json"))
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	c, err := New(Config{Calibration: cal, Roots: []string{frame}, OutDir: out, Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	r := &run{c: c, start: time.Now(), claims: map[string]string{}}
	j, ok := r.prepare(frame, 0)
	if !ok {
		b.Fatal(r.failures)
	}
	var rd saxs.ImageReader
	img := new(saxs.Image)
	res := c.ig.NewResult()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if fr, _ := c.convert(context.Background(), j, &rd, img, res); fr.Status != Converted {
			b.Fatal(fr.Err)
		}
	}
}

func TestSVGAndPNG(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, nestedCal(t, dir))
	data := filepath.Join(dir, "data")
	writeFrame(t, filepath.Join(data, "s", "f.tif"), 7)
	writeFrame(t, filepath.Join(data, "g.tif"), 3)
	out := filepath.Join(dir, "out")
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out,
		SVG: true, PNG: true, Workers: 2})
	if err != nil || s.Converted != 2 || s.Failed != 0 {
		t.Fatalf("%+v, %v", s, err)
	}
	want := "g.png g_cR0.chi g_cR0.svg g_cR1.chi g_cR1.svg s/f.png s/f_cR0.chi s/f_cR0.svg s/f_cR1.chi s/f_cR1.svg"
	if got := strings.Join(listFiles(t, out), " "); got != want {
		t.Fatalf("outputs %s\nwant    %s", got, want)
	}
	for _, p := range []string{"g_cR0.svg", "g_cR1.svg", "s/f_cR0.svg", "s/f_cR1.svg"} {
		checkSVG(t, filepath.Join(out, p))
	}
	svg, _ := os.ReadFile(filepath.Join(out, "s/f_cR1.svg"))
	if !bytes.Contains(svg, []byte("f.tif")) {
		t.Errorf("the plot is not titled with the file name")
	}
	// The first mask (a 5 × 5 block in the top left corner) is marked.
	m := decodePNG(t, filepath.Join(out, "s/f.png"))
	if !isMagenta(m.At(0, 0)) || !isMagenta(m.At(4, 4)) || isMagenta(m.At(5, 5)) || isMagenta(m.At(testCols-1, testRows-1)) {
		t.Errorf("mask not drawn as expected: %v %v %v", m.At(0, 0), m.At(4, 4), m.At(5, 5))
	}
	decodePNG(t, filepath.Join(out, "g.png"))

	// With an Integrator and no calibration, no mask is drawn.
	ig, err := saxs.New(loadCal(t, flatCal(t, dir)))
	if err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "out2")
	s, err = Run(context.Background(), Config{Integrator: ig, Roots: []string{data}, OutDir: out2, SVG: true, PNG: true})
	if err != nil || s.Converted != 2 {
		t.Fatalf("integrator only: %+v, %v", s, err)
	}
	if got := strings.Join(listFiles(t, out2), " "); got != "g.chi g.png g.svg s/f.chi s/f.png s/f.svg" {
		t.Fatalf("outputs %s", got)
	}
	checkSVG(t, filepath.Join(out2, "s/f.svg"))
	if m := decodePNG(t, filepath.Join(out2, "s/f.png")); isMagenta(m.At(0, 0)) {
		t.Errorf("a mask is drawn without a calibration")
	}

	// A mask that cannot be read is an error of New.
	bad := loadCal(t, flatCal(t, dir))
	bad.Masks[0].MaskFile = "missing.msk"
	if _, err := New(Config{Calibration: bad, Integrator: ig, Roots: []string{data}, OutDir: out2, PNG: true}); err == nil {
		t.Error("missing mask of the pictures accepted")
	}
}

func TestResumeWithPictures(t *testing.T) {
	_, cal, data, out := fixture(t)
	writeTree(t, data)
	cfg := Config{Calibration: cal, Roots: []string{data}, OutDir: out, Resume: true}

	// .chi files only: a run with -s -p adds the pictures.
	s, err := Run(context.Background(), cfg)
	if err != nil || s.Converted != len(tree) {
		t.Fatalf("first run: %+v, %v", s, err)
	}
	cfg.SVG, cfg.PNG = true, true
	s, err = Run(context.Background(), cfg)
	if err != nil || s.Converted != len(tree) {
		t.Fatalf("with pictures: %+v, %v", s, err)
	}
	if n := len(listFiles(t, out)); n != 3*len(tree) {
		t.Fatalf("%d outputs, want %d", n, 3*len(tree))
	}
	s, err = Run(context.Background(), cfg)
	if err != nil || s.Converted != 0 || s.Skipped != len(tree) {
		t.Fatalf("all up to date: %+v, %v", s, err)
	}

	// A missing .png or .svg is made again, and only that frame (the
	// original tested the .svg for the .png).
	os.Remove(filepath.Join(out, "a/b/x.png"))
	os.Remove(filepath.Join(out, "top.svg"))
	var mu sync.Mutex
	var redone []string
	cfg.Progress = func(p Progress) {
		if p.File != nil && p.File.Status == Converted {
			mu.Lock()
			rel, _ := filepath.Rel(data, p.File.Path)
			redone = append(redone, filepath.ToSlash(rel))
			mu.Unlock()
		}
	}
	s, err = Run(context.Background(), cfg)
	if err != nil || s.Converted != 2 || s.Skipped != len(tree)-2 {
		t.Fatalf("after deleting a picture: %+v, %v", s, err)
	}
	sort.Strings(redone)
	if got := strings.Join(redone, " "); got != "a/b/x.tif top.tif" {
		t.Errorf("redone %s", got)
	}
	decodePNG(t, filepath.Join(out, "a/b/x.png"))
	checkSVG(t, filepath.Join(out, "top.svg"))

	// Without -s and -p the pictures are not needed.
	os.Remove(filepath.Join(out, "a/z.png"))
	cfg.SVG, cfg.PNG, cfg.Progress = false, false, nil
	s, err = Run(context.Background(), cfg)
	if err != nil || s.Skipped != len(tree) {
		t.Fatalf("resume without pictures: %+v, %v", s, err)
	}
}

func TestMonitorOutput(t *testing.T) {
	dir := t.TempDir()
	cal := loadCal(t, nestedCal(t, dir))
	data := filepath.Join(dir, "data")
	writeFrame(t, filepath.Join(data, "a.tif"), 2)
	writeFrame(t, filepath.Join(data, "b.tif"), 5)
	mon := monitor.New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, err := mon.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: filepath.Join(dir, "out"),
		Workers: 1, WalkFirst: true, Outputs: []Output{MonitorOutput(mon)}})
	if err != nil || s.Converted != 2 {
		t.Fatalf("%+v, %v", s, err)
	}
	resp, err := http.Get(url + "latest.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msg struct {
		File   string `json:"file"`
		Curves []struct {
			Name string     `json:"name"`
			I    []*float64 `json:"i"`
		} `json:"curves"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil {
		t.Fatal(err)
	}
	if msg.File != filepath.Join(data, "b.tif") || len(msg.Curves) != 2 {
		t.Fatalf("latest frame %q with %d curves", msg.File, len(msg.Curves))
	}
	for _, c := range msg.Curves {
		for _, v := range c.I {
			if v != nil && *v != 5 {
				t.Fatalf("curve %s: I = %v, want 5", c.Name, *v)
			}
		}
	}
	cancel()
	if err := mon.Wait(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestTempTarget(t *testing.T) {
	for name, want := range map[string]string{
		".x.chi.tmp123":       "x.chi",
		".x.tmp1.chi.tmp9":    "x.tmp1.chi",
		".saxsdog.log.tmp0":   "saxsdog.log",
		"x.chi.tmp123":        "",
		".x.chi.tmp":          "",
		".x.chi.tmp12a":       "",
		".x.chi.tmpabc":       "",
		".x.chi":              "",
		"..tmp1":              "",
		".tmp1":               "",
		".x.chi.tmp123.chi":   "",
		".x.chi.tmp-12":       "",
		".f0001.svg.tmp42":    "f0001.svg",
		".notes.txt.tmp5":     "notes.txt",
		".x.chi.partial.tmp1": "x.chi.partial",
	} {
		if got := tempTarget(name); got != want {
			t.Errorf("tempTarget(%q) = %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]bool{
		".x.chi.tmp1": true, ".x.svg.tmp1": true, ".x.png.tmp1": true, "..chi.tmp1": false,
		".x.txt.tmp1": false, ".x.CHI.tmp1": false, ".x.chi.partial.tmp1": false, ".saxsdog-errors.log.tmp1": false,
	} {
		if got := isOutputTemp(name); got != want {
			t.Errorf("isOutputTemp(%q) = %v", name, got)
		}
	}
}

func TestStaleTemporariesRemoved(t *testing.T) {
	_, cal, data, out := fixture(t)
	writeTree(t, data)
	old := time.Now().Add(-time.Minute)
	future := time.Now().Add(time.Hour)
	stale := []string{"a/b/.x.chi.tmp123", "a/b/.y.svg.tmp4", "a/.gone.png.tmp77", "." + ErrorLogName + ".tmp5"}
	kept := []string{
		"a/b/x.chi.tmp1",             // no leading dot
		"a/b/.x.chi.tmpabc",          // not digits
		"a/.notes.txt.tmp5",          // not an output
		"a/.z.chi.tmp5.bak",          // not the pattern
		"a/.fresh.chi.tmp9",          // newer than the run
		"other/.x.chi.tmp1",          // a folder the run does not write to
		"c/.deep.chi.tmp9/inner.txt", // a folder, not a file
	}
	for _, p := range append(append([]string(nil), stale...), kept...) {
		writeFile(t, filepath.Join(out, p), []byte("partial"))
		if err := os.Chtimes(filepath.Join(out, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(filepath.Join(out, "a/.fresh.chi.tmp9"), future, future); err != nil {
		t.Fatal(err)
	}
	// In place, the folders of the frames are cleaned too.
	writeFile(t, filepath.Join(data, "a/.z.chi.tmp31"), []byte("partial"))
	os.Chtimes(filepath.Join(data, "a/.z.chi.tmp31"), old, old)

	s, err := Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, OutDir: out, Resume: true})
	if err != nil || s.Converted != len(tree) {
		t.Fatalf("%+v, %v", s, err)
	}
	for _, p := range stale {
		if _, err := os.Lstat(filepath.Join(out, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s not removed: %v", p, err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(filepath.Join(out, p)); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "a/.z.chi.tmp31")); err != nil {
		t.Errorf("temporary file in a frame folder removed without -i: %v", err)
	}
	s, err = Run(context.Background(), Config{Calibration: cal, Roots: []string{data}, InPlace: true, ErrorLog: "-"})
	if err != nil || s.Converted != len(tree) {
		t.Fatalf("in place: %+v, %v", s, err)
	}
	if _, err := os.Stat(filepath.Join(data, "a/.z.chi.tmp31")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file next to the frames not removed: %v", err)
	}
}
