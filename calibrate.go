package saxs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Errors of [Calibrate] that callers branch on (with errors.Is); the
// returned error is a *[CalibrateError] that wraps one of them and says
// more.
var (
	// ErrNoRings: the frame shows no calibrant rings that could be
	// assigned (no valid pixels, no peaks, peaks that match no calibrant
	// ring at this wavelength and pixel size).
	ErrNoRings = errors.New("no calibrant rings found")
	// ErrNotConverged: the least-squares refinement did not converge or
	// its result does not describe the rings (residuals too large).
	ErrNotConverged = errors.New("the geometry fit did not converge")
)

// CalibrateError is the error of [Calibrate]: the stage that failed, why,
// and the cause (ErrNoRings, ErrNotConverged, a context error, or a bad
// option).
type CalibrateError struct {
	Stage string // "options", "centre", "rings", "fit"
	Msg   string
	Err   error
}

// Error formats the error as "saxs: calibrate: stage: message".
func (e *CalibrateError) Error() string {
	s := "saxs: calibrate: " + e.Stage + ": "
	switch {
	case e.Msg != "" && e.Err != nil:
		return s + e.Err.Error() + ": " + e.Msg
	case e.Msg != "":
		return s + e.Msg
	}
	return s + e.Err.Error()
}

// Unwrap returns the cause.
func (e *CalibrateError) Unwrap() error { return e.Err }

// CalibrateStart is what is known of the geometry before the fit; zero
// values mean unknown.
type CalibrateStart struct {
	// DistanceMM is the sample-detector distance, mm (0: found from the
	// rings; given, the ring assignment stays within ±25 % of it).
	DistanceMM float64
	// BeamCenter is [y from the bottom, x from the left] in pixels, as
	// [Geometry.BeamCenter]; used when HasCenter is set (otherwise the
	// centre is found from the rings' symmetry).
	BeamCenter [2]float64
	// HasCenter tells that BeamCenter is given.
	HasCenter bool
}

// CalibrateOptions configure [Calibrate].
type CalibrateOptions struct {
	// Calibrant gives the d-spacings (required): see [Calibrants],
	// [CalibrantByName], [ReadCalibrantFile].
	Calibrant *Calibrant
	// Wavelength in Å (required).
	Wavelength float64
	// PixelSize in µm (required; square pixels).
	PixelSize float64
	// Mask excludes pixels (true = masked); nil: none. Pixels below 0
	// (Pilatus gaps -1, bad pixels -2), NaN and ±Inf are excluded always,
	// and isolated hot pixels are found and excluded.
	Mask *Mask
	// Start holds what is known of the geometry.
	Start CalibrateStart
	// RefineWavelength also refines the wavelength (only meaningful with
	// rings at wide angles: at small angles it is degenerate with the
	// distance).
	RefineWavelength bool
}

// ControlPoint is a point on a calibrant ring found in the frame.
type ControlPoint struct {
	// Row, Col are the point's position in pixel index coordinates: the
	// centre of pixel (i, j) is Row = i, Col = j (pyFAI's convention;
	// row 0 is the first stored row).
	Row, Col float64
	// Ring is the index of the ring's spacing in the calibrant's D.
	Ring int
}

// RingFit is the fit of one calibrant ring.
type RingFit struct {
	// Ring is the index of the spacing in the calibrant's D; D is the
	// spacing in Å.
	Ring int
	D    float64
	// TwoThetaDeg is the ring's 2θ at the fitted wavelength, degrees.
	TwoThetaDeg float64
	// Points is the number of control points on the ring.
	Points int
	// RMSDeg is the root-mean-square of the points' Δ2θ in degrees.
	RMSDeg float64
}

// GeometryUncertainty holds one standard deviation of each refined value
// (from the covariance of the fit, scaled by the residual variance); NaN
// where undefined (the tilt plane rotation at zero tilt), 0 for values not
// refined.
type GeometryUncertainty struct {
	DistanceMM   float64
	BeamCenter   [2]float64
	TiltAngleDeg float64
	TiltRotDeg   float64
	Wavelength   float64
}

// CalibrationResult is the geometry found by [Calibrate].
type CalibrationResult struct {
	// Geometry is the refined geometry in the project's convention
	// (fit2d tilt, BeamCenter [y from the bottom, x]); Imagesize is the
	// frame's, PixelSizeMicroM the option's. The tilt angle is ≥ 0 and
	// the tilt plane rotation in (−180°, 180°].
	Geometry Geometry
	// Wavelength is the option's, or the refined one.
	Wavelength float64
	// Sigma holds the standard deviations of the refined values.
	Sigma GeometryUncertainty
	// Rings holds the fitted rings, by increasing 2θ.
	Rings []RingFit
	// Points holds the control points used in the final fit.
	Points []ControlPoint
	// RMSDeg is the root-mean-square Δ2θ over all points, degrees.
	RMSDeg float64
	// Iterations counts the refinement steps (Levenberg–Marquardt
	// iterations over all rounds).
	Iterations int
}

// ApplyTo sets the geometry and wavelength of c from the result; the rest
// of c (masks, options) is kept.
func (r *CalibrationResult) ApplyTo(c *Calibration) {
	g := r.Geometry
	g.PixelSizeMicroM = slices.Clone(r.Geometry.PixelSizeMicroM)
	c.Geometry = g
	c.Wavelength = r.Wavelength
}

// calibFrame is the frame prepared for the calibration: values and
// validity.
type calibFrame struct {
	rows, cols int
	v          []float64
	ok         []bool
	nValid     int
}

// model is the geometry being fitted: the detector with the tilt as the
// vector (tx, ty) = sin τ·(cos ρ, sin ρ), which has no singularity at
// zero tilt.
type model struct {
	d, b0, b1, tx, ty, lambda float64
	rows                      int
	px                        float64 // mm
}

func (m *model) detector() detector {
	s := math.Hypot(m.tx, m.ty)
	c, sn := 1.0, 0.0
	if s > 0 {
		c, sn = m.tx/s, m.ty/s
	}
	return detector{b0: m.b0, b1: m.b1, px: m.px, d: m.d, lambda: m.lambda, sinTilt: s, cosRot: c, sinRot: sn}
}

