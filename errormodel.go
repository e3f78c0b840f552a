package saxs

import (
	"fmt"
	"math"
)

// The error models of Reduction.ErrorModel.
//
// Without a Reduction key in the calibration, the error is the original
// saxsdog's, σ_k = sqrt(I_k/Area_k) from the corrected mean I_k, byte for
// byte (it does not divide the variance of a corrected pixel by its factor
// squared, and it counts a pixel split between bins as if its sub-pixels
// were independent). With a Reduction key holding any option (an explicit
// ErrorModel "poisson" included), the errors are propagated from the
// pixels as below.
//
// Notation: pixel p holds the counts img_p (dark_p of the dark frame, 0
// without one), its correction divisor is c_p = flat_p·SA_p·P_p (the flat,
// the relative solid angle and the polarization factor, each 1 when off),
// its corrected value is v_p = (img_p − dark_p)/c_p, and w_pk = A[p, k] is
// the share of its sub-pixels in bin k (see Operator.At).
const (
	// ErrorPoisson is the Poisson error (the default). Propagated, the
	// variance of a corrected pixel is (img_p + dark_p)/c_p², so that with
	// the mean estimator (I_k = Σ_p w_pk·v_p / Σ_p w_pk)
	//
	//	σ_k = sqrt(Σ_p w_pk²·(img_p + dark_p)/c_p²) / Σ_p w_pk
	//
	// and with the pyFAI estimator (I_k = Σ_p w_pk·(img_p − dark_p) / Σ_p w_pk·c_p)
	//
	//	σ_k = sqrt(Σ_p w_pk²·(img_p + dark_p)) / Σ_p w_pk·c_p,
	//
	// pyFAI's error_model="poisson" (its variance img + dark, its "sem").
	// A normalisation divides σ as it divides I; a background adds its σ in
	// quadrature. Without a Reduction key, σ = sqrt(I/Area) (see above).
	ErrorPoisson = "poisson"
	// ErrorAzimuthal is pyFAI 0.21's "azimuthal" error model: the error of
	// the mean from the spread of the corrected pixels in each ring,
	//
	//	σ_k = sqrt(Σ_p ω_pk·(v_p − m_k)²) / Σ_p ω_pk,  ω_pk = w_pk·c_p,
	//	m_k = Σ_p ω_pk·v_p / Σ_p ω_pk = Σ_p w_pk·(img_p − dark_p) / Σ_p w_pk·c_p,
	//
	// the weights unsquared and each pixel weighted by its divisor c_p (the
	// flat, solid angle and polarization), exactly as pyFAI's CSR
	// integrate_ng computes it with its weighted Welford update (the sum of
	// ω·(v − m)² around pyFAI's mean m, for either Estimator). It costs two
	// more passes over the frame and allocates.
	ErrorAzimuthal = "azimuthal"
)

// The estimators of a ring's mean, Reduction.Estimator.
const (
	// EstimatorMean is the original saxsdog's mean (the default): the
	// average of the corrected pixels, I_k = Σ_p w_pk·v_p / Σ_p w_pk.
	EstimatorMean = "mean"
	// EstimatorPyFAI is pyFAI's mean: the sum of the (dark-subtracted)
	// counts divided by the sum of the correction divisors,
	// I_k = Σ_p w_pk·(img_p − dark_p) / Σ_p w_pk·c_p. The two agree when
	// the intensity is constant around the ring, or without per-pixel
	// corrections; otherwise pyFAI's weights each pixel by c_p.
	EstimatorPyFAI = "pyfai"
)

// checkErrorModel reports an unknown error model.
func checkErrorModel(m string) error {
	switch m {
	case "", ErrorPoisson, ErrorAzimuthal:
		return nil
	}
	return fmt.Errorf("unknown error model %q (want poisson or azimuthal)", m)
}

// checkEstimator reports an unknown estimator.
func checkEstimator(e string) error {
	switch e {
	case "", EstimatorMean, EstimatorPyFAI:
		return nil
	}
	return fmt.Errorf("unknown estimator %q (want mean or pyfai)", e)
}

// divisor returns c_p = 1/corr_p, the correction divisor of pixel p of an
// operator with per-pixel factors corr (nil: 1).
func divisor(corr []float64, p int) float64 {
	if corr == nil {
		return 1
	}
	return 1 / corr[p]
}

// binDivisors returns D_k = Σ_p n[p,k]·c_p for every bin k of op (and a
// spare element), n[p,k] the sub-pixel counts and c_p the divisors of
// op's factors: the denominator of the pyFAI estimator in sub-pixel units.
func binDivisors(op *Operator) []float64 {
	d := make([]float64, op.nbins+1)
	for p := range op.bin {
		if op.bin[p] == op.none && !op.hasExceptions(p) {
			continue
		}
		op.addPixel(p, divisor(op.corr, p), d)
	}
	return d
}

