package merge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saxsdog/saxs"
)

// The synthetic experiment. Frame k (k = 0..nFrames-1) starts its exposure
// at t0 + 10k + 0.125 s (true time) and lasts expo(k); its header time
// stamp is the end of the exposure (Pilatus date line, ms resolution).
// The log machine's clock is ahead of the detector's by clockAhead (the
// unknown the correlation must find). The shutter log ("Peak", Mac epoch)
// has a row at each frame's start: Duration = expo(k), Diode_avg =
// 0.3k+1, Ioni_avg = 2. The datalogger ("Dlogger", Unix epoch, a further
// known dloggerAhead s ahead) has a row every 0.25 s with
// Ioni = 5 + 0.1 τ, Diode = -(2 + 0.05 τ), Temp = 25, τ = true time − t0.
const (
	nFrames      = 6
	clockAhead   = 3600 + 12.5
	dloggerAhead = 7.0
)

var t0 = time.Date(2016, 5, 2, 10, 0, 0, 0, time.UTC)

func expo(k int) float64     { return 2 + 0.5*float64(k) }
func startTau(k int) float64 { return 10*float64(k) + 0.125 }
func frameName(k int) string {
	if k == 0 {
		return "zero_1M_00000.tif"
	}
	return fmt.Sprintf("s_%05d.tif", k)
}
func ioni(tau float64) float64  { return 5 + 0.1*tau }
func diode(tau float64) float64 { return -(2 + 0.05*tau) }
func params(k int) saxs.IntegralParameters {
	return saxs.IntegralParameters{I0: float64(k) + 0.5, I1: 2 * float64(k), I2: 3*float64(k) + 1}
}

