// Package batch converts folders of detector frames (TIFF) into .chi files:
// the pipeline behind the saxsdog command.
//
// A [Converter] walks its input folders, names the output of each frame
// (see [Config] for the rules) and hands the frames over a channel to a
// pool of workers. Each worker owns one [saxs.ImageReader], one [saxs.Image]
// and one [saxs.Result], reused from frame to frame, and shares the single
// [saxs.Integrator] of the run, so reading, integrating and writing of
// different frames overlap without per-frame image buffers.
//
// A frame that cannot be read, has the wrong size or cannot be written is
// reported with its path and skipped; the run goes on and [Converter.Run]
// returns a [Summary] that lists the failures, leaving the exit status to
// the caller. Cancelling the context stops the run: no new frame is
// started, the frames in flight are finished and written.
//
// This fixes the behaviour of the original saxsdog (spec §7, §12): output
// names mirror the input tree instead of being flattened (no dots removed,
// no silent collisions), .tiff files are found too, --resume works and
// checks that the outputs are complete and newer than the frame, and no
// frame in flight is lost at the end.
//
// With Config.SVG and Config.PNG each frame also gets plots of its curves
// and a picture of the frame (internal/render), and Config.Outputs adds
// further per-frame outputs, such as the plot monitor ([MonitorOutput]).
// All outputs are written atomically; temporary files left by a killed
// run are removed by the next one (see [Converter.Run]).
//
// With Config.Watch the run goes on after the walk: the folders are
// watched (fsnotify, or polling) and new or rewritten frames are converted
// once complete, until the context is cancelled (see [Watch]).
package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/atomicfile"
	"github.com/saxsdog/saxs/internal/cli"
)

// ErrorLogName is the file name of the errors log (see Config.ErrorLog).
const ErrorLogName = "saxsdog-errors.log"

// DefaultOutDir is the output folder used when Config.OutDir is empty.
const DefaultOutDir = "out"

