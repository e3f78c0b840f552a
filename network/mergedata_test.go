package network

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
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
	"github.com/saxsdog/saxs/merge"
)

// TestMergedata runs the data consolidation on a queue: three sample
// frames with header times (end of a 2 s exposure, 10 s apart) and a
// shutter log whose clock is 30.5 s ahead, attached as the original leash
// sends it (raw text), with FirstImageCorrelation. The merge runs in the
// background; stat announces it with mergecount, getmergedata returns the
// sync plot with the shift the construction implies, and the table has a
// row per frame with the shutter values and the frames' I0 from their
// .chi files.
func TestMergedata(t *testing.T) {
	_, c, dir := testServer(t, nil)
	ctx := context.Background()
	run := newQueue(t, c, dir, "run1")
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	t0 := time.Date(2021, 3, 4, 5, 6, 7, 0, time.Local)
	var peak strings.Builder
	peak.WriteString("Time\tDuration\tDiode_avg\tIoni_avg\n")
	for k := range 3 {
		img, err := saxs.ReadImage(frames[k])
		require.NoError(t, err)
		start := t0.Add(time.Duration(k) * 10 * time.Second)
		img.Description = fmt.Sprintf("# %s\r\n# Exposure_time 2 s\r\n", start.Add(2*time.Second).Format("2006-01-02T15:04:05.000"))
		f, err := os.Create(filepath.Join(run, fmt.Sprintf("m_%d.tif", k)))
		require.NoError(t, err)
		require.NoError(t, saxs.EncodeTIFF(f, img))
		require.NoError(t, f.Close())
		fmt.Fprintf(&peak, "%.1f\t2\t%d\t8\n", float64(start.Unix())+merge.MacEpochOffset+30.5, k+1)
	}
	waitFor(t, "3 frames converted", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") == 3
	})
	conf := Obj{"TimeOffset": 0, "OutputFileBaseName": "../results/merged",
		"LogDataTables": []any{Obj{"TimeEpoch": "Mac", "TimeOffset": 0, "FirstImageCorrelation": true, "ZeroImageCorrelation": false,
			"Name": "Peak", "Files": []any{Obj{"LocalPath": "/home/user/peak.log"}}}},
		"OutputFormats": Obj{"csv": true, "hdf": false, "exel": false, "json": true},
		"HDFOptions":    Obj{"IncludeCHI": false, "IncludeTIF": false}}
	att, err := json.Marshal(map[string]string{"filename": "/home/user/peak.log", "data": peak.String()})
	require.NoError(t, err)

	r, err := c.Do(ctx, "getmergedata", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, ResultEmpty, r.Result, "before the first merge")

	// Bad requests are refused at once, the server goes on.
	bad := map[string]Obj{"not attached": {"mergeconf": conf}}
	leave := maps.Clone(conf)
	leave["OutputFileBaseName"] = "../../../elsewhere/m"
	bad["outside"] = Obj{"mergeconf": leave}
	badConf := maps.Clone(conf)
	badConf["LogDataTables"] = []any{Obj{"TimeEpoch": "Dos"}}
	bad["bad conf"] = Obj{"mergeconf": badConf}
	for what, arg := range bad {
		var atts [][]byte
		if what != "not attached" {
			atts = [][]byte{att}
		}
		r, err := c.Do(ctx, "mergedata", arg, atts)
		require.NoError(t, err)
		assert.Equal(t, ResultError, r.Result, "%s: %s", what, r.Raw)
		assert.NotEmpty(t, r.ErrorText(), what)
	}

	r, err = c.Do(ctx, "mergedata", Obj{"mergeconf": conf}, [][]byte{att})
	require.NoError(t, err)
	require.Equal(t, ResultMergeStarted, r.Result, string(r.Raw))
	waitFor(t, "mergecount in stat", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, StatMergeCount) == 1
	})
	r, err = c.Do(ctx, "stat", nil, nil)
	require.NoError(t, err)
	assert.NotContains(t, r.Map()["stat"], StatMergeCount, "announced once")

	r, err = c.Do(ctx, "getmergedata", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultMergeData, r.Result, string(r.Raw))
	sp, _ := r.Map()["syncplot"].(map[string]any)
	assert.Equal(t, "-1 day, 23:59:29.500000", sp["CalculatedTimeshift"])
	images, _ := sp["Images"].(map[string]any)
	shutter, _ := sp["Shutter"].(map[string]any)
	assert.Len(t, images, 3)
	for k := range 3 {
		ms := strconv.FormatInt(t0.Add(time.Duration(k)*10*time.Second).UnixMilli(), 10)
		assert.Contains(t, images, ms)
		assert.Contains(t, shutter, ms, "the shutter rows are aligned with the frames")
	}
	fl, _ := r.Map()["fileslist"].(map[string]any)
	assert.Len(t, fl["Radial0"], 3)

	f, err := os.Open(filepath.Join(dir, "results", "run1merged.csv"))
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for k := range 3 {
		row := rows[k+1]
		assert.Equal(t, fmt.Sprintf("m_%d.tif", k), row[col["File"]])
		assert.Equal(t, strconv.FormatFloat(float64(k+1)/8, 'g', -1, 64), row[col["transm (Peak)"]])
		assert.Equal(t, t0.Add(time.Duration(k)*10*time.Second).UTC().Format(merge.TimeLayout), row[col["Time"]])
		chi, err := filepath.Glob(filepath.Join(dir, "work", fmt.Sprintf("m_%d*R0.chi", k)))
		require.NoError(t, err)
		require.Len(t, chi, 1)
		cf, err := saxs.ReadChiFile(chi[0])
		require.NoError(t, err)
		var p struct{ I0 float64 }
		require.NoError(t, json.Unmarshal([]byte(cf.Header[1]), &p))
		got, err := strconv.ParseFloat(row[col["I0 (R0)"]], 64)
		require.NoError(t, err)
		assert.True(t, math.Abs(got-p.I0) <= 1e-12*math.Abs(p.I0), "I0 %v, chi header %v", got, p.I0)
	}
	_, err = os.Stat(filepath.Join(dir, "results", "run1merged.json"))
	assert.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "results", "run1merged_igor.csv"))
	assert.NoError(t, err)
}

