package network

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/filelist"
	"github.com/saxsdog/saxs/network/cluster"
	"github.com/saxsdog/saxs/network/metrics"
)

// HistoryWindow is how far back the history of finish times reaches.
const HistoryWindow = 100 * time.Second

// MaxParamHistory bounds the integral parameters kept per mask (the
// latest frames'); the original kept them for the queue's whole life,
// which makes every plot reply grow without bound.
const MaxParamHistory = 10000

// queueSpec is what a queue is started with.
type queueSpec struct {
	cal         *saxs.Calibration
	calJSON     any // the calibration as sent
	ig          *saxs.Integrator
	attachments []any    // the attachment frames as decoded JSON, for get
	dir         string   // absolute, resolved queue folder
	directory   []string // components relative to the server folder
	flat        bool     // started with the 0.3.0 form
	walk        bool     // convert the frames already there (readdir)
	workers     int
	masks       []*saxs.Mask   // the calibration's masks as received (combined with a detector pixel mask)
	calBytes    []byte         // the calibration JSON (cluster mode)
	maskFiles   []cluster.Mask // the mask attachments (cluster mode)
}

// paramSeries is the integral-parameter history of one mask.
type paramSeries struct {
	Time, File []any
	I0, I1, I2 []float64
}

// queue is one running conversion of a folder: the batch run with its
// watch, the feeder subscriber, and the state that stat, plot, get and
// fileslist report.
type queue struct {
	spec      queueSpec
	serverDir string
	log       *slog.Logger
	metrics   *metrics.Metrics // nil without --metrics-addr

	cancel    context.CancelFunc // ends the run
	subCancel context.CancelFunc // ends the feeder subscriber only (close)
	done      chan struct{}      // closed when the run has ended

	mu        sync.Mutex
	start     time.Time
	found     int
	processed int
	skipped   int // outputs existed (OverwriteFiles false)
	failed    []string
	history   []time.Time
	params    map[string]*paramSeries
	files     map[string][]string
	// The latest frame: its path and curves (the queue's own), from which
	// plot builds its payload; latestCurves is nil before the first.
	latestPath   string
	latestCurves []cluster.Curve
	latestSlices []cluster.Curve
	runErr       error

	// Stream frames (streamserver.go): written to streamDir, with .dat
	// and NXcanSAS files as the queue's batch run writes them.
	streamDir           string
	streamDat, streamNX bool
	cacheDir            string
	streamCache         streamIgs
	streamFailures      int // stream frames failed (q.mu)

	hq   *cluster.HeadQueue // cluster mode: the jobs and results of the queue
	list *filelist.List     // cluster mode with Live-Filelisting: the head's list
}

// queueOptions are the server settings a queue needs.
type queueOptions struct {
	serverDir string
	feeder    string // address the subscriber connects to, "" for none
	relPath   string
	outDir    string
	workers   int
	cacheDir  string
	dat       bool // batch.Config.Dat
	nxcansas  bool // batch.Config.NXcanSAS
	watch     batch.Watch
	log       *slog.Logger
	// cluster, when set, turns frames into jobs for workers, with the
	// calibration stored under clusterKey (see clusterqueue.go).
	cluster    *cluster.Head
	clusterKey string
	metrics    *metrics.Metrics // nil without --metrics-addr
}

