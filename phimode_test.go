package saxs

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// phiCal is an untilted 240 × 260 detector with the beam near its middle
// and a Phi-mode mask over the band of radii r0..r1 pixels (q computed
// here from the radius, independently of the package's geometry).
func phiCal(t *testing.T, nchi int, r0, r1 float64) (*Calibration, *Mask) {
	t.Helper()
	const rows, cols, d, px, lambda = 240, 260, 800.0, 0.172, 1.54
	q := func(r float64) float64 { return 4 * math.Pi * math.Sin(math.Atan(r*px/d)/2) / (lambda * AngstromStar) }
	cal := &Calibration{
		Geometry: Geometry{BeamCenter: [2]float64{117.3, 131.6}, DetectorDistanceMM: d,
			Imagesize: [2]int{rows, cols}, PixelSizeMicroM: []float64{px * 1000}},
		Wavelength: lambda,
		Masks: []MaskConfig{{MaskFile: "none.msk", Oversampling: 4, PixelPerRadialElement: 1,
			QStart: q(r0), QStop: q(r1), PhiMode: true, PhiBins: nchi}},
	}
	if err := cal.Validate(); err != nil {
		t.Fatal(err)
	}
	return cal, &Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
}

// A frame equal to 100 + 50·cos 2χ (χ at each pixel centre: the angle
// from increasing column towards increasing row, as pyFAI's untilted χ)
// comes back as the bin averages of that function, 100 + 50·cos 2χ_k ·
// sin Δ/Δ for bins of width Δ centred at χ_k, with χ_k in degrees in the
// first column and the Poisson errors of the mean.
func TestPhiModeKnownFunction(t *testing.T) {
	const nchi = 36
	cal, m := phiCal(t, nchi, 40, 100)
	g := &cal.Geometry
	rows, cols := g.Imagesize[0], g.Imagesize[1]
	cy, cx := float64(rows)-g.BeamCenter[0], g.BeamCenter[1] // beam in row-down pixel-edge coordinates
	img := &Image{Rows: rows, Cols: cols, Values: make([]float64, rows*cols)}
	for r := range rows {
		for c := range cols {
			chi := math.Atan2(float64(r)+0.5-cy, float64(c)+0.5-cx)
			img.Values[r*cols+c] = 100 + 50*math.Cos(2*chi)
		}
	}
	ig := build(t, cal, m, Options{})
	res, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Curves[0]
	if c.Unit != UnitChiDeg || c.Len() != nchi {
		t.Fatalf("curve unit %q, %d rows; want chi_deg, %d", c.Unit, c.Len(), nchi)
	}
	delta := 2 * math.Pi / nchi
	worst := 0.0
	for k := range nchi {
		chiK := -180 + (float64(k)+0.5)*360/nchi
		if math.Abs(c.Q[k]-chiK) > 1e-9 {
			t.Errorf("bin %d centre %g°, want %g°", k, c.Q[k], chiK)
		}
		want := 100 + 50*math.Cos(2*chiK*math.Pi/180)*math.Sin(delta)/delta
		worst = max(worst, math.Abs(c.I[k]-want)/want)
		// The original's Poisson error of a bin mean: sqrt(I/Area).
		if s := math.Sqrt(c.I[k] / c.Area[k]); math.Abs(c.Sigma[k]-s) > 1e-12*s {
			t.Errorf("bin %d: σ %g, want sqrt(I/Area) = %g", k, c.Sigma[k], s)
		}
	}
	t.Logf("I(χ) of 100+50·cos2χ over %d bins: largest |ΔI|/I vs the bin averages %.3g", nchi, worst)
	if worst > 2e-3 {
		t.Errorf("largest relative difference from the bin averages %.3g, want ≤ 2e-3", worst)
	}
	// Every pixel of the band is counted once: the bins' areas add up to
	// the band's pixel area π(r1²−r0²) (to the sub-pixel discretisation).
	area := 0.0
	for _, a := range c.Area {
		area += a
	}
	if want := math.Pi * (100*100 - 40*40); math.Abs(area-want) > 1e-3*want {
		t.Errorf("band area %g pixels, want %g", area, want)
	}
	if !math.IsNaN(c.Params.I0) || !math.IsNaN(c.Params.I2) {
		t.Errorf("integral parameters of I(χ) %+v, want NaN", c.Params)
	}
	if w := ig.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}

	// The propagated Poisson error (any Reduction option): a constant
	// count n gives the error of the weighted mean Σ A_pk·n_p / Σ A_pk of
	// independent Poisson pixels, sqrt(n·Σ A_pk²)/Σ A_pk, A_pk the fraction
	// of pixel p in bin k.
	cal.Reduction = &Reduction{ErrorModel: ErrorPoisson}
	flat := &Image{Rows: rows, Cols: cols, Counts: make([]int32, rows*cols)}
	for p := range flat.Counts {
		flat.Counts[p] = 400
	}
	ig = build(t, cal, m, Options{})
	res, err = ig.Integrate(flat)
	if err != nil {
		t.Fatal(err)
	}
	c = res.Curves[0]
	op := ig.Operator(0)
	for k := range nchi {
		if math.Abs(c.I[k]-400) > 1e-9 {
			t.Errorf("constant 400: bin %d holds %g", k, c.I[k])
		}
		s1, s2 := 0.0, 0.0
		for p := range rows * cols {
			a := op.At(p, k)
			s1, s2 = s1+a, s2+a*a
		}
		if s := math.Sqrt(400*s2) / s1; math.Abs(c.Sigma[k]-s) > 1e-9*s {
			t.Errorf("constant 400: bin %d σ %g, want sqrt(n·ΣA²)/ΣA = %g", k, c.Sigma[k], s)
		}
	}
}

