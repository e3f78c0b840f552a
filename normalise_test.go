package saxs

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// Normalising by a monitor of 2 halves I and σ; by exposure reads the
// Pilatus header; a table gives monitor × transmission per frame name; a
// frame without its value is an error.
func TestNormalisation(t *testing.T) {
	cal, m := synthetic(t, 2)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	frame := patterned(rows, cols, m, 5)
	frame.Description = "# Pilatus3 1M\r\n# Exposure_time 4.0000000 s\r\n# Exposure_period 10.0 s\r\n# Transmission 0.5\r\n"
	cal.Reduction = &Reduction{ErrorModel: ErrorPoisson} // the propagated errors, nothing else
	plain, err := build(t, cal, m, Options{}).Integrate(frame)
	if err != nil {
		t.Fatal(err)
	}
	p := plain.Curves[0]
	check := func(what string, ig *Integrator, name string, factor float64) {
		t.Helper()
		r := ig.NewResult()
		if err := ig.IntegrateFrameTo(r, frame, name); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		n := 0
		for k, v := range r.Curves[0].I {
			if math.IsNaN(p.I[k]) {
				continue
			}
			n++
			if want := p.I[k] / factor; math.Abs(v-want) > 1e-15*want {
				t.Errorf("%s: bin %d I = %g, want %g", what, k, v, want)
			}
			if want := p.Sigma[k] / factor; math.Abs(r.Curves[0].Sigma[k]-want) > 1e-15*want {
				t.Errorf("%s: bin %d σ = %g, want %g", what, k, r.Curves[0].Sigma[k], want)
			}
		}
		if n < 20 {
			t.Fatalf("%s: only %d bins", what, n)
		}
	}
	two := 2.0
	cal.Reduction = &Reduction{Monitor: &two}
	check("monitor 2", build(t, cal, m, Options{}), "", 2)
	cal.Reduction = &Reduction{Normalise: NormaliseExposure}
	check("exposure", build(t, cal, m, Options{}), "", 4)
	cal.Reduction = &Reduction{Normalise: NormaliseTransmission, Monitor: &two}
	check("transmission and monitor", build(t, cal, m, Options{}), "", 0.5*2)

	table := filepath.Join(t.TempDir(), "norm.csv")
	if err := os.WriteFile(table, []byte("frame,monitor,transmission\nrun/x_00001.tif,8,0.25\nx_00002, 3, 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cal.Reduction = &Reduction{Normalise: table}
	ig := build(t, cal, m, Options{})
	check("table", ig, "/data/x_00001.tif", 8*0.25)
	check("table 2", ig, "x_00002.cbf", 3)
	if err := ig.IntegrateFrameTo(ig.NewResult(), frame, "x_00003.tif"); !errors.Is(err, ErrNoNormalisation) {
		t.Errorf("frame missing from the table: %v, want ErrNoNormalisation", err)
	}
	cal.Reduction = &Reduction{Normalise: NormaliseMonitor}
	if err := build(t, cal, m, Options{}).IntegrateTo(plain, frame); !errors.Is(err, ErrNoNormalisation) {
		t.Errorf("no monitor: %v, want ErrNoNormalisation", err)
	}
}

// With a header normalisation, IntegrateTo still allocates nothing.
func TestNormalisationAllocs(t *testing.T) {
	cal, m := synthetic(t, 2)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	frame := patterned(rows, cols, m, 5)
	frame.Description = "# Exposure_time 4.0000000 s\r\n"
	cal.Reduction = &Reduction{Normalise: NormaliseExposure}
	ig := build(t, cal, m, Options{})
	r := ig.NewResult()
	if err := ig.IntegrateTo(r, frame); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(20, func() { _ = ig.IntegrateTo(r, frame) }); a != 0 {
		t.Errorf("IntegrateTo with exposure normalisation: %g allocations, want 0", a)
	}
}

// IntegrateError with a constant dark and a monitor of 2: the spread is
// that of the frame around its own mean, halved.
func TestIntegrateErrorWithReduction(t *testing.T) {
	dir := t.TempDir()
	cal, m := synthetic(t, 2)
	rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]
	frame := patterned(rows, cols, m, 9)
	plain, err := build(t, cal, m, Options{}).IntegrateError(frame)
	if err != nil {
		t.Fatal(err)
	}
	two := 2.0
	cal.Reduction = &Reduction{Monitor: &two, Dark: writeTIFF(t, dir, "d.tif", countsImage(rows, cols, m, func(int, int) int32 { return 5 }))}
	red, err := build(t, cal, m, Options{}).IntegrateErrorFrame(frame, "x.tif")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k, sd := range plain[0].StdDev {
		if math.IsNaN(sd) {
			continue
		}
		n++
		if got := red[0].StdDev[k]; math.Abs(got-sd/2) > 1e-9*sd {
			t.Errorf("bin %d: StdDev %g, want %g", k, got, sd/2)
		}
		if got, want := red[0].I[k], (plain[0].I[k]-5)/2; math.Abs(got-want) > 1e-12*math.Abs(want)+1e-12 {
			t.Errorf("bin %d: I %g, want %g", k, got, want)
		}
	}
	if n < 20 {
		t.Fatalf("only %d bins", n)
	}
}
