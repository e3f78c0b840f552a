package network

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/network/metrics"
)

// TestServerMetrics runs a queue with metrics on: the scrape counts the
// frames converted and failed as stat does, one stage time per frame and
// stage, and the one operator built by new.
func TestServerMetrics(t *testing.T) {
	m := metrics.New("server")
	s, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Metrics = m })
	m.SetQueueLength(func() float64 { return float64(s.QueueLength()) })
	ctx := context.Background()
	run := newQueue(t, c, dir, "run1")

	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	require.NotEmpty(t, frames)
	for _, f := range frames {
		copyFile(t, f, filepath.Join(run, filepath.Base(f)))
	}
	// A complete TIFF of the wrong size fails at once.
	require.NoError(t, os.WriteFile(filepath.Join(run, "wrong.tif"), tinyTIFF(), 0o644))
	waitFor(t, "all frames finished", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") == len(frames) && s.QueueLength() == 0
	})
	waitFor(t, "the failure counted", func() bool {
		r, err := c.Do(ctx, "fileslist", nil, nil) // asks for the Failed list
		require.NoError(t, err)
		fl, _ := r.Map()["fileslist"].(map[string]any)
		l, _ := fl[FailedList].([]any)
		return len(l) == 1
	})

	fams := scrape(t, m)
	get := func(name string) float64 {
		f := fams[name]
		require.NotNil(t, f, name)
		mt := f.Metric[0]
		switch {
		case mt.Counter != nil:
			return mt.Counter.GetValue()
		case mt.Gauge != nil:
			return mt.Gauge.GetValue()
		}
		t.Fatalf("%s is neither counter nor gauge", name)
		return 0
	}
	n := float64(len(frames))
	assert.Equal(t, n, get("saxs_frames_done_total"))
	assert.Equal(t, 1.0, get("saxs_frames_failed_total"))
	assert.Equal(t, 1.0, get("saxs_operator_builds_total"))
	assert.Equal(t, 0.0, get("saxs_queue_length"))
	for _, mt := range fams["saxs_stage_seconds"].Metric {
		// The wrong-size frame is read, then fails to integrate.
		want := uint64(len(frames))
		if mt.Label[len(mt.Label)-1].GetValue() == metrics.StageRead {
			want++
		}
		assert.Equal(t, want, mt.Histogram.GetSampleCount(), "%v", mt.Label)
	}
}

// tinyTIFF returns a complete 2×2 int32 little-endian TIFF, written here
// byte by byte from the TIFF 6.0 layout.
func tinyTIFF() []byte {
	b := []byte{'I', 'I', 42, 0, 8, 0, 0, 0}
	entry := func(tag, typ uint16, count, value uint32) {
		b = append(b, byte(tag), byte(tag>>8), byte(typ), byte(typ>>8),
			byte(count), byte(count>>8), byte(count>>16), byte(count>>24),
			byte(value), byte(value>>8), byte(value>>16), byte(value>>24))
	}
	const n = 7
	data := uint32(8 + 2 + n*12 + 4)
	b = append(b, n, 0)
	entry(256, 3, 1, 2)    // width
	entry(257, 3, 1, 2)    // height
	entry(258, 3, 1, 32)   // bits per sample
	entry(259, 3, 1, 1)    // no compression
	entry(273, 4, 1, data) // strip offset
	entry(278, 3, 1, 2)    // rows per strip
	entry(279, 4, 1, 4*4)  // strip byte count
	b = append(b, 0, 0, 0, 0)
	return append(b, make([]byte, 16)...)
}