// varianceSums adds Σ_p n[p,k]²·g_p²·img_p to bin k of acc for every
// bin k, with g_p = corr[p] (nil: 1) and n[p,k] the sub-pixel counts of
// op: the propagated Poisson variance in sub-pixel units squared. acc has
// two interleaved lanes, acc[2k] and acc[2k+1] (2·(nbins+1) elements), that
// alternate between consecutive pixels so that a store does not wait for
// the previous pixel's; bin k's sum is acc[2k] + acc[2k+1].
func varianceSums[T int32 | float64](op *Operator, corr []float64, img []T, acc []float64) {
	ov2 := float64(op.ov2)
	acc = acc[:2*(op.nbins+1)]
	for _, sp := range op.spans {
		a, z := int(sp.p0), int(sp.p1)
		bins := op.bin[a:z]
		n := len(bins)
		split := op.split[a:z][:n]
		im := img[a:z][:n]
		var cr []float64
		if corr != nil {
			cr = corr[a:z][:n]
		}
		for i, b := range bins {
			v, c := float64(im[i]), float64(split[i])
			if cr != nil {
				g := cr[i]
				v *= g * g
			}
			r := ov2 - c
			j := 2*int(b) + i&1
			acc[j] += c * c * v
			acc[j+2] += r * r * v
		}
	}
	for i, p := range op.xpix {
		v := float64(img[p])
		if corr != nil {
			v *= corr[p] * corr[p]
		}
		c := float64(op.xcnt[i])
		acc[2*int(op.xbin[i])] += c * c * v
	}
}

// addVariance adds the variance sums of img (see varianceSums) to dst
// (nbins+1 elements), using acc (2·(nbins+1) elements) as scratch.
func addVariance(op *Operator, corr []float64, img *Image, dst, acc []float64) {
	clear(acc)
	if img.Counts != nil {
		varianceSums(op, corr, img.Counts, acc)
	} else {
		varianceSums(op, corr, img.Values, acc)
	}
	for k := range dst {
		dst[k] += acc[2*k] + acc[2*k+1]
	}
}

// azimuthalSigma sets c.Sigma[j] to pyFAI's azimuthal error of row j (see
// ErrorAzimuthal) from img minus dark (nil for none), with the per-pixel
// factors of co.op.
func azimuthalSigma(co *curveOp, c *Curve, img, dark *Image) {
	op := co.op
	corr := op.corr
	sx, sw := make([]float64, op.nbins+1), make([]float64, op.nbins+1)
	dev := make([]float64, op.nbins+1)
	counts := func(p int) float64 {
		x := pixelValue(img, p)
		if dark != nil {
			x -= pixelValue(dark, p)
		}
		return x
	}
	// Pass 1: pyFAI's mean m_k = Σ n·(img − dark) / Σ n·c.
	each := func(f func(p, k int, n float64)) {
		for _, sp := range op.spans {
			for p := int(sp.p0); p < int(sp.p1); p++ {
				b, cnt := int(op.bin[p]), float64(op.split[p])
				f(p, b, cnt)
				if rest := float64(op.ov2) - cnt; rest > 0 {
					f(p, b+1, rest)
				}
			}
		}
		for i, p := range op.xpix {
			f(int(p), int(op.xbin[i]), float64(op.xcnt[i]))
		}
	}
	each(func(p, k int, n float64) {
		sx[k] += n * counts(p)
		sw[k] += n * divisor(corr, p)
	})
	// Pass 2: Σ ω·(v − m)² with ω = n·c and v = (img − dark)/c.
	each(func(p, k int, n float64) {
		cp := divisor(corr, p)
		d := counts(p)/cp - sx[k]/sw[k]
		dev[k] += n * cp * d * d
	})
	ov2 := float64(op.ov2)
	for j := range c.Sigma {
		k := co.first + j
		if op.count[k] == 0 {
			continue
		}
		// In pixel units ω = n·c/ov²: sqrt(dev/ov²)/(sw/ov²).
		c.Sigma[j] = math.Sqrt(dev[k]*ov2) / sw[k]
	}
}

// azimuthalSigma sets the azimuthal errors of c from the frame img.
func (cr *curveReduction) azimuthalSigma(co *curveOp, c *Curve, img *Image) {
	azimuthalSigma(co, c, img, cr.darkImg)
}

// sigmaClipCycles is the most clipping rounds, as pyFAI's default.
const sigmaClipCycles = 5