// xy returns the detector coordinates (from the beam centre, x right,
// y down) of the pixel index position (row, col).
func (m *model) xy(row, col float64) (x, y float64) {
	return col + 0.5 - m.b1, row + 0.5 - float64(m.rows) + m.b0
}

// rowCol is the inverse of xy.
func (m *model) rowCol(x, y float64) (row, col float64) {
	return y - 0.5 + float64(m.rows) - m.b0, x - 0.5 + m.b1
}

// Calibrate finds the detector geometry from a frame of a calibrant: the
// beam centre (from the symmetry of the rings, unless Start gives it), the
// distance and the rings' orders (from the radial profile, matched to the
// calibrant's spacings), then control points along each ring (sub-pixel
// peak positions in narrow azimuthal sectors) and a least-squares
// refinement of distance, beam centre, tilt and tilt plane rotation (and
// the wavelength with RefineWavelength) on the rings' 2θ, in three rounds
// with narrowing windows. It returns an error wrapping [ErrNoRings] or
// [ErrNotConverged] rather than a doubtful geometry; ctx ends it early.
func Calibrate(ctx context.Context, img *Image, o CalibrateOptions) (*CalibrationResult, error) {
	fail := func(stage string, err error, format string, a ...any) error {
		return &CalibrateError{Stage: stage, Err: err, Msg: fmt.Sprintf(format, a...)}
	}
	switch {
	case img == nil || img.Rows < 8 || img.Cols < 8:
		return nil, fail("options", nil, "need a frame of at least 8×8 pixels")
	case img.check(img.Rows, img.Cols) != nil:
		return nil, fail("options", img.check(img.Rows, img.Cols), "")
	case o.Calibrant == nil || len(o.Calibrant.D) == 0:
		return nil, fail("options", nil, "no calibrant")
	case !(o.Wavelength >= MinWavelength && o.Wavelength <= MaxWavelength):
		return nil, fail("options", nil, "Wavelength %g Å out of range [%g, %g]", o.Wavelength, MinWavelength, MaxWavelength)
	case !(o.PixelSize >= MinPixelMicroM && o.PixelSize <= MaxPixelMicroM):
		return nil, fail("options", nil, "PixelSize %g µm out of range [%g, %g]", o.PixelSize, MinPixelMicroM, MaxPixelMicroM)
	case o.Mask != nil && (o.Mask.Rows != img.Rows || o.Mask.Cols != img.Cols || len(o.Mask.Masked) != img.Len()):
		return nil, fail("options", &SizeError{What: "mask", Rows: o.Mask.Rows, Cols: o.Mask.Cols, WantRows: img.Rows, WantCols: img.Cols}, "")
	case o.Start.DistanceMM != 0 && !(o.Start.DistanceMM >= MinDistanceMM && o.Start.DistanceMM <= MaxDistanceMM):
		return nil, fail("options", nil, "Start.DistanceMM %g out of range", o.Start.DistanceMM)
	case o.Start.HasCenter && !(math.Abs(o.Start.BeamCenter[0]) <= MaxBeamCenter && math.Abs(o.Start.BeamCenter[1]) <= MaxBeamCenter):
		return nil, fail("options", nil, "Start.BeamCenter %v out of range", o.Start.BeamCenter)
	}
	tth := o.Calibrant.TwoTheta(o.Wavelength)
	if len(tth) == 0 {
		return nil, fail("rings", ErrNoRings, "at %g Å no spacing of %s scatters (λ > 2·d for d = %g Å)", o.Wavelength, o.Calibrant.Name, o.Calibrant.D[0])
	}
	f := prepareFrame(img, o.Mask)
	if f.nValid < 100 {
		return nil, fail("rings", ErrNoRings, "only %d valid pixels (masked, negative, NaN or hot)", f.nValid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fail("centre", err, "")
	}
	px := o.PixelSize * 1e-3
	m := model{rows: f.rows, px: px, lambda: o.Wavelength}
	// Beam centre, in pixel index coordinates (row, col).
	var cr, cc float64
	if o.Start.HasCenter {
		cr, cc = float64(f.rows)-o.Start.BeamCenter[0]-0.5, o.Start.BeamCenter[1]-0.5
	} else {
		var err error
		cr, cc, err = f.houghCentre(ctx)
		if err != nil {
			return nil, err
		}
	}
	m.b0, m.b1 = float64(f.rows)-cr-0.5, cc+0.5
	prof := f.radialProfile(cr, cc)
	peaks := prof.peaks()
	if len(peaks) == 0 {
		return nil, fail("rings", ErrNoRings, "no peaks in the radial profile about the centre (row %.1f, column %.1f)", cr, cc)
	}
	d, assigned := assignRings(peaks, tth, px, o.Start.DistanceMM, prof)
	if d == 0 {
		return nil, fail("rings", ErrNoRings, "%d peaks in the radial profile (radii %s px) match no ring pattern of %s at %g Å and %g µm pixels",
			len(peaks), peakList(peaks), o.Calibrant.Name, o.Wavelength, o.PixelSize)
	}
	m.d = d
	res := &CalibrationResult{}
	// Three rounds: the rings assigned from the profile with wide windows
	// and without tilt, then every ring on the detector, then narrow
	// windows.
	type round struct {
		all           bool
		winFrac, winP float64
		tilt          bool
	}
	rounds := []round{{false, 0.03, 8, false}, {false, 0.02, 6, true}, {true, 0.01, 5, true}, {true, 0, 4, true}}
	var pts []ControlPoint
	var fit fitOutcome
	for k, rd := range rounds {
		if err := ctx.Err(); err != nil {
			return nil, fail("fit", err, "")
		}
		tth = o.Calibrant.TwoTheta(m.lambda)
		rings := assigned
		if rd.all {
			rings = m.ringsOnDetector(f, tth)
		}
		pts = f.controlPoints(&m, tth, rings, rd.winFrac, rd.winP)
		if err := ctx.Err(); err != nil {
			return nil, fail("fit", err, "")
		}
		nr := countRings(pts)
		if len(pts) < 12 || nr == 0 || nr < 2 && o.Start.DistanceMM == 0 {
			return nil, fail("rings", ErrNoRings, "only %d control points on %d rings (round %d)", len(pts), nr, k+1)
		}
		var err error
		fit, err = refine(ctx, &m, pts, o.Calibrant.D, rd.tilt, o.RefineWavelength && rd.all)
		res.Iterations += fit.iter
		if err != nil {
			return nil, fail("fit", err, "")
		}
		if !fit.converged {
			return nil, fail("fit", ErrNotConverged, "no convergence in round %d after %d iterations", k+1, fit.iter)
		}
		if !(m.d > 0) || math.Hypot(m.tx, m.ty) > math.Sin(60*math.Pi/180) {
			return nil, fail("fit", ErrNotConverged, "round %d went to an unphysical geometry (distance %g mm, tilt %.1f°)", k+1, m.d, math.Asin(min(1, math.Hypot(m.tx, m.ty)))*180/math.Pi)
		}
		pts = fit.points
	}
	if fit.rmsPx > 1.5 {
		return nil, fail("fit", ErrNotConverged, "the control points are %.2f px (RMS) off the fitted rings: wrong calibrant, wavelength or pixel size?", fit.rmsPx)
	}
	if msg := m.inconsistency(f, pts, o.Calibrant.TwoTheta(m.lambda), peaks); msg != "" {
		return nil, fail("fit", ErrNotConverged, "%s: wrong calibrant, wavelength, pixel size or distance?", msg)
	}
	// Residuals that follow a smooth pattern along the rings, well above
	// the points' scatter, are a pattern the geometry cannot fit: the
	// wrong wavelength or calibrant at wide angles. (Noise gives a ratio
	// near 1; the real agbeh2_1M.tif 0.36; LaB6 at 0.5 Å fitted with
	// 0.625 Å 0.13.)
	if eta := residualSmoothness(&m, pts, o.Calibrant.D); eta < 0.2 && fit.rmsPx > 0.1 {
		return nil, fail("fit", ErrNotConverged, "the residuals (%.2f px RMS) follow a smooth pattern along the rings (von Neumann ratio %.2f < 0.2): wrong wavelength or calibrant?", fit.rmsPx, eta)
	}
	res.fill(&m, f, pts, o, fit)
	return res, nil
}

// residualSmoothness returns von Neumann's ratio of the fit's residuals
// taken along each ring by azimuth: Σ(r_i − r_{i−1})² / (2 Σ r_i²), about
// 1 for residuals that are noise, much less than 1 when they follow a
// smooth pattern the model cannot fit.
func residualSmoothness(m *model, pts []ControlPoint, dsp []float64) float64 {
	dt := m.detector()
	type pr struct{ phi, r float64 }
	by := map[int][]pr{}
	for _, p := range pts {
		x, y := m.xy(p.Row, p.Col)
		t := 2 * math.Asin(math.Min(1, m.lambda/(2*dsp[p.Ring])))
		by[p.Ring] = append(by[p.Ring], pr{math.Atan2(y, x), dt.twoTheta(x, y) - t})
	}
	num, den := 0.0, 0.0
	for _, v := range by {
		sort.Slice(v, func(i, j int) bool { return v[i].phi < v[j].phi })
		for i := range v {
			den += v[i].r * v[i].r
			if i > 0 {
				d := v[i].r - v[i-1].r
				num += d * d
			}
		}
	}
	if den == 0 {
		return 1
	}
	return num / (2 * den)
}

// inconsistency checks the fitted rings against the frame: the
// calibrant's rings between the innermost and the outermost ring found
// must mostly be found too, and the radial profile's strong peaks inside
// the outermost ring must mostly be calibrant rings. Otherwise the fit
// explains part of the frame with the wrong pattern (a harmonic subset
// of the rings, a multiple of the distance); it says which.
func (m *model) inconsistency(f *calibFrame, pts []ControlPoint, tth []float64, peaks []peak) string {
	n := map[int]int{}
	for _, p := range pts {
		n[p.Ring]++
	}
	var found []int
	for j, c := range n {
		if c >= 5 {
			found = append(found, j)
		}
	}
	if len(found) == 0 {
		return "no ring has 5 control points"
	}
	slices.Sort(found)
	lo, hi := found[0], found[len(found)-1]
	between, missing := 0, 0
	for _, j := range m.ringsOnDetector(f, tth) {
		if j <= lo || j >= hi {
			continue
		}
		between++
		if n[j] < 5 {
			missing++
		}
	}
	if between >= 2 && 2*missing > between {
		return fmt.Sprintf("%d of the %d calibrant rings between the rings found show no peak", missing, between)
	}
	unexplained := 0
	tmax := tth[hi]
	for _, pk := range peaks {
		if pk.strength < 10 {
			continue
		}
		t := math.Atan(pk.r * m.px / m.d)
		if t > tmax*1.02 {
			continue
		}
		tol := (3 + 0.02*pk.r) * m.px / m.d
		ok := false
		for _, tj := range tth {
			if math.Abs(tj-t) < tol {
				ok = true
				break
			}
		}
		if !ok {
			unexplained++
		}
	}
	if unexplained >= 2 && 2*unexplained > len(found) {
		return fmt.Sprintf("%d strong peaks of the radial profile are no ring of the fitted geometry", unexplained)
	}
	return ""
}

// fill sets the result from the final model and points.
func (res *CalibrationResult) fill(m *model, f *calibFrame, pts []ControlPoint, o CalibrateOptions, fit fitOutcome) {
	s := math.Hypot(m.tx, m.ty)
	tilt := math.Asin(min(1, s)) * 180 / math.Pi
	rot := math.Atan2(m.ty, m.tx) * 180 / math.Pi
	if s == 0 {
		rot = 0
	}
	res.Geometry = Geometry{
		Tilt:               Tilt{TiltAngleDeg: tilt, TiltRotDeg: rot},
		BeamCenter:         [2]float64{m.b0, m.b1},
		DetectorDistanceMM: m.d,
		Imagesize:          [2]int{f.rows, f.cols},
		PixelSizeMicroM:    []float64{o.PixelSize},
	}
	res.Wavelength = m.lambda
	res.Points = pts
	// Uncertainties: cov = s²·(JᵀJ)⁻¹ over the refined parameters (d, b0,
	// b1, tx, ty[, λ]); tilt and rotation by the Jacobian of (tx, ty) ↦
	// (asin|t|, atan2).
	u := GeometryUncertainty{TiltRotDeg: math.NaN()}
	if c := fit.cov; c != nil {
		np := fit.nParams
		sd := func(i int) float64 { return math.Sqrt(math.Max(c[i*np+i], 0)) }
		u.DistanceMM, u.BeamCenter = sd(0), [2]float64{sd(1), sd(2)}
		if np > 5 {
			u.Wavelength = sd(5)
		}
		if s > 0 {
			cosT := math.Sqrt(math.Max(1-s*s, 1e-300))
			gt := [2]float64{m.tx / (s * cosT), m.ty / (s * cosT)}
			gr := [2]float64{-m.ty / (s * s), m.tx / (s * s)}
			q := func(g [2]float64) float64 {
				v := g[0]*g[0]*c[3*np+3] + 2*g[0]*g[1]*c[3*np+4] + g[1]*g[1]*c[4*np+4]
				return math.Sqrt(math.Max(v, 0)) * 180 / math.Pi
			}
			u.TiltAngleDeg, u.TiltRotDeg = q(gt), q(gr)
		} else {
			u.TiltAngleDeg = math.Sqrt(math.Max(c[3*np+3], 0)) * 180 / math.Pi
		}
	}
	res.Sigma = u
	// Per-ring residuals.
	dt := m.detector()
	type acc struct {
		n  int
		s2 float64
	}
	per := map[int]*acc{}
	tot := 0.0
	tthNow := o.Calibrant.TwoTheta(m.lambda)
	for _, p := range pts {
		x, y := m.xy(p.Row, p.Col)
		r := dt.twoTheta(x, y) - tthNow[p.Ring]
		a := per[p.Ring]
		if a == nil {
			a = &acc{}
			per[p.Ring] = a
		}
		a.n++
		a.s2 += r * r
		tot += r * r
	}
	for ring, a := range per {
		res.Rings = append(res.Rings, RingFit{Ring: ring, D: o.Calibrant.D[ring], TwoThetaDeg: tthNow[ring] * 180 / math.Pi,
			Points: a.n, RMSDeg: math.Sqrt(a.s2/float64(a.n)) * 180 / math.Pi})
	}
	sort.Slice(res.Rings, func(i, j int) bool { return res.Rings[i].Ring < res.Rings[j].Ring })
	res.RMSDeg = math.Sqrt(tot/float64(len(pts))) * 180 / math.Pi
}

func countRings(pts []ControlPoint) int {
	seen := map[int]bool{}
	for _, p := range pts {
		seen[p.Ring] = true
	}
	return len(seen)
}

// prepareFrame copies the frame's values and marks the valid pixels: not
// masked, finite, ≥ 0, and not a hot pixel (more than 3 times plus 10
// counts above the second brightest of its 8 neighbours: a ring pixel
// has neighbours along the ring about as bright).
func prepareFrame(img *Image, mask *Mask) *calibFrame {
	f := &calibFrame{rows: img.Rows, cols: img.Cols, v: make([]float64, img.Len()), ok: make([]bool, img.Len())}
	for i := range f.v {
		var v float64
		if img.Counts != nil {
			v = float64(img.Counts[i])
		} else {
			v = img.Values[i]
		}
		f.v[i] = v
		f.ok[i] = v >= 0 && !math.IsInf(v, 0) && (mask == nil || !mask.Masked[i])
	}
	hot := make([]int, 0, 64)
	for r := range f.rows {
		for c := range f.cols {
			i := r*f.cols + c
			if !f.ok[i] {
				continue
			}
			v := f.v[i]
			var m1, m2 float64 = -1, -1
			for dr := -1; dr <= 1; dr++ {
				for dc := -1; dc <= 1; dc++ {
					rr, cc := r+dr, c+dc
					if dr == 0 && dc == 0 || rr < 0 || cc < 0 || rr >= f.rows || cc >= f.cols || !f.ok[rr*f.cols+cc] {
						continue
					}
					w := f.v[rr*f.cols+cc]
					if w > m1 {
						m1, m2 = w, m1
					} else if w > m2 {
						m2 = w
					}
				}
			}
			if m2 >= 0 && v > 3*m2+10+5*math.Sqrt(m2) {
				hot = append(hot, i)
			}
		}
	}
	for _, i := range hot {
		f.ok[i] = false
	}
	for _, ok := range f.ok {
		if ok {
			f.nValid++
		}
	}
	return f
}

// houghCentre finds the common centre of the rings: every pixel with a
// strong gradient of the smoothed log image votes along the line of its
// gradient (rings' gradients point to their centre); the line
// intersection nearest the vote maximum, by least squares, is the
// centre. It returns the centre in pixel index coordinates.
func (f *calibFrame) houghCentre(ctx context.Context) (row, col float64, err error) {
	rows, cols := f.rows, f.cols
	// Normalised Gaussian smoothing (σ 1.5 px) of log(1+v) over the valid
	// pixels.
	lv := make([]float64, len(f.v))
	w := make([]float64, len(f.v))
	for i, ok := range f.ok {
		if ok {
			lv[i] = math.Log1p(f.v[i])
			w[i] = 1
		}
	}
	sm := gaussBlur(lv, rows, cols, 1.5)
	sw := gaussBlur(w, rows, cols, 1.5)
	for i := range sm {
		if sw[i] > 0.5 {
			sm[i] /= sw[i]
		} else {
			sm[i] = math.NaN()
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, &CalibrateError{Stage: "centre", Err: err}
	}
	type vote struct{ r, c, gr, gc, mag float64 }
	var votes []vote
	for r := 1; r < rows-1; r++ {
		for c := 1; c < cols-1; c++ {
			i := r*cols + c
			if sw[i] < 0.95 {
				continue
			}
			a, b, cc := sm[i-cols-1], sm[i-cols], sm[i-cols+1]
			d, e := sm[i-1], sm[i+1]
			g, h, k := sm[i+cols-1], sm[i+cols], sm[i+cols+1]
			gr := (g + 2*h + k) - (a + 2*b + cc)
			gc := (cc + 2*e + k) - (a + 2*d + g)
			mag := math.Hypot(gr, gc)
			if mag > 0 && !math.IsNaN(mag) {
				votes = append(votes, vote{float64(r), float64(c), gr / mag, gc / mag, mag})
			}
		}
	}
	if len(votes) < 50 {
		return 0, 0, &CalibrateError{Stage: "centre", Err: ErrNoRings, Msg: "the frame has no structure (no gradients)"}
	}
	mags := make([]float64, len(votes))
	for i, v := range votes {
		mags[i] = v.mag
	}
	slices.Sort(mags)
	thr := mags[len(mags)*95/100]
	if thr <= 0 {
		return 0, 0, &CalibrateError{Stage: "centre", Err: ErrNoRings, Msg: "the frame has no structure (flat)"}
	}
	sel := votes[:0]
	for _, v := range votes {
		if v.mag >= thr {
			sel = append(sel, v)
		}
	}
	if len(sel) > 40000 {
		stride := float64(len(sel)) / 40000
		k := 0
		for x := 0.0; int(x) < len(sel); x += stride {
			sel[k] = sel[int(x)]
			k++
		}
		sel = sel[:k]
	}
	// The accumulator covers the detector and one detector size around.
	ext := max(rows, cols)
	cell := max(1.0, float64(ext)/400)
	r0, c0 := -float64(ext), -float64(ext)
	nr, nc := int(float64(rows+2*ext)/cell)+1, int(float64(cols+2*ext)/cell)+1
	acc := make([]float32, nr*nc)
	for n, v := range sel {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, 0, &CalibrateError{Stage: "centre", Err: err}
			}
		}
		// Walk the line (v.r, v.c) + s·(gr, gc) in steps of one cell.
		pr, pc := (v.r-r0)/cell, (v.c-c0)/cell
		for _, sgn := range [2]float64{1, -1} {
			dr, dc := sgn*v.gr, sgn*v.gc
			for s := 1.0; ; s++ {
				ir, ic := int(pr+s*dr), int(pc+s*dc)
				if ir < 0 || ic < 0 || ir >= nr || ic >= nc {
					break
				}
				acc[ir*nc+ic]++
			}
		}
	}
	best, bi := float32(-1), 0
	for i := range acc {
		ir, ic := i/nc, i%nc
		if ir == 0 || ic == 0 || ir == nr-1 || ic == nc-1 {
			continue
		}
		s := acc[i] + 0.5*(acc[i-1]+acc[i+1]+acc[i-nc]+acc[i+nc])
		if s > best {
			best, bi = s, i
		}
	}
	row = r0 + (float64(bi/nc)+0.5)*cell
	col = c0 + (float64(bi%nc)+0.5)*cell
	// Least-squares intersection of the lines passing near the peak, with
	// a shrinking radius.
	for _, rad := range []float64{4 * cell, 2 * cell, 3, 1.5} {
		var a11, a12, a22, b1, b2 float64
		n := 0
		for _, v := range sel {
			// Normal of the line: (−gc, gr).
			nr, nc := -v.gc, v.gr
			dist := nr*(row-v.r) + nc*(col-v.c)
			if math.Abs(dist) > rad {
				continue
			}
			n++
			a11 += nr * nr
			a12 += nr * nc
			a22 += nc * nc
			k := nr*v.r + nc*v.c
			b1 += nr * k
			b2 += nc * k
		}
		det := a11*a22 - a12*a12
		if n < 20 || math.Abs(det) < 1e-9*float64(n*n) {
			break
		}
		row, col = (a22*b1-a12*b2)/det, (a11*b2-a12*b1)/det
	}
	return row, col, nil
}

