package saxs_test

import (
	"context"
	"fmt"
	"math"

	"github.com/saxsdog/saxs"
)

// ExampleCalibrate finds the geometry of a frame of silver behenate rings
// (drawn here at 300 mm, centre row 100.5, column 90.25, 172 µm pixels,
// 1 Å) without a starting guess.
func ExampleCalibrate() {
	agbh, _ := saxs.CalibrantByName("AgBh")
	img := saxs.NewImage(220, 200)
	for r := range img.Rows {
		for c := range img.Cols {
			rho := math.Hypot(float64(r)-100.5, float64(c)-90.25) * 0.172 // mm
			v := 10.0
			for _, t := range agbh.TwoTheta(1) {
				dr := (rho - 300*math.Tan(t)) / 0.172
				v += 200 * math.Exp(-dr*dr/2)
			}
			img.Values[r*img.Cols+c] = v
		}
	}
	res, err := saxs.Calibrate(context.Background(), img, saxs.CalibrateOptions{Calibrant: agbh, Wavelength: 1, PixelSize: 172})
	if err != nil {
		fmt.Println(err)
		return
	}
	g := res.Geometry
	fmt.Printf("distance %.1f mm, beam centre row %.2f column %.2f, %d rings\n",
		g.DetectorDistanceMM, float64(img.Rows)-g.BeamCenter[0]-0.5, g.BeamCenter[1]-0.5, len(res.Rings))
	// Output: distance 300.0 mm, beam centre row 100.50 column 90.25, 4 rings
}