// Config describes a conversion run.
//
// Output naming: by default the outputs go to OutDir, mirroring the tree
// below the input folder: with the root "data", data/a/b/x.tif gives
// OutDir/a/b/x.chi. With several roots each one's tree is mirrored below
// OutDir/<base name of the root>/; two folder roots with the same base name
// are refused by New. A root may also be a single frame, whose output is
// OutDir/<name>.chi. With InPlace the output lies next to the frame
// (x.tif gives x.chi); with RelPath it lies in filepath.Join(dir of frame,
// RelPath) (an absolute RelPath is used as is), created when missing. The
// extension .tif or .tiff (in any case) is replaced by .chi; a calibration
// with several masks gives one file per mask, named by
// [saxs.Integrator.ChiPaths] (x_cR0.chi, x_cR1.chi, ...).
//
// Frames found: files whose names end in .tif or .tiff (in any case) below
// each root, recursively, in lexical order, and likewise detector files
// .cbf, .edf, .h5 and .nxs (not Eiger data files *_data_NNNNNN.h5, read
// through their master file's links, nor NXcanSAS outputs; see
// frames.go). These are read with saxs.FrameReader, whatever their content
// (recognised by saxs.DetectFormat); a file of n > 1 frames gives the
// outputs of frame i named by saxs.FramePath (x_00007.chi), a single-frame
// file those of a TIFF of the same name (x.cbf gives x.chi). Frames are
// regular files and symbolic links to regular files. Symbolic links to folders are not followed, and the
// output folder is skipped when it lies inside a root. An entry named like
// a frame that is not one (a folder x.tif, whose contents are walked, a
// FIFO or device, which is never opened, a symbolic link that is dangling,
// loops or leads to something else) is counted as found and reported as
// failed, in the walk and in watch mode alike.
type Config struct {
	// Calibration is used to build the Integrator when Integrator is nil.
	// With PNG its first mask is also marked on the frame pictures, even
	// when Integrator is set.
	Calibration *saxs.Calibration
	// Integrator, when set, is used as is and Calibration is ignored.
	Integrator *saxs.Integrator

	// Roots are the input folders (or single frames); at least one.
	Roots []string
	// OutDir is the output folder, DefaultOutDir when empty; created when
	// missing. Ignored with InPlace or RelPath.
	OutDir string
	// InPlace writes each output next to its frame.
	InPlace bool
	// RelPath writes each output into this folder relative to its frame's
	// folder. It cannot be combined with InPlace.
	RelPath string

	// Resume skips a frame when all its outputs exist, are complete and
	// are at least as new as the frame. A calibration's OverwriteFiles
	// false (saxs.Calibration.Overwrite) asks for the same: its callers
	// set Resume for it.
	Resume bool
	// Workers is the number of frames converted at once; 0 means
	// runtime.NumCPU().
	Workers int
	// WalkFirst walks all roots before the first frame is converted, so
	// that the total is known from the start. Otherwise frames are
	// converted while the walk goes on.
	WalkFirst bool
	// NoWalk does not look at the files already in the roots; only the
	// Sources then supply frames.
	NoWalk bool
	// Sources supply further frames. Each runs in its own goroutine during
	// the run; Run ends when the walk and every source have returned and
	// the frames are converted.
	Sources []Source
	// Watch, when set, keeps watching the folder roots after the walk and
	// converts new and rewritten frames once they are complete, until the
	// context is cancelled (see Watch). Frames of the walk that cannot be
	// read yet are then retried too instead of failing at once.
	Watch *Watch
	// SVG writes a plot of each curve next to its .chi file: x.chi gives
	// x.svg, x_cR1.chi gives x_cR1.svg. The plot (render.CurveSVG) shows
	// the intensity with bands of ± the standard deviation of the pixel
	// values in each bin, which takes a second integration of the frame,
	// and ± the Poisson error; its title is the frame's file name.
	SVG bool
	// PNG writes a picture of each frame (render.FramePNG) next to its
	// first .chi file, named after the frame: x.chi and x_cR0.chi both give
	// x.png. The pixels excluded by the first mask of Calibration are
	// marked; with an Integrator and no Calibration no mask is drawn.
	PNG bool
	// Outputs are extra per-frame outputs (plots, image copies), written by
	// the workers after the .chi files and the SVG and PNG pictures.
	Outputs []Output
	// Dat writes a pyFAI-style .dat file next to each .chi file (x.chi
	// gives x.dat; saxs.WriteDatFile), with the same numbers.
	Dat bool
	// NXcanSAS writes one NXcanSAS file per input file holding the curves
	// of all its frames (saxs.WriteNXcanSASFile), named like its .chi base
	// with NXcanSASSuffix: x.cbf gives x.nxcansas.h5.
	NXcanSAS bool
	// IntegratorOptions are used to build the integrator of a detector
	// pixel mask (an Eiger master file's pixel_mask combined with each
	// calibration mask); its Masks are set by the run, Workers defaults
	// to Workers. With CacheDir set the built operators are kept.
	IntegratorOptions saxs.Options
	// LiveFileList appends a line "path, I0, I1, I2" per .chi file of
	// each converted frame to the live file list of the frame's root
	// folder (internal/filelist: filepath.Dir(root)/results/
	// filelist_<base name of root>.txt; the frame's folder for a root that
	// is a frame, or a frame of a Source outside the roots), after its
	// other outputs are written. Skipped and failed frames are not listed.
	// A list that cannot be written is logged once and fails no frame.
	// The calibration's Live-Filelisting (saxs.Calibration.LiveFileList).
	LiveFileList bool
	// Masks are the calibration's masks, one per curve, combined with a
	// detector pixel mask; nil means reading them from the calibration's
	// MaskFile paths (the saxsdog server passes the masks it received).
	Masks []*saxs.Mask

	// ErrorLog is the file listing the failures of a run, one "path:
	// reason" per line, written at the end when a frame failed and removed
	// when none did; in watch mode it is also rewritten after each failure. Empty means OutDir/saxsdog-errors.log, or
	// ./saxsdog-errors.log with InPlace or RelPath; "-" disables it.
	ErrorLog string

	// Logger receives the log records: the start of the run at Info
	// level, per-file records (converted, skipped) at Debug level and
	// failures at Warn level. nil discards them.
	Logger *slog.Logger
	// Progress, when set, is called after each frame is finished and when
	// the walk ends. Calls are serialized; they run on the workers'
	// goroutines and should return quickly.
	Progress func(Progress)

	// Announce, when set, replaces the conversion: each frame is only
	// checked whole (a TIFF by saxs.ImageReader.CheckFile, which reads
	// its header and IFD and checks its strips against the file's size;
	// another format by decoding frame 0) and handed to Announce, without
	// a read-ahead; nothing is integrated or written, and Calibration and
	// Integrator may be nil. With Watch this tells when frames are
	// complete (the saxsfeeder). An error of Announce fails the frame.
	Announce func(path string) error
	// Watching, when set, is called once Run has set up the watch (Watch
	// must be set), before the walk: frames written after it returns are
	// seen.
	Watching func()
	// WatchEvents supply paths that are handed to the watch (Watch must be
	// set) like file-system events: a frame announced there and also seen
	// by the watch is converted once, when it is complete, and a frame
	// whose outputs are up to date (as for Resume) is not converted again.
	// Each runs in its own goroutine until ctx is done or it returns.
	WatchEvents []Source
	// Observe, when set, is called after each stage of each frame with
	// the stage (StageRead, StageIntegrate, StageWrite) and its duration;
	// write covers every output of the frame. Calls come from the
	// workers' goroutines at once and should return quickly.
	Observe func(stage string, d time.Duration)
}

// The stages that Config.Observe times.
const (
	StageRead      = "read"
	StageIntegrate = "integrate"
	StageWrite     = "write"
)

// stageClock times the stages of one frame for Config.Observe; its zero
// value (no Observe) does nothing and reads no clock.
type stageClock struct {
	observe func(string, time.Duration)
	t       time.Time
}

func (c *Converter) clock() stageClock {
	if c.cfg.Observe == nil {
		return stageClock{}
	}
	return stageClock{c.cfg.Observe, time.Now()}
}

// lap reports the time since the last lap as stage.
func (s *stageClock) lap(stage string) {
	if s.observe == nil {
		return
	}
	now := time.Now()
	s.observe(stage, now.Sub(s.t))
	s.t = now
}

