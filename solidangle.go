package saxs

import "math"

// SolidAngleFactor returns the relative solid angle of every pixel of the
// calibration's detector (row-major, Imagesize[0] × Imagesize[1]), as pyFAI
// defines it (its solidAngleArray): the solid angle the pixel subtends at
// the sample divided by that of a pixel at the point of normal incidence,
//
//	SA = cos³ α = (d·cos τ / l)³
//
// where α is the angle between the ray from the sample to the pixel centre
// and the detector normal, τ the tilt angle, d the distance from the sample
// to the beam centre along the beam and l the distance from the sample to
// the pixel centre (with tilt, l² = d² + r² + 2d·u, see detector.angles).
// The factor is 1 at the point of normal incidence (pyFAI's PONI) and
// below 1 everywhere else. With the solid-angle correction on
// (Reduction.SolidAngle), each pixel's value is divided by SA before it is
// averaged, as pyFAI's correctSolidAngle=True does. Pixels are sampled at
// their centres, or at their corners when corners is true (the earliest
// saxsdog).
func SolidAngleFactor(c *Calibration, corners bool) []float64 {
	dt := newDetector(c)
	ys, xs := dt.ys(1, !corners), dt.xs(1, !corners)
	out := make([]float64, len(ys)*len(xs))
	h := dt.d * math.Sqrt(1-dt.sinTilt*dt.sinTilt) // d·cos τ: the sample's distance from the detector plane
	for a, y := range ys {
		for b, x := range xs {
			l := dt.distance(x, y)
			c := h / l
			out[a*len(xs)+b] = c * c * c
		}
	}
	return out
}

// distance returns the distance in mm from the sample to the point (x, y),
// in pixels from the beam centre.
func (dt *detector) distance(x, y float64) float64 {
	xm, ym := x*dt.px, y*dt.px
	r2 := xm*xm + ym*ym
	u := dt.sinTilt * (xm*dt.cosRot - ym*dt.sinRot)
	return math.Sqrt(dt.d*dt.d + r2 + 2*dt.d*u)
}

// pixelCorrection returns the constant per-pixel factor folded into the
// operator weights, 1/(flat·SA·P) with flat the flat field, SA the
// relative solid angle and P the polarization factor (each 1 when its
// correction is off), or nil when no correction is on. With only the
// polarization correction on, the factors are exactly those of before the
// other corrections existed. Pixels where the flat is not positive are
// masked (the factor there is meaningless).
func pixelCorrection(c *Calibration, corners bool, flat *Image) []float64 {
	p := PolarizationFactor(c, corners)
	var sa []float64
	if c.Reduction.solidAngle() {
		sa = SolidAngleFactor(c, corners)
	}
	if flat != nil {
		if sa == nil {
			sa = make([]float64, flat.Len())
			for i := range sa {
				sa[i] = 1
			}
		}
		for i := range sa {
			sa[i] *= pixelValue(flat, i)
		}
	}
	switch {
	case p == nil && sa == nil:
		return nil
	case p == nil:
		p = sa
		sa = nil
	}
	for i, v := range p {
		if sa != nil {
			v *= sa[i]
		}
		p[i] = 1 / v
	}
	return p
}
