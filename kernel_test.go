package saxs

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// kernelSums returns the T, U and direct sums of the pixels [p0, p1) of
// img by the histogram kernel and by the per-pixel (TU) kernel.
func kernelSums(op *Operator, img []int32, p0, p1 int) (hist, tu []int64) {
	hist = make([]int64, op.accLen())
	tu = make([]int64, op.accLen())
	op.sumCounts(img, hist, make([]int64, 2*histFixed), p0, p1)
	op.sumCountsTU(img, tu, p0, p1)
	return hist, tu
}

// The histogram kernel gives the per-pixel kernel's bin sums S_k bit for
// bit (integer sums are exact), over whole images and parts of them, on
// synthetic detectors with masks and exception pixels at oversampling 1 to
// 4 and with negative counts.
func TestKernelHistMatchesTU(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, ov := range []int{1, 2, 3, 4} {
		cal, m := synthetic(t, ov)
		ig := build(t, cal, m, Options{})
		op := ig.Operator(0)
		if op.histUsed() == 0 {
			t.Fatalf("ov %d: %d bins do not fit the histogram", ov, op.nbins)
		}
		img := countsImage(61, 83, m, func(int, int) int32 { return int32(rng.IntN(2000)) - 2 })
		np, _ := op.Dims()
		for _, r := range [][2]int{{0, np}, {0, np / 3}, {np / 3, np}, {17, 18}, {100, 2000}} {
			h, u := kernelSums(op, img.Counts, r[0], r[1])
			for k := range op.nbins {
				if x, y := binSum(op, h, k), binSum(op, u, k); x != y {
					t.Errorf("ov %d pixels %v bin %d: histogram %d, per-pixel %d", ov, r, k, x, y)
					break
				}
			}
		}
	}
}

// On the real Pilatus frame and mask, at oversampling 1 to 3, the curve of
// the histogram kernel is the per-pixel kernel's bit for bit, single and
// parallel.
func TestKernelHistPilatus(t *testing.T) {
	for _, ov := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("ov=", ov), func(t *testing.T) {
			cal := loadShared(t, "cal.json")
			cal.Masks[0].Oversampling = ov
			img, err := ReadImage(sharedData(t, "buf1_00000.tif"))
			if err != nil {
				t.Fatal(err)
			}
			ig, err := New(cal)
			if err != nil {
				t.Fatal(err)
			}
			op := ig.Operator(0)
			np, _ := op.Dims()
			h, u := kernelSums(op, img.Counts, 0, np)
			for k := range op.nbins {
				if a, b := binSum(op, h, k), binSum(op, u, k); a != b {
					t.Fatalf("bin %d: histogram %d, per-pixel %d", k, a, b)
				}
			}
			a, b := ig.NewResult(), ig.NewResult()
			if err := ig.IntegrateTo(a, img); err != nil {
				t.Fatal(err)
			}
			if err := ig.IntegrateParallelTo(b, img, 3); err != nil {
				t.Fatal(err)
			}
			// The curve from the per-pixel kernel, as IntegrateTo computed it
			// before the histogram kernel.
			c := a.Curves[0]
			for j := range c.I {
				k := ig.curves[0].first + j
				n := op.count[k]
				if n == 0 {
					continue
				}
				want := float64(binSum(op, u, k)) / float64(n)
				if c.I[j] != want || b.Curves[0].I[j] != want {
					t.Fatalf("bin %d: I %v (parallel %v), per-pixel kernel %v", k, c.I[j], b.Curves[0].I[j], want)
				}
			}
			if !slices.EqualFunc(a.Curves[0].Sigma, b.Curves[0].Sigma, func(x, y float64) bool { return x == y || x != x && y != y }) {
				t.Error("parallel sigma differs")
			}
		})
	}
}

// BenchmarkKernel times the two integer kernels on the Pilatus frame at
// oversampling 3, in one binary for interleaved comparisons.
func BenchmarkKernel(b *testing.B) {
	ig, img := benchIntegrator(b)
	op := ig.Operator(0)
	np, _ := op.Dims()
	acc := make([]int64, op.accLen())
	hist := make([]int64, 2*histFixed)
	for _, v := range []string{"hist", "tu"} {
		b.Run(v, func(b *testing.B) {
			b.SetBytes(int64(4 * np))
			b.ReportAllocs()
			for b.Loop() {
				clear(acc[:op.accUsed()])
				if v == "hist" {
					op.sumCountsHist(img.Counts, acc, hist, 0, np)
				} else {
					op.sumCountsTU(img.Counts, acc, 0, np)
				}
			}
		})
	}
}

