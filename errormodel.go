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
	for p := range op.bin {
		if op.bin[p] == op.none && !op.hasExceptions(p) {
			continue
		}
		x := pixelValue(img, p)
		if dark != nil {
			x -= pixelValue(dark, p)
		}
		if op.corr != nil {
			x *= float64(op.corr[p])
		}
		addDev := func(k int, n float64) {
			if j := k - co.first; j >= 0 && j < len(mean) {
				d := x - mean[j]
				dev[k] += n * n * d * d
			}
		}
		if b := op.bin[p]; b != op.none {
			cnt := float64(op.split[p])
			addDev(int(b), cnt)
			if rest := float64(op.ov2) - cnt; rest > 0 {
				addDev(int(b)+1, rest)
			}
			continue
		}
		for i := op.firstException(p); i < len(op.xpix) && op.xpix[i] == int32(p); i++ {
			addDev(int(op.xbin[i]), float64(op.xcnt[i]))
		}
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
