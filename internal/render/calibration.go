package render

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"github.com/saxsdog/saxs"
)

// Colours of the calibration picture: the fitted rings and the control
// points.
var (
	ringColor  = color.RGBA{R: 0xff, G: 0x30, B: 0x30, A: 0xff}
	pointColor = color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
)

// CalibrationImage returns the frame picture of [FrameImage] with the
// rings of a calibration result drawn over it (red: the pixels where the
// fitted geometry's 2θ crosses a ring's) and its control points (white
// crosses).
func CalibrationImage(img *saxs.Image, mask *saxs.Mask, res *saxs.CalibrationResult) (*image.RGBA, error) {
	fr, err := FrameImage(img, mask)
	if err != nil {
		return nil, err
	}
	if res.Geometry.Imagesize != [2]int{img.Rows, img.Cols} {
		return nil, fmt.Errorf("render: calibration for %v pixels, frame of %d × %d", res.Geometry.Imagesize, img.Rows, img.Cols)
	}
	out := image.NewRGBA(fr.Bounds())
	draw.Draw(out, out.Bounds(), fr, image.Point{}, draw.Src)
	cal := &saxs.Calibration{Geometry: res.Geometry, Wavelength: res.Wavelength}
	tth := saxs.CalcTheta(cal, 1, false)
	rows, cols := img.Rows, img.Cols
	for _, rg := range res.Rings {
		t := rg.TwoThetaDeg * math.Pi / 180
		for r := range rows {
			for c := range cols {
				a := tth[r*cols+c] - t
				cross := c+1 < cols && (a < 0) != (tth[r*cols+c+1]-t < 0) ||
					r+1 < rows && (a < 0) != (tth[(r+1)*cols+c]-t < 0)
				if cross {
					out.SetRGBA(c, r, ringColor)
				}
			}
		}
	}
	for _, p := range res.Points {
		r, c := int(p.Row+0.5), int(p.Col+0.5)
		for d := -2; d <= 2; d++ {
			set := func(x, y int) {
				if x >= 0 && y >= 0 && x < cols && y < rows {
					out.SetRGBA(x, y, pointColor)
				}
			}
			set(c+d, r)
			set(c, r+d)
		}
	}
	return out, nil
}

// CalibrationPNG writes [CalibrationImage] as a PNG image.
func CalibrationPNG(w io.Writer, img *saxs.Image, mask *saxs.Mask, res *saxs.CalibrationResult) error {
	m, err := CalibrationImage(img, mask, res)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(w, m); err != nil {
		return fmt.Errorf("render: writing PNG: %w", err)
	}
	return nil
}
