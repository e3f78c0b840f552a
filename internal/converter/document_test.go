package converter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/saxsdog/saxs"
)

// generic decodes JSON into maps, slices and float64, for comparing
// values independently of key order and number spelling.
func generic(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return m
}

func mustParse(t *testing.T, data []byte, name string) *Document {
	t.Helper()
	d, err := ParseDocument(data, name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDefaultDocumentsValid(t *testing.T) {
	for _, g := range []saxs.Generation{saxs.Nested, saxs.Flat} {
		d := DefaultDocument(g)
		_, cal, err := d.Calibration("defaults")
		if err != nil {
			t.Fatalf("%v: %v", g, err)
		}
		if cal.Generation() != g {
			t.Errorf("defaults of %v read as %v", g, cal.Generation())
		}
		want := [2]float64{900, 300}
		if g == saxs.Flat {
			want = [2]float64{800, 400}
		}
		if cal.Geometry.BeamCenter != want {
			t.Errorf("%v: BeamCenter %v, want %v", g, cal.Geometry.BeamCenter, want)
		}
	}
	b, err := DefaultDocument(saxs.Nested).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		t.Fatal(err)
	}
	if c.String() != defaultNested {
		t.Errorf("2.0 defaults:\n%s\nwant\n%s", c.String(), defaultNested)
	}
}

// TestMarshalPythonLayout checks json.dump(indent=4, separators=(',', ': '))
// layout, key order and literal numbers.
func TestMarshalPythonLayout(t *testing.T) {
	in := `{"b": [], "a": {"z": 1.50, "y": {}, "x": [1, 2.0, -0.0, 1e5]}, "s": "µ \"q\" <a>", "t": true, "n": null, "f": false}`
	v, err := decodeOrdered([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeIndented(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
    "b": [],
    "a": {
        "z": 1.50,
        "y": {},
        "x": [
            1,
            2.0,
            -0.0,
            1e5
        ]
    },
    "s": "µ \"q\" <a>",
    "t": true,
    "n": null,
    "f": false
}
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{`{"a":1} x`, `{"a":`, `[1,]`, `{"a" 1}`} {
		if _, err := decodeOrdered([]byte(bad)); err == nil {
			t.Errorf("decodeOrdered(%q): no error", bad)
		}
	}
	// A repeated key keeps its first place and its last value.
	v, err = decodeOrdered([]byte(`{"a":1,"b":2,"a":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := encodeIndented(v); string(got) != "{\n    \"a\": 3,\n    \"b\": 2\n}\n" {
		t.Errorf("repeated key: %s", got)
	}
}

// TestFlatToNestedReference converts cal.json (0.3.0) to 2.0 and compares
// with cal2.json, which differs only in qStop.
func TestFlatToNestedReference(t *testing.T) {
	flatData, err := os.ReadFile(sharedData(t, "cal.json"))
	if err != nil {
		t.Fatal(err)
	}
	nestedData, err := os.ReadFile(sharedData(t, "cal2.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := mustParse(t, flatData, "cal.json")
	if d.Generation() != saxs.Flat {
		t.Fatalf("cal.json read as %v", d.Generation())
	}
	n, notes, err := d.Convert(saxs.Nested)
	if err != nil || len(notes) != 0 {
		t.Fatalf("Convert: %v %v", err, notes)
	}
	out, cal, err := n.Calibration("converted")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := saxs.ParseCalibration(nestedData, "cal2.json")
	if err != nil {
		t.Fatal(err)
	}
	if cal.Generation() != saxs.Nested || cal.Masks[0].QStop != 0 || ref.Masks[0].QStop != 5 {
		t.Fatalf("generation %v, qStop %v (reference %v)", cal.Generation(), cal.Masks[0].QStop, ref.Masks[0].QStop)
	}
	cal.Masks[0].QStop = ref.Masks[0].QStop
	compareCalibrations(t, cal, ref)

	// The whole documents, as plain values: Title at the root, Directory
	// added, the same keys everywhere.
	got, want := generic(t, out), generic(t, nestedData)
	got["Masks"].([]any)[0].(map[string]any)["qStop"] = 5.0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("converted cal.json:\n%s\nwant the content of cal2.json apart from qStop", out)
	}
	// Even the key order and layout are cal2.json's.
	want2 := strings.Replace(strings.Replace(string(nestedData), `"qStop": 5.0`, `"qStop": 0`, 1), `"qStart": 0.0`, `"qStart": 0`, 1)
	if string(out) != want2 {
		t.Errorf("converted cal.json:\n%s\nwant\n%s", out, want2)
	}

	// And back: the original flat file, byte for byte; qStop 5 is reported.
	back, notes, err := mustParse(t, nestedData, "cal2.json").Convert(saxs.Flat)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "qStop") {
		t.Errorf("notes %q, want one about qStop", notes)
	}
	b, _, err := back.Calibration("back")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(flatData) {
		t.Errorf("2.0 -> 0.3:\n%s\nwant cal.json\n%s", b, flatData)
	}
}

// compareCalibrations compares the values of two calibrations.
func compareCalibrations(t *testing.T, got, want *saxs.Calibration) {
	t.Helper()
	fields := func(c *saxs.Calibration) saxs.Calibration {
		return saxs.Calibration{Title: c.Title, Geometry: c.Geometry, Wavelength: c.Wavelength, Masks: c.Masks,
			Directory: c.Directory, PolarizationCorrection: c.PolarizationCorrection, Threads: c.Threads, GISAXSmode: c.GISAXSmode}
	}
	g, w := fields(got), fields(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("calibration\n%+v\nwant\n%+v", g, w)
	}
}

// TestFlatToNestedKeepsFalsy checks two bugs of the original's mapping:
// it deleted keys with falsy values and moved Title into Geometry.
func TestFlatToNestedKeepsFalsy(t *testing.T) {
	flat := `{"Title": "", "Tilt": {"TiltAngleDeg": 0, "TiltRotDeg": 0.0}, "BeamCenter": [0, 0.0],
		"DedectorDistanceMM": 500, "Imagesize": [10, 20], "PixelSizeMicroM": [75], "MaskFile": "m.msk",
		"Oversampling": 1, "PixelPerRadialElement": 1, "Wavelength": 1,
		"PolarizationCorrection": {"Fraction": 0, "Angle": 0}}`
	n, _, err := mustParse(t, []byte(flat), "flat").Convert(saxs.Nested)
	if err != nil {
		t.Fatal(err)
	}
	out, cal, err := n.Calibration("nested")
	if err != nil {
		t.Fatal(err)
	}
	m := generic(t, out)
	if title, ok := m["Title"]; !ok || title != "" {
		t.Errorf("Title %v (present %v), want \"\" at the root", title, ok)
	}
	geo := m["Geometry"].(map[string]any)
	if _, ok := geo["Title"]; ok {
		t.Error("Title moved into Geometry")
	}
	tilt := geo["Tilt"].(map[string]any)
	if v, ok := tilt["TiltAngleDeg"]; !ok || v != 0.0 {
		t.Errorf("TiltAngleDeg %v (present %v), want 0", v, ok)
	}
	if _, ok := tilt["TiltRotDeg"]; !ok {
		t.Error("TiltRotDeg 0.0 deleted")
	}
	if !reflect.DeepEqual(geo["BeamCenter"], []any{0.0, 0.0}) {
		t.Errorf("BeamCenter %v", geo["BeamCenter"])
	}
	if pc := m["PolarizationCorrection"].(map[string]any); pc["Fraction"] != 0.0 || pc["Angle"] != 0.0 {
		t.Errorf("PolarizationCorrection %v", pc)
	}
	if !reflect.DeepEqual(m["Directory"], []any{"."}) {
		t.Errorf("Directory %v, want [\".\"]", m["Directory"])
	}
	if cal.Geometry.Tilt.TiltAngleDeg != 0 || cal.Geometry.DetectorDistanceMM != 500 || cal.Masks[0].MaskFile != "m.msk" {
		t.Errorf("calibration %+v", cal)
	}
	if !strings.Contains(string(out), `"TiltAngleDeg": 0,`) || !strings.Contains(string(out), `"TiltRotDeg": 0.0`) {
		t.Errorf("number literals not kept:\n%s", out)
	}
}

func TestNestedToFlatMaskCount(t *testing.T) {
	two := `{"Geometry": {"Tilt": {"TiltAngleDeg": 0, "TiltRotDeg": 0}, "BeamCenter": [1, 2], "DedectorDistanceMM": 500,
		"Imagesize": [10, 20], "PixelSizeMicroM": [75]}, "Wavelength": 1, "Directory": ["a", "b"],
		"Masks": [{"MaskFile": "m.msk", "Oversampling": 1, "PixelPerRadialElement": 1, "qStart": 0, "qStop": 0},
		          {"MaskFile": "n.msk", "Oversampling": 2, "PixelPerRadialElement": 1, "qStart": 0, "qStop": 0}]}`
	d := mustParse(t, []byte(two), "two")
	_, _, err := d.Convert(saxs.Flat)
	if err == nil || !strings.Contains(err.Error(), "2 masks") {
		t.Errorf("error %v, want one naming the 2 masks", err)
	}

	one := strings.Replace(two, `,
		          {"MaskFile": "n.msk", "Oversampling": 2, "PixelPerRadialElement": 1, "qStart": 0, "qStop": 0}`, "", 1)
	f, notes, err := mustParse(t, []byte(one), "one").Convert(saxs.Flat)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], `Directory = ["a","b"]`) {
		t.Errorf("notes %q, want one on Directory", notes)
	}
	_, cal, err := f.Calibration("flat")
	if err != nil {
		t.Fatal(err)
	}
	if cal.Generation() != saxs.Flat || cal.Masks[0].MaskFile != "m.msk" || cal.Geometry.BeamCenter != [2]float64{1, 2} {
		t.Errorf("flat calibration %+v", cal)
	}
}

func TestApplyFit2DKeepsLiterals(t *testing.T) {
	// The template spells numbers its own way; equal values keep them.
	flat := `{"Tilt": {"TiltAngleDeg": -0.560, "TiltRotDeg": 0}, "BeamCenter": [808.370, 1],
		"DedectorDistanceMM": 1000, "Imagesize": [1043, 981], "PixelSizeMicroM": [172.0], "MaskFile": "m.msk",
		"Oversampling": 2, "PixelPerRadialElement": 1, "Wavelength": 1.54, "Title": "x"}`
	d := mustParse(t, []byte(flat), "t")
	v, err := ParseFit2D(strings.NewReader(fit2dLF), "fit2d")
	if err != nil {
		t.Fatal(err)
	}
	d.ApplyFit2D(v)
	out, cal, err := d.Calibration("out")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"TiltAngleDeg": -0.560,`, `"TiltRotDeg": 73.569`, "808.370,\n        387.772",
		`"DedectorDistanceMM": 1031.657,`, `"Wavelength": 1.54,`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if cal.Geometry.BeamCenter != [2]float64{808.37, 387.772} || cal.Title != "x" {
		t.Errorf("calibration %+v", cal)
	}
}

// The fork's OverwriteFiles and Live-Filelisting have no place in the
// 0.3.0 schema: dropped silently at their defaults (true, false), with a
// note otherwise.
func TestNestedToFlatForkKeys(t *testing.T) {
	base := `{"Geometry": {"Tilt": {"TiltAngleDeg": 0, "TiltRotDeg": 0}, "BeamCenter": [1, 2], "DedectorDistanceMM": 500,
		"Imagesize": [10, 20], "PixelSizeMicroM": [75]}, "Wavelength": 1, %s
		"Masks": [{"MaskFile": "m.msk", "Oversampling": 1, "PixelPerRadialElement": 1, "qStart": 0, "qStop": 0}]}`
	for _, tc := range []struct {
		keys  string
		notes []string
	}{
		{`"OverwriteFiles": true, "Live-Filelisting": false,`, nil},
		{`"OverwriteFiles": false, "Live-Filelisting": true,`, []string{"OverwriteFiles = false", "Live-Filelisting = true"}},
	} {
		_, notes, err := mustParse(t, []byte(fmt.Sprintf(base, tc.keys)), "fork").Convert(saxs.Flat)
		if err != nil {
			t.Fatal(err)
		}
		if len(notes) != len(tc.notes) {
			t.Errorf("%s: notes %q, want %d", tc.keys, notes, len(tc.notes))
			continue
		}
		for _, want := range tc.notes {
			if !strings.Contains(strings.Join(notes, "\n"), want) {
				t.Errorf("%s: notes %q, want one on %s", tc.keys, notes, want)
			}
		}
	}
}
