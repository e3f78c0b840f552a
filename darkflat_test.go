package saxs

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTIFF writes img to dir/name and returns the path.
func writeTIFF(t *testing.T, dir, name string, img *Image) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := EncodeTIFF(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// patterned returns a counts image of the synthetic detector with varied
// values (masked pixels -1).
func patterned(rows, cols int, m *Mask, seed int32) *Image {
	return countsImage(rows, cols, m, func(r, c int) int32 { return 50 + (int32(r)*7+int32(c)*13+seed)%90 })
}

// A frame equal to the dark integrates to 0; a frame equal to the flat
// integrates to 1 after the flat correction (with polarization and solid
// angle on, which cancel the same way); a constant frame c with a constant
// dark d gives c−d with σ = sqrt((c+d)/Area).
func TestDarkAndFlatClosedForms(t *testing.T) {
	dir := t.TempDir()
	cal, m := synthetic(t, 2)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	frame := patterned(rows, cols, m, 3)
	darkPath := writeTIFF(t, dir, "dark.tif", frame)
	cal.PolarizationCorrection = &Polarization{Fraction: 0.9, Angle: 10}
	cal.Reduction = &Reduction{Dark: darkPath, SolidAngle: true}
	ig := build(t, cal, m, Options{})
	frameRead, err := ReadImage(darkPath)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ig.Integrate(frameRead)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k, v := range res.Curves[0].I {
		if math.IsNaN(v) {
			continue
		}
		n++
		if v != 0 {
			t.Errorf("frame == dark: bin %d I = %g, want 0", k, v)
		}
	}
	if n < 20 {
		t.Fatalf("only %d bins", n)
	}

	// Flat: a float frame equal to the flat gives 1.
	flat := &Image{Rows: rows, Cols: cols, Values: make([]float64, rows*cols)}
	for p := range flat.Values {
		flat.Values[p] = 0.5 + float64(p%17)/16
	}
	flat.Values[5] = 0 // masked by the flat
	flatPath := writeTIFF(t, dir, "flat.tif", flat)
	cal.Reduction = &Reduction{Flat: flatPath}
	ig = build(t, cal, m, Options{})
	flatRead, err := ReadImage(flatPath)
	if err != nil {
		t.Fatal(err)
	}
	pol := closedFormPolarization(cal)
	for p := range flatRead.Values {
		flatRead.Values[p] *= pol[p] // what a polarized isotropic scatterer through this flat gives
	}
	res, err = ig.Integrate(flatRead)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range res.Curves[0].I {
		if !math.IsNaN(v) && math.Abs(v-1) > 1e-6 {
			t.Errorf("frame == flat: bin %d I = %.9g, want 1", k, v)
		}
	}
	if ig.Operator(0).At(5, 0) != 0 || ig.Operator(0).At(5, 1) != 0 {
		t.Error("the pixel where the flat is 0 is not masked")
	}

	// Constant frame and dark: I = c − d, σ = sqrt((c+d)·Σ_p A²)/Σ_p A
	// (the propagated error, each pixel's share A[p,k] of the bin).
	cal.PolarizationCorrection = nil
	const c, d = 40, 7
	cdark := countsImage(rows, cols, m, func(int, int) int32 { return d })
	cal.Reduction = &Reduction{Dark: writeTIFF(t, dir, "cdark.tif", cdark)}
	ig = build(t, cal, m, Options{})
	res, err = ig.Integrate(countsImage(rows, cols, m, func(int, int) int32 { return c }))
	if err != nil {
		t.Fatal(err)
	}
	cv := res.Curves[0]
	op := ig.Operator(0)
	npix, nbins := op.Dims()
	sa, sa2 := make([]float64, nbins), make([]float64, nbins)
	for p := range npix {
		for k := range nbins {
			a := op.At(p, k)
			sa[k] += a
			sa2[k] += a * a
		}
	}
	first := nbins - len(cv.I)
	for j, v := range cv.I {
		if math.IsNaN(v) {
			continue
		}
		if v != c-d {
			t.Errorf("bin %d: I = %g, want %d", j, v, c-d)
		}
		k := first + j
		if want := math.Sqrt((c+d)*sa2[k]) / sa[k]; math.Abs(cv.Sigma[j]-want) > 1e-12*want {
			t.Errorf("bin %d: σ = %g, want sqrt((c+d)·ΣA²)/ΣA = %g", j, cv.Sigma[j], want)
		}
	}
}

// A background frame equal to the frame, scale 1, leaves 0 with σ√2 of
// the frame's; scale s leaves (1−s)·I. A background curve is interpolated
// onto the bins.
func TestBackground(t *testing.T) {
	dir := t.TempDir()
	cal, m := synthetic(t, 2)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	frame := patterned(rows, cols, m, 11)
	path := writeTIFF(t, dir, "bkg.tif", frame)
	cal.Reduction = &Reduction{ErrorModel: ErrorPoisson} // the propagated errors, nothing else
	plain, err := build(t, cal, m, Options{}).Integrate(frame)
	if err != nil {
		t.Fatal(err)
	}
	p := plain.Curves[0]
	for _, scale := range []float64{1, 0.25} {
		cal.Reduction = &Reduction{Background: &Background{File: path, Scale: &scale}}
		res, err := build(t, cal, m, Options{}).Integrate(frame)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range res.Curves[0].I {
			if math.IsNaN(p.I[k]) {
				continue
			}
			if want := p.I[k] - scale*p.I[k]; math.Abs(v-want) > 1e-12*p.I[k] {
				t.Errorf("scale %g bin %d: I = %g, want %g", scale, k, v, want)
			}
			if want := math.Hypot(1, scale) * p.Sigma[k]; math.Abs(res.Curves[0].Sigma[k]-want) > 1e-12*want {
				t.Errorf("scale %g bin %d: σ = %g, want %g", scale, k, res.Curves[0].Sigma[k], want)
			}
		}
	}
	// A curve I_B(q) = 2q+1, σ_B = 0.5 on a coarse grid, scale 3.
	var b strings.Builder
	b.WriteString("# q I sigma\n")
	for q := 0.0; q <= 10; q += 0.5 {
		fmt.Fprintf(&b, "%g %g 0.5\n", q, 2*q+1)
	}
	cpath := filepath.Join(dir, "bkg.dat")
	if err := os.WriteFile(cpath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	three := 3.0
	cal.Reduction = &Reduction{Background: &Background{File: cpath, Scale: &three}}
	res, err := build(t, cal, m, Options{}).Integrate(frame)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range res.Curves[0].I {
		if math.IsNaN(p.I[k]) {
			continue
		}
		q := p.Q[k]
		if want := p.I[k] - 3*(2*q+1); math.Abs(v-want) > 1e-9*math.Abs(p.I[k]) {
			t.Errorf("curve background, bin %d (q %g): I = %g, want %g", k, q, v, want)
		}
		if want := math.Hypot(p.Sigma[k], 1.5); math.Abs(res.Curves[0].Sigma[k]-want) > 1e-12*want {
			t.Errorf("curve background, bin %d: σ = %g, want %g", k, res.Curves[0].Sigma[k], want)
		}
	}
}
