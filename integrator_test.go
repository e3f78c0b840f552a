package saxs

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// synthetic returns a small tilted calibration (2.0 layout) and a mask with
// a beam stop, a detector gap and scattered bad pixels.
func synthetic(t testing.TB, ov int) (*Calibration, *Mask) {
	t.Helper()
	rows, cols := 61, 83
	cal := &Calibration{
		Title: "synthetic",
		Geometry: Geometry{
			Tilt:               Tilt{TiltRotDeg: 37.5, TiltAngleDeg: -3.2},
			BeamCenter:         [2]float64{40.3, 29.8},
			DetectorDistanceMM: 95,
			Imagesize:          [2]int{rows, cols},
			PixelSizeMicroM:    []float64{172},
		},
		Wavelength: 1.54,
		Masks:      []MaskConfig{{MaskFile: "synthetic.msk", Oversampling: ov, PixelPerRadialElement: 1, QStart: 0.1, QStop: 1}},
	}
	if err := cal.Validate(); err != nil {
		t.Fatal(err)
	}
	m := &Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	rng := rand.New(rand.NewPCG(1, 2))
	for r := range rows {
		for c := range cols {
			dy, dx := float64(r)-(float64(rows)-40.3), float64(c)-29.8
			m.Masked[r*cols+c] = dx*dx+dy*dy < 16 || r == 30 || r == 31 || rng.IntN(50) == 0
		}
	}
	return cal, m
}

func build(t testing.TB, cal *Calibration, m *Mask, opt Options) *Integrator {
	t.Helper()
	opt.Masks = []*Mask{m}
	ig, err := NewWithOptions(cal, opt)
	if err != nil {
		t.Fatal(err)
	}
	return ig
}

// countsImage fills an integer image; masked pixels get -1 as in Pilatus gaps.
func countsImage(rows, cols int, m *Mask, f func(r, c int) int32) *Image {
	img := &Image{Rows: rows, Cols: cols, Counts: make([]int32, rows*cols)}
	for r := range rows {
		for c := range cols {
			p := r*cols + c
			if m != nil && m.Masked[p] {
				img.Counts[p] = -1
				continue
			}
			img.Counts[p] = f(r, c)
		}
	}
	return img
}

// A constant image with masked gaps integrates to exactly the constant.
func TestConstantImage(t *testing.T) {
	for _, ov := range []int{1, 2, 3, 5} {
		for _, rb := range []*RadialBins{nil, {Start: 0.05, Stop: 1.9, Count: 173}} {
			cal, m := synthetic(t, ov)
			cal.Masks[0].RadialBins = rb
			ig := build(t, cal, m, Options{})
			img := countsImage(61, 83, m, func(int, int) int32 { return 7 })
			fimg := NewImage(61, 83)
			for i, v := range img.Counts {
				fimg.Values[i] = float64(v)
			}
			for _, im := range []*Image{img, fimg} {
				r, err := ig.Integrate(im)
				if err != nil {
					t.Fatal(err)
				}
				c := r.Curves[0]
				nonEmpty := 0
				for j, v := range c.I {
					if c.Area[j] == 0 {
						if !math.IsNaN(v) || !math.IsNaN(c.Sigma[j]) {
							t.Fatalf("ov %d: empty bin %d = %v ± %v, want NaN", ov, j, v, c.Sigma[j])
						}
						continue
					}
					nonEmpty++
					if math.Abs(v-7) > 7e-12 {
						t.Fatalf("ov %d bins %v: bin %d = %.17g, want 7", ov, rb, j, v)
					}
					if want := math.Sqrt(7 / c.Area[j]); math.Abs(c.Sigma[j]-want) > 1e-12*want {
						t.Fatalf("ov %d: Poisson error of bin %d = %g, want sqrt(7/%g)", ov, j, c.Sigma[j], c.Area[j])
					}
				}
				if nonEmpty < 20 {
					t.Fatalf("ov %d: only %d non-empty bins", ov, nonEmpty)
				}
			}
		}
	}
}