// A Source supplies frames to a run: it calls add with the path of each
// frame to convert until ctx is done or it has no more, then returns. add
// returns an error (ctx's) when the run is being cancelled. A frame path
// must lie below one of the roots unless InPlace or RelPath is set.
type Source func(ctx context.Context, add func(path string) error) error

// Frame is a converted frame as handed to an Output. Image and Result are
// the worker's and are only valid during the call.
type Frame struct {
	Path     string       // the frame file (saxs.FramePath of it for frame i of a multi-frame file)
	ChiPaths []string     // the .chi files written ("" for a curve not written)
	Image    *saxs.Image  // the frame
	Result   *saxs.Result // its curves
	// Source names the frame for humans: the file, with " frame i of n"
	// for a multi-frame file; "" means Path.
	Source string
	// Input is the input file the frame came from (Path for a
	// single-frame file).
	Input string
}

// An Output writes extra files for each converted frame. It must be safe
// for concurrent use: the workers call it in parallel. It should write
// each file atomically (to a temporary file renamed over it), so that a
// file that exists is complete; Resume only checks that the files exist.
type Output interface {
	// Paths returns the files Write creates for a frame with the given
	// .chi paths; Resume skips a frame only when they exist too.
	Paths(chiPaths []string) []string
	// Write writes the files of a frame.
	Write(f *Frame) error
}

// Status is the outcome of one frame.
type Status int

// The outcomes of a frame.
const (
	Converted Status = iota + 1 // read, integrated and written
	Skipped                     // up to date (Resume)
	Failed                      // see the error
)

