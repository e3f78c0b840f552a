package saxs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/saxsdog/saxs/internal/atomicfile"
)

// GISAXS slices: the horizontal and vertical pixel-band averages of the
// original saxsdog 2.0 (its GISAXSSlices.py), on q_y / q_z grids.
//
// A slice averages, without oversampling, the unmasked pixels of a band of
// 2·CutMargin detector rows (Direction "x", the profile over the columns)
// or columns (Direction "y", the profile over the rows) centred on
// CutPosition: one value per column (row), I = S/n and σ = sqrt(S)/n with S
// the sum and n the number of the band's unmasked pixels in that column
// (row), NaN when n = 0. CutPosition counts from the bottom edge of the
// image for "x" (as BeamCenter[0] does) and from the left edge for "y" (as
// BeamCenter[1]): CutPosition = BeamCenter[0] centres an "x" band on the
// beam. The band of an "x" slice is the image rows [R−pos−m, R−pos+m), that
// of a "y" slice the columns [pos−m, pos+m), clipped to the detector.
//
// The grid (see [SliceGrid]) follows the textbook GISAXS wave-vector
// transfer (Renaud, Lazzari, Leroy, Surf. Sci. Rep. 64 (2009) 255):
//
//	q_y = k0·sin(2θ_f)·cos(α_f)      q_z = k0·(sin α_f + sin α_i)
//
// with k0 = 2π/(λ·Å*), α_i the IncidentAngle, 2θ_f the in-plane exit angle
// and α_f = γ − α_i the exit angle above the sample surface, γ being the
// angle above the direct beam (BeamCenter). The detector angles of a pixel
// are taken at its centre, atan(offset·pixel size/distance) along each
// axis (the detector tilt is not used, as in the original). The README
// lists where this differs from the original and from its Python 3 fork.

// Slice directions and planes: the values of SliceConfig.Direction and
// SliceConfig.Plane.
const (
	// SliceX is a horizontal band of rows: the profile over the columns.
	SliceX = "x"
	// SliceY is a vertical band of columns: the profile over the rows.
	SliceY = "y"
	// PlaneInPlane gives the grid q_y.
	PlaneInPlane = "InPlane"
	// PlaneVertical gives the grid q_z.
	PlaneVertical = "Vertical"
)

// NoMaskRef is the SliceConfig.MaskRef that uses no mask: every pixel of
// the band counts.
const NoMaskRef = -1

// The original's column labels of a slice (spacing as in the original),
// and header line 2 of a slice .chi file, their pyjson encoding.
const (
	sliceLabelQz  = "GISAXS Scattering Vector $q_{z} [nm^{-1}]$"
	sliceLabelQy  = "GISAXS Scattering Vector  $ q_{y} [nm^{-1}]$"
	sliceLabelI   = "Intensity (Count/Pixel)"
	sliceLabelErr = "Error Margin"
	sliceLabelsQz = `["` + sliceLabelQz + `", "` + sliceLabelI + `", "` + sliceLabelErr + `"]`
	sliceLabelsQy = `["` + sliceLabelQy + `", "` + sliceLabelI + `", "` + sliceLabelErr + `"]`
)

// SliceConfig is one GISAXS slice of the 2.0 schema's Slices[]: a band of
// pixels averaged across, on a q_y (InPlane) or q_z (Vertical) grid.
type SliceConfig struct {
	// Direction is "x" (a band of rows, the profile over the columns) or
	// "y" (a band of columns, the profile over the rows).
	Direction string `json:"Direction" jsonschema:"enum=x,enum=y,default=x,description=x: horizontal band (profile over the columns); y: vertical band (profile over the rows)"`
	// Plane is "InPlane" (grid q_y) or "Vertical" (grid q_z).
	Plane string `json:"Plane" jsonschema:"enum=InPlane,enum=Vertical,default=InPlane,description=InPlane: q_y grid; Vertical: q_z grid"`
	// CutPosition is the centre of the band in pixels: from the bottom
	// edge for Direction x, from the left edge for y. The original's
	// schema default, the string "0", is read as 0.
	CutPosition int `json:"CutPosition" jsonschema:"default=0,description=Band centre in pixels (x: from the bottom edge; y: from the left edge)"`
	// CutMargin is the half width of the band: it holds 2·CutMargin rows
	// (columns).
	CutMargin int `json:"CutMargin" jsonschema:"default=1,description=Half width of the band in pixels (the band is 2*CutMargin wide)"`
	// IncidentAngle is the grazing angle of incidence α_i in degrees.
	IncidentAngle float64 `json:"IncidentAngle" jsonschema:"default=0,description=Incident angle in degrees"`
	// MaskRef is the index of the mask in Masks whose masked pixels are
	// left out, or -1 for no mask.
	MaskRef int `json:"MaskRef" jsonschema:"minimum=-1,default=0,description=Index into Masks of the mask to apply; -1: no mask"`
}

