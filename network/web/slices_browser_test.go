package web

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/network"
)

// The live tab shows the GISAXS slices of the latest frame in their own
// chart beside the radial curves (the first radial curve is computed in
// GISAXSmode, so it is shown too).
func TestBrowserShowsSlices(t *testing.T) {
	ctx := newBrowser(t, 1440, 900)
	b := startBackend(t)
	require.NoError(t, os.MkdirAll(filepath.Join(b.dir, "run1"), 0o755))
	w := startWeb(t, b.endpoint)
	cal, atts, err := network.LoadNew(filepath.Join(sampleDir, "..", "gisaxs", "cal.json"))
	require.NoError(t, err)
	c := &network.Client{Addr: b.endpoint, Secret: testSecret, Timeout: time.Minute}
	rep, err := c.Do(context.Background(), "new", network.Obj{"calibration": cal, "data": network.Obj{}}, atts)
	require.NoError(t, err)
	require.Equal(t, network.ResultNewQueue, rep.Result, string(rep.Raw))
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	for _, f := range frames {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(b.dir, "run1", filepath.Base(f)), data, 0o644))
	}
	shots := os.Getenv(ScreenshotEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.base+"/?token="+w.Token()),
		waitJS("the server online", `document.getElementById('status-text').textContent === 'queue running'`),
		openTab("live"),
		waitJS("the frames", `document.getElementById('c-processed').textContent === '3'`),
		waitJS("the slices", `!!state.plot && state.plot.curves.length === 2 && state.plot.slices.length === 2 && !document.getElementById('slice-panel').hidden && !!document.getElementById('slice-canvas')._map`),
		waitJS("the axis", `document.getElementById('slice-axis').textContent === 'q_y, q_z [nm⁻¹]'`),
		screenshot(t, shots, "8-live-slices"),
	))
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`state.plot.slices[1].q.length`))
	require.NoError(t, err)
	require.Equal(t, 128, n, "the y slice: one point per detector row")

	// The calibration editor shows the server's slices, with their files.
	require.NoError(t, chromedp.Do(ctx,
		openTab("calibration"),
		eval(`(() => { const b = document.getElementById('banner-load'); if (b && !document.getElementById('banner').hidden) b.click(); })()`),
		waitJS("the slices in the editor", `document.querySelectorAll('[data-path="/Slices"] .mask-card').length === 2`),
		waitJS("their names", `document.querySelector('[data-path="/Slices/1"] h3').textContent === 'Slice 1 · S3'`),
		waitJS("the direction choice", `document.querySelector('[data-path="/Slices/1/Direction"] select').value === 'y'`),
		waitJS("a valid calibration", `document.getElementById('cal-valid').textContent.includes('valid 2.0')`),
		screenshot(t, shots, "9-calibration-slices"),
	))
}
