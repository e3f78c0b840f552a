package network

import (
	"bytes"
	"context"
	"fmt"
	"github.com/saxsdog/saxs/internal/testframes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/pyjson"
	"github.com/saxsdog/saxs/network/cluster"
)

// clusterHead starts an embedded NATS server (on 127.0.0.1) and a head on
// it; both end with the test.
func clusterHead(t *testing.T, s cluster.Settings) (*cluster.Head, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	emb, err := cluster.Embed(ctx, cluster.EmbedOptions{Addr: "127.0.0.1:0", StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(emb.Shutdown)
	nc, err := cluster.Connect(cluster.ConnectOptions{URL: emb.ClientURL()})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	head, err := cluster.NewHead(ctx, nc, s, nil)
	require.NoError(t, err)
	return head, emb.ClientURL()
}

// jobsState returns the messages of the jobs stream and the pending and
// unacknowledged counts of the workers' consumer.
func jobsState(t *testing.T, js jetstream.JetStream) (msgs, pending, ackPending uint64) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, cluster.JobsStream)
	require.NoError(t, err)
	si, err := s.Info(ctx)
	require.NoError(t, err)
	c, err := js.Consumer(ctx, cluster.JobsStream, cluster.WorkersConsumer)
	require.NoError(t, err)
	ci, err := c.Info(ctx)
	require.NoError(t, err)
	return si.State.Msgs, ci.NumPending, uint64(ci.NumAckPending)
}

// TestClusterJobsCarryNoSecretAndNewDropsThem: the jobs of a head name
// files and carry no secret; a new queue drops the old one's pending jobs.
func TestClusterJobsCarryNoSecretAndNewDropsThem(t *testing.T) {
	head, _ := clusterHead(t, cluster.Settings{AckWait: 5 * time.Second, MaxDeliver: 3})
	_, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Cluster = head })
	ctx := context.Background()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	for _, f := range frames {
		copyFile(t, f, filepath.Join(dir, "run1", filepath.Base(f)))
	}
	js := head.JetStream()
	waitFor(t, "the jobs", func() bool { m, _, _ := jobsState(t, js); return m == uint64(len(frames)) })

	s, err := js.Stream(ctx, cluster.JobsStream)
	require.NoError(t, err)
	si, err := s.Info(ctx)
	require.NoError(t, err)
	var seen []string
	for seq := si.State.FirstSeq; seq <= si.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		assert.NotContains(t, string(m.Data), testSecret, "the secret in a job")
		assert.NotContains(t, string(m.Data), "II*", "pixels in a job")
		assert.Less(t, len(m.Data), 1024, "a job is a file reference")
		seen = append(seen, string(m.Data))
	}
	require.Len(t, seen, len(frames))
	for _, f := range frames {
		found := false
		for _, m := range seen {
			found = found || strings.Contains(m, `"frame":"run1/`+filepath.Base(f)+`"`)
		}
		assert.True(t, found, "no job for %s", f)
	}
	kv, err := js.KeyValue(ctx, cluster.CalBucket)
	require.NoError(t, err)
	e, err := kv.Get(ctx, "server0")
	require.NoError(t, err)
	assert.NotContains(t, string(e.Value()), testSecret, "the secret in the calibration bucket")

	r, err = c.Do(ctx, "stat", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, len(frames), statNumber(t, r, "queue length"))
	assert.Zero(t, statNumber(t, r, "images processed"))

	r, err = c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	m, p, a := jobsState(t, js)
	assert.Equal(t, [3]uint64{0, 0, 0}, [3]uint64{m, p, a}, "the old queue's jobs are dropped")
	e2, err := kv.Get(ctx, "server0")
	require.NoError(t, err)
	assert.Greater(t, e2.Revision(), e.Revision(), "a new calibration version")
}

