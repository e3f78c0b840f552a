// Package saxsdogcli is the saxsdog command: its flags, the progress line,
// the summary and the signal handling around the conversion engine of
// package internal/batch.
package saxsdogcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/cli"
	"github.com/saxsdog/saxs/internal/monitor"
)

// Exit statuses of Main.
const (
	ExitOK          = 0   // every frame converted or up to date
	ExitFailures    = 1   // some frames failed (listed in the summary)
	ExitUsage       = 2   // bad command line, calibration or input folders
	ExitInterrupted = 130 // stopped by SIGINT/SIGTERM (128 + SIGINT)
)

// monitorStopTimeout bounds the wait for the plot monitor to stop at the
// end of a run.
const monitorStopTimeout = 2 * time.Second

// silentEvery is how many frames pass between two progress log lines with
// --silent when stderr is not a terminal.
const silentEvery = 100

// options are the saxsdog command-line options.
type options struct {
	calibration   string
	threads       int
	out           string
	inplace       bool
	relpath       string
	resume        bool
	silent        bool
	nowalk        bool
	walkInThreads bool
	profile       string
	watch         bool
	poll          time.Duration
	settle        time.Duration
	timeout       time.Duration
	cacheDir      string
	noCache       bool
	svg           bool
	png           bool
	plotMonitor   bool
	monitorAddr   string
	dirs          []string
	formats       []string
	dat, nxcansas bool
	reduction     reduction
	changed       func(name string) bool // reports whether a flag was given
}

// newCommand defines the saxsdog command line, filling o.
func newCommand(o *options) *cli.Command {
	cmd := cli.New("saxsdog", nil)
	fs := cmd.Flags
	cmd.Help = func() string { return usageText(fs) }
	fs.StringVarP(&o.calibration, cli.FlagCalibration, "c", "cal.json", "calibration `FILE` (0.3.0 or 2.0 schema)")
	fs.IntVarP(&o.threads, cli.FlagThreads, "t", runtime.NumCPU(), "convert `N` frames at once (default: the number of CPUs)")
	fs.StringVarP(&o.out, cli.FlagOut, "o", batch.DefaultOutDir, "write the .chi files to `OUTDIR`, mirroring the folders below each DIRECTORY")
	fs.BoolVarP(&o.inplace, "inplace", "i", false, "write each .chi file next to its frame")
	fs.StringVarP(&o.relpath, cli.FlagRelPath, "R", "", "write each .chi file to the folder `REL` relative to its frame's folder")
	fs.BoolVarP(&o.resume, "resume", "r", false, "skip frames whose .chi files (and pictures with -s, -p) exist, are complete and newer than the frame")
	fs.BoolVarP(&o.silent, cli.FlagSilent, "S", false, "no line per file; a progress line every 100 frames")
	fs.BoolVarP(&o.nowalk, "nowalk", "n", false, "do not convert the files already in the folders")
	fs.BoolVarP(&o.walkInThreads, "walkdirinthreads", "D", false, "start converting while the folders are still being scanned")
	fs.BoolVarP(&o.watch, "watch", "w", false, "after the walk, keep watching the DIRECTORYs and their new subfolders; convert new and rewritten frames until interrupted")
	fs.DurationVar(&o.poll, "poll", 0, "watch by rescanning the folders every `INTERVAL` (e.g. 2s) instead of by file-system events, for network file systems; implies --watch (default: events)")
	fs.DurationVar(&o.settle, "settle", batch.DefaultSettle, "watch: convert a frame once its size and time stamp have not changed for `DURATION`")
	fs.DurationVar(&o.timeout, cli.FlagTimeout, batch.DefaultTimeout, "watch: report a frame that still cannot be read `DURATION` after its last change as failed")
	fs.BoolVarP(&o.svg, "svg", "s", false, "also plot each curve next to its .chi file (x.chi gives x.svg)")
	fs.BoolVarP(&o.png, "png", "p", false, "also write a picture of each frame next to its .chi files (x.png), masked pixels in magenta")
	fs.BoolVarP(&o.plotMonitor, "plotmonitor", "m", false, "show the curves of the latest frame on a live web page while converting; its address is printed at the start")
	fs.StringVar(&o.monitorAddr, "monitor-addr", monitor.DefaultAddr, "serve the plot monitor on `ADDR` (host:port; port 0 picks a free one); implies --plotmonitor")
	fs.StringVar(&o.cacheDir, "cache-dir", "", "keep built integration operators in `DIR` for the next run (default: <user cache folder>/saxs/operators)")
	fs.BoolVar(&o.noCache, "no-cache", false, "do not keep or load built integration operators")
	fs.StringSliceVar(&o.formats, cli.FlagFormat, []string{batch.FormatChi}, "output `FORMATS`, comma-separated: chi (always), dat (pyFAI-style x.dat next to x.chi), nxcansas (one x"+batch.NXcanSASSuffix+" per input file with all its frames)")
	fs.StringVarP(&o.profile, "profile", "P", "", "write a CPU profile to `FILE`")
	addReductionFlags(fs, &o.reduction)
	return cmd
}