// writeExperiment writes the frames below dir/frames, their .chi files
// below dir/work (two curves each, R0 and R1) and the logs; peakFrom is the
// first frame the shutter log has a row for.
func writeExperiment(t *testing.T, dir string, peakFrom int) {
	t.Helper()
	for _, d := range []string{"frames/run1", "work/run1"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for k := range nFrames {
		start := t0.Add(time.Duration(startTau(k) * 1e9))
		end := start.Add(time.Duration(expo(k) * 1e9))
		img := &saxs.Image{Rows: 2, Cols: 2, Counts: []int32{1, 2, 3, 4},
			Description: fmt.Sprintf("# Pixel_size 172e-6 m x 172e-6 m\r\n# %s\r\n# Exposure_time %g s\r\n",
				end.Format("2006-01-02T15:04:05.000"), expo(k)),
			DateTime: end.Format("2006:01:02 15:04:05")}
		var b bytes.Buffer
		if err := saxs.EncodeTIFF(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "frames/run1", frameName(k)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(frameName(k), ".tif")
		for m := range 2 {
			p := params(k)
			p.I0 += float64(10 * m)
			c := &saxs.Curve{Q: []float64{1, 2}, I: []float64{float64(k), 1}, Sigma: []float64{0.5, 0.25}, Params: p}
			if err := saxs.WriteChiFile(filepath.Join(dir, "work/run1", fmt.Sprintf("%s_cR%d.chi", base, m)), nil, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	var peak strings.Builder
	peak.WriteString("Time\tDuration\tDiode_avg\tIoni_avg\n")
	for k := peakFrom; k < nFrames; k++ {
		mac := float64(t0.Unix()) + startTau(k) + clockAhead + MacEpochOffset
		fmt.Fprintf(&peak, "%.3f\t%g\t%g\t2\n", mac, expo(k), 0.3*float64(k)+1)
	}
	var dl strings.Builder
	dl.WriteString("Time\tIoni         \tDiode        \tTemp\n")
	for i := range 400 {
		tau := -5 + 0.25*float64(i)
		unix := float64(t0.Unix()) + tau + clockAhead + dloggerAhead
		if i == 123 { // one bad row: reported, skipped, and the table still exact (the log is linear)
			fmt.Fprintf(&dl, "%.3f\tbroken\t%g\t25\n", unix, diode(tau))
			continue
		}
		fmt.Fprintf(&dl, "%.3f\t%.6f\t%.6f\t25\n", unix, ioni(tau), diode(tau))
	}
	for name, s := range map[string]string{"peak.log": peak.String(), "dlogger.log": dl.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func testConfig(first, zero bool) *Config {
	return &Config{
		TimeZone: "UTC",
		LogDataTables: []LogTable{
			{TimeEpoch: "Mac", Name: "Peak", FirstImageCorrelation: first, ZeroImageCorrelation: zero,
				Files: []LogFile{{LocalPath: "peak.log"}}},
			{TimeEpoch: "Unix", Name: "Dlogger", TimeOffset: dloggerAhead, Files: []LogFile{{RemotePath: []string{".", "dlogger.log"}}}},
		},
		OutputFormats:      OutputFormats{CSV: true, JSON: true, HDF: true},
		OutputFileBaseName: "results/merged",
		HDFOptions:         HDFOptions{IncludeCHI: true},
	}
}

// expectedRow is row k of the merged table, from the construction.
func expectedRow(k int, peak bool) map[string]float64 {
	a := startTau(k)
	mid := a + expo(k)/2 // the mean of a linear function over [a, b]
	p := params(k)
	r := map[string]float64{
		ColExposure: expo(k),
		"I0 (R0)":   p.I0, "I1 (R0)": p.I1, "I2 (R0)": p.I2,
		"I0 (R1)": p.I0 + 10, "I1 (R1)": p.I1, "I2 (R1)": p.I2,
		"Ioni (Dlogger)": ioni(mid), "Diode (Dlogger)": diode(mid), "Temp (Dlogger)": 25,
		"transm (Dlogger)": math.Abs(diode(mid) / ioni(mid)),
		"Duration (Peak)":  math.NaN(), "Diode_avg (Peak)": math.NaN(), "Ioni_avg (Peak)": math.NaN(), "transm (Peak)": math.NaN(),
	}
	if peak {
		r["Duration (Peak)"] = expo(k)
		r["Diode_avg (Peak)"] = 0.3*float64(k) + 1
		r["Ioni_avg (Peak)"] = 2
		r["transm (Peak)"] = (0.3*float64(k) + 1) / 2
	}
	return r
}

func close(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

// checkTable compares a table read back (columns by name) with the
// construction: rows in start order, start times to 1 ms.
func checkTable(t *testing.T, what string, files []string, starts []float64, cols []string, vals [][]float64, peakFrom int) {
	t.Helper()
	if len(files) != nFrames {
		t.Fatalf("%s: %d rows, want %d", what, len(files), nFrames)
	}
	for k := range nFrames {
		if files[k] != frameName(k) {
			t.Errorf("%s row %d: file %q, want %q", what, k, files[k], frameName(k))
		}
		want := float64(t0.Unix()) + startTau(k)
		if math.Abs(starts[k]-want) > 1e-6 {
			t.Errorf("%s row %d: start %.6f, want %.6f", what, k, starts[k], want)
		}
		exp := expectedRow(k, k >= peakFrom)
		if len(cols) != len(exp) {
			t.Fatalf("%s: columns %q, want the %d of %v", what, cols, len(exp), exp)
		}
		for c, name := range cols {
			w, ok := exp[name]
			if !ok {
				t.Fatalf("%s: unexpected column %q", what, name)
			}
			if !close(vals[k][c], w) {
				t.Errorf("%s row %d %s = %v, want %v", what, k, name, vals[k][c], w)
			}
		}
	}
}

func runMerge(t *testing.T, dir string, conf *Config) *Table {
	t.Helper()
	frames, problems, err := CollectFrames(filepath.Join(dir, "frames"), filepath.Join(dir, "work"), time.UTC, true)
	if err != nil || len(problems) > 0 {
		t.Fatalf("collect: %v %v", err, problems)
	}
	tab, err := Merge(conf, frames, FileSource(dir))
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestMergeFirstImageCorrelation(t *testing.T) {
	dir := t.TempDir()
	writeExperiment(t, dir, 0)
	tab := runMerge(t, dir, testConfig(true, false))
	if want := -time.Duration(clockAhead * 1e9); tab.Shift != want {
		t.Errorf("shift %v, want %v", tab.Shift, want)
	}
	if len(tab.Warnings) != 1 || !strings.Contains(tab.Warnings[0].Error(), "dlogger.log:125: field \"Ioni\"") {
		t.Errorf("warnings %v, want the bad row at dlogger.log:125 field Ioni", tab.Warnings)
	}
	starts := make([]float64, len(tab.Start))
	for i, s := range tab.Start {
		starts[i] = float64(s.UnixNano()) / 1e9
	}
	checkTable(t, "table", tab.Files, starts, tab.Columns, tab.Values, 0)
	written, err := WriteOutputs(testConfig(true, false), tab, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 4 {
		t.Errorf("written %v", written)
	}
	readBack(t, filepath.Join(dir, "results/merged"), 0)
}

func TestMergeFixedOffset(t *testing.T) {
	dir := t.TempDir()
	writeExperiment(t, dir, 0)
	conf := testConfig(false, false)
	conf.TimeOffset = clockAhead
	tab := runMerge(t, dir, conf)
	if tab.Shift != 0 {
		t.Errorf("shift %v without correlation", tab.Shift)
	}
	starts := make([]float64, len(tab.Start))
	for i, s := range tab.Start {
		starts[i] = float64(s.UnixNano()) / 1e9
	}
	checkTable(t, "fixed offset", tab.Files, starts, tab.Columns, tab.Values, 0)
}

// The shutter log starts with the zero image, which is not the first
// frame: the frames before it get no shutter values.
func TestMergeZeroImageCorrelation(t *testing.T) {
	dir := t.TempDir()
	writeExperiment(t, dir, 2)
	// Frame 2 is the zero image here: rename 0 and 2.
	fr := filepath.Join(dir, "frames/run1")
	os.Rename(filepath.Join(fr, frameName(0)), filepath.Join(fr, "first.tif"))
	os.Rename(filepath.Join(fr, frameName(2)), filepath.Join(fr, frameName(0)))
	os.Rename(filepath.Join(fr, "first.tif"), filepath.Join(fr, frameName(2)))
	conf := testConfig(false, true)
	frames, _, err := CollectFrames(fr, "", time.UTC, false)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Merge(conf, frames, FileSource(dir))
	if err != nil {
		t.Fatal(err)
	}
	if want := -time.Duration(clockAhead * 1e9); tab.Shift != want {
		t.Errorf("shift %v, want %v", tab.Shift, want)
	}
	for k := range nFrames {
		d := tab.Values[k][tab.colIndex(t, "Duration (Peak)")]
		if k < 2 && !math.IsNaN(d) || k >= 2 && d != expo(k) {
			t.Errorf("row %d: Duration %v", k, d)
		}
		if got, want := tab.Values[k][tab.colIndex(t, "Ioni (Dlogger)")], ioni(startTau(k)+expo(k)/2); !close(got, want) {
			t.Errorf("row %d: Ioni %v, want %v", k, got, want)
		}
	}
	conf.ZeroImage = "nothere.tif"
	if _, err := Merge(conf, frames, FileSource(dir)); err == nil || !strings.Contains(err.Error(), "nothere.tif") {
		t.Errorf("missing zero image: %v", err)
	}
}

func (tab *Table) colIndex(t *testing.T, name string) int {
	for i, c := range tab.Columns {
		if c == name {
			return i
		}
	}
	t.Fatalf("no column %q in %q", name, tab.Columns)
	return -1
}

// readBackPy reads every output with Python's csv, json and h5py and
// prints one JSON object per format: files, starts (Unix s), columns,
// values (NaN as null).
const readBackPy = `
import csv, json, sys, datetime, math
base = sys.argv[1]
out = {}
def num(s):
    return None if s == "" else float(s)
for fmt in ("csv", "igor"):
    path = base + (".csv" if fmt == "csv" else "_igor.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    cols = rows[0][2:]
    starts, files, vals = [], [], []
    for r in rows[1:]:
        if fmt == "csv":
            t = datetime.datetime.strptime(r[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        else:
            t = float(r[0]) - (datetime.datetime(1970,1,1) - datetime.datetime(1904,1,1)).total_seconds()
        starts.append(t); files.append(r[1]); vals.append([num(x) for x in r[2:]])
    out[fmt] = dict(files=files, starts=starts, columns=cols, values=vals)
with open(base + ".json") as f:
    j = json.load(f)
keys = sorted(j["File"], key=int)
cols = [c for c in j if c != "File"]
out["json"] = dict(files=[j["File"][k] for k in keys], starts=[int(k)/1000 for k in keys], columns=cols,
                   values=[[j[c][k] for c in cols] for k in keys])
try:
    import h5py
except ImportError:
    h5py = None
if h5py:
    with h5py.File(base + ".hdf", "r") as f:
        g = f["LogData"]
        def text(x):
            return x.decode() if isinstance(x, bytes) else str(x)
        cols = json.loads(text(g.attrs["columns"]))
        n = len(g["time"])
        def v(x):
            x = float(x)
            return None if math.isnan(x) else x
        vals = [[v(g[c.replace("/", "_")][i]) for c in cols] for i in range(n)]
        for c in cols:
            assert text(g[c.replace("/", "_")].attrs["long_name"]) == c, (g[c.replace("/", "_")].attrs["long_name"], c)
        files = [s.decode() for s in g["file"][()]]
        t1904 = [float(x) - 2082844800 for x in g["time_1904"][()]]
        assert all(abs(a - b) < 1e-6 for a, b in zip(t1904, g["time"][()]))
        curves = {}
        for kind in f["Graphs"]:
            for frame in f["Graphs"][kind]:
                c = f["Graphs"][kind][frame]
                curves[kind + "/" + frame] = [list(map(float, c["q"][()])), list(map(float, c["I"][()])), list(map(float, c["sigma"][()]))]
        out["hdf"] = dict(files=files, starts=[float(x) for x in g["time"][()]], columns=cols, values=vals, curves=curves)
print(json.dumps(out))
`

func readBack(t *testing.T, base string, peakFrom int) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3: outputs not read back")
	}
	cmd := exec.Command(py, "-c", readBackPy, base)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var out map[string]struct {
		Files   []string
		Starts  []float64
		Columns []string
		Values  [][]*float64
		Curves  map[string][3][]float64
	}
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatal(err)
	}
	formats := []string{"csv", "igor", "json", "hdf"}
	if _, ok := out["hdf"]; !ok {
		t.Log("python3-h5py missing: the HDF5 output is not read back")
		formats = formats[:3]
	}
	for _, f := range formats {
		o := out[f]
		vals := make([][]float64, len(o.Values))
		for r, row := range o.Values {
			for _, v := range row {
				if v == nil {
					vals[r] = append(vals[r], math.NaN())
				} else {
					vals[r] = append(vals[r], *v)
				}
			}
		}
		checkTable(t, f, o.Files, o.Starts, o.Columns, vals, peakFrom)
	}
	if c, ok := out["hdf"]; ok {
		if len(c.Curves) != 2*nFrames {
			t.Errorf("hdf: %d curves, want %d", len(c.Curves), 2*nFrames)
		}
		for k := range nFrames {
			got := c.Curves["R1/"+frameName(k)]
			if fmt.Sprint(got) != fmt.Sprint([3][]float64{{1, 2}, {float64(k), 1}, {0.5, 0.25}}) {
				t.Errorf("hdf curve R1 of %s: %v", frameName(k), got)
			}
		}
	}
}

func TestLogBadInput(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unsorted", "Time\tA\n10\t1\n12\t2\n11\t3\n", `unsorted:4: field "Time": time goes backwards`},
		{"noheader", "", "no header line"},
		{"onecolumn", "Time\n1\n", "unsorted"},
		{"dup", "Time\tA\tA\n1\t2\t3\n", `field "A": empty or duplicate column name`},
		{"norows", "Time\tA\nx\t1\n", "no valid row"},
	}
	for _, c := range cases {
		_, _, err := ParseLog(strings.NewReader(c.text), c.name)
		if c.name == "onecolumn" {
			c.want = "onecolumn:1: header has no tab-separated value column"
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if c.name == "unsorted" && !errors.Is(err, ErrUnsorted) {
			t.Errorf("unsorted: %v does not wrap ErrUnsorted", err)
		}
	}
	l, skipped, err := ParseLog(strings.NewReader("Time\tA\tB\n1\t2\t3\n\t5\t6\n2\t7\n3\tx\t9\n4\t\t8\n"), "rows.log")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`rows.log:3: field "Time": time "" is not a number`, "rows.log:4: 2 fields, the header has 3",
		`rows.log:5: field "A": "x" is not a number`}
	if len(skipped) != len(want) {
		t.Fatalf("skipped %v", skipped)
	}
	for i, w := range want {
		if skipped[i].Error() != w {
			t.Errorf("skipped[%d] = %q, want %q", i, skipped[i], w)
		}
	}
	if fmt.Sprint(l.Times) != "[1 4]" || !math.IsNaN(l.Values[0][1]) || l.Values[1][1] != 8 {
		t.Errorf("rows kept: %v %v", l.Times, l.Values)
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := ParseConfig([]byte(`{"TimeOffset":0,"LogDataTables":[{"TimeEpoch":"Dos","TimeOffset":0,"FirstImageCorrelation":true,"ZeroImageCorrelation":true,"Name":"Peak","Files":[]},
		{"TimeEpoch":"Unix","TimeOffset":0,"FirstImageCorrelation":true,"ZeroImageCorrelation":false,"Name":"Peak","Files":[{}]}],
		"OutputFormats":{"csv":true,"hdf":false,"exel":false,"json":false},"OutputFileBaseName":"","HDFOptions":{"IncludeCHI":false,"IncludeTIF":true},"TimeZone":"Mars/Olympus"}`), "c.json")
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a ConfigError", err)
	}
	for _, w := range []string{"LogDataTables[0].TimeEpoch", "LogDataTables[0]: FirstImageCorrelation and ZeroImageCorrelation",
		"LogDataTables[0].Files: no file", "LogDataTables[1].Name: \"Peak\" is used by two tables", "LogDataTables[1].Files[0]",
		"only one table", "HDFOptions.IncludeTIF", "TimeZone:", "OutputFileBaseName: empty"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if _, err := ParseConfig([]byte(`{"TimeOfset":0}`), "c.json"); err == nil || !strings.Contains(err.Error(), "TimeOfset") {
		t.Errorf("unknown key: %v", err)
	}
	// The original's template (DataConsolidationConf with "Path") is accepted.
	tmpl := `{"TimeOffset":0.0,"LogDataTables":[{"TimeEpoch":"Mac","TimeOffset":0.0,"FirstImageCorrelation":false,"ZeroImageCorrelation":true,"Name":"Peak",
		"Files":[{"Path":["140721_peakInteg_01.log"]}]}],"OutputFormats":{"csv":true,"hdf":true,"exel":true,"json":true},
		"OutputFileBaseName":"../result/merged","HDFOptions":{"IncludeCHI":true,"IncludeTIF":false}}`
	if _, err := ParseConfig([]byte(tmpl), "template"); err != nil {
		t.Errorf("template: %v", err)
	}
}

func TestMergeBadLogs(t *testing.T) {
	dir := t.TempDir()
	writeExperiment(t, dir, 0)
	frames, _, err := CollectFrames(filepath.Join(dir, "frames"), "", time.UTC, false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "bad.log"), []byte("Time\tDuration\n100\t1\n99\t1\n"), 0o644)
	conf := testConfig(true, false)
	conf.LogDataTables[0].Files = []LogFile{{LocalPath: "bad.log"}}
	_, err = Merge(conf, frames, FileSource(dir))
	if err == nil || !strings.Contains(err.Error(), "bad.log:3: field \"Time\"") {
		t.Errorf("unsorted log: %v", err)
	}
	conf.LogDataTables[0].Files = []LogFile{{LocalPath: "peak.log"}, {LocalPath: "dlogger.log"}}
	if _, err = Merge(conf, frames, FileSource(dir)); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("files with different columns: %v", err)
	}
	conf.LogDataTables[0].Files = []LogFile{{LocalPath: "missing.log"}}
	if _, err = Merge(conf, frames, FileSource(dir)); err == nil || !strings.Contains(err.Error(), "missing.log") {
		t.Errorf("missing log: %v", err)
	}
	// A frame without time stamp is skipped with a warning.
	conf = testConfig(true, false)
	tab, err := Merge(conf, append(frames, &Frame{File: "notime.tif"}), FileSource(dir))
	if err != nil || len(tab.Files) != nFrames {
		t.Fatalf("frame without time: %v", err)
	}
	found := false
	for _, w := range tab.Warnings {
		found = found || strings.Contains(w.Error(), "notime.tif")
	}
	if !found {
		t.Errorf("warnings %v lack notime.tif", tab.Warnings)
	}
}

// BenchmarkMerge: 1000 frames of 5 s exposure against a datalogger of
// 86400 rows (one a second, a day) with 8 columns, averaged over each
// exposure, and a shutter log of 1000 rows.
func BenchmarkMerge(b *testing.B) {
	var dl strings.Builder
	dl.WriteString("Time\tIoni\tDiode\tA\tB\tC\tD\tE\tF\n")
	for i := range 86400 {
		fmt.Fprintf(&dl, "%d\t%d\t-1\t1\t2\t3\t4\t5\t6\n", t0.Unix()+int64(i), i)
	}
	var pk strings.Builder
	pk.WriteString("Time\tDuration\tDiode_avg\tIoni_avg\n")
	frames := make([]*Frame, 1000)
	for k := range frames {
		start := t0.Add(time.Duration(k) * 60 * time.Second)
		frames[k] = &Frame{File: fmt.Sprintf("f_%05d.tif", k), Time: start.Add(5 * time.Second), Exposure: 5,
			Params: map[string]saxs.IntegralParameters{"R0": {I0: 1, I1: 2, I2: 3}}}
		fmt.Fprintf(&pk, "%d\t5\t1\t2\n", start.Unix()+MacEpochOffset)
	}
	logs := map[string]string{"dl": dl.String(), "pk": pk.String()}
	conf := &Config{OutputFileBaseName: "m", LogDataTables: []LogTable{
		{TimeEpoch: "Mac", Name: "Peak", FirstImageCorrelation: true, Files: []LogFile{{LocalPath: "pk"}}},
		{TimeEpoch: "Unix", Name: "Dlogger", Files: []LogFile{{LocalPath: "dl"}}}}}
	open := func(f LogFile) (io.ReadCloser, string, error) {
		return io.NopCloser(strings.NewReader(logs[f.LocalPath])), f.LocalPath, nil
	}
	b.ResetTimer()
	for range b.N {
		tab, err := Merge(conf, frames, open)
		if err != nil || len(tab.Files) != 1000 {
			b.Fatal(err)
		}
	}
}
