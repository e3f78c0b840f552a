package saxsdogcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// saxsdog with a 2.0 GISAXS calibration: the slices' .chi files beside the
// radial ones, no first radial curve (GISAXSmode), a slice outside the
// detector reported with its field while everything else is written, and
// --resume counting the slices' files.
func TestMainGISAXSSlices(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../testdata/gisaxs/cal.json")
	if err != nil {
		t.Fatal(err)
	}
	cal := strings.Replace(string(src), `"MaskRef": -1}`, `"MaskRef": -1},
        {"Direction": "x", "Plane": "Vertical", "CutPosition": -50, "CutMargin": 2, "IncidentAngle": 0.2, "MaskRef": 1}`, 1)
	cal = strings.ReplaceAll(cal, "../sample/mask.msk", "mask.msk")
	if err := os.WriteFile(filepath.Join(dir, "cal.json"), []byte(cal), 0o644); err != nil {
		t.Fatal(err)
	}
	copyTo := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	abs, _ := filepath.Abs("../../testdata/sample")
	copyTo(filepath.Join(abs, "mask.msk"), filepath.Join(dir, "mask.msk"))
	frames, _ := filepath.Glob(filepath.Join(abs, "frames", "run1", "*.tif"))
	for _, f := range frames {
		copyTo(f, filepath.Join(dir, "run1", filepath.Base(f)))
	}
	code, stdout, stderr := runMain(t, dir, "-t", "2", "run1")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "/Slices/2/CutPosition: the band of 4 rows at -50 ± 2 pixels from the bottom edge lies outside the detector's 128 rows") {
		t.Errorf("no error naming the slice's field in\n%s", stderr)
	}
	got, _ := filepath.Glob(filepath.Join(dir, "out", "*.chi"))
	if len(got) != 3*len(frames) {
		t.Errorf("%d files written, want %d (_cR1, _cS2, _cS3 per frame): %q", len(got), 3*len(frames), got)
	}
	for _, f := range frames {
		base := strings.TrimSuffix(filepath.Base(f), ".tif")
		for _, s := range []string{"_cR1.chi", "_cS2.chi", "_cS3.chi"} {
			if _, err := os.Stat(filepath.Join(dir, "out", base+s)); err != nil {
				t.Error(err)
			}
		}
	}
	code, stdout, stderr = runMain(t, dir, "-r", "run1")
	if code != ExitOK || !strings.Contains(stdout, "converted 0, skipped 3, failed 0") {
		t.Errorf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if err := os.Remove(filepath.Join(dir, "out", strings.TrimSuffix(filepath.Base(frames[0]), ".tif")+"_cS3.chi")); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runMain(t, dir, "-r", "run1")
	if code != ExitOK || !strings.Contains(stdout, "converted 1, skipped 2, failed 0") {
		t.Errorf("resume with a slice file missing: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
