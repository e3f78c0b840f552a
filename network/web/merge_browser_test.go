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

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/merge"
	"github.com/saxsdog/saxs/network"
)

// TestBrowserConsolidate: on a queue that converted two frames with header
// times, the Consolidate tab refuses a correlation on a table not named
// Peak (the original leash's check), then sends the configuration with a
// shutter log picked in the page (its clock 30.5 s ahead) and shows the
// time shift of the construction once the server announces the merge.
func TestBrowserConsolidate(t *testing.T) {
	ctx := newBrowser(t, 1440, 900)
	b := startBackend(t)
	run := filepath.Join(b.dir, "run1")
	require.NoError(t, os.MkdirAll(run, 0o755))
	c := &network.Client{Addr: b.endpoint, Secret: testSecret, Timeout: time.Minute}
	cal, atts, err := network.LoadNew(filepath.Join(sampleDir, "cal2.json"))
	require.NoError(t, err)
	cal["Directory"] = []any{"run1"}
	rep, err := c.Do(context.Background(), "new", network.Obj{"calibration": cal, "data": network.Obj{}}, atts)
	require.NoError(t, err)
	require.Equal(t, network.ResultNewQueue, rep.Result, string(rep.Raw))
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	t0 := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	var peak strings.Builder
	peak.WriteString("Time\tDuration\tDiode_avg\tIoni_avg\n")
	for k := range 2 {
		img, err := saxs.ReadImage(frames[k])
		require.NoError(t, err)
		start := t0.Add(time.Duration(k) * 10 * time.Second)
		img.Description = fmt.Sprintf("# %s\r\n# Exposure_time 1 s\r\n", start.Add(time.Second).Format("2006-01-02T15:04:05.000"))
		f, err := os.Create(filepath.Join(run, fmt.Sprintf("m_%d.tif", k)))
		require.NoError(t, err)
		require.NoError(t, saxs.EncodeTIFF(f, img))
		require.NoError(t, f.Close())
		fmt.Fprintf(&peak, "%.1f\t1\t1\t2\n", float64(start.Unix())+merge.MacEpochOffset+30.5)
	}
	logPath := filepath.Join(t.TempDir(), "peak.log")
	require.NoError(t, os.WriteFile(logPath, []byte(peak.String()), 0o644))
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := c.Do(context.Background(), "stat", nil, nil)
		require.NoError(t, err)
		st, _ := r.Map()["stat"].(map[string]any)
		if fmt.Sprint(st["images processed"]) == "2" {
			break
		}
		require.True(t, time.Now().Before(deadline), "frames not converted")
		time.Sleep(50 * time.Millisecond)
	}
	conf := `{"TimeOffset": 0, "OutputFileBaseName": "../results/merged", "TimeZone": "UTC",
	  "OutputFormats": {"csv": true, "hdf": false, "exel": false, "json": false}, "HDFOptions": {"IncludeCHI": false, "IncludeTIF": false},
	  "LogDataTables": [{"TimeEpoch": "Mac", "TimeOffset": 0, "FirstImageCorrelation": true, "ZeroImageCorrelation": false,
	    "Name": "NAME", "Files": [{"LocalPath": "peak.log"}]}]}`
	w := startWeb(t, b.endpoint)
	shots := os.Getenv(ScreenshotEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.base+"/?token="+w.Token()),
		waitJS("the page", `document.querySelectorAll('#server-select option').length > 0`),
		openTab("consolidate"),
		waitJS("the template", `document.getElementById('merge-conf').value.includes('LogDataTables')`),
		eval(`document.getElementById('merge-conf').value = `+jsString(strings.ReplaceAll(conf, "NAME", "Dlogger"))),
		click(`#btn-merge`),
		waitJS("the refusal", `document.getElementById('merge-error').textContent.includes('only makes sense with the Peak')`),
		eval(`document.getElementById('merge-conf').value = `+jsString(strings.ReplaceAll(conf, "NAME", "Peak"))),
		chromedp.SetUploadFiles(chromedp.CSS(`#merge-logs`), []string{logPath}),
		waitJS("the attached log", `document.getElementById('merge-attached').textContent === 'peak.log'`),
		click(`#btn-merge`),
		waitJS("the result", `document.getElementById('merge-result').textContent.includes('Calculated time shift: -1 day, 23:59:29.500000')`),
		waitJS("its counts", `document.getElementById('merge-result').textContent.includes('Images: 2, shutter entries: 2')`),
		screenshot(t, shots, "9-consolidate"),
		chromedp.Navigate("about:blank"), // no request of the page in flight when the servers stop
	))
	_, err = os.Stat(filepath.Join(b.dir, "results", "run1merged.csv"))
	require.NoError(t, err)
}
