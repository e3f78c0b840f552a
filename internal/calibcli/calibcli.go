// Package calibcli is the saxscalib command: it finds the detector
// geometry from one frame of a calibrant (saxs.Calibrate) and writes it as
// a 2.0 calibration, optionally a .poni file and a picture of the fitted
// rings.
package calibcli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/atomicfile"
	"github.com/saxsdog/saxs/internal/cli"
	"github.com/saxsdog/saxs/internal/converter"
	"github.com/saxsdog/saxs/internal/render"
)

const prog = "saxscalib"

const usageHead = `Usage: saxscalib --calibrant NAME|FILE [--wavelength Å] [--pixel-size µm] [--mask FILE]
                 [--distance MM] [--center Y,X] [-c TEMPLATE.json] -o CAL.json
                 [--poni OUT.poni] [--plot RINGS.png] FRAME

Finds the detector geometry (distance, beam centre, tilt, tilt plane rotation)
from one frame of a calibrant and writes it as a 2.0 calibration. The beam
centre is found from the rings' symmetry and the distance from their radii,
unless --center or --distance say; control points along each ring are refined
by least squares on their 2θ. It prints the refined values with one standard
deviation and the residual of each ring, and exits with status 1, writing
nothing, when no rings are found or the fit does not converge.

Calibrants: AgBh (silver behenate, d001 58.380 Å), LaB6 (NIST SRM 660c), CeO2
(SRM 674b), Si (SRM 640e), Al2O3 (corundum), or a file of d-spacings in Å, one
per line (# comments; pyFAI's .D files read too).

The calibration keeps every value of TEMPLATE except the geometry and the
wavelength; without a template it has the 2.0 defaults with Imagesize from the
frame and MaskFile --mask (without --mask, a fit2d mask of the frame's negative
pixels is written next to CAL.json as CAL_mask.msk). --wavelength and
--pixel-size default to the frame header's values.

Options:
`

// maxTemplate bounds a template calibration.
const maxTemplate = 16 << 20

