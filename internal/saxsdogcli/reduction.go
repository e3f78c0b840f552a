package saxsdogcli

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/atomicfile"
	"github.com/saxsdog/saxs/internal/batch"
	"github.com/spf13/pflag"
)

// reduction holds the reduction options of the command line (issue 11),
// named after pyFAI's where it has one. Each one overrides the calibration
// key of the same meaning; an option not given leaves the calibration as it
// is.
type reduction struct {
	solidAngle bool
	unit       string
	bins       int
	rng        string // LO:HI
	dark       string
	flat       string
	background string // FILE[:SCALE]
	normalise  string
	chiRange   string // FROM:TO
	cake       string // NQxNCHI
	errorModel string
	estimator  string
	sigmaClip  float64
	poni       string
	azimuthal  int    // NCHI of Phi-mode
	qBand      string // LO:HI
}

// addReductionFlags defines the reduction flags on fs, filling r.
func addReductionFlags(fs *pflag.FlagSet, r *reduction) {
	fs.StringVar(&r.unit, "unit", "q_nm^-1", "radial `UNIT` of the curves: q_nm^-1, q_A^-1, 2th_deg or r_mm (calibration key Reduction.Unit)")
	fs.IntVar(&r.bins, "bins", 0, "`N` radial bins in every curve, overriding the calibration (Reduction.Bins)")
	fs.StringVar(&r.rng, "range", "", "radial range `LO:HI` of every curve in the chosen unit, overriding the calibration (Reduction.Range)")
	fs.StringVar(&r.dark, "dark", "", "subtract the dark frame `FILE` from every frame, pixel by pixel (Reduction.Dark)")
	fs.StringVar(&r.flat, "flat", "", "divide every frame by the flat field `FILE`, pixel by pixel; pixels where it is not positive are masked (Reduction.Flat)")
	fs.StringVar(&r.background, "background", "", "subtract the background `FILE[:SCALE]` (an image reduced like the frames, or a curve .chi/.dat) times SCALE (default 1) from every curve (Reduction.Background)")
	fs.StringVar(&r.normalise, "normalise", "", "divide every curve by the frame's exposure time, monitor or transmission (from its header or the calibration's constants), or by monitor × transmission from a CSV table `exposure|monitor|transmission|TABLE.csv` (frame name, monitor, transmission) (Reduction.Normalise)")
	fs.StringVar(&r.chiRange, "chi-range", "", "integrate only the sector `FROM:TO` of azimuths χ in degrees, pyFAI's convention: 0 along increasing column, +90 along increasing row (down the image as stored) (Reduction.ChiRange)")
	fs.StringVar(&r.cake, "cake", "", "also write each frame's 2-D cake I(radial, χ) of the first mask with `NQxNCHI` bins as a float32 TIFF next to its .chi file (x.chi gives x_cake.tif; rows χ, columns radial) (Reduction.Cake)")
	fs.StringVar(&r.errorModel, "error-model", "poisson", "error of the curves `poisson|azimuthal`: the Poisson error propagated through the corrections, or pyFAI's azimuthal one from the spread of the pixels in each ring (Reduction.ErrorModel; without any reduction option or key, the original's Poisson error)")
	fs.StringVar(&r.estimator, "estimator", "mean", "estimator of the ring means `mean|pyfai`: the original's average of the corrected pixels, or pyFAI's sum of the counts over the sum of the correction factors (Reduction.Estimator)")
	fs.Float64Var(&r.sigmaClip, "sigma-clip", 0, "average each ring with sigma clipping: drop pixels farther than `K` standard deviations from its mean, up to 5 rounds (Reduction.SigmaClip)")
	fs.StringVar(&r.poni, "poni", "", "take the geometry (distance, beam centre, tilt, pixel size, wavelength) from the pyFAI calibration `FILE`.poni; -c supplies the masks, image size and the rest (Reduction.Poni)")
	fs.IntVar(&r.azimuthal, "azimuthal", 0, "write every mask's azimuthal profile I(χ) of the q band (--q-band, or the masks' qStart:qStop) with `NCHI` bins over the full circle or --chi-range instead of I(q); the first column is χ in degrees, pyFAI's integrate_radial (Masks[].Phi-mode, PhiBins)")
	fs.StringVar(&r.qBand, "q-band", "", "the band `LO:HI` of --azimuthal in the radial unit: sets every mask's qStart and qStop, which are also the range of the integral parameters I0, I1, I2")
	fs.BoolVar(&r.solidAngle, "solid-angle", false, "divide each pixel by its solid angle relative to normal incidence, as pyFAI's correctSolidAngle (calibration key Reduction.SolidAngle; default off, as the original)")
}

