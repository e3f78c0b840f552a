package network

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/pyjson"
)

// newRequest reads a sample calibration and mask and returns the argument
// and attachments of a 2.0 new for the queue folder dir.
func newRequest(t testing.TB, dir []string) (Obj, [][]byte) {
	t.Helper()
	cal, atts, err := LoadNew(filepath.Join(sampleDir, "cal2.json"))
	require.NoError(t, err)
	cal["Directory"] = toAny(dir)
	return Obj{"calibration": cal, "data": Obj{}}, atts
}

func statNumber(t *testing.T, r *Reply, key string) int {
	t.Helper()
	st, _ := r.Map()["stat"].(map[string]any)
	n, _ := st[key].(json.Number)
	i, _ := n.Int64()
	return int(i)
}

func TestServerNewConvertsLikeSaxsdog(t *testing.T) {
	_, c, dir := testServer(t, nil)
	ctx := context.Background()
	run := filepath.Join(dir, "run1")
	require.NoError(t, os.MkdirAll(run, 0o755))

	r, err := c.Do(ctx, "plot", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, ResultNoQueue, r.Result)

	arg, atts := newRequest(t, []string{"run1"})
	r, err = c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))

	r, err = c.Do(ctx, "plot", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, ResultEmpty, r.Result, "plot before the first frame")

	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	require.NotEmpty(t, frames)
	for i, f := range frames {
		if i%2 == 0 {
			// Written in two parts with a pause longer than the settle
			// time: read too early, retried, converted once.
			writeInChunks(t, f, filepath.Join(run, filepath.Base(f)), 300*time.Millisecond)
		} else {
			copyFile(t, f, filepath.Join(run, filepath.Base(f)))
		}
	}
	waitFor(t, "all frames converted", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") == len(frames)
	})

	// The same frames through the saxsdog pipeline.
	ref := t.TempDir()
	refRun := filepath.Join(ref, "run1")
	for _, f := range frames {
		copyFile(t, f, filepath.Join(refRun, filepath.Base(f)))
	}
	calText, err := pyjson.Marshal(arg["calibration"])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(ref, "cal.json"), calText, 0o644))
	copyFile(t, filepath.Join(sampleDir, "mask.msk"), filepath.Join(ref, "mask.msk"))
	cal, err := saxs.LoadCalibration(filepath.Join(ref, "cal.json"))
	require.NoError(t, err)
	_, err = batch.Run(ctx, batch.Config{Calibration: cal, Roots: []string{refRun}, RelPath: "../work", ErrorLog: "-"})
	require.NoError(t, err)
	want, err := filepath.Glob(filepath.Join(ref, "work", "*.chi"))
	require.NoError(t, err)
	require.Len(t, want, 2*len(frames))
	for _, w := range want {
		got, err := os.ReadFile(filepath.Join(dir, "work", filepath.Base(w)))
		require.NoError(t, err)
		wb, err := os.ReadFile(w)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(wb, got), "%s differs from the saxsdog pipeline's", filepath.Base(w))
	}

	r, err = c.Do(ctx, "plot", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultPlot, r.Result)
	graphs, _ := r.Map()["graphs"].([]any)
	assert.Len(t, graphs, 2)

	r, err = c.Do(ctx, "fileslist", nil, nil)
	require.NoError(t, err)
	fl := r.Map()["fileslist"].(map[string]any)
	assert.Len(t, fl["Radial0"], len(frames), "each frame converted once")
	assert.Len(t, fl["Radial1"], len(frames), "each frame converted once")
	assert.Empty(t, fl["Failed"])

	r, err = c.Do(ctx, "abort", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, ResultAborted, r.Result)
	assert.Equal(t, len(frames), statNumber(t, r, "images processed"))
}
