// Package saxs turns 2-D X-ray detector images into 1-D scattering curves
// I(q) for small-angle X-ray scattering (SAXS).
//
// It follows the concepts of the original Python saxsdog package: a
// [Calibration] describes the detector geometry, the
// masks and the binning; [New] builds the integration operator once
// (geometry with tilt, oversampling, mask, polarization); each frame is then
// integrated by a single pass over its pixels ([Integrator.Integrate]),
// giving per bin the scattering vector q in nm⁻¹, the mean intensity and its
// Poisson error, and optionally written as a .chi file
// ([Integrator.IntegrateChi]).
//
// Conventions (the ones of the original package and of fit2d):
//   - An image has Rows × Cols pixels; row 0 is the first stored row, shown
//     at the top.
//   - Imagesize is [rows, cols]; BeamCenter is [fit2d Y counted from the
//     bottom edge, fit2d X counted from the left edge], in pixels.
//   - Wavelength is in Ångström; q is in nm⁻¹ with 1 Å = 0.100001495 nm, the
//     constant of the original code (see [AngstromStar]).
//   - Masks are true where a pixel is excluded.
//
// Names of the readers and writers say what they take:
//   - Parse and Decode take bytes already in memory, with a name for the
//     errors (data first, name second): [ParseCalibration] for the JSON
//     text, [DecodeTIFF], [DecodeMask] and [DecodeFit2DMask] for binary
//     formats; Encode writes to an io.Writer.
//   - Read takes an io.Reader ([ReadChi]) or a path to a data file
//     ([ReadImage], [ReadChiFile], [ImageReader.ReadFile]).
//   - LoadCalibration and OpenMask take a path to a setup file: the
//     calibration, and the mask a calibration names (New opens it).
//   - Write writes to an io.Writer ([WriteChi]), WriteFile-like functions
//     ([WriteChiFile]) replace a file atomically.
//
// Every function that takes a path reads only regular files (a FIFO, a
// device or a folder gives an error matching [ErrNotRegular]), checks the
// size and the header before reading the rest, and bounds what it reads.
//
// Errors say where and what: *[FormatError] (file and byte offset or
// line), *[CalibrationError] (file and JSON path), *[SizeError], and
// *fs.PathError from the file system; a feature the readers do not support
// is an *[UnsupportedError] inside a FormatError. Causes are wrapped, so
// errors.Is and errors.As reach them (errors.Is(err, fs.ErrNotExist) for
// a missing mask file named by a calibration, from New). Other errors
// start with "saxs: ".
//
// Indices out of range ([Image.At], [Mask.At], [Operator.At],
// [Operator.Area], [Integrator.Operator]) panic, as in gonum's mat: they
// are programming errors, not input errors. Input never makes the package
// panic.
package saxs

//go:generate go run ./internal/gensample testdata/sample

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
)

// Options adjust how New builds an Integrator. The zero value gives the
// behaviour of the original 2.0 code.
type Options struct {
	// Legacy reproduces the earliest saxsdog: bins uniform in 2θ, sub-pixels sampled at their
	// corners, bin centres (k+0.5)/scale, empty bins 0 instead of NaN.
	// RadialBins is ignored.
	Legacy bool
	// Masks, when non-nil, are used instead of reading the calibration's
	// MaskFile paths; it must have one element per calibration mask. The
	// saxsdog server uses this for masks received over the network. They
	// are only read, and only during New: the Integrator keeps no
	// reference to them.
	Masks []*Mask
	// Workers is the number of goroutines that build the operators; 0
	// means runtime.GOMAXPROCS(0).
	Workers int
	// CacheDir, when set, keeps built operators in files there (see
	// DefaultCacheDir), keyed by a hash of everything they depend on: a
	// second New with the same inputs loads the operator instead of
	// building it. A corrupt, truncated or foreign cache file is rebuilt.
	CacheDir string
	// Logger receives warnings about the cache; nil discards them.
	Logger *slog.Logger
}

