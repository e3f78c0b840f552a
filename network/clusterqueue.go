package network

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/filelist"
	"github.com/saxsdog/saxs/network/cluster"
)

// clusterStopTimeout bounds the purge of a stopped queue's jobs.
const clusterStopTimeout = 10 * time.Second

// clusterConfig turns the queue's run into the head of a cluster: the
// calibration and masks become the new version of the server's key in
// the calibration bucket, and each frame the watch or the feeder finds
// complete is announced as a job (batch.Config.Announce) instead of being
// integrated here. The results and dead letters of the workers are
// recorded as the frames' outcomes.
func (q *queue) clusterConfig(ctx context.Context, cfg *batch.Config, o queueOptions) error {
	spec := cluster.QueueSpec{Calibration: q.spec.calBytes, Masks: q.spec.maskFiles,
		Dir: filepath.ToSlash(filepath.Join(append([]string{"."}, q.spec.directory...)...)), Dat: o.dat, NXcanSAS: o.nxcansas}
	if o.outDir != "" {
		spec.OutDir = q.rel(o.outDir)
	} else {
		spec.RelPath = cfg.RelPath
	}
	hq, err := o.cluster.StartQueue(ctx, o.clusterKey, spec, cluster.Handlers{Result: q.clusterResult, Dead: q.clusterDead})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	q.hq = hq
	if cfg.LiveFileList { // the head lists the frames once, from their results
		q.list = filelist.New(filelist.PathFor(q.spec.dir), q.log)
	}
	// The workers decide on OverwriteFiles (they see the outputs); the
	// head announces every frame.
	cfg.Resume, cfg.LiveFileList = false, false
	cfg.Integrator, cfg.Outputs, cfg.Dat, cfg.NXcanSAS = nil, nil, false, false
	cfg.Progress = q.clusterProgress
	cfg.Announce = func(path string) error {
		_, err := hq.Publish(ctx, q.rel(path), nil)
		return err
	}
	return nil
}

// stopCluster drops the jobs of a cluster queue that no worker finished.
func (q *queue) stopCluster() {
	if q.hq == nil {
		return
	}
	defer q.stopList()
	ctx, cancel := context.WithTimeout(context.Background(), clusterStopTimeout)
	defer cancel()
	if err := q.hq.Stop(ctx); err != nil {
		q.log.Warn("cluster queue stop", "error", err)
	}
}

// clusterProgress records the frames found and those the head could not
// announce; the frames converted are counted from the results.
func (q *queue) clusterProgress(p batch.Progress) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.found = p.Found
	if p.File != nil && p.File.Status == batch.Failed {
		q.metrics.FrameFailed()
		msg := batch.Failure{Path: p.File.Path, Err: p.File.Err}.String()
		q.failed = append(q.failed, msg)
		q.log.Warn("frame failed", "error", msg)
	}
}

// clusterResult records the result of a job (each job once: the head
// queue drops a result of a job it has seen, so a frame delivered again
// is listed once); the head's metrics count the frames the workers
// convert.
func (q *queue) clusterResult(r cluster.Result) {
	path := filepath.Join(q.serverDir, filepath.FromSlash(r.Frame))
	if r.Skipped {
		q.mu.Lock()
		q.skippedLocked(path, r.Outputs)
		q.mu.Unlock()
		return
	}
	if len(r.Curves) > 0 {
		q.record(path, r.Curves, r.Slices)
	}
	if q.list != nil {
		q.list.Append(q.listEntries(r)...)
	}
	q.metrics.FrameDone()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.processed++
	now := time.Now()
	q.history = append(q.history, now)
	q.pruneHistory(now)
	q.addFilesLocked(r.Outputs)
}

// listEntries returns the live file list lines of a result: one per
// output, with its parameters (from Params; from the curves of a worker
// that sends no Params, for a frame of one curve set).
func (q *queue) listEntries(r cluster.Result) []filelist.Entry {
	var out []filelist.Entry
	for i, o := range r.Outputs {
		if o == "" {
			continue
		}
		var p cluster.Params
		switch {
		case i < len(r.Params):
			if p = r.Params[i]; p.Slice {
				continue
			}
		case len(r.Params) == 0 && len(r.Curves) == len(r.Outputs):
			c := r.Curves[i]
			p = cluster.Params{I0: c.I0, I1: c.I1, I2: c.I2}
		default:
			continue
		}
		file := filepath.FromSlash(o)
		if !filepath.IsAbs(file) {
			file = filepath.Join(q.serverDir, file)
		}
		out = append(out, filelist.Entry{Path: file, I0: float64(p.I0), I1: float64(p.I1), I2: float64(p.I2)})
	}
	return out
}

// stopList closes the head's live file list.
func (q *queue) stopList() {
	if q.list != nil {
		_ = q.list.Close()
	}
}

// clusterDead records a job given up by the workers as a failed frame.
func (q *queue) clusterDead(d cluster.DeadLetter) {
	path := "(unreadable job)"
	if f := d.Path(); f != "" {
		path = filepath.Join(q.serverDir, filepath.FromSlash(f))
	}
	msg := batch.Failure{Path: path, Err: errors.New(d.Reason)}.String()
	q.metrics.FrameFailed()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.failed = append(q.failed, msg)
	q.log.Warn("frame given up by the workers", "error", msg, "deliveries", d.Deliveries)
}
