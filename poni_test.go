package saxs

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// canonicalTilt returns the tilt and tilt-plane rotation in degrees with
// the tilt ≥ 0 and the rotation in (−180, 180]: (−τ, ρ) and (τ, ρ+180°)
// are the same detector.
func canonicalTilt(tilt, rot float64) (float64, float64) {
	if tilt < 0 {
		tilt, rot = -tilt, rot+180
	}
	rot = math.Mod(rot, 360)
	switch {
	case rot > 180:
		rot -= 360
	case rot <= -180:
		rot += 360
	}
	return tilt, rot
}

// checkGeometry compares the geometry of got with that of want (cal.json).
func checkGeometry(t *testing.T, what string, got, want *Calibration) {
	t.Helper()
	g, w := &got.Geometry, &want.Geometry
	for i := range 2 {
		if d := math.Abs(g.BeamCenter[i] - w.BeamCenter[i]); d > 1e-6 {
			t.Errorf("%s: BeamCenter[%d] = %.12g, want %.12g (off by %g px)", what, i, g.BeamCenter[i], w.BeamCenter[i], d)
		}
	}
	gt, gr := canonicalTilt(g.Tilt.TiltAngleDeg, g.Tilt.TiltRotDeg)
	wt, wr := canonicalTilt(w.Tilt.TiltAngleDeg, w.Tilt.TiltRotDeg)
	if d := math.Abs(gt-wt) * math.Pi / 180; d > 1e-9 {
		t.Errorf("%s: tilt %.15g°, want %.15g° (off by %g rad)", what, gt, wt, d)
	}
	if d := math.Abs(gr-wr) * math.Pi / 180; d > 1e-9 {
		t.Errorf("%s: tilt plane rotation %.15g°, want %.15g° (off by %g rad)", what, gr, wr, d)
	}
	if d := math.Abs(g.DetectorDistanceMM - w.DetectorDistanceMM); d > 1e-9*w.DetectorDistanceMM {
		t.Errorf("%s: distance %.15g mm, want %.15g", what, g.DetectorDistanceMM, w.DetectorDistanceMM)
	}
	if d := math.Abs(got.Wavelength - want.Wavelength); d > 1e-12 {
		t.Errorf("%s: wavelength %.15g Å, want %.15g", what, got.Wavelength, want.Wavelength)
	}
}

