package converter

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

const fit2dLF = `INFO: Refined Beam centre =      387.772     808.370 (pixels)
INFO: Refined Beam centre =       66.697     139.040 (mm)
INFO: Refined sample to detector distance =     1031.657 mm
INFO: Refined wavelength =      1.54000 Angstroms
INFO: Refined tilt plane rotation angle =       73.569 degrees
INFO: Refined tilt angle =       -0.560 degrees
`

// checkReference checks the values of the sample text of the 0.3.0
// release (doc/cal.json's geometry).
func checkReference(t *testing.T, v Fit2DValues) {
	t.Helper()
	if v.BeamCenter == nil || *v.BeamCenter != [2]float64{808.37, 387.772} {
		t.Errorf("BeamCenter = %v, want [808.37 387.772] ([Y, X])", v.BeamCenter)
	}
	check := func(name string, p *float64, want float64) {
		if p == nil || *p != want {
			t.Errorf("%s = %v, want %v", name, p, want)
		}
	}
	check("DedectorDistanceMM", v.DetectorDistanceMM, 1031.657)
	check("TiltRotDeg", v.TiltRotDeg, 73.569)
	check("TiltAngleDeg", v.TiltAngleDeg, -0.56)
	check("Wavelength", v.Wavelength, 1.54)
	if m := v.Missing(); len(m) != 0 {
		t.Errorf("Missing() = %v", m)
	}
}

func TestParseFit2DReference(t *testing.T) {
	path := sharedData(t, "fit2d-calibration.txt")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\r\n") {
		t.Fatalf("%s is expected to have CRLF line ends", path)
	}
	v, err := ParseFit2D(strings.NewReader(string(data)), path)
	if err != nil {
		t.Fatal(err)
	}
	checkReference(t, v)
}

func TestParseFit2DLineEnds(t *testing.T) {
	for name, text := range map[string]string{
		"LF":                fit2dLF,
		"CRLF":              strings.ReplaceAll(fit2dLF, "\n", "\r\n"),
		"no final EOL":      strings.TrimSuffix(fit2dLF, "\n"),
		"leading blanks":    "  " + strings.ReplaceAll(fit2dLF, "\n", "\n \t"),
		"tabs, case":        strings.ReplaceAll(strings.ReplaceAll(fit2dLF, "  ", "\t"), "Refined", "REFINED"),
		"no INFO:":          strings.ReplaceAll(fit2dLF, "INFO: ", ""),
		"other text around": "fit2d v12.077\nSome unrelated output = 12\n" + fit2dLF + "INFO: Best fit centre = 1 2\n",
	} {
		t.Run(name, func(t *testing.T) {
			v, err := ParseFit2D(strings.NewReader(text), "fit2d.txt")
			if err != nil {
				t.Fatal(err)
			}
			checkReference(t, v)
		})
	}
}

func TestParseFit2DMMLineIgnored(t *testing.T) {
	// Only the (mm) beam centre line: no beam centre.
	text := "INFO: Refined Beam centre =       66.697     139.040 (mm)\nINFO: Refined tilt angle = 0.5 degrees\n"
	v, err := ParseFit2D(strings.NewReader(text), "x")
	if err != nil {
		t.Fatal(err)
	}
	if v.BeamCenter != nil {
		t.Errorf("BeamCenter = %v from the (mm) line", *v.BeamCenter)
	}
	// Also when the mm line comes after the pixel line.
	text = "INFO: Refined Beam centre = 1.5 2.5 (pixels)\nINFO: Refined Beam centre = 66.697 139.040 (mm)\n"
	v, err = ParseFit2D(strings.NewReader(text), "x")
	if err != nil {
		t.Fatal(err)
	}
	if v.BeamCenter == nil || *v.BeamCenter != [2]float64{2.5, 1.5} {
		t.Errorf("BeamCenter = %v, want [2.5 1.5]", v.BeamCenter)
	}
}

func TestParseFit2DPartial(t *testing.T) {
	text := "INFO: Refined sample to detector distance = 830 mm\nINFO: Refined sample to detector distance = 831.5 mm\n"
	v, err := ParseFit2D(strings.NewReader(text), "x")
	if err != nil {
		t.Fatal(err)
	}
	if v.DetectorDistanceMM == nil || *v.DetectorDistanceMM != 831.5 {
		t.Errorf("distance = %v, want the last value 831.5", v.DetectorDistanceMM)
	}
	if got := v.Found(); !slices.Equal(got, []string{"sample to detector distance"}) {
		t.Errorf("Found() = %q", got)
	}
	want := []string{"beam centre", "tilt plane rotation angle", "tilt angle", "wavelength"}
	if got := v.Missing(); !slices.Equal(got, want) {
		t.Errorf("Missing() = %q, want %q", got, want)
	}
}

func TestParseFit2DBadLine(t *testing.T) {
	text := "INFO: Refined Beam centre = 387.772 808.370 (pixels)\r\n" +
		"INFO: Refined wavelength = 1.54 Angstroms\r\n" +
		"INFO: Refined sample to detector distance = abc mm\r\n"
	_, err := ParseFit2D(strings.NewReader(text), "fit2d.txt")
	want := `fit2d.txt:3: expected "Refined sample to detector distance = <mm> mm", got "INFO: Refined sample to detector distance = abc mm"`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
	var le *LineError
	if !errors.As(err, &le) || le.Line != 3 {
		t.Errorf("error %T %+v, want *LineError at line 3", err, err)
	}

	for _, line := range []string{
		"INFO: Refined Beam centre = 387.772 (pixels)",
		"INFO: Refined Beam centre = 387.772 NaN (pixels)",
		"INFO: Refined tilt angle = degrees",
		"INFO: Refined tilt angle -0.56 degrees",
		"INFO: Refined tilt plane rotation angle = 1e999 degrees",
		"INFO: Refined wavelength = 0x1p1 Angstroms",
		"INFO: Refined wavelength = ****** Angstroms",
	} {
		_, err := ParseFit2D(strings.NewReader(line+"\n"), "f")
		if !errors.As(err, &le) || le.Line != 1 || le.Got != line {
			t.Errorf("%q: error %v, want a *LineError quoting the line", line, err)
		}
	}
}

func TestParseFit2DNoLines(t *testing.T) {
	for _, text := range []string{"", "hello\nworld\n", "INFO: Best fit centre = 1 2\n"} {
		_, err := ParseFit2D(strings.NewReader(text), "notes.txt")
		var ne *NoValuesError
		if !errors.As(err, &ne) {
			t.Fatalf("%q: error %v, want *NoValuesError", text, err)
		}
		msg := err.Error()
		for _, s := range []string{"notes.txt", "Refined Beam centre = <X> <Y> (pixels)", "Refined sample to detector distance",
			"Refined tilt plane rotation angle", "Refined tilt angle = ", "Refined wavelength"} {
			if !strings.Contains(msg, s) {
				t.Errorf("error %q does not mention %q", msg, s)
			}
		}
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		808.37: "808.37", 387.772: "387.772", 1031.657: "1031.657", -0.56: "-0.56", 1.54: "1.54",
		1000: "1000.0", 0: "0.0", 1e-5: "1e-05", 1e16: "1e+16", 0.0001: "0.0001", 123456789012345.6: "123456789012345.6",
	} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}
