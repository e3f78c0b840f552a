package saxsdogcli

import (
	"bytes"
	"context"
	"errors"
	"github.com/saxsdog/saxs/internal/testframes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saxsdog/saxs/internal/batch"
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
		!strings.Contains(stdout, "failures listed in "+batch.ErrorLogName) {
		t.Errorf("summary %q", stdout)
	}
	if !strings.Contains(stderr, "level=WARN msg=failed file=data/bad.tif") {
		t.Errorf("failure not logged: %q", stderr)
	}
	log, err := os.ReadFile(filepath.Join(dir, batch.ErrorLogName))
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
	// Stopped before the operator was built: said so, not an error.
	if !strings.Contains(stdout.String(), "stopped (cancelled) before the first frame") || stderr.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestTermWriter(t *testing.T) {
	var b bytes.Buffer
	tw := &termWriter{w: &b}
	tw.progressLine(batch.Progress{Found: 10, WalkDone: true, Converted: 1})
	tw.Write([]byte("a log line\n"))
	tw.progressLine(batch.Progress{Found: 10, WalkDone: true, Converted: 10})
	tw.endLine()
	want := "\r\033[K  1/10 frames  0.0 fr/s\r\033[Ka log line\n\r\033[K  10/10 frames  0.0 fr/s\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
}

func TestParsePictureAndMonitorFlags(t *testing.T) {
	o, err := parseArgs([]string{"-spm", "d"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || !o.svg || !o.png || !o.plotMonitor || o.monitorAddr != "127.0.0.1:0" {
		t.Fatalf("-spm: %+v, %v", o, err)
	}
	if cfg := o.config(); !cfg.SVG || !cfg.PNG {
		t.Errorf("config %+v", cfg)
	}
	o, err = parseArgs([]string{"--svg", "--png", "d"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || !o.svg || !o.png || o.plotMonitor || o.silent {
		t.Fatalf("long forms: %+v, %v", o, err)
	}
	o, err = parseArgs([]string{"--monitor-addr", "localhost:8123", "d"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || !o.plotMonitor || o.monitorAddr != "localhost:8123" {
		t.Fatalf("--monitor-addr: %+v, %v", o, err)
	}
	if _, err = parseArgs([]string{"--monitor-addr=", "d"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("empty --monitor-addr accepted")
	}
	var stdout bytes.Buffer
	parseArgs([]string{"--help"}, &stdout, &bytes.Buffer{})
	for _, s := range []string{"-s, --svg", "-p, --png", "-m, --plotmonitor", "--monitor-addr ADDR", "until the last frame is converted"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("help lacks %q", s)
		}
	}
}

func TestMainPictures(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	code, stdout, stderr := runMain(t, dir, "-S", "-s", "-p", "data")
	if code != ExitOK || !strings.Contains(stdout, "converted 5, skipped 0") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, chi := range treeChi {
		base := strings.TrimSuffix(filepath.Join(dir, "out", chi), ".chi")
		checkSVG(t, base+".svg")
		if m := decodePNG(t, base+".png"); !isMagenta(m.At(0, 0)) {
			t.Errorf("%s.png: the calibration's mask is not drawn", base)
		}
	}
	os.Remove(filepath.Join(dir, "out", "a/z.png"))
	code, stdout, stderr = runMain(t, dir, "-S", "-r", "-sp", "data")
	if code != ExitOK || !strings.Contains(stdout, "converted 1, skipped 4") {
		t.Errorf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestMainPlotMonitor(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	code, stdout, stderr := runMain(t, dir, "-S", "-m", "data")
	if code != ExitOK || !strings.Contains(stdout, "converted 5") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	m := regexp.MustCompile(`(?m)^plot monitor: (http://127\.0\.0\.1:[0-9]+/)$`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no plot monitor address in %q", stderr)
	}
	if strings.Index(stderr, "plot monitor:") > strings.Index(stderr, "msg=converting") {
		t.Errorf("address printed after the conversion started:\n%s", stderr)
	}
	// The server is gone once Main has returned.
	client := &http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(m[1] + "latest.json"); err == nil {
		resp.Body.Close()
		t.Errorf("plot monitor still serving after the run: %s", resp.Status)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after the run: %v, want connection refused", err)
	}

	// An address that cannot be used is a usage error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr = runMain(t, dir, "--monitor-addr", ln.Addr().String(), "data")
	if code != ExitUsage || !strings.Contains(stderr, "plot monitor") {
		t.Errorf("busy address: exit %d, %q", code, stderr)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:0": true, "localhost:8080": true, "[::1]:1": true, "127.1.2.3:5": true,
		":8080": false, "0.0.0.0:1": false, "192.168.1.2:80": false, "example.org:80": false, "nonsense": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
}

func TestFormatProgress(t *testing.T) {
	p := batch.Progress{Found: 1000, WalkDone: true, Converted: 120, Failed: 3, Elapsed: time.Second}
	if got, want := formatProgress(p), "  123/1000 frames  123.0 fr/s  3 failed  ETA 7s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	p.WalkDone = false
	p.Failed = 0
	if got, want := formatProgress(p), "  120/1000+ frames  120.0 fr/s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseWatchAndCacheFlags(t *testing.T) {
	parse := func(args ...string) (*options, error) {
		return parseArgs(args, &bytes.Buffer{}, &bytes.Buffer{})
	}
	o, err := parse("d")
	if err != nil || o.watch || o.poll != 0 || o.settle != batch.DefaultSettle || o.timeout != batch.DefaultTimeout ||
		o.cacheDir != "" || o.noCache || o.config().Watch != nil {
		t.Errorf("defaults %+v, %v", o, err)
	}
	o, err = parse("-w", "--settle", "100ms", "--timeout=5s", "--no-cache", "d")
	if err != nil || !o.watch || !o.noCache {
		t.Fatalf("-w: %+v, %v", o, err)
	}
	if w := o.config().Watch; w == nil || *w != (batch.Watch{Settle: 100 * time.Millisecond, Timeout: 5 * time.Second}) {
		t.Errorf("-w: watch config %+v", w)
	}
	o, err = parse("--poll", "2s", "--cache-dir", "c", "-n", "d")
	if err != nil || !o.watch || o.cacheDir != "c" || !o.nowalk {
		t.Fatalf("--poll: %+v, %v", o, err)
	}
	if w := o.config().Watch; w == nil || w.Poll != 2*time.Second || w.Settle != batch.DefaultSettle || !o.config().NoWalk {
		t.Errorf("--poll: watch config %+v", w)
	}
	o, err = parse("--watch", "--poll=500ms", "d")
	if err != nil || o.config().Watch.Poll != 500*time.Millisecond {
		t.Errorf("--watch --poll: %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"--no-cache", "--cache-dir", "c", "d"},
		{"--settle", "1s", "d"}, // without --watch
		{"--timeout", "1s", "d"},
		{"-w", "--settle", "0", "d"},
		{"-w", "--timeout", "-1s", "d"},
		{"-w", "--settle", "soon", "d"},
		{"--poll", "-2s", "d"},
	} {
		if _, err := parse(args...); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	var stdout bytes.Buffer
	parseArgs([]string{"--help"}, &stdout, &bytes.Buffer{})
	for _, want := range []string{"-w, --watch", "--poll INTERVAL", "--settle DURATION", "(default 250ms)",
		"--timeout DURATION", "(default 30s)", "--cache-dir DIR", "--no-cache", "Watch mode"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestMainWatch(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	t.Chdir(dir)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "user-cache"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testframes.SyncBuffer
	done := make(chan int)
	go func() {
		done <- mainContext(ctx, []string{"-w", "--settle", "50ms", "--timeout", "1s", "--cache-dir", "cache", "-t", "2", "data"},
			&stdout, &stderr)
	}()
	writeFrame(t, filepath.Join(dir, "data", "sub", "x.tif"), 4)
	deadline := time.Now().Add(testWait)
	for {
		if _, err := os.Stat(filepath.Join(dir, "out", "sub", "x.chi")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no output\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(testWait):
		t.Fatal("saxsdog -w did not stop")
	}
	if code != ExitInterrupted || !strings.Contains(stdout.String(), "converted 1, skipped 0, failed 0") {
		t.Errorf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	// Ctrl-C ends watch mode: the summary says so; it is not an error.
	if !strings.Contains(stdout.String(), "\nstopped (cancelled) after 1 of 1 frames found") ||
		strings.Contains(stderr.String(), "context canceled") || strings.Contains(stderr.String(), "saxsdog: ") {
		t.Errorf("stop not reported as such:\nstdout %s\nstderr %s", stdout.String(), stderr.String())
	}
	checkChi(t, filepath.Join(dir, "out", "sub", "x.chi"), 4)
	if !strings.Contains(stderr.String(), `msg="operator built" calibration=cal.json curves=1 seconds=`) ||
		!strings.Contains(stderr.String(), "msg=watching") {
		t.Errorf("stderr %s", stderr.String())
	}
	if list, _ := os.ReadDir(filepath.Join(dir, "cache")); len(list) != 1 {
		t.Errorf("cache folder holds %d files", len(list))
	}

	// The next run loads the operator.
	code, _, errOut := runMain(t, dir, "--cache-dir", "cache", "data")
	if code != ExitOK || !strings.Contains(errOut, `msg="operator loaded from cache"`) {
		t.Errorf("second run: exit %d\n%s", code, errOut)
	}
	// The default cache folder, no cache, a cache folder that cannot be made.
	code, _, errOut = runMain(t, dir, "data")
	if code != ExitOK || !strings.Contains(errOut, `msg="operator built"`) {
		t.Errorf("default cache: exit %d\n%s", code, errOut)
	}
	if list, _ := os.ReadDir(filepath.Join(dir, "user-cache", "saxs", "operators")); len(list) != 1 {
		t.Errorf("default cache folder holds %d files", len(list))
	}
	code, _, errOut = runMain(t, dir, "--no-cache", "data")
	if code != ExitOK || !strings.Contains(errOut, `msg="operator built (no cache)"`) {
		t.Errorf("--no-cache: exit %d\n%s", code, errOut)
	}
	writeFile(t, filepath.Join(dir, "blocker"), nil)
	code, _, errOut = runMain(t, dir, "--cache-dir", "blocker/cache", "data")
	if code != ExitOK || !strings.Contains(errOut, `level=WARN msg="running without operator cache"`) ||
		!strings.Contains(errOut, `msg="operator built (no cache)"`) {
		t.Errorf("unusable cache folder: exit %d\n%s", code, errOut)
	}
}
