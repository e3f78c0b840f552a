package render

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/saxsdog/saxs"
)

// decodePNG encodes img and mask with FramePNG and decodes the result.
func decodePNG(t *testing.T, img *saxs.Image, mask *saxs.Mask) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := FramePNG(&buf, img, mask); err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if b := m.Bounds(); b.Dx() != img.Cols || b.Dy() != img.Rows {
		t.Fatalf("PNG is %d × %d, frame %d × %d", b.Dx(), b.Dy(), img.Cols, img.Rows)
	}
	return m
}

func rgba(c color.Color) color.RGBA {
	return color.RGBAModel.Convert(c).(color.RGBA)
}

// luminance is the relative luminance (Rec. 709) of c, on 0…255.
func luminance(c color.Color) float64 {
	v := rgba(c)
	return 0.2126*float64(v.R) + 0.7152*float64(v.G) + 0.0722*float64(v.B)
}

// pilatus returns a frame like a Pilatus 1M SAXS frame: counts falling off
// from a beam centre, Poisson-like noise, the horizontal and vertical module
// gaps at -1, a few dead pixels (-2) and hot pixels (1048573). The mask
// covers a beam stop.
func pilatus(rows, cols int) (*saxs.Image, *saxs.Mask) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := &saxs.Image{Rows: rows, Cols: cols, Counts: make([]int32, rows*cols)}
	mask := &saxs.Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	cr, cc := float64(rows)*0.6, float64(cols)*0.45
	for r := range rows {
		for c := range cols {
			i := r*cols + c
			d := math.Hypot(float64(r)-cr, float64(c)-cc)
			mean := 5e4/(1+d*d/400) + 2
			img.Counts[i] = int32(mean + math.Sqrt(mean)*rng.NormFloat64())
			if r%212 >= 195 || c%494 >= 487 {
				img.Counts[i] = -1
			}
			if d < 15 {
				mask.Masked[i] = true
			}
		}
	}
	for range 20 {
		img.Counts[rng.IntN(rows*cols)] = -2
		img.Counts[rng.IntN(rows*cols)] = 1048573
	}
	return img, mask
}

func TestFramePNG(t *testing.T) {
	const rows, cols = 60, 80
	img := &saxs.Image{Rows: rows, Cols: cols, Counts: make([]int32, rows*cols)}
	mask := &saxs.Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	// Bright at the top, dark at the bottom.
	for r := range rows {
		for c := range cols {
			img.Counts[r*cols+c] = int32(1000*(rows-r) + c)
		}
	}
	img.Counts[5*cols+7] = -1            // gap
	img.Counts[6*cols+7] = 50_000_000    // hot pixel
	mask.Masked[10*cols+20] = true       // masked
	mask.Masked[11*cols+20] = true       // masked and negative
	img.Counts[11*cols+20] = -2          //
	img.Counts[(rows-1)*cols+cols-1] = 0 // darkest unmasked
	img.Counts[(rows-1)*cols+cols-2] = 1 //
	m := decodePNG(t, img, mask)

	if got := rgba(m.At(20, 10)); got != maskColor {
		t.Errorf("masked pixel has colour %v, want %v", got, maskColor)
	}
	if got := rgba(m.At(20, 11)); got != maskColor {
		t.Errorf("masked negative pixel has colour %v, want %v", got, maskColor)
	}
	if got := rgba(m.At(7, 5)); got != invalidColor {
		t.Errorf("negative pixel has colour %v, want %v", got, invalidColor)
	}
	dark := luminance(m.At(cols-1, rows-1))
	bright := luminance(m.At(cols-1, 0))
	if !(bright > dark) {
		t.Errorf("brightest unmasked pixel has luminance %g, darkest %g", bright, dark)
	}
	// Row 0 is at the top: luminance falls from top to bottom.
	for r := 1; r < rows; r++ {
		if luminance(m.At(40, r)) > luminance(m.At(40, r-1)) {
			t.Fatalf("row %d is brighter than row %d", r, r-1)
		}
	}
	// The hot pixel does not compress the scale: the top rows (within the
	// 99.9th percentile) are at the bright end, like the hot pixel.
	if got, want := rgba(m.At(cols-1, 0)), rgba(m.At(7, 6)); got != want {
		t.Errorf("brightest regular pixel %v, hot pixel %v: hot pixel compresses the scale", got, want)
	}
	if got := rgba(m.At(cols-1, rows-1)); got != rgba(palette()[0]) {
		t.Errorf("zero pixel %v, want the bottom of the colour map %v", got, palette()[0])
	}
}

