package saxs

// Curve is one radial scattering curve, one row per bin.
//
// Q holds the bin centres in nm⁻¹ (or in Unit). I holds the mean polarization-corrected
// intensity of the pixels in each bin (counts per pixel) and Sigma its
// Poisson error sqrt(I/Area). Empty bins (Area 0) hold NaN in I and Sigma,
// or 0 in the legacy mode that reproduces the earliest saxsdog.
//
// Q and Area are shared by every curve the same Integrator makes for the
// same mask, and read by the Integrator: they must not be modified (copy
// them first). I and Sigma belong to the Result that holds the curve: the
// caller may modify them; integrating into the same Result again
// overwrites them.
type Curve struct {
	// Name identifies the mask the curve belongs to: Masks[i].Name, or
	// "R<i>" when the mask has no name.
	Name string
	// Q holds the bin centres in nm⁻¹, increasing. Shared with the
	// Integrator: read only.
	Q []float64
	// I holds the mean intensity of each bin. The caller's to modify.
	I []float64
	// Sigma holds the Poisson error of each bin. The caller's to modify.
	Sigma []float64
	// Area is the masked, oversampling-weighted pixel count of each bin.
	// Shared with the Integrator: read only.
	Area []float64
	// Unit is the unit of Q ("" means UnitQnm, q in nm⁻¹); see
	// Reduction.Unit. A Phi-mode curve (MaskConfig.PhiMode) has
	// UnitChiDeg: Q holds the χ bin centres in degrees.
	Unit Unit
	// Params are the integral parameters over [qStart, qStop] of the mask
	// (a copy: the caller's to modify).
	Params IntegralParameters
}

// IntegralParameters are the integrals of a curve over [qStart, qStop],
// as the original computes them: I0 = ∫I dq, I1 = ∫I q dq, I2 = ∫I q² dq,
// each a sum over bins times the bin width. NaN bins are skipped. When the
// range holds no bin (qStart = qStop = 0, the defaults, among others) all
// three are NaN, where the original wrote 0; [Integrator.Warnings] says so
// once. A Phi-mode curve I(χ) (MaskConfig.PhiMode) has none: they are NaN
// (the Python 3 fork wrote 0), without a warning.
type IntegralParameters struct {
	I0, I1, I2 float64
}

// Len returns the number of bins.
func (c *Curve) Len() int { return len(c.Q) }
