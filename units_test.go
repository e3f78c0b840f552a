package saxs

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// Each radial unit bins the reference frame as pyFAI's integrate1d does in
// that unit, with Bins and Range overriding the calibration.
func TestUnitsMatchPyFAI(t *testing.T) {
	cal0, mask, img := refSetup(t)
	needPyFAI(t)
	const nb = 500
	for _, tc := range []struct {
		unit   Unit
		lo, hi float64
	}{
		{UnitQnm, 0.05, 3.5},
		{UnitQA, 0.005, 0.35},
		{UnitTwoThetaDeg, 0.08, 4.8},
		{UnitRmm, 1.5, 86},
	} {
		cal := cal0.clone()
		cal.Masks[0].Oversampling = 3
		cal.Reduction = &Reduction{Unit: tc.unit, Bins: nb, Range: &[2]float64{tc.lo, tc.hi}}
		if err := cal.Validate(); err != nil {
			t.Fatal(err)
		}
		res := integrateWith(t, cal, mask, img)
		c := res.Curves[0]
		if c.Unit != tc.unit || len(c.Q) != nb {
			t.Fatalf("%s: curve unit %q with %d bins", tc.unit, c.Unit, len(c.Q))
		}
		// Bin centres in closed form: LO + (k+½)·(HI−LO)/N.
		for k, q := range c.Q {
			if want := tc.lo + (float64(k)+0.5)*(tc.hi-tc.lo)/nb; math.Abs(q-want) > 1e-12*tc.hi {
				t.Fatalf("%s: bin %d centre %g, want %g", tc.unit, k, q, want)
			}
		}
		py := pyFAIRun(t, cal, mask, img, map[string]any{"npt": nb, "radial_range": []float64{tc.lo, tc.hi}, "unit": string(tc.unit)})
		dq, _ := medianRelDiff(c.Q, column(py, 0))
		d, n := medianRelDiff(c.I, column(py, 1))
		t.Logf("%-8s: median |ΔI|/I vs pyFAI = %.4f %% over %d bins (bin centres %.2g)", tc.unit, 100*d, n, dq)
		if dq > 1e-6 {
			t.Errorf("%s: bin centres differ from pyFAI's by a median %g", tc.unit, dq)
		}
		if n < nb/2 || !(d <= 1e-3) {
			t.Errorf("%s: median relative difference of I vs pyFAI %.4g %% over %d bins, want ≤ 0.1 %%", tc.unit, 100*d, n)
		}
	}
}

// The .chi column label names the unit; the default keeps the original's.
func TestUnitChiLabel(t *testing.T) {
	for _, tc := range []struct {
		unit Unit
		want string
	}{
		{"", chiColumnLabels},
		{UnitQnm, chiColumnLabels},
		{UnitQA, `["Scattering Vector  q [$\\AA^{-1}$]", "Intensity (Count/Pixel)", "Error Margin"]`},
		{UnitTwoThetaDeg, `["Scattering Angle  2theta [deg]", "Intensity (Count/Pixel)", "Error Margin"]`},
		{UnitRmm, `["Radius  r [mm]", "Intensity (Count/Pixel)", "Error Margin"]`},
	} {
		var b bytes.Buffer
		c := &Curve{Q: []float64{1}, I: []float64{2}, Sigma: []float64{3}, Unit: tc.unit}
		if err := WriteChi(&b, nil, c); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(b.String(), "\n")
		if lines[2] != tc.want {
			t.Errorf("unit %q: label line %s, want %s", tc.unit, lines[2], tc.want)
		}
		f, err := ReadChi(&b, "x.chi")
		if err != nil {
			t.Fatalf("unit %q: the file does not read back: %v", tc.unit, err)
		}
		if f.Len() != 1 {
			t.Errorf("unit %q: read back %d rows", tc.unit, f.Len())
		}
	}
	if _, err := ParseUnit("q_furlong^-1"); err == nil {
		t.Error("ParseUnit accepts an unknown unit")
	}
}

// --bins alone spans 0 to the largest value on the detector; --range alone
// keeps the width rule of PixelPerRadialElement.
func TestBinsAndRangeOverrides(t *testing.T) {
	cal, m := synthetic(t, 2)
	base := build(t, cal, m, Options{})
	q := base.curves[0].q
	width := q[1] - q[0]
	cal.Reduction = &Reduction{Bins: 40}
	ig := build(t, cal, m, Options{})
	if got := len(ig.curves[0].q); got != 40 {
		t.Errorf("Bins 40 gave %d rows", got)
	}
	cal.Reduction = &Reduction{Range: &[2]float64{0.5, 1.5}}
	ig = build(t, cal, m, Options{})
	got := ig.curves[0].q
	if want := int(math.Ceil(1.0 / width)); len(got) != want {
		t.Errorf("Range [0.5, 1.5] gave %d rows, want %d of the default width %g", len(got), want, width)
	}
	if got[0] < 0.5 || got[len(got)-1] > 1.5 {
		t.Errorf("Range [0.5, 1.5] gave centres %g to %g", got[0], got[len(got)-1])
	}
	cal.Reduction = &Reduction{Unit: "furlong"}
	if err := cal.Validate(); err == nil || !strings.Contains(err.Error(), "/Reduction/Unit") {
		t.Errorf("unknown unit: error %v", err)
	}
}