// usageText returns the --help text.
func usageText(fs *pflag.FlagSet) string {
	return fmt.Sprintf(`Usage: saxsdog [options] DIRECTORY...

Integrates every detector frame below the DIRECTORYs into a .chi file per
calibration mask (and per GISAXS slice, x_cS<n>.chi, when the 2.0
calibration has Slices): TIFF (*.tif, *.tiff), CBF (*.cbf), EDF (*.edf) and
HDF5/NeXus (*.h5, *.nxs: Eiger master files; their *_data_NNNNNN.h5 data
files are read through the master's links, not on their own). A file of
several frames gives one .chi per frame, x_00000.chi, x_00001.chi, ...
An Eiger pixel_mask is combined with the calibration's masks; header values
(wavelength, distance, beam centre) that disagree with the calibration are
warned about once. --format chi,dat,nxcansas adds x.dat next to each .chi
and one x.nxcansas.h5 per input file. In watch mode a master file whose data
files are not there yet is retried until --timeout.

Options:
%s
Output names: by default OUTDIR mirrors the folders below DIRECTORY
(data/a/x.tif gives OUTDIR/a/x.chi); with several DIRECTORYs each one's tree
goes to OUTDIR/<its name>/. Failures are listed in OUTDIR/%s
(./%s with -i or -R).

Watch mode (-w, --poll): after the walk (skipped with -n) saxsdog keeps
watching the DIRECTORYs, including folders created later, until Ctrl-C. A
new or rewritten frame is converted once its size and time stamp have not
changed for --settle and it reads as a TIFF; on Linux, with events, not
before its writer has closed it (or left it idle for --timeout). A frame
of the wrong size is reported at once; one that cannot be read is retried
with back-off and reported as failed --timeout after its last change;
frames still incomplete at Ctrl-C are reported too. Ctrl-C (or SIGTERM)
finishes the frames in flight and prints the summary with a line saying
the run was stopped. The output folder and other files are ignored.

Not frames: an entry named like a frame that is not a regular file (a
folder x.tif, a FIFO, a dangling symbolic link or a loop) is reported as
failed and counted, never opened. Names with unprintable characters are
quoted in the summary and the errors log ("a\nb.tif").

Pictures (-s, -p): x.svg plots the curve of x.chi on a log scale with bands
of ± the standard deviation of the pixel values in each ring (yellow) and ±
the Poisson error (blue); with several masks each curve x_cR<i>.chi gets its
x_cR<i>.svg. x.png shows the frame itself in false colours on a log scale,
the pixels excluded by the calibration's first mask in magenta. Like the .chi
files they are written atomically, and --resume redoes a frame when one of
them is missing.

Plot monitor (-m): a web page at the printed address (by default on this
machine only: 127.0.0.1, a free port) shows the curves of the latest
converted frame. It is served only while saxsdog runs: in watch mode until
Ctrl-C, otherwise until the last frame is converted (an open page then keeps
showing that frame but no longer updates).

Interrupted runs: a run that is killed may leave temporary files named
.<output>.tmp<digits> next to its outputs; the next run removes those older
than itself from the folders it writes to.

Calibration keys of the Python 3 fork (2.0 schema, at the root):
"OverwriteFiles": false skips frames whose outputs exist, as --resume does;
"Live-Filelisting": true appends "path, I0, I1, I2" per .chi file written to
results/filelist_<name>.txt in the folder above each DIRECTORY <name> (paths
relative to that folder). Without the keys nothing changes.

Operator cache: the integration operators built from a calibration are kept
in the cache folder and loaded by the next run with the same calibration
and masks (--no-cache switches this off).

Exit status: 0 all converted, 1 some frames failed, 2 usage or calibration
error, 130 interrupted (the normal end of watch mode).
`, cli.FlagUsages(fs), batch.ErrorLogName, batch.ErrorLogName)
}