// slicePointer returns the JSON pointer of slice i, with field appended
// when not empty.
func slicePointer(i int, field string) string {
	p := "/Slices/" + strconv.Itoa(i)
	if field != "" {
		p += "/" + field
	}
	return p
}

// validateSlices adds the problems of the Slices that need no geometry
// beyond the calibration's numbers.
func (c *Calibration) validateSlices(bad func(path, format string, args ...any), finite func(string, float64) bool) {
	if len(c.Slices) == 0 {
		return
	}
	if c.gen == Flat {
		bad("/Slices", "slices need the 2.0 schema (Geometry, Masks)")
		return
	}
	if ps := c.Geometry.PixelSizeMicroM; len(ps) > 1 {
		p := c.geometryPointer() + "/PixelSizeMicroM/1"
		if finite(p, ps[1]) && (ps[1] < MinPixelMicroM || ps[1] > MaxPixelMicroM) {
			bad(p, "pixel size must be between %g and %g µm, got %g", float64(MinPixelMicroM), float64(MaxPixelMicroM), ps[1])
		}
	}
	for i := range c.Slices {
		s := &c.Slices[i]
		if s.Direction != SliceX && s.Direction != SliceY {
			bad(slicePointer(i, "Direction"), `direction must be "x" or "y", got %q`, s.Direction)
		}
		if s.Plane != PlaneInPlane && s.Plane != PlaneVertical {
			bad(slicePointer(i, "Plane"), `plane must be "InPlane" or "Vertical", got %q`, s.Plane)
		}
		if finite(slicePointer(i, "IncidentAngle"), s.IncidentAngle) && math.Abs(s.IncidentAngle) >= 90 {
			bad(slicePointer(i, "IncidentAngle"), "incident angle must be between -90 and 90 degrees, got %g", s.IncidentAngle)
		}
		if s.MaskRef < NoMaskRef || s.MaskRef >= len(c.Masks) {
			bad(slicePointer(i, "MaskRef"), "mask reference must be -1 (no mask) or the index of one of the %d masks (0 to %d), got %d",
				len(c.Masks), len(c.Masks)-1, s.MaskRef)
		}
		if abs := math.Abs(float64(s.CutPosition)); abs > MaxBeamCenter {
			bad(slicePointer(i, "CutPosition"), "cut position must be within %g pixels of the image corner, got %d", float64(MaxBeamCenter), s.CutPosition)
		}
		if s.CutMargin > 1<<16 {
			bad(slicePointer(i, "CutMargin"), "cut margin must be at most 65536 pixels, got %d", s.CutMargin)
		}
	}
}

// legacySliceNumbers returns a copy of a decoded 2.0 calibration in which a
// CutPosition or CutMargin given as a string of an integer (the original
// schema's default of CutPosition is the string "0") is that number, and
// the paths it changed; v itself is not modified.
func legacySliceNumbers(v any) (any, []string) {
	obj, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	list, ok := obj["Slices"].([]any)
	if !ok {
		return v, nil
	}
	var changed []string
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
		m, ok := s.(map[string]any)
		if !ok {
			continue
		}
		var cp map[string]any
		for _, key := range []string{"CutPosition", "CutMargin"} {
			str, ok := m[key].(string)
			if !ok {
				continue
			}
			if _, err := strconv.ParseInt(strings.TrimSpace(str), 10, 32); err != nil {
				continue // left to the schema, which names the field
			}
			if cp == nil {
				cp = maps.Clone(m)
			}
			cp[key] = json.Number(strings.TrimSpace(str))
			changed = append(changed, slicePointer(i, key))
		}
		if cp != nil {
			out[i] = cp
		}
	}
	if changed == nil {
		return v, nil
	}
	root := maps.Clone(obj)
	root["Slices"] = out
	return root, changed
}

