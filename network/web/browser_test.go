package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/network"
)

// chromiumPath is Debian's Chromium (.ci/run installs it).
const chromiumPath = "/usr/bin/chromium"

// ScreenshotEnv names a folder for the screenshots of the browser test;
// without it they go to a temporary folder of the test.
const ScreenshotEnv = "SAXSLEASH_SCREENSHOTS"

// WindowEnv sets the browser window of the browser test, WIDTHxHEIGHT
// (default 1440x900), to review the page on a laptop or a wall display.
const WindowEnv = "SAXSLEASH_WINDOW"

// fit2dSample is fit2d's calibration output for the bundled sample's
// geometry: beam centre X 60.7, Y 70.4 pixels (stored [Y, X]), 300 mm,
// 1.54 Å, tilt 2° in the plane rotated by 30°.
const fit2dSample = `INFO: Refined Beam centre =       60.700      70.400 (pixels)
INFO: Refined Beam centre =       10.440      12.109 (mm)
INFO: Refined sample to detector distance =      300.000 mm
INFO: Refined wavelength =      1.54000 Angstroms
INFO: Refined tilt plane rotation angle =       30.000 degrees
INFO: Refined tilt angle =        2.000 degrees
`

// newBrowser starts headless Chromium with a fresh profile; it ends with
// the test. The test is skipped without Chromium.
func newBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s not found (apt-get install -y chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	return ctx
}

// waitJS polls a JavaScript condition until it is true (30 s at most).
func waitJS(what, expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(30*time.Second))(ctx, t)
		if err != nil {
			// The page's messages tell why.
			msgs, _ := chromedp.Evaluate[string](`'tab: ' + [...document.querySelectorAll('section.tab')].filter(s => !s.hidden).map(s => s.id).join(',') + ' | ' + document.getElementById('toasts').textContent + ' | ' + document.getElementById('cal-form').innerText.slice(0, 3000)`)(context.WithoutCancel(ctx), t)
			return fmt.Errorf("waiting for %s (%s): %w; page: %s", what, expr, err, msgs)
		}
		return nil
	})
}

// typeInto replaces the text of an input by typing s.
func typeInto(sel, s string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		eval(fmt.Sprintf(`document.querySelector(%s).value = ''`, jsString(sel))),
		chromedp.SendKeys(chromedp.CSS(sel), s),
	)
}

// click clicks the first element matching a CSS selector.
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// openTab clicks a tab's button until its section shows. A click computed
// before the page's layout settles (the server list, the calibration badge
// and banner arrive asynchronously) can land beside the button on a busy
// machine; the tab is there when its section is visible, so the click is
// repeated until it is (30 s at most).
func openTab(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		deadline := time.Now().Add(30 * time.Second)
		shown := fmt.Sprintf(`!document.getElementById(%s).hidden`, jsString("tab-"+name))
		for {
			if _, err := click(fmt.Sprintf(`.tabs [data-tab=%s]`, name))(ctx, t); err != nil {
				return err
			}
			_, err := chromedp.Poll[bool](shown, chromedp.WithPollingInterval(50*time.Millisecond),
				chromedp.WithPollingTimeout(time.Second))(ctx, t)
			if err == nil {
				return nil
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				return fmt.Errorf("opening the %s tab: %w", name, err)
			}
		}
	})
}

// eval runs JavaScript for its effect.
func eval(expr string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](expr) }

