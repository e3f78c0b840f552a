package saxs

import (
	"os"
	"path/filepath"
	"testing"
)

// benchReduction benchmarks IntegrateTo on the reference frame with the
// reduction options red (nil: none).
func benchReduction(b *testing.B, red func(dir string) *Reduction) {
	cal, img := benchSetup(b)
	if red != nil {
		cal.Reduction = red(b.TempDir())
	}
	ig, err := New(cal)
	if err != nil {
		b.Fatal(err)
	}
	r := ig.NewResult()
	b.SetBytes(int64(4 * len(img.Counts)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := ig.IntegrateTo(r, img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReductionNone is the kernel as the original uses it.
func BenchmarkReductionNone(b *testing.B) { benchReduction(b, nil) }

// BenchmarkReductionAll has the corrections that fold into the operator
// (solid angle, flat) and the per-bin ones (dark, normalisation,
// background curve) on: the kernel runs with per-pixel weights.
func BenchmarkReductionAll(b *testing.B) {
	benchReduction(b, func(dir string) *Reduction {
		_, img := benchSetup(b)
		flat := NewImage(img.Rows, img.Cols)
		for p := range flat.Values {
			flat.Values[p] = 1 + float64(p%7)/100
		}
		dark := NewImage(img.Rows, img.Cols)
		two := 2.0
		return &Reduction{SolidAngle: true, Flat: writeBenchTIFF(b, dir, "flat.tif", flat),
			Dark: writeBenchTIFF(b, dir, "dark.tif", dark), Monitor: &two, Normalise: NormaliseExposure}
	})
}

// BenchmarkReductionAzimuthal adds the azimuthal error model: one more pass.
func BenchmarkReductionAzimuthal(b *testing.B) {
	benchReduction(b, func(string) *Reduction { return &Reduction{SolidAngle: true, ErrorModel: ErrorAzimuthal} })
}

func writeBenchTIFF(b *testing.B, dir, name string, img *Image) string {
	b.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := EncodeTIFF(f, img); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}
