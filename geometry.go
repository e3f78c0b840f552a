package saxs

import "math"

// AngstromStar is the length in nm that the original saxsdog code uses for
// one Ångström: the CODATA "Ångström star", 1.00001495e-10 m. q in nm⁻¹ is
// 4π·sin(2θ/2)/(λ[Å]·AngstromStar).
const AngstromStar = 1.00001495e-1

// detector holds the geometry of a calibration in the form the integration
// needs: sub-pixel coordinates relative to the beam centre and the
// scattering angle of each point.
//
// Coordinates are in pixels: X grows to the right from the beam centre, Y
// grows downward (with the row index). The point of sub-pixel (a, b) on an
// ov-times oversampled grid is
//
//	Y_a = ((a·(1/ov)) − R) + b0 + off,   X_b = (b·(1/ov)) − b1 + off
//
// with off = 0.5/ov (sub-pixel centres, the original 2.0 code, which agrees
// with fit2d) or 0 (sub-pixel corners, the earliest saxsdog).
type detector struct {
	rows, cols int
	b0, b1     float64 // beam centre [y from the bottom, x from the left], pixels
	px         float64 // pixel size, mm
	d          float64 // sample-detector distance, mm
	lambda     float64 // wavelength, Å
	sinTilt    float64 // sin(tilt angle)
	cosRot     float64 // cos(tilt plane rotation)
	sinRot     float64 // sin(tilt plane rotation)
	// tilted is whether the detector is tilted; chiM is then the matrix
	// that takes (y, x) on the detector to pyFAI's laboratory coordinates
	// (t1, t2) perpendicular to the beam (see chi).
	tilted bool
	chiM   [4]float64
}

func newDetector(c *Calibration) detector {
	g := &c.Geometry
	tilt := g.Tilt.TiltAngleDeg / 180.0 * math.Pi
	rot := g.Tilt.TiltRotDeg / 180.0 * math.Pi
	dt := detector{
		rows: g.Imagesize[0], cols: g.Imagesize[1],
		b0: g.BeamCenter[0], b1: g.BeamCenter[1],
		px:      g.PixelSizeMicroM[0] * 1e-3,
		d:       g.DetectorDistanceMM,
		lambda:  c.Wavelength,
		sinTilt: math.Sin(tilt),
		cosRot:  math.Cos(rot),
		sinRot:  math.Sin(rot),
	}
	if g.Tilt.TiltAngleDeg != 0 {
		// pyFAI's rotations of this geometry (its setFit2D), and the upper
		// left 2×2 block of its rotation matrix R = R3·R2·R1.
		p := PoniFromFit2D(Fit2D{DirectDistMM: 1, TiltDeg: g.Tilt.TiltAngleDeg, TiltPlanRotDeg: -g.Tilt.TiltRotDeg,
			PixelXMicroM: 1, PixelYMicroM: 1})
		s1, c1 := math.Sincos(p.Rot1)
		s2, c2 := math.Sincos(p.Rot2)
		s3, c3 := math.Sincos(p.Rot3)
		dt.tilted = true
		dt.chiM = [4]float64{c2 * c3, c3*s1*s2 - c1*s3, c2 * s3, c1*c3 + s1*s2*s3}
	}
	return dt
}

// chi returns the azimuth χ in radians, in [−π, π], of the point (x, y) in
// pixels from the beam centre (x to the right, y down): pyFAI's chi, the
// angle around the beam axis of the scattered ray, atan2(t1, t2) with t1,
// t2 the ray's laboratory coordinates perpendicular to the beam in pyFAI's
// frame of the calibration's PONI geometry (PoniFromCalibration, which is
// pyFAI's setFit2D): (t1, t2) = R·(y, x), R the upper left 2×2 block of
// pyFAI's rotation matrix R3·R2·R1 (the beam centre is where t1 = t2 = 0,
// so the distance drops out).
//
// Untilted, R is the identity and χ = atan2(y, x), the angle on the
// detector from the direction of increasing column towards increasing row;
// it is computed as exactly that, so untilted results do not change. With a
// tilt τ, χ differs from that in-plane angle: at τ = 10° on a 100 mm
// detector reaching 2θ ≈ 30°, by −0.44° to +0.44° with TiltRotDeg 0 (χ is
// then the in-plane angle of the point's projection along the beam) and by
// −0.70° to +0.18° with TiltRotDeg −30° (where pyFAI's setFit2D Rot3 adds a
// constant); at the reference's 0.56° tilt by at most 0.002°.
func (dt *detector) chi(x, y float64) float64 {
	if !dt.tilted {
		return math.Atan2(y, x)
	}
	m := &dt.chiM
	return math.Atan2(m[0]*y+m[1]*x, m[2]*y+m[3]*x)
}

// ys returns Y_a for the rows·ov sub-pixel rows; xs returns X_b for the
// cols·ov sub-pixel columns. centred selects the half-sub-pixel offset.
func (dt *detector) ys(ov int, centred bool) []float64 {
	return axis(dt.rows*ov, ov, -float64(dt.rows), dt.b0, centred)
}