// gaussBlur returns the separable Gaussian blur (σ in pixels, radius 3σ,
// zero outside) of the rows×cols image v.
func gaussBlur(v []float64, rows, cols int, sigma float64) []float64 {
	rad := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*rad+1)
	for i := range k {
		x := float64(i - rad)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
	}
	s := 0.0
	for _, x := range k {
		s += x
	}
	for i := range k {
		k[i] /= s
	}
	tmp := make([]float64, len(v))
	for r := range rows {
		row := v[r*cols : (r+1)*cols]
		out := tmp[r*cols : (r+1)*cols]
		for c := range cols {
			a := 0.0
			for j, kj := range k {
				cc := c + j - rad
				if cc >= 0 && cc < cols {
					a += kj * row[cc]
				}
			}
			out[c] = a
		}
	}
	out := make([]float64, len(v))
	for r := range rows {
		for j, kj := range k {
			rr := r + j - rad
			if rr < 0 || rr >= rows {
				continue
			}
			src := tmp[rr*cols : (rr+1)*cols]
			dst := out[r*cols : (r+1)*cols]
			for c := range dst {
				dst[c] += kj * src[c]
			}
		}
	}
	return out
}

// profile is a radial profile in 1-pixel bins of the distance from a
// centre.
type profile struct {
	mean []float64
	n    []int
}

