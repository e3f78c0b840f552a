package render

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"unicode"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/plotchi"
)

// Size of the curve figure.
const (
	Width  = 8 * vg.Inch
	Height = 6 * vg.Inch
)

// Axis labels and legend entries of the curve figure.
const (
	XLabel       = "q [nm⁻¹]"
	ChiLabel     = "χ [deg]" // the x axis of a Phi-mode curve I(χ)
	YLabel       = "Intensity [counts/pixel]"
	CurveLabel   = "curve"
	StdDevLabel  = "std. deviation"
	PoissonLabel = "Poisson error"
)

// NoDataNote is written across an otherwise empty figure, when no bin has
// a positive intensity.
const NoDataNote = "no positive intensities"

// tiny is the lowest band edge, should the smallest positive intensity be
// subnormal.
const tiny = 1e-300

// Colours: the original's yellow standard deviation band and blue Poisson
// band (half transparent, premultiplied), and a black curve on top.
var (
	stdDevFill  = color.RGBA{R: 0x80, G: 0x6c, B: 0x00, A: 0x80} // #ffd800 at 50 %
	poissonFill = color.RGBA{R: 0x0e, G: 0x35, B: 0x51, A: 0x73} // #1f77b4 at 45 %
	curveColor  = color.RGBA{A: 0xff}
)

// CurvePlot builds the figure of an integrated curve: the points with a
// finite q and I > 0 on a logarithmic intensity axis, joined by a line
// (which skips the bins with I ≤ 0, like the original, and breaks at the
// empty bins, whose I is NaN), over a band of I ± StdDev (the spread of
// the pixel values in the ring) and a band of I ± Sigma (the Poisson
// error). Both bands are clipped below at 1/1000 of the smallest positive
// intensity (the original clipped at 1 count, which hides the bands of
// weak curves); a band point is left out where its error is not a finite
// non-negative number. StdDev and Sigma may be nil.
//
// A curve without any positive intensity gives an empty axis with the
// note [NoDataNote]. Only a nil curve or columns of different lengths are
// errors.
func CurvePlot(c *saxs.ErrorCurve, title string) (*plot.Plot, error) {
	if c == nil {
		return nil, errors.New("render: nil curve")
	}
	n := len(c.Q)
	if len(c.I) != n || c.Sigma != nil && len(c.Sigma) != n || c.StdDev != nil && len(c.StdDev) != n {
		return nil, fmt.Errorf("render: curve %q has columns of different lengths (q %d, I %d, sigma %d, stddev %d)",
			c.Name, n, len(c.I), len(c.Sigma), len(c.StdDev))
	}

	p := plot.New()
	p.Title.Text = cleanText(title)
	p.X.Label.Text = XLabel
	if c.Unit == saxs.UnitChiDeg {
		p.X.Label.Text = ChiLabel
	}
	p.Y.Label.Text = YLabel
	p.Y.Scale = plotchi.LogScale{}
	p.Y.Tick.Marker = plotchi.LogTicks{}
	p.Legend.Top = true

	// The bins shown, and the band floor.
	minPos := math.Inf(1)
	shown := 0
	for k := range n {
		if shows(c.Q[k], c.I[k]) {
			shown++
			minPos = math.Min(minPos, c.I[k])
		}
	}
	if shown == 0 {
		emptyAxes(p, c.Q)
		return p, nil
	}
	floor := math.Max(1e-3*minPos, tiny)

	if c.StdDev != nil {
		p.Add(newBand(c.Q, c.I, c.StdDev, floor, stdDevFill))
	}
	if c.Sigma != nil {
		p.Add(newBand(c.Q, c.I, c.Sigma, floor, poissonFill))
	}
	line := draw.LineStyle{Color: curveColor, Width: vg.Points(1)}
	lines, isolated := curveLines(c.Q, c.I)
	for _, xy := range lines {
		p.Add(plainLine{&plotter.Line{XYs: xy, LineStyle: line}})
	}
	if len(isolated) > 0 {
		p.Add(&plotter.Scatter{XYs: isolated, GlyphStyle: draw.GlyphStyle{
			Color: curveColor, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{},
		}})
	}

	p.Legend.Add(CurveLabel, &plotter.Line{LineStyle: line})
	if c.StdDev != nil {
		p.Legend.Add(StdDevLabel, &band{fill: stdDevFill})
	}
	if c.Sigma != nil {
		p.Legend.Add(PoissonLabel, &band{fill: poissonFill})
	}
	plotchi.FixRange(&p.X, false)
	plotchi.FixRange(&p.Y, true)
	return p, nil
}