// errDone is returned by parseArgs after --help or --version.
var errDone = errors.New("done")

// parseArgs parses the command line (without the program name). With
// --help or --version it prints the text to stdout and returns errDone;
// it prints nothing else.
func parseArgs(args []string, stdout, stderr io.Writer) (*options, error) {
	o := new(options)
	cmd := newCommand(o)
	fs := cmd.Flags
	if done, err := cmd.ParseFlags(args, stdout); err != nil {
		return nil, err
	} else if done {
		return nil, errDone
	}
	o.dirs = fs.Args()
	o.changed = fs.Changed
	switch {
	case len(o.dirs) == 0:
		return nil, errors.New("no DIRECTORY given")
	case o.threads < 1:
		return nil, fmt.Errorf("--threads must be at least 1, not %d", o.threads)
	case o.inplace && o.relpath != "":
		return nil, errors.New("--inplace and --relpath exclude each other")
	case (o.inplace || o.relpath != "") && fs.Changed("out"):
		return nil, errors.New("--out cannot be combined with --inplace or --relpath")
	case o.out == "":
		return nil, errors.New("--out must not be empty")
	case o.poll < 0:
		return nil, fmt.Errorf("--poll must not be negative, not %v", o.poll)
	case o.settle <= 0:
		return nil, fmt.Errorf("--settle must be positive, not %v", o.settle)
	case o.timeout <= 0:
		return nil, fmt.Errorf("--timeout must be positive, not %v", o.timeout)
	case (fs.Changed("settle") || fs.Changed("timeout")) && !o.watch && o.poll == 0:
		return nil, errors.New("--settle and --timeout only apply with --watch or --poll")
	case o.noCache && fs.Changed("cache-dir"):
		return nil, errors.New("--no-cache and --cache-dir exclude each other")
	case o.monitorAddr == "":
		return nil, errors.New("--monitor-addr must not be empty")
	}
	var err error
	if o.dat, o.nxcansas, err = batch.ParseFormats(o.formats); err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	if o.poll > 0 {
		o.watch = true
	}
	if fs.Changed("monitor-addr") {
		o.plotMonitor = true
	}
	return o, nil
}

// config turns the options into a batch.Config (without the calibration).
func (o *options) config() batch.Config {
	return batch.Config{
		Roots:     o.dirs,
		OutDir:    o.out,
		InPlace:   o.inplace,
		RelPath:   o.relpath,
		Resume:    o.resume,
		Workers:   o.threads,
		WalkFirst: !o.walkInThreads,
		NoWalk:    o.nowalk,
		Watch:     o.watchConfig(),
		SVG:       o.svg,
		PNG:       o.png,
		Dat:       o.dat,
		NXcanSAS:  o.nxcansas,
	}
}

// liveListFolder returns the folder whose live file list holds the frames
// of the input d: d itself, or the folder of a single frame.
func liveListFolder(d string) string {
	if fi, err := os.Stat(d); err == nil && !fi.IsDir() {
		return filepath.Dir(d)
	}
	return d
}

// watchConfig returns the watch settings, nil without --watch.
func (o *options) watchConfig() *batch.Watch {
	if !o.watch {
		return nil
	}
	return &batch.Watch{Settle: o.settle, Timeout: o.timeout, Poll: o.poll}
}

// Main runs the saxsdog command with args (without the program name),
// printing the summary to stdout and logs and progress to stderr, and
// returns the exit status. SIGINT and SIGTERM stop the run after the
// frames in flight (in watch mode, the normal way to end it); a second
// signal kills the program.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	unhook := context.AfterFunc(ctx, func() {
		stop() // restore the default handling: a second signal kills
		fmt.Fprintf(stderr, "\nsaxsdog: %v: finishing the frames in flight (once more to abort)\n", context.Cause(ctx))
	})
	defer unhook() // before stop: a normal end is no interruption
	return mainContext(ctx, args, stdout, stderr)
}

