package web

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/testframes"
)

// TestBrowserCalibrate drives the Calibrate tab in Chromium: the
// wavelength comes from the calibration being edited, a frame without
// rings is refused with the library's reason, the ring frame of
// testframes gives its construction's geometry, and "Use this geometry"
// writes it into the editor, which the server accepts.
func TestBrowserCalibrate(t *testing.T) {
	ctx := newBrowser(t, 1440, 900)
	w := startWeb(t, "tcp://127.0.0.1:1")
	shots := os.Getenv(ScreenshotEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	dir := t.TempDir()
	rings, flat := filepath.Join(dir, "agbh.tif"), filepath.Join(dir, "flat.tif")
	testframes.WriteFile(t, rings, testframes.RingFrameTIFF(t, false))
	testframes.WriteFile(t, flat, testframes.RingFrameTIFF(t, true))
	field := func(path string) string { return fmt.Sprintf(`[data-path=%q]`, path) }

	// The editor's wavelength is 1 Å: the tab starts from it.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.base+"/?token="+w.Token()),
		waitJS("the editor", `document.querySelectorAll('#cal-form .field').length > 10`),
		typeInto(field("/Wavelength")+" input", "1"),
		openTab("calibrate"),
		waitJS("the calibrants", fmt.Sprintf(`document.querySelectorAll('#calib-calibrant option').length === %d && document.getElementById('calib-calibrant').value === 'AgBh'`, len(saxs.Calibrants())+1)),
		waitJS("the source of AgBh", `document.getElementById('calib-calibrant-source').textContent.includes('58.380')`),
		waitJS("the wavelength of the editor", `document.getElementById('calib-wavelength').value === '1' && document.getElementById('calib-pixel').value === '172'`),
		waitJS("no result yet", `document.getElementById('btn-calib-use').disabled && !document.getElementById('calib-empty').hidden`),
	))

	// A frame without rings: the reason shows, nothing to use.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS(`#calib-file`), []string{flat}),
		waitJS("the file name", `document.getElementById('calib-file-name').textContent.startsWith('flat.tif')`),
		click(`#btn-calibrate`),
		waitJS("the refusal", `!document.getElementById('calib-error').hidden && document.getElementById('calib-error').textContent.includes('no calibrant rings found')`),
		waitJS("the button back", `!document.getElementById('btn-calibrate').disabled && document.getElementById('btn-calibrate').textContent === 'Run calibration'`),
		waitJS("still nothing to use", `document.getElementById('btn-calib-use').disabled`),
	))

	// The ring frame: picture, parameters and residuals.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS(`#calib-file`), []string{rings}),
		waitJS("the file name", `document.getElementById('calib-file-name').textContent.startsWith('agbh.tif')`),
		click(`#btn-calibrate`),
		waitJS("busy", `document.getElementById('btn-calibrate').disabled || !!state.calib.result`),
		waitJS("the parameters", `document.querySelectorAll('#calib-params tbody tr').length === 6 && !document.getElementById('btn-calib-use').disabled`),
		waitJS("the ring picture", fmt.Sprintf(`document.getElementById('calib-plot').naturalWidth === %d && document.getElementById('calib-plot').naturalHeight === %d`, testframes.RingCols, testframes.RingRows)),
		waitJS("the residuals", `document.querySelectorAll('#calib-rings tbody tr').length === state.calib.result.rings.length + 1 && state.calib.result.rings.length > 2`),
		waitJS("no error", `document.getElementById('calib-error').hidden`),
		waitJS("the button back", `!document.getElementById('btn-calibrate').disabled`),
	))
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(state.calib.result)`))
	require.NoError(t, err)
	var rep CalibrateReply
	require.NoError(t, json.Unmarshal([]byte(text), &rep))
	testframes.CheckRingGeometry(t, rep.Geometry)
	require.Equal(t, testframes.RingWavelength, rep.Wavelength)
	g := rep.Geometry
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#calib-params tr[data-param="Distance"]').textContent`))
	require.NoError(t, err)
	require.Contains(t, shown, strconv.FormatFloat(g.DetectorDistanceMM, 'f', 2, 64)[:5], "the distance in the table")
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	require.NoError(t, err)
	require.LessOrEqual(t, width, 1440, "the page is wider than the window")
	require.NoError(t, chromedp.Do(ctx, screenshot(t, shots, "10-calibrate")))

	// Use this geometry: the editor holds the fitted values, marked modified, valid.
	require.NoError(t, chromedp.Do(ctx,
		click(`#btn-calib-use`),
		waitJS("the calibration tab", `!document.getElementById('tab-calibration').hidden`),
		waitJS("modified", `document.getElementById('cal-file').textContent.includes('modified')`),
		waitJS("the Imagesize of the frame", `(() => { const i = document.querySelectorAll('`+field("/Geometry/Imagesize")+` input'); return i.length === 2 && i[0].value === '300' && i[1].value === '280'; })()`),
	))
	vals, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.querySelector('`+field("/Geometry/DedectorDistanceMM")+` input').value,
		...[...document.querySelectorAll('`+field("/Geometry/BeamCenter")+` input')].map(i => i.value),
		document.querySelector('`+field("/Geometry/Tilt/TiltAngleDeg")+` input').value,
		document.querySelector('`+field("/Wavelength")+` input').value]`))
	require.NoError(t, err)
	require.Len(t, vals, 5)
	for i, want := range []float64{g.DetectorDistanceMM, g.BeamCenter[0], g.BeamCenter[1], g.Tilt.TiltAngleDeg, rep.Wavelength} {
		v, err := strconv.ParseFloat(vals[i], 64)
		require.NoError(t, err, vals[i])
		require.LessOrEqual(t, math.Abs(v-want), 1e-9*math.Max(1, math.Abs(want)), "editor field %d: %s, fitted %v", i, vals[i], want)
	}
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`api('/api/validate', JSON.stringify(state.cal)).then(v => v.ok)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.True(t, ok, "the server does not accept the calibration with the fitted geometry")
	require.NoError(t, chromedp.Do(ctx,
		waitJS("valid", `document.getElementById('cal-valid').textContent.includes('valid 2.0')`),
		screenshot(t, shots, "11-calibrate-used"),
		eval(`state.modified = false`),   // no "leave the page?" question
		chromedp.Navigate("about:blank"), // no request of the page in flight when the server stops
	))
}
