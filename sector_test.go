package saxs

import (
	"math"
	"testing"
)

// Two complementary sectors (one wrapping through ±180°) split every
// sub-pixel of the full curve: their sub-pixel counts add up to its counts
// exactly.
func TestSectorsPartitionTheRing(t *testing.T) {
	cal, m := synthetic(t, 3)
	full := build(t, cal, m, Options{})
	cal.Reduction = &Reduction{ChiRange: &[2]float64{-30, 100}}
	a := build(t, cal, m, Options{})
	cal.Reduction = &Reduction{ChiRange: &[2]float64{100, 330}} // 330° is −30°: wraps
	b := build(t, cal, m, Options{})
	fq := full.curves[0]
	ops := []*curveOp{a.curves[0], b.curves[0]}
	nonzero := [2]int{}
	for j, q := range fq.q {
		sum := 0.0
		for i, co := range ops {
			k := fq.first + j - co.first
			if k < 0 || k >= len(co.q) {
				continue
			}
			if co.q[k] != q {
				t.Fatalf("bin %d: sector %d centre %g, full %g", j, i, co.q[k], q)
			}
			sum += float64(co.op.binCount(co.first + k))
			if co.area[k] > 0 {
				nonzero[i]++
			}
		}
		if want := float64(fq.op.binCount(fq.first + j)); sum != want {
			t.Errorf("bin %d: the sectors' sub-pixels add to %g, the full curve's %g", j, sum, want)
		}
	}
	if nonzero[0] < 10 || nonzero[1] < 10 {
		t.Errorf("sectors hold %v non-empty bins", nonzero)
	}
}

// A sector of the reference frame integrates as pyFAI's
// integrate1d(azimuth_range=...) does.
func TestSectorMatchesPyFAI(t *testing.T) {
	cal, mask, img := refSetup(t)
	needPyFAI(t)
	const nb = 250
	lo, hi := 0.05, 3.0
	for _, sec := range [][2]float64{{-60, 30}, {100, 170}} {
		cal.Masks[0].Oversampling = 4
		cal.Reduction = &Reduction{Bins: nb, Range: &[2]float64{lo, hi}, ChiRange: &[2]float64{sec[0], sec[1]}}
		res := integrateWith(t, cal, mask, img)
		// pyFAI's full pixel splitting shares a pixel between the sector and
		// the rest as the sub-pixels do; its bbox splitting keeps every
		// pixel that touches the sector whole.
		py := pyFAIRun(t, cal, mask, img, map[string]any{"npt": nb, "radial_range": []float64{lo, hi}, "azimuth_range": sec[:],
			"method": []string{"full", "csr", "cython"}})
		d, n := medianRelDiff(res.Curves[0].I, column(py, 1))
		t.Logf("sector χ %g..%g°: median |ΔI|/I vs pyFAI = %.4f %% over %d bins", sec[0], sec[1], 100*d, n)
		if n < nb/3 || !(d <= 1e-3) {
			t.Errorf("sector %v: median relative difference of I vs pyFAI %.4g %% over %d bins, want ≤ 0.1 %%", sec, 100*d, n)
		}
	}
	_ = math.Pi
}