// mainContext is Main with a context instead of signal handling.
func mainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stdout, stderr)
	if errors.Is(err, errDone) {
		return ExitOK
	}
	if err != nil {
		return cli.UsageError(stderr, "saxsdog", err.Error())
	}

	term := isTerminal(stderr)
	out := &termWriter{w: stderr}
	logger := slog.New(slog.NewTextHandler(out, nil))

	if o.profile != "" {
		f, err := os.Create(o.profile)
		if err != nil {
			fmt.Fprintf(stderr, "saxsdog: profile: %v\n", err)
			return ExitUsage
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			fmt.Fprintf(stderr, "saxsdog: profile: %v\n", err)
			return ExitUsage
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(stderr, "saxsdog: profile: %v\n", err)
			}
		}()
	}

	cal, err := loadCalibration(ctx, o.calibration)
	if err != nil {
		return failedSetup(ctx, stdout, stderr, err)
	}
	if err := o.reduction.apply(o.changed, cal); err != nil {
		return failedSetup(ctx, stdout, stderr, err)
	}
	cfg := o.config()
	cfg.Logger = logger
	cfg.Calibration = cal // the mask of the -p pictures
	// The py3 fork's calibration keys: OverwriteFiles false is --resume,
	// Live-Filelisting writes the list of each DIRECTORY.
	if !cal.Overwrite() && !cfg.Resume {
		cfg.Resume = true
		logger.Info("OverwriteFiles is false: frames whose outputs exist are skipped, as with --resume")
	}
	if cfg.LiveFileList = cal.LiveFileList(); cfg.LiveFileList {
		for _, d := range o.dirs {
			logger.Info("live file list", "directory", d, "list", batch.LiveFileListPath(liveListFolder(d)))
		}
	}
	if cfg.Integrator, err = buildIntegrator(ctx, cal, o, logger); err != nil {
		return failedSetup(ctx, stdout, stderr, err)
	}
	cfg.IntegratorOptions = saxs.Options{Workers: o.threads, CacheDir: o.cacheFolder(logger), Logger: logger}
	switch {
	case term:
		cfg.Progress = out.progressLine
	case !o.silent:
		cfg.Progress = func(p batch.Progress) {
			if f := p.File; f != nil && f.Status != batch.Failed { // failures are logged by the Converter
				logger.Info(f.Status.String(), "file", f.Path, "chi", firstNonEmpty(f.Outputs))
			}
		}
	default:
		cfg.Progress = func(p batch.Progress) {
			if p.File != nil && p.Done()%silentEvery == 0 {
				logger.Info("progress", "done", p.Done(), "found", p.Found, "failed", p.Failed,
					"frames_per_second", fmt.Sprintf("%.1f", rate(p.Converted, p.Elapsed)))
			}
		}
	}
	if o.nowalk && !o.watch {
		logger.Warn("--nowalk without --watch: nothing to convert")
	}
	var mon *monitor.Server
	if cal.Reduction != nil && cal.Reduction.Cake != nil {
		cfg.Outputs = append(cfg.Outputs, cakeOutput{ig: cfg.Integrator})
	}
	if o.plotMonitor {
		// Only its warnings: it would log its address, printed below.
		mon = monitor.New(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn})))
		cfg.Outputs = append(cfg.Outputs, batch.MonitorOutput(mon))
	}
	c, err := batch.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "saxsdog: %v\n", err)
		return ExitUsage
	}
	stopMonitor := func() {}
	if mon != nil {
		// Not stopped by an interruption: the frames in flight are still
		// shown; it stops when the run has ended.
		mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		url, err := mon.Start(mctx, o.monitorAddr)
		if err != nil {
			cancel()
			fmt.Fprintf(stderr, "saxsdog: %v\n", err)
			return ExitUsage
		}
		fmt.Fprintf(out, "plot monitor: %s\n", url)
		if !isLoopback(o.monitorAddr) {
			logger.Warn("plot monitor: reachable from other machines", "address", o.monitorAddr)
		}
		stopMonitor = func() {
			cancel()
			wctx, wcancel := context.WithTimeout(context.Background(), monitorStopTimeout)
			defer wcancel()
			if err := mon.Wait(wctx); err != nil {
				logger.Warn("plot monitor: stopping", "error", err)
			}
		}
	}

	s, runErr := c.Run(ctx)
	stopMonitor()
	out.endLine()
	printSummary(stdout, s)
	var stopped *batch.InterruptedError
	if errors.As(runErr, &stopped) {
		// Not an error: Ctrl-C is the normal end of watch mode.
		fmt.Fprintf(stdout, "stopped (%v) after %d of %d frames found; the frames in flight were finished\n",
			stopCause(ctx), stopped.Done, stopped.Found)
	}
	others := otherErrors(runErr)
	for _, err := range others {
		fmt.Fprintf(stderr, "saxsdog: %v\n", err)
	}
	switch {
	case ctx.Err() != nil:
		return ExitInterrupted
	case len(others) > 0, s.Failed > 0:
		return ExitFailures
	}
	return ExitOK
}

