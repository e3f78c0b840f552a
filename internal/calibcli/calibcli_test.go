package calibcli

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/testframes"
)

// The test frame is testframes.RingFrame.
const (
	rows, cols = testframes.RingRows, testframes.RingCols
	trueRow    = testframes.RingRow
	trueCol    = testframes.RingCol
	trueDist   = testframes.RingDistMM
)

// writeRingFrame writes testframes.RingFrame as a TIFF; uniform writes a
// frame without rings.
func writeRingFrame(t *testing.T, dir string, uniform bool) string {
	t.Helper()
	p := filepath.Join(dir, "agbh.tif")
	testframes.WriteFile(t, p, testframes.RingFrameTIFF(t, uniform))
	return p
}

func run(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := Main(args, &o, &e)
	return code, o.String(), e.String()
}

func checkGeometry(t *testing.T, g saxs.Geometry) {
	t.Helper()
	testframes.CheckRingGeometry(t, g)
}

// TestSaxscalib calibrates a frame drawn at a known geometry: the
// calibration, its mask of the gap pixels, the .poni and the picture.
func TestSaxscalib(t *testing.T) {
	dir := t.TempDir()
	frame := writeRingFrame(t, dir, false)
	out := filepath.Join(dir, "cal.json")
	code, stdout, stderr := run("--calibrant", "AgBh", "--wavelength", "1", "--pixel-size", "172", "-o", out,
		"--poni", filepath.Join(dir, "g.poni"), "--plot", filepath.Join(dir, "rings.png"), frame)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"distance", "±", "beam centre Y", "tilt rotation", "RMS Δ2θ", "1.000000 Å (fixed)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	cal, err := saxs.LoadCalibration(out)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Generation() != saxs.Nested || cal.Geometry.Imagesize != [2]int{rows, cols} || cal.Wavelength != 1 || cal.Masks[0].MaskFile != "cal_mask.msk" {
		t.Errorf("calibration %+v", cal)
	}
	checkGeometry(t, cal.Geometry)
	m, err := saxs.OpenMask(cal.MaskPath(0))
	if err != nil {
		t.Fatal(err)
	}
	if m.Count() != rows*7 || !m.At(0, 200) || m.At(0, 199) {
		t.Errorf("mask has %d masked pixels, want the %d gap pixels", m.Count(), rows*7)
	}
	if _, err := saxs.New(cal); err != nil {
		t.Errorf("the calibration does not build an integrator: %v", err)
	}
	p, err := saxs.ReadPoniFile(filepath.Join(dir, "g.poni"))
	if err != nil {
		t.Fatal(err)
	}
	back := *cal
	if err := p.ApplyTo(&back); err != nil {
		t.Fatal(err)
	}
	if math.Abs(back.Geometry.DetectorDistanceMM-cal.Geometry.DetectorDistanceMM) > 1e-6 ||
		math.Abs(back.Geometry.BeamCenter[0]-cal.Geometry.BeamCenter[0]) > 1e-6 || math.Abs(back.Geometry.BeamCenter[1]-cal.Geometry.BeamCenter[1]) > 1e-6 {
		t.Errorf(".poni reads back to %+v, wrote %+v", back.Geometry, cal.Geometry)
	}
	f, err := os.Open(filepath.Join(dir, "rings.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pic, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := pic.Bounds(); b.Dx() != cols || b.Dy() != rows {
		t.Errorf("picture %v", b)
	}
	// The first ring is drawn (red pixels within 1.5 px of its radius).
	r1 := trueDist * math.Tan(2*math.Asin(1/(2*58.380))) / 0.172
	red := 0
	for r := range rows {
		for c := range cols {
			if pr, pg, pb, _ := pic.At(c, r).RGBA(); pr>>8 == 0xff && pg>>8 == 0x30 && pb>>8 == 0x30 &&
				math.Abs(math.Hypot(float64(r)-trueRow, float64(c)-trueCol)-r1) < 1.5 {
				red++
			}
		}
	}
	found := red > 100
	if !found {
		t.Error("no ring drawn on the first ring")
	}
}