// Our own round trip: calibration → .poni → calibration.
func TestPoniRoundTrip(t *testing.T) {
	cal, _ := synthetic(t, 1)
	var b bytes.Buffer
	if err := PoniFromCalibration(cal).Write(&b); err != nil {
		t.Fatal(err)
	}
	p, err := ParsePoni(b.Bytes(), "x.poni")
	if err != nil {
		t.Fatal(err)
	}
	back := cal.clone()
	back.Geometry.BeamCenter = [2]float64{}
	back.Geometry.Tilt = Tilt{}
	if err := p.ApplyTo(back); err != nil {
		t.Fatal(err)
	}
	checkGeometry(t, "round trip", back, cal)
	for _, bad := range []string{"Distance: x\n", "Poni1: 1\n", "poni_version: 7\nDistance: 1\n"} {
		if _, err := ParsePoni([]byte(bad), "bad.poni"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

const poniPy = `
import json, sys
from pyFAI.azimuthalIntegrator import AzimuthalIntegrator
import pyFAI
a = json.load(sys.stdin)
if a["mode"] == "write":
    ai = AzimuthalIntegrator()
    ai.setFit2D(a["dist"], centerX=a["cx"], centerY=a["cy"], tilt=a["tilt"], tiltPlanRotation=a["rot"],
                pixelX=a["pixel"], pixelY=a["pixel"])
    ai.wavelength = a["wavelength"]
    ai.write(a["path"])
else:
    ai = pyFAI.load(a["path"])
    f = ai.getFit2D()
    print(json.dumps({"directDist": f["directDist"], "centerX": f["centerX"], "centerY": f["centerY"],
                      "tilt": f["tilt"], "tiltPlanRotation": f["tiltPlanRotation"], "wavelength": ai.wavelength,
                      "pixel1": ai.pixel1, "pixel2": ai.pixel2}))
`

func runPoniPy(t *testing.T, args map[string]any) []byte {
	t.Helper()
	in, _ := json.Marshal(args)
	out := runPyFAI(t, in, "-c", poniPy)
	return out
}

// A .poni that pyFAI writes from the reference geometry (setFit2D) reads
// back to the fit2d values of cal.json; the .poni we write reads back in
// pyFAI (getFit2D) to the same values.
func TestPoniAgainstPyFAI(t *testing.T) {
	cal, _, _ := refSetup(t)
	needPyFAI(t)
	dir := t.TempDir()
	g := &cal.Geometry
	theirs := filepath.Join(dir, "pyfai.poni")
	runPoniPy(t, map[string]any{"mode": "write", "path": theirs, "dist": g.DetectorDistanceMM, "cx": g.BeamCenter[1],
		"cy": float64(g.Imagesize[0]) - g.BeamCenter[0], "tilt": g.Tilt.TiltAngleDeg, "rot": -g.Tilt.TiltRotDeg,
		"pixel": g.PixelSizeMicroM[0], "wavelength": cal.Wavelength * AngstromStar * 1e-9})
	p, err := ReadPoniFile(theirs)
	if err != nil {
		t.Fatal(err)
	}
	back := cal.clone()
	back.Geometry.BeamCenter = [2]float64{}
	if err := p.ApplyTo(back); err != nil {
		t.Fatal(err)
	}
	checkGeometry(t, "pyFAI's .poni", back, cal)
	// Our PONI numbers are pyFAI's.
	ours := PoniFromCalibration(cal)
	for _, c := range []struct {
		name string
		a, b float64
	}{{"Distance", ours.Dist, p.Dist}, {"Poni1", ours.Poni1, p.Poni1}, {"Poni2", ours.Poni2, p.Poni2},
		{"Rot1", ours.Rot1, p.Rot1}, {"Rot2", ours.Rot2, p.Rot2}, {"Rot3", ours.Rot3, p.Rot3}} {
		if math.Abs(c.a-c.b) > 1e-12 { // metres and radians
			t.Errorf("%s: ours %.17g, pyFAI's %.17g", c.name, c.a, c.b)
		}
	}

	// Ours, read by pyFAI.
	mine := filepath.Join(dir, "saxs.poni")
	var b bytes.Buffer
	if err := ours.Write(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mine, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var f struct {
		DirectDist, CenterX, CenterY, Tilt, TiltPlanRotation, Wavelength, Pixel1, Pixel2 float64
	}
	out := runPoniPy(t, map[string]any{"mode": "read", "path": mine})
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	read := cal.clone()
	read.Geometry.DetectorDistanceMM = f.DirectDist
	read.Geometry.BeamCenter = [2]float64{float64(g.Imagesize[0]) - f.CenterY, f.CenterX}
	read.Geometry.Tilt = Tilt{TiltAngleDeg: f.Tilt, TiltRotDeg: -f.TiltPlanRotation}
	read.Wavelength = f.Wavelength / (AngstromStar * 1e-9)
	checkGeometry(t, "our .poni in pyFAI", read, cal)
	if math.Abs(f.Pixel1-172e-6) > 1e-18 || math.Abs(f.Pixel2-172e-6) > 1e-18 {
		t.Errorf("pyFAI reads pixels %g × %g m", f.Pixel1, f.Pixel2)
	}
	t.Logf("pyFAI's .poni → saxs: centre %v (cal.json %v); saxs .poni → pyFAI centre X %.9f Y %.9f",
		back.Geometry.BeamCenter, g.BeamCenter, f.CenterX, f.CenterY)
}

// Reduction.Poni replaces the geometry when the integrator is built: a
// .poni of a calibration gives the curves of that calibration.
func TestReductionPoni(t *testing.T) {
	cal, m := synthetic(t, 2)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	img := patterned(rows, cols, m, 2)
	want, err := build(t, cal, m, Options{}).Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.poni")
	var b bytes.Buffer
	if err := PoniFromCalibration(cal).Write(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	other := cal.clone()
	other.Geometry.BeamCenter = [2]float64{10, 70}
	other.Geometry.DetectorDistanceMM = 400
	other.Reduction = &Reduction{Poni: path}
	got, err := build(t, other, m, Options{}).Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	w, g := want.Curves[0], got.Curves[0]
	if len(w.I) != len(g.I) {
		t.Fatalf("%d rows with the .poni, %d without", len(g.I), len(w.I))
	}
	for k := range w.I {
		if math.Abs(g.Q[k]-w.Q[k]) > 1e-9*w.Q[k] || !(math.Abs(g.I[k]-w.I[k]) <= 1e-9*math.Abs(w.I[k])) && !(math.IsNaN(g.I[k]) && math.IsNaN(w.I[k])) {
			t.Errorf("row %d: q %g I %g with the .poni, q %g I %g from the calibration", k, g.Q[k], g.I[k], w.Q[k], w.I[k])
		}
	}
}
