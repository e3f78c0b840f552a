package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/testframes"
	"github.com/saxsdog/saxs/network/cluster"
	"github.com/saxsdog/saxs/network/metrics"
)

const sampleDir = "../../testdata/sample"

// env is an embedded NATS server, a head on it and a SERVERDIR with the
// sample frames of run1.
type env struct {
	t    testing.TB
	ctx  context.Context
	emb  *cluster.Embedded
	head *cluster.Head
	js   jetstream.JetStream
	dir  string
	spec cluster.QueueSpec
}

func newEnv(t *testing.T, s cluster.Settings) *env { return newEnvTB(t, s) }

func newEnvTB(t testing.TB, s cluster.Settings) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	emb, err := cluster.Embed(ctx, cluster.EmbedOptions{Addr: "127.0.0.1:0", StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(emb.Shutdown)
	nc := connect(t, emb)
	head, err := cluster.NewHead(ctx, nc, s, nil)
	require.NoError(t, err)
	dir := t.TempDir()
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	require.NotEmpty(t, frames)
	for _, f := range frames {
		copyFile(t, f, filepath.Join(dir, "run1", filepath.Base(f)))
	}
	cal, err := os.ReadFile(filepath.Join(sampleDir, "cal.json"))
	require.NoError(t, err)
	mask, err := os.ReadFile(filepath.Join(sampleDir, "mask.msk"))
	require.NoError(t, err)
	spec := cluster.QueueSpec{Calibration: cal, Masks: []cluster.Mask{{Name: "mask.msk", Data: mask}}, Dir: "run1", RelPath: "../work"}
	return &env{t: t, ctx: ctx, emb: emb, head: head, js: head.JetStream(), dir: dir, spec: spec}
}

func connect(t testing.TB, emb *cluster.Embedded) *nats.Conn {
	t.Helper()
	nc, err := cluster.Connect(cluster.ConnectOptions{URL: emb.ClientURL()})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, b, 0o644))
}

// collector records the outcomes a queue reports.
type collector struct {
	mu      sync.Mutex
	results []cluster.Result
	dead    []cluster.DeadLetter
}

func (c *collector) handlers() cluster.Handlers {
	return cluster.Handlers{
		Result: func(r cluster.Result) { c.mu.Lock(); c.results = append(c.results, r); c.mu.Unlock() },
		Dead:   func(d cluster.DeadLetter) { c.mu.Lock(); c.dead = append(c.dead, d); c.mu.Unlock() },
	}
}

func (c *collector) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.results), len(c.dead)
}

