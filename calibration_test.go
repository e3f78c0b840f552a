package saxs

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const flatJSON = `{
    "Title": "test",
    "Tilt": {"TiltAngleDeg": -0.56, "TiltRotDeg": 73.569},
    "DedectorDistanceMM": 1031.657,
    "BeamCenter": [808.37, 387.772],
    "Imagesize": [1043.0, 981],
    "PixelSizeMicroM": [172.0, 172.0],
    "MaskFile": "AAA_integ.msk",
    "Oversampling": 2.0,
    "PixelPerRadialElement": 1,
    "Wavelength": 1.54
}`

const nestedJSON = `{
    "Title": "test",
    "Geometry": {
        "Tilt": {"TiltAngleDeg": -0.56, "TiltRotDeg": 73.569},
        "DedectorDistanceMM": 1031.657,
        "BeamCenter": [808.37, 387.772],
        "Imagesize": [1043, 981],
        "PixelSizeMicroM": [172.0]
    },
    "Directory": ["."],
    "Masks": [
        {"MaskFile": "a.msk", "Oversampling": 2, "PixelPerRadialElement": 1, "qStart": 0.0, "qStop": 5.0},
        {"MaskFile": "/abs/b.tif", "Oversampling": 3, "PixelPerRadialElement": 0.5, "qStart": 0.1, "qStop": 2,
         "Name": "wide", "RadialBins": {"Start": 0, "Stop": 3, "Count": 300}}
    ],
    "PolarizationCorrection": {"Fraction": 0.95, "Angle": 0},
    "Wavelength": 1.54
}`

func TestParseBothGenerations(t *testing.T) {
	flat, err := ParseCalibration([]byte(flatJSON), "flat.json")
	if err != nil {
		t.Fatal(err)
	}
	nested, err := ParseCalibration([]byte(nestedJSON), "nested.json")
	if err != nil {
		t.Fatal(err)
	}
	if flat.Generation() != Flat || nested.Generation() != Nested {
		t.Errorf("generations %v, %v", flat.Generation(), nested.Generation())
	}
	// 0.3.0 files may hold integral floats (1043.0, 2.0).
	if flat.Geometry.Imagesize != [2]int{1043, 981} || flat.Masks[0].Oversampling != 2 {
		t.Errorf("flat: Imagesize %v, Oversampling %d", flat.Geometry.Imagesize, flat.Masks[0].Oversampling)
	}
	if flat.Geometry.Tilt != nested.Geometry.Tilt ||
		flat.Geometry.BeamCenter != nested.Geometry.BeamCenter ||
		flat.Geometry.DetectorDistanceMM != nested.Geometry.DetectorDistanceMM {
		t.Errorf("geometries differ: %+v vs %+v", flat.Geometry, nested.Geometry)
	}
	if len(nested.Masks) != 2 || nested.Masks[1].RadialBins == nil || nested.Masks[1].RadialBins.Count != 300 ||
		nested.Masks[1].Name != "wide" || nested.Masks[0].QStop != 5 {
		t.Errorf("masks: %+v", nested.Masks)
	}
	if pc := nested.PolarizationCorrection; pc == nil || pc.Fraction != 0.95 {
		t.Errorf("polarization: %+v", pc)
	}
}

func TestSharedCalibrations(t *testing.T) {
	flat := loadShared(t, "cal.json")
	nested := loadShared(t, "cal2.json")
	if flat.Geometry.Tilt != nested.Geometry.Tilt || flat.Geometry.BeamCenter != nested.Geometry.BeamCenter ||
		flat.Wavelength != nested.Wavelength || flat.Geometry.Imagesize != nested.Geometry.Imagesize {
		t.Errorf("cal.json and cal2.json disagree: %+v / %+v", flat.Geometry, nested.Geometry)
	}
	if want := filepath.Join(sharedDataDir, "AAA_integ.msk"); flat.MaskPath(0) != want {
		t.Errorf("MaskPath = %q, want %q (relative to the calibration's folder)", flat.MaskPath(0), want)
	}
}