// stopCause describes why ctx was cancelled: the signal ("interrupt
// signal received") or "cancelled".
func stopCause(ctx context.Context) string {
	// The cause of a signal also reports errors.Is(cause, context.Canceled):
	// compare with the plain cancellation itself.
	if c := context.Cause(ctx); c != nil && c != context.Canceled { //nolint:errorlint // identity intended
		return c.Error()
	}
	return "cancelled"
}

// otherErrors returns the errors of a run besides its interruption.
func otherErrors(err error) []error {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			list = append(list, otherErrors(e)...)
		}
		return list
	}
	var ie *batch.InterruptedError
	if errors.As(err, &ie) {
		return nil
	}
	return []error{err}
}

// isLoopback reports whether the listening address addr (host:port) only
// accepts connections from this machine.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// printSummary prints the counts, the speed and the failures of a run.
func printSummary(w io.Writer, s batch.Summary) {
	fmt.Fprintf(w, "converted %d, skipped %d, failed %d in %.2f s (%.1f frames/s)\n",
		s.Converted, s.Skipped, s.Failed, s.Elapsed.Seconds(), s.FramesPerSecond)
	if len(s.Failures) == 0 {
		return
	}
	fmt.Fprintln(w, "failures:")
	for _, f := range s.Failures {
		fmt.Fprintf(w, "  %s\n", f)
	}
	if s.ErrorLog != "" {
		fmt.Fprintf(w, "failures listed in %s\n", s.ErrorLog)
	}
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// termWriter writes log records and a self-updating progress line to a
// terminal: a record first clears the line, which the next progress update
// redraws.
type termWriter struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool      // a progress line is on screen
	last  time.Time // when it was drawn
}

// Write writes a log record, clearing the progress line first.
func (t *termWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shown {
		io.WriteString(t.w, "\r\033[K")
		t.shown = false
	}
	return t.w.Write(p)
}

// progressLine redraws the progress line, at most 10 times a second.
func (t *termWriter) progressLine(p batch.Progress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.shown && now.Sub(t.last) < 100*time.Millisecond && !(p.WalkDone && p.Done() == p.Found) {
		return
	}
	t.last = now
	t.shown = true
	io.WriteString(t.w, "\r\033[K"+formatProgress(p))
}

// endLine ends the progress line.
func (t *termWriter) endLine() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shown {
		io.WriteString(t.w, "\n")
		t.shown = false
	}
}

