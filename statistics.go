package saxs

import "math"

// paramRange returns the bins s..e-1 that the integral parameters over
// [qStart, qStop] sum, as the original chooses them: qStop is clamped to
// the largest q, s is the first bin with q ≥ qStart and e the first with
// q ≥ qStop. The range is empty (s ≥ e) when no bin lies in it, and for a
// curve of fewer than 2 bins (no bin width).
func paramRange(q []float64, qStart, qStop float64) (s, e int) {
	if len(q) < 2 {
		return 0, 0
	}
	qmax := q[len(q)-1]
	if qStop > qmax {
		qStop = qmax
	}
	s, e = len(q), len(q)
	for k, v := range q {
		if v >= qStart {
			s = k
			break
		}
	}
	for k, v := range q {
		if v >= qStop {
			e = k
			break
		}
	}
	return s, e
}

// integralParameters computes I0, I1, I2 of a curve over the bins s..e-1
// (see paramRange): the sums times the bin width q[1]-q[0]. NaN bins are
// skipped. An empty range gives NaN for all three (the original gave 0,
// which cannot be told from a real zero).
func integralParameters(q, in []float64, s, e int) IntegralParameters {
	var p IntegralParameters
	if s >= e {
		nan := math.NaN()
		return IntegralParameters{I0: nan, I1: nan, I2: nan}
	}
	dq := q[1] - q[0]
	for k := s; k < e; k++ {
		v := in[k]
		if math.IsNaN(v) {
			continue
		}
		p.I0 += v
		p.I1 += v * q[k]
		p.I2 += v * q[k] * q[k]
	}
	p.I0 *= dq
	p.I1 *= dq
	p.I2 *= dq
	return p
}

// ErrorCurve is a curve with the spread of the pixel values in each bin
// (the original's integrateerror). Its Curve follows the rules of
// [Curve]: Q and Area are shared with the Integrator and read only; I,
// Sigma and StdDev are the caller's.
type ErrorCurve struct {
	Curve
	// StdDev is the standard deviation of the corrected pixel values in
	// each bin around the bin mean, weighted by the pixels' shares: the
	// spread inside the ring, not the error of the mean.
	StdDev []float64
}

// IntegrateError integrates an image and also returns, per bin, the
// standard deviation of the pixel values in the ring:
//
//	StdDev_k = sqrt(Σ_p A[p,k]·(corr_p·img_p − m_p)² / Area_k)
//
// where m_p = Σ_k A[p,k]·I_k is the curve mapped back to pixel p. The mean
// is Curve.I and the Poisson error Curve.Sigma. (The original compared the
// uncorrected pixel value with the corrected mean times corr_p; without
// polarization correction the two are the same.)
func (ig *Integrator) IntegrateError(img *Image) ([]ErrorCurve, error) {
	return ig.IntegrateErrorFrame(img, "")
}

// IntegrateErrorFrame is IntegrateError for the frame read from the file
// name (see IntegrateFrameTo). With reduction options the spread is that of
// the corrected pixel values around the curve before the dark, the
// normalisation and the background were applied (norm·(I + scale·B) + D),
// divided by the normalisation: the dark is taken as its ring mean.
func (ig *Integrator) IntegrateErrorFrame(img *Image, name string) ([]ErrorCurve, error) {
	r := ig.NewResult()
	r.work, _ = ig.pool.Get().(*scratch)
	err := ig.IntegrateFrameTo(r, img, name)
	ig.pool.Put(r.work)
	r.work = nil
	if err != nil {
		return nil, err
	}
	norm := r.norm
	if norm == 0 {
		norm = 1
	}
	out := make([]ErrorCurve, len(ig.curves))
	for i, co := range ig.curves {
		op := co.op
		c := r.Curves[i]
		_, nbins := op.Dims()
		// The curve over all bins, 0 where empty.
		mean := make([]float64, nbins+1)
		for j, v := range c.I {
			if op.binCount(co.first+j) > 0 {
				if cr := co.red; cr != nil {
					if cr.bkg != nil {
						v += cr.scale * cr.bkg[j]
					}
					v *= norm
					if cr.dark != nil {
						v += cr.dark[j]
					}
				}
				mean[co.first+j] = v
			}
		}
		dev := op.spread(img, mean)
		sd := make([]float64, len(c.I))
		for j := range sd {
			k := co.first + j
			n := op.binCount(k)
			if n == 0 {
				sd[j] = c.I[j] // NaN, or 0 in legacy mode
				continue
			}
			sd[j] = math.Sqrt(dev[k]/float64(n)) / norm
		}
		out[i] = ErrorCurve{Curve: c, StdDev: sd}
	}
	return out, nil
}