// CurveSVG draws the figure of [CurvePlot] as an SVG document of [Width] ×
// [Height] to w. title is normally the image file name.
func CurveSVG(w io.Writer, c *saxs.ErrorCurve, title string) error {
	p, err := CurvePlot(c, title)
	if err != nil {
		return err
	}
	canvas := vgsvg.New(Width, Height)
	p.Draw(draw.New(canvas))
	if _, err := canvas.WriteTo(w); err != nil {
		return fmt.Errorf("render: writing SVG: %w", err)
	}
	return nil
}

// shows reports whether a bin is drawn on the log axis.
func shows(q, i float64) bool {
	return finite(q) && finite(i) && i > 0
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// missing reports whether a bin is a gap that breaks the line: an empty
// bin (NaN) or a non-finite q. Bins with a finite I ≤ 0 are merely not
// shown.
func missing(q, i float64) bool { return !finite(q) || !finite(i) }

// curveLines returns the runs of shown points between gaps; runs of a
// single point are returned as isolated points instead, to be drawn as
// dots.
func curveLines(q, in []float64) (lines []plotter.XYs, isolated plotter.XYs) {
	var run plotter.XYs
	flush := func() {
		switch len(run) {
		case 0:
		case 1:
			isolated = append(isolated, run[0])
		default:
			lines = append(lines, run)
		}
		run = nil
	}
	for k := range q {
		switch {
		case missing(q[k], in[k]):
			flush()
		case in[k] > 0:
			run = append(run, plotter.XY{X: q[k], Y: in[k]})
		}
	}
	flush()
	return lines, isolated
}

// plainLine is a plotter.Line without glyph boxes: the plot does not pad
// its axes by the line width, and it saves the plot from normalizing every
// point of the line again for each padding computation.
type plainLine struct{ line *plotter.Line }

// Plot implements plot.Plotter.
func (l plainLine) Plot(c draw.Canvas, p *plot.Plot) { l.line.Plot(c, p) }

// DataRange implements plot.DataRanger.
func (l plainLine) DataRange() (xmin, xmax, ymin, ymax float64) { return l.line.DataRange() }

// band is a filled area between lower and upper edges over x, made of
// separate polygons where the band has gaps, and of error bars where a
// single point lies between gaps. Unlike plotter.Polygon it draws no
// outline, which keeps the SVG small.
type band struct {
	rings []plotter.XYs
	bars  [][2]plotter.XY // upper and lower end
	fill  color.Color
}

// barWidth is the width of the error bar of an isolated point.
const barWidth = 3 * vg.Millimeter / 2

// newBand returns the band I ± e over the shown bins, both edges clipped
// below at floor. An empty bin, or one whose error is not a finite
// non-negative number, breaks the band; a piece of a single bin becomes an
// error bar.
func newBand(q, in, e []float64, floor float64, fill color.Color) *band {
	b := &band{fill: fill}
	var upper, lower plotter.XYs
	flush := func() {
		if len(upper) == 1 {
			b.bars = append(b.bars, [2]plotter.XY{upper[0], lower[0]})
		}
		if len(upper) >= 2 {
			ring := make(plotter.XYs, 0, 2*len(upper))
			ring = append(ring, upper...)
			for k := len(lower) - 1; k >= 0; k-- {
				ring = append(ring, lower[k])
			}
			b.rings = append(b.rings, ring)
		}
		upper, lower = upper[:0], lower[:0]
	}
	for k := range q {
		if !shows(q[k], in[k]) {
			if missing(q[k], in[k]) {
				flush()
			}
			continue
		}
		hi, lo := in[k]+e[k], in[k]-e[k]
		if !finite(e[k]) || e[k] < 0 || !finite(hi) {
			flush()
			continue
		}
		upper = append(upper, plotter.XY{X: q[k], Y: math.Max(hi, floor)})
		lower = append(lower, plotter.XY{X: q[k], Y: math.Max(lo, floor)})
	}
	flush()
	return b
}

// Plot implements plot.Plotter.
func (b *band) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	var path vg.Path
	for _, ring := range b.rings {
		pts := make([]vg.Point, len(ring))
		for i, xy := range ring {
			pts[i] = vg.Point{X: trX(xy.X), Y: trY(xy.Y)}
		}
		pts = c.ClipPolygonXY(pts)
		if len(pts) < 3 {
			continue
		}
		path.Move(pts[0])
		for _, pt := range pts[1:] {
			path.Line(pt)
		}
		path.Close()
	}
	if len(path) > 0 {
		c.SetColor(b.fill)
		c.Fill(path)
	}
	style := draw.LineStyle{Color: b.fill, Width: barWidth}
	for _, bar := range b.bars {
		pts := []vg.Point{{X: trX(bar[0].X), Y: trY(bar[0].Y)}, {X: trX(bar[1].X), Y: trY(bar[1].Y)}}
		c.StrokeLines(style, c.ClipLinesXY(pts)...)
	}
}

