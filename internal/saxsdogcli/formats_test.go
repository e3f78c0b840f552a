package saxsdogcli

// The detector formats beyond TIFF through the saxsdog command: fixtures
// written by independent writers (fabio, h5py with bitshuffle), converted
// by the command and compared with the TIFF's curves; the .dat and
// NXcanSAS outputs read back with numpy and h5py.

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/saxsdog/saxs"
)

const python = "/usr/bin/python3"

// sampleDir is the bundled sample (a 128 × 160 frame, its calibration and
// mask).
var sampleDir = filepath.Join("..", "..", "testdata", "sample")

// runPython runs a Python script with args and returns its output,
// skipping the test when the interpreter or one of the modules is missing.
func runPython(t *testing.T, modules []string, script string, args ...string) []byte {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skip(python + " not found; independent-writer test skipped")
	}
	check := "import " + strings.Join(modules, ", ")
	if out, err := exec.Command(python, "-c", check).CombinedOutput(); err != nil {
		t.Skipf("%s: %s failed (%s); independent-writer test skipped (install python3-fabio, python3-h5py, bitshuffle)",
			python, check, bytes.TrimSpace(out))
	}
	var stderr bytes.Buffer
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python failed: %v\n%s", err, stderr.Bytes())
	}
	return out
}

// fabioWriter writes the TIFF argv[1] with fabio as the CBF argv[2] (a
// Pilatus header with a detector distance of 1.03165 m, beam centre
// (387.77, 234.63) pixels) and as the
// two-image EDF argv[3]: the frame, then 3 × frame − 1.
const fabioWriter = `
import sys, numpy as np, fabio
from fabio.cbfimage import CbfImage
from fabio.edfimage import EdfImage
d = fabio.open(sys.argv[1]).data.astype(np.int32)
hdr = {"_array_data.header_convention": "PILATUS_1.2",
       "_array_data.header_contents": "# Pixel_size 172e-6 m x 172e-6 m\r\n# Exposure_time 1.5 s\r\n# Count_cutoff 1048500 counts\r\n# Wavelength 1.54 A\r\n# Detector_distance 1.03165 m\r\n# Beam_xy (387.77, 234.63) pixels\r\n"}
CbfImage(data=d, header=hdr).write(sys.argv[2])
e = EdfImage(data=d, header={"ExposureTime": "2.5", "SampleDistance": "1.03165"})
e.append_frame(data=(3 * d - 1).astype(np.int32))
e.write(sys.argv[3])
`

// sampleSetup copies the sample calibration and mask into dir and the
// sample frame to dir/data/t.tif; it returns the absolute paths of the
// calibration and the frame.
func sampleSetup(t *testing.T, dir string) (cal, tif string) {
	t.Helper()
	for _, name := range []string{"cal.json", "mask.msk"} {
		b, err := os.ReadFile(filepath.Join(sampleDir, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), b)
	}
	b, err := os.ReadFile(filepath.Join(sampleDir, "frames", "run1", "sample_00001.tif"))
	if err != nil {
		t.Fatal(err)
	}
	tif = filepath.Join(dir, "data", "t.tif")
	writeFile(t, tif, b)
	return filepath.Join(dir, "cal.json"), tif
}