func (f *calibFrame) radialProfile(cr, cc float64) profile {
	dmax := 0.0
	for _, p := range [4][2]float64{{0, 0}, {0, float64(f.cols)}, {float64(f.rows), 0}, {float64(f.rows), float64(f.cols)}} {
		dmax = max(dmax, math.Hypot(p[0]-cr, p[1]-cc))
	}
	nb := int(dmax) + 2
	p := profile{mean: make([]float64, nb), n: make([]int, nb)}
	for r := range f.rows {
		dr := float64(r) - cr
		for c := range f.cols {
			i := r*f.cols + c
			if !f.ok[i] {
				continue
			}
			b := int(math.Hypot(dr, float64(c)-cc))
			p.mean[b] += f.v[i]
			p.n[b]++
		}
	}
	for b := range p.mean {
		if p.n[b] > 0 {
			p.mean[b] /= float64(p.n[b])
		}
	}
	return p
}

// peak is a peak of the radial profile.
type peak struct {
	r        float64 // radius, px (sub-bin)
	strength float64 // prominence over its noise
}

func peakList(ps []peak) string {
	s := ""
	for i, p := range ps {
		if i == 8 {
			s += ", …"
			break
		}
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.0f", p.r)
	}
	return s
}

// peaks returns the significant local maxima of the profile: prominence
// over the lower of the minima within 25 bins on either side above 6
// times the noise (Poisson of the mean, or the scatter of the profile's
// second differences, whichever is larger).
func (p profile) peaks() []peak {
	nb := len(p.mean)
	// Noise of the profile from its second differences (robust).
	var d2 []float64
	for b := 1; b < nb-1; b++ {
		if p.n[b-1] > 0 && p.n[b] > 0 && p.n[b+1] > 0 {
			d2 = append(d2, math.Abs(p.mean[b-1]-2*p.mean[b]+p.mean[b+1]))
		}
	}
	if len(d2) < 10 {
		return nil
	}
	slices.Sort(d2)
	mad := d2[len(d2)/2] * 1.4826 / math.Sqrt(6)
	const w = 25
	var out []peak
	for b := 2; b < nb-2; b++ {
		if p.n[b] < 5 {
			continue
		}
		v := p.mean[b]
		isMax := true
		for k := b - 2; k <= b+2; k++ {
			if k != b && p.n[k] > 0 && (p.mean[k] > v || p.mean[k] == v && k < b) {
				isMax = false
			}
		}
		if !isMax {
			continue
		}
		lo, hi := v, v
		okL, okR := false, false
		for k := b - 1; k >= max(0, b-w); k-- {
			if p.n[k] == 0 {
				continue
			}
			if p.mean[k] > v {
				break
			}
			lo = min(lo, p.mean[k])
			okL = true
		}
		for k := b + 1; k <= min(nb-1, b+w); k++ {
			if p.n[k] == 0 {
				continue
			}
			if p.mean[k] > v {
				break
			}
			hi = min(hi, p.mean[k])
			okR = true
		}
		if !okL || !okR {
			continue
		}
		prom := v - max(lo, hi)
		noise := math.Max(math.Sqrt(math.Max(v, 1)/float64(p.n[b])), mad)
		if !(prom > 6*noise) {
			continue
		}
		// Parabola through the three bins about the maximum.
		r := float64(b) + 0.5
		if p.n[b-1] > 0 && p.n[b+1] > 0 {
			den := p.mean[b-1] - 2*v + p.mean[b+1]
			if den < 0 {
				r += 0.5 * (p.mean[b-1] - p.mean[b+1]) / den
			}
		}
		out = append(out, peak{r: r, strength: prom / noise})
	}
	return out
}

