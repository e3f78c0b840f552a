package saxs

import (
	"math"
	"testing"
)

// tiltedCosIncidence returns cos α, the cosine of the angle between the ray
// from the sample to the point (x, y) pixels from the beam centre and the
// detector normal, built in three dimensions: the beam along z hits the
// detector at distance d; the detector's axes are the x and y axes turned
// by the tilt τ about the in-plane axis (−sin ρ, −cos ρ, 0) (Rodrigues'
// formula), which is fit2d's tilt-plane convention.
func tiltedCosIncidence(cal *Calibration, x, y float64) float64 {
	g := &cal.Geometry
	tau := g.Tilt.TiltAngleDeg * math.Pi / 180
	rho := g.Tilt.TiltRotDeg * math.Pi / 180
	k := [3]float64{-math.Sin(rho), -math.Cos(rho), 0}
	rot := func(v [3]float64) [3]float64 {
		kv := k[0]*v[0] + k[1]*v[1] + k[2]*v[2]
		kx := [3]float64{k[1]*v[2] - k[2]*v[1], k[2]*v[0] - k[0]*v[2], k[0]*v[1] - k[1]*v[0]}
		var o [3]float64
		for i := range o {
			o[i] = v[i]*math.Cos(tau) + kx[i]*math.Sin(tau) + k[i]*kv*(1-math.Cos(tau))
		}
		return o
	}
	e1, e2, n := rot([3]float64{1, 0, 0}), rot([3]float64{0, 1, 0}), rot([3]float64{0, 0, 1})
	px := g.PixelSizeMicroM[0] * 1e-3
	var p [3]float64
	for i := range p {
		p[i] = x*px*e1[i] + y*px*e2[i]
	}
	p[2] += g.DetectorDistanceMM
	l := math.Sqrt(p[0]*p[0] + p[1]*p[1] + p[2]*p[2])
	return math.Abs(p[0]*n[0]+p[1]*n[1]+p[2]*n[2]) / l
}

// SolidAngleFactor is cos³ α of the three-dimensional construction.
func TestSolidAngleFactorClosedForm(t *testing.T) {
	cal, _ := synthetic(t, 1)
	sa := SolidAngleFactor(cal, false)
	g := &cal.Geometry
	rows, cols := g.Imagesize[0], g.Imagesize[1]
	minSA := 1.0
	for r := range rows {
		for c := range cols {
			y := float64(r) - float64(rows) + g.BeamCenter[0] + 0.5
			x := float64(c) - g.BeamCenter[1] + 0.5
			ca := tiltedCosIncidence(cal, x, y)
			want := ca * ca * ca
			if got := sa[r*cols+c]; math.Abs(got-want) > 1e-12 {
				t.Fatalf("pixel (%d, %d): SA %.15g, closed form %.15g", r, c, got, want)
			}
			minSA = min(minSA, want)
		}
	}
	if minSA > 0.99 {
		t.Fatalf("smallest SA %g: the synthetic detector does not test the correction", minSA)
	}
}

// A frame equal to the relative solid angle SA (what an isotropic
// scatterer gives: the counts of a pixel are proportional to its solid
// angle) integrates to 1 in every bin with the correction on, which
// multiplies each pixel by 1/SA, and not without it.
func TestSolidAngleFrameGivesOne(t *testing.T) {
	for _, ov := range []int{1, 3} {
		cal, m := synthetic(t, ov)
		g := &cal.Geometry
		rows, cols := g.Imagesize[0], g.Imagesize[1]
		img := &Image{Rows: rows, Cols: cols, Values: make([]float64, rows*cols)}
		for r := range rows {
			for c := range cols {
				y := float64(r) - float64(rows) + g.BeamCenter[0] + 0.5
				x := float64(c) - g.BeamCenter[1] + 0.5
				ca := tiltedCosIncidence(cal, x, y)
				img.Values[r*cols+c] = ca * ca * ca
			}
		}
		off := build(t, cal, m, Options{})
		cal.Reduction = &Reduction{SolidAngle: true}
		on := build(t, cal, m, Options{})
		ron, err := on.Integrate(img)
		if err != nil {
			t.Fatal(err)
		}
		roff, err := off.Integrate(img)
		if err != nil {
			t.Fatal(err)
		}
		n, far := 0, 0.0
		for k, v := range ron.Curves[0].I {
			if math.IsNaN(v) {
				continue
			}
			n++
			if math.Abs(v-1) > 1e-6 {
				t.Errorf("ov %d bin %d: I = %.9g, want 1", ov, k, v)
			}
			far = max(far, 1-roff.Curves[0].I[k])
		}
		if n < 20 {
			t.Fatalf("ov %d: only %d bins", ov, n)
		}
		if far < 0.01 {
			t.Errorf("ov %d: without the correction I is at least 1-%g: the frame does not test it", ov, far)
		}
	}
}

// With the solid-angle correction on, the reference frame integrates as
// pyFAI's integrate1d(correctSolidAngle=True) does on the same bins.
func TestSolidAngleMatchesPyFAI(t *testing.T) {
	cal, mask, img := refSetup(t)
	needPyFAI(t)
	const nb = 600
	lo, hi := 0.05, 3.5
	cal.Masks[0].Oversampling = 3
	cal.Masks[0].RadialBins = &RadialBins{Start: lo, Stop: hi, Count: nb}
	cal.Reduction = &Reduction{SolidAngle: true}
	res := integrateWith(t, cal, mask, img)
	py := pyFAIRun(t, cal, mask, img, map[string]any{"npt": nb, "radial_range": []float64{lo, hi}, "solid_angle": true})
	if len(py) != nb {
		t.Fatalf("pyFAI gave %d rows, want %d", len(py), nb)
	}
	c := res.Curves[0]
	dq, _ := medianRelDiff(c.Q, column(py, 0))
	if dq > 1e-6 { // pyFAI computes its bin centres in float32
		t.Errorf("bin centres differ from pyFAI's by a median %g", dq)
	}
	d, n := medianRelDiff(c.I, column(py, 1))
	t.Logf("solid angle on: median |ΔI|/I vs pyFAI = %.4f %% over %d bins", 100*d, n)
	if n < nb/2 || !(d <= 1e-3) {
		t.Errorf("median relative difference of I vs pyFAI %.4g %% over %d bins, want ≤ 0.1 %%", 100*d, n)
	}
	// The correction matters at this size: pyFAI without it differs more.
	pyOff := pyFAIRun(t, cal, mask, img, map[string]any{"npt": nb, "radial_range": []float64{lo, hi}, "solid_angle": false})
	dOff, _ := medianRelDiff(c.I, column(pyOff, 1))
	t.Logf("against pyFAI without the correction: %.4f %%", 100*dOff)
}