// String returns "converted", "skipped" or "failed".
func (s Status) String() string {
	switch s {
	case Converted:
		return "converted"
	case Skipped:
		return "skipped"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// FileResult is the outcome of one frame, or of a folder that could not be
// read (Status Failed).
type FileResult struct {
	Path    string
	Outputs []string // the .chi files (and extra outputs) of the frame
	Status  Status
	Err     error // set when Status is Failed
}

// Progress is the state of a run, handed to Config.Progress.
type Progress struct {
	// Found counts the frames found so far (including those that failed,
	// and folders that could not be read).
	Found int
	// WalkDone tells that the walk has ended; Found is final unless
	// Sources are still running.
	WalkDone bool
	// Converted, Skipped and Failed count the finished frames.
	Converted, Skipped, Failed int
	// Elapsed is the time since the run started.
	Elapsed time.Duration
	// File is the frame just finished, nil for a walk notice.
	File *FileResult
}

// Done returns the number of finished frames.
func (p Progress) Done() int { return p.Converted + p.Skipped + p.Failed }

// Failure is a frame (or folder) that could not be converted.
type Failure struct {
	Path string
	Err  error
}

// Reason returns the error message without the leading "path: " that most
// errors carry.
func (f Failure) Reason() string {
	if f.Err == nil {
		return "unknown error"
	}
	return strings.TrimPrefix(f.Err.Error(), f.Path+": ")
}

// String returns "path: reason" on one line: a path or reason holding
// characters that are not printable (a newline in a file name) is written
// with Go escapes (see [QuoteName]), so that a name cannot forge lines of
// the summary or the errors log.
func (f Failure) String() string { return QuoteName(f.Path) + ": " + escapeText(f.Reason()) }

// QuoteName returns the file name p as is when it consists of printable
// characters (spaces included), otherwise quoted like strconv.Quote
// ("a\nb.tif" for a name with a newline).
func QuoteName(p string) string {
	if printable(p) {
		return p
	}
	return strconv.Quote(p)
}

// escapeText returns s with the characters that are not printable
// written as Go escapes (a newline as \n), without quotes.
func escapeText(s string) string {
	if printable(s) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// printable reports whether s is valid UTF-8 of printable characters
// (and spaces) only.
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || (!unicode.IsPrint(r) && r != ' ') {
			return false
		}
	}
	return true
}

// Summary is the outcome of a run.
type Summary struct {
	// Found counts the frames found (and unreadable folders).
	Found int
	// Converted, Skipped and Failed count the frames by outcome; Failed
	// includes folders that could not be read.
	Converted, Skipped, Failed int
	// Failures lists the failed frames, sorted by path.
	Failures []Failure
	// Elapsed is the duration of the run.
	Elapsed time.Duration
	// FramesPerSecond is Converted / Elapsed.
	FramesPerSecond float64
	// ErrorLog is the errors log written by the run, "" if none.
	ErrorLog string
}

// Converter runs conversions for one Config. Build it with New.
type Converter struct {
	cfg     Config
	ig      *saxs.Integrator
	log     *slog.Logger
	workers int
	outDir  string // "" with InPlace or RelPath
	absOut  string
	roots   []root
	errLog  string
	watch   Watch    // with defaults, when cfg.Watch is set
	outputs []Output // the SVG, PNG and .dat outputs, then cfg.Outputs, then the live file list
	frames  frameState
	lists   fileLists // cfg.LiveFileList
}

// root is one input of a run.
type root struct {
	path   string // as given
	walk   string // what to hand to WalkDir (a trailing separator for a symlinked folder)
	abs    string // absolute, cleaned
	isDir  bool
	prefix string // sub-folder of OutDir with several roots
}

// New checks cfg and prepares a Converter: it builds the Integrator from
// cfg.Calibration when cfg.Integrator is nil, checks that the roots exist
// and that their outputs cannot collide.
func New(cfg Config) (*Converter, error) {
	return NewContext(context.Background(), cfg)
}

// NewContext is New with a context for building the Integrator: with the
// library's context-aware constructor, cancelling ctx stops a long build
// (a large mask at high oversampling).
func NewContext(ctx context.Context, cfg Config) (*Converter, error) {
	c := &Converter{cfg: cfg, log: cfg.Logger, workers: cfg.Workers}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.workers <= 0 {
		c.workers = runtime.NumCPU()
	}
	if len(cfg.Roots) == 0 && !cfg.NoWalk {
		return nil, errors.New("batch: no input folder given")
	}
	if cfg.InPlace && cfg.RelPath != "" {
		return nil, errors.New("batch: in-place output and a relative output path exclude each other")
	}
	if !cfg.InPlace && cfg.RelPath == "" {
		c.outDir = cfg.OutDir
		if c.outDir == "" {
			c.outDir = DefaultOutDir
		}
		abs, err := filepath.Abs(c.outDir)
		if err != nil {
			return nil, fmt.Errorf("batch: output folder %s: %w", c.outDir, err)
		}
		c.absOut = abs
	}
	switch {
	case cfg.ErrorLog == "-":
	case cfg.ErrorLog != "":
		c.errLog = cfg.ErrorLog
	case c.outDir != "":
		c.errLog = filepath.Join(c.outDir, ErrorLogName)
	default:
		c.errLog = ErrorLogName
	}
	if err := c.setRoots(cfg.Roots); err != nil {
		return nil, err
	}
	if cfg.Watch != nil {
		w, err := cfg.Watch.withDefaults()
		if err != nil {
			return nil, err
		}
		c.watch = w
		if len(c.dirRoots()) == 0 {
			return nil, errors.New("batch: watch mode needs an input folder")
		}
	}
	if len(cfg.WatchEvents) > 0 && cfg.Watch == nil {
		return nil, errors.New("batch: watch events need watch mode")
	}
	if cfg.Announce != nil {
		return c, nil // no integrator: frames are only read and announced
	}
	c.ig = cfg.Integrator
	if c.ig == nil {
		if cfg.Calibration == nil {
			return nil, errors.New("batch: neither a calibration nor an integrator given")
		}
		ig, err := saxs.NewContext(ctx, cfg.Calibration, saxs.Options{Workers: c.workers})
		if err != nil {
			return nil, fmt.Errorf("batch: building the integrator: %w", err)
		}
		c.ig = ig
	}
	if cfg.SVG {
		c.outputs = append(c.outputs, svgOutput{c.ig})
	}
	if cfg.PNG {
		mask, err := pngMask(cfg.Calibration)
		if err != nil {
			return nil, err
		}
		c.outputs = append(c.outputs, pngOutput{mask})
	}
	if cfg.Dat {
		cal := cfg.Calibration
		if cal == nil || cfg.Integrator != nil {
			cal = c.ig.Calibration()
		}
		c.outputs = append(c.outputs, datOutput{cal})
	}
	c.outputs = append(c.outputs, cfg.Outputs...)
	if cfg.LiveFileList {
		c.outputs = append(c.outputs, listOutput{c})
	}
	return c, nil
}

// setRoots checks the roots and computes their output prefixes.
func (c *Converter) setRoots(paths []string) error {
	byName := map[string]string{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("batch: input %w", err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("batch: input %s: %w", p, err)
		}
		r := root{path: p, walk: p, abs: abs, isDir: fi.IsDir()}
		if r.isDir {
			if lfi, err := os.Lstat(p); err == nil && lfi.Mode()&os.ModeSymlink != 0 {
				r.walk = p + string(filepath.Separator) // make WalkDir follow the named link
			}
			if len(paths) > 1 {
				r.prefix = filepath.Base(abs)
				if other, ok := byName[r.prefix]; ok {
					return fmt.Errorf("batch: input folders %s and %s have the same name %q, so their outputs "+
						"would mix in %s; convert them in separate runs with different output folders",
						other, p, r.prefix, filepath.Join(c.outDir, r.prefix))
				}
				byName[r.prefix] = p
			}
		} else if !isFrameName(p) {
			return fmt.Errorf("batch: input %s is neither a folder nor a .tif/.tiff file (nor .cbf, .edf, .h5, .nxs)", p)
		} else if !fi.Mode().IsRegular() {
			return fmt.Errorf("batch: input %s is %s, not a frame", p, cli.FileKind(fi.Mode()))
		}
		for _, o := range c.roots {
			switch {
			case o.abs == r.abs:
				return fmt.Errorf("batch: input %s is given twice", p)
			case within(r.abs, o.abs):
				return fmt.Errorf("batch: input %s lies inside input %s", p, o.path)
			case within(o.abs, r.abs):
				return fmt.Errorf("batch: input %s lies inside input %s", o.path, p)
			}
		}
		c.roots = append(c.roots, r)
	}
	return nil
}

// within reports whether path lies strictly below dir (both absolute and
// clean). Unlike a plain prefix test, /run10 is not within /run1.
func within(path, dir string) bool {
	if !strings.HasPrefix(path, dir) || len(path) == len(dir) {
		return false
	}
	return strings.HasSuffix(dir, string(filepath.Separator)) || path[len(dir)] == filepath.Separator
}

// Integrator returns the integrator of the run.
func (c *Converter) Integrator() *saxs.Integrator { return c.ig }

// Workers returns the number of workers.
func (c *Converter) Workers() int { return c.workers }

// ErrorLogPath returns the errors log of the run ("" when disabled).
func (c *Converter) ErrorLogPath() string { return c.errLog }

// OutputPaths returns the .chi files of the frame at path (without the
// pictures and the extra Outputs), named as described in Config. With
// several masks there is one per mask, then one per GISAXS slice; an entry
// is "" for a curve that is not written.
func (c *Converter) OutputPaths(path string) ([]string, error) {
	base, err := c.chiPath(path, -1)
	if err != nil {
		return nil, err
	}
	return append(c.chiPaths(base), c.slicePaths(base)...), nil
}

// chiPaths returns the .chi files for base, none when announcing only.
func (c *Converter) chiPaths(base string) []string {
	if c.ig == nil {
		return nil
	}
	return c.ig.ChiPaths(base)
}

// slicePaths returns the .chi files of the GISAXS slices for base.
func (c *Converter) slicePaths(base string) []string {
	if c.ig == nil {
		return nil
	}
	return c.ig.SlicePaths(base)
}

// Run converts the frames of the walk and of the Sources, and returns the
// summary.
//
// Every output is written to a temporary file in its folder, named
// "."+name+".tmp"+digits (x.chi is written as .x.chi.tmp123456), which is
// renamed over the output when complete. Such files left behind by a run
// that was killed are removed: from each output folder before the run
// writes there for the first time, and from the errors log's folder at
// the start; only files of exactly that form for a .chi, .svg or .png
// output (or the errors log) and last modified before the run started.
//
// The error is non-nil when the run was cancelled (an *InterruptedError
// wrapping ctx.Err(), joined with any other error),
// when a Source failed or when the errors log could not be written;
// frames that fail are not errors of Run but listed in the summary.
func (c *Converter) Run(ctx context.Context) (Summary, error) {
	r := &run{c: c, start: time.Now(), claims: map[string]string{}}
	if c.outDir != "" {
		if err := os.MkdirAll(c.outDir, 0o755); err != nil {
			return Summary{}, fmt.Errorf("batch: output folder: %w", err)
		}
	}
	if c.ig != nil {
		c.log.Info("converting", "inputs", strings.Join(c.cfg.Roots, " "), "output", c.describeOutput(),
			"workers", c.workers, "curves", c.ig.NumCurves(), "resume", c.cfg.Resume)
		for _, w := range c.ig.Warnings() {
			c.log.Warn("calibration", "warning", w)
		}
	}
	r.cleanErrorLogDir()
	var w *watcher
	if c.cfg.Watch != nil && ctx.Err() == nil {
		var err error
		if w, err = c.startWatch(r); err != nil { // before the walk: no frame written meanwhile is missed
			return Summary{}, err
		}
		r.track = w.t
		r.onFail = func() { poke(w.t.failWake) }
		if c.cfg.Watching != nil {
			c.cfg.Watching()
		}
	}

	jobs := make(chan job, c.workers)
	var workers sync.WaitGroup
	for range c.workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			c.worker(ctx, r, jobs)
		}()
	}
	send := func(j job) error {
		select {
		case jobs <- j:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	var producers sync.WaitGroup
	var srcMu sync.Mutex
	var srcErrs []error
	if !c.cfg.NoWalk {
		producers.Add(1)
		go func() {
			defer producers.Done()
			if c.cfg.WalkFirst {
				var list []job
				c.walk(ctx, r, func(j job) error { list = append(list, j); return nil })
				r.walkDone()
				for _, j := range list {
					if send(j) != nil {
						return
					}
				}
				return
			}
			c.walk(ctx, r, send)
			r.walkDone()
		}()
	}
	if w != nil {
		producers.Add(1)
		go func() {
			defer producers.Done()
			if err := w.run(ctx, send); err != nil && ctx.Err() == nil {
				srcMu.Lock()
				srcErrs = append(srcErrs, fmt.Errorf("batch: %w", err))
				srcMu.Unlock()
			}
		}()
	}
	for i, src := range c.cfg.WatchEvents {
		if w == nil {
			break
		}
		producers.Add(1)
		go func() {
			defer producers.Done()
			err := src(ctx, func(path string) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				w.t.announce(path)
				return nil
			})
			if err != nil && ctx.Err() == nil {
				srcMu.Lock()
				srcErrs = append(srcErrs, fmt.Errorf("batch: watch events %d: %w", i, err))
				srcMu.Unlock()
			}
		}()
	}
	for i, src := range c.cfg.Sources {
		producers.Add(1)
		go func() {
			defer producers.Done()
			err := src(ctx, func(path string) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				j, ok := r.prepare(path, -1)
				if !ok {
					return nil
				}
				return send(j)
			})
			if err != nil && ctx.Err() == nil {
				srcMu.Lock()
				srcErrs = append(srcErrs, fmt.Errorf("batch: source %d: %w", i, err))
				srcMu.Unlock()
			}
		}()
	}
	producers.Wait()
	close(jobs)
	workers.Wait()

	c.lists.close()
	s := r.summary()
	var errs []error
	if err := ctx.Err(); err != nil {
		errs = append(errs, &InterruptedError{Done: s.Converted + s.Skipped + s.Failed, Found: s.Found, Err: err})
	}
	errs = append(errs, srcErrs...)
	logPath, err := c.writeErrorLog(s.Failures)
	if err != nil {
		errs = append(errs, err)
	}
	s.ErrorLog = logPath
	return s, errors.Join(errs...)
}