func (dt *detector) xs(ov int, centred bool) []float64 {
	return axis(dt.cols*ov, ov, -dt.b1, 0, centred)
}

// axis evaluates ((i·(1/ov)) + shift) + add (+ 0.5/ov) in the original's
// operation order, so that the coordinates are bit-identical to numpy's.
func axis(n, ov int, shift, add float64, centred bool) []float64 {
	step := 1 / float64(ov)
	off := 0.0
	if centred {
		off = 0.5 / float64(ov)
	}
	v := make([]float64, n)
	for i := range v {
		x := (float64(i)*step + shift) + add
		if centred {
			x += off
		}
		v[i] = x
	}
	return v
}

// angles returns, for the point (x, y) in pixels from the beam centre, the
// sine and cosine of the full scattering angle 2θ.
//
// The original evaluates α = asin(sin τ·sin(φ+ρ+π/2)), l² = d²+r²−2dr·cos(π/2+α)
// and 2θ = acos((l²+d²−r²)/(2ld)). Here the same quantities are written
// without trigonometry: r·sin α = px·sin τ·(x·cos ρ − y·sin ρ) =: u, so
// l² = d² + r² + 2du, cos 2θ = (d+u)/l and sin 2θ = sqrt(r²−u²)/l. This is
// better conditioned than acos near the beam (the original clamps its acos
// argument) and several times faster.
func (dt *detector) angles(x, y float64) (sin2t, cos2t float64) {
	xm, ym := x*dt.px, y*dt.px
	r2 := xm*xm + ym*ym
	u := dt.sinTilt * (xm*dt.cosRot - ym*dt.sinRot)
	w2 := r2 - u*u
	if w2 < 0 {
		w2 = 0
	}
	h := dt.d + u
	l := math.Sqrt(h*h + w2)
	return math.Sqrt(w2) / l, h / l
}

// twoTheta returns the full scattering angle 2θ in radians of the point
// (x, y), in pixels from the beam centre (x to the right, y down).
func (dt *detector) twoTheta(x, y float64) float64 {
	s, c := dt.angles(x, y)
	return math.Atan2(s, c)
}

// q returns the scattering vector length in nm⁻¹ of the point (x, y).
//
// sin(2θ/2) = sin 2θ / sqrt(2(1+cos 2θ)), which stays accurate at small
// angles; q = ((4π·sin(2θ/2))/λ)/Å* in the original's operation order.
func (dt *detector) q(x, y float64) float64 {
	s, c := dt.angles(x, y)
	half := s / math.Sqrt(2*(1+c))
	return ((4 * math.Pi * half) / dt.lambda) / AngstromStar
}

// qOfTwoTheta converts a full scattering angle to q in nm⁻¹.
func (dt *detector) qOfTwoTheta(t float64) float64 {
	return ((4 * math.Pi * math.Sin(t/2)) / dt.lambda) / AngstromStar
}

// CalcTheta returns the full scattering angle 2θ, in radians, of every
// sub-pixel of the calibration's detector at oversampling ov, in row-major
// order over (Imagesize[0]·ov) × (Imagesize[1]·ov) sub-pixels. Sub-pixels
// are sampled at their centres, as the original 2.0 code and fit2d do; with
// corners true they are sampled at their top-left corners, as the earliest
// saxsdog did. (The original's calc_theta; the name θ in the code is the
// full angle 2θ.)
func CalcTheta(c *Calibration, ov int, corners bool) []float64 {
	dt := newDetector(c)
	ys, xs := dt.ys(ov, !corners), dt.xs(ov, !corners)
	out := make([]float64, len(ys)*len(xs))
	for a, y := range ys {
		row := out[a*len(xs) : (a+1)*len(xs)]
		for b, x := range xs {
			row[b] = dt.twoTheta(x, y)
		}
	}
	return out
}

// Q returns the scattering vector length q in nm⁻¹ at the centre of pixel
// (row, col) of the calibration's detector.
func Q(c *Calibration, row, col int) float64 {
	dt := newDetector(c)
	y := ((float64(row) - float64(dt.rows)) + dt.b0) + 0.5
	x := (float64(col) - dt.b1) + 0.5
	return dt.q(x, y)
}

// maxOnPerimeter returns the largest value of f over the sub-pixel points
// on the border of the grid. Both the distance from the beam centre and the
// scattering angle are quasi-convex on the detector plane (their sub-level
// sets are discs and ellipses), so their maximum over the grid lies on its
// border (in fact at a corner); scanning the whole border costs little and
// needs no argument about which corner.
func maxOnPerimeter(ys, xs []float64, f func(x, y float64) float64) float64 {
	m := math.Inf(-1)
	upd := func(x, y float64) {
		if v := f(x, y); v > m {
			m = v
		}
	}
	for _, x := range xs {
		upd(x, ys[0])
		upd(x, ys[len(ys)-1])
	}
	for _, y := range ys {
		upd(xs[0], y)
		upd(xs[len(xs)-1], y)
	}
	return m
}
