package saxs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// fakeFrame is a synthetic calibrant frame made by pyFAI
// (testdata/calib/fakeframe.py) and its true geometry.
type fakeFrame struct {
	Rows       int     `json:"rows"`
	Cols       int     `json:"cols"`
	PixelUM    float64 `json:"px_um"`
	DistMM     float64 `json:"dist_mm"`
	CX         float64 `json:"cx"` // fit2d X, pixels
	CY         float64 `json:"cy"` // fit2d Y counted from the first row (pyFAI's)
	Tilt       float64 `json:"tilt"`
	TPR        float64 `json:"tpr"`
	Wavelength float64 `json:"wavelength_A"`
	Calibrant  string  `json:"calibrant"`
	Imax       float64 `json:"imax"`
	Bg         float64 `json:"bg"`
	W          float64 `json:"w"`
	Noise      bool    `json:"noise"`
	Gaps       bool    `json:"gaps"`
	Seed       int     `json:"seed"`
	Out        string  `json:"out"`
}

// pyFAIAvailable skips the test unless Debian's python3-pyfai is there.
func pyFAIAvailable(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("pyFAI frames skipped in -short mode")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import pyFAI").Run(); err != nil {
		t.Skip("pyFAI (Debian python3-pyfai) not available; test skipped")
	}
}

// makeFakeFrame runs pyFAI and returns the frame and pyFAI's 2θ (rad) of
// every pixel centre.
func makeFakeFrame(t testing.TB, ff fakeFrame) (*Image, []float64) {
	t.Helper()
	ff.Out = t.TempDir()
	if ff.W == 0 {
		// FWHM of about 3 pixels.
		f := 3 * ff.PixelUM * 1e-3 / ff.DistMM
		ff.W = f * f
	}
	arg, _ := json.Marshal(ff)
	out, err := exec.Command("/usr/bin/python3", "testdata/calib/fakeframe.py", string(arg)).CombinedOutput()
	if err != nil {
		t.Fatalf("fakeframe.py: %v\n%s", err, out)
	}
	read := func(name string) []float64 {
		b, err := os.ReadFile(filepath.Join(ff.Out, name))
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float64, len(b)/8)
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return v
	}
	img := &Image{Rows: ff.Rows, Cols: ff.Cols, Values: read("frame.f64")}
	return img, read("tth.f64")
}

// calOf returns a calibration holding geometry g and wavelength lambda.
func calOf(g Geometry, lambda float64) *Calibration {
	return &Calibration{Geometry: g, Wavelength: lambda}
}

// maxTwoThetaError returns the largest |2θ(g) − truth| over the pixels, in
// degrees.
func maxTwoThetaError(g Geometry, lambda float64, truth []float64) float64 {
	tt := CalcTheta(calOf(g, lambda), 1, false)
	worst := 0.0
	for i, v := range tt {
		worst = max(worst, math.Abs(v-truth[i]))
	}
	return worst * 180 / math.Pi
}