// InterruptedError is the error of Run when its context was cancelled
// (the normal end of watch mode): the run stopped after Done of the Found
// frames. Err is the context's error.
type InterruptedError struct {
	Done, Found int
	Err         error
}

// Error returns "batch: interrupted after D of F frames found: <Err>".
func (e *InterruptedError) Error() string {
	return fmt.Sprintf("batch: interrupted after %d of %d frames found: %v", e.Done, e.Found, e.Err)
}

// Unwrap returns Err.
func (e *InterruptedError) Unwrap() error { return e.Err }

// Run is NewContext followed by Converter.Run.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	c, err := NewContext(ctx, cfg)
	if err != nil {
		return Summary{}, err
	}
	return c.Run(ctx)
}

func (c *Converter) describeOutput() string {
	switch {
	case c.cfg.InPlace:
		return "next to each frame"
	case c.cfg.RelPath != "":
		return "in " + c.cfg.RelPath + " relative to each frame"
	}
	return c.outDir
}

// job is one frame to convert.
type job struct {
	path string
	base string   // the .chi path handed to ChiPaths/WriteChi
	outs []string // ChiPaths(base)
	sls  []string // SlicePaths(base): the slices' .chi files
	more []string // paths of the extra Outputs

	tracked bool // watch mode: read failures go back to the tracker
	rescan  bool // watch mode: found by a rescan or announced, not by an event

	// statted tells that the worker has just stat'ed path, with the error
	// statErr, so that the read need not do it again.
	statted bool
	statErr error
}