// assignRings finds the distance (mm) that maps the profile's peaks onto
// the calibrant's rings: every pairing of a strong peak with a ring is a
// candidate distance, scored by the peaks it explains less the predicted
// rings between them that show no peak. It returns the distance refined
// on the matched peaks and the indices of the rings matched, or 0.
func assignRings(peaks []peak, tth []float64, px, start float64, prof profile) (float64, []int) {
	strong := slices.Clone(peaks)
	sort.Slice(strong, func(i, j int) bool { return strong[i].strength > strong[j].strength })
	strong = strong[:min(len(strong), 8)]
	maxR := float64(len(prof.mean))
	covered := func(r float64) bool {
		b := int(r)
		return b >= 0 && b < len(prof.n) && prof.n[b] > 0
	}
	type match struct{ peak, ring int }
	eval := func(d float64) (float64, []match) {
		var ms []match
		used := map[int]bool{}
		for i, pk := range peaks {
			tol := 1.5 + 0.015*pk.r
			best, bj := math.Inf(1), -1
			for j, t := range tth {
				if t >= math.Pi/2 {
					break
				}
				r := d * math.Tan(t) / px
				if e := math.Abs(r - pk.r); e < best {
					best, bj = e, j
				}
				if r > pk.r+tol {
					break
				}
			}
			if bj >= 0 && best <= tol && !used[bj] {
				used[bj] = true
				ms = append(ms, match{i, bj})
			}
		}
		if len(ms) == 0 {
			return 0, nil
		}
		score := 0.0
		rmin, rmax := math.Inf(1), 0.0
		for _, mt := range ms {
			score += 1 + 0.1*math.Min(peaks[mt.peak].strength/10, 5)
			rmin, rmax = min(rmin, peaks[mt.peak].r), max(rmax, peaks[mt.peak].r)
		}
		for j, t := range tth {
			if t >= math.Pi/2 {
				break
			}
			r := d * math.Tan(t) / px
			if r > rmin && r < rmax && r < maxR && covered(r) && !used[j] {
				score -= 0.6
			}
		}
		return score, ms
	}
	bestScore, bestD := 0.0, 0.0
	var bestMs []match
	for _, pk := range strong {
		for j, t := range tth {
			if t >= math.Pi/2 || j > 60 {
				break
			}
			d := pk.r * px / math.Tan(t)
			if start > 0 && (d < 0.75*start || d > 1.25*start) {
				continue
			}
			s, ms := eval(d)
			// Prefer the candidate nearer the start distance on ties.
			if s > bestScore+1e-9 || (s > bestScore-1e-9 && start > 0 && math.Abs(d-start) < math.Abs(bestD-start)) {
				bestScore, bestD, bestMs = s, d, ms
			}
		}
	}
	if bestMs == nil || len(bestMs) < 2 && start == 0 {
		return 0, nil
	}
	// Least squares: r_i = d·tan(2θ_j)/px.
	num, den := 0.0, 0.0
	for _, mt := range bestMs {
		t := math.Tan(tth[mt.ring]) / px
		num += peaks[mt.peak].r * t
		den += t * t
	}
	d := num / den
	rings := make([]int, 0, len(bestMs))
	for _, mt := range bestMs {
		rings = append(rings, mt.ring)
	}
	slices.Sort(rings)
	return d, rings
}

