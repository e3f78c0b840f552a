package converter

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saxsdog/saxs"
)

// run calls Main and returns its status, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := Main(args, &out, &errb)
	return rc, out.String(), errb.String()
}

// wantReferenceGeometry checks the geometry of cal.json in a written file.
func wantReferenceGeometry(t *testing.T, path string, gen saxs.Generation) *saxs.Calibration {
	t.Helper()
	cal, err := saxs.LoadCalibration(path)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Generation() != gen {
		t.Errorf("%s: generation %v, want %v", path, cal.Generation(), gen)
	}
	g := cal.Geometry
	if g.BeamCenter != [2]float64{808.37, 387.772} || g.DetectorDistanceMM != 1031.657 ||
		g.Tilt.TiltRotDeg != 73.569 || g.Tilt.TiltAngleDeg != -0.56 || cal.Wavelength != 1.54 {
		t.Errorf("%s: geometry %+v, wavelength %v", path, g, cal.Wavelength)
	}
	return cal
}

// masksBeside creates (empty) mask files with the given names in the
// folder of the calibration out, which saxsconverter requires to exist.
func masksBeside(t *testing.T, out string, names ...string) {
	t.Helper()
	for _, n := range names {
		writeFile(t, filepath.Join(filepath.Dir(out), n), "")
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMainTemplate converts the reference fit2d text with cal.json and
// cal2.json as templates into a new file: the template is used although
// the output does not exist (the original ignored it then), and the result
// equals the template, which holds the same values.
func TestMainTemplate(t *testing.T) {
	txt := sharedData(t, "fit2d-calibration.txt")
	for _, tc := range []struct {
		template string
		gen      saxs.Generation
	}{{"cal.json", saxs.Flat}, {"cal2.json", saxs.Nested}} {
		t.Run(tc.template, func(t *testing.T) {
			tpl := sharedCopy(t, tc.template)
			out := filepath.Join(t.TempDir(), "out.json")
			masksBeside(t, out, "AAA_integ.msk")
			rc, stdout, stderr := run(t, "-t", tpl, txt, out)
			if rc != 0 {
				t.Fatalf("exit %d: %s", rc, stderr)
			}
			cal := wantReferenceGeometry(t, out, tc.gen)
			ref, err := saxs.LoadCalibration(tpl)
			if err != nil {
				t.Fatal(err)
			}
			compareCalibrations(t, cal, ref)
			written, _ := os.ReadFile(out)
			tplData, _ := os.ReadFile(tpl)
			if string(written) != string(tplData) {
				t.Errorf("output differs from the template:\n%s\nwant\n%s", written, tplData)
			}
			if stdout != string(written) {
				t.Errorf("stdout is not the written file:\n%s", stdout)
			}
			for _, s := range []string{"beam centre", "sample to detector distance", "tilt plane rotation angle", "tilt angle", "wavelength", "template"} {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}

// TestMainLF uses an LF copy of the fit2d text and a template in a
// different state: the fit2d values replace its geometry, everything else
// is kept.
func TestMainLF(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "fit2d.txt")
	writeFile(t, txt, fit2dLF)
	tpl := filepath.Join(dir, "tpl.json")
	writeFile(t, tpl, `{"Title": "T", "Geometry": {"Tilt": {"TiltAngleDeg": 1, "TiltRotDeg": 2},
		"DedectorDistanceMM": 700, "BeamCenter": [1, 2], "Imagesize": [1043, 981], "PixelSizeMicroM": [172]},
		"Directory": ["user", "run1"], "Threads": 4, "GISAXSmode": false,
		"Masks": [{"MaskFile": "a.msk", "Oversampling": 3, "PixelPerRadialElement": 1, "qStart": 0.1, "qStop": 2},
		          {"MaskFile": "b.msk", "Oversampling": 3, "PixelPerRadialElement": 2, "qStart": 0, "qStop": 0, "Name": "b"}],
		"Wavelength": 1.0}`)
	out := filepath.Join(dir, "out.json")
	masksBeside(t, out, "a.msk", "b.msk")
	rc, _, stderr := run(t, "-q", "--template="+tpl, txt, out)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr with -q: %s", stderr)
	}
	cal := wantReferenceGeometry(t, out, saxs.Nested)
	if cal.Title != "T" || len(cal.Masks) != 2 || cal.Masks[0].QStart != 0.1 || cal.Masks[1].Name != "b" ||
		cal.Threads != 4 || strings.Join(cal.Directory, "/") != "user/run1" {
		t.Errorf("template content lost: %+v", cal)
	}
	data, _ := os.ReadFile(out)
	if !strings.HasPrefix(string(data), "{\n    \"Title\": \"T\",\n    \"Geometry\": {\n        \"Tilt\": {\n            \"TiltAngleDeg\": -0.56,") {
		t.Errorf("key order or layout not kept:\n%s", data)
	}
}

// TestMainUpdatesExistingOutput starts from OUT.json when there is no
// template; values not in the text are left as they are.
func TestMainUpdatesExistingOutput(t *testing.T) {
	out := sharedCopy(t, "cal.json")
	masksBeside(t, out, "AAA_integ.msk")
	txt := filepath.Join(t.TempDir(), "fit2d.txt")
	writeFile(t, txt, "  INFO: Refined sample to detector distance =   999.5 mm\r\n")
	rc, stdout, stderr := run(t, txt, out)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	cal, err := saxs.LoadCalibration(out)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Generation() != saxs.Flat || cal.Geometry.DetectorDistanceMM != 999.5 || cal.Geometry.BeamCenter != [2]float64{808.37, 387.772} {
		t.Errorf("updated calibration %+v", cal)
	}
	if !strings.Contains(stderr, "not found") || !strings.Contains(stderr, "beam centre") || !strings.Contains(stderr, "existing") {
		t.Errorf("stderr should list the values not found and the starting point:\n%s", stderr)
	}
	if !strings.Contains(stdout, `"DedectorDistanceMM": 999.5,`) {
		t.Errorf("stdout:\n%s", stdout)
	}
}

// TestMainDefaults starts from the schema defaults.
func TestMainDefaults(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "fit2d.txt")
	writeFile(t, txt, fit2dLF)
	masksBeside(t, txt, "AAA_integ.msk")
	for _, tc := range []struct {
		args []string
		gen  saxs.Generation
		size [2]int
	}{{nil, saxs.Nested, [2]int{1043, 981}}, {[]string{"--to", "0.3"}, saxs.Flat, [2]int{1043, 981}}} {
		out := filepath.Join(dir, tc.gen.String()+".json")
		rc, _, stderr := run(t, append(tc.args, txt, out)...)
		if rc != 0 {
			t.Fatalf("exit %d: %s", rc, stderr)
		}
		cal := wantReferenceGeometry(t, out, tc.gen)
		if cal.Geometry.Imagesize != tc.size || cal.Masks[0].MaskFile != "AAA_integ.msk" || cal.Masks[0].Oversampling != 3 {
			t.Errorf("defaults not used: %+v", cal)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("output mode: %v %v", fi.Mode(), err)
		}
	}
}

// TestMainToNested converts the 0.3.0 reference file to 2.0 through Main.
func TestMainToNested(t *testing.T) {
	in := sharedCopy(t, "cal.json")
	out := filepath.Join(t.TempDir(), "cal2.json")
	masksBeside(t, in, "AAA_integ.msk")
	masksBeside(t, out, "AAA_integ.msk")
	rc, _, stderr := run(t, "--to", "2.0", in, out)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	cal := wantReferenceGeometry(t, out, saxs.Nested)
	ref, err := saxs.LoadCalibration(sharedData(t, "cal2.json"))
	if err != nil {
		t.Fatal(err)
	}
	cal.Masks[0].QStop = ref.Masks[0].QStop
	compareCalibrations(t, cal, ref)

	// In place: the file converts itself.
	rc, _, stderr = run(t, "-q", "--to", "2.0", in, in)
	if rc != 0 {
		t.Fatalf("in place: exit %d: %s", rc, stderr)
	}
	a, _ := os.ReadFile(in)
	b, _ := os.ReadFile(out)
	if string(a) != string(b) {
		t.Errorf("in-place conversion\n%s\ndiffers from\n%s", a, b)
	}

	// A flat JSON input merged into an existing 2.0 output: its mask
	// settings go into the first mask, the rest of the output is kept.
	flat := filepath.Join(t.TempDir(), "flat.json")
	writeFile(t, flat, `{"Tilt": {"TiltAngleDeg": 0, "TiltRotDeg": 0}, "BeamCenter": [5, 6], "DedectorDistanceMM": 500,
		"Imagesize": [1043, 981], "PixelSizeMicroM": [172], "MaskFile": "new.msk", "Oversampling": 4,
		"PixelPerRadialElement": 2, "Wavelength": 1.0}`)
	target := sharedCopy(t, "cal2.json")
	masksBeside(t, target, "new.msk")
	rc, _, stderr = run(t, "-q", flat, target)
	if rc != 0 {
		t.Fatalf("merge: exit %d: %s", rc, stderr)
	}
	cal, err = saxs.LoadCalibration(target)
	if err != nil {
		t.Fatal(err)
	}
	m := cal.Masks[0]
	if cal.Generation() != saxs.Nested || cal.Geometry.Tilt.TiltAngleDeg != 0 || cal.Geometry.BeamCenter != [2]float64{5, 6} ||
		m.MaskFile != "new.msk" || m.Oversampling != 4 || m.QStop != 5 || cal.Title != ref.Title {
		t.Errorf("merged calibration %+v", cal)
	}
}

func TestMainToFlatMaskCount(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "two.json")
	writeFile(t, in, `{"Geometry": {"Tilt": {"TiltAngleDeg": 0, "TiltRotDeg": 0}, "BeamCenter": [1, 2], "DedectorDistanceMM": 500,
		"Imagesize": [10, 20], "PixelSizeMicroM": [75]}, "Wavelength": 1, "Directory": ["."],
		"Masks": [{"MaskFile": "m.msk", "Oversampling": 1, "PixelPerRadialElement": 1, "qStart": 0, "qStop": 0},
		          {"MaskFile": "n.msk", "Oversampling": 2, "PixelPerRadialElement": 1, "qStart": 0, "qStop": 0}]}`)
	out := filepath.Join(dir, "out.json")
	rc, _, stderr := run(t, "--to", "0.3", in, out)
	if rc != 1 || !strings.Contains(stderr, "2 masks") {
		t.Errorf("exit %d, stderr %s; want 1 and the mask count", rc, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output written: %v", err)
	}
}

// TestMainInvalidOutput: an invalid existing OUT.json is an error and is
// left as it is.
func TestMainInvalidOutput(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "fit2d.txt")
	writeFile(t, txt, fit2dLF)
	for name, content := range map[string]string{
		"schema": `{"Tilt": {"TiltAngleDeg": 0, "TiltRotDeg": 0}, "Unknown": 1}`,
		"syntax": `{"Tilt": `,
	} {
		out := filepath.Join(dir, name+".json")
		writeFile(t, out, content)
		rc, stdout, stderr := run(t, txt, out)
		if rc != 1 || stdout != "" || !strings.Contains(stderr, out) || !strings.Contains(stderr, "nothing written") {
			t.Errorf("%s: exit %d, stdout %q, stderr %s", name, rc, stdout, stderr)
		}
		if data, _ := os.ReadFile(out); string(data) != content {
			t.Errorf("%s: output changed to %s", name, data)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("temporary file left: %s", e.Name())
			}
		}
	}
}

// TestMainErrors covers input and usage errors; nothing is written.
func TestMainErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	bad := filepath.Join(dir, "fit2d.txt")
	writeFile(t, bad, "INFO: Refined Beam centre = 387.772 808.370 (pixels)\r\nINFO: Refined sample to detector distance = abc mm\r\n")
	none := filepath.Join(dir, "notes.txt")
	writeFile(t, none, "nothing to see\n")
	badJSON := filepath.Join(dir, "bad.json")
	writeFile(t, badJSON, `{"Geometry": {}}`)
	good := filepath.Join(dir, "good.txt")
	writeFile(t, good, fit2dLF)
	negative := filepath.Join(dir, "neg.txt")
	writeFile(t, negative, "INFO: Refined sample to detector distance = -5 mm\n")
	for _, tc := range []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{bad, out}, 1, bad + `:2: expected "Refined sample to detector distance = <mm> mm", got "INFO: Refined sample to detector distance = abc mm"`},
		{[]string{none, out}, 1, "Refined Beam centre = <X> <Y> (pixels)"},
		{[]string{badJSON, out}, 1, "input is not a valid calibration"},
		{[]string{negative, out}, 1, "DedectorDistanceMM"},
		{[]string{"-t", filepath.Join(dir, "missing.json"), good, out}, 1, "template"},
		{[]string{"-t", badJSON, good, out}, 1, "template"},
		{[]string{filepath.Join(dir, "missing.txt"), out}, 1, "missing.txt"},
		{[]string{"--to", "1.0", bad, out}, 2, `"1.0"`},
		{[]string{bad}, 2, "need 2 arguments"},
		{[]string{"--bogus", bad, out}, 2, "bogus"},
	} {
		rc, stdout, stderr := run(t, tc.args...)
		if rc != tc.rc || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, rc, stdout, stderr, tc.rc, tc.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%q: output written", tc.args)
		}
	}
	rc, stdout, _ := run(t, "--help")
	if rc != 0 || !strings.Contains(stdout, "Usage: saxsconverter") || !strings.Contains(stdout, "--template") {
		t.Errorf("--help: exit %d, %s", rc, stdout)
	}
}

// TestMainTemplateReplacesOutput: with -t, an existing (even invalid)
// output is replaced, and a warning says so.
func TestMainTemplateReplacesOutput(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "fit2d.txt")
	writeFile(t, txt, fit2dLF)
	out := filepath.Join(dir, "out.json")
	writeFile(t, out, "not json")
	tpl := sharedCopy(t, "cal2.json")
	masksBeside(t, out, "AAA_integ.msk")
	rc, _, stderr := run(t, "-q", "-t", tpl, txt, out)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	if !strings.Contains(stderr, "replaced") {
		t.Errorf("no warning about the replaced output: %s", stderr)
	}
	wantReferenceGeometry(t, out, saxs.Nested)
}