// outputs returns the .chi files of the job: the curves', then the
// slices'.
func (j *job) outputs() []string {
	if len(j.sls) == 0 {
		return j.outs
	}
	return append(slices.Clone(j.outs), j.sls...)
}

// run is the state of one Run.
type run struct {
	c     *Converter
	start time.Time

	mu                         sync.Mutex
	claims                     map[string]string     // output path -> frame
	cleaned                    map[string]*sync.Once // absolute output folder -> its stale temporaries removed
	found                      int
	walked                     bool
	converted, skipped, failed int
	failures                   []Failure

	track  *tracker // watch mode, nil otherwise
	onFail func()   // called after each failure (watch mode)
}

// addFound adds n to the frames found (n < 0 when a tracked frame goes
// back to the tracker, which counts it again when it is handed over or
// given up).
func (r *run) addFound(n int) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	r.found += n
	r.mu.Unlock()
}

// isOutput reports whether path is an output of the run.
func (r *run) isOutput(path string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.claims[path]
	return ok
}

// prepare names the outputs of a frame and claims them; it reports (and
// counts) a failure and returns false when that is impossible. rootIdx is
// the index of the frame's root, -1 if unknown.
func (r *run) prepare(path string, rootIdx int) (job, bool) {
	c := r.c
	r.mu.Lock()
	r.found++
	r.mu.Unlock()
	base, err := c.chiPath(path, rootIdx)
	if err != nil {
		r.finish(FileResult{Path: path, Status: Failed, Err: err})
		return job{}, false
	}
	j := job{path: path, base: base, outs: c.chiPaths(base), sls: c.slicePaths(base)}
	j.more = append(c.extraPaths(j.outs), c.fileOutputs(base)...)
	r.cleanOutputDirs(j.outs, j.sls, j.more)
	r.mu.Lock()
	for _, list := range [][]string{j.outs, j.sls, j.more} {
		for _, o := range list {
			if o == "" {
				continue
			}
			if prev, ok := r.claims[o]; ok && prev != path {
				r.mu.Unlock()
				r.finish(FileResult{Path: path, Outputs: j.outs, Status: Failed,
					Err: fmt.Errorf("%s: output %s is already written from %s", path, o, prev)})
				return job{}, false
			}
		}
	}
	for _, list := range [][]string{j.outs, j.sls, j.more} {
		for _, o := range list {
			if o != "" {
				r.claims[o] = path
			}
		}
	}
	r.mu.Unlock()
	return j, true
}

