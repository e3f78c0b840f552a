package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/network/cluster"
)

const benchFrames = 400

// benchEnv is newEnv with benchFrames hard links to the sample frames in
// SERVERDIR/bench and the saxsdogworker binary.
func benchEnv(b *testing.B) (*env, string, []string) {
	b.Helper()
	e := newEnvTB(b, cluster.Settings{AckWait: 10 * time.Second, MaxDeliver: 5})
	src, err := filepath.Glob(filepath.Join(sampleDir, "frames", "*", "*.tif"))
	require.NoError(b, err)
	stage := filepath.Join(e.dir, "stage")
	var staged []string
	for i, f := range src {
		p := filepath.Join(stage, fmt.Sprintf("src%d.tif", i))
		copyFile(b, f, p)
		staged = append(staged, p)
	}
	require.NoError(b, os.MkdirAll(filepath.Join(e.dir, "bench"), 0o755))
	var names []string
	for i := range benchFrames {
		n := fmt.Sprintf("bench/frame_%04d.tif", i)
		require.NoError(b, os.Link(staged[i%len(staged)], filepath.Join(e.dir, n)))
		names = append(names, n)
	}
	e.spec.Dir = "bench"
	bin := filepath.Join(b.TempDir(), "saxsdogworker")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/saxsdogworker").CombinedOutput()
	require.NoError(b, err, string(out))
	return e, bin, names
}

// startWorkers starts n saxsdogworker processes (-t 1), stopped with
// SIGTERM at the end of the benchmark.
func (e *env) startWorkers(b *testing.B, bin string, n int) {
	for i := range n {
		cmd := exec.Command(bin, "--nats", e.emb.ClientURL(), "-t", "1", "--no-cache", "--name", fmt.Sprint("w", i), e.dir)
		require.NoError(b, cmd.Start())
		b.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		})
	}
}

// saxsdogRate converts the frames once with the saxsdog pipeline
// (internal/batch, its default workers: the number of CPUs) and returns
// frames per second.
func saxsdogRate(b *testing.B, e *env) float64 {
	b.Helper()
	cal, err := saxs.ParseCalibration(e.spec.Calibration, "calibration")
	require.NoError(b, err)
	m, err := saxs.DecodeMask(e.spec.Masks[0].Data, "mask.msk")
	require.NoError(b, err)
	ig, err := saxs.NewWithOptions(cal, saxs.Options{Masks: []*saxs.Mask{m}})
	require.NoError(b, err)
	start := time.Now()
	s, err := batch.Run(context.Background(), batch.Config{Integrator: ig, Roots: []string{filepath.Join(e.dir, "bench")},
		OutDir: filepath.Join(b.TempDir(), "ref"), ErrorLog: "-"})
	require.NoError(b, err)
	require.Equal(b, benchFrames, s.Converted)
	return float64(benchFrames) / time.Since(start).Seconds()
}

// BenchmarkClusterThroughput: frames per second of 1, 2 and 3 worker
// processes (one frame at a time each) on benchFrames sample frames, from
// the first job published to the last result at the head, and the ratio
// to one saxsdog run (all CPUs) on the same frames.
func BenchmarkClusterThroughput(b *testing.B) {
	for _, workers := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			e, bin, names := benchEnv(b)
			ref := saxsdogRate(b, e)
			e.startWorkers(b, bin, workers)
			var total time.Duration
			for b.Loop() {
				var col collector
				hq, err := e.head.StartQueue(e.ctx, "server0", e.spec, col.handlers())
				require.NoError(b, err)
				start := time.Now()
				for _, n := range names {
					_, err := hq.Publish(e.ctx, n, nil)
					require.NoError(b, err)
				}
				waitForTB(b, func() bool { n, _ := col.counts(); return n == len(names) })
				total += time.Since(start)
				require.NoError(b, hq.Stop(e.ctx))
			}
			rate := float64(b.N*len(names)) / total.Seconds()
			b.ReportMetric(rate, "frames/s")
			b.ReportMetric(ref, "saxsdog-frames/s")
			b.ReportMetric(rate/ref, "ratio")
		})
	}
}

// BenchmarkClusterLatency: the time from a job's announcement to its
// written file (the result's time), median and 99th percentile, with two
// worker processes and jobs announced at 100 Hz.
func BenchmarkClusterLatency(b *testing.B) {
	e, bin, names := benchEnv(b)
	e.startWorkers(b, bin, 2)
	var lat []time.Duration
	var mu sync.Mutex
	for b.Loop() {
		var col collector
		hq, err := e.head.StartQueue(e.ctx, "server0", e.spec, col.handlers())
		require.NoError(b, err)
		announced := map[string]time.Time{}
		tick := time.NewTicker(10 * time.Millisecond)
		for _, n := range names[:200] {
			<-tick.C
			j, err := hq.Publish(e.ctx, n, nil)
			require.NoError(b, err)
			announced[j.ID] = j.Announced
		}
		tick.Stop()
		waitForTB(b, func() bool { n, _ := col.counts(); return n == 200 })
		col.mu.Lock()
		mu.Lock()
		for _, r := range col.results {
			lat = append(lat, r.Written.Sub(announced[r.Job]))
		}
		mu.Unlock()
		col.mu.Unlock()
		require.NoError(b, hq.Stop(e.ctx))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func waitForTB(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
