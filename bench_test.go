package saxs

import (
	"testing"
)

// benchSetup loads buf1_00000.tif with the geometry of cal.json at
// Oversampling 3 and the mask AAA_integ.msk.
func benchSetup(b *testing.B) (*Calibration, *Image) {
	b.Helper()
	cal, err := LoadCalibration(sharedData(b, "cal.json"))
	if err != nil {
		b.Fatal(err)
	}
	cal.Masks[0].Oversampling = 3
	img, err := ReadImage(sharedData(b, "buf1_00000.tif"))
	if err != nil {
		b.Fatal(err)
	}
	return cal, img
}

// benchIntegrator builds the integrator of benchSetup.
func benchIntegrator(b *testing.B) (*Integrator, *Image) {
	b.Helper()
	cal, img := benchSetup(b)
	ig, err := New(cal)
	if err != nil {
		b.Fatal(err)
	}
	return ig, img
}

var sink int64

// BenchmarkSumPilatus1M is the floor: one plain pass summing the frame's
// int32 pixels.
func BenchmarkSumPilatus1M(b *testing.B) {
	_, img := benchSetup(b)
	b.SetBytes(int64(4 * len(img.Counts)))
	b.ReportAllocs()
	for b.Loop() {
		var s int64
		for _, v := range img.Counts {
			s += int64(v)
		}
		sink += s
	}
}

// BenchmarkIntegratePilatus1M integrates one frame into a reused result on
// one goroutine.
func BenchmarkIntegratePilatus1M(b *testing.B) {
	ig, img := benchIntegrator(b)
	res := ig.NewResult()
	b.SetBytes(int64(4 * len(img.Counts)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ig.IntegrateTo(res, img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIntegrateParallelPilatus1M is the same using all cores for one
// frame.
func BenchmarkIntegrateParallelPilatus1M(b *testing.B) {
	ig, img := benchIntegrator(b)
	res := ig.NewResult()
	b.SetBytes(int64(4 * len(img.Counts)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ig.IntegrateParallelTo(res, img, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewPilatus1M builds the operator: geometry, oversampling, mask
// and polarization (the mask is read once, outside the loop).
func BenchmarkNewPilatus1M(b *testing.B) {
	cal, _ := benchSetup(b)
	cal.PolarizationCorrection = &Polarization{Fraction: 0.995, Angle: 0}
	m, err := OpenMask(cal.MaskPath(0))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewWithOptions(cal, Options{Masks: []*Mask{m}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewCachedPilatus1M is a second start with the operator cache:
// reading the mask, hashing the inputs and loading the operator file.
func BenchmarkNewCachedPilatus1M(b *testing.B) {
	cal, _ := benchSetup(b)
	cal.PolarizationCorrection = &Polarization{Fraction: 0.995, Angle: 0}
	opt := Options{CacheDir: b.TempDir()}
	if _, err := NewWithOptions(cal, opt); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewWithOptions(cal, opt); err != nil {
			b.Fatal(err)
		}
	}
}