// finish records the outcome of a frame, logs it and reports progress.
func (r *run) finish(fr FileResult) {
	c := r.c
	switch fr.Status {
	case Converted:
		c.log.Debug("converted", "file", fr.Path, "chi", firstNonEmpty(fr.Outputs))
	case Skipped:
		c.log.Debug("skipped, output up to date", "file", fr.Path)
	case Failed:
		c.log.Warn("failed", "file", fr.Path, "error", Failure{fr.Path, fr.Err}.Reason())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch fr.Status {
	case Converted:
		r.converted++
	case Skipped:
		r.skipped++
	case Failed:
		r.failed++
		r.failures = append(r.failures, Failure{Path: fr.Path, Err: fr.Err})
	}
	if c.cfg.Progress != nil {
		c.cfg.Progress(r.progressLocked(&fr))
	}
	if fr.Status == Failed && r.onFail != nil {
		r.onFail()
	}
}

// walkDone marks the end of the walk.
func (r *run) walkDone() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.walked = true
	if r.c.cfg.Progress != nil {
		r.c.cfg.Progress(r.progressLocked(nil))
	}
}

func (r *run) progressLocked(fr *FileResult) Progress {
	return Progress{Found: r.found, WalkDone: r.walked || r.c.cfg.NoWalk, Converted: r.converted,
		Skipped: r.skipped, Failed: r.failed, Elapsed: time.Since(r.start), File: fr}
}

func (r *run) summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Summary{Found: r.found, Converted: r.converted, Skipped: r.skipped, Failed: r.failed,
		Failures: append([]Failure(nil), r.failures...), Elapsed: time.Since(r.start)}
	sort.SliceStable(s.Failures, func(i, j int) bool { return s.Failures[i].Path < s.Failures[j].Path })
	if sec := s.Elapsed.Seconds(); sec > 0 {
		s.FramesPerSecond = float64(s.Converted) / sec
	}
	return s
}

func firstNonEmpty(list []string) string {
	for _, s := range list {
		if s != "" {
			return s
		}
	}
	return ""
}

// worker converts the frames it receives until jobs is closed. It owns
// its reader, image and result, reused across frames. Once ctx is done it
// starts no new frame (the one in flight is finished and written).
//
// The worker takes the next job, when one is waiting, before converting
// the current one and asks the kernel to read its frame ahead (prefetch):
// a frame on disk is then read while this one is integrated and written,
// without a second image buffer.
func (c *Converter) worker(ctx context.Context, r *run, jobs <-chan job) {
	var rd saxs.ImageReader
	img := new(saxs.Image)
	var res *saxs.Result
	if c.ig != nil { // nil when frames are only announced (Config.Announce)
		res = c.ig.NewResult()
	}
	var next job
	haveNext, open := false, true
	for {
		var j job
		switch {
		case haveNext:
			j, haveNext = next, false
		case !open:
			return
		default:
			var ok bool
			if j, ok = <-jobs; !ok {
				return
			}
		}
		if ctx.Err() != nil {
			continue // drain: the producers stop soon
		}
		if open {
			select {
			case next, open = <-jobs:
				haveNext = open
				if haveNext && !c.skipPrefetch(next) {
					prefetch(next.path)
				}
			default:
			}
		}
		var st stamp
		if j.tracked {
			// Before reading: a later change is seen as one. The read
			// below trusts this stat (no second one per frame).
			st, j.statErr = statFrame(j.path)
			j.statted = true
		}
		fr, readFailed := c.convert(ctx, j, &rd, img, res)
		if j.tracked {
			if !readFailed {
				r.track.jobDone(j.path, st)
			} else if taken, err := r.track.jobFailed(j.path, fr.Err); taken {
				r.addFound(-1) // not finished: the tracker retries it
				c.log.Debug("incomplete, retrying", "file", j.path, "error", Failure{j.path, fr.Err}.Reason())
				continue
			} else {
				fr.Err = err
			}
		}
		r.finish(fr)
	}
}

// skipPrefetch reports whether a read-ahead of the frame of j would only
// cost system calls: a TIFF that is only announced (its samples are not
// read), or a frame written on this machine moments ago, so that it is in
// the page cache: one of watch mode found by file-system events (which
// see local writers only). Frames of the walk, of a poll (network file
// systems, remote writers) and of a rescan are prefetched.
func (c *Converter) skipPrefetch(j job) bool {
	if c.ig == nil && isTIFFName(j.path) {
		return true // only announced: a few kilobytes are read, no read-ahead
	}
	return j.tracked && c.watch.Poll == 0 && !j.rescan
}

