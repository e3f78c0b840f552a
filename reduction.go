package saxs

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

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
	Range *[2]float64 `json:"Range,omitempty" jsonschema:"description=Radial range [LO HI] of every curve in Unit (saxsdog --range LO:HI)"`
	// ChiRange, when set, restricts every curve to the sector of
	// azimuths FROM ≤ χ < TO in degrees (FROM > TO wraps through 180°),
	// pyFAI's χ: the angle around the beam axis, from the direction of
	// increasing column (right on the image as stored, row 0 at the top)
	// towards increasing row (down), in (−180°, 180°]; sub-pixels are binned
	// by their own χ. Untilted this is the angle on the detector at the beam
	// centre; tilted, it is pyFAI's chi (chiArray) of the calibration's
	// PONI geometry (PoniFromCalibration), which differs from the angle on
	// the detector plane (see the README's section on χ).
	ChiRange *[2]float64 `json:"ChiRange,omitempty" jsonschema:"description=Sector [FROM TO] of azimuths chi in degrees (pyFAI convention: 0 along increasing column and +90 along increasing row) (saxsdog --chi-range FROM:TO)"`
	// Cake, when set, is [NQ, NCHI]: also integrate each frame into a 2-D
	// cake of NQ radial bins (in Unit, on Range or from 0 to the largest
	// value) times NCHI azimuthal bins (on ChiRange or the full circle),
	// over the first mask; NQ·NCHI is at most MaxBins. See
	// Integrator.Cake.
	Cake *[2]int `json:"Cake,omitempty" jsonschema:"description=2-D cake [NQ NCHI] of the first mask written as a float32 TIFF (saxsdog --cake NQxNCHI)"`
	// ErrorModel is how the errors of the curves are computed: "poisson"
	// (the default, the original's) or "azimuthal" (pyFAI's: from the
	// spread of the pixels in each ring); see ErrorPoisson, ErrorAzimuthal.
	ErrorModel string `json:"ErrorModel,omitempty" jsonschema:"enum=poisson,enum=azimuthal,default=poisson,description=Error model of the curves: poisson (propagated through the corrections) or azimuthal (pyFAI: spread of the pixels in each ring) (saxsdog --error-model)"`
	// Estimator is how the mean of a ring is estimated: "mean" (the
	// default, the original's average of the corrected pixels) or "pyfai"
	// (pyFAI's sum of the counts over the sum of the correction divisors);
	// see EstimatorMean, EstimatorPyFAI. The cake always uses the mean.
	Estimator string `json:"Estimator,omitempty" jsonschema:"enum=mean,enum=pyfai,default=mean,description=Estimator of the ring means: mean (the original: average of the corrected pixels) or pyfai (sum of counts over sum of correction factors) (saxsdog --estimator)"`
	// SigmaClip, when positive, averages each ring with sigma clipping:
	// pixels farther than SigmaClip standard deviations from the ring's
	// mean are dropped, up to 5 rounds (pyFAI's sigma_clip).
	SigmaClip float64 `json:"SigmaClip,omitempty" jsonschema:"minimum=0,description=Sigma-clipped averaging in each ring: drop pixels farther than K standard deviations (saxsdog --sigma-clip K)"`
	// Poni, when set, is a pyFAI .poni file whose geometry (distance, beam
	// centre, tilt, pixel size, wavelength when it has one) replaces the
	// calibration's Geometry when the integrator is built; the image size,
	// the masks and the rest stay the calibration's. See Poni.ApplyTo.
	Poni string `json:"Poni,omitempty" jsonschema:"description=pyFAI .poni file whose geometry replaces Geometry (saxsdog --poni FILE)"`
	// Dark is an image file (relative paths resolve as MaskFile's)
	// subtracted from every frame pixel by pixel, before the flat and the
	// other corrections. Its Poisson variance adds to the frame's.
	Dark string `json:"Dark,omitempty" jsonschema:"description=Dark frame subtracted pixel by pixel (saxsdog --dark FILE)"`
	// Flat is an image file every (dark-subtracted) frame is divided by,
	// pixel by pixel; pixels where it is not positive and finite are
	// masked.
	Flat string `json:"Flat,omitempty" jsonschema:"description=Flat field every frame is divided by pixel by pixel; pixels where it is not positive are masked (saxsdog --flat FILE)"`
	// Background, when set, is subtracted from every curve after
	// integration and normalisation, with its own scale; its error adds in
	// quadrature.
	Background *Background `json:"Background,omitempty" jsonschema:"description=Background subtracted from every curve (saxsdog --background FILE[:SCALE])"`
	// Normalise divides every curve (intensity and error) by a per-frame
	// factor: "exposure", "monitor" or "transmission" (from the frame's
	// header, or the constants below), or a CSV table file (frame name,
	// monitor, transmission) giving monitor × transmission. See
	// Integrator.NormFactor.
	Normalise string `json:"Normalise,omitempty" jsonschema:"description=exposure | monitor | transmission | TABLE.csv (frame name; monitor; transmission) (saxsdog --normalise)"`
	// ExposureTime, Monitor and Transmission are constants the curves are
	// divided by (all given ones multiply), also the values of the
	// corresponding Normalise when the header lacks them.
	ExposureTime *float64 `json:"ExposureTime,omitempty" jsonschema:"exclusiveMinimum=0,description=Constant exposure time the curves are divided by"`
	Monitor      *float64 `json:"Monitor,omitempty" jsonschema:"exclusiveMinimum=0,description=Constant monitor count the curves are divided by"`
	Transmission *float64 `json:"Transmission,omitempty" jsonschema:"exclusiveMinimum=0,description=Constant transmission the curves are divided by"`
}

