package testframes

import (
	"bytes"
	"math"
	"testing"

	"github.com/saxsdog/saxs"
)

// The calibrant test frame of RingFrame: AgBh rings at RingDistMM, λ 1 Å,
// 172 µm pixels, no tilt, the beam centre at pixel index (row RingRow,
// column RingCol), RingRows × RingCols pixels with a module gap (-1) in
// columns 200..206. It is drawn from its closed form (a Gaussian of 1 px
// at each ring's radius d·tan 2θ), not by the code under test.
const (
	RingRows, RingCols = 300, 280
	RingRow, RingCol   = 140.3, 125.7
	RingDistMM         = 300.0
	RingWavelength     = 1.0
	RingPixelMicroM    = 172.0
)

// RingFrame draws the calibrant test frame (Counts); uniform draws it
// without rings (the background and the gap only).
func RingFrame(uniform bool) *saxs.Image {
	agbh, _ := saxs.CalibrantByName("AgBh")
	img := &saxs.Image{Rows: RingRows, Cols: RingCols, Counts: make([]int32, RingRows*RingCols)}
	px := RingPixelMicroM / 1000
	for r := range RingRows {
		for c := range RingCols {
			rho := math.Hypot(float64(r)-RingRow, float64(c)-RingCol) * px
			v := 10.0
			if !uniform {
				for _, tt := range agbh.TwoTheta(RingWavelength) {
					d := (rho - RingDistMM*math.Tan(tt)) / px
					v += 300 * math.Exp(-d*d/2)
				}
			}
			img.Counts[r*RingCols+c] = int32(math.Round(v))
			if c >= 200 && c < 207 {
				img.Counts[r*RingCols+c] = -1
			}
		}
	}
	return img
}

// RingFrameTIFF encodes RingFrame as a TIFF file.
func RingFrameTIFF(tb testing.TB, uniform bool) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := saxs.EncodeTIFF(&b, RingFrame(uniform)); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// CheckRingGeometry fails tb unless g is the geometry of RingFrame: the
// centre within 0.02 px, the distance within 0.1 mm, the tilt below 0.1°.
func CheckRingGeometry(tb testing.TB, g saxs.Geometry) {
	tb.Helper()
	row, col := float64(g.Imagesize[0])-g.BeamCenter[0]-0.5, g.BeamCenter[1]-0.5
	if g.Imagesize != [2]int{RingRows, RingCols} || math.Abs(row-RingRow) > 0.02 || math.Abs(col-RingCol) > 0.02 ||
		math.Abs(g.DetectorDistanceMM-RingDistMM) > 0.1 || g.Tilt.TiltAngleDeg > 0.1 {
		tb.Errorf("geometry %+v: centre (%.3f, %.3f), want (%g, %g), %g mm", g, row, col, RingRow, RingCol, RingDistMM)
	}
}