// Integrator integrates images for one calibration: it holds one operator
// per mask. It is immutable after New: it keeps its own deep copy of the
// calibration (later changes to the caller's calibration, its masks or its
// slices change nothing, not even the .chi header), and it is safe for
// concurrent use by several goroutines.
type Integrator struct {
	cal      *Calibration // deep copy, never modified
	header   []byte       // line 1 of the .chi files: the calibration as JSON
	warnings []string
	legacy   bool
	norm     *normaliser // nil without normalisation
	cake     *cakeOp     // nil without Reduction.Cake
	curves   []*curveOp
	slices   []*sliceOp // one per calibration slice
	pool     sync.Pool  // *scratch for Integrate
}

// curveOp is the operator of one mask and what it takes to turn its sums
// into a curve.
type curveOp struct {
	name          string
	op            *Operator
	first, last   int       // rows of the curve are bins first..last
	q             []float64 // bin centres of the rows
	area          []float64 // areas of the rows
	qStart, qStop float64
	unit          Unit            // radial unit of q
	red           *curveReduction // errors, dark and background; nil for the original's reduction
	// kernel is the operator the frames are summed with: op, or with the
	// pyFAI estimator op without its per-pixel factors (the counts are
	// summed as they are). den, when set, holds the bins' denominators
	// Σ_p n[p,k]·c_p of the pyFAI estimator (nbins+1 elements); nil means
	// the sub-pixel counts N_k.
	kernel *Operator
	den    []float64
	// paramStart, paramEnd are the rows the integral parameters sum:
	// paramStart..paramEnd-1, none when paramStart ≥ paramEnd.
	paramStart, paramEnd int
}

// New builds the integration operators of a calibration: it reads the
// masks, computes the geometry with tilt and oversampling, bins the
// sub-pixels and applies the polarization correction. Build it once and
// integrate every frame with it.
//
// Besides Validate's checks, New refuses (with a *CalibrationError naming
// the JSON path) a mask configuration whose bins the geometry cannot make:
// more than MaxBins bins, or RadialBins that start beyond the largest q on
// the detector.
func New(cal *Calibration) (*Integrator, error) {
	return NewContext(context.Background(), cal, Options{})
}

// NewWithOptions is New with options.
func NewWithOptions(cal *Calibration, opt Options) (*Integrator, error) {
	return NewContext(context.Background(), cal, opt)
}