// SliceGrid returns the x axis of slice i of cal in nm⁻¹, one value per
// column (Direction x) or row (Direction y) of the detector, by the
// formulas of the package's slice documentation. With R rows, C columns,
// BeamCenter [b0, b1], pixel sizes px0 (PixelSizeMicroM[0], the row axis)
// and px1 (PixelSizeMicroM[1], or [0] when absent, the column axis) in mm,
// distance d, k0 = 2π/(λ·Å*), α_i = IncidentAngle, pos = CutPosition:
//
//	v(i) = (R − b0 − i − 0.5)·px0   height of row i's centre above the beam
//	h(j) = (j + 0.5 − b1)·px1       column j's centre right of the beam
//	Vertical, y:  q_z(i) = k0·(sin(atan(v(i)/d) − α_i) + sin α_i)
//	Vertical, x:  q_z(j) = k0·(sin(atan(h(j)/d) − α_i) + sin α_i)
//	InPlane, x:   q_y(j) = k0·sin(atan(h(j)/d))·cos(atan((pos − b0)·px0/d) − α_i)
//	InPlane, y:   q_y(i) = k0·sin(atan(−v(i)/d))·cos(atan((pos − b1)·px1/d) − α_i)
//
// A Vertical x or InPlane y slice is for a sample whose surface is
// vertical: the detector's "up" is then to the right. The InPlane y grid
// grows downwards, as the original's. cal must be valid.
func SliceGrid(cal *Calibration, i int) []float64 {
	g := &cal.Geometry
	s := &cal.Slices[i]
	rows, cols := g.Imagesize[0], g.Imagesize[1]
	b0, b1 := g.BeamCenter[0], g.BeamCenter[1]
	px0 := g.PixelSizeMicroM[0] * 1e-3
	px1 := px0
	if len(g.PixelSizeMicroM) > 1 {
		px1 = g.PixelSizeMicroM[1] * 1e-3
	}
	d := g.DetectorDistanceMM
	k0 := 2 * math.Pi / (cal.Wavelength * AngstromStar)
	ai := s.IncidentAngle / 180 * math.Pi
	pos := float64(s.CutPosition)
	var n int
	var off func(k int) float64 // offset of pixel k along the profile, in mm
	if s.Direction == SliceX {
		n = cols
		off = func(j int) float64 { return (float64(j) + 0.5 - b1) * px1 }
	} else {
		n = rows
		off = func(i int) float64 { return (float64(rows) - b0 - float64(i) - 0.5) * px0 }
	}
	q := make([]float64, n)
	switch {
	case s.Plane == PlaneVertical:
		for k := range q {
			q[k] = k0 * (math.Sin(math.Atan(off(k)/d)-ai) + math.Sin(ai))
		}
	case s.Direction == SliceX:
		cosAf := math.Cos(math.Atan((pos-b0)*px0/d) - ai)
		for k := range q {
			q[k] = k0 * math.Sin(math.Atan(off(k)/d)) * cosAf
		}
	default:
		cosAf := math.Cos(math.Atan((pos-b1)*px1/d) - ai)
		for k := range q {
			q[k] = k0 * math.Sin(math.Atan(-off(k)/d)) * cosAf
		}
	}
	return q
}

// sliceOp is the operator of one slice: the band's unmasked pixels per bin.
type sliceOp struct {
	name   string
	labels string    // header line 2 of its .chi file
	q      []float64 // the grid, one per bin
	area   []float64 // unmasked pixels per bin
	off    []int32   // pixels of bin b: pix[off[b]:off[b+1]]
	pix    []int32
	err    error // why the slice is not computed (then the fields above are empty)
}