// DataRange implements plot.DataRanger.
func (b *band) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	add := func(xy plotter.XY) {
		xmin, xmax = math.Min(xmin, xy.X), math.Max(xmax, xy.X)
		ymin, ymax = math.Min(ymin, xy.Y), math.Max(ymax, xy.Y)
	}
	for _, ring := range b.rings {
		for _, xy := range ring {
			add(xy)
		}
	}
	for _, bar := range b.bars {
		add(bar[0])
		add(bar[1])
	}
	return xmin, xmax, ymin, ymax
}

// Thumbnail implements plot.Thumbnailer for the legend.
func (b *band) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{c.Min, {X: c.Min.X, Y: c.Max.Y}, c.Max, {X: c.Max.X, Y: c.Min.Y}}
	c.FillPolygon(b.fill, pts)
}

// emptyAxes sets up the axes of a figure without data: q over the finite
// q values if there are any, intensity over [1, 10], with [NoDataNote] in
// the middle.
func emptyAxes(p *plot.Plot, q []float64) {
	p.X.Min, p.X.Max = math.Inf(1), math.Inf(-1)
	for _, v := range q {
		if finite(v) {
			p.X.Min, p.X.Max = math.Min(p.X.Min, v), math.Max(p.X.Max, v)
		}
	}
	p.Y.Min, p.Y.Max = 1, 10
	plotchi.FixRange(&p.X, false)
	style := text.Style{
		Color:   color.Gray{Y: 0x60},
		Font:    p.Title.TextStyle.Font,
		XAlign:  draw.XCenter,
		YAlign:  draw.YCenter,
		Handler: p.Title.TextStyle.Handler,
	}
	// Hidden from the range update of p.Add: the axes are already final.
	p.Add(noRange{&plotter.Labels{
		XYs:       plotter.XYs{{X: (p.X.Min + p.X.Max) / 2, Y: math.Sqrt(10)}},
		Labels:    []string{NoDataNote},
		TextStyle: []text.Style{style},
	}})
}

// noRange hides a plotter's DataRange and GlyphBoxes from the plot.
type noRange struct{ plot.Plotter }

// cleanText makes a file name safe for a figure title: invalid UTF-8,
// control characters and the non-characters U+FFFE and U+FFFF (which XML
// cannot hold) become U+FFFD.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF {
			return '\uFFFD'
		}
		return r
	}, s)
}