// NewContext is NewWithOptions that stops when ctx is done: building an
// operator checks ctx every few rows (a large detector at high
// oversampling takes seconds), and NewContext then returns an error
// wrapping ctx.Err().
func NewContext(ctx context.Context, cal *Calibration, opt Options) (*Integrator, error) {
	if cal == nil {
		return nil, fmt.Errorf("saxs: nil calibration")
	}
	if err := cal.Validate(); err != nil {
		return nil, err
	}
	if opt.Masks != nil && len(opt.Masks) != len(cal.Masks) {
		return nil, fmt.Errorf("saxs: %d masks given for %d calibration masks", len(opt.Masks), len(cal.Masks))
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	cal = cal.clone() // later changes to the caller's calibration do not affect the integrator
	if red := cal.Reduction; red != nil && red.Poni != "" {
		p, err := ReadPoniFile(cal.path(red.Poni))
		if err != nil {
			return nil, fmt.Errorf("saxs: Reduction.Poni: %w", err)
		}
		if err := p.ApplyTo(cal); err != nil {
			return nil, fmt.Errorf("saxs: Reduction.Poni %s: %w", red.Poni, err)
		}
	}
	header, err := chiHeader(cal)
	if err != nil {
		return nil, err
	}
	ig := &Integrator{cal: cal, header: header, legacy: opt.Legacy}
	dt := newDetector(cal)
	rows, cols := dt.rows, dt.cols
	var flat *Image
	if red := cal.Reduction; red != nil && red.Flat != "" {
		if flat, err = readImageFile(cal.path(red.Flat), "flat", rows, cols); err != nil {
			return nil, err
		}
	}
	var corr []float64 // computed when the first operator is built
	correction := func() []float64 {
		if corr == nil && (cal.PolarizationCorrection != nil || cal.Reduction.solidAngle() || flat != nil) {
			corr = pixelCorrection(cal, opt.Legacy, flat)
		}
		return corr
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var masks []*Mask // the mask of each curve, as used (the slices use them too)
	// Check every mask's bins before the slow part.
	bins := make([]binning, len(cal.Masks))
	for i := range cal.Masks {
		mc := &cal.Masks[i]
		ys, xs := dt.ys(mc.Oversampling, !opt.Legacy), dt.xs(mc.Oversampling, !opt.Legacy)
		var be *binError
		if bins[i], be = newBinningReduction(&dt, mc, opt.Legacy, ys, xs, cal.Reduction); be == nil {
			bins[i] = bins[i].withSector(cal.Reduction)
		} else {
			p := cal.maskPointer(i)
			if be.Field != "" {
				p += "/" + be.Field
			}
			return nil, &CalibrationError{File: cal.name(), Path: p, Msg: be.Msg}
		}
	}
	for i := range cal.Masks {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("saxs: building the integrator: %w", err)
		}
		mc := &cal.Masks[i]
		var mask *Mask
		if opt.Masks != nil {
			mask = opt.Masks[i]
			if err := mask.check(); err != nil {
				return nil, fmt.Errorf("saxs: Options.Masks[%d]: %w", i, err)
			}
		} else {
			var err error
			if mask, err = openMask(cal.MaskPath(i), rows, cols); err != nil {
				if se := (*SizeError)(nil); errors.As(err, &se) {
					return nil, fmt.Errorf("mask %s: %w", mc.MaskFile, se)
				}
				return nil, err
			}
		}
		if mask.Rows != rows || mask.Cols != cols {
			return nil, fmt.Errorf("mask %s: %w", mc.MaskFile, &SizeError{What: "mask", Rows: mask.Rows, Cols: mask.Cols, WantRows: rows, WantCols: cols})
		}
		if flat != nil { // pixels without a usable flat are masked; the caller's mask is not changed
			m := &Mask{Rows: rows, Cols: cols, Masked: flatMask(flat)}
			for p, v := range mask.Masked {
				m.Masked[p] = m.Masked[p] || v
			}
			mask = m
		}
		var (
			op        *Operator
			first     int
			cachePath string
			key       string
		)
		if opt.CacheDir != "" && littleEndian {
			key = cacheKey(cal, mc, mask, opt.Legacy, flat)
			cachePath = filepath.Join(opt.CacheDir, key+".op")
			var err error
			op, first, err = loadOperator(cachePath, key)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				log.Warn("rebuilding operator", "err", err)
			}
		}
		co, err := newCurveOp(ctx, &dt, mc, i, mask, bins[i], correction, opt.Legacy, workers, op, first)
		if err != nil {
			return nil, fmt.Errorf("saxs: building the operator of mask %d (%s): %w", i, mc.MaskFile, err)
		}
		if cachePath != "" && op == nil {
			if err := saveOperator(cachePath, key, co.op, co.first); err != nil {
				log.Warn("cannot cache operator", "path", cachePath, "err", err)
			}
		}
		ig.curves = append(ig.curves, co)
		masks = append(masks, mask)
		if i == 0 {
			if err := ig.setupCake(ctx, &dt, mask, correction, workers); err != nil {
				return nil, err
			}
		}
		if mc.PhiMode {
			if err := phiBandFilled(cal, i, co); err != nil {
				return nil, err
			}
		} else if co.paramStart >= co.paramEnd {
			qlo, qhi := math.NaN(), math.NaN()
			if len(co.q) > 0 {
				qlo, qhi = co.q[0], co.q[len(co.q)-1]
			}
			ig.warnings = append(ig.warnings, fmt.Sprintf(
				"mask %d (%s): qStart %g to qStop %g nm⁻¹ holds no bin of the curve (q %.4g to %.4g nm⁻¹): its integral parameters I0, I1, I2 are NaN",
				i, mc.MaskFile, mc.QStart, mc.QStop, qlo, qhi))
		}
	}
	if err := ig.setupReduction(); err != nil {
		return nil, err
	}
	for i := range cal.Slices {
		ig.slices = append(ig.slices, newSliceOp(cal, i, masks, func(w string) { ig.warnings = append(ig.warnings, w) }))
	}
	return ig, nil
}

// Warnings returns what a user should be told once per run about the
// integrator's calibration, one sentence per problem: each mask whose
// [qStart, qStop] range holds no bin of its curve (the defaults 0 and 0
// among others), whose integral parameters I0, I1 and I2 are then NaN in
// every result and .chi file; each GISAXS slice that is not computed (see
// SliceErrors), naming its field; each slice band clipped to the detector.
// The slice is the caller's.
func (ig *Integrator) Warnings() []string { return slices.Clone(ig.warnings) }

