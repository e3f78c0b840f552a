package batch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs the command with args in dir and returns the exit status,
// stdout and stderr.
func runMain(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "user-cache")) // the default operator cache
	var stdout, stderr bytes.Buffer
	code := mainContext(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"-c", "x.json", "-t3", "--out=res", "-rSD", "d1", "d2"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.calibration != "x.json" || o.threads != 3 || o.out != "res" || !o.resume || !o.silent ||
		!o.walkInThreads || o.inplace || o.nowalk || strings.Join(o.dirs, ",") != "d1,d2" {
		t.Errorf("options %+v", o)
	}
	cfg := o.config()
	if cfg.WalkFirst || cfg.Workers != 3 || cfg.OutDir != "res" || !cfg.Resume {
		t.Errorf("config %+v", cfg)
	}
	o, err = parseArgs([]string{"d"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || o.calibration != "cal.json" || o.out != "out" || o.threads < 1 || !o.config().WalkFirst {
		t.Errorf("defaults %+v, %v", o, err)
	}
	o, err = parseArgs([]string{"-R", "../work", "d"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || o.relpath != "../work" {
		t.Errorf("-R: %+v, %v", o, err)
	}
}

func TestMainUsageErrors(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	for _, args := range [][]string{
		{},                               // no DIRECTORY
		{"--bogus", "data"},              // unknown flag
		{"-t", "0", "data"},              // no workers
		{"-t", "x", "data"},              // not a number
		{"-i", "-R", "w", "data"},        // exclusive
		{"-i", "-o", "res", "data"},      // exclusive
		{"-c", "missing.json", "data"},   // no calibration
		{"-c", "mask.msk", "data"},       // not a calibration
		{"missing"},                      // no such folder
		{"-P", "/nonexistent/p", "data"}, // profile not writable
	} {
		code, _, stderr := runMain(t, dir, args...)
		if code != ExitUsage || !strings.Contains(stderr, "saxsdog: ") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
	code, stdout, _ := runMain(t, dir, "--help")
	if code != ExitOK || !strings.Contains(stdout, "Usage: saxsdog") || !strings.Contains(stdout, "--walkdirinthreads") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout)
	}
}

func TestMainConverts(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	code, stdout, stderr := runMain(t, dir, "-t", "2", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "converted 5, skipped 0, failed 0") || !strings.Contains(stdout, "frames/s") {
		t.Errorf("summary %q", stdout)
	}
	if !strings.Contains(stderr, "msg=converted file=data/a/b/x.tif chi=out/a/b/x.chi") {
		t.Errorf("no per-file log line in %q", stderr)
	}
	for rel, v := range tree {
		checkChi(t, filepath.Join(dir, "out", treeChi[rel]), float64(v))
	}

	// --resume --silent: nothing to do, no per-file lines.
	code, stdout, stderr = runMain(t, dir, "-r", "-S", "data")
	if code != ExitOK || !strings.Contains(stdout, "converted 0, skipped 5, failed 0") || strings.Contains(stderr, "file=") {
		t.Errorf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// -i writes next to the frames, -D converts while walking.
	code, stdout, _ = runMain(t, dir, "-i", "-D", "data")
	if code != ExitOK {
		t.Fatalf("-i: exit %d, %s", code, stdout)
	}
	checkChi(t, filepath.Join(dir, "data/a/b/x.chi"), 3)
}

func TestMainFailures(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	writeFile(t, filepath.Join(dir, "data", "bad.tif"), []byte("not a TIFF"))
	good := frameBytes(t, testRows, testCols, 1)
	writeFile(t, filepath.Join(dir, "data", "a", "cut.tif"), good[:100])

	code, stdout, stderr := runMain(t, dir, "-S", "-R", "proc", "data")
	if code != ExitFailures {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "converted 5, skipped 0, failed 2") ||
		!strings.Contains(stdout, "  data/a/cut.tif: ") || !strings.Contains(stdout, "  data/bad.tif: ") ||
		!strings.Contains(stdout, "failures listed in "+ErrorLogName) {
		t.Errorf("summary %q", stdout)
	}
	if !strings.Contains(stderr, "level=WARN msg=failed file=data/bad.tif") {
		t.Errorf("failure not logged: %q", stderr)
	}
	log, err := os.ReadFile(filepath.Join(dir, ErrorLogName))
	if err != nil || strings.Count(string(log), "\n") != 2 || !strings.HasPrefix(string(log), "data/a/cut.tif: ") {
		t.Errorf("errors log %q, %v", log, err)
	}
	checkChi(t, filepath.Join(dir, "data/a/b/proc/x.chi"), 3)
}

func TestMainInterrupted(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	t.Chdir(dir)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "user-cache"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := mainContext(ctx, []string{"data"}, &stdout, &stderr); code != ExitInterrupted {
		t.Errorf("exit %d, want %d\n%s", code, ExitInterrupted, stderr.String())
	}
	if !strings.Contains(stdout.String(), "converted 0") {
		t.Errorf("summary %q", stdout.String())
	}
}

func TestTermWriter(t *testing.T) {
	var b bytes.Buffer
	tw := &termWriter{w: &b}
	tw.progressLine(Progress{Found: 10, WalkDone: true, Converted: 1})
	tw.Write([]byte("a log line\n"))
	tw.progressLine(Progress{Found: 10, WalkDone: true, Converted: 10})
	tw.endLine()
	want := "\r\033[K  1/10 frames  0.0 fr/s\r\033[Ka log line\n\r\033[K  10/10 frames  0.0 fr/s\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
}
