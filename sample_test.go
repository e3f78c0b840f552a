package saxs_test

import (
	"math"
	"testing"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/sample"
)

// The bundled sample frames are Poisson draws of a known I(q) times the
// polarization factor: the polarization-corrected curve recovers I(q)
// within its Poisson error.
func TestSampleRecoversModel(t *testing.T) {
	cal, err := saxs.LoadCalibration("testdata/sample/cal.json")
	if err != nil {
		t.Fatal(err)
	}
	ig, err := saxs.New(cal)
	if err != nil {
		t.Fatal(err)
	}
	img, err := saxs.ReadImage("testdata/sample/frames/run1/sample_00001.tif")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Curves[0]
	checked, chi2 := 0, 0.0
	for k := range c.I {
		q := c.Q[k]
		// Smooth parts of the model only (away from the ring and the beam stop).
		if c.Area[k] < 20 || q < 0.3 || (q > 0.95 && q < 1.2) {
			continue
		}
		m := sample.Model(q)
		z := (c.I[k] - m) / c.Sigma[k]
		chi2 += z * z
		checked++
		if math.Abs(c.I[k]-m) > 5*c.Sigma[k]+0.01*m {
			t.Errorf("q = %.3f: I = %.2f ± %.2f, model %.2f", q, c.I[k], c.Sigma[k], m)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d bins checked", checked)
	}
	t.Logf("%d bins, reduced chi² %.2f", checked, chi2/float64(checked))
	if red := chi2 / float64(checked); red > 2 {
		t.Errorf("reduced chi² = %.2f; the curve does not follow the model", red)
	}
}
