package saxs

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// poisson draws a Poisson variate of mean lambda (Knuth's method; lambda
// is at most a few hundred here).
func poisson(rng *rand.Rand, lambda float64) int32 {
	l, k, p := math.Exp(-lambda), int32(0), 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// propagationSetup returns the synthetic calibration at Oversampling 3 with
// the solid-angle, polarization and flat corrections on (the flat written
// to dir), its mask, the flat and the divisors c_p = flat·SA·P computed
// independently of the package (the three-dimensional construction of
// tiltedCosIncidence and the original's polarization formula).
func propagationSetup(t *testing.T, dir string) (*Calibration, *Mask, []float64) {
	t.Helper()
	cal, m := synthetic(t, 3)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	cal.PolarizationCorrection = &Polarization{Fraction: 0.9, Angle: 10}
	flat := NewImage(rows, cols)
	for p := range flat.Values {
		flat.Values[p] = 0.6 + float64(p%13)/20
	}
	cal.Reduction = &Reduction{SolidAngle: true, Flat: writeTIFF(t, dir, "flat.tif", flat)}
	flat, err := ReadImage(cal.Reduction.Flat) // as stored (float32)
	if err != nil {
		t.Fatal(err)
	}
	pol := closedFormPolarization(cal)
	g := &cal.Geometry
	div := make([]float64, rows*cols)
	for r := range rows {
		for c := range cols {
			p := r*cols + c
			y := float64(r) - float64(rows) + g.BeamCenter[0] + 0.5
			x := float64(c) - g.BeamCenter[1] + 0.5
			ca := tiltedCosIncidence(cal, x, y)
			div[p] = pixelValue(flat, p) * ca * ca * ca * pol[p]
		}
	}
	return cal, m, div
}

// binSums returns, for every bin k of op, Σ_p A·f(p) and Σ_p A²·f(p) by
// straight loops over the pixels and the operator's public At.
func binSums(op *Operator, f func(p int) float64) (s1, s2 []float64) {
	np, nb := op.Dims()
	s1, s2 = make([]float64, nb), make([]float64, nb)
	for p := range np {
		for k := range nb {
			if a := op.At(p, k); a != 0 {
				v := f(p)
				s1[k] += a * v
				s2[k] += a * a * v
			}
		}
	}
	return s1, s2
}

// relErr returns |a−b|/|b|.
func relErr(a, b float64) float64 { return math.Abs(a-b) / math.Abs(b) }

// For a Poisson frame with the solid-angle, polarization and flat
// corrections on (and pixel splitting at Oversampling 3), with and without
// a dark, each estimator's I and propagated σ equal the closed forms
//
//	mean:  I = Σ A·(img−dark)/c / Σ A,    σ = sqrt(Σ A²·(img+dark)/c²) / Σ A
//	pyfai: I = Σ A·(img−dark) / Σ A·c,    σ = sqrt(Σ A²·(img+dark)) / Σ A·c
//
// and the azimuthal σ equals pyFAI's sqrt(Σ ω·(v−m)²)/Σ ω, ω = A·c,
// v = (img−dark)/c, m = Σ ω·v/Σ ω, all computed here by straight loops over
// the pixels with independently computed divisors c.
func TestPropagatedErrorsClosedForm(t *testing.T) {
	dir := t.TempDir()
	cal, m, div := propagationSetup(t, dir)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	rng := rand.New(rand.NewPCG(3, 4))
	img := countsImage(rows, cols, m, func(r, c int) int32 {
		return poisson(rng, 80*div[r*cols+c]*(1+0.4*math.Sin(float64(c)/6)))
	})
	dark := countsImage(rows, cols, m, func(r, c int) int32 { return poisson(rng, 6) })
	darkPath := writeTIFF(t, dir, "dark.tif", dark)
	flatPath := cal.Reduction.Flat
	for _, withDark := range []bool{false, true} {
		for _, est := range []string{EstimatorMean, EstimatorPyFAI} {
			for _, model := range []string{ErrorPoisson, ErrorAzimuthal} {
				red := &Reduction{SolidAngle: true, Flat: flatPath, Estimator: est, ErrorModel: model}
				d := func(int) float64 { return 0 }
				if withDark {
					red.Dark = darkPath
					d = func(p int) float64 { return float64(dark.Counts[p]) }
				}
				cal.Reduction = red
				ig := build(t, cal, m, Options{})
				res, err := ig.Integrate(img)
				if err != nil {
					t.Fatal(err)
				}
				op := ig.Operator(0)
				cnt := func(p int) float64 { return float64(img.Counts[p]) - d(p) }
				vr := func(p int) float64 { return float64(img.Counts[p]) + d(p) }
				sA, _ := binSums(op, func(int) float64 { return 1 })
				sAc, _ := binSums(op, func(p int) float64 { return div[p] })
				sAv, _ := binSums(op, func(p int) float64 { return cnt(p) / div[p] })
				sAx, _ := binSums(op, cnt)
				_, sA2vc := binSums(op, func(p int) float64 { return vr(p) / (div[p] * div[p]) })
				_, sA2v := binSums(op, vr)
				// pyFAI's azimuthal spread around its mean.
				_, nb := op.Dims()
				dev := make([]float64, nb)
				np, _ := op.Dims()
				for p := range np {
					for k := range nb {
						if a := op.At(p, k); a != 0 {
							x := cnt(p)/div[p] - sAx[k]/sAc[k]
							dev[k] += a * div[p] * x * x
						}
					}
				}
				c := res.Curves[0]
				first := nb - len(c.I)
				worstI, worstS, n := 0.0, 0.0, 0
				for j := range c.I {
					k := first + j
					if sA[k] < 3 {
						continue
					}
					n++
					var wantI, wantS float64
					if est == EstimatorMean {
						wantI, wantS = sAv[k]/sA[k], math.Sqrt(sA2vc[k])/sA[k]
					} else {
						wantI, wantS = sAx[k]/sAc[k], math.Sqrt(sA2v[k])/sAc[k]
					}
					if model == ErrorAzimuthal {
						wantS = math.Sqrt(dev[k]) / sAc[k]
					}
					worstI, worstS = max(worstI, relErr(c.I[j], wantI)), max(worstS, relErr(c.Sigma[j], wantS))
				}
				what := est + "/" + model
				if withDark {
					what += "/dark"
				}
				t.Logf("%s: %d bins, largest |ΔI|/I %.2g, |Δσ|/σ %.2g vs the closed form", what, n, worstI, worstS)
				if n < 20 {
					t.Fatalf("%s: only %d bins", what, n)
				}
				if !(worstI <= 1e-6) || !(worstS <= 1e-6) {
					t.Errorf("%s: largest relative difference from the closed form: I %.3g, σ %.3g, want ≤ 1e-6", what, worstI, worstS)
				}
			}
		}
	}
}

// The propagated Poisson σ is the spread of I over Poisson realisations of
// the same frame: 200 frames (fixed seed) with the solid-angle,
// polarization and flat corrections on and pixel splitting; the standard
// deviation of I per bin over the frames agrees with the root mean square
// of σ within a few percent (median over the bins), for both estimators.
// The original's sqrt(I/Area) does not.
func TestPropagatedErrorsMonteCarlo(t *testing.T) {
	dir := t.TempDir()
	cal, m, div := propagationSetup(t, dir)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	flatPath := cal.Reduction.Flat
	lambda := make([]float64, rows*cols)
	for r := range rows {
		for c := range cols {
			lambda[r*cols+c] = 40 * div[r*cols+c] * (1 + 0.5*math.Cos(float64(r+c)/7))
		}
	}
	const frames = 200
	for _, est := range []string{EstimatorMean, EstimatorPyFAI} {
		cal.Reduction = &Reduction{SolidAngle: true, Flat: flatPath, Estimator: est}
		ig := build(t, cal, m, Options{})
		rng := rand.New(rand.NewPCG(5, 6))
		res := ig.NewResult()
		nr := len(res.Curves[0].I)
		sum, sum2, s2, old2 := make([]float64, nr), make([]float64, nr), make([]float64, nr), make([]float64, nr)
		for range frames {
			img := countsImage(rows, cols, m, func(r, c int) int32 { return poisson(rng, lambda[r*cols+c]) })
			if err := ig.IntegrateTo(res, img); err != nil {
				t.Fatal(err)
			}
			c := res.Curves[0]
			for j, v := range c.I {
				sum[j] += v
				sum2[j] += v * v
				s2[j] += c.Sigma[j] * c.Sigma[j]
				old2[j] += v / c.Area[j] // the original's σ²
			}
		}
		var ratio, oldRatio []float64
		for j := range sum {
			if a := res.Curves[0].Area[j]; !(a >= 5) || math.IsNaN(sum[j]) {
				continue
			}
			mean := sum[j] / frames
			sd := math.Sqrt((sum2[j] - frames*mean*mean) / (frames - 1))
			ratio = append(ratio, sd/math.Sqrt(s2[j]/frames))
			oldRatio = append(oldRatio, sd/math.Sqrt(old2[j]/frames))
		}
		slices.Sort(ratio)
		slices.Sort(oldRatio)
		if len(ratio) < 20 {
			t.Fatalf("%s: only %d bins", est, len(ratio))
		}
		med, oldMed := ratio[len(ratio)/2], oldRatio[len(oldRatio)/2]
		t.Logf("%s: spread of I over %d Poisson frames / propagated σ: median %.4f (range %.3f..%.3f over %d bins); / sqrt(I/Area): median %.4f",
			est, frames, med, ratio[0], ratio[len(ratio)-1], len(ratio), oldMed)
		if math.Abs(med-1) > 0.03 {
			t.Errorf("%s: median spread/σ %.4f, want 1 within 3 %%", est, med)
		}
		if lo, hi := ratio[0], ratio[len(ratio)-1]; lo < 0.75 || hi > 1.25 {
			t.Errorf("%s: spread/σ from %.3f to %.3f, want within 25 %% in every bin", est, lo, hi)
		}
		if math.Abs(oldMed-1) < 0.05 {
			t.Errorf("%s: the original's sqrt(I/Area) is within 5 %% of the spread (median %.4f): the frame does not test the propagation", est, oldMed)
		}
	}
}

// Reduction.Estimator is read, kept in the schema and checked, with errors
// naming its JSON path.
func TestEstimatorKey(t *testing.T) {
	cal, _ := synthetic(t, 1)
	for _, e := range []string{"", EstimatorMean, EstimatorPyFAI} {
		cal.Reduction = &Reduction{Estimator: e}
		if err := cal.Validate(); err != nil {
			t.Errorf("Estimator %q: %v", e, err)
		}
	}
	cal.Reduction = &Reduction{Estimator: "median"}
	if err := cal.Validate(); err == nil || !strings.Contains(err.Error(), "/Reduction/Estimator") {
		t.Errorf("Estimator median: error %v, want one naming /Reduction/Estimator", err)
	}
	for _, g := range []Generation{Flat, Nested} {
		if s := string(Schema(g)); !strings.Contains(s, `"Estimator"`) || !strings.Contains(s, `"pyfai"`) {
			t.Errorf("the schema of generation %v does not document Reduction.Estimator", g)
		}
	}
}

// Without a Reduction key (or with an empty one) σ stays the original's
// sqrt(I/Area), bit for bit, polarization correction and splitting
// included; an explicit ErrorModel "poisson" propagates it.
func TestOriginalSigmaWithoutReduction(t *testing.T) {
	cal, m := synthetic(t, 3)
	cal.PolarizationCorrection = &Polarization{Fraction: 0.9, Angle: 10}
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	img := patterned(rows, cols, m, 9)
	for _, red := range []*Reduction{nil, {}, {ErrorModel: ErrorPoisson}} {
		cal.Reduction = red
		res, err := build(t, cal, m, Options{}).Integrate(img)
		if err != nil {
			t.Fatal(err)
		}
		c := res.Curves[0]
		same := 0
		for j, v := range c.I {
			if math.IsNaN(v) {
				continue
			}
			if c.Sigma[j] == math.Sqrt(v/c.Area[j]) {
				same++
			} else if red == nil || *red == (Reduction{}) {
				t.Errorf("Reduction %+v, bin %d: σ = %.17g, want the original's sqrt(I/Area) = %.17g", red, j, c.Sigma[j], math.Sqrt(v/c.Area[j]))
			}
		}
		if red != nil && red.ErrorModel != "" && same > len(c.I)/2 {
			t.Errorf("ErrorModel poisson: σ is sqrt(I/Area) in %d of %d bins, want the propagated error", same, len(c.I))
		}
	}
}

// The propagated Poisson σ is the same closed form whichever kernel sums
// the frame: the float kernel with the fused variance lanes (per-pixel
// corrections), the integer histogram kernel (none, or the pyFAI
// estimator), the integer kernel without histogram (more bins than the
// histogram holds) and the separate pass (a float frame without
// corrections), on one goroutine and on three.
func TestPropagatedErrorsKernels(t *testing.T) {
	dir := t.TempDir()
	cal, m, div := propagationSetup(t, dir)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	flatPath := cal.Reduction.Flat
	rng := rand.New(rand.NewPCG(9, 10))
	img := countsImage(rows, cols, m, func(r, c int) int32 { return poisson(rng, 60) })
	fimg := NewImage(rows, cols)
	for p, v := range img.Counts {
		fimg.Values[p] = float64(v)
	}
	for _, tc := range []struct {
		name string
		red  Reduction
		pol  bool
		img  *Image
	}{
		{"float kernel, corrections", Reduction{SolidAngle: true, Flat: flatPath}, true, img},
		{"float frame, corrections", Reduction{SolidAngle: true, Flat: flatPath}, true, fimg},
		{"histogram kernel, pyfai", Reduction{SolidAngle: true, Flat: flatPath, Estimator: EstimatorPyFAI}, true, img},
		{"histogram kernel, no correction", Reduction{ErrorModel: ErrorPoisson}, false, img},
		{"integer kernel, 5000 bins", Reduction{Bins: 5000}, false, img},
		{"float frame, no correction", Reduction{ErrorModel: ErrorPoisson}, false, fimg},
	} {
		cal.Reduction = &tc.red
		cal.PolarizationCorrection = nil
		c := func(int) float64 { return 1 }
		if tc.pol {
			cal.PolarizationCorrection = &Polarization{Fraction: 0.9, Angle: 10}
			c = func(p int) float64 { return div[p] }
		}
		ig := build(t, cal, m, Options{})
		op := ig.Operator(0)
		cnt := func(p int) float64 { return pixelValue(tc.img, p) }
		sA, _ := binSums(op, func(int) float64 { return 1 })
		sAc, _ := binSums(op, c)
		_, sA2v := binSums(op, cnt)
		_, sA2vc := binSums(op, func(p int) float64 { return cnt(p) / (c(p) * c(p)) })
		for _, workers := range []int{1, 3} {
			res := ig.NewResult()
			if err := ig.IntegrateParallelTo(res, tc.img, workers); err != nil {
				t.Fatal(err)
			}
			cv := res.Curves[0]
			_, nb := op.Dims()
			first, worst, n := nb-len(cv.I), 0.0, 0
			for j := range cv.I {
				k := first + j
				if sA[k] == 0 {
					continue
				}
				want := math.Sqrt(sA2vc[k]) / sA[k]
				if tc.red.Estimator == EstimatorPyFAI {
					want = math.Sqrt(sA2v[k]) / sAc[k]
				}
				n++
				worst = max(worst, relErr(cv.Sigma[j], want))
			}
			if n < 20 || !(worst <= 1e-12) {
				t.Errorf("%s, %d workers: largest |Δσ|/σ %.3g over %d bins, want ≤ 1e-12", tc.name, workers, worst, n)
			}
		}
	}
}
