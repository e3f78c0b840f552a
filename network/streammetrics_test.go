package network

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/network/metrics"
	"github.com/saxsdog/saxs/network/stream"
)

// TestStreamMetrics: a series of 20 frames with a pixel mask, 3 of them
// left out (2 in a gap, 1 at the end): the scrape counts 17 stream frames,
// 3 dropped, 17 frames done, one stage time per frame and stage, and two
// operators (new's, and the one with the pixel mask).
func TestStreamMetrics(t *testing.T) {
	imgs, _ := streamFrames(t)
	push, addr := pushSocket(t)
	m := metrics.New("server")
	s, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Stream = addr; cfg.Metrics = m })
	newQueue(t, c, dir, "run1")
	rows, cols := imgs[0].Rows, imgs[0].Cols
	pm := &saxs.Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	for i := 0; i < cols; i++ {
		pm.Masked[10*cols+i] = true // one row
	}
	drop, err := stream.ParseDrop("3-4,19")
	require.NoError(t, err)
	series := stream.Series{Version: stream.V2, ID: 4, NImages: 20, Rows: rows, Cols: cols, ElemSize: 4, Encoding: stream.EncBSLZ4, PixelMask: pm}
	_, err = stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs, Drop: drop})
	require.NoError(t, err)
	waitFor(t, "the series integrated and ended", func() bool {
		st := s.StreamStats()
		return st.Integrated == 17 && st.Messages == 19
	})

	fams := scrape(t, m)
	get := func(name string) float64 {
		f := fams[name]
		require.NotNil(t, f, name)
		return f.Metric[0].Counter.GetValue()
	}
	assert.Equal(t, 17.0, get("saxs_stream_frames_total"))
	assert.Equal(t, 3.0, get("saxs_stream_frames_dropped_total"))
	assert.Equal(t, 17.0, get("saxs_frames_done_total"))
	assert.Equal(t, 0.0, get("saxs_frames_failed_total"))
	assert.Equal(t, 2.0, get("saxs_operator_builds_total"))
	for _, mt := range fams["saxs_stage_seconds"].Metric {
		assert.Equal(t, uint64(17), mt.Histogram.GetSampleCount(), "%v", mt.Label)
	}
}
