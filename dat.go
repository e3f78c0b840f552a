package saxs

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/saxsdog/saxs/internal/atomicfile"
	"github.com/saxsdog/saxs/internal/pyjson"
)

// WriteDat writes c as pyFAI-style text: '#' header lines with the
// calibration (distance and wavelength in metres as pyFAI writes them,
// beam centre, pixel size, tilt, polarization, mask and bins, then the
// whole calibration as JSON on one line), the input file as "# --> source"
// when source is not empty, the column names "q_nm^-1 I sigma" ("chi_deg
// I sigma" for a Phi-mode curve, whose first column is χ in degrees), then
// one row per bin with q [nm⁻¹], I and sigma in exponent form with the
// shortest digits that read back to the same float64 (so the numbers equal
// the .chi's %.18e ones). Empty bins hold "nan". Scripts written for pyFAI output read it, e.g. with
// numpy.loadtxt(path) (unpack=True gives q, I, sigma).
//
// cal may be nil (the calibration lines are then left out); c.Q, c.I and
// c.Sigma must have the same length.
func WriteDat(w io.Writer, cal *Calibration, c *Curve, source string) error {
	buf, err := appendDat(nil, cal, c, source)
	if err != nil {
		return err
	}
	_, err = w.Write(buf)
	return err
}

// WriteDatFile writes c to the file at path (see [WriteDat]), atomically:
// readers see the old file or the complete new one.
func WriteDatFile(path string, cal *Calibration, c *Curve, source string) error {
	buf, err := appendDat(nil, cal, c, source)
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(buf); return err })
	if err != nil {
		return fmt.Errorf("dat %s: %w", path, err)
	}
	return nil
}

func appendDat(buf []byte, cal *Calibration, c *Curve, source string) ([]byte, error) {
	if c == nil {
		return nil, errors.New("dat: nil curve")
	}
	n := len(c.Q)
	if len(c.I) != n || len(c.Sigma) != n {
		return nil, fmt.Errorf("dat: curve %q has %d q values, %d intensities and %d errors", c.Name, n, len(c.I), len(c.Sigma))
	}
	line := func(format string, args ...any) {
		buf = fmt.Appendf(buf, "# "+format+"\n", args...)
	}
	line("== saxs integration (pyFAI-style .dat) ==")
	if cal != nil {
		g := &cal.Geometry
		line("Distance Sample to Detector: %s m", fmtG(g.DetectorDistanceMM/1000))
		line("Wavelength: %s m", fmtG(cal.Wavelength*1e-10))
		if len(g.PixelSizeMicroM) > 0 {
			line("Pixel size: %s m", fmtG(g.PixelSizeMicroM[0]*1e-6))
		}
		line("Beam center (fit2d): X %s pixels from the left edge, Y %s pixels from the bottom edge", fmtG(g.BeamCenter[1]), fmtG(g.BeamCenter[0]))
		line("Tilt (fit2d): tilt %s deg, tilt plane rotation %s deg", fmtG(g.Tilt.TiltAngleDeg), fmtG(g.Tilt.TiltRotDeg))
		line("Image size: %d rows x %d columns", g.Imagesize[0], g.Imagesize[1])
		if p := cal.PolarizationCorrection; p != nil {
			line("Polarization: fraction %s, angle %s deg (pyFAI polarization_factor %s)", fmtG(p.Fraction), fmtG(p.Angle), fmtG(2*p.Fraction-1))
		}
		for i := range cal.Masks {
			if cal.Masks[i].Name == c.Name || len(cal.Masks) == 1 {
				m := &cal.Masks[i]
				line("Mask: %s, oversampling %d, curve %q", m.MaskFile, m.Oversampling, c.Name)
				break
			}
		}
		js, err := pyjson.Marshal(cal.JSON())
		if err != nil {
			return nil, fmt.Errorf("dat: calibration: %w", err)
		}
		buf = append(buf, "# Calibration: "...)
		buf = append(buf, js...)
		buf = append(buf, '\n')
	}
	if source != "" {
		line("--> %s", source)
	}
	if c.Unit == UnitChiDeg { // a Phi-mode curve: χ in degrees
		buf = fmt.Appendf(buf, "#%23s %24s %24s\n", "chi_deg", "I", "sigma")
	} else {
		buf = append(buf, "#                q_nm^-1                        I                    sigma\n"...)
	}
	for k := 0; k < n; k++ {
		buf = appendDatFloat(buf, c.Q[k])
		buf = append(buf, ' ')
		buf = appendDatFloat(buf, c.I[k])
		buf = append(buf, ' ')
		buf = appendDatFloat(buf, c.Sigma[k])
		buf = append(buf, '\n')
	}
	return buf, nil
}

// fmtG formats a header value with 12 significant digits (unit
// conversions such as 172 µm → m do not print rounding noise).
func fmtG(v float64) string { return strconv.FormatFloat(v, 'g', 12, 64) }

// datWidth is the width of a .dat column.
const datWidth = 24

// appendDatFloat appends v right-aligned in datWidth columns, in exponent
// form with the shortest exact digits, with nan, inf and -inf as numpy
// writes and reads them.
func appendDatFloat(buf []byte, v float64) []byte {
	var tmp [32]byte
	var s []byte
	switch {
	case math.IsNaN(v):
		s = append(tmp[:0], "nan"...)
	case math.IsInf(v, 1):
		s = append(tmp[:0], "inf"...)
	case math.IsInf(v, -1):
		s = append(tmp[:0], "-inf"...)
	default:
		s = strconv.AppendFloat(tmp[:0], v, 'e', -1, 64)
	}
	for i := len(s); i < datWidth; i++ {
		buf = append(buf, ' ')
	}
	return append(buf, s...)
}