// Main runs saxscalib with args (without the program name) and returns the
// exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	var (
		calibrant, mask, template, out, poni, plot, center string
		wavelength, pixel, distance                        float64
		refineWL, silent                                   bool
	)
	cmd := cli.New(prog, nil)
	fl := cmd.Flags
	cmd.Help = func() string { return usageHead + cli.FlagUsages(fl) }
	fl.StringVar(&calibrant, "calibrant", "", "the calibrant: AgBh, LaB6, CeO2, Si, Al2O3 or a `FILE` of d-spacings (Å)")
	fl.Float64Var(&wavelength, "wavelength", 0, "wavelength in `Å` (default: the frame header's)")
	fl.Float64Var(&pixel, "pixel-size", 0, "pixel size in `µm` (default: the frame header's)")
	fl.StringVar(&mask, "mask", "", "mask `FILE` (fit2d .msk, TIFF or PNG; nonzero = masked)")
	fl.Float64Var(&distance, "distance", 0, "approximate sample-detector distance in `MM` (default: found from the rings)")
	fl.StringVar(&center, "center", "", "approximate beam centre `Y,X` in pixels, Y from the bottom as in BeamCenter (default: found)")
	fl.StringVarP(&template, cli.FlagCalibration, "c", "", "start from the calibration `TEMPLATE.json` (0.3.0 or 2.0): its values are kept but the geometry")
	fl.StringVarP(&out, cli.FlagOut, "o", "", "write the calibration to `FILE` (required)")
	fl.StringVar(&poni, "poni", "", "also write the geometry as a pyFAI .poni `FILE`")
	fl.StringVar(&plot, "plot", "", "draw the frame with the fitted rings and control points into a PNG `FILE`")
	fl.BoolVar(&refineWL, "refine-wavelength", false, "also refine the wavelength (needs rings at wide angles)")
	fl.BoolVarP(&silent, cli.FlagSilent, "S", false, "print only errors")
	if done, code := cmd.Parse(args, stdout, stderr); done {
		return code
	}
	switch {
	case fl.NArg() != 1:
		return cmd.UsageError(stderr, "need one FRAME, got %d arguments", fl.NArg())
	case calibrant == "":
		return cmd.UsageError(stderr, "--calibrant is required (AgBh, LaB6, CeO2, Si, Al2O3 or a file)")
	case out == "":
		return cmd.UsageError(stderr, "--out (-o) is required")
	case wavelength < 0, pixel < 0, distance < 0:
		return cmd.UsageError(stderr, "--wavelength, --pixel-size and --distance must be positive")
	}
	start := saxs.CalibrateStart{DistanceMM: distance}
	if center != "" {
		y, x, ok := strings.Cut(center, ",")
		fy, e1 := strconv.ParseFloat(strings.TrimSpace(y), 64)
		fx, e2 := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if !ok || e1 != nil || e2 != nil {
			return cmd.UsageError(stderr, "--center wants Y,X in pixels, got %q", center)
		}
		start.BeamCenter, start.HasCenter = [2]float64{fy, fx}, true
	}
	framePath := fl.Arg(0)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return cli.ExitError
	}
	info := func(format string, a ...any) {
		if !silent {
			fmt.Fprintf(stderr, "%s: "+format+"\n", append([]any{prog}, a...)...)
		}
	}

	cal, err := saxs.CalibrantByName(calibrant)
	if err != nil {
		if _, serr := os.Stat(calibrant); serr != nil {
			return cmd.UsageError(stderr, "%v", err)
		}
		if cal, err = saxs.ReadCalibrantFile(calibrant); err != nil {
			return fail(err)
		}
	}
	src, err := saxs.OpenFrames(framePath)
	if err != nil {
		return fail(err)
	}
	var img saxs.Image
	err = src.ReadFrame(0, &img)
	hdr := src.Info(0)
	src.Close()
	if err != nil {
		return fail(err)
	}
	if wavelength == 0 {
		if wavelength = hdr.Wavelength; wavelength == 0 {
			return cmd.UsageError(stderr, "%s has no wavelength in its header: give --wavelength", framePath)
		}
		info("wavelength %g Å from the header of %s", wavelength, framePath)
	}
	if pixel == 0 {
		if pixel = hdr.PixelSize[0] * 1e6; pixel == 0 {
			return cmd.UsageError(stderr, "%s has no pixel size in its header: give --pixel-size", framePath)
		}
		info("pixel size %g µm from the header of %s", pixel, framePath)
	}

	// The starting document and the mask.
	var doc *converter.Document
	var m, maskData *saxs.Mask
	var maskOut string // the mask of negative pixels to write, if any
	if template != "" {
		data, err := cli.ReadFile(template, maxTemplate)
		if err != nil {
			return fail(fmt.Errorf("template: %w", err))
		}
		if doc, err = converter.ParseDocument(data, template); err != nil {
			return fail(fmt.Errorf("template: %w", err))
		}
		if doc.Generation() != saxs.Nested {
			if doc, _, err = doc.Convert(saxs.Nested); err != nil {
				return fail(fmt.Errorf("template: %w", err))
			}
		}
	} else {
		doc = converter.DefaultDocument(saxs.Nested)
	}
	if mask != "" {
		if m, err = saxs.OpenMask(mask); err != nil {
			return fail(err)
		}
		if m.Rows != img.Rows || m.Cols != img.Cols {
			return fail(fmt.Errorf("%s is %d×%d pixels, the frame %d×%d", mask, m.Rows, m.Cols, img.Rows, img.Cols))
		}
		doc.SetMaskFile(relativeTo(filepath.Dir(out), mask))
	} else if template == "" {
		mp := strings.TrimSuffix(out, filepath.Ext(out)) + "_mask.msk"
		neg := &saxs.Mask{Rows: img.Rows, Cols: img.Cols, Masked: make([]bool, img.Len())}
		for i := range neg.Masked {
			v := 0.0
			if img.Counts != nil {
				v = float64(img.Counts[i])
			} else {
				v = img.Values[i]
			}
			neg.Masked[i] = !(v >= 0)
		}
		m = neg
		doc.SetMaskFile(filepath.Base(mp))
		maskOut = mp
		maskData = neg
	}

	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := saxs.Calibrate(ctx, &img, saxs.CalibrateOptions{Calibrant: cal, Wavelength: wavelength, PixelSize: pixel,
		Mask: m, Start: start, RefineWavelength: refineWL})
	if err != nil {
		return fail(fmt.Errorf("%s: %w (nothing written)", framePath, err))
	}
	el := time.Since(t0)

	doc.SetGeometry(res.Geometry, res.Wavelength)
	data, calib, err := doc.Calibration(out)
	if err != nil {
		return fail(err)
	}
	if !silent {
		report(stdout, framePath, cal, res, el)
	}
	if maskOut != "" {
		var b bytes.Buffer
		if err := saxs.EncodeFit2DMask(&b, maskData); err != nil {
			return fail(err)
		}
		if err := atomicfile.WriteFile(maskOut, b.Bytes(), 0o644); err != nil {
			return fail(err)
		}
		info("wrote %s (the frame's %d negative pixels)", maskOut, maskData.Count())
	}
	if err := atomicfile.WriteFile(out, data, 0o644); err != nil {
		return fail(err)
	}
	info("wrote %s", out)
	if poni != "" {
		if err := atomicfile.Write(poni, 0o644, func(w io.Writer) error { return saxs.PoniFromCalibration(calib).Write(w) }); err != nil {
			return fail(err)
		}
		info("wrote %s", poni)
	}
	if plot != "" {
		if err := atomicfile.Write(plot, 0o644, func(w io.Writer) error { return render.CalibrationPNG(w, &img, m, res) }); err != nil {
			return fail(err)
		}
		info("wrote %s", plot)
	}
	return cli.ExitOK
}

