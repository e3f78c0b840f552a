package saxs

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The wavelength of a .poni we write reads back to the calibration's bit
// for bit (through the text of the file), and is the correctly rounded
// λ · 1.00001495e-10 m, for common and random wavelengths.
func TestPoniWavelengthRoundTrip(t *testing.T) {
	k, _, _ := big.ParseFloat("1.00001495e-10", 10, 512, big.ToNearestEven)
	rng := rand.New(rand.NewPCG(18, 5))
	lambdas := []float64{1.54, 1.5406, 1.0, 0.7749, 12.398419843320026 / 8.04778, 0.1, 20, 1.0332}
	for range 5000 {
		lambdas = append(lambdas, 0.05+30*rng.Float64())
	}
	cal, _ := synthetic(t, 1)
	for i, l := range lambdas {
		text := poniWavelengthText(l)
		want, _ := new(big.Float).SetPrec(512).Mul(big.NewFloat(l), k).Float64()
		if m, err := strconv.ParseFloat(text, 64); err != nil || m != want || PoniWavelength(l) != want {
			t.Fatalf("λ %v Å: .poni text %q (PoniWavelength %v), want the float %v", l, text, PoniWavelength(l), want)
		}
		if back := poniAngstromOf(text); back != l {
			t.Fatalf("λ %v Å: %q reads back to %v", l, text, back)
		}
		if i >= 50 {
			continue
		}
		cal.Wavelength = l
		var b bytes.Buffer
		if err := PoniFromCalibration(cal).Write(&b); err != nil {
			t.Fatal(err)
		}
		p, err := ParsePoni(b.Bytes(), "x.poni")
		if err != nil {
			t.Fatal(err)
		}
		back := cal.clone()
		back.Wavelength = 3
		if err := p.ApplyTo(back); err != nil {
			t.Fatal(err)
		}
		if back.Wavelength != l {
			t.Errorf("λ %v Å: the .poni round trip gives %v Å", l, back.Wavelength)
		}
		if i == 0 {
			t.Logf("λ 1.54 Å is written as %q", text)
			if !strings.Contains(b.String(), "# Wavelength is saxs's lambda [A] * 1.00001495e-10 m") {
				t.Errorf("no comment on the wavelength's convention in\n%s", b.String())
			}
		}
	}
	// A Wavelength set by hand (not from a file) converts with the same rule.
	p := &Poni{Wavelength: 1.54e-10}
	want, _ := new(big.Float).SetPrec(512).Quo(big.NewFloat(1.54e-10), k).Float64()
	if got := p.WavelengthAngstrom(); got != want {
		t.Errorf("WavelengthAngstrom of 1.54e-10 m = %v, want %v", got, want)
	}
}

// pyFAI loads the .poni we write and puts every pixel at our q: pyFAI's
// q of its centre (qFunction, which takes pixel indices) equals Q to 1e-9 relative (with the plain λ·1e-10
// it would be 1.5e-5 larger), at a 10° tilt and at the reference's.
func TestPoniQMatchesPyFAI(t *testing.T) {
	needPyFAI(t)
	const py = `
import json, sys
import numpy as np
import pyFAI
a = json.load(sys.stdin)
ai = pyFAI.load(a["path"])
d1, d2 = np.array(a["d1"], dtype=float), np.array(a["d2"], dtype=float)
print(json.dumps({"q": [float(v) for v in ai.qFunction(d1, d2)], "wavelength": ai.wavelength}))
`
	ref, _, _ := refSetup(t)
	for _, c := range []struct {
		name string
		cal  *Calibration
	}{{"10° tilt, 100 mm, λ 1 Å", tiltedCal(t, 10, -30, 1)}, {"cal.json", ref}, {"10° tilt, λ 0.7749 Å", tiltedCal(t, 10, 120, 1)}} {
		if c.name == "10° tilt, λ 0.7749 Å" {
			c.cal.Wavelength = 0.7749
		}
		path := filepath.Join(t.TempDir(), "x.poni")
		var b bytes.Buffer
		if err := PoniFromCalibration(c.cal).Write(&b); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		rows, cols := c.cal.Geometry.Imagesize[0], c.cal.Geometry.Imagesize[1]
		var d1, d2 []int
		for r := 0; r < rows; r += rows / 17 {
			for col := 0; col < cols; col += cols / 13 {
				d1, d2 = append(d1, r), append(d2, col)
			}
		}
		in, _ := json.Marshal(map[string]any{"path": path, "d1": d1, "d2": d2})
		out := runPyFAI(t, in, "-c", py)
		var res struct {
			Q          []float64
			Wavelength float64
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		var worst, plain float64
		for i := range d1 {
			ours := Q(c.cal, d1[i], d2[i])
			worst = max(worst, math.Abs(res.Q[i]-ours)/ours)
			// pyFAI's q with the plain wavelength λ·1e-10 m.
			plain = max(plain, math.Abs(res.Q[i]*res.Wavelength/(c.cal.Wavelength*1e-10)-ours)/ours)
		}
		t.Logf("%s: pyFAI's q of %d pixels from our .poni vs ours: ≤ %.2g relative (the plain λ·1e-10 m: %.3g)", c.name, len(d1), worst, plain)
		if worst > 1e-9 {
			t.Errorf("%s: pyFAI's q differs from ours by %g relative, want ≤ 1e-9", c.name, worst)
		}
	}
}