// closedFormPolarization is the polarization factor written out independently: the
// azimuth and scattering angle of pixel centres from the tilted geometry
// with the original's trigonometric formulas.
func closedFormPolarization(cal *Calibration) []float64 {
	g := cal.Geometry
	rows, cols := g.Imagesize[0], g.Imagesize[1]
	px := g.PixelSizeMicroM[0] * 1e-3
	d := g.DetectorDistanceMM
	tilt := g.Tilt.TiltAngleDeg * math.Pi / 180
	rot := g.Tilt.TiltRotDeg * math.Pi / 180
	F := cal.PolarizationCorrection.Fraction
	rho := cal.PolarizationCorrection.Angle*math.Pi/180 - math.Pi/2
	out := make([]float64, rows*cols)
	for a := range rows {
		for b := range cols {
			y := float64(a) - float64(rows) + g.BeamCenter[0] + 0.5
			x := float64(b) - g.BeamCenter[1] + 0.5
			r := math.Hypot(x, y) * px
			phi := math.Atan2(y, x)
			alpha := math.Asin(math.Sin(tilt) * math.Sin(phi+rot+math.Pi/2))
			l2 := d*d + r*r - 2*d*r*math.Cos(math.Pi/2+alpha)
			arg := -(r*r - l2 - d*d) / (2 * math.Sqrt(l2) * d)
			theta := math.Acos(math.Max(-1, math.Min(1, arg)))
			s := math.Sin(theta)
			out[a*cols+b] = F*(1-math.Pow(math.Sin(phi-rho)*s, 2)) + (1-F)*(1-math.Pow(math.Cos(phi-rho)*s, 2))
		}
	}
	return out
}