// startWorker runs an in-process worker until the test ends.
func (e *env) startWorker(threads int) {
	e.t.Helper()
	w, err := cluster.NewWorker(connect(e.t, e.emb), cluster.WorkerConfig{ServerDir: e.dir, Threads: threads,
		RetryDelay: 20 * time.Millisecond, Logger: testLogger()})
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		assert.NoError(e.t, <-done)
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamEmpty checks that the jobs stream holds nothing and the workers'
// consumer has nothing pending or unacknowledged.
func (e *env) streamEmpty() bool {
	s, err := e.js.Stream(e.ctx, cluster.JobsStream)
	require.NoError(e.t, err)
	si, err := s.Info(e.ctx)
	require.NoError(e.t, err)
	c, err := e.js.Consumer(e.ctx, cluster.JobsStream, cluster.WorkersConsumer)
	require.NoError(e.t, err)
	ci, err := c.Info(e.ctx)
	require.NoError(e.t, err)
	return si.State.Msgs == 0 && ci.NumPending == 0 && ci.NumAckPending == 0
}

// referenceChi converts the frames of run1 with the saxsdog pipeline
// (internal/batch) in a copy and returns the .chi files by name.
func (e *env) referenceChi() map[string][]byte {
	e.t.Helper()
	ref := e.t.TempDir()
	frames, _ := filepath.Glob(filepath.Join(e.dir, "run1", "*.tif"))
	for _, f := range frames {
		copyFile(e.t, f, filepath.Join(ref, "run1", filepath.Base(f)))
	}
	cal, err := saxs.ParseCalibration(e.spec.Calibration, "calibration")
	require.NoError(e.t, err)
	m, err := saxs.DecodeMask(e.spec.Masks[0].Data, "mask.msk")
	require.NoError(e.t, err)
	ig, err := saxs.NewWithOptions(cal, saxs.Options{Masks: []*saxs.Mask{m}})
	require.NoError(e.t, err)
	s, err := batch.Run(context.Background(), batch.Config{Integrator: ig, Roots: []string{filepath.Join(ref, "run1")},
		RelPath: "../work", ErrorLog: "-", Workers: 1})
	require.NoError(e.t, err)
	require.Equal(e.t, len(frames), s.Converted)
	out := map[string][]byte{}
	chis, _ := filepath.Glob(filepath.Join(ref, "work", "*.chi"))
	for _, c := range chis {
		b, err := os.ReadFile(c)
		require.NoError(e.t, err)
		out[filepath.Base(c)] = b
	}
	return out
}

// publishSample starts a queue whose outcomes go to col and publishes the
// sample frames of run1 as its jobs.
func (e *env) publishSample(col *collector) (*cluster.HeadQueue, []string) {
	e.t.Helper()
	hq, err := e.head.StartQueue(e.ctx, "server0", e.spec, col.handlers())
	require.NoError(e.t, err)
	frames, err := filepath.Glob(filepath.Join(e.dir, "run1", "*.tif"))
	require.NoError(e.t, err)
	require.NotEmpty(e.t, frames)
	for _, f := range frames {
		_, err := hq.Publish(e.ctx, "run1/"+filepath.Base(f), nil)
		require.NoError(e.t, err)
	}
	return hq, frames
}

func TestWorkerWritesWhatSaxsdogWrites(t *testing.T) {
	e := newEnv(t, cluster.Settings{AckWait: 5 * time.Second, MaxDeliver: 3})
	var col collector
	hq, frames := e.publishSample(&col)
	e.startWorker(2)
	waitFor(t, "the results", func() bool { n, _ := col.counts(); return n == len(frames) })
	ref := e.referenceChi()
	require.Len(t, ref, len(frames))
	for name, want := range ref {
		got, err := os.ReadFile(filepath.Join(e.dir, "work", name))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "%s differs from saxsdog's", name)
	}
	col.mu.Lock()
	for _, r := range col.results {
		require.Len(t, r.Outputs, 1)
		assert.Equal(t, "work/"+filepath.Base(r.Frame[:len(r.Frame)-4])+".chi", r.Outputs[0])
		require.Len(t, r.Curves, 1)
		assert.NotEmpty(t, r.Curves[0].Q)
		assert.Equal(t, len(r.Curves[0].Q), len(r.Curves[0].I))
	}
	col.mu.Unlock()
	waitFor(t, "an empty stream", e.streamEmpty)
	n, err := hq.Pending(e.ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestDeadLetterAfterMaxDeliver(t *testing.T) {
	e := newEnv(t, cluster.Settings{AckWait: 5 * time.Second, MaxDeliver: 3})
	var col collector
	hq, err := e.head.StartQueue(e.ctx, "server0", e.spec, col.handlers())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "run1", "broken.tif"), []byte("not a tiff"), 0o644))
	j, err := hq.Publish(e.ctx, "run1/broken.tif", nil)
	require.NoError(t, err)
	e.startWorker(1)
	waitFor(t, "the dead letter", func() bool { _, d := col.counts(); return d == 1 })
	col.mu.Lock()
	d := col.dead[0]
	col.mu.Unlock()
	require.NotNil(t, d.Job)
	assert.Equal(t, j.ID, d.Job.ID)
	assert.Equal(t, uint64(3), d.Deliveries, "given up after MaxDeliver deliveries")
	assert.Contains(t, d.Reason, "broken.tif")
	waitFor(t, "an empty stream", e.streamEmpty)
	n, _ := col.counts()
	assert.Zero(t, n)
}

func TestBadJobIsDeadLetteredAndWorkerGoesOn(t *testing.T) {
	e := newEnv(t, cluster.Settings{AckWait: 5 * time.Second, MaxDeliver: 3})
	var col collector
	hq, err := e.head.StartQueue(e.ctx, "server0", e.spec, col.handlers())
	require.NoError(t, err)
	_, err = e.js.Publish(e.ctx, cluster.JobsPrefix+hq.ID(), []byte("{not json"))
	require.NoError(t, err)
	_, err = e.js.Publish(e.ctx, cluster.JobsPrefix+hq.ID(), []byte(`{"id":"x","key":"server0","version":1,"frame":"../../etc/passwd"}`))
	require.NoError(t, err)
	e.startWorker(1)
	_, err = hq.Publish(e.ctx, "run1/sample_00001.tif", nil)
	require.NoError(t, err)
	waitFor(t, "the result and dead letters", func() bool { n, d := col.counts(); return n == 1 && d == 2 })
	col.mu.Lock()
	defer col.mu.Unlock()
	var raw, escape *cluster.DeadLetter
	for i := range col.dead {
		if col.dead[i].Job == nil {
			raw = &col.dead[i]
		} else {
			escape = &col.dead[i]
		}
	}
	require.NotNil(t, raw)
	assert.Equal(t, "{not json", raw.Raw)
	assert.Contains(t, raw.Reason, "bad job")
	assert.Equal(t, uint64(1), raw.Deliveries, "a bad job is not tried again")
	require.NotNil(t, escape)
	assert.Contains(t, escape.Reason, "not a path below SERVERDIR")
	_, err = os.Stat(filepath.Join(e.dir, "work", "sample_00001.chi"))
	assert.NoError(t, err)
	waitFor(t, "an empty stream", e.streamEmpty)
}

