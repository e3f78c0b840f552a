package saxs

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// readColumns reads a whitespace-separated numeric table after skip header
// lines, independently of the package's own .chi reader.
func readColumns(t testing.TB, path string, skip int) [][]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]float64
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan(); n++ {
		if n < skip {
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		row := make([]float64, len(fields))
		for i, s := range fields {
			if row[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("%s: line %d: %v", path, n+1, err)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func loadShared(t testing.TB, name string) *Calibration {
	t.Helper()
	cal, err := LoadCalibration(sharedData(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

func readShared(t testing.TB, name string) *Image {
	t.Helper()
	img, err := ReadImage(sharedData(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func relDiff(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(math.Abs(a), math.Abs(b))
}

// TestOriginal2Reference checks the 2.0 algorithm against the numbers that
// a numpy port of the original HEAD code gives for cal2.json.
func TestOriginal2Reference(t *testing.T) {
	cal := loadShared(t, "cal2.json")
	img := readShared(t, "buf1_00000.tif")
	ig, err := New(cal)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Curves[0]
	if c.Len() != 1003 {
		t.Fatalf("rows = %d, want 1003", c.Len())
	}
	nan, area := 0, 0.0
	for j := range c.I {
		if math.IsNaN(c.I[j]) {
			nan++
		}
		area += c.Area[j]
	}
	if nan != 52 {
		t.Errorf("NaN bins = %d, want 52", nan)
	}
	if area != 666395 {
		t.Errorf("total area = %v, want 666395", area)
	}
	if d := c.Q[1] - c.Q[0]; relDiff(d, 0.006725530624790615) > 1e-12 {
		t.Errorf("Δq = %.17g, want 0.006725530624790615", d)
	}
	if relDiff(c.Q[0], 0.00336277) > 5e-6 { // the spec gives 6 digits
		t.Errorf("first q = %.17g, want 0.00336277", c.Q[0])
	}
	want := []float64{9.079466343467329503e-02, 4.362444444444444343e+03, 4.403253567001183200e+01}
	got := []float64{c.Q[13], c.I[13], c.Sigma[13]}
	for i := range want {
		if relDiff(got[i], want[i]) > 1e-12 {
			t.Errorf("row 13 column %d = %.19e, want %.19e", i, got[i], want[i])
		}
	}
	if c.Area[13] != 2.25 {
		t.Errorf("row 13 area = %v, want 2.25", c.Area[13])
	}
	p := c.Params
	for _, x := range []struct {
		name      string
		got, want float64
	}{{"I0", p.I0, 498.0558150692942}, {"I1", p.I1, 752.0551823529225}, {"I2", p.I2, 2293.856549425462}} {
		if relDiff(x.got, x.want) > 1e-9 {
			t.Errorf("%s = %.16g, want %.16g", x.name, x.got, x.want)
		}
	}
}

// TestLegacyReproducesSaxsdog reproduces the reference curve saxsdog, made by the
// earliest saxsdog with Oversampling 4.
func TestLegacyReproducesSaxsdog(t *testing.T) {
	cal := loadShared(t, "cal.json")
	cal.Masks[0].Oversampling = 4
	ref := readColumns(t, sharedData(t, "saxsdog"), 4)
	img := readShared(t, "buf1_00000.tif")
	ig, err := NewWithOptions(cal, Options{Legacy: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Curves[0]
	if c.Len() != len(ref) {
		t.Fatalf("rows = %d, want %d", c.Len(), len(ref))
	}
	var worstQ, worstI, worstE float64
	for j, row := range ref {
		worstQ = math.Max(worstQ, relDiff(c.Q[j], row[0]))
		worstI = math.Max(worstI, relDiff(c.I[j], row[1]))
		worstE = math.Max(worstE, relDiff(c.Sigma[j], row[2]))
		if relDiff(c.I[j], row[1]) > 1e-9 && t.Failed() == false {
			t.Errorf("row %d: I = %.18e, want %.18e (area %v)", j, c.I[j], row[1], c.Area[j])
		}
	}
	t.Logf("largest relative differences: q %.3g, I %.3g, error %.3g", worstQ, worstI, worstE)
	if worstQ > 1e-12 || worstI > 1e-9 || worstE > 1e-9 {
		t.Errorf("differences too large: q %.3g (max 1e-12), I %.3g, error %.3g (max 1e-9)", worstQ, worstI, worstE)
	}
}

// fit2dComparison integrates buf1_00000.tif on fit2d's grid at an
// Oversampling, with or without fit2d's polarization factor, and returns
// the median and 95th percentile of |relative difference| to fit2d's curve
// (fit2dCase.deviation).
func fit2dComparison(t *testing.T, ov int, pol bool) (median, p95 float64) {
	fc := newFit2DCase(t)
	if !pol {
		fc.cal.PolarizationCorrection = nil
	}
	ig, _ := fc.build(t, ov)
	median, p95, _ = fc.deviation(t, ig)
	return median, p95
}

func TestFit2D(t *testing.T) {
	for _, ov := range []int{2, 3, 4} {
		for _, pol := range []bool{false, true} {
			med, p95 := fit2dComparison(t, ov, pol)
			t.Logf("Oversampling %d, polarization %v: median |rel diff| %.4f %%, 95th percentile %.4f %%", ov, pol, 100*med, 100*p95)
			if pol && ov >= 3 && (med > 0.0005 || p95 > 0.002) {
				t.Errorf("Oversampling %d with polarization: median %.4f %% (max 0.05 %%), 95th percentile %.4f %% (max 0.2 %%)", ov, 100*med, 100*p95)
			}
		}
	}
}

// TestOptimisedEqualsStraightforward integrates real frames with the
// compact operator and with a plain sub-pixel loop written here (the
// original's trigonometric formulas, one sum per sub-pixel): the curves
// agree to 1e-6 relative, with and without polarization correction.
func TestOptimisedEqualsStraightforward(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 9.4 million sub-pixels")
	}
	for _, frame := range []string{"buf1_00000.tif", "agbeh2_1M.tif"} {
		for _, pol := range []bool{false, true} {
			cal := loadShared(t, "cal.json")
			cal.Masks[0].Oversampling = 3
			if pol {
				cal.PolarizationCorrection = &Polarization{Fraction: 0.995, Angle: 0}
			}
			img := readShared(t, frame)
			mask, err := OpenMask(cal.MaskPath(0))
			if err != nil {
				t.Fatal(err)
			}
			ig, err := New(cal)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ig.Integrate(img)
			if err != nil {
				t.Fatal(err)
			}
			ov := 3
			labels, nb := straightLabels(cal, ov)
			var corr []float64
			if pol {
				corr = closedFormPolarization(cal)
			}
			rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
			sum := make([]float64, nb)
			cnt := make([]float64, nb)
			for a := range rows * ov {
				for b := range cols * ov {
					p := (a/ov)*cols + b/ov
					if mask.Masked[p] {
						continue
					}
					v := float64(img.Counts[p])
					if pol {
						v /= corr[p]
					}
					l := labels[a*cols*ov+b]
					sum[l] += v
					cnt[l]++
				}
			}
			c := r.Curves[0]
			if c.Len() != nb {
				t.Fatalf("%s: %d bins, straightforward %d", frame, c.Len(), nb)
			}
			worst := 0.0
			for k := range nb {
				if cnt[k] == 0 {
					if !math.IsNaN(c.I[k]) {
						t.Fatalf("%s bin %d: %v, want NaN", frame, k, c.I[k])
					}
					continue
				}
				worst = math.Max(worst, relDiff(c.I[k], sum[k]/cnt[k]))
			}
			t.Logf("%s, polarization %v: largest relative difference %.2g", frame, pol, worst)
			if worst > 1e-6 {
				t.Errorf("%s, polarization %v: largest relative difference %.3g > 1e-6", frame, pol, worst)
			}
		}
	}
}

// The compact operator of a Pilatus 1M at Oversampling 3, with
// polarization correction, stays well under 16 MB.
func TestOperatorSizePilatus(t *testing.T) {
	cal := loadShared(t, "cal.json")
	cal.Masks[0].Oversampling = 3
	cal.PolarizationCorrection = &Polarization{Fraction: 0.995, Angle: 0}
	ig, err := New(cal)
	if err != nil {
		t.Fatal(err)
	}
	n := ig.Operator(0).Bytes()
	t.Logf("operator: %.1f MB", float64(n)/1e6)
	if n > 16<<20 {
		t.Errorf("operator takes %d bytes, more than 16 MB", n)
	}
}