// ringsOnDetector returns the rings whose circle in the current geometry
// crosses valid pixels of the frame (tested on 64 azimuths).
func (m *model) ringsOnDetector(f *calibFrame, tth []float64) []int {
	var out []int
	dt := m.detector()
	for j, t := range tth {
		n := 0
		for k := range 64 {
			phi := (float64(k) + 0.5) / 64 * 2 * math.Pi
			rho, ok := rayRadius(&dt, phi, t)
			if !ok {
				continue
			}
			row, col := m.rowCol(rho*math.Cos(phi), rho*math.Sin(phi))
			ir, ic := int(math.Round(row)), int(math.Round(col))
			if ir >= 0 && ic >= 0 && ir < f.rows && ic < f.cols && f.ok[ir*f.cols+ic] {
				n++
			}
		}
		if n >= 3 {
			out = append(out, j)
		}
	}
	return out
}

// rayRadius returns the distance ρ (px) from the beam centre along the
// azimuth phi (x = ρ cos φ, y = ρ sin φ) at which 2θ = t, by bisection.
func rayRadius(dt *detector, phi, t float64) (float64, bool) {
	c, s := math.Cos(phi), math.Sin(phi)
	lo, hi := 0.0, 1.0
	for dt.twoTheta(hi*c, hi*s) < t {
		hi *= 2
		if hi > 1e7 {
			return 0, false
		}
	}
	for range 60 {
		mid := 0.5 * (lo + hi)
		if dt.twoTheta(mid*c, mid*s) < t {
			lo = mid
		} else {
			hi = mid
		}
	}
	return 0.5 * (lo + hi), true
}