// phiBandFilled checks that the band of the Phi-mode mask i holds an
// unmasked sub-pixel (in the χ range).
func phiBandFilled(cal *Calibration, i int, co *curveOp) error {
	for k := range co.op.nbins {
		if co.op.count[k] > 0 {
			return nil
		}
	}
	mc := &cal.Masks[i]
	return &CalibrationError{File: cal.name(), Path: cal.maskPointer(i) + "/qStart",
		Msg: fmt.Sprintf("Phi-mode band qStart %g to qStop %g %s holds no unmasked pixel of the detector (mask %s)", mc.QStart, mc.QStop, cal.Reduction.unit(), mc.MaskFile)}
}

// newCurveOp builds the operator of one mask, or completes a cached one
// (op with its first row label).
func newCurveOp(ctx context.Context, dt *detector, mc *MaskConfig, i int, mask *Mask, bn binning, corr func() []float64,
	legacy bool, workers int, op *Operator, first int) (*curveOp, error) {
	if op != nil && op.nbins == bn.n {
		return finishCurveOp(dt, mc, i, op, bn, first), nil
	}
	ov := mc.Oversampling
	ys, xs := dt.ys(ov, !legacy), dt.xs(ov, !legacy)
	var minLabel sync.Mutex
	first = bn.n
	op, err := assemble(ctx, dt.rows, dt.cols, ov, bn.n, mask, workers, func(r int, sub [][]int32) {
		lo := bn.n
		for a := range ov {
			y := ys[r*ov+a]
			row := sub[a]
			for b, x := range xs {
				l := bn.label(dt, x, y)
				row[b] = int32(l)
				if l >= 0 && l < lo {
					lo = l
				}
			}
		}
		minLabel.Lock()
		first = min(first, lo)
		minLabel.Unlock()
	})
	if err != nil {
		return nil, err
	}
	op.withCorrection(corr())
	return finishCurveOp(dt, mc, i, op, bn, first), nil
}

// finishCurveOp derives the rows of a curve from its operator.
func finishCurveOp(dt *detector, mc *MaskConfig, i int, op *Operator, bn binning, first int) *curveOp {
	co := &curveOp{op: op, kernel: op, qStart: mc.QStart, qStop: mc.QStop, name: mc.Name, unit: bn.unit.orDefault()}
	if bn.rule == rulePhi {
		co.unit = UnitChiDeg
	}
	if co.name == "" {
		co.name = fmt.Sprintf("R%d", i)
	}
	// Rows run from the smallest label on the detector (masked sub-pixels
	// included, as in the original) to the largest; with RadialBins, over
	// all the requested bins.
	co.first, co.last = first, bn.n-1
	if bn.rule == ruleRange || bn.rule == rulePhi || first > co.last {
		co.first = 0
	}
	for k := co.first; k <= co.last; k++ {
		co.q = append(co.q, bn.centre(dt, k))
		co.area = append(co.area, op.Area(k))
	}
	if bn.rule == rulePhi { // no integral parameters of I(χ): they stay NaN
		return co
	}
	co.paramStart, co.paramEnd = paramRange(co.q, co.qStart, co.qStop)
	return co
}

// Calibration returns a deep copy of the calibration the integrator was
// built for; changing it does not change the integrator.
func (ig *Integrator) Calibration() *Calibration { return ig.cal.clone() }

// Operator returns the integration operator of mask i. It panics if i is
// outside [0, NumCurves()). The operator is shared with the integrator and
// immutable.
func (ig *Integrator) Operator(i int) *Operator {
	if uint(i) >= uint(len(ig.curves)) {
		panic(fmt.Sprintf("saxs: Integrator.Operator(%d) out of range %d curves", i, len(ig.curves)))
	}
	return ig.curves[i].op
}

// NumCurves returns the number of curves (masks).
func (ig *Integrator) NumCurves() int { return len(ig.curves) }

