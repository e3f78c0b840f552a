package network

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/saxsdog/saxs/internal/pyjson"
	"github.com/saxsdog/saxs/network/cluster"
	"github.com/saxsdog/saxs/network/stream"
)

// gisaxsRequest returns the new of the bundled GISAXS calibration (two
// masks, GISAXSmode, two slices) for the queue folder run1, with extra
// slices appended.
func gisaxsRequest(t *testing.T, extra ...map[string]any) (Obj, [][]byte) {
	t.Helper()
	cal, atts, err := LoadNew("../testdata/gisaxs/cal.json")
	require.NoError(t, err)
	cal["Directory"] = toAny([]string{"run1"})
	sl := cal["Slices"].([]any)
	for _, e := range extra {
		sl = append(sl, e)
	}
	cal["Slices"] = sl
	return Obj{"calibration": cal, "data": Obj{}}, atts
}

// gisaxsServe runs the frames of run1 through a server (with a cluster
// worker when clustered) and returns its SERVERDIR and the last plot
// reply's graphs.
func gisaxsServe(t *testing.T, arg Obj, atts [][]byte, clustered bool) (string, []any) {
	t.Helper()
	ctx := context.Background()
	mod := func(*ServerConfig) {}
	var url string
	if clustered {
		var head *cluster.Head
		head, url = clusterHead(t, cluster.Settings{AckWait: 5 * time.Second, MaxDeliver: 3})
		mod = func(cfg *ServerConfig) { cfg.Cluster = head }
	}
	_, c, dir := testServer(t, mod)
	run := filepath.Join(dir, "run1")
	require.NoError(t, os.MkdirAll(run, 0o755))
	r, err := c.Do(ctx, "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))
	if clustered {
		nc, err := cluster.Connect(cluster.ConnectOptions{URL: url})
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		w, err := cluster.NewWorker(nc, cluster.WorkerConfig{ServerDir: dir, Threads: 2, RetryDelay: 20 * time.Millisecond})
		require.NoError(t, err)
		wctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })
	}
	frames, err := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.NoError(t, err)
	require.NotEmpty(t, frames)
	for _, f := range frames {
		copyFile(t, f, filepath.Join(run, filepath.Base(f)))
	}
	waitFor(t, "all frames converted", func() bool {
		r, err := c.Do(ctx, "stat", nil, nil)
		require.NoError(t, err)
		return statNumber(t, r, "images processed") == len(frames)
	})
	r, err = c.Do(ctx, "plot", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultPlot, r.Result, string(r.Raw))
	graphs, _ := r.Map()["graphs"].([]any)
	r, err = c.Do(ctx, "stat", nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResultStat, r.Result, "the server still serves")
	return dir, graphs
}

// gisaxsReference converts the frames of run1 with the saxsdog pipeline
// and returns the .chi files by name.
func gisaxsReference(t *testing.T, arg Obj) map[string][]byte {
	t.Helper()
	return readChis(t, filepath.Join(gisaxsReferenceRun(t, arg), "work"))
}

