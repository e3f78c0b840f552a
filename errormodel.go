package saxs

import (
	"fmt"
	"math"
)

// The error models of Reduction.ErrorModel.
const (
	// ErrorPoisson is the original's error: σ = sqrt(I/Area) (with a dark,
	// sqrt((I+D)/Area)), the default.
	ErrorPoisson = "poisson"
	// ErrorAzimuthal is pyFAI's "azimuthal" error model: the error of the
	// mean from the spread of the pixels in each ring,
	//
	//	σ_k = sqrt(Σ_p n[p,k]²·(x_p − I_k)²) / Σ_p n[p,k]
	//
	// with x_p = corr_p·(img_p − dark_p) the corrected pixel value, n[p,k]
	// its sub-pixels in bin k and I_k the bin's mean (pyFAI's weighted
	// Welford variance with the weights ω = n). It costs one more pass over
	// the frame and allocates.
	ErrorAzimuthal = "azimuthal"
)

// checkErrorModel reports an unknown error model.
func checkErrorModel(m string) error {
	switch m {
	case "", ErrorPoisson, ErrorAzimuthal:
		return nil
	}
	return fmt.Errorf("unknown error model %q (want poisson or azimuthal)", m)
}

// azimuthalSigma sets c.Sigma[j] to the azimuthal error of the mean of
// row j, from the corrected pixel values of img minus dark (nil for none)
// around the rows' means mean[j] (the dark-subtracted c.I before
// normalisation).
func azimuthalSigma(co *curveOp, c *Curve, img, dark *Image, mean []float64) {
	op := co.op
	dev := make([]float64, op.nbins+1)
	value := func(p int) float64 {
		x := pixelValue(img, p)
		if dark != nil {
			x -= pixelValue(dark, p)
		}
		if op.corr != nil {
			x *= op.corr[p]
		}
		return x
	}
	addDev := func(k int, n, x float64) {
		if j := k - co.first; j >= 0 && j < len(mean) {
			d := x - mean[j]
			dev[k] += n * n * d * d
		}
	}
	// The pixels in the compact form, run by run, then the exceptions.
	for _, sp := range op.spans {
		for p := int(sp.p0); p < int(sp.p1); p++ {
			x := value(p)
			b, cnt := int(op.bin[p]), float64(op.split[p])
			addDev(b, cnt, x)
			if rest := float64(op.ov2) - cnt; rest > 0 {
				addDev(b+1, rest, x)
			}
		}
	}
	for i, p := range op.xpix {
		addDev(int(op.xbin[i]), float64(op.xcnt[i]), value(int(p)))
	}
	for j := range c.Sigma {
		k := co.first + j
		n := op.count[k]
		if n == 0 {
			continue
		}
		c.Sigma[j] = math.Sqrt(dev[k]) / float64(n)
	}
}

// azimuthalSigma sets the azimuthal errors of c, whose I holds the
// corrected means of img (before the dark subtraction).
func (cr *curveReduction) azimuthalSigma(co *curveOp, c *Curve, img *Image) {
	mean := c.I
	if cr.dark != nil {
		mean = make([]float64, len(c.I))
		for j, v := range c.I {
			mean[j] = v - cr.dark[j]
		}
	}
	azimuthalSigma(co, c, img, cr.darkImg, mean)
}

// sigmaClipCycles is the most clipping rounds, as pyFAI's default.
const sigmaClipCycles = 5

// sigmaClip replaces the means c.I of img's rows by sigma-clipped means:
// in each bin, the (pixel, bin) entries whose corrected value x is farther
// than max(k, sqrt(2 ln(N/√(2π)))) standard deviations from the bin's mean
// (N its pixel count: pyFAI's Chauvenet floor) are dropped and the mean
// recomputed, up to sigmaClipCycles rounds or until nothing changes. The
// standard deviation is the spread of the kept entries,
// sqrt(Σ n·(x − m)²/Σ n). With the azimuthal error model the errors are
// those of the kept entries; with the Poisson model Area is that of the
// kept sub-pixels. dark (nil for none) is subtracted from the pixels and
// darkMean from the means.
func sigmaClip(co *curveOp, c *Curve, img, dark *Image, k float64, azimuthal bool, darkMean []float64) {
	op := co.op
	type entry struct {
		p   int32
		bin int32
		n   float64
	}
	var ents []entry
	var xs []float64
	for p := range op.bin {
		if op.bin[p] == op.none && !op.hasExceptions(p) {
			continue
		}
		x := pixelValue(img, p)
		if dark != nil {
			x -= pixelValue(dark, p)
		}
		if op.corr != nil {
			x *= op.corr[p]
		}
		if b := op.bin[p]; b != op.none {
			cnt := float64(op.split[p])
			if cnt > 0 {
				ents, xs = append(ents, entry{int32(p), int32(b), cnt}), append(xs, x)
			}
			if rest := float64(op.ov2) - cnt; rest > 0 {
				ents, xs = append(ents, entry{int32(p), int32(b) + 1, rest}), append(xs, x)
			}
			continue
		}
		for i := op.firstException(p); i < len(op.xpix) && op.xpix[i] == int32(p); i++ {
			ents, xs = append(ents, entry{int32(p), int32(op.xbin[i]), float64(op.xcnt[i])}), append(xs, x)
		}
	}
	kept := make([]bool, len(ents))
	for i := range kept {
		kept[i] = true
	}
	nb := op.nbins
	sw, sx, sd := make([]float64, nb), make([]float64, nb), make([]float64, nb)
	stats := func() {
		clear(sw)
		clear(sx)
		clear(sd)
		for i, e := range ents {
			if kept[i] {
				sw[e.bin] += e.n
				sx[e.bin] += e.n * xs[i]
			}
		}
		for i, e := range ents {
			if kept[i] {
				d := xs[i] - sx[e.bin]/sw[e.bin]
				sd[e.bin] += e.n * e.n * d * d // azimuthal: Σ n²(x−m)²
			}
		}
	}
	for range sigmaClipCycles {
		stats()
		// The spread sqrt(Σ n(x−m)²/Σ n).
		spread := make([]float64, nb)
		for i, e := range ents {
			if kept[i] {
				d := xs[i] - sx[e.bin]/sw[e.bin]
				spread[e.bin] += e.n * d * d
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
			cnt := max(sw[e.bin]/float64(op.ov2), 3)
			if math.Abs(xs[i]-m) > max(k, math.Sqrt(2*math.Log(cnt/math.Sqrt(2*math.Pi))))*s {
				kept[i] = false
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	stats()
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
			c.Sigma[j] = math.Sqrt(sd[b]) / sw[b]
		} else {
			c.Sigma[j] = math.Sqrt(m / (sw[b] / float64(op.ov2)))
		}
		if darkMean != nil {
			m += darkMean[j] // apply subtracts it again
		}
		c.I[j] = m
	}
}