// ringWindow is the 2θ window about one ring in which control points are
// searched.
type ringWindow struct {
	ring     int
	lo, hi   float64 // 2θ window, rad
	nb       int     // bins across it
	nsec     int     // azimuthal sectors
	sum      []float64
	cnt      []int32
	phi      []float64 // Σ azimuth of the pixels of each sector
	nphi     []int32
	radDeriv float64 // d(2θ)/dρ at the ring, rad per px
}

// controlPoints finds, for each ring, the ring's 2θ in each azimuthal
// sector (binned in the current model's 2θ, a sub-bin centroid of the
// background-subtracted peak) and returns it as a point on the sector's
// central ray. winFrac and winPx set the window's half-width, winFrac·ρ +
// winPx pixels, capped at 0.45 of the distance to the neighbouring rings.
func (f *calibFrame) controlPoints(m *model, tth []float64, rings []int, winFrac, winPx float64) []ControlPoint {
	dt := m.detector()
	var wins []*ringWindow
	for _, j := range rings {
		t := tth[j]
		rho, ok := rayRadius(&dt, 0, t)
		if !ok {
			continue
		}
		deriv := (dt.twoTheta(rho+0.5, 0) - dt.twoTheta(rho-0.5, 0))
		if !(deriv > 0) {
			continue
		}
		half := (winFrac*rho + winPx) * deriv
		gap := math.Inf(1)
		if j > 0 {
			gap = t - tth[j-1]
		}
		if j+1 < len(tth) {
			gap = min(gap, tth[j+1]-t)
		}
		half = min(half, 0.45*gap)
		if half < 2*deriv {
			continue // too close to a neighbour to be resolved
		}
		binw := max(0.35*deriv, 2*half/120)
		nb := int(math.Ceil(2 * half / binw))
		nsec := int(math.Round(2 * math.Pi * rho / 10))
		nsec = max(16, min(360, nsec))
		wins = append(wins, &ringWindow{ring: j, lo: t - half, hi: t + half, nb: nb, nsec: nsec,
			sum: make([]float64, nb*nsec), cnt: make([]int32, nb*nsec), radDeriv: deriv,
			phi: make([]float64, nsec), nphi: make([]int32, nsec)})
	}
	if len(wins) == 0 {
		return nil
	}
	sort.Slice(wins, func(a, b int) bool { return wins[a].lo < wins[b].lo })
	los := make([]float64, len(wins))
	for i, w := range wins {
		los[i] = w.lo
	}
	for r := range f.rows {
		for c := range f.cols {
			i := r*f.cols + c
			if !f.ok[i] {
				continue
			}
			x, y := m.xy(float64(r), float64(c))
			t := dt.twoTheta(x, y)
			k := sort.SearchFloat64s(los, t) - 1
			if k < 0 || t >= wins[k].hi {
				continue
			}
			w := wins[k]
			b := int((t - w.lo) / (w.hi - w.lo) * float64(w.nb))
			if b < 0 || b >= w.nb {
				continue
			}
			phi := math.Atan2(y, x)
			s := int((phi + math.Pi) / (2 * math.Pi) * float64(w.nsec))
			s = min(max(s, 0), w.nsec-1)
			w.sum[s*w.nb+b] += f.v[i]
			w.cnt[s*w.nb+b]++
			w.phi[s] += phi
			w.nphi[s]++
		}
	}
	var pts []ControlPoint
	vals := make([]float64, 0, 128)
	for _, w := range wins {
		for s := range w.nsec {
			tp, ok := sectorPeak(w, s, vals)
			if !ok {
				continue
			}
			// The point lies at the mean azimuth of the sector's pixels (in
			// the valid part of a partly masked sector).
			phi := w.phi[s] / float64(w.nphi[s])
			rho, ok := rayRadius(&dt, phi, tp)
			if !ok {
				continue
			}
			row, col := m.rowCol(rho*math.Cos(phi), rho*math.Sin(phi))
			pts = append(pts, ControlPoint{Row: row, Col: col, Ring: w.ring})
		}
	}
	return pts
}