// startQueue starts the run of spec in a goroutine owned by the queue.
func startQueue(parent context.Context, spec queueSpec, o queueOptions) (*queue, error) {
	q := &queue{spec: spec, serverDir: o.serverDir, log: o.log, metrics: o.metrics, start: time.Now(),
		params: map[string]*paramSeries{}, files: map[string][]string{}, done: make(chan struct{}),
		streamDir: streamDir(spec, o), streamDat: o.dat, streamNX: o.nxcansas, cacheDir: o.cacheDir}
	ctx, cancel := context.WithCancel(parent)
	subCtx, subCancel := context.WithCancel(ctx)
	q.cancel, q.subCancel = cancel, subCancel
	w := o.watch
	watching := make(chan struct{})
	cfg := batch.Config{
		Integrator: spec.ig,
		Roots:      []string{spec.dir},
		RelPath:    o.relPath,
		OutDir:     o.outDir,
		Workers:    o.workers,
		NoWalk:     !spec.walk,
		Watch:      &w,
		ErrorLog:   "-",
		Dat:        o.dat,
		NXcanSAS:   o.nxcansas,
		Outputs:    []batch.Output{q},
		Logger:     o.log,
		Progress:   q.progress,
		Watching:   func() { close(watching) },
	}
	if o.metrics != nil {
		cfg.Observe = o.metrics.ObserveStage
	}
	// The py3 fork's calibration keys: OverwriteFiles false skips the
	// frames whose outputs exist (the test of saxsdog --resume);
	// Live-Filelisting lists the .chi files in results/ beside the queue
	// folder (in the cluster the head writes it, clusterResult).
	cfg.Resume = !spec.cal.Overwrite()
	cfg.LiveFileList = spec.cal.LiveFileList()
	cfg.Masks = spec.masks // combined with a detector pixel mask
	cfg.IntegratorOptions = saxs.Options{Workers: o.workers, CacheDir: o.cacheDir, Logger: o.log}
	if o.outDir != "" {
		// Mirror the queue folder's place below SERVERDIR, so that the
		// frames of two queues (data/run1/x.tif, data/run2/x.tif) do not
		// write the same file.
		cfg.OutDir = filepath.Join(append([]string{o.outDir}, spec.directory...)...)
	} else if o.relPath == "" {
		cfg.RelPath = DefaultRelPath
	}
	if o.feeder != "" {
		cfg.WatchEvents = []batch.Source{func(_ context.Context, add func(string) error) error {
			return q.subscribe(subCtx, o.feeder, add)
		}}
	}
	if o.cluster != nil {
		if err := q.clusterConfig(ctx, &cfg, o); err != nil {
			cancel()
			return nil, err
		}
	}
	conv, err := batch.New(cfg)
	if err != nil {
		cancel()
		q.stopCluster()
		return nil, err
	}
	go func() {
		defer close(q.done)
		defer cancel()
		s, err := conv.Run(ctx)
		q.mu.Lock()
		if ctx.Err() == nil {
			q.runErr = err
		}
		q.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			o.log.Error("queue failed", "folder", spec.dir, "error", err)
		}
		o.log.Info("queue ended", "folder", spec.dir, "converted", s.Converted, "failed", s.Failed)
	}()
	// Reply to new only once the folder is watched, so that no frame
	// written after the reply is missed.
	select {
	case <-watching:
		return q, nil
	case <-q.done:
		q.mu.Lock()
		err := q.runErr
		q.mu.Unlock()
		if err == nil {
			err = errors.New("the queue ended at once")
		}
		q.stopCluster()
		return nil, err
	}
}

// DefaultRelPath is where a server writes the .chi files, relative to each
// frame's folder, unless told otherwise.
const DefaultRelPath = "../work"

// stop ends the run and waits until the frames in flight are written.
func (q *queue) stop() {
	q.cancel()
	<-q.done
	q.stopCluster()
}

// closeFeed stops the feeder subscriber; the watch goes on.
func (q *queue) closeFeed() { q.subCancel() }

// progress records the outcome of each frame.
func (q *queue) progress(p batch.Progress) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.found = p.Found
	if p.File == nil {
		return
	}
	switch p.File.Status {
	case batch.Converted:
		q.convertedLocked(p.File.Outputs)
	case batch.Skipped:
		q.skippedLocked(p.File.Path, p.File.Outputs)
	case batch.Failed:
		q.metrics.FrameFailed()
		msg := batch.Failure{Path: p.File.Path, Err: p.File.Err}.String()
		q.failed = append(q.failed, msg)
		q.log.Warn("frame failed", "error", msg)
	}
}

// skippedLocked records a frame skipped because its outputs exist: they
// are listed by fileslist, as the original's fork listed them. outputs
// are absolute or, from a worker, relative to the server folder. Callers
// hold q.mu.
func (q *queue) skippedLocked(path string, outputs []string) {
	q.skipped++
	q.log.Info("frame skipped: its outputs exist (OverwriteFiles is false)", "file", path)
	q.addFilesLocked(outputs)
}