// Result holds the curves of one integration and the scratch space to
// compute them, so that integrating into a reused Result allocates nothing
// after its first use.
//
// A Result must not be used by several integrations at once. Its curves'
// I and Sigma are the caller's; their Q and Area are shared with the
// Integrator and read only (see [Curve]).
type Result struct {
	// Curves holds one curve per mask, in the calibration's order. The
	// caller must not replace or resize the slice, nor the I and Sigma
	// slices of its curves, before integrating into it again.
	Curves []Curve
	// Slices holds one curve per GISAXS slice of the calibration, in its
	// order (Q is the q_y or q_z grid, Area the unmasked pixels of each
	// bin, Params zero), under the same rules as Curves; a slice that is
	// not computed (see Integrator.SliceErrors) has no rows.
	Slices []Curve
	work   *scratch // accumulators, allocated on first use
	norm   float64  // normalisation of the integration in progress, 0 for none
}

// scratch holds the accumulators of an integration: [worker][curve].
type scratch [][]sums

// sums is the accumulator of one curve: integer sums for exact
// integration, floating-point sums otherwise; each allocated when first
// needed.
type sums struct {
	i  []int64
	f  []float64
	h  []int64   // histogram of sumCountsHist (2·histFixed), when exact
	v  []float64 // variance sums of the propagated errors and their scratch (3·(nbins+1))
	vl []float64 // variance lanes of the fused float kernel (2·(nbins+1))
}

// accumulators returns worker w's accumulator for curve ci, cleared, with
// the kind that the integration needs (integer when exact).
func (r *Result) accumulators(ig *Integrator, w, ci int, exact bool) *sums {
	if r.work == nil {
		r.work = new(scratch)
	}
	for len(*r.work) <= w {
		*r.work = append(*r.work, make([]sums, len(ig.curves)))
	}
	s := &(*r.work)[w][ci]
	op := ig.curves[ci].op
	if exact {
		if s.i == nil {
			s.i = make([]int64, op.accLen())
		}
		clear(s.i[:op.accUsed()])
		if s.h == nil && op.histUsed() > 0 {
			s.h = make([]int64, 2*histFixed)
		}
	} else {
		if s.f == nil {
			s.f = make([]float64, op.accLen())
		}
		clear(s.f[:op.accUsed()])
	}
	return s
}

// NewResult returns a Result shaped for the integrator's curves.
func (ig *Integrator) NewResult() *Result {
	r := &Result{Curves: make([]Curve, len(ig.curves))}
	for i, co := range ig.curves {
		n := len(co.q)
		r.Curves[i] = Curve{Name: co.name, Q: co.q, Area: co.area, I: make([]float64, n), Sigma: make([]float64, n), Unit: co.unit}
	}
	if len(ig.slices) > 0 {
		r.Slices = make([]Curve, len(ig.slices))
		for i, so := range ig.slices {
			n := len(so.q)
			r.Slices[i] = Curve{Name: so.name, Q: so.q, Area: so.area, I: make([]float64, n), Sigma: make([]float64, n)}
		}
	}
	return r
}

// Integrate integrates an image into new curves, one per mask. The
// accumulators are taken from and returned to a pool of the integrator.
func (ig *Integrator) Integrate(img *Image) (*Result, error) {
	r := ig.NewResult()
	r.work, _ = ig.pool.Get().(*scratch)
	err := ig.IntegrateTo(r, img)
	ig.pool.Put(r.work)
	r.work = nil
	if err != nil {
		return nil, err
	}
	return r, nil
}

// IntegrateTo integrates an image into r, which must come from
// ig.NewResult. It runs on the calling goroutine and allocates nothing.
//
// With a normalisation in the calibration's reduction options
// (Reduction.Normalise, Monitor, Transmission, ExposureTime), the curves
// are divided by the frame's factor (see Integrator.NormFactor); a table
// normalisation needs the frame's name: use IntegrateFrameTo.
func (ig *Integrator) IntegrateTo(r *Result, img *Image) error {
	return ig.integrateFrame(r, img, 1, "")
}

// IntegrateFrameTo is IntegrateTo for the frame read from the file name
// (used by a table normalisation, see Reduction.Normalise).
func (ig *Integrator) IntegrateFrameTo(r *Result, img *Image, name string) error {
	return ig.integrateFrame(r, img, 1, name)
}