func screenshot(t *testing.T, dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		// the transient messages would hide the page
		if _, err := eval(`document.getElementById('toasts').replaceChildren()`)(ctx, tg); err != nil {
			return err
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, name+".png")
		t.Logf("screenshot %s", p)
		return os.WriteFile(p, buf, 0o644)
	})
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// TestBrowserCalibrateStartWatchAbort drives the page in Chromium against
// a saxsdog server on 127.0.0.1 with the bundled sample.
func TestBrowserCalibrateStartWatchAbort(t *testing.T) {
	width, height := 1440, 900
	if ws := os.Getenv(WindowEnv); ws != "" {
		_, err := fmt.Sscanf(ws, "%dx%d", &width, &height)
		require.NoError(t, err, "%s=%q: want WIDTHxHEIGHT", WindowEnv, ws)
	}
	ctx := newBrowser(t, width, height)
	b := startBackend(t)
	require.NoError(t, os.MkdirAll(filepath.Join(b.dir, "run1"), 0o755))
	w := startWeb(t, b.endpoint, "tcp://127.0.0.1:1")
	shots := os.Getenv(ScreenshotEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	mask, err := filepath.Abs(filepath.Join(sampleDir, "mask.msk"))
	require.NoError(t, err)

	field := func(path string) string { return fmt.Sprintf(`[data-path=%q]`, path) }
	errorAt := func(path string) string {
		return fmt.Sprintf(`(() => { const e = document.querySelector('%s .field-error'); return e ? e.textContent : ''; })()`, field(path))
	}

	// Load the page; the 2.0 defaults are shown, the servers listed.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.base+"/?token="+w.Token()),
		waitJS("the editor", `document.querySelectorAll('#cal-form .field').length > 10`),
		waitJS("the server online", `document.getElementById('status-text').textContent === 'online, no queue'`),
		openTab("servers"),
		waitJS("the server list", `document.querySelectorAll('#servers-body tr').length === 2 && document.querySelectorAll('#servers-body .dot.offline').length === 1`),
		screenshot(t, shots, "1-servers"),
		openTab("calibration"),
	))

	// Import fit2d's text (Ctrl+I opens the dialog).
	require.NoError(t, chromedp.Do(ctx,
		chromedp.KeyEvent("i", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		waitJS("the import dialog", `document.getElementById('dlg-import').open`),
		eval(`document.getElementById('import-text').value = `+jsString(fit2dSample)),
		screenshot(t, shots, "2-import-dialog"),
		click(`#import-go`),
		waitJS("the imported beam centre", `(() => { const i = document.querySelectorAll('`+field("/Geometry/BeamCenter")+` input'); return i.length === 2 && i[0].value === '70.4' && i[1].value === '60.7'; })()`),
		waitJS("the imported distance", `document.querySelector('`+field("/Geometry/DedectorDistanceMM")+` input').value === '300'`),
		waitJS("the import message", `document.getElementById('toasts').textContent.includes('Imported from fit2d')`),
	))

	// Upload the mask: its thumbnail shows, and since the defaults'
	// detector is 1043 × 981 the page says that it does not fit.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS(`input[type=file][data-mask="0"]`), []string{mask}),
		waitJS("the thumbnail", `!!document.querySelector('[data-thumb="0"] img') && document.querySelector('[data-thumb="0"] img').naturalWidth > 0`),
		waitJS("the size error", errorAt("/Masks/0/MaskFile")+`.includes('does not fit')`),
		screenshot(t, shots, "2-calibration-errors"),
	))

	// A typo in Imagesize is shown at the field; fixing it (and the
	// columns) clears all errors.
	rows := field("/Geometry/Imagesize") + ` input[aria-label="Imagesize rows"]`
	cols := field("/Geometry/Imagesize") + ` input[aria-label="Imagesize cols"]`
	require.NoError(t, chromedp.Do(ctx,
		typeInto(rows, "12x8"),
		waitJS("the Imagesize error", errorAt("/Geometry/Imagesize")+` !== ''`),
		typeInto(rows, "128"),
		typeInto(cols, "160"),
		typeInto(field("/Masks/0/qStart")+" input", "0.2"),
		typeInto(field("/Masks/0/qStop")+" input", "2"),
		waitJS("a valid calibration", `document.getElementById('cal-valid').textContent.includes('valid 2.0') && document.querySelectorAll('#cal-form .field-error').length === 0`),
	))

	// Pick the queue folder with the remote folder browser.
	require.NoError(t, chromedp.Do(ctx,
		click(field("/Directory")+` button`),
		waitJS("the folder list", `[...document.querySelectorAll('#dir-list li.dir')].some(l => l.textContent.includes('run1'))`),
		eval(`[...document.querySelectorAll('#dir-list li.dir')].find(l => l.textContent.includes('run1')).click()`),
		waitJS("run1 opened", `document.getElementById('dir-crumbs').textContent.includes('run1')`),
		screenshot(t, shots, "3-folder-browser"),
		click(`#dir-choose`),
		waitJS("the Directory", `document.querySelector('`+field("/Directory")+` .dirpath').textContent === 'run1'`),
		screenshot(t, shots, "3-calibration"),
	))

	// Start the queue, then write the frames.
	require.NoError(t, chromedp.Do(ctx,
		click(`#btn-start`),
		waitJS("the live tab", `!document.getElementById('tab-live').hidden`),
		waitJS("the queue", `document.getElementById('status-text').textContent === 'queue running'`),
	))
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	require.Len(t, frames, 3)
	for _, f := range frames {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(b.dir, "run1", filepath.Base(f)), data, 0o644))
	}
	require.NoError(t, chromedp.Do(ctx,
		waitJS("3 frames processed", `document.getElementById('c-processed').textContent === '3'`),
		waitJS("the curve", `!!state.plot && state.plot.curves.length === 1 && !!document.getElementById('curve-canvas')._map`),
		waitJS("the failed count", `document.getElementById('c-failed').textContent === '0'`),
		screenshot(t, shots, "4-live"),
		openTab("history"),
		waitJS("the history", `!!document.getElementById('h-corr')._map`),
		screenshot(t, shots, "5-history"),
	))
	nq, err := chromedp.Run(ctx, chromedp.Evaluate[int](`state.plot.curves[0].q.length`))
	require.NoError(t, err)
	// The page shows the curve the server sends.
	c := &network.Client{Addr: b.endpoint, Secret: testSecret, Timeout: time.Minute}
	rep, err := c.Do(context.Background(), "plot", nil, nil)
	require.NoError(t, err)
	graphs, _ := rep.Map()["graphs"].([]any)
	require.Len(t, graphs, 1)
	arr, _ := graphs[0].(map[string]any)["array"].([]any)
	q, _ := arr[0].([]any)
	require.Equal(t, len(q), nq)

	// A frame that cannot be read shows in the log of failed frames.
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "run1", "broken_00004.tif"), []byte("not a TIFF"), 0o644))
	require.NoError(t, chromedp.Do(ctx,
		openTab("live"),
		waitJS("the failed frame", `document.getElementById('c-failed').textContent === '1' && document.getElementById('failed-log').textContent.includes('broken_00004')`),
		screenshot(t, shots, "6-live-failed-frame"),
	))

	// Another leash starts a queue with another calibration: the page
	// says so and loads it on request, with its masks.
	cal, atts, err := network.LoadNew(filepath.Join(sampleDir, "cal2.json"))
	require.NoError(t, err)
	rep, err = c.Do(context.Background(), "new", network.Obj{"calibration": cal, "data": network.Obj{}}, atts)
	require.NoError(t, err)
	require.Equal(t, network.ResultNewQueue, rep.Result, string(rep.Raw))
	require.NoError(t, chromedp.Do(ctx,
		waitJS("the notice", `!document.getElementById('banner').hidden`),
		screenshot(t, shots, "7-calibration-changed"),
		click(`#banner-load`),
		waitJS("the server's calibration", `document.querySelectorAll('#cal-form .mask-card').length === 2 && document.querySelectorAll('#cal-form .thumb img').length === 2`),
		waitJS("no problems", `document.getElementById('cal-valid').textContent.includes('valid 2.0')`),
		waitJS("the notice gone", `document.getElementById('banner').hidden`),
	))

	// Abort, confirmed.
	require.NoError(t, chromedp.Do(ctx,
		click(`#btn-abort`),
		waitJS("the confirmation", `document.getElementById('dlg-confirm').open`),
		click(`#confirm-ok`),
		waitJS("no queue", `document.getElementById('status-text').textContent === 'online, no queue'`),
	))
	rep, err = c.Do(context.Background(), "stat", nil, nil)
	require.NoError(t, err)
	st, _ := rep.Map()["stat"].(map[string]any)
	require.Empty(t, st, "the server still has a queue")
}

