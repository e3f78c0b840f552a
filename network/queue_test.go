package network

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/pyjson"
)

func num(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		require.NoError(t, err)
		return f
	case float64:
		return x
	}
	t.Fatalf("not a number: %#v", v)
	return 0
}

// startSample starts a queue on SERVERDIR/run1 and copies the sample
// frames there, waiting until they are converted.
func startSample(t *testing.T, c *Client, dir string) []string {
	t.Helper()
	ctx := context.Background()
	run := newQueue(t, c, dir, "run1")
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	for _, f := range frames {
		copyFile(t, f, filepath.Join(run, filepath.Base(f)))
	}
	waitFor(t, "the sample converted", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") == len(frames)
	})
	return frames
}

// TestPlotPayload checks the plot reply of the latest frame against its
// .chi files: the curves' columns and the integral parameters in the
// header, and the history of finish times.
func TestPlotPayload(t *testing.T) {
	_, c, dir := testServer(t, nil)
	frames := startSample(t, c, dir)
	before := float64(time.Now().UnixMicro()) / 1e6
	r, err := c.Do(context.Background(), "plot", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultPlot, r.Result)
	d := r.Map()
	name := d["filename"].(string)
	require.True(t, strings.HasPrefix(name, "run1/sample_"), name)
	graphs := d["graphs"].([]any)
	require.Len(t, graphs, 2)
	for i, g := range graphs {
		gm := g.(map[string]any)
		assert.Equal(t, "Radial", gm["kind"])
		chi, err := saxs.ReadChiFile(filepath.Join(dir, "work", filepath.Base(name)+"_cR"+strconv.Itoa(i)+".chi"))
		require.NoError(t, err)
		arr := gm["array"].([]any)
		require.Len(t, arr, 3)
		q, in := arr[0].([]any), arr[1].([]any)
		require.Equal(t, len(chi.Q), len(q))
		for k := range q {
			assert.InDelta(t, chi.Q[k], num(t, q[k]), 1e-12*math.Abs(chi.Q[k]))
			if math.IsNaN(chi.I[k]) {
				assert.True(t, math.IsNaN(num(t, in[k])), "NaN travels as a bare token")
			} else {
				assert.InDelta(t, chi.I[k], num(t, in[k]), 1e-9*math.Abs(chi.I[k]))
			}
		}
		ip := gm["Integparam"].(map[string]any)
		hdr, err := pyjson.Decode([]byte(chi.Header[1]))
		require.NoError(t, err)
		for _, k := range []string{"I0", "I1", "I2"} {
			assert.Equal(t, num(t, hdr.(map[string]any)[k]), num(t, ip[k]), k)
		}
	}
	hist := d["history"].([]any)
	assert.Len(t, hist, len(frames))
	for _, h := range hist {
		assert.LessOrEqual(t, num(t, h), before)
		assert.Greater(t, num(t, h), before-HistoryWindow.Seconds())
	}
	params := d["IntegralParameters"].(map[string]any)
	require.Contains(t, params, "R0")
	require.Contains(t, params, "R1")
	r0 := params["R0"].(map[string]any)
	for _, k := range []string{"time", "file", "I0", "I1", "I2"} {
		assert.Len(t, r0[k], len(frames), k)
	}
	st := d["stat"].(map[string]any)
	assert.Equal(t, float64(len(frames))/HistoryWindow.Seconds(), num(t, st["frames per sec"]))
}

func TestIncompleteFrameIsReported(t *testing.T) {
	_, c, dir := testServer(t, func(cfg *ServerConfig) {
		cfg.Watch = batch.Watch{Settle: 20 * time.Millisecond, Timeout: 300 * time.Millisecond}
	})
	run := filepath.Join(dir, "run1")
	require.NoError(t, os.MkdirAll(run, 0o755))
	ctx := context.Background()
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result)
	b, err := os.ReadFile(filepath.Join(sampleDir, "frames", "run1", "sample_00001.tif"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(run, "broken.tif"), b[:len(b)/3], 0o644))
	var failed []any
	waitFor(t, "the truncated frame reported", func() bool {
		r, err := c.Do(ctx, "fileslist", nil, nil)
		require.NoError(t, err)
		failed, _ = r.Map()["fileslist"].(map[string]any)["Failed"].([]any)
		return len(failed) > 0
	})
	require.Len(t, failed, 1)
	assert.Contains(t, failed[0], "broken.tif")
	assert.Contains(t, failed[0], "incomplete")
	r, err = c.Do(ctx, "stat", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, statNumber(t, r, "images processed"))
	assert.Equal(t, 0, statNumber(t, r, "queue length"), "a given-up frame is not queued")
}

