// Package plotchi implements the plotchi command: it plots the scattering
// curves of .chi files (saxsdog's and fit2d's) to an SVG, PNG or PDF file,
// like the original saxsdog's plotchi (SAXS/plotchi.py), with its bugs
// fixed:
//
//   - nothing is clipped by default (the original dropped the last point
//     of every curve unless told otherwise), and --clip 0 keeps every
//     point (the original plotted an empty slice);
//   - two- and three-column text (.xy, pyFAI .dat) is read as data, and
//     the CHIPLOT header is recognised by its content (the original
//     skipped 4 lines of any file, losing data rows of headerless files);
//   - log axes skip non-positive values instead of failing;
//   - NaN points (empty bins) are left out and break the line.
//
// gonum/plot has no twin axes, so --compare draws the relative difference
// in % in a second panel below the absolute difference instead of on a
// right-hand axis.
package plotchi

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/saxsdog/saxs/internal/atomicfile"
)

// Axis labels of the original plotchi.
const (
	xLabel       = "q [1/nm]"
	yLabel       = "Intensity [counts/pixel]"
	diffLabel    = "I − I_ref [counts/pixel]"
	relDiffLabel = "(I − I_ref)/I_ref [%]"
)

// DPI is the resolution of PNG output: a figure of Width × Height pixels
// is Width/DPI × Height/DPI inches in the vector formats.
const DPI = 100

// Options control a figure. The zero value is not useful; start from
// [DefaultOptions].
type Options struct {
	// Compare plots, for each series after the first, its difference to
	// the first (the reference, which is not plotted itself), interpolated
	// at the reference's q values: absolute in the top panel, relative in
	// % in the bottom panel. Skip and Clip are ignored, as in the original.
	Compare bool
	// NoLegend hides the legend.
	NoLegend bool
	// Title is the figure title; empty means the name of the last series.
	Title string
	// Skip drops the first Skip points and Clip the last Clip points of
	// each series.
	Skip, Clip int
	// XScale and YScale are the axis scales. In compare mode YScale applies
	// to the absolute difference; the % panel is always linear.
	XScale, YScale Scale
	// Width and Height are the figure size in pixels at [DPI].
	Width, Height int
}

// DefaultOptions returns the defaults of the plotchi command: linear axes,
// no point dropped (the original's default Clip 1 silently dropped the
// last point of every curve; set Clip to 1 for that), 800 × 600 pixels.
func DefaultOptions() Options {
	return Options{XScale: Linear, YScale: Linear, Width: 800, Height: 600}
}

// Series is one curve to plot.
type Series struct {
	// Name labels the series in the legend (the file name as given).
	Name string
	// Q and I are the scattering vector and intensity; Err is the error
	// column, nil when the file has none.
	Q, I, Err []float64
}

// Format returns the output format for a file name from its suffix: "svg",
// "png" or "pdf" (in any case).
func Format(path string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	switch ext {
	case "svg", "png", "pdf":
		return ext, nil
	}
	return "", fmt.Errorf("%s: unsupported output format %q (want .svg, .png or .pdf)", path, filepath.Ext(path))
}

// WriteFile draws the figure of series to path, in the format given by its
// suffix (see [Format]). The file is replaced atomically.
func WriteFile(path string, series []Series, opt Options) (err error) {
	format, err := Format(path)
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error { return Render(w, format, series, opt) })
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Render draws the figure of series and writes it to w in format ("svg",
// "png" or "pdf").
func Render(w io.Writer, format string, series []Series, opt Options) error {
	if opt.Width <= 0 || opt.Height <= 0 {
		return fmt.Errorf("invalid figure size %d×%d", opt.Width, opt.Height)
	}
	plots, err := Figure(series, opt)
	if err != nil {
		return err
	}
	width := vg.Length(opt.Width) * vg.Inch / DPI
	height := vg.Length(opt.Height) * vg.Inch / DPI
	var c vg.CanvasWriterTo
	switch format {
	case "svg":
		c = vgsvg.New(width, height)
	case "pdf":
		c = vgpdf.New(width, height)
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(DPI))}
	default:
		return fmt.Errorf("unsupported output format %q (want svg, png or pdf)", format)
	}
	dc := draw.New(c)
	if len(plots) == 1 {
		plots[0].Draw(dc)
	} else {
		rows := make([][]*plot.Plot, len(plots))
		for i, p := range plots {
			rows[i] = []*plot.Plot{p}
		}
		tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Millimeter * 2}
		canvases := plot.Align(rows, tiles, dc)
		for i, p := range plots {
			p.Draw(canvases[i][0])
		}
	}
	_, err = c.WriteTo(w)
	return err
}

