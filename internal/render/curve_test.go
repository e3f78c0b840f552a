package render

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/saxsdog/saxs"
)

// testCurve returns an n-bin curve like a SAXS pattern: a Guinier decay on
// a flat background, the first bins empty (beam stop), the Poisson error of
// a ring of 100 pixels and a 30 % spread of the pixel values.
func testCurve(n int) *saxs.ErrorCurve {
	c := &saxs.ErrorCurve{Curve: saxs.Curve{Name: "R0"}}
	for k := range n {
		q := 0.05 + 3*float64(k)/float64(max(n, 1))
		i := 1e4*math.Exp(-q*q*4) + 0.5
		s, sd := math.Sqrt(i/100), 0.3*i
		if k < n/50 {
			i, s, sd = math.NaN(), math.NaN(), math.NaN()
		}
		c.Q = append(c.Q, q)
		c.I = append(c.I, i)
		c.Sigma = append(c.Sigma, s)
		c.StdDev = append(c.StdDev, sd)
	}
	return c
}

// parseSVG checks that b is well-formed XML with an <svg> root element and
// returns its character data.
func parseSVG(t *testing.T, b []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var text strings.Builder
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	if root != "svg" {
		t.Fatalf("root element is %q, want svg", root)
	}
	return text.String()
}

func TestCurveSVG(t *testing.T) {
	var buf bytes.Buffer
	title := "data/buf1 & <sample>_00001.tif"
	if err := CurveSVG(&buf, testCurve(300), title); err != nil {
		t.Fatal(err)
	}
	text := parseSVG(t, buf.Bytes())
	for _, want := range []string{title, XLabel, YLabel, CurveLabel, StdDevLabel, PoissonLabel} {
		if !strings.Contains(text, want) {
			t.Errorf("SVG text lacks %q", want)
		}
	}
	if strings.Contains(text, NoDataNote) {
		t.Errorf("SVG of a good curve has the note %q", NoDataNote)
	}
	// 8 × 6 inches.
	if !bytes.Contains(buf.Bytes(), []byte(`width="576pt" height="432pt"`)) {
		t.Errorf("SVG is not 576 × 432 pt:\n%.300s", buf.String())
	}
}

func TestCurvePlotAxes(t *testing.T) {
	c := testCurve(100)
	p, err := CurvePlot(c, "x.tif")
	if err != nil {
		t.Fatal(err)
	}
	minPos, maxI := math.Inf(1), 0.0
	for _, v := range c.I {
		if v > 0 {
			minPos, maxI = math.Min(minPos, v), math.Max(maxI, v)
		}
	}
	// The bands reach below the curve, but not below the clip floor.
	if p.Y.Min < 1e-3*minPos*(1-1e-12) || p.Y.Min >= minPos {
		t.Errorf("y axis starts at %g; smallest I %g, floor %g", p.Y.Min, minPos, 1e-3*minPos)
	}
	if p.Y.Max < maxI {
		t.Errorf("y axis ends at %g, below the largest I %g", p.Y.Max, maxI)
	}
	if p.X.Min != c.Q[2] || p.X.Max != c.Q[99] {
		t.Errorf("x axis [%g, %g], want the q of the shown bins [%g, %g]", p.X.Min, p.X.Max, c.Q[2], c.Q[99])
	}
	if p.Title.Text != "x.tif" || p.X.Label.Text != XLabel || p.Y.Label.Text != YLabel {
		t.Errorf("labels %q, %q, %q", p.Title.Text, p.X.Label.Text, p.Y.Label.Text)
	}
}

func TestCurveLines(t *testing.T) {
	nan := math.NaN()
	q := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	in := []float64{1, -1, 2, nan, 3, 4, nan, 5}
	lines, isolated := curveLines(q, in)
	// I ≤ 0 is skipped without a break (like the original), NaN breaks.
	if len(lines) != 2 || len(lines[0]) != 2 || lines[0][1].X != 3 || len(lines[1]) != 2 || lines[1][0].X != 5 {
		t.Errorf("lines %v", lines)
	}
	if len(isolated) != 1 || isolated[0].X != 8 {
		t.Errorf("isolated points %v, want (8, 5)", isolated)
	}
}

func TestBand(t *testing.T) {
	nan := math.NaN()
	q := []float64{1, 2, 3, 4, 5, 6}
	in := []float64{10, 10, 10, 10, nan, 10}
	e := []float64{20, 1, nan, 1, 1, 1}
	b := newBand(q, in, e, 0.01, stdDevFill)
	// Bins 1-2 form a ring; the NaN error breaks it; bin 4 alone and bin 6
	// alone (after the gap) become error bars.
	if len(b.rings) != 1 {
		t.Fatalf("rings %v", b.rings)
	}
	if len(b.bars) != 2 || b.bars[0] != [2]plotter.XY{{X: 4, Y: 11}, {X: 4, Y: 9}} || b.bars[1] != [2]plotter.XY{{X: 6, Y: 11}, {X: 6, Y: 9}} {
		t.Errorf("bars %v", b.bars)
	}
	want := []struct{ x, y float64 }{{1, 30}, {2, 11}, {2, 9}, {1, 0.01}}
	for i, xy := range b.rings[0] {
		if xy.X != want[i].x || xy.Y != want[i].y {
			t.Errorf("ring point %d = %v, want %v", i, xy, want[i])
		}
	}
}