// integrateFrame sets the frame's normalisation and integrates it.
func (ig *Integrator) integrateFrame(r *Result, img *Image, workers int, name string) error {
	if r == nil {
		return fmt.Errorf("saxs: result was not made by this integrator's NewResult")
	}
	r.norm = 0
	if ig.norm != nil {
		f, err := ig.NormFactor(img, name)
		if err != nil {
			return err
		}
		r.norm = f
	}
	return ig.integrate(r, img, workers)
}

// IntegrateParallelTo is IntegrateTo using up to workers goroutines
// (0 means runtime.GOMAXPROCS(0)) for one image.
func (ig *Integrator) IntegrateParallelTo(r *Result, img *Image, workers int) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return ig.integrateFrame(r, img, workers, "")
}

func (ig *Integrator) integrate(r *Result, img *Image, workers int) error {
	g := &ig.cal.Geometry
	if err := img.check(g.Imagesize[0], g.Imagesize[1]); err != nil {
		return err
	}
	if r == nil || len(r.Curves) != len(ig.curves) || len(r.Slices) != len(ig.slices) ||
		(r.work != nil && len(*r.work) > 0 && len((*r.work)[0]) != len(ig.curves)) {
		return fmt.Errorf("saxs: result was not made by this integrator's NewResult")
	}
	for i, co := range ig.curves {
		ig.integrateCurve(co, i, r, img, workers)
	}
	for i, so := range ig.slices {
		if so.err == nil {
			so.integrate(img, &r.Slices[i])
		}
	}
	return nil
}

// usePyFAIEstimator sets co up for the pyFAI estimator: the counts are
// summed without the per-pixel factors and divided by the sums of the
// divisors.
func (co *curveOp) usePyFAIEstimator() {
	if co.op.corr == nil {
		return // the two estimators are the same
	}
	k := *co.op
	k.corr = nil
	k.code = nil
	k.packCodes()
	co.kernel = &k
	co.den = binDivisors(co.op)
}

// varianceFactors returns the factors g_p of the propagated Poisson
// variance Σ n²·g²·counts (see varianceSums): the per-pixel corrections
// with the mean estimator, none with pyFAI's (whose denominator holds
// them).
func (co *curveOp) varianceFactors() []float64 {
	if co.den != nil {
		return nil
	}
	return co.op.corr
}

func (ig *Integrator) integrateCurve(co *curveOp, ci int, r *Result, img *Image, workers int) {
	op := co.kernel
	c := &r.Curves[ci]
	exact := img.Counts != nil && op.corr == nil
	// The propagated Poisson errors need the variance sums: in the same
	// pass as the float kernel, or from the histogram of the exact one.
	variance := co.red != nil && !co.red.azimuthal && co.red.sigmaClip == 0
	fused := variance && !exact
	main := r.accumulators(ig, 0, ci, exact)
	npix := len(op.bin)
	if fused {
		main.varLanes(op)
	}
	if workers <= 1 {
		accumulate(op, img, exact, fused, main, 0, npix)
	} else {
		ig.accumulateParallel(r, ci, img, exact, fused, workers)
	}
	isum, fsum := main.i, main.f
	empty := math.NaN()
	if ig.legacy {
		empty = 0
	}
	for j := range c.I {
		k := co.first + j
		n := op.count[k]
		if n == 0 {
			c.I[j], c.Sigma[j] = empty, empty
			continue
		}
		var s float64
		if exact {
			s = float64(binSum(op, isum, k))
		} else {
			s = binSum(op, fsum, k)
		}
		var v float64
		if co.den != nil {
			v = s / co.den[k]
		} else {
			v = s / float64(n)
		}
		c.I[j] = v
		c.Sigma[j] = math.Sqrt(v / co.area[j]) // the original's; NaN for negative means
	}
	if cr := co.red; cr != nil {
		switch {
		case cr.sigmaClip > 0:
			sigmaClip(co, c, img, cr.darkImg, cr.sigmaClip, cr.azimuthal, cr.pyfai, cr.dark)
		case cr.azimuthal:
			cr.azimuthalSigma(co, c, img)
		default:
			co.poissonSigma(c, img, r, ci, max(workers, 1), exact)
		}
		cr.apply(c, r.norm)
	}
	c.Params = integralParameters(c.Q, c.I, co.paramStart, co.paramEnd)
}