// IntegrateTo of an integer frame without correction (the histogram
// kernel) allocates nothing once the result has its accumulators.
func TestKernelHistAllocs(t *testing.T) {
	cal, m := synthetic(t, 3)
	ig := build(t, cal, m, Options{})
	img := countsImage(61, 83, m, func(r, c int) int32 { return int32(r*c) % 97 })
	res := ig.NewResult()
	if err := ig.IntegrateTo(res, img); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() {
		if err := ig.IntegrateTo(res, img); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("IntegrateTo: %v allocations per call, want 0", n)
	}
}

// The packed codes are derived for operators built and loaded from the
// cache alike, and dropped with a polarization correction (whose
// integration is in floating point).
func TestKernelCodesFromCache(t *testing.T) {
	for _, pol := range []bool{false, true} {
		cal, m := synthetic(t, 2)
		if pol {
			cal.PolarizationCorrection = &Polarization{Fraction: 0.9, Angle: 10}
		}
		opt := Options{Masks: []*Mask{m}, CacheDir: t.TempDir()}
		built := build(t, cal, m, opt)
		loaded := build(t, cal, m, opt)
		for what, ig := range map[string]*Integrator{"built": built, "loaded": loaded} {
			op := ig.Operator(0)
			if (op.code != nil) == pol {
				t.Errorf("polarization %v, %s: packed codes present %v", pol, what, op.code != nil)
			}
			for p, b := range op.bin {
				if op.code != nil && b != op.none && int(op.code[p]) != int(b)<<op.histShift()|int(op.split[p]) {
					t.Fatalf("%s: pixel %d code %d, bin %d split %d", what, p, op.code[p], b, op.split[p])
				}
			}
		}
	}
}

// BenchmarkKernelCorr times the floating-point kernels with a per-pixel
// correction factor (the polarization correction) on the Pilatus frame at
// oversampling 3, in one binary for interleaved comparisons: "f64" is
// sumFloat with the float64 factors the operator keeps, "f32" the same loop
// with the factors rounded to float32 (as stored before issue 18), "f64+var"
// sumFloatVar, which also sums the propagated variance in the same pass,
// and "f64,var-pass" sumFloat followed by a separate varianceSums pass.
func BenchmarkKernelCorr(b *testing.B) {
	cal, img := benchSetup(b)
	cal.PolarizationCorrection = &Polarization{Fraction: 0.995, Angle: 0}
	ig, err := New(cal)
	if err != nil {
		b.Fatal(err)
	}
	op := ig.Operator(0)
	np, _ := op.Dims()
	acc := make([]float64, op.accLen())
	vl := make([]float64, 2*(op.nbins+1))
	c32 := make([]float32, len(op.corr))
	for i, v := range op.corr {
		c32[i] = float32(v)
	}
	for _, v := range []string{"f64", "f32", "f64+var", "f64,var-pass"} {
		b.Run(v, func(b *testing.B) {
			b.SetBytes(int64(4 * np))
			b.ReportAllocs()
			for b.Loop() {
				clear(acc[:op.accUsed()])
				switch v {
				case "f64":
					sumFloat(op, img.Counts, acc, 0, np)
				case "f32":
					sumFloat32Corr(op, c32, img.Counts, acc)
				case "f64+var":
					clear(vl)
					sumFloatVar(op, img.Counts, acc, vl, 0, np)
				case "f64,var-pass":
					clear(vl)
					sumFloat(op, img.Counts, acc, 0, np)
					varianceSums(op, op.corr, img.Counts, vl)
				}
			}
		})
	}
}

// sumFloat32Corr is sumFloat's loop over the compact form with float32
// factors, for BenchmarkKernelCorr.
func sumFloat32Corr(op *Operator, c32 []float32, img []int32, accs []float64) {
	acc := (*[accFixed]float64)(accs[:accFixed])
	for _, sp := range op.spans {
		a, z := int(sp.p0), int(sp.p1)
		bins := op.bin[a:z]
		n := len(bins)
		split := op.split[a:z][:n]
		im := img[a:z][:n]
		corr := c32[a:z][:n]
		i := 0
		for ; i+lanes <= n; i += lanes {
			b0, c0, v0 := int(bins[i])*4, float64(split[i]), float64(im[i])*float64(corr[i])
			b1, c1, v1 := int(bins[i+1])*4+2, float64(split[i+1]), float64(im[i+1])*float64(corr[i+1])
			acc[b0] += v0
			acc[b0+1] += c0 * v0
			acc[b1] += v1
			acc[b1+1] += c1 * v1
		}
		if i < n {
			b, c, v := int(bins[i])*4, float64(split[i]), float64(im[i])*float64(corr[i])
			acc[b] += v
			acc[b+1] += c * v
		}
	}
}