// gisaxsReferenceRun converts the frames of run1 with the saxsdog pipeline
// (its live file list as the calibration asks) and returns its folder:
// run1, work (the .chi files) and results (the list).
func gisaxsReferenceRun(t *testing.T, arg Obj) string {
	t.Helper()
	ref := t.TempDir()
	frames, _ := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	for _, f := range frames {
		copyFile(t, f, filepath.Join(ref, "run1", filepath.Base(f)))
	}
	text, err := pyjson.Marshal(arg["calibration"])
	require.NoError(t, err)
	copyFile(t, filepath.Join(sampleDir, "mask.msk"), filepath.Join(ref, "sample", "mask.msk"))
	require.NoError(t, os.MkdirAll(filepath.Join(ref, "gisaxs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ref, "gisaxs", "cal.json"), text, 0o644)) // MaskFile ../sample/mask.msk
	cal, err := saxs.LoadCalibration(filepath.Join(ref, "gisaxs", "cal.json"))
	require.NoError(t, err)
	s, err := batch.Run(context.Background(), batch.Config{Calibration: cal, Roots: []string{filepath.Join(ref, "run1")}, RelPath: "../work", ErrorLog: "-",
		LiveFileList: cal.LiveFileList()})
	require.NoError(t, err)
	require.Equal(t, len(frames), s.Converted)
	return ref
}

// sortedLines returns the lines of the file at path, sorted.
func sortedLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	l := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	sort.Strings(l)
	return l
}

// With Live-Filelisting a GISAXS run lists the written radial curves'
// files with their parameters and not the slices' (which have none), the
// same lines through saxsdog, the server and a cluster worker (whose
// results carry the slices' outputs too).
func TestGISAXSLiveListSaxsdogServerWorker(t *testing.T) {
	arg, atts := gisaxsRequest(t)
	arg["calibration"].(map[string]any)["Live-Filelisting"] = true
	want := sortedLines(t, filepath.Join(gisaxsReferenceRun(t, arg), "results", "filelist_run1.txt"))
	frames, _ := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.Len(t, want, len(frames), "one line per frame: its _cR1 (GISAXSmode: no _cR0; slices not listed)")
	for _, l := range want {
		require.Regexp(t, `^work/\S+_cR1\.chi, `, l)
	}
	for _, clustered := range []bool{false, true} {
		dir, _ := gisaxsServe(t, arg, atts, clustered)
		list := filepath.Join(dir, "results", "filelist_run1.txt")
		waitFor(t, "the list complete", func() bool {
			data, _ := os.ReadFile(list)
			return bytes.Count(data, []byte("\n")) >= len(want)
		})
		assert.Equal(t, want, sortedLines(t, list), "clustered %v: saxsdog's lines", clustered)
	}
}

func readChis(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	list, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, e := range list {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = b
	}
	return out
}

func names(m map[string][]byte) []string {
	var l []string
	for k := range m {
		l = append(l, k)
	}
	sort.Strings(l)
	return l
}

// A GISAXS calibration of the 2.0 schema with two slices gives the same
// files, byte for byte, through saxsdog, the server and a cluster worker,
// and the plot reply carries the slices with kind "Slice".
func TestGISAXSSlicesSaxsdogServerWorker(t *testing.T) {
	arg, atts := gisaxsRequest(t)
	want := gisaxsReference(t, arg)
	frames, _ := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	require.Len(t, want, 3*len(frames), "per frame: _cR1, _cS2 and _cS3 (GISAXSmode: no _cR0)")
	for _, n := range names(want) {
		require.Regexp(t, `_c(R1|S2|S3)\.chi$`, n)
	}
	for _, clustered := range []bool{false, true} {
		dir, graphs := gisaxsServe(t, arg, atts, clustered)
		got := readChis(t, filepath.Join(dir, "work"))
		require.Equal(t, names(want), names(got), "clustered %v: exactly saxsdog's files", clustered)
		for n, w := range want {
			assert.True(t, bytes.Equal(w, got[n]), "clustered %v: %s differs from saxsdog's", clustered, n)
		}
		require.Len(t, graphs, 4, "two radial curves (the first computed, not written) and two slices")
		kinds := []string{}
		for _, g := range graphs {
			kinds = append(kinds, g.(map[string]any)["kind"].(string))
		}
		assert.Equal(t, []string{"Radial", "Radial", "Slice", "Slice"}, kinds)
		s := graphs[3].(map[string]any)
		assert.Equal(t, "Vertical", s["slice"].(map[string]any)["Plane"])
		assert.Equal(t, "GISAXS Scattering Vector $q_{z} [nm^{-1}]$", s["columnLabels"].([]any)[0])
		arr := s["array"].([]any)
		require.Len(t, arr, 3)
		assert.Len(t, arr[0].([]any), 128, "a y slice has one row per detector row")
	}
}

// A slice outside the detector and one whose band holds no pixels are
// reported with their field; the server keeps serving and writes every
// other output.
func TestGISAXSBadSlicesServerGoesOn(t *testing.T) {
	arg, atts := gisaxsRequest(t,
		map[string]any{"Direction": "x", "Plane": "InPlane", "CutPosition": 5000, "CutMargin": 2, "IncidentAngle": 0.2, "MaskRef": 0},
		map[string]any{"Direction": "y", "Plane": "InPlane", "CutPosition": 30, "CutMargin": 0, "IncidentAngle": 0.2, "MaskRef": 0})
	text, err := pyjson.Marshal(arg["calibration"])
	require.NoError(t, err)
	cal, err := saxs.ParseCalibration(text, "cal.json")
	require.NoError(t, err)
	atList, err := (&Request{Frames: atts}).Attachments()
	require.NoError(t, err)
	m, err := saxs.DecodeMask(atList[0].Data, atList[0].Filename)
	require.NoError(t, err)
	ig, err := saxs.NewWithOptions(cal, saxs.Options{Masks: []*saxs.Mask{m, m}})
	require.NoError(t, err)
	warn := strings.Join(ig.Warnings(), "\n")
	assert.Contains(t, warn, "cal.json: /Slices/2/CutPosition: the band of 4 rows at 5000 ± 2 pixels from the bottom edge lies outside the detector's 128 rows")
	assert.Contains(t, warn, "cal.json: /Slices/3/CutMargin: a band of 2·CutMargin = 0 pixels holds no pixels")

	dir, graphs := gisaxsServe(t, arg, atts, false)
	got := readChis(t, filepath.Join(dir, "work"))
	frames, _ := filepath.Glob(filepath.Join(sampleDir, "frames", "run1", "*.tif"))
	assert.Len(t, got, 3*len(frames), "the good curves and slices are written")
	for n := range got {
		assert.NotRegexp(t, `_cS[45]\.chi$`, n)
	}
	assert.Len(t, graphs, 4, "no graph for the slices not computed")
}

// The stream path writes the same slices as saxsdog for the same frames.
func TestGISAXSSlicesStream(t *testing.T) {
	imgs, paths := streamFrames(t)
	push, addr := pushSocket(t)
	s, c, dir := testServer(t, func(cfg *ServerConfig) { cfg.Stream = addr })
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run1"), 0o755))
	arg, atts := gisaxsRequest(t)
	r, err := c.Do(context.Background(), "new", arg, atts)
	require.NoError(t, err)
	require.Equal(t, ResultNewQueue, r.Result, string(r.Raw))

	// The reference: saxsdog on the frames as f<i>.tif.
	ref := t.TempDir()
	for i, f := range paths {
		copyFile(t, f, filepath.Join(ref, "run", fmt.Sprintf("f%d.tif", i)))
	}
	text, err := pyjson.Marshal(arg["calibration"])
	require.NoError(t, err)
	copyFile(t, filepath.Join(sampleDir, "mask.msk"), filepath.Join(ref, "sample", "mask.msk"))
	require.NoError(t, os.MkdirAll(filepath.Join(ref, "gisaxs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ref, "gisaxs", "cal.json"), text, 0o644))
	cal, err := saxs.LoadCalibration(filepath.Join(ref, "gisaxs", "cal.json"))
	require.NoError(t, err)
	_, err = batch.Run(context.Background(), batch.Config{Calibration: cal, Roots: []string{filepath.Join(ref, "run")}, RelPath: "../work", ErrorLog: "-"})
	require.NoError(t, err)

	n := len(imgs)
	series := stream.Series{Version: stream.V2, ID: 77, NImages: int64(n), Rows: imgs[0].Rows, Cols: imgs[0].Cols, ElemSize: 4, Encoding: stream.EncBSLZ4}
	_, err = stream.Send(context.Background(), push, stream.SendOptions{Series: series, Frames: imgs, Rate: 200})
	require.NoError(t, err)
	waitFor(t, "all frames integrated", func() bool { return s.StreamStats().Integrated == int64(n) })
	for i := range n {
		for _, suffix := range []string{"_cR1.chi", "_cS2.chi", "_cS3.chi"} {
			want, err := os.ReadFile(filepath.Join(ref, "work", fmt.Sprintf("f%d%s", i, suffix)))
			require.NoError(t, err)
			got, err := os.ReadFile(filepath.Join(dir, "work", StreamName(series.ID, int64(i))+suffix))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(want, got), "frame %d %s differs from saxsdog's", i, suffix)
		}
		_, err := os.Stat(filepath.Join(dir, "work", StreamName(series.ID, int64(i))+"_cR0.chi"))
		assert.True(t, os.IsNotExist(err), "GISAXSmode: no _cR0")
	}
	r, err = c.Do(context.Background(), "fileslist", nil, nil)
	require.NoError(t, err)
	fl := r.Map()["fileslist"].(map[string]any)
	assert.Len(t, fl["Slice3"], n)
	r, err = c.Do(context.Background(), "plot", nil, nil)
	require.NoError(t, err)
	graphs, _ := r.Map()["graphs"].([]any)
	require.Len(t, graphs, 4)
	assert.Equal(t, "Slice", graphs[2].(map[string]any)["kind"])
}