func TestReaddirAndClose(t *testing.T) {
	_, c, dir := testServer(t, nil)
	frames := startSample(t, c, dir)
	ctx := context.Background()
	chi := filepath.Join(dir, "work", strings.TrimSuffix(filepath.Base(frames[0]), ".tif")+"_cR0.chi")
	require.NoError(t, os.Remove(chi))
	r, err := c.Do(ctx, "readdir", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultRestarted, r.Result, string(r.Raw))
	waitFor(t, "all frames converted again", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") == len(frames)
	})
	_, err = os.Stat(chi)
	assert.NoError(t, err, "readdir converts the frames already there")

	r, err = c.Do(ctx, "close", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, ResultClosed, r.Result)
	assert.Equal(t, len(frames), statNumber(t, r, "images processed"))
	// The queue goes on (its own watch) after close.
	copyFile(t, frames[0], filepath.Join(dir, "run1", "later.tif"))
	waitFor(t, "a frame after close", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") == len(frames)+1
	})
}

// TestStopFinishesFramesInFlight stops the server while frames are being
// converted: every .chi file left is complete and no temporary file
// remains.
func TestStopFinishesFramesInFlight(t *testing.T) {
	dir := t.TempDir()
	s, err := NewServer(ServerConfig{Dir: dir, NetConf: testNetConf(t), Bind: "tcp://127.0.0.1:0", Feeder: "-", Threads: 2,
		Watch: batch.Watch{Settle: 10 * time.Millisecond}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.Listen(ctx))
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	c := &Client{Addr: s.Endpoint(), Secret: testSecret}
	run := filepath.Join(dir, "run1")
	require.NoError(t, os.MkdirAll(run, 0o755))
	arg, atts := newRequest(t, []string{"run1"})
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result)
	b, err := os.ReadFile(filepath.Join(sampleDir, "frames", "run1", "sample_00001.tif"))
	require.NoError(t, err)
	for i := range 40 {
		require.NoError(t, os.WriteFile(filepath.Join(run, "f"+strconv.Itoa(i)+".tif"), b, 0o644))
	}
	waitFor(t, "the first frame converted", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") > 0
	})
	cancel()
	require.NoError(t, <-done)
	ents, err := os.ReadDir(filepath.Join(dir, "work"))
	require.NoError(t, err)
	require.NotEmpty(t, ents)
	for _, e := range ents {
		require.True(t, strings.HasSuffix(e.Name(), ".chi") && !strings.HasPrefix(e.Name(), "."), "left behind: %s", e.Name())
		_, err := saxs.ReadChiFile(filepath.Join(dir, "work", e.Name()))
		assert.NoError(t, err, e.Name())
	}
}

// TestOutDirMirrorsServerDir checks that with OutDir the files of a frame
// lie at the frame's path below SERVERDIR, so that same-named frames of two
// queue folders do not collide.
func TestOutDirMirrorsServerDir(t *testing.T) {
	out := t.TempDir()
	_, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.OutDir = out })
	ctx := context.Background()
	for _, run := range []string{"data/run1", "data/run2"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, run), 0o755))
		arg, atts := newRequest(t, strings.Split(run, "/"))
		r, err := c.Do(ctx, "new", arg, atts)
		require.NoError(t, err)
		require.Equal(t, ResultNewQueue, r.Result)
		copyFile(t, filepath.Join(sampleDir, "frames", "run1", "sample_00001.tif"), filepath.Join(dir, run, "x.tif"))
		waitFor(t, "x.tif of "+run, func() bool {
			_, err := os.Stat(filepath.Join(out, run, "x_cR1.chi"))
			return err == nil
		})
	}
	_, err := os.Stat(filepath.Join(out, "data", "run1", "x_cR0.chi"))
	assert.NoError(t, err)
}