func TestStaleVersionAndDroppedQueue(t *testing.T) {
	e := newEnv(t, cluster.Settings{AckWait: 5 * time.Second, MaxDeliver: 3})
	var col1, col2 collector
	hq1, err := e.head.StartQueue(e.ctx, "server0", e.spec, col1.handlers())
	require.NoError(t, err)
	for range 20 { // pending when the new queue starts: dropped
		_, err := hq1.Publish(e.ctx, "run1/sample_00001.tif", nil)
		require.NoError(t, err)
	}
	hq2, err := e.head.StartQueue(e.ctx, "server0", e.spec, col2.handlers())
	require.NoError(t, err)
	require.Greater(t, hq2.Version(), hq1.Version())
	require.NoError(t, hq1.Stop(e.ctx))
	n, err := hq1.Pending(e.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "the old queue's jobs are dropped")
	// A job of the old version published late (a slow head): skipped.
	_, err = hq1.Publish(e.ctx, "run1/sample_00002.tif", nil)
	require.NoError(t, err)
	_, err = hq2.Publish(e.ctx, "run1/sample_00003.tif", nil)
	require.NoError(t, err)
	e.startWorker(1)
	waitFor(t, "the new queue's result", func() bool { n, _ := col2.counts(); return n == 1 })
	waitFor(t, "an empty stream", e.streamEmpty)
	n1, d1 := col1.counts()
	assert.Zero(t, n1+d1, "nothing of the old queue")
	for _, name := range []string{"sample_00001.chi", "sample_00002.chi"} {
		_, err = os.Stat(filepath.Join(e.dir, "work", name))
		assert.ErrorIs(t, err, os.ErrNotExist, "%s written for a dropped or stale job", name)
	}
	var r cluster.Result
	col2.mu.Lock()
	r = col2.results[0]
	col2.mu.Unlock()
	assert.Equal(t, "run1/sample_00003.tif", r.Frame)
}

