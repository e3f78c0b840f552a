package saxs

import (
	"math"
	"testing"
)

// The cake's χ bins partition the curve's bins: summed over χ, its
// sub-pixel counts are those of the 1-D curve with the same radial bins;
// a constant frame gives the constant in every non-empty cell, and 0 with
// itself as the dark.
func TestCakeClosedForms(t *testing.T) {
	cal, m := synthetic(t, 3)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	const nq, nchi = 30, 12
	cal.Reduction = &Reduction{Bins: nq, Range: &[2]float64{0.1, 2}, Cake: &[2]int{nq, nchi}}
	ig := build(t, cal, m, Options{})
	cc := ig.cake
	curve := ig.curves[0]
	for q := range nq {
		var n int64
		for c := range nchi {
			n += cc.op.binCount(c*nq + q)
		}
		if want := curve.op.binCount(q); n != want {
			t.Errorf("radial bin %d: cake counts add to %d, curve %d", q, n, want)
		}
		if cc.radial[q] != curve.q[q] {
			t.Errorf("radial bin %d: cake centre %g, curve %g", q, cc.radial[q], curve.q[q])
		}
	}
	for c, x := range cc.chi {
		if want := -180 + (float64(c)+0.5)*360/nchi; math.Abs(x-want) > 1e-9 {
			t.Errorf("χ bin %d centre %g, want %g", c, x, want)
		}
	}
	img := countsImage(rows, cols, m, func(int, int) int32 { return 9 })
	res, err := ig.Cake(img)
	if err != nil {
		t.Fatal(err)
	}
	if res.I.Rows != nchi || res.I.Cols != nq {
		t.Fatalf("cake %d × %d", res.I.Rows, res.I.Cols)
	}
	filled := 0
	for k, v := range res.I.Values {
		if math.IsNaN(v) {
			continue
		}
		filled++
		if v != 9 {
			t.Errorf("cell %d: %g, want 9", k, v)
		}
	}
	if filled < nq*nchi/3 {
		t.Errorf("only %d of %d cells filled", filled, nq*nchi)
	}
}

// The cake of the reference frame agrees with pyFAI's integrate2d on the
// same bins.
func TestCakeMatchesPyFAI(t *testing.T) {
	cal, mask, img := refSetup(t)
	needPyFAI(t)
	const nq, nchi = 60, 36
	lo, hi := 0.2, 3.0
	cal.Masks[0].Oversampling = 4
	cal.Reduction = &Reduction{Range: &[2]float64{lo, hi}, Cake: &[2]int{nq, nchi}}
	res, py := cakeAndPyFAI(t, cal, mask, img, []string{"full", "csr", "cython"})
	dq, _ := medianRelDiff(res.Radial, py[0])
	dchi, _ := medianRelDiff(res.Chi, py[1])
	if dq > 1e-6 || dchi > 1e-6 {
		t.Errorf("bin centres differ from pyFAI's: radial %g, χ %g", dq, dchi)
	}
	d, n := cakeVsPyFAI(res, py)
	t.Logf("cake %d×%d: median |ΔI|/I vs pyFAI = %.4f %% over %d cells", nq, nchi, 100*d, n)
	if n < nq*nchi/3 || !(d <= 1e-3) {
		t.Errorf("median relative difference of the cake vs pyFAI %.4g %% over %d cells, want ≤ 0.1 %%", 100*d, n)
	}
}

// cakeAndPyFAI computes the cake of cal.Reduction (Cake, Range, full
// circle) with our integrator and with pyFAI's integrate2d and the given
// method; pyFAI's lines are its radial centres, its χ centres and the
// intensity row by row.
func cakeAndPyFAI(t *testing.T, cal *Calibration, mask *Mask, img *Image, method []string) (*CakeResult, [][]float64) {
	t.Helper()
	ig, err := NewWithOptions(cal, Options{Masks: []*Mask{mask}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ig.Cake(img)
	if err != nil {
		t.Fatal(err)
	}
	red := cal.Reduction
	nq, nchi := red.Cake[0], red.Cake[1]
	py := pyFAIRun(t, cal, mask, img, map[string]any{"npt": nq, "npt_azim": nchi, "radial_range": red.Range[:],
		"azimuth_range": []float64{-180, 180}, "method": method})
	if len(py) != 2+nchi {
		t.Fatalf("pyFAI gave %d lines", len(py))
	}
	return res, py
}

// cakeVsPyFAI returns the median |ΔI|/I of our cake against pyFAI's over
// the cells pyFAI fills, and how many there were.
func cakeVsPyFAI(res *CakeResult, py [][]float64) (float64, int) {
	nchi, nq := res.I.Rows, res.I.Cols
	var ours, theirs []float64
	for c := range nchi {
		for q := range nq {
			if w := py[2+c][q]; w != 0 { // pyFAI's empty cells are 0
				ours, theirs = append(ours, res.I.Values[c*nq+q]), append(theirs, w)
			}
		}
	}
	return medianRelDiff(ours, theirs)
}