// newSliceOp builds the operator of slice i; masks are the calibration's
// masks as New uses them. A slice that cannot be computed (its band outside
// the detector, without pixels, or entirely masked) gets err, a
// *CalibrationError naming the field, and warn says so; a band partly
// outside the detector is clipped, with a warning.
func newSliceOp(cal *Calibration, i int, masks []*Mask, warn func(string)) *sliceOp {
	s := &cal.Slices[i]
	so := &sliceOp{name: fmt.Sprintf("S%d", len(cal.Masks)+i), labels: sliceLabelsQy}
	if s.Plane == PlaneVertical {
		so.labels = sliceLabelsQz
	}
	fail := func(field, format string, args ...any) *sliceOp {
		so.err = &CalibrationError{File: cal.name(), Path: slicePointer(i, field), Msg: fmt.Sprintf(format, args...)}
		warn(so.err.Error() + "; the slice is not computed")
		return so
	}
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	if s.CutMargin < 1 {
		return fail("CutMargin", "a band of 2·CutMargin = %d pixels holds no pixels (CutMargin must be at least 1)", 2*s.CutMargin)
	}
	// The band, in image rows (x) or columns (y): [lo, hi).
	across, what, edge := rows, "rows", "bottom"
	lo, hi := rows-s.CutPosition-s.CutMargin, rows-s.CutPosition+s.CutMargin
	if s.Direction == SliceY {
		across, what, edge = cols, "columns", "left"
		lo, hi = s.CutPosition-s.CutMargin, s.CutPosition+s.CutMargin
	}
	if hi <= 0 || lo >= across {
		return fail("CutPosition", "the band of %d %s at %d ± %d pixels from the %s edge lies outside the detector's %d %s",
			2*s.CutMargin, what, s.CutPosition, s.CutMargin, edge, across, what)
	}
	if lo < 0 || hi > across {
		warn(fmt.Sprintf("%s: %s: the band at %d ± %d pixels from the %s edge reaches beyond the detector's %d %s: only the %d %s inside are used",
			cal.name(), slicePointer(i, "CutPosition"), s.CutPosition, s.CutMargin, edge, across, what, min(hi, across)-max(lo, 0), what))
		lo, hi = max(lo, 0), min(hi, across)
	}
	var mask *Mask
	if s.MaskRef != NoMaskRef {
		mask = masks[s.MaskRef]
	}
	masked := func(p int) bool { return mask != nil && mask.Masked[p] }
	n := cols
	if s.Direction == SliceY {
		n = rows
	}
	so.off = make([]int32, n+1)
	so.area = make([]float64, n)
	so.pix = make([]int32, 0, n*(hi-lo))
	for b := range n {
		for a := lo; a < hi; a++ {
			p := a*cols + b // x: row a, column b
			if s.Direction == SliceY {
				p = b*cols + a // y: row b, column a
			}
			if !masked(p) {
				so.pix = append(so.pix, int32(p))
			}
		}
		so.off[b+1] = int32(len(so.pix))
		so.area[b] = float64(so.off[b+1] - so.off[b])
	}
	if len(so.pix) == 0 {
		so.off, so.area, so.pix = nil, nil, nil
		return fail("MaskRef", "every pixel of the band (%s %d to %d) is masked by Masks[%d]", what, lo, hi-1, s.MaskRef)
	}
	so.q = SliceGrid(cal, i)
	return so
}

// integrate computes the slice of img into c: sums in int64 for integer
// frames, in pixel order otherwise.
func (so *sliceOp) integrate(img *Image, c *Curve) {
	for b := range c.I {
		ps := so.pix[so.off[b]:so.off[b+1]]
		if len(ps) == 0 {
			c.I[b], c.Sigma[b] = math.NaN(), math.NaN()
			continue
		}
		var s float64
		if img.Counts != nil {
			var t int64
			for _, p := range ps {
				t += int64(img.Counts[p])
			}
			s = float64(t)
		} else {
			for _, p := range ps {
				s += img.Values[p]
			}
		}
		n := float64(len(ps))
		c.I[b] = s / n
		c.Sigma[b] = math.Sqrt(s) / n // the original's; NaN for a negative sum
	}
}