// apply sets the calibration keys of the reduction flags that were given
// (changed reports which) and checks the result.
func (r *reduction) apply(changed func(string) bool, cal *saxs.Calibration) error {
	if changed == nil {
		return nil
	}
	red := &saxs.Reduction{}
	if cal.Reduction != nil {
		red = cal.Reduction
	}
	if changed("solid-angle") {
		red.SolidAngle = r.solidAngle
	}
	if changed("unit") {
		u, err := saxs.ParseUnit(r.unit)
		if err != nil {
			return fmt.Errorf("--unit: %w", err)
		}
		red.Unit = u
		if u == saxs.UnitQnm {
			red.Unit = ""
		}
	}
	if changed("bins") {
		if r.bins < 1 || r.bins > saxs.MaxBins {
			return fmt.Errorf("--bins must be between 1 and %d, not %d", saxs.MaxBins, r.bins)
		}
		red.Bins = r.bins
	}
	for _, f := range []struct {
		name string
		val  string
		dst  *string
	}{{"dark", r.dark, &red.Dark}, {"flat", r.flat, &red.Flat}, {"poni", r.poni, &red.Poni}} {
		if changed(f.name) {
			p, err := absPath(f.val)
			if err != nil {
				return fmt.Errorf("--%s: %w", f.name, err)
			}
			*f.dst = p
		}
	}
	if changed("background") {
		file, scale := r.background, 1.0
		if i := strings.LastIndexByte(file, ':'); i > 0 {
			if v, err := strconv.ParseFloat(file[i+1:], 64); err == nil {
				file, scale = file[:i], v
			}
		}
		p, err := absPath(file)
		if err != nil {
			return fmt.Errorf("--background: %w", err)
		}
		red.Background = &saxs.Background{File: p, Scale: &scale}
	}
	if changed("normalise") {
		switch r.normalise {
		case saxs.NormaliseExposure, saxs.NormaliseMonitor, saxs.NormaliseTransmission:
			red.Normalise = r.normalise
		default:
			p, err := absPath(r.normalise)
			if err != nil {
				return fmt.Errorf("--normalise: %w", err)
			}
			red.Normalise = p
		}
	}
	if changed("chi-range") {
		lo, hi, err := parsePair(r.chiRange, ":")
		if err != nil {
			return fmt.Errorf("--chi-range %q: %w", r.chiRange, err)
		}
		red.ChiRange = &[2]float64{lo, hi}
	}
	if changed("error-model") {
		red.ErrorModel = r.errorModel // explicit, even "poisson": the errors are propagated
	}
	if changed("estimator") {
		red.Estimator = r.estimator
	}
	if changed("sigma-clip") {
		red.SigmaClip = r.sigmaClip
	}
	if changed("cake") {
		a, b, ok := strings.Cut(strings.ToLower(r.cake), "x")
		nq, err1 := strconv.Atoi(a)
		nchi, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("--cake %q: want NQxNCHI, e.g. 500x72", r.cake)
		}
		red.Cake = &[2]int{nq, nchi}
	}
	if changed("range") {
		lo, hi, err := parsePair(r.rng, ":")
		if err != nil {
			return fmt.Errorf("--range %q: %w", r.rng, err)
		}
		red.Range = &[2]float64{lo, hi}
	}
	if err := r.applyPhiMode(changed, cal); err != nil {
		return err
	}
	if !reflect.DeepEqual(*red, saxs.Reduction{}) || cal.Reduction != nil {
		cal.Reduction = red
	}
	if err := cal.Validate(); err != nil {
		return fmt.Errorf("reduction options: %w", err)
	}
	return nil
}

