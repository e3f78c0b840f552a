package saxs

import (
	"bytes"
	"math"
	"os"
	"testing"
)

// FuzzParseCalibration: any input gives a calibration or an error, never a
// panic; an accepted calibration passes Validate and builds no NaN geometry.
func FuzzParseCalibration(f *testing.F) {
	f.Add([]byte(flatJSON))
	f.Add([]byte(nestedJSON))
	f.Add([]byte(`{"Geometry": 1}`))
	f.Add([]byte(`{"Imagesize": [1e400, -1]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCalibration(data, "fuzz.json")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed calibration fails Validate: %v", err)
		}
	})
}

// FuzzReadChi: the .chi reader never panics, and what it accepts has
// columns of equal length.
func FuzzReadChi(f *testing.F) {
	f.Add([]byte("h\nq\nI\n   2\n 1.0e+00 2.0e+00 3.0e+00\n 2.0e+00 nan nan\n "))
	f.Add([]byte("x: Q-Space Scan\r\nQ\r\n\r\n          1\r\n 3.3657656E-03  0.0000000E+00\r\n"))
	if data, err := os.ReadFile("testdata/sample/cal.json"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadChi(bytes.NewReader(data), "fuzz.chi")
		if err != nil {
			return
		}
		if len(c.Q) != len(c.I) || (c.Sigma != nil && len(c.Sigma) != len(c.Q)) {
			t.Fatalf("columns of different lengths: %d %d %d", len(c.Q), len(c.I), len(c.Sigma))
		}
	})
}

// FuzzNew: a calibration that parses either builds an integrator whose
// curves are finite in q, or gives an error; New never panics. Detectors
// are kept small so that each input builds fast.
func FuzzNew(f *testing.F) {
	for _, s := range []string{
		`{"Tilt": {"TiltAngleDeg": 2, "TiltRotDeg": 30}, "DedectorDistanceMM": 300, "BeamCenter": [7.4, 6.7],
		  "Imagesize": [12, 16], "PixelSizeMicroM": [172], "MaskFile": "m.msk", "Oversampling": 3,
		  "PixelPerRadialElement": 1, "Wavelength": 1.54}`,
		`{"Tilt": {"TiltAngleDeg": 0, "TiltRotDeg": 0}, "DedectorDistanceMM": 1e-3, "BeamCenter": [0.5, 0.5],
		  "Imagesize": [1, 1], "PixelSizeMicroM": [1e6], "MaskFile": "m.msk", "Oversampling": 1,
		  "PixelPerRadialElement": 1e-3, "Wavelength": 1e-4}`,
		`{"Tilt": {"TiltAngleDeg": 44, "TiltRotDeg": 0}, "DedectorDistanceMM": 1e9, "BeamCenter": [1e7, -1e7],
		  "Imagesize": [3, 5], "PixelSizeMicroM": [1e-3], "MaskFile": "m.msk", "Oversampling": 2,
		  "PixelPerRadialElement": 1, "Wavelength": 1e4, "RadialBins": {"Start": 0, "Stop": 1e-5, "Count": 7}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cal, err := ParseCalibration(data, "fuzz.json")
		if err != nil {
			return
		}
		g := cal.Geometry
		if g.Imagesize[0]*g.Imagesize[1] > 4096 {
			return
		}
		masks := make([]*Mask, len(cal.Masks))
		for i := range masks {
			if cal.Masks[i].Oversampling > 4 {
				return
			}
			masks[i] = &Mask{Rows: g.Imagesize[0], Cols: g.Imagesize[1], Masked: make([]bool, g.Imagesize[0]*g.Imagesize[1])}
		}
		ig, err := NewWithOptions(cal, Options{Masks: masks, Workers: 1})
		if err != nil {
			return
		}
		for i := range ig.NumCurves() {
			_, bins := ig.Operator(i).Dims()
			if bins < 1 || bins > MaxBins {
				t.Fatalf("curve %d has %d bins", i, bins)
			}
		}
		res, err := ig.Integrate(NewImage(g.Imagesize[0], g.Imagesize[1]))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Curves {
			for _, q := range c.Q {
				if math.IsNaN(q) || math.IsInf(q, 0) {
					t.Fatalf("curve %s: q = %v", c.Name, q)
				}
			}
		}
	})
}