// Figure builds the plots of the figure: one plot, or in compare mode the
// absolute difference above the relative difference.
func Figure(series []Series, opt Options) ([]*plot.Plot, error) {
	if len(series) == 0 {
		return nil, errors.New("no data to plot")
	}
	if opt.Skip < 0 || opt.Clip < 0 {
		return nil, fmt.Errorf("negative skip (%d) or clip (%d)", opt.Skip, opt.Clip)
	}
	for _, sc := range []*Scale{&opt.XScale, &opt.YScale} {
		if *sc == "" {
			*sc = Linear
		}
		if _, err := ParseScale(string(*sc)); err != nil {
			return nil, err
		}
	}
	for _, s := range series {
		if len(s.I) != len(s.Q) || s.Err != nil && len(s.Err) != len(s.Q) {
			return nil, fmt.Errorf("%s: columns of different lengths", s.Name)
		}
	}
	title := opt.Title
	if title == "" {
		title = series[len(series)-1].Name
	}
	if opt.Compare {
		return compareFigure(series, opt, title)
	}
	return []*plot.Plot{curveFigure(series, opt, title)}, nil
}

func newPlot(title string, xs, ys Scale, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = ylabel
	xs.apply(&p.X)
	ys.apply(&p.Y)
	p.Legend.Top = true
	return p
}

// finish fixes the axis ranges so that every scale can draw them.
func finish(p *plot.Plot, xs, ys Scale) {
	FixRange(&p.X, xs == Log)
	FixRange(&p.Y, ys == Log)
}

func curveFigure(series []Series, opt Options, title string) *plot.Plot {
	p := newPlot(title, opt.XScale, opt.YScale, yLabel)
	for i, s := range series {
		lo, hi := keptRange(len(s.Q), opt.Skip, opt.Clip)
		q, y := s.Q[lo:hi], s.I[lo:hi]
		col := seriesColor(i)
		if s.Err != nil {
			e := s.Err[lo:hi]
			lower := make([]float64, len(q))
			upper := make([]float64, len(q))
			for k := range q {
				lower[k], upper[k] = y[k]-e[k], y[k]+e[k]
				if opt.YScale == Log {
					// The original clipped the band at 0.01; on a log axis
					// that keeps it drawable.
					lower[k] = math.Max(lower[k], 0.01)
					upper[k] = math.Max(upper[k], 0.01)
				}
			}
			addBand(p, q, y, lower, upper, opt.XScale, opt.YScale, withAlpha(col, 0x50))
		}
		style := draw.LineStyle{Color: col, Width: vg.Points(1)}
		addLine(p, q, y, opt.XScale, opt.YScale, style)
		if !opt.NoLegend {
			p.Legend.Add(s.Name, &plotter.Line{LineStyle: style})
		}
	}
	finish(p, opt.XScale, opt.YScale)
	return p
}

// keptRange returns the slice bounds [lo, hi) of the n points left after
// dropping the first skip and the last clip points (empty when they
// overlap). clip 0 keeps the end, unlike the original's [skip:-0].
func keptRange(n, skip, clip int) (lo, hi int) {
	lo = min(skip, n)
	hi = max(lo, n-clip)
	return lo, hi
}

func compareFigure(series []Series, opt Options, title string) ([]*plot.Plot, error) {
	if len(series) < 2 {
		return nil, errors.New("--compare needs a reference and at least one more file")
	}
	ref := series[0]
	abs := newPlot(title, opt.XScale, opt.YScale, diffLabel)
	rel := newPlot("", opt.XScale, Linear, relDiffLabel)
	for i, s := range series[1:] {
		col := seriesColor(i)
		d := make([]float64, len(ref.Q))
		r := make([]float64, len(ref.Q))
		for k, q := range ref.Q {
			d[k] = interp(q, s.Q, s.I) - ref.I[k]
			r[k] = d[k] / ref.I[k] * 100
		}
		style := draw.LineStyle{Color: col, Width: vg.Points(1)}
		addLine(abs, ref.Q, d, opt.XScale, opt.YScale, style)
		addLine(rel, ref.Q, r, opt.XScale, Linear, style)
		if !opt.NoLegend {
			abs.Legend.Add(s.Name, &plotter.Line{LineStyle: style})
		}
	}
	// Both panels share the q range.
	xmin := math.Min(abs.X.Min, rel.X.Min)
	xmax := math.Max(abs.X.Max, rel.X.Max)
	abs.X.Min, rel.X.Min, abs.X.Max, rel.X.Max = xmin, xmin, xmax, xmax
	finish(abs, opt.XScale, opt.YScale)
	finish(rel, opt.XScale, Linear)
	zero := draw.LineStyle{Color: color.Gray{Y: 0x80}, Width: vg.Points(0.5), Dashes: []vg.Length{vg.Points(3), vg.Points(3)}}
	if opt.YScale != Log {
		addZeroLine(abs, zero)
	}
	addZeroLine(rel, zero)
	return []*plot.Plot{abs, rel}, nil
}