// sigmaClip replaces the means c.I of img's rows by sigma-clipped means,
// as pyFAI's sigma_clip_ng does: in each bin, the (pixel, bin) entries
// whose corrected value v = (img − dark)/c is farther than
// max(k, sqrt(2 ln(N/√(2π)))) standard deviations from the bin's mean (N
// its pixel count: pyFAI's Chauvenet floor) are dropped and the mean
// recomputed, up to sigmaClipCycles rounds or until nothing changes. The
// mean is the estimator's (weights ω = n with the mean estimator, n·c with
// pyFAI's, n the entry's sub-pixels and c the pixel's divisor), the
// standard deviation the spread of the kept entries, sqrt(Σ ω·(v − m)²/Σ ω).
// The errors are those of the kept entries: the propagated Poisson error,
// or the azimuthal one (see ErrorAzimuthal). dark (nil for none) is
// subtracted from the pixels and darkMean from the means.
func sigmaClip(co *curveOp, c *Curve, img, dark *Image, k float64, azimuthal, pyfai bool, darkMean []float64) {
	op := co.op
	type entry struct {
		p   int32
		bin int32
		n   float64
	}
	var ents []entry
	var xs, vars, cs []float64 // v, the variance of the counts (img + dark), c
	for p := range op.bin {
		if op.bin[p] == op.none && !op.hasExceptions(p) {
			continue
		}
		x := pixelValue(img, p)
		vr := x
		if dark != nil {
			d := pixelValue(dark, p)
			x -= d
			vr += d
		}
		cp := divisor(op.corr, p)
		x /= cp
		add := func(b int32, n float64) {
			ents, xs, vars, cs = append(ents, entry{int32(p), b, n}), append(xs, x), append(vars, vr), append(cs, cp)
		}
		if b := op.bin[p]; b != op.none {
			cnt := float64(op.split[p])
			if cnt > 0 {
				add(int32(b), cnt)
			}
			if rest := float64(op.ov2) - cnt; rest > 0 {
				add(int32(b)+1, rest)
			}
			continue
		}
		for i := op.firstException(p); i < len(op.xpix) && op.xpix[i] == int32(p); i++ {
			add(int32(op.xbin[i]), float64(op.xcnt[i]))
		}
	}
	// weight is an entry's weight in the estimator's mean.
	weight := func(i int) float64 {
		if pyfai {
			return ents[i].n * cs[i]
		}
		return ents[i].n
	}
	kept := make([]bool, len(ents))
	for i := range kept {
		kept[i] = true
	}
	nb := op.nbins
	sw, sx, sn := make([]float64, nb), make([]float64, nb), make([]float64, nb)
	means := func() {
		clear(sw)
		clear(sx)
		clear(sn)
		for i, e := range ents {
			if kept[i] {
				w := weight(i)
				sw[e.bin] += w
				sx[e.bin] += w * xs[i]
				sn[e.bin] += e.n
			}
		}
	}
	spread := make([]float64, nb)
	for range sigmaClipCycles {
		means()
		// The spread sqrt(Σ ω(v−m)²/Σ ω).
		clear(spread)
		for i, e := range ents {
			if kept[i] {
				d := xs[i] - sx[e.bin]/sw[e.bin]
				spread[e.bin] += weight(i) * d * d
			}
		}
		changed := false
		for i, e := range ents {
			if !kept[i] {
				continue
			}
			m := sx[e.bin] / sw[e.bin]
			s := math.Sqrt(spread[e.bin] / sw[e.bin])
			// pyFAI's Chauvenet floor: never clip below what N normal
			// samples reach by chance.
			cnt := max(sn[e.bin]/float64(op.ov2), 3)
			if math.Abs(xs[i]-m) > max(k, math.Sqrt(2*math.Log(cnt/math.Sqrt(2*math.Pi))))*s {
				kept[i] = false
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	means()
	// The errors of the kept entries.
	ov2 := float64(op.ov2)
	sv, sc, mw := make([]float64, nb), make([]float64, nb), make([]float64, nb)
	for i, e := range ents {
		if !kept[i] {
			continue
		}
		if azimuthal {
			sc[e.bin] += e.n * cs[i]
			mw[e.bin] += e.n * cs[i] * xs[i]
		} else {
			g := 1.0
			if !pyfai {
				g = 1 / cs[i]
			}
			sv[e.bin] += e.n * e.n * g * g * vars[i]
		}
	}
	if azimuthal {
		for i, e := range ents {
			if kept[i] {
				d := xs[i] - mw[e.bin]/sc[e.bin]
				sv[e.bin] += e.n * cs[i] * d * d
			}
		}
	}
	for j := range c.I {
		b := co.first + j
		if op.count[b] == 0 {
			continue
		}
		if sw[b] == 0 {
			c.I[j], c.Sigma[j] = math.NaN(), math.NaN()
			continue
		}
		m := sx[b] / sw[b]
		if azimuthal {
			c.Sigma[j] = math.Sqrt(sv[b]*ov2) / sc[b]
		} else {
			c.Sigma[j] = math.Sqrt(sv[b]) / sw[b]
		}
		if darkMean != nil {
			m += darkMean[j] // apply subtracts it again
		}
		c.I[j] = m
	}
}