// readChi reads a .chi file.
func readChi(t *testing.T, path string) *saxs.ChiFile {
	t.Helper()
	f, err := saxs.ReadChiFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sameFloat reports whether a and b are equal or both NaN.
func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// TestFabioFormatsConverted: saxsdog converts a CBF and a two-frame EDF
// written by fabio from the sample TIFF: the CBF's .chi equals the TIFF's
// byte for byte (same name rule: x.cbf gives x.chi), the EDF gives
// e_00000.chi equal to the TIFF's and e_00001.chi equal to the curve of
// 3 × TIFF − 1 integrated by the library;
// the header's detector distance, which disagrees with the calibration,
// is warned about once for the three frames.
func TestFabioFormatsConverted(t *testing.T) {
	dir := t.TempDir()
	cal, tif := sampleSetup(t, dir)
	data := filepath.Dir(tif)
	runPython(t, []string{"numpy", "fabio"}, fabioWriter, tif, filepath.Join(data, "c.cbf"), filepath.Join(data, "e.edf"))

	code, stdout, stderr := runMain(t, dir, "-c", cal, "--no-cache", "-t", "2", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	want, err := os.ReadFile(filepath.Join(dir, "out", "t.chi"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"c.chi", "e_00000.chi"} {
		got, err := os.ReadFile(filepath.Join(dir, "out", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the TIFF's t.chi", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "e.chi")); err == nil {
		t.Error("a two-frame EDF also gave e.chi")
	}
	// Frame 1 is 3 × frame − 1: its curve, by the library's integrator.
	c, err := saxs.LoadCalibration(cal)
	if err != nil {
		t.Fatal(err)
	}
	ig, err := saxs.New(c)
	if err != nil {
		t.Fatal(err)
	}
	img, err := saxs.ReadImage(tif)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range img.Counts {
		img.Counts[i] = 3*v - 1
	}
	res, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	wantPath := filepath.Join(t.TempDir(), "want.chi")
	if err := ig.WriteChi(res, wantPath); err != nil {
		t.Fatal(err)
	}
	want1, _ := os.ReadFile(wantPath)
	if got, _ := os.ReadFile(filepath.Join(dir, "out", "e_00001.chi")); !bytes.Equal(got, want1) {
		t.Error("e_00001.chi differs from the curve of 3 × TIFF − 1")
	}
	// The sample calibration's distance is 300 mm; both files say 1031.65
	// mm (1.03165 m), a disagreement logged once per run, not per frame.
	n := 0
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "disagreement=\"detector distance 1031.6") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the distance disagreement of the three frames was logged %d times, want once:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, "file=data/c.cbf disagreement=\"beam centre (x 387.77, y 234.63) pixels") {
		t.Errorf("the CBF's beam centre disagreement was not logged:\n%s", stderr)
	}
}

// eigerWriter writes with h5py an Eiger-like master file argv[2] linking
// the data file argv[3] (3 frames: TIFF + k, int32, bitshuffle-LZ4), with
// a pixel_mask flagging rows 60..69, columns 0..9.
const eigerWriter = `
import sys, os, numpy as np, h5py, fabio, bitshuffle.h5 as bsh
d = fabio.open(sys.argv[1]).data.astype(np.int32)
rows, cols = d.shape
with h5py.File(sys.argv[3], "w") as f:
    f.create_dataset("entry/data/data", data=np.stack([d + k for k in range(3)]), chunks=(1, rows, cols),
                     compression=bsh.H5FILTER, compression_opts=(0, bsh.H5_COMPRESS_LZ4))
with h5py.File(sys.argv[2], "w") as m:
    m["entry/data/data_000001"] = h5py.ExternalLink(os.path.basename(sys.argv[3]), "/entry/data/data")
    pm = np.zeros((rows, cols), np.uint32); pm[60:70, 0:10] = 1
    m.create_dataset("entry/instrument/detector/detectorSpecific/pixel_mask", data=pm)
`

// TestEigerConverted: saxsdog converts an Eiger-like master file written
// by h5py (bitshuffle-LZ4) into one .chi per frame, m_master_0000k.chi,
// each equal to the curve of TIFF + k integrated with the calibration
// mask and the detector's pixel mask combined (built here by hand); the
// data file is not converted on its own.
func TestEigerConverted(t *testing.T) {
	dir := t.TempDir()
	calPath, tif := sampleSetup(t, dir)
	data := filepath.Dir(tif)
	runPython(t, []string{"numpy", "fabio", "h5py", "bitshuffle.h5"}, eigerWriter, tif,
		filepath.Join(data, "m_master.h5"), filepath.Join(data, "m_data_000001.h5"))

	code, stdout, stderr := runMain(t, dir, "-c", calPath, "--no-cache", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "detector pixel mask") {
		t.Errorf("the log does not tell that the pixel mask is used:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "m_data_000001.chi")); err == nil {
		t.Error("the Eiger data file was converted on its own")
	}

	cal, err := saxs.LoadCalibration(calPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := saxs.OpenMask(filepath.Join(dir, "mask.msk"))
	if err != nil {
		t.Fatal(err)
	}
	for r := 60; r < 70; r++ {
		for c := 0; c < 10; c++ {
			m.Masked[r*m.Cols+c] = true
		}
	}
	ig, err := saxs.NewWithOptions(cal, saxs.Options{Masks: []*saxs.Mask{m}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := saxs.ReadImage(tif)
	if err != nil {
		t.Fatal(err)
	}
	ref := t.TempDir()
	for k := range 3 {
		frame := &saxs.Image{Rows: img.Rows, Cols: img.Cols, Counts: make([]int32, len(img.Counts))}
		for i, v := range img.Counts {
			frame.Counts[i] = v + int32(k)
		}
		res, err := ig.Integrate(frame)
		if err != nil {
			t.Fatal(err)
		}
		wantPath := filepath.Join(ref, "want.chi")
		if err := ig.WriteChi(res, wantPath); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(wantPath)
		name := "m_master_0000" + strconv.Itoa(k) + ".chi"
		got, err := os.ReadFile(filepath.Join(dir, "out", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from TIFF + %d integrated with the combined mask", name, k)
		}
	}
}

// readBack reads .dat files with numpy.loadtxt and NXcanSAS files with
// h5py: argv holds pairs of kind ("dat" or "sas:<n>" for SASdata n) and
// path; it prints "q I sigma" lines (repr) after a line "== <arg>".
const readBack = `
import sys, numpy as np, h5py
a = sys.argv[1:]
for kind, path in zip(a[0::2], a[1::2]):
    print("==", kind, path)
    if kind == "dat":
        q, i, s = np.loadtxt(path, unpack=True)
    else:
        with h5py.File(path, "r") as f:
            e = f["sasentry01"]
            assert e.attrs["canSAS_class"] in (b"SASentry", "SASentry")
            g = e["sasdata%05d" % int(kind.split(":")[1])]
            q, i, s = g["Q"][()], g["I"][()], g["Idev"][()]
            u = g["Q"].attrs["units"]
            assert u in (b"1/nm", "1/nm"), u
    for r in zip(q, i, s):
        print(" ".join(repr(float(v)) for v in r))
`

// parseReadBack splits the output of readBack into its sections.
func parseReadBack(t *testing.T, out []byte) map[string][][3]float64 {
	t.Helper()
	sec := map[string][][3]float64{}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "== ") {
			f := strings.Fields(line)
			cur = f[1] + " " + filepath.Base(f[2])
			sec[cur] = nil
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("read back: %q", line)
		}
		var row [3]float64
		for i := range row {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				t.Fatal(err)
			}
			row[i] = v
		}
		sec[cur] = append(sec[cur], row)
	}
	return sec
}

// TestFormatDatNXcanSAS: with --format chi,dat,nxcansas, the .dat files
// (numpy.loadtxt) and the NXcanSAS files (h5py; one per input file, one
// SASdata per frame) hold the numbers of the .chi files; a second run with
// -r skips everything, and one whose NXcanSAS file was removed converts
// that input again.
func TestFormatDatNXcanSAS(t *testing.T) {
	dir := t.TempDir()
	cal, tif := sampleSetup(t, dir)
	data := filepath.Dir(tif)
	runPython(t, []string{"numpy", "fabio", "h5py"}, fabioWriter, tif, filepath.Join(data, "c.cbf"), filepath.Join(data, "e.edf"))
	os.Remove(filepath.Join(data, "c.cbf"))

	code, stdout, stderr := runMain(t, dir, "-c", cal, "--no-cache", "--format", "chi,dat,nxcansas", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	out := filepath.Join(dir, "out")
	sec := parseReadBack(t, runPython(t, []string{"numpy", "h5py"}, readBack,
		"dat", filepath.Join(out, "t.dat"), "dat", filepath.Join(out, "e_00000.dat"), "dat", filepath.Join(out, "e_00001.dat"),
		"sas:1", filepath.Join(out, "t.nxcansas.h5"), "sas:1", filepath.Join(out, "e.nxcansas.h5"), "sas:2", filepath.Join(out, "e.nxcansas.h5")))
	for _, tc := range []struct{ chi, key string }{
		{"t.chi", "dat t.dat"}, {"e_00000.chi", "dat e_00000.dat"}, {"e_00001.chi", "dat e_00001.dat"},
		{"t.chi", "sas:1 t.nxcansas.h5"}, {"e_00000.chi", "sas:1 e.nxcansas.h5"}, {"e_00001.chi", "sas:2 e.nxcansas.h5"},
	} {
		c := readChi(t, filepath.Join(out, tc.chi))
		rows := sec[tc.key]
		if len(rows) != c.Len() || len(rows) == 0 {
			t.Errorf("%s: %d rows, %s has %d", tc.key, len(rows), tc.chi, c.Len())
			continue
		}
		for k, r := range rows {
			if !sameFloat(r[0], c.Q[k]) || !sameFloat(r[1], c.I[k]) || !sameFloat(r[2], c.Sigma[k]) {
				t.Errorf("%s row %d: %v, %s has %g %g %g", tc.key, k, r, tc.chi, c.Q[k], c.I[k], c.Sigma[k])
				break
			}
		}
	}

	if b, _ := os.ReadFile(filepath.Join(out, "e_00001.dat")); !bytes.Contains(b, []byte("\n# --> "+filepath.Join("data", "e.edf")+" frame 1 of 2\n")) {
		t.Errorf("e_00001.dat does not name its source frame:\n%.400s", b)
	}
	// Resume: everything is up to date.
	code, stdout, stderr = runMain(t, dir, "-c", cal, "--no-cache", "--format", "chi,dat,nxcansas", "-r", "data")
	if code != ExitOK || !strings.Contains(stdout, "converted 0, skipped 2,") {
		t.Fatalf("resume: exit %d, want 2 skipped\n%s\n%s", code, stdout, stderr)
	}
	if err := os.Remove(filepath.Join(out, "e.nxcansas.h5")); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runMain(t, dir, "-c", cal, "--no-cache", "--format", "chi,dat,nxcansas", "-r", "data")
	if code != ExitOK || !strings.Contains(stdout, "converted 1, skipped 1,") {
		t.Fatalf("resume without e.nxcansas.h5: exit %d, want 1 converted, 1 skipped\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "e.nxcansas.h5")); err != nil {
		t.Error(err)
	}
}

// TestFormatFlag: --format is checked.
func TestFormatFlag(t *testing.T) {
	for _, tc := range []struct {
		arg           string
		dat, nxcansas bool
		ok            bool
	}{
		{"chi", false, false, true}, {"chi,dat", true, false, true}, {"nxcansas,chi", false, true, true},
		{"chi,dat,nxcansas", true, true, true}, {"dat", false, false, false}, {"chi,xml", false, false, false},
	} {
		o, err := parseArgs([]string{"--format", tc.arg, "d"}, &bytes.Buffer{}, &bytes.Buffer{})
		if (err == nil) != tc.ok {
			t.Errorf("--format %s: error %v", tc.arg, err)
			continue
		}
		if err == nil && (o.dat != tc.dat || o.nxcansas != tc.nxcansas) {
			t.Errorf("--format %s: dat %v nxcansas %v", tc.arg, o.dat, o.nxcansas)
		}
	}
}

// overflowWriter writes with h5py an Eiger-like master argv[2] linking the
// data file argv[3]: 3 uint16 frames equal to the TIFF, frame 1 with the
// overflow value 65535 in row 5, columns 40..49 (outside any mask).
const overflowWriter = `
import sys, os, numpy as np, h5py, fabio, bitshuffle.h5 as bsh
d = fabio.open(sys.argv[1]).data.astype(np.uint16)
rows, cols = d.shape
s = np.stack([d, d, d]); s[1, 5, 40:50] = 65535
with h5py.File(sys.argv[3], "w") as f:
    f.create_dataset("entry/data/data", data=s, chunks=(1, rows, cols),
                     compression=bsh.H5FILTER, compression_opts=(0, bsh.H5_COMPRESS_LZ4))
with h5py.File(sys.argv[2], "w") as m:
    m["entry/data/data_000001"] = h5py.ExternalLink(os.path.basename(sys.argv[3]), "/entry/data/data")
`

// TestEigerOverflowMasked: pixels at the overflow value 2^16−1 are masked
// in the frame that has them: that frame's curve equals the TIFF's
// integrated with those pixels added to the mask (built here by hand),
// and the other frames equal the TIFF's plain curve.
func TestEigerOverflowMasked(t *testing.T) {
	dir := t.TempDir()
	calPath, tif := sampleSetup(t, dir)
	data := filepath.Dir(tif)
	runPython(t, []string{"numpy", "fabio", "h5py", "bitshuffle.h5"}, overflowWriter, tif,
		filepath.Join(data, "o_master.h5"), filepath.Join(data, "o_data_000001.h5"))
	code, stdout, stderr := runMain(t, dir, "-c", calPath, "--no-cache", "data")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	cal, err := saxs.LoadCalibration(calPath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := saxs.ReadImage(tif)
	if err != nil {
		t.Fatal(err)
	}
	chi := func(ig *saxs.Integrator) []byte {
		res, err := ig.Integrate(img)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "want.chi")
		if err := ig.WriteChi(res, p); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		return b
	}
	plain, err := saxs.New(cal)
	if err != nil {
		t.Fatal(err)
	}
	m, err := saxs.OpenMask(filepath.Join(dir, "mask.msk"))
	if err != nil {
		t.Fatal(err)
	}
	for c := 40; c < 50; c++ {
		m.Masked[5*m.Cols+c] = true
	}
	masked, err := saxs.NewWithOptions(cal, saxs.Options{Masks: []*saxs.Mask{m}})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range [][]byte{chi(plain), chi(masked), chi(plain)} {
		name := "o_master_0000" + strconv.Itoa(k) + ".chi"
		got, err := os.ReadFile(filepath.Join(dir, "out", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the TIFF's curve with the overflowed pixels masked (frame 1 only)", name)
		}
	}
}
