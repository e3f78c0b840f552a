package saxs_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saxsdog/saxs"
)

// gisaxsCal writes a 2.0 calibration with the given Slices JSON (and
// GISAXSmode) and a mask into a temporary folder and loads it. The
// detector has 40 rows and 50 columns; the mask masks column 7 and row 30.
func gisaxsCal(t *testing.T, slices string, gisaxs bool) *saxs.Calibration {
	t.Helper()
	dir := t.TempDir()
	const rows, cols = 40, 50
	m := &saxs.Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	for r := range rows {
		m.Masked[r*cols+7] = true
	}
	for c := range cols {
		m.Masked[30*cols+c] = true
	}
	var b bytes.Buffer
	if err := saxs.EncodeFit2DMask(&b, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mask.msk"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	js := fmt.Sprintf(`{"Title": "gisaxs", "Geometry": {"Tilt": {"TiltRotDeg": 0, "TiltAngleDeg": 0},
		"BeamCenter": [12.3, 20.6], "DedectorDistanceMM": 1500.0, "Imagesize": [%d, %d], "PixelSizeMicroM": [172.0, 150.0]},
		"Wavelength": 1.54, "Directory": ["."], "GISAXSmode": %v,
		"Masks": [{"MaskFile": "mask.msk", "Oversampling": 2, "PixelPerRadialElement": 1, "qStart": 0.01, "qStop": 0.2}],
		"Slices": %s}`, rows, cols, gisaxs, slices)
	p := filepath.Join(dir, "cal.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	cal, err := saxs.LoadCalibration(p)
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

// frame returns a 40 × 50 float frame with value f(row, col).
func frame(f func(r, c int) float64) *saxs.Image {
	img := saxs.NewImage(40, 50)
	for r := range img.Rows {
		for c := range img.Cols {
			img.Values[r*img.Cols+c] = f(r, c)
		}
	}
	return img
}

// A frame constant along the band's axis gives that constant in every bin;
// a ramp across the band gives its mean over the band's rows (columns).
func TestSliceClosedForms(t *testing.T) {
	cal := gisaxsCal(t, `[
		{"Direction": "x", "Plane": "InPlane", "CutPosition": 15, "CutMargin": 3, "IncidentAngle": 0.2, "MaskRef": 0},
		{"Direction": "y", "Plane": "Vertical", "CutPosition": 25, "CutMargin": 2, "IncidentAngle": 0.2, "MaskRef": -1}]`, false)
	ig, err := saxs.New(cal)
	if err != nil {
		t.Fatal(err)
	}
	// x slice: rows [40-15-3, 40-15+3) = [22, 28), 6 rows, none masked
	// (row 30 is not in the band); column 7 is masked: NaN.
	// y slice: columns [23, 27), no mask.
	cases := []struct {
		name     string
		f        func(r, c int) float64
		want0    func(b int) float64 // slice 0, bin = column
		want1    func(b int) float64 // slice 1, bin = row
		n0, n1   float64
		sumsOnly bool
	}{
		{"constant along the rows", func(r, c int) float64 { return 3 + 0.5*float64(c) },
			func(c int) float64 { return 3 + 0.5*float64(c) }, nil, 6, 4, false},
		{"constant along the columns", func(r, c int) float64 { return 100 - float64(r) },
			nil, func(r int) float64 { return 100 - float64(r) }, 6, 4, false},
		{"ramp across the band", func(r, c int) float64 { return 2*float64(r) + 7*float64(c) + 1 },
			func(c int) float64 { return 2*(22+27)/2.0 + 7*float64(c) + 1 }, // mean of rows 22..27
			func(r int) float64 { return 2*float64(r) + 7*(23+26)/2.0 + 1 }, // mean of columns 23..26
			6, 4, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ig.Integrate(frame(tc.f))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Slices) != 2 || len(r.Slices[0].I) != 50 || len(r.Slices[1].I) != 40 {
				t.Fatalf("slices: %d, rows %d and %d, want 2 of 50 and 40", len(r.Slices), len(r.Slices[0].I), len(r.Slices[1].I))
			}
			check := func(s int, want func(int) float64, n float64) {
				c := &r.Slices[s]
				for b := range c.I {
					if s == 0 && b == 7 {
						if !math.IsNaN(c.I[b]) || !math.IsNaN(c.Sigma[b]) || c.Area[b] != 0 {
							t.Errorf("slice 0 bin 7 (masked column): I %g σ %g area %g, want NaN, NaN, 0", c.I[b], c.Sigma[b], c.Area[b])
						}
						continue
					}
					if c.Area[b] != n {
						t.Errorf("slice %d bin %d: area %g, want %g", s, b, c.Area[b], n)
					}
					if want == nil {
						continue
					}
					w := want(b)
					if math.Abs(c.I[b]-w) > 1e-12*math.Abs(w) {
						t.Errorf("slice %d bin %d: I = %.17g, want %.17g", s, b, c.I[b], w)
					}
					if ws := math.Sqrt(w*n) / n; math.Abs(c.Sigma[b]-ws) > 1e-12*ws {
						t.Errorf("slice %d bin %d: σ = %.17g, want sqrt(S)/n = %.17g", s, b, c.Sigma[b], ws)
					}
				}
			}
			check(0, tc.want0, tc.n0)
			check(1, tc.want1, tc.n1)
		})
	}
}

// Integer frames are summed exactly.
func TestSliceCounts(t *testing.T) {
	cal := gisaxsCal(t, `[{"Direction": "y", "Plane": "InPlane", "CutPosition": 8, "CutMargin": 1, "IncidentAngle": 0, "MaskRef": 0}]`, false)
	ig, err := saxs.New(cal)
	if err != nil {
		t.Fatal(err)
	}
	img := &saxs.Image{Rows: 40, Cols: 50, Counts: make([]int32, 2000)}
	for p := range img.Counts {
		img.Counts[p] = int32(p % 50 * 1000)
	}
	r, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	// columns 7 (masked) and 8: only column 8 counts; row 30 is masked.
	for row, v := range r.Slices[0].I {
		if row == 30 {
			if !math.IsNaN(v) {
				t.Errorf("row 30 (masked): %g, want NaN", v)
			}
			continue
		}
		if v != 8000 || r.Slices[0].Sigma[row] != math.Sqrt(8000) {
			t.Errorf("row %d: I %g σ %g, want 8000 and sqrt(8000)", row, v, r.Slices[0].Sigma[row])
		}
	}
}

// The grids, against the GISAXS wave-vector transfer written with the
// identities sin(atan x) = x/√(1+x²), cos(atan x) = 1/√(1+x²) and
// sin(a−b) = sin a cos b − cos a sin b.
func TestSliceGrid(t *testing.T) {
	cal := gisaxsCal(t, `[
		{"Direction": "x", "Plane": "InPlane", "CutPosition": 31, "CutMargin": 2, "IncidentAngle": 0.35, "MaskRef": 0},
		{"Direction": "y", "Plane": "Vertical", "CutPosition": 20, "CutMargin": 2, "IncidentAngle": 0.35, "MaskRef": 0},
		{"Direction": "x", "Plane": "Vertical", "CutPosition": 12, "CutMargin": 2, "IncidentAngle": 0.5, "MaskRef": 0},
		{"Direction": "y", "Plane": "InPlane", "CutPosition": 30, "CutMargin": 2, "IncidentAngle": 0.5, "MaskRef": 0}]`, false)
	const (
		rows, cols = 40.0, 50.0
		b0, b1     = 12.3, 20.6
		px0, px1   = 0.172, 0.150
		d          = 1500.0
		lambdaNm   = 1.54 * 0.100001495
	)
	k := 2 * math.Pi / lambdaNm
	sinAtan := func(x float64) float64 { return x / math.Sqrt(1+x*x) }
	cosAtan := func(x float64) float64 { return 1 / math.Sqrt(1+x*x) }
	// exit angle: α_f = γ − α_i
	sinAf := func(x, ai float64) float64 { return sinAtan(x)*math.Cos(ai) - cosAtan(x)*math.Sin(ai) }
	cosAf := func(x, ai float64) float64 { return cosAtan(x)*math.Cos(ai) + sinAtan(x)*math.Sin(ai) }
	deg := math.Pi / 180
	want := [][]float64{make([]float64, cols), make([]float64, rows), make([]float64, cols), make([]float64, rows)}
	for j := range int(cols) {
		h := (float64(j) + 0.5 - b1) * px1 / d // column centre, right of the beam
		want[0][j] = k * sinAtan(h) * cosAf((31-b0)*px0/d, 0.35*deg)
		want[2][j] = k * (sinAf(h, 0.5*deg) + math.Sin(0.5*deg))
	}
	for i := range int(rows) {
		v := (rows - b0 - float64(i) - 0.5) * px0 / d // row centre, above the beam
		want[1][i] = k * (sinAf(v, 0.35*deg) + math.Sin(0.35*deg))
		want[3][i] = k * sinAtan(-v) * cosAf((30-b1)*px1/d, 0.5*deg)
	}
	worst := 0.0
	for s := range want {
		got := saxs.SliceGrid(cal, s)
		if len(got) != len(want[s]) {
			t.Fatalf("slice %d: %d grid points, want %d", s, len(got), len(want[s]))
		}
		for b := range got {
			e := math.Abs(got[b]-want[s][b]) / max(math.Abs(want[s][b]), 1e-3)
			worst = max(worst, e)
			if e > 1e-12 {
				t.Errorf("slice %d bin %d: q = %.17g, want %.17g", s, b, got[b], want[s][b])
			}
		}
	}
	t.Logf("largest relative difference of the grids: %.3g", worst)
	// At the specular reflection (γ = 2α_i) q_z = 2k·sin α_i, and above
	// the beam q_z is positive.
	g := saxs.SliceGrid(cal, 1)
	if !(g[0] > 0 && g[0] > g[len(g)-1]) {
		t.Errorf("q_z: top row %g, bottom row %g: want positive at the top, decreasing downwards", g[0], g[len(g)-1])
	}
}

// The slice .chi files: names, header and rows as the original's; with
// GISAXSmode the first radial curve is computed but not written.
func TestSliceChi(t *testing.T) {
	cal := gisaxsCal(t, `[
		{"Direction": "x", "Plane": "InPlane", "CutPosition": "15", "CutMargin": 3, "IncidentAngle": 0.2, "MaskRef": 0},
		{"Direction": "y", "Plane": "Vertical", "CutPosition": 25, "CutMargin": 2, "IncidentAngle": 0.2, "MaskRef": -1}]`, true)
	if cal.Slices[0].CutPosition != 15 {
		t.Fatalf(`CutPosition "15" read as %d`, cal.Slices[0].CutPosition)
	}
	ig, err := saxs.New(cal)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "f.chi")
	paths := ig.OutputPaths(base)
	wantPaths := []string{"", filepath.Join(dir, "f_cS1.chi"), filepath.Join(dir, "f_cS2.chi")}
	if fmt.Sprint(paths) != fmt.Sprint(wantPaths) {
		t.Fatalf("outputs %q, want %q", paths, wantPaths)
	}
	img := frame(func(r, c int) float64 { return float64(r + c) })
	res, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Curves[0].Params; math.IsNaN(p.I0) || p.I0 == 0 {
		t.Errorf("GISAXSmode: the first curve's I0 = %g, want it computed", p.I0)
	}
	if err := ig.WriteChi(res, base); err != nil {
		t.Fatal(err)
	}
	list, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(list) != 2 {
		t.Errorf("files written: %q, want the two slices only", list)
	}
	for s, p := range paths[1:] {
		f, err := saxs.ReadChiFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var raw bytes.Buffer
		if err := ig.WriteSliceChi(&raw, res, s); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(p)
		if !bytes.Equal(data, raw.Bytes()) {
			t.Errorf("%s differs from WriteSliceChi", p)
		}
		labels := ig.SliceLabels(s)
		wantHeader := []string{"", fmt.Sprintf("[%q, %q, %q]", labels[0], labels[1], labels[2]), "Intensity", fmt.Sprintf("   %d", len(res.Slices[s].Q))}
		if !strings.HasPrefix(f.Header[0], `{"Directory": ["."], "GISAXSmode": true, "Geometry": {`) {
			t.Errorf("%s line 1: %.60s…, want the calibration", p, f.Header[0])
		}
		for l := 1; l < 4; l++ {
			if f.Header[l] != wantHeader[l] {
				t.Errorf("%s line %d: %q, want %q", p, l+1, f.Header[l], wantHeader[l])
			}
		}
		if !bytes.HasSuffix(data, []byte("\n ")) || bytes.Contains(data, []byte(" nan nan\n ")) != (s == 0) {
			t.Errorf("%s: layout (ending, nan rows) not the original's", p)
		}
		for b := range f.Q {
			c := &res.Slices[s]
			if f.Q[b] != c.Q[b] || !sameFloat(f.I[b], c.I[b]) || !sameFloat(f.Sigma[b], c.Sigma[b]) {
				t.Fatalf("%s row %d: %g %g %g, want %g %g %g", p, b, f.Q[b], f.I[b], f.Sigma[b], c.Q[b], c.I[b], c.Sigma[b])
			}
		}
	}
	if labels := ig.SliceLabels(0); labels[0] != "GISAXS Scattering Vector  $ q_{y} [nm^{-1}]$" {
		t.Errorf("InPlane label %q", labels[0])
	}
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// A slice that cannot be computed is reported with its field and left out;
// the radial curve and the other slices are still written.
func TestSliceBadBands(t *testing.T) {
	cal := gisaxsCal(t, `[
		{"Direction": "x", "Plane": "InPlane", "CutPosition": 15, "CutMargin": 3, "IncidentAngle": 0, "MaskRef": 0},
		{"Direction": "x", "Plane": "InPlane", "CutPosition": 400, "CutMargin": 3, "IncidentAngle": 0, "MaskRef": 0},
		{"Direction": "y", "Plane": "Vertical", "CutPosition": 10, "CutMargin": 0, "IncidentAngle": 0, "MaskRef": 0},
		{"Direction": "y", "Plane": "Vertical", "CutPosition": 8, "CutMargin": 1, "IncidentAngle": 0, "MaskRef": 0},
		{"Direction": "y", "Plane": "Vertical", "CutPosition": -1, "CutMargin": 3, "IncidentAngle": 0, "MaskRef": 0}]`, false)
	// slice 3: columns 7 and 8; with column 8 masked too, every pixel is.
	ig, err := saxs.New(cal)
	if err != nil {
		t.Fatal(err)
	}
	errs := ig.SliceErrors()
	wantPath := []string{"", "/Slices/1/CutPosition", "/Slices/2/CutMargin", "", ""}
	for i, e := range errs {
		var ce *saxs.CalibrationError
		switch {
		case wantPath[i] == "" && e != nil:
			t.Errorf("slice %d: %v, want no error", i, e)
		case wantPath[i] != "" && (!errors.As(e, &ce) || ce.Path != wantPath[i]):
			t.Errorf("slice %d: %v, want an error at %s", i, e, wantPath[i])
		case e != nil:
			t.Logf("slice %d: %v", i, e)
		}
	}
	warnings := strings.Join(ig.Warnings(), "\n")
	for _, w := range []string{"/Slices/1/CutPosition", "/Slices/2/CutMargin", "/Slices/4/CutPosition: the band at -1 ± 3"} {
		if !strings.Contains(warnings, w) {
			t.Errorf("warnings %q do not name %s", warnings, w)
		}
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "f.chi")
	if err := ig.IntegrateChi(frame(func(r, c int) float64 { return 1 }), base); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"f_cR0.chi", "f_cS1.chi", "f_cS4.chi", "f_cS5.chi"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	for _, name := range []string{"f_cS2.chi", "f_cS3.chi"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s written for a slice that is not computed", name)
		}
	}

	// Every pixel of the band masked.
	m := &saxs.Mask{Rows: 40, Cols: 50, Masked: make([]bool, 2000)}
	for r := range 40 {
		m.Masked[r*50+7], m.Masked[r*50+8] = true, true
	}
	cal = gisaxsCal(t, `[{"Direction": "y", "Plane": "Vertical", "CutPosition": 8, "CutMargin": 1, "IncidentAngle": 0, "MaskRef": 0}]`, false)
	ig, err = saxs.NewWithOptions(cal, saxs.Options{Masks: []*saxs.Mask{m}})
	if err != nil {
		t.Fatal(err)
	}
	var ce *saxs.CalibrationError
	if e := ig.SliceErrors()[0]; !errors.As(e, &ce) || ce.Path != "/Slices/0/MaskRef" {
		t.Errorf("fully masked band: %v, want an error at /Slices/0/MaskRef", e)
	}
}

// Slices that are wrong in themselves make the calibration invalid, every
// problem named together.
func TestSliceCalibrationErrors(t *testing.T) {
	js := `{"Geometry": {"Tilt": {"TiltRotDeg": 0, "TiltAngleDeg": 0}, "BeamCenter": [10, 10], "DedectorDistanceMM": 100,
		"Imagesize": [20, 20], "PixelSizeMicroM": [172]}, "Wavelength": 1.54,
		"Masks": [{"MaskFile": "m.msk", "Oversampling": 2, "PixelPerRadialElement": 1, "qStart": 0, "qStop": 1}],
		"Slices": [{"Direction": "z", "Plane": "InPlane", "CutPosition": 1, "CutMargin": 1, "IncidentAngle": 0, "MaskRef": 0},
		           {"Direction": "x", "Plane": "InPlane", "CutPosition": "abc", "CutMargin": 1, "IncidentAngle": 0, "MaskRef": 0},
		           {"Direction": "x", "Plane": "Flat", "CutPosition": 1, "CutMargin": 1, "IncidentAngle": 0, "MaskRef": 0, "Width": 2}]}`
	_, err := saxs.ParseCalibration([]byte(js), "cal.json")
	for _, w := range []string{"cal.json: /Slices/0/Direction", "cal.json: /Slices/1/CutPosition", "cal.json: /Slices/2/Plane",
		"cal.json: /Slices/2: unknown key 'Width'; allowed: CutMargin, CutPosition, Direction, IncidentAngle, MaskRef, Plane"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not name %s", err, w)
		}
	}
	js = strings.Replace(strings.Replace(strings.Replace(js, `"z"`, `"x"`, 1), `"abc"`, `2`, 1), `"Flat"`, `"Vertical"`, 1)
	js = strings.Replace(js, `, "Width": 2`, ``, 1)
	js = strings.Replace(js, `"IncidentAngle": 0, "MaskRef": 0}]`, `"IncidentAngle": 95, "MaskRef": 1}]`, 1)
	_, err = saxs.ParseCalibration([]byte(js), "cal.json")
	for _, w := range []string{"cal.json: /Slices/2/IncidentAngle", "cal.json: /Slices/2/MaskRef: mask reference must be -1 (no mask) or the index of one of the 1 masks"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not name %s", err, w)
		}
	}
}