// convert converts one frame. readFailed tells that the frame could not be
// read, which may mean that it is still being written; a frame of the
// wrong size was read whole and is not retried.
func (c *Converter) convert(ctx context.Context, j job, rd *saxs.ImageReader, img *saxs.Image, res *saxs.Result) (fr FileResult, readFailed bool) {
	fr = FileResult{Path: j.path, Outputs: j.outputs(), Status: Failed}
	if c.cfg.Resume && upToDate(j.path, fr.Outputs, j.more) {
		fr.Status = Skipped
		return fr, false
	}
	if err := makeDirs(j.outs, j.sls, j.more); err != nil {
		fr.Err = fmt.Errorf("%s: %w", j.path, err)
		return fr, false
	}
	if !isTIFFName(j.path) {
		return c.convertFrames(ctx, j, img, res) // CBF, EDF, HDF5: see frames.go
	}
	clk := c.clock()
	dst := img
	if c.ig == nil {
		dst = nil // only announced: checked whole, not read
	}
	if err := readJobFrame(ctx, rd, j, dst); err != nil {
		fr.Err = err
		var nf *notFrameError
		if errors.As(err, &nf) {
			return fr, false // not a file that a writer completes
		}
		if !namesPath(err, j.path) {
			fr.Err = fmt.Errorf("%s: read: %w", j.path, err)
		}
		return fr, true
	}
	if c.ig == nil {
		if err := c.cfg.Announce(j.path); err != nil {
			fr.Err = fmt.Errorf("%s: announce: %w", j.path, err)
			return fr, false
		}
		fr.Status = Converted
		return fr, false
	}
	clk.lap(StageRead)
	if err := c.ig.IntegrateFrameTo(res, img, j.path); err != nil { // the name selects a table normalisation's row
		// A frame that reads as a whole TIFF of another size is complete:
		// reported at once, not retried (watch mode).
		fr.Err = fmt.Errorf("%s: integrate: %w", j.path, err)
		return fr, false
	}
	clk.lap(StageIntegrate)
	if err := c.ig.WriteChi(res, j.base); err != nil {
		fr.Err = fmt.Errorf("%s: write: %w", j.path, err)
		return fr, false
	}
	if files := c.fileOutputs(j.base); len(files) > 0 {
		if err := c.writeFileOutputs(j, files, appendCurves(nil, res, j.outs)); err != nil {
			fr.Err = err
			return fr, false
		}
	}
	if len(c.outputs) > 0 {
		if err := c.writeOutputs(j.path, &Frame{Path: j.path, ChiPaths: j.outs, Image: img, Result: res, Input: j.path}); err != nil {
			fr.Err = err
			return fr, false
		}
	}
	clk.lap(StageWrite)
	fr.Status = Converted
	return fr, false
}

// writeOutputs writes the extra Outputs (pictures, the monitor) of frame
// f of the input at path.
func (c *Converter) writeOutputs(path string, f *Frame) error {
	for _, o := range c.outputs {
		if err := o.Write(f); err != nil {
			return fmt.Errorf("%s: write: %w", path, err)
		}
	}
	return nil
}

// readJobFrame is readFrame for job j, without its stat when the worker
// has just made it (j.statted).
func readJobFrame(ctx context.Context, rd *saxs.ImageReader, j job, img *saxs.Image) error {
	if !j.statted {
		return readFrame(ctx, rd, j.path, img)
	}
	var nf *notFrameError
	if errors.As(j.statErr, &nf) {
		return nf
	}
	return readOrCheck(rd, j.path, img)
}

// readOrCheck reads the TIFF frame at path into img or, with img nil (a
// run that only announces frames, Config.Announce), checks that it is
// whole without reading its samples (ImageReader.CheckFile: the same
// checks and errors, a few kilobytes read instead of the frame).
func readOrCheck(rd *saxs.ImageReader, path string, img *saxs.Image) error {
	if img == nil {
		return rd.CheckFile(path)
	}
	return rd.ReadFile(path, img)
}

// readFrame reads the frame at path into img with the worker's reader. ctx
// is the run's: a frame already handed to a worker is still read and
// written when the run is cancelled, so it is not consulted yet; it is
// here for a read that blocks (the library's context-aware reads take it
// as is).
//
// A path that is not a regular file (a FIFO handed over by a Source, a
// folder) is refused without being opened, so that the worker cannot
// block on it.
func readFrame(ctx context.Context, rd *saxs.ImageReader, path string, img *saxs.Image) error {
	_ = ctx
	if _, err := statFrame(path); err != nil {
		var nf *notFrameError
		if errors.As(err, &nf) {
			return nf
		}
		// Other errors (gone, no permission) are the read's to report.
	}
	return readOrCheck(rd, path, img)
}

// namesPath reports whether err already names path at its front: a
// *saxs.FormatError about the file or an *fs.PathError for it.
func namesPath(err error, path string) bool {
	var fe *saxs.FormatError
	if errors.As(err, &fe) {
		return fe.File == path
	}
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Path == path
}

// extraPaths returns the files of the SVG, PNG and extra Outputs of a
// frame with the given .chi files.
func (c *Converter) extraPaths(chiPaths []string) []string {
	var more []string
	for _, o := range c.outputs {
		more = append(more, o.Paths(chiPaths)...)
	}
	return more
}

// makeDirs creates the folders of the outputs.
func makeDirs(lists ...[]string) error {
	last := ""
	for _, list := range lists {
		for _, p := range list {
			if p == "" {
				continue
			}
			if d := filepath.Dir(p); d != last {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("output folder: %w", err)
				}
				last = d
			}
		}
	}
	return nil
}

// writeErrorLog writes the failures to the errors log, or removes a log
// left by an earlier run when there are none. It returns the path written.
func (c *Converter) writeErrorLog(failures []Failure) (string, error) {
	if c.errLog == "" {
		return "", nil
	}
	if len(failures) == 0 {
		if err := os.Remove(c.errLog); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("batch: removing the old errors log: %w", err)
		}
		return "", nil
	}
	var b bytes.Buffer
	for _, f := range failures {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	if err := writeFileAtomic(c.errLog, b.Bytes()); err != nil {
		return "", fmt.Errorf("batch: writing the errors log: %w", err)
	}
	return c.errLog, nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder renamed over it, creating the folder when missing.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o644)
}
