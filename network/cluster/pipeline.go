package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
)

// held is a job a pipeline holds.
type held struct {
	job       *Job
	msg       jetstream.Msg
	delivered uint64
	start     time.Time
}

// pipeline integrates the jobs of one calibration version: a batch run
// (internal/batch, the saxsdog pipeline, so the outputs are those of the
// server) fed by the jobs, and a finisher that answers them.
type pipeline struct {
	w       *Worker
	key     string
	version uint64
	spec    QueueSpec
	root    string

	jobs    chan string
	results chan batch.FileResult
	cancel  context.CancelFunc
	done    chan struct{}

	mu     sync.Mutex
	held   map[string][]*held
	curves map[string]frameCurves
	params map[string]map[string]Params // frame file -> .chi file -> its curve's parameters
}

// frameCurves are the curves and slices of a frame, for its result.
type frameCurves struct{ curves, slices []Curve }

// startPipeline loads version of the calibration key, builds (or loads
// from the cache) its integrator and starts the run.
func (w *Worker) startPipeline(ctx context.Context, kv jetstream.KeyValue, key string, version uint64) (*pipeline, error) {
	e, err := kv.GetRevision(ctx, key, version)
	if err != nil {
		return nil, fmt.Errorf("calibration %s version %d: %w", key, version, err)
	}
	var spec QueueSpec
	if err := json.Unmarshal(e.Value(), &spec); err != nil {
		return nil, fmt.Errorf("calibration %s version %d: %w", key, version, err)
	}
	cal, err := saxs.ParseCalibration(spec.Calibration, "calibration")
	if err != nil {
		return nil, fmt.Errorf("calibration %s version %d: %w", key, version, err)
	}
	masks := make([]*saxs.Mask, len(spec.Masks))
	for i, m := range spec.Masks {
		if masks[i], err = saxs.DecodeMask(m.Data, m.Name); err != nil {
			return nil, fmt.Errorf("calibration %s version %d: mask %d: %w", key, version, i, err)
		}
	}
	root, err := w.below(spec.Dir)
	if spec.Dir == "" || spec.Dir == "." {
		root, err = w.dir, nil
	}
	if err != nil {
		return nil, fmt.Errorf("calibration %s version %d: queue folder: %w", key, version, err)
	}
	t := time.Now()
	opt := saxs.Options{Masks: masks, Workers: w.cfg.Threads, CacheDir: w.cfg.CacheDir, Logger: w.log}
	ig, err := saxs.NewWithOptions(cal, opt)
	if err != nil {
		return nil, fmt.Errorf("calibration %s version %d: %w", key, version, err)
	}
	w.obs.OperatorBuilt()
	w.log.Info("calibration loaded", "key", key, "version", version, "queue", spec.Queue, "took", time.Since(t))
	pctx, cancel := context.WithCancel(context.Background()) // not ctx: in-flight frames are finished
	p := &pipeline{w: w, key: key, version: version, spec: spec, root: root,
		jobs: make(chan string, cap(w.slots)), results: make(chan batch.FileResult, 2*cap(w.slots)),
		cancel: cancel, done: make(chan struct{}), held: map[string][]*held{}, curves: map[string]frameCurves{},
		params: map[string]map[string]Params{}}
	cfg := batch.Config{
		// OverwriteFiles false: a frame whose outputs exist is skipped
		// (the test of saxsdog --resume) and reported so. The live file
		// list is the head's.
		Resume:     !cal.Overwrite(),
		Integrator: ig, Roots: []string{root}, Workers: w.cfg.Threads, NoWalk: true, ErrorLog: "-",
		Dat: spec.Dat, NXcanSAS: spec.NXcanSAS, Outputs: []batch.Output{p}, Masks: masks,
		IntegratorOptions: opt, Logger: w.log, Progress: p.progress,
		Sources: []batch.Source{p.source}, Observe: w.obs.ObserveStage,
	}
	if spec.OutDir != "" {
		out := filepath.FromSlash(spec.OutDir)
		if !filepath.IsAbs(out) {
			out = filepath.Join(w.dir, out)
		}
		cfg.OutDir = filepath.Join(out, filepath.FromSlash(spec.Dir))
	} else {
		cfg.RelPath = spec.RelPath
	}
	conv, err := batch.New(cfg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("calibration %s version %d: %w", key, version, err)
	}
	var finished sync.WaitGroup
	finished.Add(2)
	go func() { // the run: ends when stop cancels pctx
		defer finished.Done()
		defer close(p.results)
		_, err := conv.Run(pctx)
		var ie *batch.InterruptedError
		if err != nil && !errors.As(err, &ie) {
			w.log.Error("run", "error", err)
		}
	}()
	go func() { // the finisher: ends when the run has ended and every answer is sent
		defer finished.Done()
		var answers sync.WaitGroup // at most one per job held
		for fr := range p.results {
			answers.Add(1)
			go func() {
				defer answers.Done()
				p.finish(fr)
			}()
		}
		answers.Wait()
	}()
	go func() { // the heartbeat: ends with the run
		t := time.NewTicker(max(w.sets.AckWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.heartbeat()
			case <-p.done:
				return
			}
		}
	}()
	go func() {
		finished.Wait()
		p.handBack()
		close(p.done)
	}()
	return p, nil
}

// add hands a job to the run.
func (p *pipeline) add(j *Job, m jetstream.Msg, delivered uint64) error {
	path, err := p.w.below(j.Frame)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.held[path] = append(p.held[path], &held{job: j, msg: m, delivered: delivered, start: time.Now()})
	p.mu.Unlock()
	p.jobs <- path // never blocks: one slot per job held
	return nil
}