// An image equal to the polarization factor integrates to 1 with the
// correction on.
func TestPolarizationImage(t *testing.T) {
	for _, pc := range []Polarization{{Fraction: 1, Angle: 0}, {Fraction: 0.95, Angle: 30}, {Fraction: 0.2, Angle: -90}} {
		cal, m := synthetic(t, 3)
		cal.Geometry.DetectorDistanceMM = 12 // large angles, so that the factor varies
		cal.PolarizationCorrection = &pc
		ig := build(t, cal, m, Options{})
		p := closedFormPolarization(cal)
		img := NewImage(61, 83)
		copy(img.Values, p)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range p {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if hi-lo < 0.05 {
			t.Fatalf("polarization factor varies too little (%g..%g) for a meaningful test", lo, hi)
		}
		r, err := ig.Integrate(img)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for j, v := range r.Curves[0].I {
			if r.Curves[0].Area[j] > 0 {
				worst = math.Max(worst, math.Abs(v-1))
			}
		}
		// The correction is stored as float32 (relative error < 6e-8).
		if worst > 2e-7 {
			t.Errorf("%+v: largest |I-1| = %g", pc, worst)
		}
		// Without the correction the same image does not integrate to 1.
		cal.PolarizationCorrection = nil
		r, _ = build(t, cal, m, Options{}).Integrate(img)
		off := 0.0
		for j, v := range r.Curves[0].I {
			if r.Curves[0].Area[j] > 0 {
				off = math.Max(off, math.Abs(v-1))
			}
		}
		if off < 0.01 {
			t.Errorf("%+v: uncorrected curve is within %g of 1; the test cannot tell", pc, off)
		}
	}
}

// Intensity is conserved: Σ_k I_k·Area_k equals the sum of the unmasked
// pixels.
func TestConservation(t *testing.T) {
	cal, m := synthetic(t, 4)
	ig := build(t, cal, m, Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	img := countsImage(61, 83, m, func(int, int) int32 { return int32(rng.IntN(100000)) })
	var want float64
	for p, v := range img.Counts {
		if !m.Masked[p] {
			want += float64(v)
		}
	}
	r, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	var got float64
	c := r.Curves[0]
	for j := range c.I {
		if c.Area[j] > 0 {
			got += c.I[j] * c.Area[j]
		}
	}
	if math.Abs(got-want) > 1e-12*want {
		t.Errorf("Σ I·area = %.17g, Σ unmasked pixels = %.17g", got, want)
	}
}

// straightLabels computes sub-pixel labels the plain way, with the
// original's trigonometric formulas (geometry, angles, bins).
func straightLabels(cal *Calibration, ov int) ([]int32, int) {
	g := cal.Geometry
	R, C := g.Imagesize[0], g.Imagesize[1]
	px := g.PixelSizeMicroM[0] * 1e-3
	d := g.DetectorDistanceMM
	tilt := g.Tilt.TiltAngleDeg / 180 * math.Pi
	rot := g.Tilt.TiltRotDeg / 180 * math.Pi
	n := R * ov * C * ov
	q := make([]float64, n)
	r := make([]float64, n)
	for a := range R * ov {
		for b := range C * ov {
			y := ((float64(a)*(1/float64(ov)) - float64(R)) + g.BeamCenter[0]) + 0.5/float64(ov)
			x := (float64(b)*(1/float64(ov)) - g.BeamCenter[1]) + 0.5/float64(ov)
			i := a*C*ov + b
			r[i] = math.Hypot(x, y) * px
			phi := math.Atan2(y, x)
			alpha := math.Asin(math.Sin(tilt) * math.Sin(phi+rot+math.Pi/2))
			l2 := d*d + r[i]*r[i] - 2*d*r[i]*math.Cos(math.Pi/2+alpha)
			arg := -(r[i]*r[i] - l2 - d*d) / (2 * math.Sqrt(l2) * d)
			th := math.Acos(math.Max(-1, math.Min(1, arg)))
			q[i] = 4 * math.Pi * math.Sin(th/2) / cal.Wavelength / AngstromStar
		}
	}
	maxq, maxr := 0.0, 0.0
	for i := range q {
		maxq, maxr = math.Max(maxq, q[i]), math.Max(maxr, r[i])
	}
	scale := (1 / maxq) * maxr / px / cal.Masks[0].PixelPerRadialElement
	labels := make([]int32, n)
	nb := 0
	for i := range q {
		labels[i] = int32(q[i] * scale)
		nb = max(nb, int(labels[i])+1)
	}
	return labels, nb
}

// The fused, compact operator of New equals the straightforward one built
// from explicit labels with ScaleMat, entry by entry, and integrates to the
// same curve.
func TestOperatorMatchesStraightforward(t *testing.T) {
	for _, ov := range []int{1, 2, 3} {
		cal, m := synthetic(t, ov)
		ig := build(t, cal, m, Options{Workers: 3})
		labels, nb := straightLabels(cal, ov)
		ref, err := ScaleMat(labels, 61, 83, ov, nb, m)
		if err != nil {
			t.Fatal(err)
		}
		op := ig.Operator(0)
		np, nbo := op.Dims()
		if np != 61*83 || nbo != nb {
			t.Fatalf("ov %d: dims %d×%d, want %d×%d", ov, np, nbo, 61*83, nb)
		}
		diff := 0
		for p := range np {
			for k := range nb {
				if op.At(p, k) != ref.At(p, k) {
					diff++
				}
			}
		}
		// Labels computed with different (equally valid) formulas may flip
		// for a sub-pixel lying on a bin edge to within rounding.
		if diff > 2 {
			t.Errorf("ov %d: %d operator entries differ", ov, diff)
		}
		// Dense reference integration.
		rng := rand.New(rand.NewPCG(5, 6))
		img := countsImage(61, 83, m, func(int, int) int32 { return int32(rng.IntN(1000)) })
		r, err := ig.Integrate(img)
		if err != nil {
			t.Fatal(err)
		}
		c := r.Curves[0]
		for j := range c.I {
			k := j // rows start at label 0: the beam centre is on the detector
			var s, a float64
			for p := range np {
				w := ref.At(p, k)
				s += w * float64(img.Counts[p])
				a += w
			}
			if a == 0 {
				if !math.IsNaN(c.I[j]) {
					t.Fatalf("bin %d: want NaN", k)
				}
				continue
			}
			if relDiff(c.I[j], s/a) > 1e-6 {
				t.Errorf("ov %d bin %d: I = %.12g, dense reference %.12g", ov, k, c.I[j], s/a)
			}
		}
	}
}

// Parallel and single-goroutine integration agree exactly, and the
// single-goroutine path allocates nothing.
func TestIntegrateParallelAndAllocs(t *testing.T) {
	cal, m := synthetic(t, 2)
	cal.PolarizationCorrection = &Polarization{Fraction: 0.9, Angle: 10}
	ig := build(t, cal, m, Options{})
	rng := rand.New(rand.NewPCG(7, 8))
	img := countsImage(61, 83, m, func(int, int) int32 { return int32(rng.IntN(5000)) })
	a, b := ig.NewResult(), ig.NewResult()
	if err := ig.IntegrateTo(a, img); err != nil {
		t.Fatal(err)
	}
	if err := ig.IntegrateParallelTo(b, img, 3); err != nil {
		t.Fatal(err)
	}
	for j := range a.Curves[0].I {
		x, y := a.Curves[0].I[j], b.Curves[0].I[j]
		if relDiff(x, y) > 1e-12 && !(math.IsNaN(x) && math.IsNaN(y)) {
			t.Fatalf("bin %d: %g vs %g", j, x, y)
		}
	}
	if n := testing.AllocsPerRun(20, func() { _ = ig.IntegrateTo(a, img) }); n != 0 {
		t.Errorf("IntegrateTo allocates %v times per call", n)
	}
}

// IntegrateError: for an image that is constant within each ring the
// spread is 0; for a known two-valued ring it is the population standard
// deviation.
func TestIntegrateError(t *testing.T) {
	cal, m := synthetic(t, 1)
	ig := build(t, cal, m, Options{})
	img := countsImage(61, 83, m, func(r, c int) int32 { return 10 })
	ec, err := ig.IntegrateError(img)
	if err != nil {
		t.Fatal(err)
	}
	for j, s := range ec[0].StdDev {
		if ec[0].Area[j] > 0 && s != 0 {
			t.Fatalf("bin %d: std dev %g of a constant image", j, s)
		}
	}
	// Alternate 10 and 30 by column parity: at ov = 1 each pixel is in one
	// bin, so each bin's spread is that of its own pixel values.
	img = countsImage(61, 83, m, func(r, c int) int32 { return int32(10 + 20*(c%2)) })
	ec, err = ig.IntegrateError(img)
	if err != nil {
		t.Fatal(err)
	}
	op := ig.Operator(0)
	for j := range ec[0].StdDev {
		var vals []float64
		for p := range img.Counts {
			if op.At(p, j) == 1 {
				vals = append(vals, float64(img.Counts[p]))
			}
		}
		if len(vals) == 0 {
			continue
		}
		var mean, ss float64
		for _, v := range vals {
			mean += v
		}
		mean /= float64(len(vals))
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		want := math.Sqrt(ss / float64(len(vals)))
		if math.Abs(ec[0].StdDev[j]-want) > 1e-9*math.Max(1, want) {
			t.Fatalf("bin %d: std dev %g, want %g", j, ec[0].StdDev[j], want)
		}
		if math.Abs(ec[0].I[j]-mean) > 1e-9*mean {
			t.Fatalf("bin %d: mean %g, want %g", j, ec[0].I[j], mean)
		}
	}
}

func TestIntegrateWrongSize(t *testing.T) {
	cal, m := synthetic(t, 1)
	ig := build(t, cal, m, Options{})
	_, err := ig.Integrate(NewImage(60, 83))
	var se *SizeError
	if err == nil || !asSizeError(err, &se) {
		t.Fatalf("err = %v, want a SizeError", err)
	}
	if want := "image is 60 rows × 83 columns, calibration Imagesize is [61, 83]"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func asSizeError(err error, target **SizeError) bool { return errors.As(err, target) }
