package saxs

import (
	"math"
	"testing"
)

// At oversampling 1 every pixel lies in one bin with weight 1, and the
// azimuthal error is sqrt(Σ (x − mean)²)/N over the bin's pixels: computed
// here from the straightforward per-pixel labels.
func TestAzimuthalErrorClosedForm(t *testing.T) {
	cal, m := synthetic(t, 1)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	img := patterned(rows, cols, m, 7)
	cal.Reduction = &Reduction{ErrorModel: ErrorAzimuthal}
	ig := build(t, cal, m, Options{})
	res, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	labels, nb := straightLabels(cal, 1)
	sum, sum2, cnt := make([]float64, nb), make([]float64, nb), make([]float64, nb)
	for p, l := range labels {
		if l < 0 || m.Masked[p] {
			continue
		}
		x := float64(img.Counts[p])
		sum[l] += x
		cnt[l]++
	}
	for p, l := range labels {
		if l < 0 || m.Masked[p] {
			continue
		}
		d := float64(img.Counts[p]) - sum[l]/cnt[l]
		sum2[l] += d * d
	}
	c := res.Curves[0]
	co := ig.curves[0]
	checked := 0
	for j := range c.I {
		k := co.first + j
		if cnt[k] < 2 {
			continue
		}
		checked++
		want := math.Sqrt(sum2[k]) / cnt[k]
		if math.Abs(c.Sigma[j]-want) > 1e-9*want {
			t.Errorf("bin %d: σ = %.12g, want %.12g", k, c.Sigma[j], want)
		}
		if math.Abs(c.I[j]-sum[k]/cnt[k]) > 1e-12*c.I[j] {
			t.Errorf("bin %d: I = %g, want %g", k, c.I[j], sum[k]/cnt[k])
		}
	}
	if checked < 20 {
		t.Fatalf("only %d bins checked", checked)
	}
}

// The azimuthal errors of the reference frame agree with pyFAI's
// error_model="azimuthal".
func TestAzimuthalErrorMatchesPyFAI(t *testing.T) {
	cal, mask, img := refSetup(t)
	needPyFAI(t)
	const nb = 400
	lo, hi := 0.05, 3.0
	cal.Masks[0].Oversampling = 1
	cal.Reduction = &Reduction{Bins: nb, Range: &[2]float64{lo, hi}, ErrorModel: ErrorAzimuthal}
	res := integrateWith(t, cal, mask, img)
	for _, meth := range [][]string{{"no", "csr", "cython"}, {"bbox", "csr", "cython"}} {
		py := pyFAIRun(t, cal, mask, img, map[string]any{"npt": nb, "radial_range": []float64{lo, hi},
			"error_model": "azimuthal", "method": meth})
		dI, _ := medianRelDiff(res.Curves[0].I, column(py, 1))
		d, n := medianRelDiff(res.Curves[0].Sigma, column(py, 2))
		t.Logf("azimuthal errors %v: median |Δσ|/σ vs pyFAI = %.3f %% over %d bins (I: %.4f %%)", meth, 100*d, n, 100*dI)
		if meth[0] == "no" && (n < nb/2 || !(d <= 0.02)) {
			t.Errorf("median relative difference of the azimuthal errors vs pyFAI %.4g %% over %d bins, want ≤ 2 %%", 100*d, n)
		}
	}
}

// With sigma clipping, a single hot pixel in a ring of otherwise equal
// pixels is dropped: every bin gets the common value back; without it the
// hot pixel's bins are off.
func TestSigmaClipDropsOutlier(t *testing.T) {
	cal, m := synthetic(t, 1)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	img := countsImage(rows, cols, m, func(r, c int) int32 {
		if r == 10 && c == 60 {
			return 100000
		}
		return 20
	})
	if m.Masked[10*cols+60] {
		t.Fatal("the hot pixel is masked")
	}
	plain, err := build(t, cal, m, Options{}).Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for _, v := range plain.Curves[0].I {
		if !math.IsNaN(v) && v != 20 {
			off++
		}
	}
	if off == 0 {
		t.Fatal("the hot pixel changes no bin")
	}
	for _, model := range []string{"", ErrorAzimuthal} {
		cal.Reduction = &Reduction{SigmaClip: 3, ErrorModel: model}
		res, err := build(t, cal, m, Options{}).Integrate(img)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range res.Curves[0].I {
			if !math.IsNaN(v) && v != 20 {
				t.Errorf("model %q bin %d: clipped I = %g, want 20", model, k, v)
			}
			if model == ErrorAzimuthal && !math.IsNaN(v) && res.Curves[0].Sigma[k] != 0 {
				t.Errorf("bin %d: azimuthal σ of equal kept pixels = %g, want 0", k, res.Curves[0].Sigma[k])
			}
		}
	}
}

// Sigma clipping of the reference frame agrees with pyFAI's sigma_clip_ng
// (no pixel splitting, Oversampling 1).
func TestSigmaClipMatchesPyFAI(t *testing.T) {
	cal, mask, img := refSetup(t)
	needPyFAI(t)
	const nb = 300
	lo, hi := 0.1, 3.0
	cal.Masks[0].Oversampling = 1
	cal.Reduction = &Reduction{Bins: nb, Range: &[2]float64{lo, hi}, SigmaClip: 3, ErrorModel: ErrorAzimuthal}
	res := integrateWith(t, cal, mask, img)
	py := pyFAIRun(t, cal, mask, img, map[string]any{"npt": nb, "radial_range": []float64{lo, hi}, "sigma_clip": 3})
	d, n := medianRelDiff(res.Curves[0].I, column(py, 1))
	t.Logf("sigma clip K=3: median |ΔI|/I vs pyFAI sigma_clip_ng = %.4f %% over %d bins", 100*d, n)
	if n < nb/2 || !(d <= 1e-3) {
		t.Errorf("median relative difference of the clipped I vs pyFAI %.4g %% over %d bins, want ≤ 0.1 %%", 100*d, n)
	}
	// With the solid-angle and polarization corrections, pyFAI's estimator
	// and weights: its clipped means and azimuthal errors.
	cal.PolarizationCorrection = &Polarization{Fraction: 0.95}
	cal.Reduction = &Reduction{Bins: nb, Range: &[2]float64{lo, hi}, SigmaClip: 3, ErrorModel: ErrorAzimuthal, SolidAngle: true, Estimator: EstimatorPyFAI}
	res = integrateWith(t, cal, mask, img)
	py = pyFAIRun(t, cal, mask, img, map[string]any{"npt": nb, "radial_range": []float64{lo, hi}, "sigma_clip": 3, "solid_angle": true})
	d, n = medianRelDiff(res.Curves[0].I, column(py, 1))
	ds, _ := medianRelDiff(res.Curves[0].Sigma, column(py, 2))
	t.Logf("sigma clip K=3, solid angle and polarization, pyfai estimator: median |ΔI|/I vs pyFAI = %.4f %%, |Δσ|/σ %.4f %% over %d bins", 100*d, 100*ds, n)
	if n < nb/2 || !(d <= 1e-3) || !(ds <= 0.01) {
		t.Errorf("clipped with corrections: median relative difference vs pyFAI: I %.4g %%, σ %.4g %% over %d bins, want ≤ 0.1 %% and 1 %%", 100*d, 100*ds, n)
	}
}