// poissonSigma sets c.Sigma to the propagated Poisson errors of the frame
// img (see ErrorPoisson) from the variance sums of the integration just
// done into r's accumulators of curve ci by workers workers: the lanes of
// the fused float kernel, or (exact) the histograms of the integer kernel,
// or else a pass of varianceSums.
func (co *curveOp) poissonSigma(c *Curve, img *Image, r *Result, ci, workers int, exact bool) {
	op := co.kernel
	nb := op.nbins + 1
	ws := (*r.work)[:min(workers, len(*r.work))]
	main := &ws[0][ci]
	if len(main.v) != 3*nb {
		main.v = make([]float64, 3*nb)
	}
	v, acc := main.v[:nb], main.v[nb:]
	if co.red.darkVar != nil {
		copy(v, co.red.darkVar)
	} else {
		clear(v)
	}
	switch {
	case !exact: // the fused kernel filled the lanes
		for w := range ws {
			vl := ws[w][ci].vl
			for k := range v {
				v[k] += vl[2*k] + vl[2*k+1]
			}
		}
	case op.code != nil: // the histogram kernel: n² from each (bin, split) cell
		sh, ov2 := op.histShift(), int64(op.ov2)
		for b := range op.nbins {
			var lo, hi int64
			for cnt := range int64(op.ov2) + 1 {
				var h int64
				for w := range ws {
					hw := ws[w][ci].h
					h += hw[b<<sh+int(cnt)] + hw[histFixed+b<<sh+int(cnt)]
				}
				lo += cnt * cnt * h
				hi += (ov2 - cnt) * (ov2 - cnt) * h
			}
			v[b] += float64(lo)
			v[b+1] += float64(hi)
		}
		for i, p := range op.xpix {
			n := float64(op.xcnt[i])
			v[op.xbin[i]] += n * n * float64(img.Counts[p])
		}
	default:
		addVariance(op, op.corr, img, v, acc)
	}
	for j := range c.Sigma {
		k := co.first + j
		n := op.count[k]
		if n == 0 {
			continue // empty, as c.I
		}
		d := float64(n)
		if co.den != nil {
			d = co.den[k]
		}
		c.Sigma[j] = math.Sqrt(v[k]) / d // NaN for a negative variance
	}
}

// varLanes makes s.vl the cleared variance lanes of the fused float kernel
// (see sumFloatVar) for op.
func (s *sums) varLanes(op *Operator) {
	if len(s.vl) != 2*(op.nbins+1) {
		s.vl = make([]float64, 2*(op.nbins+1))
	}
	clear(s.vl)
}

// accumulateParallel splits the pixels among workers goroutines, each with
// its own accumulator, and adds them into worker 0's.
func (ig *Integrator) accumulateParallel(r *Result, ci int, img *Image, exact, fused bool, workers int) {
	op := ig.curves[ci].kernel
	npix := len(op.bin)
	acc := make([]*sums, workers)
	for w := range acc {
		acc[w] = r.accumulators(ig, w, ci, exact)
		if fused {
			acc[w].varLanes(op)
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			accumulate(op, img, exact, fused, acc[w], npix*w/workers, npix*(w+1)/workers)
		}()
	}
	wg.Wait()
	for _, a := range acc[1:] {
		if exact {
			for k := range op.accUsed() {
				acc[0].i[k] += a.i[k]
			}
		} else {
			for k := range op.accUsed() {
				acc[0].f[k] += a.f[k]
			}
		}
	}
}

// accumulate sums the pixels [p0, p1) of img into the bins: exactly in
// integers when exact, otherwise in floating point, with the variance sums
// of the propagated errors in the same pass when fused.
func accumulate(op *Operator, img *Image, exact, fused bool, s *sums, p0, p1 int) {
	switch {
	case exact:
		op.sumCounts(img.Counts, s.i, s.h, p0, p1)
	case fused && img.Counts != nil:
		sumFloatVar(op, img.Counts, s.f, s.vl, p0, p1)
	case fused:
		sumFloatVar(op, img.Values, s.f, s.vl, p0, p1)
	case img.Counts != nil:
		sumFloat(op, img.Counts, s.f, p0, p1)
	default:
		sumFloat(op, img.Values, s.f, p0, p1)
	}
}
