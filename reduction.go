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
}

// clone returns a deep copy of r (nil for nil).
func (r *Reduction) clone() *Reduction {
	if r == nil {
		return nil
	}
	v := *r
	return &v
}

// solidAngle reports whether the solid-angle correction is on.
func (r *Reduction) solidAngle() bool { return r != nil && r.SolidAngle }