// applyPhiMode sets the masks' band (--q-band) and Phi-mode (--azimuthal).
func (r *reduction) applyPhiMode(changed func(string) bool, cal *saxs.Calibration) error {
	if changed("q-band") {
		lo, hi, err := parsePair(r.qBand, ":")
		if err != nil {
			return fmt.Errorf("--q-band %q: %w", r.qBand, err)
		}
		if !(lo >= 0 && hi > lo) || math.IsInf(hi, 0) {
			return fmt.Errorf("--q-band %q: need 0 <= LO < HI", r.qBand)
		}
		for i := range cal.Masks {
			cal.Masks[i].QStart, cal.Masks[i].QStop = lo, hi
		}
	}
	if !changed("azimuthal") {
		return nil
	}
	if r.azimuthal < 1 || r.azimuthal > saxs.MaxBins {
		return fmt.Errorf("--azimuthal: NCHI must be between 1 and %d, not %d", saxs.MaxBins, r.azimuthal)
	}
	for i := range cal.Masks {
		m := &cal.Masks[i]
		if !(m.QStop > m.QStart) {
			return fmt.Errorf("--azimuthal needs a q band: give --q-band LO:HI (mask %d of the calibration has qStart %g, qStop %g)", i, m.QStart, m.QStop)
		}
		m.PhiMode, m.PhiBins, m.RadialBins = true, r.azimuthal, nil
	}
	return nil
}

// parsePair parses "A<sep>B" as two numbers.
func parsePair(s, sep string) (float64, float64, error) {
	a, b, ok := strings.Cut(s, sep)
	if !ok {
		return 0, 0, fmt.Errorf("want two numbers separated by %q", sep)
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
	if err != nil {
		return 0, 0, err
	}
	y, err := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if err != nil {
		return 0, 0, err
	}
	return x, y, nil
}

// absPath returns path made absolute against the working folder, so that
// it does not resolve against the calibration's folder; "" is an error.
func absPath(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("empty file name")
	}
	return filepath.Abs(path)
}

// cakeOutput writes the cake of each frame (Reduction.Cake) as a float32
// TIFF next to its first .chi file.
type cakeOutput struct{ ig *saxs.Integrator }

// cakePath returns the cake file of a .chi path.
func cakePath(chi string) string { return strings.TrimSuffix(chi, filepath.Ext(chi)) + "_cake.tif" }

// Paths implements batch.Output.
func (o cakeOutput) Paths(chiPaths []string) []string {
	for _, p := range chiPaths {
		if p != "" {
			return []string{cakePath(p)}
		}
	}
	return nil
}

// Write implements batch.Output.
func (o cakeOutput) Write(f *batch.Frame) error {
	paths := o.Paths(f.ChiPaths)
	if len(paths) == 0 {
		return nil
	}
	c, err := o.ig.CakeFrame(f.Image, f.Path)
	if err != nil {
		return fmt.Errorf("cake: %w", err)
	}
	c.I.Description = fmt.Sprintf("saxs cake of %s: rows chi %g..%g deg (%d), columns %s %g..%g (%d)",
		filepath.Base(f.Path), c.Chi[0], c.Chi[len(c.Chi)-1], len(c.Chi), c.Unit, c.Radial[0], c.Radial[len(c.Radial)-1], len(c.Radial))
	return atomicfile.Write(paths[0], 0o644, func(w io.Writer) error { return saxs.EncodeTIFF(w, c.I) })
}