// TestLoadMergeAndBusy: LoadMerge attaches the LocalPath logs as raw text;
// a mergedata while a merge runs is refused with the original's message.
func TestLoadMergeAndBusy(t *testing.T) {
	s, c, dir := testServer(t, nil)
	newQueue(t, c, dir, "run1")
	tmp := t.TempDir()
	log := filepath.Join(tmp, "peak.log")
	require.NoError(t, os.WriteFile(log, []byte("Time\tDuration\n1\t2\n"), 0o644))
	conf := fmt.Sprintf(`{"TimeOffset": 0, "OutputFileBaseName": "merged", "OutputFormats": {"csv": true, "hdf": false, "exel": false, "json": false},
		"HDFOptions": {"IncludeCHI": false, "IncludeTIF": false},
		"LogDataTables": [{"TimeEpoch": "Unix", "TimeOffset": 0, "FirstImageCorrelation": false, "ZeroImageCorrelation": false, "Name": "Peak",
			"Files": [{"LocalPath": %q}]}]}`, log)
	cp := filepath.Join(tmp, "conf.json")
	require.NoError(t, os.WriteFile(cp, []byte(conf), 0o644))
	arg, atts, err := LoadMerge(cp)
	require.NoError(t, err)
	require.Len(t, atts, 1)
	var a struct{ Filename, Data string }
	require.NoError(t, json.Unmarshal(atts[0], &a))
	assert.Equal(t, log, a.Filename)
	assert.Equal(t, "Time\tDuration\n1\t2\n", a.Data)

	s.merge.mu.Lock()
	s.merge.running = true
	s.merge.mu.Unlock()
	r, err := c.Do(context.Background(), "mergedata", arg, atts)
	require.NoError(t, err)
	assert.Equal(t, ResultError, r.Result)
	assert.Equal(t, MergeRunning, r.ErrorText())
	s.merge.mu.Lock()
	s.merge.running = false
	s.merge.mu.Unlock()
}