// The writers say that the first column is χ in degrees: the .chi column
// label, the .dat column name and NXcanSAS's Phi axis in deg.
func TestPhiModeWriters(t *testing.T) {
	cal, m := phiCal(t, 8, 30, 60)
	img := &Image{Rows: m.Rows, Cols: m.Cols, Counts: make([]int32, m.Rows*m.Cols)}
	for p := range img.Counts {
		img.Counts[p] = 7
	}
	res, err := build(t, cal, m, Options{}).Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	c := &res.Curves[0]
	var chi, dat bytes.Buffer
	if err := WriteChi(&chi, cal, c); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(chi.String(), "\n")
	if lines[2] != `["Azimuthal Angle  chi [deg]", "Intensity (Count/Pixel)", "Error Margin"]` {
		t.Errorf(".chi line 3 %s", lines[2])
	}
	if !strings.HasPrefix(lines[4], " -1.575000000000000000e+02 7.0") {
		t.Errorf(".chi first row %q, want χ -157.5°", lines[4])
	}
	if !strings.Contains(lines[0], `"Phi-mode": true, "PhiBins": 8`) {
		t.Errorf(".chi header %s", lines[0])
	}
	if err := WriteDat(&dat, cal, c, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dat.String(), "\n#                chi_deg                        I                    sigma\n") {
		t.Errorf(".dat header:\n%s", dat.String())
	}
	h5, err := EncodeNXcanSAS(cal, "phi", []*Curve{c})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Phi_indices", "deg"} {
		if !bytes.Contains(h5, []byte(s)) {
			t.Errorf("NXcanSAS file lacks %q", s)
		}
	}
	if bytes.Contains(h5, []byte("Q_indices")) || bytes.Contains(h5, []byte("1/nm")) {
		t.Errorf("NXcanSAS file of I(χ) has a Q axis")
	}
}