// addFilesLocked adds the .chi files of a frame to the fileslist. Callers
// hold q.mu.
//
// Without slices the outputs are keyed Radial<i> by their index, as
// before slices existed. With slices a frame's outputs are its nm curves'
// files, then its slices' (x_cS<nm+k>.chi), and a multi-frame file's are
// those of each frame in turn: each is keyed by its index within its
// frame, Radial<i> or Slice<i>.
func (q *queue) addFilesLocked(outputs []string) {
	nm, ns := len(maskConfs(q.spec.calJSON)), len(sliceConfs(q.spec.calJSON))
	for i, o := range outputs {
		if o == "" {
			continue
		}
		if filepath.IsAbs(o) {
			o = q.rel(o)
		}
		key := curveKey("Radial", i)
		if ns > 0 {
			if k := i % (nm + ns); k >= nm {
				key = curveKey("Slice", k) // as the file's _cS<k>
			} else {
				key = curveKey("Radial", k)
			}
		}
		q.files[key] = append(q.files[key], o)
	}
}

// convertedLocked records a frame converted into the files outputs.
// Callers hold q.mu.
func (q *queue) convertedLocked(outputs []string) {
	q.metrics.FrameDone()
	q.processed++
	now := time.Now()
	q.history = append(q.history, now)
	q.pruneHistory(now)
	q.addFilesLocked(outputs)
}

// streamDir is the folder of a queue's stream frames: where the batch run
// writes the curves of a frame in the queue folder itself (OutDir
// mirroring the queue folder below SERVERDIR, else the queue folder
// joined with RelPath, ../work by default).
func streamDir(spec queueSpec, o queueOptions) string {
	if o.outDir != "" {
		return filepath.Join(append([]string{o.outDir}, spec.directory...)...)
	}
	rel := o.relPath
	if rel == "" {
		rel = DefaultRelPath
	}
	return filepath.Join(spec.dir, rel)
}

// pruneHistory drops finish times older than HistoryWindow. Callers hold
// q.mu.
func (q *queue) pruneHistory(now time.Time) {
	n := 0
	for n < len(q.history) && now.Sub(q.history[n]) > HistoryWindow {
		n++
	}
	q.history = q.history[n:]
}

// rel returns p relative to the server folder when it lies below it.
func (q *queue) rel(p string) string {
	if r, err := filepath.Rel(q.serverDir, p); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return p
}

// Paths is part of batch.Output: the queue writes no extra files.
func (q *queue) Paths([]string) []string { return nil }

// Write is part of batch.Output: it keeps the curves of the latest frame
// and the integral parameters.
func (q *queue) Write(f *batch.Frame) error {
	q.record(f.Path, cluster.Curves(f.Result.Curves), cluster.Curves(f.Result.Slices))
	return nil
}

// record keeps the curves and GISAXS slices of the frame at path as the
// latest and adds the curves' integral parameters to the history. The
// curves become the queue's. The plot payload is built only when plot
// asks for it, not per frame.
func (q *queue) record(path string, curves, slices []cluster.Curve) {
	file := q.rel(strings.TrimSuffix(path, filepath.Ext(path)))
	q.mu.Lock()
	defer q.mu.Unlock()
	q.latestPath, q.latestCurves, q.latestSlices = path, curves, slices
	for i := range curves {
		c := &curves[i]
		key := curveKey("R", i)
		ps := q.params[key]
		if ps == nil {
			ps = &paramSeries{}
			q.params[key] = ps
		}
		ps.Time = append(ps.Time, "")
		ps.File = append(ps.File, file)
		ps.I0 = append(ps.I0, float64(c.I0))
		ps.I1 = append(ps.I1, float64(c.I1))
		ps.I2 = append(ps.I2, float64(c.I2))
		if n := len(ps.I0) - MaxParamHistory; n > 0 {
			ps.Time, ps.File = ps.Time[n:], ps.File[n:]
			ps.I0, ps.I1, ps.I2 = ps.I0[n:], ps.I1[n:], ps.I2[n:]
		}
	}
}