// formatProgress formats the progress line: "  123/1000 frames  456.7 fr/s
// ETA 2s". While the folders are still scanned the total is followed by "+"
// and no ETA is given.
func formatProgress(p batch.Progress) string {
	var b strings.Builder
	done := p.Done()
	fmt.Fprintf(&b, "  %d/%d", done, p.Found)
	if !p.WalkDone {
		b.WriteByte('+')
	}
	fmt.Fprintf(&b, " frames  %.1f fr/s", rate(done, p.Elapsed))
	if p.Failed > 0 {
		fmt.Fprintf(&b, "  %d failed", p.Failed)
	}
	if p.WalkDone && done > 0 && done < p.Found && p.Elapsed > 0 {
		eta := time.Duration(float64(p.Elapsed) / float64(done) * float64(p.Found-done))
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// cacheFolder returns the operator cache folder of the options, created
// when missing, or "" for no cache: with --no-cache, or (after a warning)
// when the folder cannot be found or created. The cache never makes a run
// fail.
func (o *options) cacheFolder(logger *slog.Logger) string {
	if o.noCache {
		return ""
	}
	dir := o.cacheDir
	if dir == "" {
		d, err := saxs.DefaultCacheDir()
		if err != nil {
			logger.Warn("running without operator cache: no cache folder", "error", err)
			return ""
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logger.Warn("running without operator cache", "error", err)
		return ""
	}
	return dir
}

// failedSetup ends a run whose calibration or integrator could not be
// made: a usage error, or, when a signal stopped it (ctx is done), an
// empty summary that says so.
func failedSetup(ctx context.Context, stdout, stderr io.Writer, err error) int {
	if ctx.Err() == nil {
		fmt.Fprintf(stderr, "saxsdog: %v\n", err)
		return ExitUsage
	}
	printSummary(stdout, batch.Summary{})
	fmt.Fprintf(stdout, "stopped (%v) before the first frame\n", stopCause(ctx))
	return ExitInterrupted
}

// loadCalibration reads the calibration file. The file and its mask files
// must be regular files: a FIFO or a device (/dev/zero) is refused before
// anything is opened, so the run neither hangs nor reads without end. A
// signal before it starts stops the run.
func loadCalibration(ctx context.Context, path string) (*saxs.Calibration, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("stopped before reading the calibration: %w", err)
	}
	if err := cli.CheckRegular(path); err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	cal, err := saxs.LoadCalibration(path)
	if err != nil {
		return nil, err
	}
	for i := range cal.Masks {
		// A missing mask is left to the library, which names it.
		if err := cli.CheckRegular(cal.MaskPath(i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: mask %d: %w", path, i, err)
		}
	}
	return cal, nil
}

// buildIntegrator builds (or loads from the operator cache) the
// integrator of a calibration and logs how it went and how long it took.
// Cancelling ctx stops the build (saxs.NewContext).
func buildIntegrator(ctx context.Context, cal *saxs.Calibration, o *options, logger *slog.Logger) (*saxs.Integrator, error) {
	dir := o.cacheFolder(logger)
	before := cacheSnapshot(dir)
	warn := &warnCounter{Handler: logger.Handler(), n: new(atomic.Int32)}
	t0 := time.Now()
	ig, err := saxs.NewContext(ctx, cal, saxs.Options{Workers: o.threads, CacheDir: dir, Logger: slog.New(warn)})
	if err != nil {
		return nil, fmt.Errorf("building the integrator: %w", err)
	}
	elapsed := time.Since(t0)
	how := "built"
	switch {
	case dir == "":
		how = "built (no cache)"
	case warn.n.Load() == 0 && maps.Equal(before, cacheSnapshot(dir)):
		how = "loaded from cache"
	}
	logger.Info("operator "+how, "calibration", o.calibration, "curves", ig.NumCurves(),
		"seconds", fmt.Sprintf("%.2f", elapsed.Seconds()), "cache", dir)
	return ig, nil
}

// cacheSnapshot returns the files of the cache folder with their sizes and
// times, to tell whether building the integrator wrote one.
func cacheSnapshot(dir string) map[string]fileStamp {
	snap := map[string]fileStamp{}
	if dir == "" {
		return snap
	}
	list, _ := os.ReadDir(dir)
	for _, d := range list {
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			snap[d.Name()] = fileStamp{fi.Size(), fi.ModTime().UnixNano()}
		}
	}
	return snap
}

// warnCounter is a slog.Handler counting the records at Warn level and
// above; build it with n set.
type warnCounter struct {
	slog.Handler
	n *atomic.Int32
}

func (w *warnCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.n.Add(1)
	}
	return w.Handler.Handle(ctx, r)
}

func (w *warnCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &warnCounter{Handler: w.Handler.WithAttrs(attrs), n: w.n}
}

func (w *warnCounter) WithGroup(name string) slog.Handler {
	return &warnCounter{Handler: w.Handler.WithGroup(name), n: w.n}
}

// fileStamp identifies a version of a file: its size and modification
// time.
type fileStamp struct{ size, mtime int64 }

// firstNonEmpty returns the first non-empty string of list, or "".
func firstNonEmpty(list []string) string {
	for _, s := range list {
		if s != "" {
			return s
		}
	}
	return ""
}