// Background is a background subtracted from every curve: I − Scale·B,
// σ² + Scale²·σ_B². File is either an image, reduced like the frames
// (dark, flat, solid angle, polarisation; no normalisation), or a curve
// (.chi, or text columns q I [σ] in the curves' unit, interpolated
// linearly onto the curves' bins; NaN outside its range).
type Background struct {
	File string `json:"File" jsonschema:"minLength=1,description=Background image or curve (.chi or text columns q I [sigma])"`
	// Scale multiplies the background; absent means 1.
	Scale *float64 `json:"Scale,omitempty" jsonschema:"default=1,description=Factor of the background"`
}

// scale returns the background's scale (1 when absent).
func (b *Background) scale() float64 {
	if b.Scale == nil {
		return 1
	}
	return *b.Scale
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
	if finite("/Reduction/SigmaClip", r.SigmaClip) && r.SigmaClip < 0 {
		bad("/Reduction/SigmaClip", "must not be negative, got %g", r.SigmaClip)
	}
	if err := checkErrorModel(r.ErrorModel); err != nil {
		bad("/Reduction/ErrorModel", "%v", err)
	}
	if err := checkEstimator(r.Estimator); err != nil {
		bad("/Reduction/Estimator", "%v", err)
	}
	if r.Bins < 0 || r.Bins > MaxBins {
		bad("/Reduction/Bins", "bin count must be between 0 (none) and %d, got %d", MaxBins, r.Bins)
	}
	if b := r.Background; b != nil {
		if b.File == "" {
			bad("/Reduction/Background/File", "missing background file")
		}
		if b.Scale != nil {
			finite("/Reduction/Background/Scale", *b.Scale)
		}
	}
	for _, c := range []struct {
		name string
		v    *float64
	}{{"ExposureTime", r.ExposureTime}, {"Monitor", r.Monitor}, {"Transmission", r.Transmission}} {
		if c.v != nil && finite("/Reduction/"+c.name, *c.v) && !(*c.v > 0) {
			bad("/Reduction/"+c.name, "must be positive, got %g", *c.v)
		}
	}
	if rg := r.ChiRange; rg != nil && finite("/Reduction/ChiRange/0", rg[0]) && finite("/Reduction/ChiRange/1", rg[1]) && rg[0] == rg[1] {
		bad("/Reduction/ChiRange", "empty sector [%g, %g]", rg[0], rg[1])
	}
	if ck := r.Cake; ck != nil && (ck[0] < 1 || ck[1] < 1 || ck[0]*ck[1] > MaxBins) {
		bad("/Reduction/Cake", "need NQ, NCHI ≥ 1 with NQ·NCHI ≤ %d, got %d × %d", MaxBins, ck[0], ck[1])
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
	if b := r.Background; b != nil {
		bv := *b
		if b.Scale != nil {
			sc := *b.Scale
			bv.Scale = &sc
		}
		v.Background = &bv
	}
	if r.Range != nil {
		rg := *r.Range
		v.Range = &rg
	}
	if r.ChiRange != nil {
		rg := *r.ChiRange
		v.ChiRange = &rg
	}
	if r.Cake != nil {
		ck := *r.Cake
		v.Cake = &ck
	}
	for _, p := range []**float64{&v.ExposureTime, &v.Monitor, &v.Transmission} {
		if *p != nil {
			x := **p
			*p = &x
		}
	}
	return &v
}

// propagated reports whether the errors are propagated from the pixels
// (see ErrorPoisson): whenever r holds any option. A nil or empty
// Reduction keeps the original's σ = sqrt(I/Area).
func (r *Reduction) propagated() bool {
	return r != nil && !reflect.ValueOf(*r).IsZero()
}

// pyfai reports whether the pyFAI estimator is chosen.
func (r *Reduction) pyfai() bool { return r != nil && r.Estimator == EstimatorPyFAI }

// solidAngle reports whether the solid-angle correction is on.
func (r *Reduction) solidAngle() bool { return r != nil && r.SolidAngle }

// path resolves a file name of the reduction options as MaskFile paths are.
func (c *Calibration) path(p string) string {
	if filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// curveReduction is what a curve's rows need beyond the operator: the
// error model, the dark and background curves, per row (nil when off).
type curveReduction struct {
	sigmaClip float64   // K of the sigma clipping, 0 for none
	azimuthal bool      // the azimuthal error model
	pyfai     bool      // the pyFAI estimator
	darkImg   *Image    // the dark frame, kept for the errors from the pixels
	dark      []float64 // D_j: the dark frame integrated like a frame
	darkVar   []float64 // the dark's variance sums per bin (see varianceSums), nil without a dark
	bkg       []float64 // B_j: the background curve
	bkgSigma  []float64 // σ_B,j
	scale     float64   // of the background
}

// apply turns the corrected means v_j in c.I, with the errors σ_j already
// propagated from the pixels in c.Sigma, into the reduced curve:
// I = (v − D)/norm − scale·B, σ² = (σ/norm)² + scale²·σ_B². norm 0 means 1.
func (cr *curveReduction) apply(c *Curve, norm float64) {
	if norm == 0 {
		norm = 1
	}
	for j, v := range c.I {
		d := 0.0
		if cr.dark != nil {
			d = cr.dark[j]
		}
		i := (v - d) / norm
		s := c.Sigma[j] / norm
		if cr.bkg != nil {
			i -= cr.scale * cr.bkg[j]
			s = math.Hypot(s, cr.scale*cr.bkgSigma[j])
		}
		c.I[j], c.Sigma[j] = i, s
	}
}

// readImageFile reads an image of the detector's size for option what.
func readImageFile(path, what string, rows, cols int) (*Image, error) {
	img, err := ReadImage(path)
	if err != nil {
		return nil, fmt.Errorf("saxs: %s: %w", what, err)
	}
	if img.Rows != rows || img.Cols != cols {
		return nil, fmt.Errorf("saxs: %s %s: %w", what, path, &SizeError{What: what, Rows: img.Rows, Cols: img.Cols, WantRows: rows, WantCols: cols})
	}
	return img, nil
}

// pixelValue returns pixel p of img as a float.
func pixelValue(img *Image, p int) float64 {
	if img.Counts != nil {
		return float64(img.Counts[p])
	}
	return img.Values[p]
}

// setupReduction reads the dark and background of the calibration's
// reduction options and sets the integrator's curves up to subtract them.
// The operators (with the flat folded in) must be built.
func (ig *Integrator) setupReduction() error {
	red := ig.cal.Reduction
	if !red.propagated() {
		return nil // the original's reduction
	}
	norm, err := newNormaliser(ig.cal)
	if err != nil {
		return err
	}
	for _, co := range ig.curves {
		co.red = &curveReduction{pyfai: red.pyfai()}
		if co.red.pyfai {
			co.usePyFAIEstimator()
		}
	}
	if red.ErrorModel == ErrorAzimuthal {
		// The dark and background curves keep Poisson errors.
		defer func() {
			for _, co := range ig.curves {
				co.red.azimuthal = true
			}
		}()
	}
	if red.SigmaClip > 0 {
		// The dark and background are integrated without clipping.
		defer func() {
			for _, co := range ig.curves {
				co.red.sigmaClip = red.SigmaClip
			}
		}()
	}
	if norm != nil {
		// The dark and the background are not normalised.
		defer func() { ig.norm = norm }()
	}
	if red.Dark == "" && red.Background == nil {
		return nil
	}
	rows, cols := ig.cal.Geometry.Imagesize[0], ig.cal.Geometry.Imagesize[1]
	if red.Dark != "" {
		dark, err := readImageFile(ig.cal.path(red.Dark), "dark", rows, cols)
		if err != nil {
			return err
		}
		r, err := ig.Integrate(dark) // the dark's corrected means, the same sums as a frame's
		if err != nil {
			return err
		}
		for i, co := range ig.curves {
			co.red.dark = r.Curves[i].I
			co.red.darkImg = dark
			co.red.darkVar = make([]float64, co.op.nbins+1)
			addVariance(co.op, co.varianceFactors(), dark, co.red.darkVar, make([]float64, 2*(co.op.nbins+1)))
		}
		if ig.cake != nil {
			ig.cake.setDark(dark)
		}
	}
	b := red.Background
	if b == nil {
		return nil
	}
	path := ig.cal.path(b.File)
	if isCurveFile(path) {
		for _, co := range ig.curves {
			bq, bi, bs, err := readCurveFile(path)
			if err != nil {
				return fmt.Errorf("saxs: background: %w", err)
			}
			co.red.bkg, co.red.bkgSigma = interpolate(bq, bi, co.q), interpolate(bq, bs, co.q)
			co.red.scale = b.scale()
		}
		return nil
	}
	img, err := readImageFile(path, "background", rows, cols)
	if err != nil {
		return err
	}
	r, err := ig.Integrate(img) // dark-subtracted, flat and corrections applied
	if err != nil {
		return err
	}
	for i, co := range ig.curves {
		co.red.bkg, co.red.bkgSigma, co.red.scale = r.Curves[i].I, r.Curves[i].Sigma, b.scale()
	}
	return nil
}

// isCurveFile reports whether path names a curve (.chi, .dat, .txt, .csv)
// rather than an image.
func isCurveFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".chi", ".dat", ".txt", ".csv", ".xy":
		return true
	}
	return false
}

