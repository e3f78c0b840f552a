package saxsdogcli

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/saxsdog/saxs"
)

// The reduction flags reach the calibration: --unit labels the .chi column,
// --bins and --range set the rows, and the header carries the options.
func TestReductionFlags(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	code, stdout, stderr := runMain(t, dir, "--unit", "2th_deg", "--bins", "17", "--range", "0.5:3.5", "--solid-angle", "--chi-range", "-90:90", "--error-model", "azimuthal", "--estimator", "pyfai", "--sigma-clip", "4", "-o", "out2", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	p := filepath.Join(dir, "out2", treeChi["a/b/x.tif"])
	f, err := saxs.ReadChiFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 17 {
		t.Errorf("%d rows, want 17", f.Len())
	}
	for k, q := range f.Q {
		if want := 0.5 + (float64(k)+0.5)*3/17; q < want-1e-12 || q > want+1e-12 {
			t.Errorf("row %d: 2θ %g, want %g", k, q, want)
		}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(data), "\n", 4)
	if !strings.Contains(lines[2], "2theta [deg]") {
		t.Errorf("column labels %s", lines[2])
	}
	if !strings.Contains(lines[0], `"Reduction": {"Bins": 17, "ChiRange": [-90, 90], "ErrorModel": "azimuthal", "Estimator": "pyfai", "Range": [0.5, 3.5], "SigmaClip": 4, "SolidAngle": true, "Unit": "2th_deg"}`) {
		t.Errorf("header %s", lines[0])
	}
	for _, args := range [][]string{
		{"--unit", "furlong", "data"},
		{"--bins", "0", "data"},
		{"--range", "3", "data"},
		{"--range", "3:1", "data"},
		{"--chi-range", "10", "data"},
		{"--error-model", "gaussian", "data"},
		{"--estimator", "median", "data"},
		{"--sigma-clip", "-1", "data"},
		{"--chi-range", "10:10", "data"},
	} {
		if code, _, stderr := runMain(t, dir, args...); code != ExitUsage || !strings.Contains(stderr, args[0][2:]) && !strings.Contains(stderr, "Reduction") {
			t.Errorf("%q: exit %d, %s", args, code, stderr)
		}
	}
}

// --dark with a frame equal to the dark gives 0; --flat with a constant
// flat 2 halves the frame; --background FILE:SCALE subtracts it scaled.
func TestDarkFlatBackgroundFlags(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	writeFrame(t, filepath.Join(dir, "three.tif"), 3)
	writeFrame(t, filepath.Join(dir, "two.tif"), 2)
	code, stdout, stderr := runMain(t, dir, "--dark", "three.tif", "-o", "dark", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	checkChi(t, filepath.Join(dir, "dark", treeChi["a/b/x.tif"]), 0)
	code, stdout, stderr = runMain(t, dir, "--flat", "two.tif", "-o", "flat", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	checkChi(t, filepath.Join(dir, "flat", treeChi["a/b/x.tif"]), 1.5)
	code, stdout, stderr = runMain(t, dir, "--background", "two.tif:0.5", "-o", "bkg", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	checkChi(t, filepath.Join(dir, "bkg", treeChi["a/b/x.tif"]), 2)
	if code, _, stderr := runMain(t, dir, "--dark", "missing.tif", "data"); code != ExitUsage || !strings.Contains(stderr, "dark") {
		t.Errorf("missing dark: exit %d, %s", code, stderr)
	}
}

// --normalise TABLE.csv divides each frame by its row's monitor ×
// transmission.
func TestNormaliseFlag(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	if err := os.WriteFile(filepath.Join(dir, "norm.csv"), []byte("name,monitor,transmission\n"+
		"x.tif,6,0.5\ny.tif,1,1\nz.tif,1,1\nw.tif,1,1\nv.tif,1,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain(t, dir, "--normalise", "norm.csv", "-o", "norm", "data")
	// top.tif and c/deep.TIFF are not in the table: they fail, the others convert.
	if code == ExitUsage || !strings.Contains(stdout, "converted 3, skipped 0, failed 2") || !strings.Contains(stdout, "not in the normalisation table") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	checkChi(t, filepath.Join(dir, "norm", treeChi["a/b/x.tif"]), 1) // 3 / (6·0.5)
}

// --cake writes a float32 TIFF of NCHI rows and NQ columns next to each
// .chi file; a constant frame gives the constant in every filled cell.
func TestCakeFlag(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	code, stdout, stderr := runMain(t, dir, "--cake", "20x8", "-o", "cake", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	img, err := saxs.ReadImage(filepath.Join(dir, "cake", "a/b/x_cake.tif"))
	if err != nil {
		t.Fatal(err)
	}
	if img.Rows != 8 || img.Cols != 20 || img.Values == nil {
		t.Fatalf("cake %d × %d (float %v)", img.Rows, img.Cols, img.Values != nil)
	}
	filled := 0
	for _, v := range img.Values {
		if v == v {
			filled++
			if v != 3 {
				t.Errorf("cake cell %g, want 3", v)
			}
		}
	}
	if filled < 40 {
		t.Errorf("%d cells filled", filled)
	}
	if code, _, stderr := runMain(t, dir, "--cake", "20by8", "data"); code != ExitUsage || !strings.Contains(stderr, "--cake") {
		t.Errorf("bad --cake: exit %d, %s", code, stderr)
	}
}

// --poni takes the geometry from a .poni file: a .poni of the calibration's
// own geometry gives the same curves, a missing one is a usage error.
func TestPoniFlag(t *testing.T) {
	dir := t.TempDir()
	calPath := flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	cal, err := saxs.LoadCalibration(calPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "geo.poni"))
	if err != nil {
		t.Fatal(err)
	}
	if err := saxs.PoniFromCalibration(cal).Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, out := range []string{"plain", "poni"} {
		args := []string{"-o", out, "data"}
		if out == "poni" {
			args = append([]string{"--poni", "geo.poni"}, args...)
		}
		if code, stdout, stderr := runMain(t, dir, args...); code != ExitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", out, code, stdout, stderr)
		}
	}
	a, err := saxs.ReadChiFile(filepath.Join(dir, "plain", treeChi["a/b/x.tif"]))
	if err != nil {
		t.Fatal(err)
	}
	b, err := saxs.ReadChiFile(filepath.Join(dir, "poni", treeChi["a/b/x.tif"]))
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != b.Len() {
		t.Fatalf("%d rows with --poni, %d without", b.Len(), a.Len())
	}
	for k := range a.Q {
		if d := a.Q[k] - b.Q[k]; d > 1e-9 || d < -1e-9 {
			t.Errorf("row %d: q %g with --poni, %g without", k, b.Q[k], a.Q[k])
		}
	}
	if code, _, stderr := runMain(t, dir, "--poni", "missing.poni", "data"); code != ExitUsage || !strings.Contains(stderr, "Poni") {
		t.Errorf("missing .poni: exit %d, %s", code, stderr)
	}
}

// --azimuthal NCHI --q-band LO:HI writes each mask's I(χ) over the band:
// NCHI rows of χ in degrees, the constant of a constant frame, labelled
// as χ in the .chi, .dat and NXcanSAS outputs, with the keys in the
// header; bad values are refused naming the flag.
func TestAzimuthalFlags(t *testing.T) {
	dir := t.TempDir()
	flatCal(t, dir)
	writeTree(t, filepath.Join(dir, "data"))
	code, stdout, stderr := runMain(t, dir, "--azimuthal", "12", "--q-band", "0.5:1.5", "--format", "chi,dat,nxcansas", "-o", "az", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	p := filepath.Join(dir, "az", treeChi["a/b/x.tif"])
	f, err := saxs.ReadChiFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 12 {
		t.Fatalf("%d rows, want 12", f.Len())
	}
	for k, chi := range f.Q {
		if want := -180 + (float64(k)+0.5)*30; math.Abs(chi-want) > 1e-12 {
			t.Errorf("row %d: χ %g°, want %g°", k, chi, want)
		}
	}
	checkChi(t, p, float64(tree["a/b/x.tif"]))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(data), "\n", 4)
	if !strings.Contains(lines[2], "Azimuthal Angle  chi [deg]") {
		t.Errorf("column labels %s", lines[2])
	}
	if !strings.Contains(lines[0], `"Phi-mode": true, "PhiBins": 12`) || !strings.Contains(lines[0], `"qStart": 0.5, "qStop": 1.5`) {
		t.Errorf("header %s", lines[0])
	}
	dat := strings.TrimSuffix(p, ".chi") + ".dat"
	if b, err := os.ReadFile(dat); err != nil || !strings.Contains(string(b), "chi_deg") {
		t.Errorf("%s: %v\n%.600s", dat, err, b)
	}
	for _, args := range [][]string{
		{"--azimuthal", "0", "--q-band", "0.5:1.5", "data"},
		{"--azimuthal", "-3", "--q-band", "0.5:1.5", "data"},
		{"--azimuthal", "8", "data"}, // the 0.3.0 calibration has no band
		{"--q-band", "1.5:0.5", "--azimuthal", "8", "data"},
		{"--q-band", "1.5:1.5", "--azimuthal", "8", "data"},
		{"--q-band", "1", "--azimuthal", "8", "data"},
	} {
		code, _, stderr := runMain(t, dir, args...)
		flag := args[0][2:]
		if args[0] == "--azimuthal" && len(args) == 2 {
			flag = "q-band"
		}
		if code != ExitUsage || !strings.Contains(stderr, "--"+flag) {
			t.Errorf("%q: exit %d, %s", args, code, stderr)
		}
	}
	// A band beyond the detector: refused, naming the band.
	if code, _, stderr := runMain(t, dir, "--azimuthal", "8", "--q-band", "500:600", "data"); code == ExitOK || !strings.Contains(stderr, "Phi-mode band qStart 500 to qStop 600") {
		t.Errorf("band beyond the detector: exit %d, %s", code, stderr)
	}

	// NXcanSAS, read with h5py: the axis is Phi in degrees, the .chi's χ.
	out := runPython(t, []string{"h5py"}, `
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    d = f["sasentry01/sasdata00001"]
    a = d.attrs["I_axes"]
    print(a.decode() if isinstance(a, bytes) else a)
    u = d["Phi"].attrs["units"]
    print(u.decode() if isinstance(u, bytes) else u)
    print(" ".join(repr(float(v)) for v in d["Phi"][()]))
`, strings.TrimSuffix(p, ".chi")+".nxcansas.h5")
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != 3 || got[0] != "Phi" || got[1] != "deg" {
		t.Fatalf("h5py reads %q", got)
	}
	for k, s := range strings.Fields(got[2]) {
		if v, err := strconv.ParseFloat(s, 64); err != nil || v != f.Q[k] {
			t.Errorf("NXcanSAS Phi[%d] = %s, the .chi has %g", k, s, f.Q[k])
		}
	}
}