// TestCalibratePyFAIFrames calibrates frames that pyFAI made at known
// geometries and checks that the found geometry gives the true 2θ over
// the whole detector within 0.002°.
func TestCalibratePyFAIFrames(t *testing.T) {
	pyFAIAvailable(t)
	cases := []struct {
		name string
		ff   fakeFrame
	}{
		{"Pilatus1M-AgBh-830mm-gaps-noise", fakeFrame{Rows: 1043, Cols: 981, PixelUM: 172, DistMM: 830, CX: 423, CY: 241,
			Tilt: 0.6, TPR: 40, Wavelength: 1.0, Calibrant: "AgBh", Imax: 500, Bg: 5, Noise: true, Gaps: true, Seed: 1}},
		{"AgBh-300mm-tilt5-noise", fakeFrame{Rows: 400, Cols: 420, PixelUM: 172, DistMM: 300, CX: 200, CY: 215,
			Tilt: 5, TPR: -110, Wavelength: 1.0, Calibrant: "AgBh", Imax: 300, Bg: 3, Noise: true, Seed: 2}},
		{"AgBh-3000mm-centre-off-detector", fakeFrame{Rows: 700, Cols: 640, PixelUM: 172, DistMM: 3000, CX: -60, CY: 330,
			Tilt: 2, TPR: 60, Wavelength: 1.0, Calibrant: "AgBh", Imax: 300, Bg: 3, Noise: true, Seed: 3}},
		{"LaB6-300mm-tilt10", fakeFrame{Rows: 512, Cols: 512, PixelUM: 172, DistMM: 300, CX: 150, CY: 160,
			Tilt: 10, TPR: 150, Wavelength: 0.5, Calibrant: "LaB6_SRM660c", Imax: 300, Bg: 3, Noise: true, Seed: 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, truth := makeFakeFrame(t, tc.ff)
			ff := tc.ff
			trueGeom := Geometry{Tilt: Tilt{TiltAngleDeg: ff.Tilt, TiltRotDeg: -ff.TPR},
				BeamCenter: [2]float64{float64(ff.Rows) - ff.CY, ff.CX}, DetectorDistanceMM: ff.DistMM,
				Imagesize: [2]int{ff.Rows, ff.Cols}, PixelSizeMicroM: []float64{ff.PixelUM}}
			if e := maxTwoThetaError(trueGeom, ff.Wavelength, truth); e > 1e-5 { // pyFAI computes in float32
				t.Fatalf("the true geometry in our convention is %g° off pyFAI's 2θ", e)
			}
			name := ff.Calibrant
			if name == "LaB6_SRM660c" {
				name = "LaB6"
			}
			cal, err := CalibrantByName(name)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := Calibrate(context.Background(), img, CalibrateOptions{Calibrant: cal, Wavelength: ff.Wavelength, PixelSize: ff.PixelUM})
			if err != nil {
				t.Fatalf("Calibrate: %v", err)
			}
			g := res.Geometry
			e := maxTwoThetaError(g, res.Wavelength, truth)
			t.Logf("%v: distance %.3f±%.3f mm (true %g), centre [%.3f, %.3f]±[%.3f, %.3f] (true [%g, %g]), tilt %.3f±%.3f° rot %.2f±%.2f° (true %g, %g); %d rings, %d points, RMS %.2e°; max |Δ2θ| %.2e°",
				time.Since(start).Round(time.Millisecond), g.DetectorDistanceMM, res.Sigma.DistanceMM, ff.DistMM,
				g.BeamCenter[0], g.BeamCenter[1], res.Sigma.BeamCenter[0], res.Sigma.BeamCenter[1], trueGeom.BeamCenter[0], trueGeom.BeamCenter[1],
				g.Tilt.TiltAngleDeg, res.Sigma.TiltAngleDeg, g.Tilt.TiltRotDeg, res.Sigma.TiltRotDeg, ff.Tilt, -ff.TPR,
				len(res.Rings), len(res.Points), res.RMSDeg, e)
			if e > 0.002 {
				t.Errorf("found geometry is %.4f° off the true 2θ somewhere on the detector (limit 0.002°)", e)
			}
			if cal.Name == "LaB6" {
				// At wide angles a wrong wavelength cannot fit the rings'
				// ratios: an error, not a geometry. (For AgBh's small
				// angles the wavelength is degenerate with the distance.)
				res2, err := Calibrate(context.Background(), img, CalibrateOptions{Calibrant: cal, Wavelength: 1.25 * ff.Wavelength, PixelSize: ff.PixelUM})
				if !errors.Is(err, ErrNoRings) && !errors.Is(err, ErrNotConverged) {
					t.Errorf("wavelength 25 %% too long: %v, want ErrNoRings or ErrNotConverged (%+v)", err, res2)
				} else {
					t.Logf("wavelength 25 %% too long: %v", err)
				}
			}
		})
	}
}