// TestBrowserAdoptsServerCalibration opens the page while another leash's
// queue runs with the 0.3.0 (flat) sample calibration: the page adopts it
// with its mask, in the 0.3.0 layout, and checks edits as they are typed.
func TestBrowserAdoptsServerCalibration(t *testing.T) {
	ctx := newBrowser(t, 1440, 900)
	b := startBackend(t)
	require.NoError(t, os.MkdirAll(filepath.Join(b.dir, "run1"), 0o755))
	c := &network.Client{Addr: b.endpoint, Secret: testSecret, Timeout: time.Minute}
	arg, atts, err := network.LoadNewFlat(filepath.Join(sampleDir, "cal.json"), filepath.Join(sampleDir, "mask.msk"), "run1")
	require.NoError(t, err)
	rep, err := c.Do(context.Background(), "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, network.ResultNewQueue, rep.Result, string(rep.Raw))
	w := startWeb(t, b.endpoint)
	shots := os.Getenv(ScreenshotEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	dist := `[data-path="/DedectorDistanceMM"]`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.base+"/?token="+w.Token()),
		waitJS("the server's calibration", `document.getElementById('btn-gen1').classList.contains('on') && document.querySelector('`+dist+` input').value === '300'`),
		waitJS("its mask", `!!document.querySelector('[data-thumb="0"] img')`),
		waitJS("valid", `document.getElementById('cal-valid').textContent.includes('valid 0.3.0')`),
		waitJS("no notice", `document.getElementById('banner').hidden`),
		typeInto(dist+" input", "3OO"),
		waitJS("the error at the field", `!!document.querySelector('`+dist+` .field-error') && document.querySelector('`+dist+`').classList.contains('invalid')`),
		screenshot(t, shots, "8-calibration-0.3.0-error"),
		typeInto(dist+" input", "300"),
		waitJS("valid again", `document.getElementById('cal-valid').textContent.includes('valid 0.3.0') && !document.querySelector('#cal-form .field-error')`),
		// to the 2.0 layout: the mask moves into Masks[0], and stays
		click(`#btn-gen2`),
		waitJS("the 2.0 layout", `document.getElementById('btn-gen2').classList.contains('on') && document.querySelectorAll('#cal-form .mask-card').length === 1`),
		waitJS("the mask kept", `!!document.querySelector('[data-thumb="0"] img')`),
		waitJS("the distance under Geometry", `document.querySelector('[data-path="/Geometry/DedectorDistanceMM"] input').value === '300'`),
	))
	// Open a calibration file: its two masks still need their files.
	cal2, err := filepath.Abs(filepath.Join(sampleDir, "cal2.json"))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS(`#open-file`), []string{cal2}),
		waitJS("the opened file", `document.getElementById('cal-file').textContent.startsWith('cal2.json') && document.querySelectorAll('#cal-form .mask-card').length === 2`),
		waitJS("no thumbnails yet", `!document.querySelector('#cal-form .thumb img') && document.getElementById('cal-form').textContent.includes('No mask file uploaded yet')`),
		click(`#btn-start`),
		waitJS("the refusal", `document.getElementById('toasts').textContent.includes('Upload the mask file of mask 0 first')`),
	))
}
