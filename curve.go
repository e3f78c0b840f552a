package saxs

// Curve is one radial scattering curve, one row per bin.
//
// Q holds the bin centres in nm⁻¹. I holds the mean polarization-corrected
// intensity of the pixels in each bin (counts per pixel) and Sigma its
// Poisson error sqrt(I/Area). Empty bins (Area 0) hold NaN in I and Sigma,
// or 0 in the legacy mode that reproduces the earliest saxsdog.
type Curve struct {
	// Name identifies the mask the curve belongs to: Masks[i].Name, or
	// "R<i>" when the mask has no name.
	Name  string
	Q     []float64
	I     []float64
	Sigma []float64
	// Area is the masked, oversampling-weighted pixel count of each bin. It
	// is shared with the Integrator that made the curve and must not be
	// modified.
	Area []float64
	// Params are the integral parameters over [qStart, qStop] of the mask.
	Params IntegralParameters
}

// IntegralParameters are the integrals of a curve over [qStart, qStop]
// (spec §3.3): I0 = ∫I dq, I1 = ∫I q dq, I2 = ∫I q² dq, each a sum over bins
// times the bin width. NaN bins are skipped.
type IntegralParameters struct {
	I0, I1, I2 float64
}

// Len returns the number of bins.
func (c *Curve) Len() int { return len(c.Q) }