// relativeTo returns path relative to dir when it can, else path made
// absolute.
func relativeTo(dir, path string) string {
	ad, e1 := filepath.Abs(dir)
	ap, e2 := filepath.Abs(path)
	if e1 != nil || e2 != nil {
		return path
	}
	if r, err := filepath.Rel(ad, ap); err == nil {
		return r
	}
	return ap
}

// report prints the refined values with their standard deviations and
// the residual of each ring.
func report(w io.Writer, frame string, cal *saxs.Calibrant, res *saxs.CalibrationResult, el time.Duration) {
	g, s := res.Geometry, res.Sigma
	fmt.Fprintf(w, "%s: %s, %d rings, %d control points, %.2f s\n", frame, cal.Name, len(res.Rings), len(res.Points), el.Seconds())
	fmt.Fprintf(w, "distance        %10.3f ± %.3f mm\n", g.DetectorDistanceMM, s.DistanceMM)
	fmt.Fprintf(w, "beam centre Y   %10.3f ± %.3f px (from the bottom edge)\n", g.BeamCenter[0], s.BeamCenter[0])
	fmt.Fprintf(w, "beam centre X   %10.3f ± %.3f px\n", g.BeamCenter[1], s.BeamCenter[1])
	fmt.Fprintf(w, "tilt            %10.4f ± %.4f°\n", g.Tilt.TiltAngleDeg, s.TiltAngleDeg)
	fmt.Fprintf(w, "tilt rotation   %10.2f ± %.2f°\n", g.Tilt.TiltRotDeg, s.TiltRotDeg)
	if s.Wavelength > 0 {
		fmt.Fprintf(w, "wavelength      %10.6f ± %.6f Å\n", res.Wavelength, s.Wavelength)
	} else {
		fmt.Fprintf(w, "wavelength      %10.6f Å (fixed)\n", res.Wavelength)
	}
	fmt.Fprintf(w, "ring  d [Å]      2θ [°]   points  RMS Δ2θ [°]\n")
	for _, r := range res.Rings {
		fmt.Fprintf(w, "%4d  %9.5f  %8.4f  %6d  %.3e\n", r.Ring+1, r.D, r.TwoThetaDeg, r.Points, r.RMSDeg)
	}
	fmt.Fprintf(w, "all                         %6d  %.3e\n", len(res.Points), res.RMSDeg)
}