// buildWorker builds saxsdogworker into a temporary folder.
func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "saxsdogworker")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/saxsdogworker").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// TestClusterThreeWorkersOneKilledOneLate is the proof of issue 12: an
// embedded NATS server, a head and three saxsdogworker processes on
// loopback convert 1000 frames; one worker is killed with SIGKILL mid-run
// and another starts late. Every frame has exactly one complete output,
// equal to the saxsdog pipeline's, stat counts 1000 and nothing is left
// in the stream.
func TestClusterThreeWorkersOneKilledOneLate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs worker processes")
	}
	const n = 1000
	bin := buildWorker(t)
	head, url := clusterHead(t, cluster.Settings{AckWait: 2 * time.Second, MaxDeliver: 5})
	_, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Cluster = head })
	ctx := context.Background()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	arg, atts := newRequest(t, []string{"data"})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))

	logs := map[string]*testframes.SyncBuffer{}
	start := func(name string) *exec.Cmd {
		cmd := exec.Command(bin, "--nats", url, "-t", "1", "--no-cache", "--retry-delay", "100ms", "--name", name, dir)
		logs[name] = &testframes.SyncBuffer{}
		cmd.Stdout, cmd.Stderr = logs[name], logs[name]
		require.NoError(t, cmd.Start())
		return cmd
	}
	w1, w2 := start("w1"), start("w2")
	var w3 *exec.Cmd
	defer func() {
		if t.Failed() {
			for k, l := range logs {
				t.Logf("%s:\n%s", k, l.String())
			}
		}
	}()
	stopWorker := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}

	// 1000 frames: hard links to the bundled sample frames, staged beside
	// the queue folder and linked in.
	src, err := filepath.Glob(filepath.Join(sampleDir, "frames", "*", "*.tif"))
	require.NoError(t, err)
	stage := filepath.Join(dir, "stage")
	var staged []string
	for i, f := range src {
		p := filepath.Join(stage, fmt.Sprintf("src%d.tif", i))
		copyFile(t, f, p)
		staged = append(staged, p)
	}
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("frame_%04d.tif", i)
		require.NoError(t, os.Link(staged[i%len(staged)], filepath.Join(data, names[i])))
	}

	processed := func() int {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed")
	}
	waitFor(t, "a third of the frames", func() bool { return processed() >= n/3 })
	require.NoError(t, w1.Process.Signal(syscall.SIGKILL))
	_ = w1.Wait()
	w3 = start("w3")
	deadline := time.Now().Add(60 * time.Second)
	for processed() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, n, processed(), "stat counts every frame")
	js := head.JetStream()
	waitFor(t, "an empty stream", func() bool { m, p, a := jobsState(t, js); return m+p+a == 0 })
	stopWorker(w2)
	stopWorker(w3)
	assert.Equal(t, n, processed(), "stat counts every frame once")

	// The saxsdog pipeline on the same frames (same names) as reference.
	ref := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.MkdirAll(ref, 0o755))
	for i, name := range names {
		require.NoError(t, os.Link(staged[i%len(staged)], filepath.Join(ref, name)))
	}
	calText, err := pyjson.Marshal(arg["calibration"])
	require.NoError(t, err)
	cal, err := saxs.ParseCalibration(calText, "calibration")
	require.NoError(t, err)
	var masks []*saxs.Mask
	atList, err := (&Request{Frames: atts}).Attachments()
	require.NoError(t, err)
	for _, a := range atList {
		m, err := saxs.DecodeMask(a.Data, a.Filename)
		require.NoError(t, err)
		masks = append(masks, m)
	}
	ig, err := saxs.NewWithOptions(cal, saxs.Options{Masks: masks})
	require.NoError(t, err)
	s, err := batch.Run(ctx, batch.Config{Integrator: ig, Roots: []string{ref}, RelPath: "../work", ErrorLog: "-", Workers: 2})
	require.NoError(t, err)
	require.Equal(t, n, s.Converted)

	want, err := os.ReadDir(filepath.Join(filepath.Dir(ref), "work"))
	require.NoError(t, err)
	got, err := os.ReadDir(filepath.Join(dir, "work"))
	require.NoError(t, err)
	list := func(es []os.DirEntry) []string {
		var l []string
		for _, e := range es {
			l = append(l, e.Name())
		}
		sort.Strings(l)
		return l
	}
	require.Equal(t, list(want), list(got), "exactly the outputs of saxsdog, no more (no temporary files)")
	require.Len(t, want, 2*n, "two masks")
	for _, w := range want {
		wb, err := os.ReadFile(filepath.Join(filepath.Dir(ref), "work", w.Name()))
		require.NoError(t, err)
		gb, err := os.ReadFile(filepath.Join(dir, "work", w.Name()))
		require.NoError(t, err)
		require.True(t, bytes.Equal(wb, gb), "%s differs from saxsdog's", w.Name())
	}

	r, err = c.Do(ctx, "fileslist", nil, nil)
	require.NoError(t, err)
	fl := r.Map()["fileslist"].(map[string]any)
	assert.Len(t, fl["Radial0"], n, "each frame listed once")
	assert.Empty(t, fl["Failed"])
	r, err = c.Do(ctx, "plot", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultPlot, r.Result)
	graphs, _ := r.Map()["graphs"].([]any)
	assert.Len(t, graphs, 2)
	assert.Contains(t, logs["w3"].String(), "calibration loaded", "the late worker took jobs")
	again := strings.Count(logs["w2"].String(), "job delivered again") + strings.Count(logs["w3"].String(), "job delivered again")
	t.Logf("jobs delivered again after the kill: %d", again)
}
