package saxs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pythonPath is Debian's python3, which has python3-pyfai.
const pythonPath = "/usr/bin/python3"

// needPyFAI skips the test when pyFAI cannot be imported.
func needPyFAI(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("pyFAI comparison skipped in -short mode")
	}
	if err := exec.Command(pythonPath, "-c", "import pyFAI").Run(); err != nil {
		t.Skipf("pyFAI not available (%s -c 'import pyFAI': %v; apt-get install python3-pyfai): pyFAI comparison skipped", pythonPath, err)
	}
}

// refSetup loads the reference calibration, its mask and the buffer frame
// (as float values), skipping without the reference data.
func refSetup(t *testing.T) (*Calibration, *Mask, *Image) {
	t.Helper()
	cal, err := LoadCalibration(sharedData(t, "cal.json"))
	if err != nil {
		t.Fatal(err)
	}
	mask, err := OpenMask(cal.MaskPath(0))
	if err != nil {
		t.Fatal(err)
	}
	img, err := ReadImage(sharedData(t, "buf1_00000.tif"))
	if err != nil {
		t.Fatal(err)
	}
	return cal, mask, img
}

// integrateWith integrates img with an integrator for cal and mask.
func integrateWith(t *testing.T, cal *Calibration, mask *Mask, img *Image) *Result {
	t.Helper()
	ig, err := NewWithOptions(cal, Options{Masks: []*Mask{mask}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// runPyFAI runs /usr/bin/python3 (with pyFAI) with args and stdin and returns its
// standard output; a failure ends the test with Python's standard error.
func runPyFAI(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(pythonPath, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyFAI: %v\n%s", err, stderr.String())
	}
	return out
}

// pyFAIRun integrates img with pyFAI (testdata/pyfai_reduce.py) in the
// geometry of cal, with the extra arguments args, and returns the lines of
// its output split into numbers.
func pyFAIRun(t *testing.T, cal *Calibration, mask *Mask, img *Image, args map[string]any) [][]float64 {
	t.Helper()
	dir := t.TempDir()
	var fb bytes.Buffer
	for p := range img.Len() {
		var v float64
		if img.Counts != nil {
			v = float64(img.Counts[p])
		} else {
			v = img.Values[p]
		}
		_ = binary.Write(&fb, binary.LittleEndian, v)
	}
	frame := filepath.Join(dir, "frame.f64")
	if err := os.WriteFile(frame, fb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	mb := make([]byte, len(mask.Masked))
	for i, m := range mask.Masked {
		if m {
			mb[i] = 1
		}
	}
	mpath := filepath.Join(dir, "mask.u8")
	if err := os.WriteFile(mpath, mb, 0o644); err != nil {
		t.Fatal(err)
	}
	g := &cal.Geometry
	a := map[string]any{
		"rows": g.Imagesize[0], "cols": g.Imagesize[1], "dist": g.DetectorDistanceMM,
		"cx": g.BeamCenter[1], "cy": float64(g.Imagesize[0]) - g.BeamCenter[0],
		"tilt": g.Tilt.TiltAngleDeg, "rot": -g.Tilt.TiltRotDeg, "pixel": g.PixelSizeMicroM[0],
		// pyFAI's q uses the exact Ångström; saxs uses the original's Å*.
		"wavelength": cal.Wavelength * AngstromStar * 1e-9,
		"frame":      frame, "mask": mpath,
	}
	if pc := cal.PolarizationCorrection; pc != nil {
		a["polarization"] = 2*pc.Fraction - 1
	}
	for k, v := range args {
		a[k] = v
	}
	in, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	out := runPyFAI(t, in, filepath.Join("testdata", "pyfai_reduce.py"))
	var rowsOut [][]float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var row []float64
		for _, f := range strings.Fields(sc.Text()) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("pyFAI output %q: %v", f, err)
			}
			row = append(row, v)
		}
		rowsOut = append(rowsOut, row)
	}
	return rowsOut
}

// medianRelDiff returns the median of |a−b|/|b| over the elements where
// both are finite and b is not 0, and how many there were.
func medianRelDiff(a, b []float64) (float64, int) {
	var d []float64
	for i := range min(len(a), len(b)) {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) || math.IsInf(a[i], 0) || math.IsInf(b[i], 0) || b[i] == 0 {
			continue
		}
		d = append(d, math.Abs(a[i]-b[i])/math.Abs(b[i]))
	}
	if len(d) == 0 {
		return math.NaN(), 0
	}
	slices.Sort(d)
	return d[len(d)/2], len(d)
}

// column returns column j of rows.
func column(rows [][]float64, j int) []float64 {
	out := make([]float64, len(rows))
	for i, r := range rows {
		out[i] = r[j]
	}
	return out
}

// withKey returns the calibration JSON data with key set to value at the
// top level.
func withKey(t *testing.T, data []byte, key string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m[key] = value
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The Reduction key is read from 0.3.0 and 2.0 files, checked against the
// schema, kept in the .chi header and absent from both when not given.
func TestReductionKey(t *testing.T) {
	data, err := os.ReadFile("testdata/sample/cal.json")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := ParseCalibration(withKey(t, data, "Reduction", map[string]any{"SolidAngle": true}), "cal.json")
	if err != nil {
		t.Fatal(err)
	}
	if cal.Reduction == nil || !cal.Reduction.SolidAngle {
		t.Fatalf("Reduction = %+v, want SolidAngle true", cal.Reduction)
	}
	if _, err := ParseCalibration(withKey(t, data, "Reduction", map[string]any{"SolidAngel": true}), "cal.json"); err == nil ||
		!strings.Contains(err.Error(), "/Reduction") {
		t.Errorf("misspelt Reduction key: error %v, want one naming /Reduction", err)
	}
	for _, g := range []Generation{Flat, Nested} {
		if !strings.Contains(string(Schema(g)), `"SolidAngle"`) {
			t.Errorf("the schema of generation %v does not document Reduction.SolidAngle", g)
		}
	}
	plain, err := ParseCalibration(data, "cal.json")
	if err != nil {
		t.Fatal(err)
	}
	if plain.Reduction != nil {
		t.Errorf("Reduction = %+v without the key", plain.Reduction)
	}
	h, err := chiHeader(cal)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(h), `"Reduction": {"SolidAngle": true}`) {
		t.Errorf(".chi header %s does not carry the Reduction key", h)
	}
}