// TestSaxscalibTemplate keeps the template's values and its mask, and
// takes the start values and a d-spacing file.
func TestSaxscalibTemplate(t *testing.T) {
	dir := t.TempDir()
	frame := writeRingFrame(t, dir, false)
	tmpl := filepath.Join(dir, "template.json")
	os.WriteFile(tmpl, []byte(`{"Title": "beamline X", "Geometry": {"BeamCenter": [1, 2], "DedectorDistanceMM": 1000.0,
		"Imagesize": [10, 10], "PixelSizeMicroM": [172.0], "Tilt": {"TiltAngleDeg": 3, "TiltRotDeg": 4}},
		"Masks": [{"MaskFile": "mine.msk", "Oversampling": 5, "PixelPerRadialElement": 2, "qStart": 0, "qStop": 0}], "Wavelength": 1.54}`), 0o644)
	dfile := filepath.Join(dir, "agbh.d")
	os.WriteFile(dfile, []byte("# AgBh orders 1-8\n58.380\n29.190\n19.460\n14.595\n11.676\n9.730\n8.340\n7.2975\n"), 0o644)
	out := filepath.Join(dir, "out.json")
	code, stdout, stderr := run("--calibrant", dfile, "--wavelength", "1", "--pixel-size", "172", "--distance", "310",
		"--center", "159.2,126.2", "-c", tmpl, "-S", "-o", out, frame)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if stdout != "" || stderr != "" {
		t.Errorf("-S printed %q %q", stdout, stderr)
	}
	cal, err := saxs.LoadCalibration(out)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Title != "beamline X" || cal.Masks[0].MaskFile != "mine.msk" || cal.Masks[0].Oversampling != 5 || cal.Masks[0].PixelPerRadialElement != 2 || cal.Wavelength != 1 {
		t.Errorf("template values not kept: %+v", cal)
	}
	checkGeometry(t, cal.Geometry)
}

// TestSaxscalibErrors: a frame without rings is exit 1 with a message
// and nothing written; bad command lines are exit 2.
func TestSaxscalibErrors(t *testing.T) {
	dir := t.TempDir()
	frame := writeRingFrame(t, dir, true)
	out := filepath.Join(dir, "cal.json")
	code, _, stderr := run("--calibrant", "AgBh", "--wavelength", "1", "--pixel-size", "172", "-o", out, frame)
	if code != 1 || !strings.Contains(stderr, "no calibrant rings") || !strings.Contains(stderr, "nothing written") {
		t.Errorf("uniform frame: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a calibration was written for a frame without rings")
	}
	if _, err := os.Stat(filepath.Join(dir, "cal_mask.msk")); err == nil {
		t.Error("a mask was written for a frame without rings")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", out, frame}, "--calibrant"},
		{[]string{"--calibrant", "AgBh", frame}, "--out"},
		{[]string{"--calibrant", "AgBh", "-o", out}, "one FRAME"},
		{[]string{"--calibrant", "Kryptonite", "-o", out, frame}, "unknown calibrant"},
		{[]string{"--calibrant", "AgBh", "--center", "12", "-o", out, frame}, "Y,X"},
		{[]string{"--calibrant", "AgBh", "--pixel-size", "172", "-o", out, frame}, "--wavelength"},
		{[]string{"--calibrant", "AgBh", "--wavelength", "-1", "-o", out, frame}, "positive"},
	} {
		code, _, stderr := run(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "saxscalib --help") {
			t.Errorf("%v: exit %d, %q (want 2 and %q)", tc.args, code, stderr, tc.want)
		}
	}
	code, _, stderr = run("--calibrant", "AgBh", "--wavelength", "1", "--pixel-size", "172", "-o", out, filepath.Join(dir, "missing.tif"))
	if code != 1 || !strings.Contains(stderr, "missing.tif") {
		t.Errorf("missing frame: exit %d, %q", code, stderr)
	}
	if code, stdout, _ := run("--help"); code != 0 || !strings.Contains(stdout, "--calibrant") {
		t.Errorf("--help: %d %q", code, stdout)
	}
}