func TestMaskPathResolution(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cal.json")
	if err := os.WriteFile(p, []byte(nestedJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCalibration(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.MaskPath(0); got != filepath.Join(dir, "a.msk") {
		t.Errorf("relative mask: %q", got)
	}
	if got := c.MaskPath(1); got != "/abs/b.tif" {
		t.Errorf("absolute mask: %q", got)
	}
}

// edit returns the nested calibration with one change applied to its
// decoded JSON.
func edit(t *testing.T, src string, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(src), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func TestCalibrationErrors(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"missing field", edit(t, nestedJSON, func(m map[string]any) {
			delete(obj(obj(m, "Geometry"), "Tilt"), "TiltAngleDeg")
		}), []string{"cal.json: /Geometry/Tilt: missing property 'TiltAngleDeg'"}},
		{"missing flat field", edit(t, flatJSON, func(m map[string]any) { delete(m, "Wavelength") }),
			[]string{"cal.json: /: missing property 'Wavelength'"}},
		{"unknown key", edit(t, nestedJSON, func(m map[string]any) { m["Oversampling"] = 3 }),
			[]string{"cal.json: /: unknown key 'Oversampling'; allowed: Directory, GISAXSmode, Geometry, Live-Filelisting, Masks, OverwriteFiles, PolarizationCorrection, Reduction, Slices, Threads, Title, Wavelength"}},
		{"unknown flat key", edit(t, flatJSON, func(m map[string]any) { m["Directory"] = []string{"."} }),
			[]string{"cal.json: /: unknown key 'Directory'; allowed: BeamCenter, DedectorDistanceMM, Imagesize"}},
		{"unknown nested key", edit(t, nestedJSON, func(m map[string]any) {
			obj(m, "Geometry")["Tilt"].(map[string]any)["Tlit"] = 1
		}), []string{"cal.json: /Geometry/Tilt: unknown key 'Tlit'; allowed: TiltAngleDeg, TiltRotDeg"}},
		{"negative distance", edit(t, nestedJSON, func(m map[string]any) { obj(m, "Geometry")["DedectorDistanceMM"] = -1 }),
			[]string{"cal.json: /Geometry/DedectorDistanceMM: must be greater than 0, got -1"}},
		{"zero oversampling", edit(t, nestedJSON, func(m map[string]any) {
			m["Masks"].([]any)[0].(map[string]any)["Oversampling"] = 0
		}), []string{"cal.json: /Masks/0/Oversampling: must be at least 1, got 0"}},
		{"fractional image size", edit(t, flatJSON, func(m map[string]any) { m["Imagesize"] = []float64{10.5, 3} }),
			[]string{"cal.json: /Imagesize/0: got number, want integer"}},
		{"bad bins", edit(t, nestedJSON, func(m map[string]any) {
			m["Masks"].([]any)[1].(map[string]any)["RadialBins"] = map[string]any{"Start": 2, "Stop": 1, "Count": 10}
		}), []string{"cal.json: /Masks/1/RadialBins: need 0 <= Start < Stop, got Start 2, Stop 1"}},
		{"bad fraction", edit(t, nestedJSON, func(m map[string]any) { obj(m, "PolarizationCorrection")["Fraction"] = 1.5 }),
			[]string{"cal.json: /PolarizationCorrection/Fraction: must be at most 1, got 1.5"}},
		{"overwrite not a bool", edit(t, nestedJSON, func(m map[string]any) { m["OverwriteFiles"] = "no" }),
			[]string{"cal.json: /OverwriteFiles: got string, want boolean"}},
		{"live list not a bool", edit(t, nestedJSON, func(m map[string]any) { m["Live-Filelisting"] = 1 }),
			[]string{"cal.json: /Live-Filelisting: got number, want boolean"}},
		{"fork keys in a flat file", edit(t, flatJSON, func(m map[string]any) { m["OverwriteFiles"] = false }),
			[]string{"cal.json: /: unknown key 'OverwriteFiles'; allowed: BeamCenter"}},
		{"misspelt live list", edit(t, nestedJSON, func(m map[string]any) { m["LiveFilelisting"] = true }),
			[]string{"cal.json: /: unknown key 'LiveFilelisting'; allowed: Directory, GISAXSmode, Geometry, Live-Filelisting, Masks, OverwriteFiles,"}},
		{"unknown mask key", edit(t, nestedJSON, func(m map[string]any) { m["Masks"].([]any)[0].(map[string]any)["PhiMode"] = true }),
			[]string{"cal.json: /Masks/0: unknown key 'PhiMode'; allowed: MaskFile, Name, Oversampling, Phi-mode, PhiBins, PixelPerRadialElement, RadialBins, qStart, qStop"}},
		{"Phi-mode not a bool", edit(t, nestedJSON, func(m map[string]any) { m["Masks"].([]any)[0].(map[string]any)["Phi-mode"] = "yes" }),
			[]string{"cal.json: /Masks/0/Phi-mode: got string, want boolean"}},
		{"Phi-mode without a band", edit(t, nestedJSON, func(m map[string]any) {
			mc := m["Masks"].([]any)[0].(map[string]any)
			mc["Phi-mode"], mc["qStart"], mc["qStop"] = true, 2, 1
		}), []string{"cal.json: /Masks/0/qStop: Phi-mode needs a band qStart < qStop, got qStart 2, qStop 1"}},
		{"negative PhiBins", edit(t, nestedJSON, func(m map[string]any) {
			mc := m["Masks"].([]any)[0].(map[string]any)
			mc["Phi-mode"], mc["PhiBins"] = true, -3
		}), []string{"cal.json: /Masks/0/PhiBins: must be at least 0, got -3"}},
		{"PhiBins without Phi-mode", edit(t, nestedJSON, func(m map[string]any) { m["Masks"].([]any)[0].(map[string]any)["PhiBins"] = 36 }),
			[]string{`cal.json: /Masks/0/PhiBins: PhiBins needs "Phi-mode": true`}},
		{"Phi-mode in a 0.3.0 file", edit(t, flatJSON, func(m map[string]any) { m["Phi-mode"] = true }),
			[]string{"cal.json: /: unknown key 'Phi-mode'"}},
		{"syntax", []byte("{\n  \"Title\": \"x\",\n  oops\n}"), []string{"cal.json: /: invalid JSON at line 3"}},
		{"not an object", []byte("[1, 2]"), []string{"cal.json: /: a calibration must be a JSON object"}},
		{"two errors", edit(t, nestedJSON, func(m map[string]any) {
			delete(obj(m, "Geometry"), "BeamCenter")
			m["Wavelength"] = 0
		}), []string{"/Geometry: missing property 'BeamCenter'", "/Wavelength: must be greater than 0, got 0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCalibration(tc.data, "cal.json")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var ce *CalibrationError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *CalibrationError", err)
			}
		})
	}
}