// source is the run's Source: the frames of the jobs.
func (p *pipeline) source(ctx context.Context, add func(string) error) error {
	for {
		select {
		case path := <-p.jobs:
			if err := add(path); err != nil {
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// progress is the run's Progress: it passes each outcome to the finisher.
func (p *pipeline) progress(pr batch.Progress) {
	if pr.File != nil {
		p.results <- *pr.File
	}
}

// Paths is part of batch.Output: no extra files.
func (p *pipeline) Paths([]string) []string { return nil }

// Write is part of batch.Output: it keeps the curves of the frame for its
// result (of a multi-frame file, those of its last frame, as plot shows
// the latest frame).
func (p *pipeline) Write(f *batch.Frame) error {
	fc := frameCurves{curves: Curves(f.Result.Curves), slices: Curves(f.Result.Slices)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.held[f.Input]; ok {
		p.curves[f.Input] = fc
		m := p.params[f.Input]
		if m == nil {
			m = map[string]Params{}
			p.params[f.Input] = m
		}
		cs := fc.curves // ChiPaths are the curves' files (the slices' are not among them)
		for k, chi := range f.ChiPaths {
			if chi != "" && k < len(cs) {
				m[chi] = Params{I0: cs[k].I0, I1: cs[k].I1, I2: cs[k].I2}
			}
		}
	}
	return nil
}

// Curves returns copies of cs as result curves (nil for none).
func Curves(cs []saxs.Curve) []Curve {
	if len(cs) == 0 {
		return nil
	}
	out := make([]Curve, len(cs))
	for i := range cs {
		c := &cs[i]
		out[i] = Curve{Q: clone(c.Q), I: clone(c.I), Sigma: clone(c.Sigma), I0: Float(c.Params.I0), I1: Float(c.Params.I1), I2: Float(c.Params.I2)}
	}
	return out
}

func clone(x []float64) []float64 { return append([]float64(nil), x...) }

// take removes and returns the oldest job held for path, with the curves
// and parameters its run recorded.
func (p *pipeline) take(path string) (*held, frameCurves, map[string]Params) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.held[path]
	if len(l) == 0 {
		return nil, frameCurves{}, nil
	}
	h := l[0]
	if len(l) == 1 {
		delete(p.held, path)
	} else {
		p.held[path] = l[1:]
	}
	c, pr := p.curves[path], p.params[path]
	delete(p.curves, path)
	delete(p.params, path)
	return h, c, pr
}

// outputParams returns the parameters of each of a converted frame's
// outputs: those its curves recorded in params (by .chi file), and
// Params{Slice: true} for an output without any, a GISAXS slice's file
// ("" outputs get zero Params).
func outputParams(outputs []string, params map[string]Params) []Params {
	prs := make([]Params, len(outputs))
	for i, o := range outputs {
		if o == "" {
			continue
		}
		if p, ok := params[o]; ok {
			prs[i] = p
		} else {
			prs[i] = Params{Slice: true}
		}
	}
	return prs
}

// finish answers the job of a frame: result and ack, or failure.
func (p *pipeline) finish(fr batch.FileResult) {
	h, curves, params := p.take(fr.Path)
	if h == nil {
		return
	}
	w := p.w
	if fr.Status != batch.Converted && fr.Status != batch.Skipped {
		err := fr.Err
		if err == nil {
			err = fmt.Errorf("%s: %s", fr.Path, fr.Status)
		}
		w.fail(h.msg, h.job, h.delivered, errors.New(batch.Failure{Path: h.job.Frame, Err: err}.Reason()))
		return
	}
	defer w.release()
	outs := make([]string, len(fr.Outputs))
	for i, o := range fr.Outputs {
		if o != "" {
			outs[i] = w.rel(o)
		}
	}
	var prs []Params
	if fr.Status == batch.Converted {
		prs = outputParams(fr.Outputs, params)
	}
	r := Result{Job: h.job.ID, Queue: h.job.Queue, Frame: h.job.Frame, Outputs: outs, Curves: curves.curves, Slices: curves.slices,
		Params: prs, Skipped: fr.Status == batch.Skipped, Worker: w.cfg.Name, Delivery: h.delivered, Written: time.Now()}
	if r.Skipped {
		r.Curves, r.Slices = nil, nil
		w.log.Info("frame skipped: its outputs exist (OverwriteFiles is false)", "frame", h.job.Frame)
	}
	data, err := json.Marshal(r)
	if err != nil {
		w.log.Error("result", "error", err)
		_ = h.msg.Nak()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.js.Publish(ctx, ResultsPrefix+h.job.Queue, data); err != nil {
		w.log.Error("result not published; the job goes again", "frame", h.job.Frame, "error", err)
		_ = h.msg.Nak()
		return
	}
	if err := h.msg.DoubleAck(ctx); err != nil {
		w.log.Warn("ack", "frame", h.job.Frame, "error", err)
	}
	if !r.Skipped { // a frame skipped is no frame converted
		w.obs.FrameDone()
		w.obs.ObserveJobLatency(time.Since(h.job.Announced))
	}
}

// heartbeat tells JetStream that the jobs held are being worked on.
func (p *pipeline) heartbeat() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.held {
		for _, h := range l {
			_ = h.msg.InProgress()
		}
	}
}

// handBack returns the jobs not started to JetStream for other workers.
func (p *pipeline) handBack() {
	for {
		select {
		case <-p.jobs:
		default:
			p.mu.Lock()
			var left []*held
			for _, l := range p.held {
				left = append(left, l...)
			}
			p.held = map[string][]*held{}
			p.mu.Unlock()
			for _, h := range left {
				_ = h.msg.Nak()
				p.w.release()
			}
			return
		}
	}
}

// stop ends the run: the frames being integrated are finished and
// answered, the others handed back.
func (p *pipeline) stop() {
	p.cancel()
	<-p.done
}