// sectorPeak locates the ring's peak in sector s of window w: the bins'
// means less a straight background through the outer fifths of the
// window; the peak must stand 5 noise levels above it, inside the window,
// and its position is the centroid of the part above half its height.
func sectorPeak(w *ringWindow, s int, mean []float64) (float64, bool) {
	nb := w.nb
	mean = mean[:0]
	filled := 0
	for b := range nb {
		n := w.cnt[s*nb+b]
		if n > 0 {
			mean = append(mean, w.sum[s*nb+b]/float64(n))
			filled++
		} else {
			mean = append(mean, math.NaN())
		}
	}
	if filled < nb*2/3 {
		return 0, false
	}
	edge := max(2, nb/5)
	var xl, yl, xr, yr []float64
	for b := range edge {
		if !math.IsNaN(mean[b]) {
			xl, yl = append(xl, float64(b)), append(yl, mean[b])
		}
		if bb := nb - 1 - b; !math.IsNaN(mean[bb]) {
			xr, yr = append(xr, float64(bb)), append(yr, mean[bb])
		}
	}
	if len(yl) < 2 || len(yr) < 2 {
		return 0, false
	}
	ml, mr := median(yl), median(yr)
	cl, cr := median(xl), median(xr)
	bg := func(b int) float64 { return ml + (mr-ml)*(float64(b)-cl)/(cr-cl) }
	// Noise: scatter of the edge bins about the background, and Poisson.
	var dev []float64
	for i := range yl {
		dev = append(dev, math.Abs(yl[i]-bg(int(xl[i]))))
	}
	for i := range yr {
		dev = append(dev, math.Abs(yr[i]-bg(int(xr[i]))))
	}
	noise := 1.4826 * median(dev)
	bmax, amax := -1, 0.0
	for b := range nb {
		if math.IsNaN(mean[b]) {
			continue
		}
		if a := mean[b] - bg(b); a > amax {
			amax, bmax = a, b
		}
	}
	if bmax < 0 {
		return 0, false
	}
	cntMax := float64(w.cnt[s*nb+bmax])
	noise = math.Max(noise, math.Sqrt(math.Max(bg(bmax), 1)/cntMax))
	if !(amax > 5*noise) {
		return 0, false
	}
	half := amax / 2
	lo, hi := bmax, bmax
	for lo > 0 && (math.IsNaN(mean[lo-1]) || mean[lo-1]-bg(lo-1) > half) {
		lo--
	}
	for hi < nb-1 && (math.IsNaN(mean[hi+1]) || mean[hi+1]-bg(hi+1) > half) {
		hi++
	}
	if lo == 0 || hi == nb-1 {
		return 0, false // the peak reaches the window's edge
	}
	sw, sx := 0.0, 0.0
	for b := lo; b <= hi; b++ {
		if math.IsNaN(mean[b]) {
			continue
		}
		wt := mean[b] - bg(b) - half
		if wt <= 0 {
			continue
		}
		sw += wt
		sx += wt * (float64(b) + 0.5)
	}
	if sw == 0 {
		return 0, false
	}
	return w.lo + sx/sw/float64(nb)*(w.hi-w.lo), true
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return 0.5 * (s[n/2-1] + s[n/2])
}

// fitOutcome is the result of one refinement.
type fitOutcome struct {
	points    []ControlPoint // the points kept (outliers dropped)
	iter      int
	converged bool
	cov       []float64 // covariance of the parameters, scaled
	nParams   int
	rmsPx     float64 // RMS residual in pixels along the radius
}

// refine fits the model to the points by Levenberg–Marquardt: distance
// and beam centre, with tilt the tilt vector, with wl the wavelength.
// Points more than 5 robust standard deviations off are dropped and the
// fit repeated once.
func refine(ctx context.Context, m *model, pts []ControlPoint, dsp []float64, tilt, wl bool) (fitOutcome, error) {
	var out fitOutcome
	target := func(lambda float64, ring int) float64 {
		return 2 * math.Asin(math.Min(1, lambda/(2*dsp[ring])))
	}
	for pass := range 2 {
		np := 3
		if tilt {
			np = 5
		}
		if wl {
			np = 6
		}
		set := func(p []float64, mm *model) {
			mm.d, mm.b0, mm.b1 = p[0], p[1], p[2]
			if np >= 5 {
				mm.tx, mm.ty = p[3], p[4]
			}
			if np == 6 {
				mm.lambda = p[5]
			}
		}
		p0 := []float64{m.d, m.b0, m.b1, m.tx, m.ty, m.lambda}[:np]
		steps := []float64{1e-6 * m.d, 1e-4, 1e-4, 1e-7, 1e-7, 1e-8 * m.lambda}[:np]
		xs := make([]float64, len(pts))
		ys := make([]float64, len(pts))
		targets := make([]float64, len(pts))
		for i, p := range pts {
			xs[i], ys[i] = p.Col+0.5, p.Row+0.5-float64(m.rows)
			targets[i] = target(m.lambda, p.Ring)
		}
		pr := &lmProblem{n: len(pts), step: steps, residuals: func(p, r []float64) {
			mm := *m
			set(p, &mm)
			dt := mm.detector()
			for i := range r {
				t := targets[i]
				if np == 6 {
					t = target(mm.lambda, pts[i].Ring)
				}
				r[i] = dt.twoTheta(xs[i]-mm.b1, ys[i]+mm.b0) - t
			}
		}}
		lr, err := levenbergMarquardt(ctx, pr, p0, 200)
		if err != nil {
			return out, err
		}
		out.iter += lr.iter
		out.converged = lr.converged
		set(lr.p, m)
		// Residuals, their robust scale, and the radial derivative for
		// pixels.
		r := make([]float64, len(pts))
		pr.residuals(lr.p, r)
		abs := make([]float64, len(r))
		for i, v := range r {
			abs[i] = math.Abs(v)
		}
		sc := 1.4826 * median(abs)
		dt := m.detector()
		s2, s2px := 0.0, 0.0
		for i, v := range r {
			s2 += v * v
			x, y := xs[i]-m.b1, ys[i]+m.b0
			rho := math.Hypot(x, y)
			der := 1.0
			if rho > 1 {
				der = (dt.twoTheta(x*(1+0.5/rho), y*(1+0.5/rho)) - dt.twoTheta(x*(1-0.5/rho), y*(1-0.5/rho)))
			}
			if der > 0 {
				s2px += (v / der) * (v / der)
			}
		}
		out.rmsPx = math.Sqrt(s2px / float64(len(r)))
		out.nParams = np
		if dof := len(r) - np; dof > 0 && lr.cov != nil {
			out.cov = make([]float64, len(lr.cov))
			for i, c := range lr.cov {
				out.cov[i] = c * s2 / float64(dof)
			}
		} else {
			out.cov = nil
		}
		out.points = pts
		if pass == 1 {
			break
		}
		keep := pts[:0:0]
		for i, v := range r {
			if math.Abs(v) <= math.Max(5*sc, 1e-12) {
				keep = append(keep, pts[i])
			}
		}
		if len(keep) == len(pts) || len(keep) < 12 {
			break
		}
		pts = keep
	}
	return out, nil
}