// A band of no pixels, an empty or inverted band and bad bin counts are
// refused naming the field.
func TestPhiModeErrors(t *testing.T) {
	cal, m := phiCal(t, 8, 30, 60)
	q30, q60 := cal.Masks[0].QStart, cal.Masks[0].QStop
	for _, c := range []struct {
		name string
		edit func(*MaskConfig)
		want string
	}{
		{"inverted band", func(mc *MaskConfig) { mc.QStart, mc.QStop = q60, q30 }, "/Masks/0/qStop: Phi-mode needs a band qStart < qStop"},
		{"empty band", func(mc *MaskConfig) { mc.QStop = mc.QStart }, "/Masks/0/qStop: Phi-mode needs a band qStart < qStop"},
		{"negative bins", func(mc *MaskConfig) { mc.PhiBins = -1 }, "/Masks/0/PhiBins: azimuthal bin count must be between 0"},
		{"too many bins", func(mc *MaskConfig) { mc.PhiBins = MaxBins + 1 }, "/Masks/0/PhiBins"},
		{"bins without Phi-mode", func(mc *MaskConfig) { mc.PhiMode = false }, `/Masks/0/PhiBins: PhiBins needs "Phi-mode": true`},
		{"with RadialBins", func(mc *MaskConfig) { mc.RadialBins = &RadialBins{Start: 0.1, Stop: 1, Count: 10} }, "/Masks/0/RadialBins: RadialBins and Phi-mode"},
	} {
		d := cal.clone()
		c.edit(&d.Masks[0])
		err := d.Validate()
		var ce *CalibrationError
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// Beyond the detector: refused by New before the operator is built.
	d := cal.clone()
	d.Masks[0].QStart, d.Masks[0].QStop = 50, 60
	if _, err := NewWithOptions(d, Options{Masks: []*Mask{m}}); err == nil || !strings.Contains(err.Error(), "/Masks/0/qStart: Phi-mode band qStart 50 to qStop 60 q_nm^-1 starts beyond") {
		t.Errorf("band beyond the detector: %v", err)
	}
	// On the detector but all masked.
	masked := &Mask{Rows: m.Rows, Cols: m.Cols, Masked: make([]bool, len(m.Masked))}
	for p := range masked.Masked {
		masked.Masked[p] = true
	}
	if _, err := NewWithOptions(cal, Options{Masks: []*Mask{masked}}); err == nil || !strings.Contains(err.Error(), "/Masks/0/qStart: Phi-mode band") || !strings.Contains(err.Error(), "holds no unmasked pixel") {
		t.Errorf("masked band: %v", err)
	}
}

// The fork's keys in a 2.0 calibration file: "Phi-mode" (and PhiBins)
// are read, written back in the header, and the default bin count comes
// from PixelPerRadialElement.
func TestPhiModeKeys(t *testing.T) {
	data := []byte(`{"Geometry": {"Tilt": {"TiltRotDeg": 0, "TiltAngleDeg": 0}, "BeamCenter": [50, 50],
		"DedectorDistanceMM": 500, "Imagesize": [100, 100], "PixelSizeMicroM": [172]}, "Wavelength": 1.54,
		"Masks": [{"MaskFile": "m.msk", "Oversampling": 2, "PixelPerRadialElement": 2, "qStart": 0.1, "qStop": 0.3, "Phi-mode": true}]}`)
	cal, err := ParseCalibration(data, "fork.json")
	if err != nil {
		t.Fatal(err)
	}
	if !cal.Masks[0].PhiMode || cal.Masks[0].PhiBins != 0 {
		t.Fatalf("mask %+v", cal.Masks[0])
	}
	m := &Mask{Rows: 100, Cols: 100, Masked: make([]bool, 100*100)}
	ig := build(t, cal, m, Options{})
	// The largest distance from the beam is the corner's, 50√2 pixels of
	// 0.172 mm: ceil(2·12.16/2) = 13 bins.
	if n := len(ig.curves[0].q); n != int(math.Ceil(2*50*math.Sqrt2*0.172/2)) {
		t.Errorf("%d bins by the fork's rule", n)
	}
	if _, err := ParseCalibration(bytes.Replace(data, []byte(`"Phi-mode": true`), []byte(`"Phi-mode": 1`), 1), "fork.json"); err == nil ||
		!strings.Contains(err.Error(), "/Masks/0/Phi-mode") {
		t.Errorf("Phi-mode 1: %v", err)
	}
}

// I(χ) of the reference frame over a q band, side by side with pyFAI's
// integrate_radial: our sub-pixels against pyFAI's full pixel splitting
// differ by less than pyFAI's own bbox and full splitting differ, in I
// and in the Poisson σ (pyFAI's integrate2d_ng with the band as one radial
// bin: integrate_radial has none). The mask leaves about half of the
// circle (χ from 15° to 165°).
func TestPhiModeMatchesPyFAI(t *testing.T) {
	cal, mask, img := refSetup(t)
	needPyFAI(t)
	const nchi = 72
	for _, band := range [][2]float64{{0.3, 0.8}, {1.0, 2.5}} {
		cal.Masks[0].Oversampling = 4
		cal.Masks[0].PhiMode, cal.Masks[0].PhiBins = true, nchi
		cal.Masks[0].QStart, cal.Masks[0].QStop = band[0], band[1]
		cal.Reduction = &Reduction{ErrorModel: ErrorPoisson}
		c := integrateWith(t, cal, mask, img).Curves[0]
		py := map[string][][]float64{}
		for _, method := range []string{"full", "bbox"} {
			py[method] = pyFAIRun(t, cal, mask, img, map[string]any{"integrate_radial": true, "npt": nchi, "npt_rad": 200,
				"radial_range": band[:], "azimuth_range": []float64{-180, 180}, "method": []string{method, "csr", "cython"}})
			if len(py[method]) != nchi {
				t.Fatalf("pyFAI %s gave %d rows", method, len(py[method]))
			}
		}
		for k := range nchi { // the same bins are empty (pyFAI's empty bins hold 0)
			if math.IsNaN(c.I[k]) != (py["full"][k][1] == 0) {
				t.Errorf("band %v, bin %g°: I %g, pyFAI's %g", band, c.Q[k], c.I[k], py["full"][k][1])
			}
		}
		if d, _ := medianRelDiff(c.Q, column(py["full"], 0)); d > 1e-6 { // pyFAI's centres are float32
			t.Errorf("band %v: χ centres differ from pyFAI's by %g", band, d)
		}
		dI, n := medianRelDiff(c.I, column(py["full"], 1))
		pyI, _ := medianRelDiff(column(py["bbox"], 1), column(py["full"], 1))
		dS, _ := medianRelDiff(c.Sigma, column(py["full"], 2))
		pyS, _ := medianRelDiff(column(py["bbox"], 2), column(py["full"], 2))
		t.Logf("band %g..%g nm⁻¹, %d χ bins: median |ΔI|/I vs pyFAI full %.4f %% (pyFAI bbox vs full %.4f %%), |Δσ|/σ %.4f %% (pyFAI %.4f %%) over %d bins",
			band[0], band[1], nchi, 100*dI, 100*pyI, 100*dS, 100*pyS, n)
		if n < nchi/3 || !(dI <= pyI) || !(dS <= pyS) {
			t.Errorf("band %v: median difference vs pyFAI full I %.4g %%, σ %.4g %% over %d bins; want within pyFAI's bbox vs full (%.4g %%, %.4g %%)",
				band, 100*dI, 100*dS, n, 100*pyI, 100*pyS)
		}
	}
}

// With Reduction.ChiRange the χ bins span the sector (through ±180° when
// FROM > TO); −180:180 is the full circle.
func TestPhiModeChiRange(t *testing.T) {
	for _, tc := range []struct {
		rng      [2]float64
		first, w float64
	}{{[2]float64{-180, 180}, -180, 360}, {[2]float64{-30, 60}, -30, 90}, {[2]float64{150, -150}, 150, 60}} {
		cal, m := phiCal(t, 6, 30, 60)
		cal.Reduction = &Reduction{ChiRange: &tc.rng}
		img := &Image{Rows: m.Rows, Cols: m.Cols, Counts: make([]int32, m.Rows*m.Cols)}
		for p := range img.Counts {
			img.Counts[p] = 5
		}
		res, err := build(t, cal, m, Options{}).Integrate(img)
		if err != nil {
			t.Fatal(err)
		}
		c := res.Curves[0]
		for k := range 6 {
			if want := tc.first + (float64(k)+0.5)*tc.w/6; math.Abs(c.Q[k]-want) > 1e-12 || math.Abs(c.I[k]-5) > 1e-12 {
				t.Errorf("ChiRange %v, bin %d: χ %g° I %g, want %g° and 5", tc.rng, k, c.Q[k], c.I[k], want)
			}
		}
		area := 0.0
		for _, a := range c.Area {
			area += a
		}
		if want := math.Pi * (60*60 - 30*30) * tc.w / 360; math.Abs(area-want) > 2e-3*want {
			t.Errorf("ChiRange %v: area %g pixels, want %g", tc.rng, area, want)
		}
	}
}

// pyFAI's chi of every pixel centre (chiArray), row by row, of the fit2d
// geometry given (as pyFAIRun sets it up).
const chiArrayPy = `
import json, sys
from pyFAI.azimuthalIntegrator import AzimuthalIntegrator
a = json.load(sys.stdin)
ai = AzimuthalIntegrator()
ai.setFit2D(a["dist"], centerX=a["cx"], centerY=a["cy"], tilt=a["tilt"], tiltPlanRotation=a["rot"],
            pixelX=a["pixel"], pixelY=a["pixel"])
print(json.dumps([float(v) for v in ai.chiArray((a["rows"], a["cols"])).ravel()]))
`

// On a detector tilted by 10°, a frame equal to 100 + 50·cos 2χ with χ
// pyFAI's chi of each pixel centre (chiArray) comes back as the bin
// averages of the function: the χ of Phi-mode is pyFAI's around the beam
// axis, not the angle on the detector plane.
func TestPhiModeTiltedKnownFunction(t *testing.T) {
	needPyFAI(t)
	const nchi = 24
	cal := tiltedCal(t, 10, -30, 3)
	cal.Masks[0].PhiMode, cal.Masks[0].PhiBins = true, nchi
	cal.Masks[0].QStart, cal.Masks[0].QStop = 3, 8
	g := &cal.Geometry
	rows, cols := g.Imagesize[0], g.Imagesize[1]
	in, _ := json.Marshal(map[string]any{"dist": g.DetectorDistanceMM, "cx": g.BeamCenter[1],
		"cy": float64(rows) - g.BeamCenter[0], "tilt": g.Tilt.TiltAngleDeg, "rot": -g.Tilt.TiltRotDeg,
		"pixel": g.PixelSizeMicroM[0], "rows": rows, "cols": cols})
	var chi []float64
	if err := json.Unmarshal(runPyFAI(t, in, "-c", chiArrayPy), &chi); err != nil {
		t.Fatal(err)
	}
	if len(chi) != rows*cols {
		t.Fatalf("pyFAI gave %d values", len(chi))
	}
	img := &Image{Rows: rows, Cols: cols, Values: make([]float64, rows*cols)}
	for p, c := range chi {
		img.Values[p] = 100 + 50*math.Cos(2*c)
	}
	m := &Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	res, err := build(t, cal, m, Options{}).Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Curves[0]
	delta := 2 * math.Pi / nchi
	worst, filled := 0.0, 0
	for k := range nchi {
		if math.IsNaN(c.I[k]) {
			continue
		}
		filled++
		want := 100 + 50*math.Cos(2*c.Q[k]*math.Pi/180)*math.Sin(delta)/delta
		worst = max(worst, math.Abs(c.I[k]-want)/want)
	}
	t.Logf("10° tilt, I(χ) of 100+50·cos2χ_pyFAI over %d of %d bins: largest |ΔI|/I vs the bin averages %.3g", filled, nchi, worst)
	if filled < nchi/2 || worst > 2e-3 {
		t.Errorf("%d bins filled, largest relative difference %.3g; want ≥ %d and ≤ 2e-3", filled, worst, nchi/2)
	}
}
