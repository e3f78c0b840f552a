package saxs

import (
	"bytes"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.op"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameCurves(t *testing.T, a, b *Result) {
	t.Helper()
	for i := range a.Curves {
		x, y := a.Curves[i], b.Curves[i]
		if len(x.I) != len(y.I) {
			t.Fatalf("curve %d: %d vs %d bins", i, len(x.I), len(y.I))
		}
		for j := range x.I {
			if x.I[j] != y.I[j] && !(math.IsNaN(x.I[j]) && math.IsNaN(y.I[j])) || x.Q[j] != y.Q[j] || x.Area[j] != y.Area[j] {
				t.Fatalf("curve %d bin %d: %v/%v/%v vs %v/%v/%v", i, j, x.Q[j], x.I[j], x.Area[j], y.Q[j], y.I[j], y.Area[j])
			}
		}
	}
}

func TestOperatorCache(t *testing.T) {
	dir := t.TempDir()
	cal, m := synthetic(t, 3)
	cal.PolarizationCorrection = &Polarization{Fraction: 0.9, Angle: 20}
	rng := rand.New(rand.NewPCG(9, 9))
	img := countsImage(61, 83, m, func(int, int) int32 { return int32(rng.IntN(3000)) })
	var logbuf bytes.Buffer
	opt := Options{CacheDir: dir, Logger: slog.New(slog.NewTextHandler(&logbuf, nil))}

	built := build(t, cal, m, opt)
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("cache files after first build: %v", files)
	}
	want, _ := built.Integrate(img)
	nocache, _ := build(t, cal, m, Options{}).Integrate(img)
	sameCurves(t, want, nocache)

	// A second start loads the file and gives the same curves.
	fi, _ := os.Stat(files[0])
	loaded := build(t, cal, m, opt)
	got, _ := loaded.Integrate(img)
	sameCurves(t, want, got)
	fi2, _ := os.Stat(files[0])
	if !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("cache file rewritten on a hit")
	}

	// Any changed input gives another key: never a stale operator.
	changes := []func(c *Calibration, m *Mask){
		func(c *Calibration, m *Mask) { c.Geometry.Tilt.TiltRotDeg += 1e-9 },
		func(c *Calibration, m *Mask) { c.Geometry.BeamCenter[1] += 0.25 },
		func(c *Calibration, m *Mask) { c.Masks[0].Oversampling = 2 },
		func(c *Calibration, m *Mask) { c.PolarizationCorrection.Fraction = 0.91 },
		func(c *Calibration, m *Mask) { c.PolarizationCorrection = nil },
		func(c *Calibration, m *Mask) { c.Masks[0].RadialBins = &RadialBins{Start: 0, Stop: 2, Count: 50} },
		func(c *Calibration, m *Mask) { m.Masked[1234] = !m.Masked[1234] },
	}
	for i, change := range changes {
		c2, m2 := synthetic(t, 3)
		c2.PolarizationCorrection = &Polarization{Fraction: 0.9, Angle: 20}
		change(c2, m2)
		fresh, _ := build(t, c2, m2, Options{}).Integrate(img)
		cached, _ := build(t, c2, m2, opt).Integrate(img)
		sameCurves(t, fresh, cached)
		if n := len(cacheFiles(t, dir)); n != i+2 {
			t.Fatalf("change %d: %d cache files, want %d", i, n, i+2)
		}
	}

	// Corrupt and truncated files are rebuilt, not trusted.
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"flipped byte": func() []byte { b := bytes.Clone(data); b[len(b)/2] ^= 0x40; return b }(),
		"truncated":    data[:len(data)/3],
		"empty":        nil,
	} {
		logbuf.Reset()
		if err := os.WriteFile(files[0], bad, 0o644); err != nil {
			t.Fatal(err)
		}
		got, _ := build(t, cal, m, opt).Integrate(img)
		sameCurves(t, want, got)
		if !strings.Contains(logbuf.String(), "rebuilding operator") {
			t.Errorf("%s: no warning logged: %q", name, logbuf.String())
		}
		if again, _ := os.ReadFile(files[0]); !bytes.Equal(again, data) {
			t.Errorf("%s: cache file not rewritten", name)
		}
	}
}