// curveKey returns prefix followed by the curve index i ("R0", "Radial1").
func curveKey(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// latestPayload returns the plot payload of the frame at path with the
// given curves and slices: its filename and one graph per curve and per
// computed slice. A slice graph (kind "Slice", as the original's) carries
// its configuration as "slice"; a slice that is not computed (no rows)
// has none.
func (q *queue) latestPayload(path string, curves, slices []cluster.Curve) Obj {
	cal := q.spec.calJSON
	masks := maskConfs(cal)
	graphs := make([]any, len(curves), len(curves)+len(slices))
	base := strings.TrimSuffix(path, filepath.Ext(path))
	image := q.rel(path)
	for i := range curves {
		c := &curves[i]
		g := Obj{
			"kind":         "Radial",
			"conf":         cal,
			"columnLabels": []any{"Scattering Vector  q [$nm^{-1}$]", "Intensity (Count/Pixel)", "Error Margin"},
			"array":        []any{[]float64(c.Q), []float64(c.I), []float64(c.Sigma)},
			"Integparam":   Obj{"I0": float64(c.I0), "I1": float64(c.I1), "I2": float64(c.I2)},
			"Image":        image,
		}
		if i < len(masks) {
			g["mask"] = masks[i]
		}
		graphs[i] = g
	}
	confs := sliceConfs(cal)
	for i := range slices {
		c := &slices[i]
		if len(c.Q) == 0 || i >= len(confs) {
			continue
		}
		plane, _ := confs[i].(map[string]any)["Plane"].(string)
		labels := saxs.SliceColumnLabels(plane)
		graphs = append(graphs, Obj{
			"kind":         "Slice",
			"conf":         cal,
			"columnLabels": []any{labels[0], labels[1], labels[2]},
			"array":        []any{[]float64(c.Q), []float64(c.I), []float64(c.Sigma)},
			"slice":        confs[i],
			"Image":        image,
		})
	}
	return Obj{"filename": q.rel(base), "graphs": graphs}
}

func clone(x []float64) []float64 { return append([]float64(nil), x...) }

// sliceConfs returns the Slices list of a 2.0 calibration as sent, each a
// JSON object (nil when there is none).
func sliceConfs(cal any) []any {
	m, _ := cal.(map[string]any)
	l, _ := m["Slices"].([]any)
	for _, s := range l {
		if _, ok := s.(map[string]any); !ok {
			return nil
		}
	}
	return l
}

// maskConfs returns the Masks list of a 2.0 calibration as sent, or the
// flat calibration itself as the single mask.
func maskConfs(cal any) []any {
	m, _ := cal.(map[string]any)
	if l, ok := m["Masks"].([]any); ok {
		return l
	}
	if m != nil {
		return []any{m}
	}
	return nil
}

// stat returns the stat object (spec §9.7) with StatFramesPerSec; the
// server drops it unless the request asks for it.
func (q *queue) stat() Obj {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.statLocked(time.Now())
}

func (q *queue) statLocked(now time.Time) Obj {
	q.pruneHistory(now)
	return Obj{
		"images processed": q.processed,
		"queue length":     q.queueLengthLocked(),
		"time":             unixSeconds(now),
		"start time":       unixSeconds(q.start),
		StatFramesPerSec:   float64(len(q.history)) / HistoryWindow.Seconds(),
		StatSkipped:        q.skipped,
	}
}

// queueLengthLocked returns the frames found and not yet finished.
// Callers hold q.mu.
func (q *queue) queueLengthLocked() int {
	return max(0, q.found-q.processed-q.skipped-len(q.failed))
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// plot returns the plot payload of the latest frame, or nil before the
// first.
func (q *queue) plot() Obj {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	st := q.statLocked(now)
	if q.latestCurves == nil {
		return nil
	}
	out := q.latestPayload(q.latestPath, q.latestCurves, q.latestSlices)
	out["stat"] = st
	hist := make([]float64, len(q.history))
	for i, t := range q.history {
		hist[i] = unixSeconds(t)
	}
	out["history"] = hist
	ip := Obj{}
	for k, ps := range q.params {
		ip[k] = Obj{"time": append([]any(nil), ps.Time...), "file": append([]any(nil), ps.File...),
			"I0": clone(ps.I0), "I1": clone(ps.I1), "I2": clone(ps.I2)}
	}
	out["IntegralParameters"] = ip
	return out
}

// fileslist returns the .chi files written per curve, sorted, and the
// frames that failed (FailedList; the server drops it unless the request
// asks for it).
func (q *queue) fileslist() Obj {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := Obj{}
	for k, l := range q.files {
		s := append([]string(nil), l...)
		sort.Strings(s)
		out[k] = toAny(s)
	}
	out[FailedList] = toAny(append([]string(nil), q.failed...))
	return out
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}