// readCurveFile reads a curve: a .chi file, or text columns x y [σ]
// (lines starting with # and lines that are not numbers are skipped).
func readCurveFile(path string) (x, y, s []float64, err error) {
	if strings.EqualFold(filepath.Ext(path), ".chi") {
		f, err := ReadChiFile(path)
		if err != nil {
			return nil, nil, nil, err
		}
		s = f.Sigma
		if s == nil {
			s = make([]float64, f.Len())
		}
		return f.Q, f.I, s, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	for line := range strings.Lines(string(data)) {
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\r' || r == '\n' })
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var v [3]float64
		ok := true
		for k := range min(3, len(f)) {
			if v[k], err = strconv.ParseFloat(f[k], 64); err != nil {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		x, y, s = append(x, v[0]), append(y, v[1]), append(s, v[2])
	}
	if len(x) < 2 {
		return nil, nil, nil, &FormatError{File: path, Msg: "a background curve needs at least 2 rows of numbers"}
	}
	return x, y, s, nil
}

// interpolate returns y(x) at the points at, linearly between the points
// of (xs, ys) (xs increasing), NaN outside them.
func interpolate(xs, ys, at []float64) []float64 {
	out := make([]float64, len(at))
	for j, a := range at {
		k := sort.SearchFloat64s(xs, a)
		switch {
		case k < len(xs) && xs[k] == a:
			out[j] = ys[k]
		case k == 0 || k == len(xs):
			out[j] = math.NaN()
		default:
			t := (a - xs[k-1]) / (xs[k] - xs[k-1])
			out[j] = ys[k-1] + t*(ys[k]-ys[k-1])
		}
	}
	return out
}

// flatMask returns the pixels where the flat is not positive and finite.
func flatMask(flat *Image) []bool {
	bad := make([]bool, flat.Len())
	for p := range bad {
		v := pixelValue(flat, p)
		bad[p] = !(v > 0) || math.IsInf(v, 1)
	}
	return bad
}