// NumSlices returns the number of slices of the calibration, including
// those that are not computed (see SliceErrors).
func (ig *Integrator) NumSlices() int { return len(ig.slices) }

// SliceErrors returns, for each slice of the calibration, why it is not
// computed, or nil: a *CalibrationError naming the field (its band lies
// outside the detector, holds no pixels, or is entirely masked). Such a
// slice has an empty curve in every Result and no .chi file; the other
// curves are computed as usual. The slice is the caller's.
func (ig *Integrator) SliceErrors() []error {
	out := make([]error, len(ig.slices))
	for i, so := range ig.slices {
		out[i] = so.err
	}
	return out
}

// SliceLabels returns the column labels of slice i's .chi file (see
// SliceColumnLabels).
func (ig *Integrator) SliceLabels(i int) [3]string { return SliceColumnLabels(ig.cal.Slices[i].Plane) }

// SliceColumnLabels returns the column labels of a slice of the plane
// ("InPlane" or "Vertical"): the grid (q_y or q_z), the intensity and the
// error, as the original names them in the .chi header and the server's
// plot reply.
func SliceColumnLabels(plane string) [3]string {
	if plane == PlaneVertical {
		return [3]string{sliceLabelQz, sliceLabelI, sliceLabelErr}
	}
	return [3]string{sliceLabelQy, sliceLabelI, sliceLabelErr}
}

// SlicePaths returns the .chi files of the slices for path:
// <base>_cS<n>.chi with n = NumCurves()+i for slice i (the original's
// naming: n counts the masks first), base being path without its
// extension; an entry is "" for a slice that is not computed.
func (ig *Integrator) SlicePaths(path string) []string {
	if len(ig.slices) == 0 {
		return nil
	}
	base := strings.TrimSuffix(path, filepath.Ext(path))
	out := make([]string, len(ig.slices))
	for i, so := range ig.slices {
		if so.err == nil {
			out[i] = fmt.Sprintf("%s_cS%d.chi", base, len(ig.curves)+i)
		}
	}
	return out
}

// writeSliceChi writes a slice as the original 2.0 writes it (numpy
// savetxt as in WriteChi) with the header
//
//	<calibration as JSON>
//	[<grid label>, "Intensity (Count/Pixel)", "Error Margin"]
//	Intensity
//	   <row count>
func writeSliceChi(w io.Writer, header []byte, labels string, c *Curve) error {
	if c == nil {
		return errors.New("chi: nil slice")
	}
	n := len(c.Q)
	if len(c.I) != n || len(c.Sigma) != n {
		return fmt.Errorf("chi: slice %q has %d q values, %d intensities and %d errors", c.Name, n, len(c.I), len(c.Sigma))
	}
	buf := make([]byte, 0, chiBufSize)
	buf = append(buf, header...)
	buf = append(buf, '\n')
	buf = append(buf, labels...)
	buf = append(buf, "\nIntensity\n   "...)
	return writeChiRows(w, buf, c)
}

// WriteSliceChi writes slice i of r (from this integrator) as a .chi file
// in the original 2.0 slice layout: header line 1 the calibration as
// WriteChi writes it, line 2 the column labels (see SliceLabels), line 3
// "Intensity", line 4 the row count, then the rows grid, I, σ.
func (ig *Integrator) WriteSliceChi(w io.Writer, r *Result, i int) error {
	if r == nil || i < 0 || i >= len(r.Slices) || i >= len(ig.slices) {
		return fmt.Errorf("chi: no slice %d in the result", i)
	}
	return writeSliceChi(w, ig.header, ig.slices[i].labels, &r.Slices[i])
}

// writeSliceChis writes the computed slices of r to paths (SlicePaths).
func (ig *Integrator) writeSliceChis(r *Result, paths []string) error {
	for i, p := range paths {
		if p == "" {
			continue
		}
		so := ig.slices[i]
		err := atomicfile.Write(p, 0o644, func(w io.Writer) error { return writeSliceChi(w, ig.header, so.labels, &r.Slices[i]) })
		if err != nil {
			return fmt.Errorf("chi %s: %w", p, err)
		}
	}
	return nil
}