// testLogger logs to stderr with SAXS_TEST_LOG set, else nowhere.
func testLogger() *slog.Logger {
	if os.Getenv("SAXS_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestWorkerMetrics: a worker's Observer (network/metrics) counts the
// frames done and failed, the operator build, the stage times and the
// job latencies.
func TestWorkerMetrics(t *testing.T) {
	e := newEnv(t, cluster.Settings{AckWait: 5 * time.Second, MaxDeliver: 2})
	var col collector
	hq, frames := e.publishSample(&col)
	_, err := hq.Publish(e.ctx, "run1/missing.tif", nil)
	require.NoError(t, err)
	m := metrics.New("worker")
	w, err := cluster.NewWorker(connect(t, e.emb), cluster.WorkerConfig{ServerDir: e.dir, Threads: 1,
		RetryDelay: 20 * time.Millisecond, Observer: m, Logger: testLogger()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitFor(t, "the results", func() bool { n, d := col.counts(); return n == len(frames) && d == 1 })
	waitFor(t, "an empty stream", e.streamEmpty)
	cancel()
	require.NoError(t, <-done)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		fmt.Sprintf(`saxs_frames_done_total{role="worker"} %d`, len(frames)),
		`saxs_frames_failed_total{role="worker"} 1`, // the missing frame, given up after two deliveries
		`saxs_jobs_redelivered_total{role="worker"} 1`,
		`saxs_operator_builds_total{role="worker"} 1`,
		fmt.Sprintf(`saxs_job_latency_seconds_count{role="worker"} %d`, len(frames)),
		fmt.Sprintf(`saxs_stage_seconds_count{role="worker",stage="integrate"} %d`, len(frames)),
	} {
		assert.Contains(t, body, want)
	}
}

// TestJobOfDyingWorkersIsDeadLettered: a job whose workers take it and
// die (never answer) MaxDeliver times gets a dead letter from the head
// and leaves the stream.
func TestJobOfDyingWorkersIsDeadLettered(t *testing.T) {
	e := newEnv(t, cluster.Settings{AckWait: 500 * time.Millisecond, MaxDeliver: 2})
	var col collector
	hq, err := e.head.StartQueue(e.ctx, "server0", e.spec, col.handlers())
	require.NoError(t, err)
	j, err := hq.Publish(e.ctx, "run1/sample_00001.tif", nil)
	require.NoError(t, err)
	cons, err := e.js.Consumer(e.ctx, cluster.JobsStream, cluster.WorkersConsumer)
	require.NoError(t, err)
	for range 2 { // a worker that takes the job and dies, twice
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		got := 0
		for range b.Messages() {
			got++
		}
		require.Equal(t, 1, got)
	}
	// A live worker's pull: JetStream finds the job out of deliveries
	// (it reports that when it would deliver it again).
	b, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	require.NoError(t, err)
	for m := range b.Messages() {
		t.Fatalf("delivered a third time: %s", m.Data())
	}
	waitFor(t, "the dead letter", func() bool { _, d := col.counts(); return d == 1 })
	col.mu.Lock()
	d := col.dead[0]
	col.mu.Unlock()
	require.NotNil(t, d.Job)
	assert.Equal(t, j.ID, d.Job.ID)
	assert.Equal(t, uint64(2), d.Deliveries)
	assert.Contains(t, d.Reason, "no worker finished it")
	waitFor(t, "an empty stream", e.streamEmpty)
}

// TestWorkerWaitsForHead: a worker started before any head waits for the
// jobs consumer, then takes the head's jobs.
func TestWorkerWaitsForHead(t *testing.T) {
	emb, err := cluster.Embed(t.Context(), cluster.EmbedOptions{Addr: "127.0.0.1:0", StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(emb.Shutdown)
	e := &env{t: t, ctx: t.Context(), emb: emb, dir: t.TempDir()}
	copyFile(t, filepath.Join(sampleDir, "frames", "run1", "sample_00001.tif"), filepath.Join(e.dir, "run1", "sample_00001.tif"))
	e.startWorker(1)
	time.Sleep(200 * time.Millisecond) // the worker finds no consumer yet
	head, err := cluster.NewHead(e.ctx, connect(t, emb), cluster.Settings{}, nil)
	require.NoError(t, err)
	cal, err := os.ReadFile(filepath.Join(sampleDir, "cal.json"))
	require.NoError(t, err)
	mask, err := os.ReadFile(filepath.Join(sampleDir, "mask.msk"))
	require.NoError(t, err)
	var col collector
	hq, err := head.StartQueue(e.ctx, "server0", cluster.QueueSpec{Calibration: cal,
		Masks: []cluster.Mask{{Name: "mask.msk", Data: mask}}, Dir: "run1", RelPath: "../work"}, col.handlers())
	require.NoError(t, err)
	_, err = hq.Publish(e.ctx, "run1/sample_00001.tif", nil)
	require.NoError(t, err)
	waitFor(t, "the result", func() bool { n, _ := col.counts(); return n == 1 })
	_, err = os.Stat(filepath.Join(e.dir, "work", "sample_00001.chi"))
	assert.NoError(t, err)
}

// TestWorkerStopFinishesAndHandsBack: a worker told to stop finishes the
// frames it is integrating (results, acks) and hands the jobs it holds
// back at once: none is left unacknowledged waiting for AckWait.
func TestWorkerStopFinishesAndHandsBack(t *testing.T) {
	e := newEnv(t, cluster.Settings{AckWait: time.Minute, MaxDeliver: 3})
	var col collector
	hq, err := e.head.StartQueue(e.ctx, "server0", e.spec, col.handlers())
	require.NoError(t, err)
	const n = 300
	for i := range n {
		_, err := hq.Publish(e.ctx, fmt.Sprintf("run1/sample_%05d.tif", 1+i%3), nil)
		require.NoError(t, err)
	}
	w, err := cluster.NewWorker(connect(t, e.emb), cluster.WorkerConfig{ServerDir: e.dir, Threads: 2, Logger: testLogger()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitFor(t, "some results", func() bool { r, _ := col.counts(); return r >= 20 })
	cancel()
	require.NoError(t, <-done)
	r, _ := col.counts()
	// Every job not finished is available again at once (a nak), not
	// after the AckWait of a minute: a new pull gets all of them.
	c, err := e.js.Consumer(e.ctx, cluster.JobsStream, cluster.WorkersConsumer)
	require.NoError(t, err)
	b, err := c.Fetch(n, jetstream.FetchMaxWait(2*time.Second))
	require.NoError(t, err)
	got := 0
	for m := range b.Messages() {
		got++
		require.NoError(t, m.Ack())
	}
	// Results published before the stop reach the head a moment later.
	waitFor(t, "every job finished or handed back", func() bool { r, _ = col.counts(); return r+got == n })
	assert.Less(t, r, n, "the worker stopped before the end")
}

// slowObserver holds the first frame's read stage for delay, so that its
// job stays with the worker well past AckWait; it counts redeliveries.
type slowObserver struct {
	delay       time.Duration
	once        sync.Once
	redelivered atomic.Int32
}

func (*slowObserver) FrameDone()                      {}
func (*slowObserver) FrameFailed()                    {}
func (*slowObserver) ObserveJobLatency(time.Duration) {}
func (*slowObserver) OperatorBuilt()                  {}
func (o *slowObserver) Redelivered()                  { o.redelivered.Add(1) }
func (o *slowObserver) ObserveStage(stage string, _ time.Duration) {
	if stage == metrics.StageRead {
		o.once.Do(func() { time.Sleep(o.delay) })
	}
}

// TestHeartbeatKeepsLongJob: a job that takes four times AckWait is not
// delivered again, because the worker reports progress while it holds
// it. Without the heartbeat JetStream redelivers it after AckWait (and
// MaxDeliver 2 would then dead-letter it).
func TestHeartbeatKeepsLongJob(t *testing.T) {
	const ackWait = 500 * time.Millisecond
	e := newEnv(t, cluster.Settings{AckWait: ackWait, MaxDeliver: 2})
	var col collector
	hq, err := e.head.StartQueue(e.ctx, "server0", e.spec, col.handlers())
	require.NoError(t, err)
	_, err = hq.Publish(e.ctx, "run1/sample_00001.tif", nil)
	require.NoError(t, err)
	obs := &slowObserver{delay: 4 * ackWait}
	w, err := cluster.NewWorker(connect(t, e.emb), cluster.WorkerConfig{ServerDir: e.dir, Threads: 1,
		RetryDelay: 20 * time.Millisecond, Observer: obs, Logger: testLogger()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	waitFor(t, "the result", func() bool { n, _ := col.counts(); return n == 1 })
	waitFor(t, "an empty stream", e.streamEmpty)
	cons, err := e.js.Consumer(e.ctx, cluster.JobsStream, cluster.WorkersConsumer)
	require.NoError(t, err)
	info, err := cons.Info(e.ctx)
	require.NoError(t, err)
	assert.Zero(t, info.NumRedelivered, "redelivered by JetStream")
	assert.Zero(t, obs.redelivered.Load(), "redeliveries seen by the worker")
	n, d := col.counts()
	assert.Equal(t, 1, n)
	assert.Zero(t, d, "dead letters")
}

// TestMultiFrameFile: a 3-frame EDF file is one job; the worker writes one
// .chi per frame and the result carries the last frame's curves: frames
// of constant 5 and 7 through the same (linear) integration give curves
// in the ratio 7/5.
func TestMultiFrameFile(t *testing.T) {
	e := newEnv(t, cluster.Settings{AckWait: 5 * time.Second, MaxDeliver: 2})
	img, err := saxs.ReadImage(filepath.Join(e.dir, "run1", "sample_00001.tif"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "run1", "multi.edf"), testframes.EDF(img.Rows, img.Cols, 5, 6, 7), 0o644))
	var col collector
	hq, err := e.head.StartQueue(e.ctx, "server0", e.spec, col.handlers())
	require.NoError(t, err)
	_, err = hq.Publish(e.ctx, "run1/multi.edf", nil)
	require.NoError(t, err)
	e.startWorker(1)
	waitFor(t, "the result", func() bool { n, _ := col.counts(); return n == 1 })
	col.mu.Lock()
	r := col.results[0]
	col.mu.Unlock()
	require.Len(t, r.Outputs, 3, "one .chi per frame")
	for i, o := range r.Outputs {
		assert.FileExists(t, filepath.Join(e.dir, filepath.FromSlash(o)), "frame %d", i)
	}
	first, err := saxs.ReadChiFile(filepath.Join(e.dir, filepath.FromSlash(r.Outputs[0])))
	require.NoError(t, err)
	require.Len(t, r.Curves, 1, "one mask")
	c := r.Curves[0]
	require.Len(t, c.I, len(first.I))
	compared := 0
	for k, v := range c.I {
		if math.IsNaN(v) || math.IsNaN(first.I[k]) {
			assert.Equal(t, math.IsNaN(v), math.IsNaN(first.I[k]), "bin %d: empty in one frame only", k)
			continue
		}
		compared++
		assert.InEpsilon(t, 7.0/5*first.I[k], v, 1e-12, "bin %d", k)
	}
	assert.NotZero(t, compared)
}