func TestMaskSizeMismatch(t *testing.T) {
	dir := t.TempDir()
	cal, _ := synthetic(t, 2)
	m := &Mask{Rows: 60, Cols: 83, Masked: make([]bool, 60*83)}
	f, err := os.Create(filepath.Join(dir, "synthetic.msk"))
	if err != nil {
		t.Fatal(err)
	}
	if err := EncodeFit2DMask(f, m); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cal.SetDir(dir)
	_, err = New(cal)
	want := "mask synthetic.msk: mask is 60 rows × 83 columns, calibration Imagesize is [61, 83]"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	var se *SizeError
	if !errors.As(err, &se) {
		t.Errorf("error is not a *SizeError")
	}
	// A mask file that does not exist names the path.
	cal.Masks[0].MaskFile = "nope.msk"
	if _, err := New(cal); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "nope.msk")) {
		t.Errorf("missing mask: err = %v", err)
	}
}

func TestSchemaExport(t *testing.T) {
	for _, g := range []Generation{Flat, Nested} {
		var s map[string]any
		if err := json.Unmarshal(Schema(g), &s); err != nil {
			t.Fatalf("%v: %v", g, err)
		}
		props := s["properties"].(map[string]any)
		for _, k := range []string{"Wavelength", "PolarizationCorrection"} {
			if _, ok := props[k]; !ok {
				t.Errorf("%v schema lacks %s", g, k)
			}
		}
		if s["additionalProperties"] != false {
			t.Errorf("%v schema allows unknown keys", g)
		}
		// Descriptions with commas are whole (the tag's commas are escaped).
		if g == Nested && !strings.Contains(string(Schema(g)), "Beam center [y from the bottom edge, x from the left edge] in pixels") {
			t.Errorf("%v schema: BeamCenter description cut", g)
		}
	}
}