// addZeroLine draws y = 0 across the plot's x range (after finish).
func addZeroLine(p *plot.Plot, style draw.LineStyle) {
	if p.Y.Min > 0 || p.Y.Max < 0 {
		return
	}
	l := &plotter.Line{XYs: plotter.XYs{{X: p.X.Min, Y: 0}, {X: p.X.Max, Y: 0}}, LineStyle: style}
	// Hidden from plot.Add's range update: the ranges are already final.
	p.Add(noRange{l})
}

// noRange hides a plotter's DataRange from plot.Add.
type noRange struct{ plot.Plotter }

// interp is numpy.interp for one point: linear interpolation in the
// increasing abscissae xp, clamped to fp's end values outside them; NaN
// when x is NaN or xp is empty.
func interp(x float64, xp, fp []float64) float64 {
	n := len(xp)
	switch {
	case n == 0 || math.IsNaN(x):
		return math.NaN()
	case x <= xp[0]:
		return fp[0]
	case x >= xp[n-1]:
		return fp[n-1]
	}
	// First index with xp[j] > x.
	lo, hi := 0, n-1
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if xp[mid] > x {
			hi = mid
		} else {
			lo = mid
		}
	}
	if xp[hi] == xp[lo] {
		return fp[lo]
	}
	t := (x - xp[lo]) / (xp[hi] - xp[lo])
	return fp[lo] + t*(fp[hi]-fp[lo])
}

// segments splits the indices of the points that the scales can show into
// runs of consecutive points; the lines break at the others.
func segments(n int, ok func(k int) bool) [][2]int {
	var segs [][2]int
	start := -1
	for k := 0; k <= n; k++ {
		if k < n && ok(k) {
			if start < 0 {
				start = k
			}
			continue
		}
		if start >= 0 {
			segs = append(segs, [2]int{start, k})
			start = -1
		}
	}
	return segs
}

func addLine(p *plot.Plot, x, y []float64, xs, ys Scale, style draw.LineStyle) {
	for _, sg := range segments(len(x), func(k int) bool { return xs.keeps(x[k]) && ys.keeps(y[k]) }) {
		xy := make(plotter.XYs, 0, sg[1]-sg[0])
		for k := sg[0]; k < sg[1]; k++ {
			xy = append(xy, plotter.XY{X: x[k], Y: y[k]})
		}
		p.Add(&plotter.Line{XYs: xy, LineStyle: style})
	}
}

// addBand fills the area between lower and upper where the curve y itself
// is shown.
func addBand(p *plot.Plot, x, y, lower, upper []float64, xs, ys Scale, fill color.Color) {
	ok := func(k int) bool {
		return xs.keeps(x[k]) && ys.keeps(y[k]) && ys.keeps(lower[k]) && ys.keeps(upper[k])
	}
	for _, sg := range segments(len(x), ok) {
		ring := make(plotter.XYs, 0, 2*(sg[1]-sg[0]))
		for k := sg[0]; k < sg[1]; k++ {
			ring = append(ring, plotter.XY{X: x[k], Y: upper[k]})
		}
		for k := sg[1] - 1; k >= sg[0]; k-- {
			ring = append(ring, plotter.XY{X: x[k], Y: lower[k]})
		}
		// No outline: a transparent zero-width stroke.
		p.Add(&plotter.Polygon{XYs: []plotter.XYs{ring}, Color: fill, LineStyle: draw.LineStyle{Color: color.Transparent}})
	}
}

// seriesColor is matplotlib's default color cycle ("tab10").
func seriesColor(i int) color.RGBA {
	cycle := [...]uint32{0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf}
	c := cycle[i%len(cycle)]
	return color.RGBA{R: uint8(c >> 16), G: uint8(c >> 8), B: uint8(c), A: 0xff}
}

// withAlpha returns c with opacity a, premultiplied as color.RGBA requires.
func withAlpha(c color.RGBA, a uint8) color.RGBA {
	mul := func(v uint8) uint8 { return uint8(uint16(v) * uint16(a) / 0xff) }
	return color.RGBA{R: mul(c.R), G: mul(c.G), B: mul(c.B), A: a}
}
