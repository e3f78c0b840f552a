package saxs

import (
	"fmt"
	"math"
)

// Unit is the unit of the radial axis of a curve, named as in pyFAI.
type Unit string

// The radial units. The empty Unit means UnitQnm.
const (
	// UnitQnm is q in nm⁻¹ (the default, the original's), computed with
	// the original's Ångström star (see AngstromStar).
	UnitQnm Unit = "q_nm^-1"
	// UnitQA is q in Å⁻¹: q in nm⁻¹ divided by 10, the same axis in the
	// other unit.
	UnitQA Unit = "q_A^-1"
	// UnitTwoThetaDeg is the scattering angle 2θ in degrees.
	UnitTwoThetaDeg Unit = "2th_deg"
	// UnitRmm is the distance in mm of the pixel from the direct beam
	// axis, l·sin 2θ with l the distance from the sample, as pyFAI's r_mm
	// (with tilt this differs from the distance on the detector plane).
	UnitRmm Unit = "r_mm"
)

// UnitChiDeg is the unit of the first column of a Phi-mode curve
// (MaskConfig.PhiMode): the azimuth χ in degrees, pyFAI's chi_deg. It is
// not a radial unit: Reduction.Unit does not take it.
const UnitChiDeg Unit = "chi_deg"

// Units lists the radial units.
var Units = []Unit{UnitQnm, UnitQA, UnitTwoThetaDeg, UnitRmm}

// ParseUnit returns the unit named s; "" gives UnitQnm.
func ParseUnit(s string) (Unit, error) {
	if s == "" {
		return UnitQnm, nil
	}
	for _, u := range Units {
		if string(u) == s {
			return u, nil
		}
	}
	return "", fmt.Errorf("unknown radial unit %q (want q_nm^-1, q_A^-1, 2th_deg or r_mm)", s)
}

// orDefault returns u, or UnitQnm for "".
func (u Unit) orDefault() Unit {
	if u == "" {
		return UnitQnm
	}
	return u
}

// chiLabel returns the label of the radial column of a .chi file (line 3),
// as it appears inside the JSON string there: the original's for q in
// nm⁻¹.
func (u Unit) chiLabel() string {
	switch u.orDefault() {
	case UnitQA:
		return "Scattering Vector  q [$\\\\AA^{-1}$]"
	case UnitTwoThetaDeg:
		return "Scattering Angle  2theta [deg]"
	case UnitRmm:
		return "Radius  r [mm]"
	case UnitChiDeg:
		return "Azimuthal Angle  chi [deg]"
	}
	return "Scattering Vector  q [$nm^{-1}$]"
}

// radial returns the radial coordinate of the point (x, y), in pixels from
// the beam centre, in unit u.
func (dt *detector) radial(u Unit, x, y float64) float64 {
	switch u {
	case UnitQA:
		return dt.q(x, y) / 10
	case UnitTwoThetaDeg:
		return dt.twoTheta(x, y) * (180 / math.Pi)
	case UnitRmm:
		s, _ := dt.angles(x, y)
		return s * dt.distance(x, y)
	}
	return dt.q(x, y)
}