func TestFramePNGValues(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	img := &saxs.Image{Rows: 2, Cols: 4, Values: []float64{
		0.001, 0.5, 3.25, 1e6,
		nan, -0.5, inf, -inf,
	}}
	m := decodePNG(t, img, nil)
	for x := range 3 {
		if !(luminance(m.At(x+1, 0)) > luminance(m.At(x, 0))) {
			t.Errorf("pixel %d not brighter than pixel %d", x+1, x)
		}
	}
	for _, x := range []int{0, 1, 3} {
		if got := rgba(m.At(x, 1)); got != invalidColor {
			t.Errorf("pixel (%d, 1) = %v, want the invalid colour", x, got)
		}
	}
	if got, want := rgba(m.At(2, 1)), rgba(palette()[levels-1]); got != want {
		t.Errorf("+Inf pixel %v, want the top of the colour map %v", got, want)
	}
}

func TestFramePNGDegenerate(t *testing.T) {
	all := func(n int, v bool) []bool { return slices.Repeat([]bool{v}, n) }
	counts := func(n int, v int32) []int32 { return slices.Repeat([]int32{v}, n) }
	for _, tc := range []struct {
		name string
		img  *saxs.Image
		mask *saxs.Mask
		want color.RGBA // colour of pixel (0, 0)
	}{
		{"all masked", &saxs.Image{Rows: 3, Cols: 4, Counts: counts(12, 7)}, &saxs.Mask{Rows: 3, Cols: 4, Masked: all(12, true)}, maskColor},
		{"all zero", &saxs.Image{Rows: 3, Cols: 4, Counts: counts(12, 0)}, nil, rgba(palette()[0])},
		{"all negative", &saxs.Image{Rows: 3, Cols: 4, Counts: counts(12, -1)}, nil, invalidColor},
		{"all equal", &saxs.Image{Rows: 3, Cols: 4, Counts: counts(12, 42)}, &saxs.Mask{Rows: 3, Cols: 4, Masked: all(12, false)}, rgba(palette()[levels-1])},
		{"all NaN", &saxs.Image{Rows: 2, Cols: 2, Values: slices.Repeat([]float64{math.NaN()}, 4)}, nil, invalidColor},
		{"single pixel", &saxs.Image{Rows: 1, Cols: 1, Counts: []int32{5}}, nil, rgba(palette()[levels-1])},
		{"max int32", &saxs.Image{Rows: 1, Cols: 2, Counts: []int32{math.MaxInt32, math.MinInt32}}, nil, rgba(palette()[levels-1])},
		{"tiny floats", &saxs.Image{Rows: 1, Cols: 2, Values: []float64{5e-324, 0}}, nil, rgba(palette()[levels-1])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := decodePNG(t, tc.img, tc.mask)
			if got := rgba(m.At(0, 0)); got != tc.want {
				t.Errorf("pixel (0, 0) = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFramePNGErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		img  *saxs.Image
		mask *saxs.Mask
	}{
		{"nil image", nil, nil},
		{"no pixels", &saxs.Image{}, nil},
		{"no samples", &saxs.Image{Rows: 2, Cols: 2}, nil},
		{"both sample kinds", &saxs.Image{Rows: 1, Cols: 1, Counts: []int32{1}, Values: []float64{1}}, nil},
		{"short samples", &saxs.Image{Rows: 2, Cols: 2, Counts: []int32{1}}, nil},
		{"mask size", &saxs.Image{Rows: 2, Cols: 2, Counts: make([]int32, 4)}, &saxs.Mask{Rows: 2, Cols: 3, Masked: make([]bool, 6)}},
		{"short mask", &saxs.Image{Rows: 2, Cols: 2, Counts: make([]int32, 4)}, &saxs.Mask{Rows: 2, Cols: 2, Masked: make([]bool, 3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := FramePNG(&buf, tc.img, tc.mask); err == nil {
				t.Error("no error")
			}
		})
	}
	img := &saxs.Image{Rows: 2, Cols: 2, Counts: make([]int32, 4)}
	if err := FramePNG(failWriter{}, img, nil); !errors.Is(err, errFail) {
		t.Errorf("write error %v, want one wrapping %v", err, errFail)
	}
}

func TestPalette(t *testing.T) {
	pal := palette()
	if len(pal) != 256 {
		t.Fatalf("palette has %d colours", len(pal))
	}
	if got := rgba(pal[0]); got != (color.RGBA{0x44, 0x01, 0x54, 0xff}) {
		t.Errorf("colour map starts with %v, want viridis #440154", got)
	}
	if got := rgba(pal[levels-1]); got != (color.RGBA{0xfd, 0xe7, 0x25, 0xff}) {
		t.Errorf("colour map ends with %v, want viridis #fde725", got)
	}
	// Viridis brightens steadily (in 8 bits, with some jitter between
	// neighbours).
	for i := 4; i < levels; i++ {
		if luminance(pal[i]) <= luminance(pal[i-4]) {
			t.Errorf("colour %d is not brighter than colour %d", i, i-4)
		}
	}
	for i, c := range pal[:levels] {
		if c == color.Color(maskColor) || c == color.Color(invalidColor) {
			t.Errorf("colour map entry %d is a marker colour", i)
		}
	}
}

func TestSelectKth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 5, 10, 100, 1001} {
		for _, spread := range []int{1, 3, 1000} {
			a := make([]int32, n)
			for i := range a {
				a[i] = int32(rng.IntN(spread))
			}
			sorted := slices.Sorted(slices.Values(a))
			for _, k := range []int{0, n / 3, n / 2, n - 1} {
				b := slices.Clone(a)
				if got := selectKth(b, k); got != sorted[k] {
					t.Fatalf("n %d spread %d: rank %d is %d, want %d", n, spread, k, got, sorted[k])
				}
				for i := range b {
					if i < k && b[i] > b[k] || i > k && b[i] < b[k] {
						t.Fatalf("n %d spread %d k %d: not partitioned at %d", n, spread, k, i)
					}
				}
			}
		}
	}
}

func TestPercentiles(t *testing.T) {
	// 1…1000, with hot pixels and masked, negative and NaN values that
	// must not count.
	var pix []float64
	var masked []bool
	for v := 1; v <= 1000; v++ {
		pix = append(pix, float64(v))
		masked = append(masked, false)
	}
	pix = append(pix, 1e9, -5, math.NaN(), math.Inf(1), 0, 1e12)
	masked = append(masked, false, false, false, false, false, true)
	lo, hi := percentiles(pix, masked)
	// 1001 values: ranks 5 and 999.
	if lo != 6 || hi != 1000 {
		t.Errorf("percentiles %g, %g; want 6, 1000", lo, hi)
	}
}

func BenchmarkFramePNG(b *testing.B) {
	// Pilatus 1M: 1043 rows × 981 columns.
	img, mask := pilatus(1043, 981)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := FramePNG(&buf, img, mask); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/png")
}

func BenchmarkFramePNGFloat(b *testing.B) {
	img, mask := pilatus(1043, 981)
	img.Values = make([]float64, len(img.Counts))
	for i, v := range img.Counts {
		img.Values[i] = float64(v) * 0.37
	}
	img.Counts = nil
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := FramePNG(&buf, img, mask); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/png")
}