// The .chi header records the calibration as loaded, with sorted keys.
func TestCalibrationJSON(t *testing.T) {
	c, err := ParseCalibration([]byte(flatJSON), "flat.json")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := c.JSON().(map[string]any)
	if !ok || m["Title"] != "test" || m["MaskFile"] != "AAA_integ.msk" {
		t.Errorf("JSON() = %v", c.JSON())
	}
}

// The Python 3 fork's root keys OverwriteFiles and Live-Filelisting:
// absent, OverwriteFiles is true (the original converts every frame) and
// Live-Filelisting false (the original 2.0 wrote no list); given, their
// values; a copy does not share them; the .chi header keeps the file's
// bytes either way.
func TestForkOutputKeys(t *testing.T) {
	cases := []struct {
		name            string
		set             map[string]any
		overwrite, list bool
	}{
		{"absent", nil, true, false},
		{"fork defaults", map[string]any{"OverwriteFiles": true, "Live-Filelisting": true}, true, true},
		{"no overwrite", map[string]any{"OverwriteFiles": false}, false, false},
		{"list off", map[string]any{"OverwriteFiles": false, "Live-Filelisting": false}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := edit(t, nestedJSON, func(m map[string]any) {
				for k, v := range tc.set {
					m[k] = v
				}
			})
			c, err := ParseCalibration(data, "cal.json")
			if err != nil {
				t.Fatal(err)
			}
			if c.Overwrite() != tc.overwrite || c.LiveFileList() != tc.list {
				t.Errorf("Overwrite() = %v, LiveFileList() = %v, want %v, %v", c.Overwrite(), c.LiveFileList(), tc.overwrite, tc.list)
			}
			j := c.JSON().(map[string]any)
			for _, k := range []string{"OverwriteFiles", "Live-Filelisting"} {
				want, given := tc.set[k]
				if got, ok := j[k]; ok != given || got != want {
					t.Errorf("JSON()[%q] = %v (present %v), want %v (present %v)", k, got, ok, want, given)
				}
			}
			d := c.clone()
			if c.OverwriteFiles != nil && d.OverwriteFiles == c.OverwriteFiles {
				t.Error("clone shares OverwriteFiles")
			}
			if c.LiveFilelisting != nil && d.LiveFilelisting == c.LiveFilelisting {
				t.Error("clone shares LiveFilelisting")
			}
			if !c.unchanged() {
				t.Error("a parsed calibration reads as changed")
			}
		})
	}
	// Set in code, the keys are encoded under the fork's names.
	c, err := ParseCalibration([]byte(nestedJSON), "cal.json")
	if err != nil {
		t.Fatal(err)
	}
	f, tr := false, true
	c.OverwriteFiles, c.LiveFilelisting = &f, &tr
	j := c.JSON().(map[string]any)
	if j["OverwriteFiles"] != false || j["Live-Filelisting"] != true {
		t.Errorf("JSON() of changed calibration: OverwriteFiles %v, Live-Filelisting %v", j["OverwriteFiles"], j["Live-Filelisting"])
	}
}
