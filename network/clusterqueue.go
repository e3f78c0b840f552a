package network

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/saxsdog/saxs/internal/batch"
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

// clusterResult records the result of a job (each job once); the head's
// metrics count the frames the workers convert.
func (q *queue) clusterResult(r cluster.Result) {
	path := filepath.Join(q.serverDir, filepath.FromSlash(r.Frame))
	if len(r.Curves) > 0 {
		q.record(path, r.Curves, r.Slices)
	}
	q.metrics.FrameDone()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.processed++
	now := time.Now()
	q.history = append(q.history, now)
	q.pruneHistory(now)
	nm := len(maskConfs(q.spec.calJSON))
	for i, o := range r.Outputs {
		if o == "" {
			continue
		}
		key := fmt.Sprintf("Radial%d", i)
		if i >= nm {
			key = fmt.Sprintf("Slice%d", i) // as the file's _cS<i>
		}
		q.files[key] = append(q.files[key], o)
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
