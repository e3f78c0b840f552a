package saxs

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// agbehWavelength is the wavelength in the header of agbeh2_1M.tif, Å.
const agbehWavelength = 1.54987

// calibrateAgBeh calibrates the real silver behenate frame of the
// reference data with its fit2d mask.
func calibrateAgBeh(t testing.TB) (*Image, *CalibrationResult) {
	t.Helper()
	img, err := ReadImage(sharedData(t, "agbeh2_1M.tif"))
	if err != nil {
		t.Fatal(err)
	}
	mask, err := OpenMask(sharedData(t, "AAA_integ.msk"))
	if err != nil {
		t.Fatal(err)
	}
	agbh, _ := CalibrantByName("AgBh")
	res, err := Calibrate(context.Background(), img, CalibrateOptions{Calibrant: agbh, Wavelength: agbehWavelength, PixelSize: 172, Mask: mask})
	if err != nil {
		t.Fatalf("Calibrate(agbeh2_1M.tif): %v", err)
	}
	return img, res
}

// TestCalibrateAgBehReal calibrates agbeh2_1M.tif (rings near column 423,
// row 241, about 830 mm) and compares with pyFAI's GeometryRefinement on
// the same control points, started from a rough guess: our fit's RMS Δ2θ
// must be no worse than pyFAI's, and the two geometries must give the
// same 2θ over the detector within 0.002°.
func TestCalibrateAgBehReal(t *testing.T) {
	start := time.Now()
	img, res := calibrateAgBeh(t)
	g := res.Geometry
	t.Logf("saxs (%v): distance %.3f±%.3f mm, BeamCenter [%.3f, %.3f]±[%.3f, %.3f], tilt %.4f±%.4f°, rotation %.2f±%.2f°, %d points, RMS %.3e°",
		time.Since(start).Round(time.Millisecond), g.DetectorDistanceMM, res.Sigma.DistanceMM, g.BeamCenter[0], g.BeamCenter[1],
		res.Sigma.BeamCenter[0], res.Sigma.BeamCenter[1], g.Tilt.TiltAngleDeg, res.Sigma.TiltAngleDeg, g.Tilt.TiltRotDeg, res.Sigma.TiltRotDeg,
		len(res.Points), res.RMSDeg)
	for _, r := range res.Rings {
		t.Logf("  ring %2d (d %.3f Å, 2θ %.4f°): %4d points, RMS %.3e°", r.Ring+1, r.D, r.TwoThetaDeg, r.Points, r.RMSDeg)
	}
	// The README's description: centre near column 423, row 241, ~830 mm.
	if row := float64(img.Rows) - g.BeamCenter[0]; math.Abs(g.BeamCenter[1]-423) > 5 || math.Abs(row-241) > 5 || math.Abs(g.DetectorDistanceMM-830) > 30 {
		t.Errorf("geometry far from the reference description: centre row %.1f column %.1f, %.1f mm", row, g.BeamCenter[1], g.DetectorDistanceMM)
	}
	pyFAIAvailable(t)
	var pts [][3]float64
	for _, p := range res.Points {
		pts = append(pts, [3]float64{p.Row, p.Col, float64(p.Ring)})
	}
	in, _ := json.Marshal(map[string]any{"points": pts, "wavelength_A": agbehWavelength, "px_um": 172, "rows": img.Rows, "cols": img.Cols,
		"calibrant": "AgBh", "start": []float64{830, 423, 241}})
	file := filepath.Join(t.TempDir(), "points.json")
	if err := os.WriteFile(file, in, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/python3", "testdata/calib/refine.py", file).Output()
	if err != nil {
		t.Fatalf("refine.py: %v", err)
	}
	var py struct {
		Fit2D struct {
			DirectDist, CenterX, CenterY, Tilt, TiltPlanRotation float64
		} `json:"fit2d"`
		RMS   float64            `json:"rms"`
		Rings map[string]float64 `json:"rings"`
	}
	if err := json.Unmarshal(out, &py); err != nil {
		t.Fatalf("refine.py output %q: %v", out, err)
	}
	pg := Geometry{Tilt: Tilt{TiltAngleDeg: py.Fit2D.Tilt, TiltRotDeg: -py.Fit2D.TiltPlanRotation},
		BeamCenter: [2]float64{float64(img.Rows) - py.Fit2D.CenterY, py.Fit2D.CenterX}, DetectorDistanceMM: py.Fit2D.DirectDist,
		Imagesize: g.Imagesize, PixelSizeMicroM: []float64{172}}
	t.Logf("pyFAI GeometryRefinement on the same points: distance %.3f mm, BeamCenter [%.3f, %.3f], tilt %.4f°, rotation %.2f°, RMS %.3e°; per ring %v",
		pg.DetectorDistanceMM, pg.BeamCenter[0], pg.BeamCenter[1], pg.Tilt.TiltAngleDeg, pg.Tilt.TiltRotDeg, py.RMS, py.Rings)
	if res.RMSDeg > py.RMS*1.001+1e-9 {
		t.Errorf("our RMS Δ2θ %.4e° is worse than pyFAI's %.4e°", res.RMSDeg, py.RMS)
	}
	truth := CalcTheta(calOf(pg, agbehWavelength), 1, false)
	if e := maxTwoThetaError(g, res.Wavelength, truth); e > 0.002 {
		t.Errorf("our geometry and pyFAI's differ by %.4f° in 2θ somewhere on the detector", e)
	} else {
		t.Logf("largest 2θ difference between the two geometries over the detector: %.2e°", e)
	}
}

// BenchmarkCalibratePilatus1M measures Calibrate on the real Pilatus 1M
// silver behenate frame (no centre or distance given).
func BenchmarkCalibratePilatus1M(b *testing.B) {
	img, err := ReadImage(sharedData(b, "agbeh2_1M.tif"))
	if err != nil {
		b.Fatal(err)
	}
	mask, err := OpenMask(sharedData(b, "AAA_integ.msk"))
	if err != nil {
		b.Fatal(err)
	}
	agbh, _ := CalibrantByName("AgBh")
	for b.Loop() {
		if _, err := Calibrate(context.Background(), img, CalibrateOptions{Calibrant: agbh, Wavelength: agbehWavelength, PixelSize: 172, Mask: mask}); err != nil {
			b.Fatal(err)
		}
	}
}
