package saxs

import "math"

// PolarizationFactor returns the polarization factor P of every pixel of
// the calibration's detector (row-major, Imagesize[0] × Imagesize[1]), or
// nil when the calibration has no PolarizationCorrection. The corrected
// intensity of a pixel is its value divided by P:
//
//	ρ = Angle·π/180 − π/2
//	P = F·(1 − (sin(φ−ρ)·sin 2θ)²) + (1−F)·(1 − (cos(φ−ρ)·sin 2θ)²)
//
// with F = Fraction, φ the azimuth of the pixel centre on the displayed
// image (0 to the right, growing clockwise) and 2θ its scattering angle.
// With Angle 0 and F = 1 the intensity is suppressed most along the
// horizontal, i.e. the beam is polarized horizontally. Pixels are sampled at
// their centres, or at their corners when corners is true (the earliest
// saxsdog).
func PolarizationFactor(c *Calibration, corners bool) []float64 {
	pc := c.PolarizationCorrection
	if pc == nil {
		return nil
	}
	dt := newDetector(c)
	ys, xs := dt.ys(1, !corners), dt.xs(1, !corners)
	rho := pc.Angle/180.0*math.Pi - math.Pi/2
	f := pc.Fraction
	out := make([]float64, len(ys)*len(xs))
	for a, y := range ys {
		for b, x := range xs {
			s2t, _ := dt.angles(x, y)
			sp, cp := math.Sincos(math.Atan2(y, x) - rho)
			ps, pcs := sp*s2t, cp*s2t
			out[a*len(xs)+b] = f*(1-ps*ps) + (1-f)*(1-pcs*pcs)
		}
	}
	return out
}