func TestCurveSVGDegenerate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	fill := func(n int, v float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	q := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = 0.1 * float64(i+1)
		}
		return s
	}
	curve := func(q, in, sigma, sd []float64) *saxs.ErrorCurve {
		return &saxs.ErrorCurve{Curve: saxs.Curve{Q: q, I: in, Sigma: sigma}, StdDev: sd}
	}
	for _, tc := range []struct {
		name  string
		c     *saxs.ErrorCurve
		empty bool // shows the no-data note
	}{
		{"no bins", curve(nil, nil, nil, nil), true},
		{"all NaN", curve(q(50), fill(50, nan), fill(50, nan), fill(50, nan)), true},
		{"all negative", curve(q(50), fill(50, -3), fill(50, nan), fill(50, 1)), true},
		{"all zero", curve(q(50), fill(50, 0), fill(50, 0), fill(50, 0)), true},
		{"NaN q", curve(fill(5, nan), fill(5, 1), fill(5, 1), fill(5, 1)), true},
		{"single bin", curve([]float64{0.5}, []float64{7}, []float64{1}, []float64{2}), false},
		{"single zero bin", curve([]float64{0.5}, []float64{0}, []float64{0}, []float64{0}), true},
		{"one positive among NaN", curve(q(5), []float64{nan, nan, 3, nan, nan}, fill(5, 1), fill(5, 1)), false},
		{"no errors", curve(q(5), fill(5, 2), nil, nil), false},
		{"equal q", curve(fill(5, 1), []float64{1, 2, 3, 4, 5}, fill(5, 1), fill(5, 1)), false},
		{"constant I", curve(q(5), fill(5, 3), fill(5, 0), fill(5, 0)), false},
		{"infinite", curve(q(5), []float64{1, inf, 2, -inf, 3}, fill(5, inf), fill(5, -1)), false},
		{"huge", curve(q(5), fill(5, 1e308), fill(5, 1e308), fill(5, 1e308)), false},
		{"subnormal", curve(q(5), fill(5, 5e-324), fill(5, 1), fill(5, 1e-320)), false},
		{"error above I", curve(q(5), []float64{1, 2, 3, 2, 1}, fill(5, 100), fill(5, 1000)), false},
		{"q descending and negative", curve([]float64{3, 1, -1, -2}, fill(4, 5), fill(4, 1), fill(4, 1)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := CurveSVG(&buf, tc.c, tc.name+".tif"); err != nil {
				t.Fatal(err)
			}
			text := parseSVG(t, buf.Bytes())
			if !strings.Contains(text, tc.name+".tif") {
				t.Errorf("title missing")
			}
			if got := strings.Contains(text, NoDataNote); got != tc.empty {
				t.Errorf("note %q shown: %v, want %v", NoDataNote, got, tc.empty)
			}
		})
	}
}

func TestCurvePlotErrors(t *testing.T) {
	if _, err := CurvePlot(nil, "x"); err == nil {
		t.Error("nil curve: no error")
	}
	c := testCurve(10)
	c.Sigma = c.Sigma[:5]
	if _, err := CurvePlot(c, "x"); err == nil {
		t.Error("short sigma column: no error")
	}
	c = testCurve(10)
	c.I = c.I[:9]
	if err := CurveSVG(io.Discard, c, "x"); err == nil {
		t.Error("short I column: no error")
	}
}

func TestCleanTitle(t *testing.T) {
	var buf bytes.Buffer
	if err := CurveSVG(&buf, testCurve(20), "bad\x00name\x1b\xff\uffff.tif"); err != nil {
		t.Fatal(err)
	}
	if text := parseSVG(t, buf.Bytes()); !strings.Contains(text, "bad\uFFFDname\uFFFD\uFFFD\uFFFD.tif") {
		t.Errorf("title not cleaned:\n%s", text)
	}
}

type failWriter struct{}

var errFail = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

func TestCurveSVGWriteError(t *testing.T) {
	err := CurveSVG(failWriter{}, testCurve(10), "x")
	if !errors.Is(err, errFail) {
		t.Errorf("error %v, want one wrapping %v", err, errFail)
	}
}

func BenchmarkCurveSVG(b *testing.B) {
	c := testCurve(1000)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := CurveSVG(&buf, c, "data/sample_00001.tif"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/svg")
}
