package saxs

// Reduction holds the reduction options of a calibration beyond the
// original saxsdog's, modelled on pyFAI's (issue 11). The zero value (and a
// nil *Reduction) gives the original's reduction, byte for byte. The
// corrections are applied in this order: dark, flat, solid angle,
// polarisation, normalisation, integration, background; the constant
// per-pixel factors (solid angle, polarisation) are folded into the
// integration operator's weights when it is built.
type Reduction struct {
	// SolidAngle turns the solid-angle correction on (off by default, as in
	// the original; pyFAI has it on): each pixel is divided by its relative
	// solid angle, see SolidAngleFactor.
	SolidAngle bool `json:"SolidAngle,omitempty" jsonschema:"default=false,description=Divide each pixel by its solid angle relative to normal incidence (cos^3 of the incidence angle with tilt; pyFAI correctSolidAngle; saxsdog --solid-angle)"`
	// Unit is the unit of the radial axis (pyFAI's names): q_nm^-1 (the
	// default), q_A^-1, 2th_deg or r_mm; see Unit. The masks' RadialBins,
	// Bins and Range are in this unit, and so are the curves' Q and the
	// first .chi column, whose label names the unit. qStart and qStop stay
	// in the mask's terms: they are compared with the radial axis as it is.
	Unit Unit `json:"Unit,omitempty" jsonschema:"enum=q_nm^-1,enum=q_A^-1,enum=2th_deg,enum=r_mm,default=q_nm^-1,description=Unit of the radial axis (saxsdog --unit)"`
	// Bins, when positive, is the number of radial bins of every curve,
	// overriding the masks' RadialBins and PixelPerRadialElement: uniform
	// in Unit on Range, or from 0 to the largest value on the detector.
	Bins int `json:"Bins,omitempty" jsonschema:"minimum=0,maximum=65000,description=Number of radial bins of every curve (saxsdog --bins)"`
	// Range, when set, is [LO, HI] of the radial bins of every curve in
	// Unit, overriding the masks' RadialBins; without Bins the bin width
	// is that of the PixelPerRadialElement rule.
	Range *[2]float64 `json:"Range,omitempty" jsonschema:"description=Radial range [LO, HI] of every curve in Unit (saxsdog --range LO:HI)"`
}

// unit returns the radial unit (UnitQnm for nil).
func (r *Reduction) unit() Unit {
	if r == nil {
		return UnitQnm
	}
	return r.Unit.orDefault()
}

// validate reports the problems of r through bad.
func (r *Reduction) validate(bad func(path, format string, args ...any), finite func(string, float64) bool) {
	if r == nil {
		return
	}
	if _, err := ParseUnit(string(r.Unit)); err != nil {
		bad("/Reduction/Unit", "%v", err)
	}
	if r.Bins < 0 || r.Bins > MaxBins {
		bad("/Reduction/Bins", "bin count must be between 0 (none) and %d, got %d", MaxBins, r.Bins)
	}
	if rg := r.Range; rg != nil && finite("/Reduction/Range/0", rg[0]) && finite("/Reduction/Range/1", rg[1]) && !(rg[0] >= 0 && rg[1] > rg[0]) {
		bad("/Reduction/Range", "need 0 <= LO < HI, got [%g, %g]", rg[0], rg[1])
	}
}

// clone returns a deep copy of r (nil for nil).
func (r *Reduction) clone() *Reduction {
	if r == nil {
		return nil
	}
	v := *r
	if r.Range != nil {
		rg := *r.Range
		v.Range = &rg
	}
	return &v
}

// solidAngle reports whether the solid-angle correction is on.
func (r *Reduction) solidAngle() bool { return r != nil && r.SolidAngle }
