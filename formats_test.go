package saxs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// python is Debian's interpreter, which has fabio and h5py.
const python = "/usr/bin/python3"

// referenceFrame returns a TIFF frame and its calibration: the reference
// Pilatus frame in ../shared when present, else the bundled sample.
func referenceFrame(t testing.TB) (tif, cal string) {
	t.Helper()
	if fi, err := os.Stat(filepath.Join(sharedDataDir, "buf1_00000.tif")); err == nil && fi.Mode().IsRegular() {
		return filepath.Join(sharedDataDir, "buf1_00000.tif"), filepath.Join(sharedDataDir, "cal.json")
	}
	t.Log(sharedDataDir + " not found; using the bundled sample frame")
	return "testdata/sample/frames/run1/sample_00001.tif", "testdata/sample/cal.json"
}

// referenceIntegrator loads the reference frame (see referenceFrame) and
// the integrator of its calibration.
func referenceIntegrator(t testing.TB) (tif string, ig *Integrator, img *Image) {
	t.Helper()
	tif, calPath := referenceFrame(t)
	cal, err := LoadCalibration(calPath)
	if err != nil {
		t.Fatal(err)
	}
	if ig, err = New(cal); err != nil {
		t.Fatal(err)
	}
	if img, err = ReadImage(tif); err != nil {
		t.Fatal(err)
	}
	return tif, ig, img
}

// runPython runs a Python script with args, skipping the test when the
// interpreter or one of the modules is missing.
func runPython(t testing.TB, modules []string, script string, args ...string) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skip(python + " not found; independent-writer test skipped")
	}
	check := "import " + strings.Join(modules, ", ")
	if out, err := exec.Command(python, "-c", check).CombinedOutput(); err != nil {
		t.Skipf("%s: %s failed (%s); independent-writer test skipped", python, check, bytes.TrimSpace(out))
	}
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python writer failed: %v\n%s", err, out)
	}
}

// fabioWriter writes the TIFF argv[1] with fabio as CBF argv[2] (with a
// Pilatus header) and as a two-image EDF argv[3] (the frame, then the
// frame times 3 minus 1) with ESRF SAXS keys, and writes half the frame
// as a big-endian float32 EDF argv[4] by hand (numpy).
const fabioWriter = `
import sys, numpy as np, fabio
from fabio.cbfimage import CbfImage
from fabio.edfimage import EdfImage
d = fabio.open(sys.argv[1]).data.astype(np.int32)
hdr = {"_array_data.header_convention": "PILATUS_1.2",
       "_array_data.header_contents": "# Pixel_size 172e-6 m x 172e-6 m\r\n# Exposure_time 1.5 s\r\n# Count_cutoff 1048500 counts\r\n# Wavelength 1.5418 A\r\n# Detector_distance 1.03165 m\r\n# Beam_xy (387.77, 234.63) pixels\r\n"}
CbfImage(data=d, header=hdr).write(sys.argv[2])
e = EdfImage(data=d, header={"ExposureTime": "2.5", "WaveLength": "1.5418e-10", "SampleDistance": "1.03165",
                             "Center_1": "387.77", "Center_2": "234.63", "PSize_1": "172e-6", "PSize_2": "172e-6"})
e.append_frame(data=(3 * d - 1).astype(np.int32))
e.write(sys.argv[3])
# fabio writes native byte order only: a big-endian float32 EDF by hand.
f = (d.astype(np.float32) * np.float32(0.5)).astype(">f4")
h = "{\nHeaderID = EH:000001:000000:000000 ;\nImage = 1 ;\nByteOrder = HighByteFirst ;\nDataType = FloatValue ;\nDim_1 = %d ;\nDim_2 = %d ;\nSize = %d ;\n" % (f.shape[1], f.shape[0], f.nbytes)
h = h.ljust(1022) + "}\n"
open(sys.argv[4], "wb").write(h.encode() + f.tobytes())
`

// TestFabioFormatsMatchTIFF: fabio, an independent writer, writes the
// reference frame as CBF and EDF; each decodes equal to the TIFF pixel for
// pixel and integrates to the TIFF's curve.
func TestFabioFormatsMatchTIFF(t *testing.T) {
	tif, calPath := referenceFrame(t)
	dir := t.TempDir()
	cbf, edf, edfF := filepath.Join(dir, "f.cbf"), filepath.Join(dir, "f.edf"), filepath.Join(dir, "float.edf")
	runPython(t, []string{"numpy", "fabio"}, fabioWriter, tif, cbf, edf, edfF)

	want, err := ReadImage(tif)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := LoadCalibration(calPath)
	if err != nil {
		t.Fatal(err)
	}
	ig, err := New(cal)
	if err != nil {
		t.Fatal(err)
	}
	wantRes, err := ig.Integrate(want)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		path   string
		format Format
		frames int
		info   FrameInfo
	}{
		{tif, FormatTIFF, 1, ParsePilatusHeader(want.Description)},
		{cbf, FormatCBF, 1, FrameInfo{ExposureTime: 1.5, Wavelength: 1.5418, DetectorDistance: 1031.65,
			BeamCenter: [2]float64{387.77, 234.63}, HasBeamCenter: true, PixelSize: [2]float64{172e-6, 172e-6}, CountCutoff: 1048500}},
		{edf, FormatEDF, 2, FrameInfo{ExposureTime: 2.5, Wavelength: 1.5418, DetectorDistance: 1031.65,
			BeamCenter: [2]float64{387.77, 234.63}, HasBeamCenter: true, PixelSize: [2]float64{172e-6, 172e-6}}},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			src, err := OpenFrames(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.Format() != tc.format || src.Len() != tc.frames {
				t.Fatalf("format %v with %d frames, want %v with %d", src.Format(), src.Len(), tc.format, tc.frames)
			}
			if !infoClose(src.Info(0), tc.info) {
				t.Errorf("Info = %+v, want %+v", src.Info(0), tc.info)
			}
			var img Image
			if err := src.ReadFrame(0, &img); err != nil {
				t.Fatal(err)
			}
			if d := firstDifference(&img, want, 1, 0); d != "" {
				t.Fatal(d)
			}
			res, err := ig.Integrate(&img)
			if err != nil {
				t.Fatal(err)
			}
			for k := range wantRes.Curves[0].I {
				a, b := res.Curves[0].I[k], wantRes.Curves[0].I[k]
				if a != b && !(a != a && b != b) {
					t.Fatalf("bin %d: I = %g, TIFF gives %g", k, a, b)
				}
			}
			if tc.frames > 1 {
				// Frame 1 is 3·frame 0 − 1, written by fabio.
				if err := src.ReadFrame(1, &img); err != nil {
					t.Fatal(err)
				}
				if d := firstDifference(&img, want, 3, -1); d != "" {
					t.Fatal("frame 1: " + d)
				}
			}
			allocs := testing.AllocsPerRun(3, func() {
				if err := src.ReadFrame(0, &img); err != nil {
					t.Fatal(err)
				}
			})
			// A TIFF frame is read from its file again (opening it allocates
			// a few small objects); the others decode from memory.
			if limit := map[Format]float64{FormatTIFF: 8}[tc.format]; allocs > limit {
				t.Errorf("ReadFrame allocates %v times per frame into a warm image (at most %v)", allocs, limit)
			}
		})
	}
	t.Run("CBF Content-MD5", func(t *testing.T) {
		data, err := os.ReadFile(cbf)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckCBFDigest(data, cbf); err != nil {
			t.Fatalf("fabio's digest: %v", err)
		}
		data[len(data)-200] ^= 1 // a byte of the binary section
		err = CheckCBFDigest(data, cbf)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != cbf || !strings.Contains(err.Error(), "Content-MD5") {
			t.Fatalf("corrupted binary section: %v, want a *FormatError naming Content-MD5", err)
		}
	})
	t.Run("EDF float32 big-endian", func(t *testing.T) {
		src, err := OpenFrames(edfF)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var img Image
		if err := src.ReadFrame(0, &img); err != nil {
			t.Fatal(err)
		}
		if img.Values == nil {
			t.Fatal("float EDF decoded to integer counts")
		}
		if d := firstDifference(&img, want, 0.5, 0); d != "" {
			t.Fatal(d)
		}
	})
}

// infoClose compares two FrameInfos to 1e-9 relative.
func infoClose(a, b FrameInfo) bool {
	near := func(x, y float64) bool { return x == y || (x-y)*(x-y) <= 1e-18*(x*x+y*y) }
	return near(a.ExposureTime, b.ExposureTime) && near(a.Wavelength, b.Wavelength) &&
		near(a.DetectorDistance, b.DetectorDistance) && near(a.BeamCenter[0], b.BeamCenter[0]) &&
		near(a.BeamCenter[1], b.BeamCenter[1]) && a.HasBeamCenter == b.HasBeamCenter &&
		near(a.PixelSize[0], b.PixelSize[0]) && near(a.PixelSize[1], b.PixelSize[1]) && a.CountCutoff == b.CountCutoff
}

// firstDifference describes the first pixel where got differs from
// scale·want + offset, or returns "".
func firstDifference(got, want *Image, scale, offset float64) string {
	if got.Rows != want.Rows || got.Cols != want.Cols {
		return "size " + itoa(got.Rows) + "×" + itoa(got.Cols) + ", want " + itoa(want.Rows) + "×" + itoa(want.Cols)
	}
	for r := 0; r < want.Rows; r++ {
		for c := 0; c < want.Cols; c++ {
			if g, w := got.At(r, c), scale*want.At(r, c)+offset; g != w {
				return "pixel (" + itoa(r) + ", " + itoa(c) + ") = " + ftoa(g) + ", want " + ftoa(w)
			}
		}
	}
	return ""
}

// TestDetectFormat: content decides, the extension only breaks ties.
func TestDetectFormat(t *testing.T) {
	for _, tc := range []struct {
		head, name string
		want       Format
	}{
		{"II*\x00\x08\x00\x00\x00", "x.cbf", FormatTIFF},
		{"MM\x00*\x00\x00\x00\x08", "x", FormatTIFF},
		{"###CBF: VERSION 1.5\r\n", "x.tif", FormatCBF},
		{"data_x\r\n_array_data.data\r\n", "x", FormatCBF},
		{"{\nHeaderID = EH:000001:000000:000000 ;\n", "x.tif", FormatEDF},
		{"{\nByteOrder = LowByteFirst ;\n", "x", FormatEDF},
		{"\x89HDF\r\n\x1a\n\x00", "x.edf", FormatHDF5},
		{strings.Repeat("\x00", 512) + "\x89HDF\r\n\x1a\n", "x", FormatHDF5},
		{"{ \"json\": 1 }", "x.json", FormatUnknown},
		{"", "x.EDF", FormatEDF},
		{"", "x.nxs", FormatHDF5},
		{"", "x.tiff", FormatTIFF},
		{"garbage", "x.dat", FormatUnknown},
	} {
		if got := DetectFormat([]byte(tc.head), tc.name); got != tc.want {
			t.Errorf("DetectFormat(%q, %q) = %v, want %v", tc.head, tc.name, got, tc.want)
		}
	}
}

// TestPilatusHeader reads the values from header lines written here.
func TestPilatusHeader(t *testing.T) {
	fi := ParsePilatusHeader("# Detector: PILATUS 1M\r\n# Pixel_size 172e-6 m x 172e-6 m\r\n# Exposure_time 0.9970000 s\r\n" +
		"# Count_cutoff 1048500 counts\r\n# Wavelength 1.5418 A\r\n# Detector_distance 0.2 m\r\n# Beam_xy (500.00, 600.00) pixels\r\n")
	want := FrameInfo{ExposureTime: 0.997, Wavelength: 1.5418, DetectorDistance: 200, BeamCenter: [2]float64{500, 600},
		HasBeamCenter: true, PixelSize: [2]float64{172e-6, 172e-6}, CountCutoff: 1048500}
	if !infoClose(fi, want) {
		t.Errorf("got %+v, want %+v", fi, want)
	}
}

// TestOpenFramesNotRegular: a folder is refused before any read.
func TestOpenFramesNotRegular(t *testing.T) {
	_, err := OpenFrames(t.TempDir())
	if !errors.Is(err, ErrNotRegular) {
		t.Fatalf("OpenFrames(folder) = %v, want a not-regular-file error", err)
	}
}

func itoa(v int) string     { return strconv.Itoa(v) }
func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// eigerWriter writes, with h5py and bitshuffle's filter, an Eiger-like
// master file argv[2]_master.h5 with two data files reached by external
// links: data_000001 holds frames k = 0..4 = TIFF + k as int32 with
// bitshuffle-LZ4, data_000002 frames 5..9 as uint32 with gzip, pixels
// negative in the TIFF set to 2^32−1 (the overflow marker). The pixel mask
// flags the TIFF's negative pixels and the first 5 pixels of row 0.
const eigerWriter = `
import sys, os, numpy as np, h5py, fabio, bitshuffle.h5 as bsh
tif, out = sys.argv[1], sys.argv[2]
d = fabio.open(tif).data.astype(np.int64)
rows, cols = d.shape
base = os.path.basename(out)
def datafile(name, part, **kw):
    with h5py.File(name, "w") as f:
        f.create_dataset("entry/data/data", data=part, chunks=(1, rows, cols), **kw)
a = np.stack([d + k for k in range(5)]).astype(np.int32)
datafile(out + "_data_000001.h5", a, compression=bsh.H5FILTER, compression_opts=(0, bsh.H5_COMPRESS_LZ4))
b = np.stack([np.where(d < 0, 2**32 - 1, d + k) for k in range(5, 10)]).astype(np.uint32)
datafile(out + "_data_000002.h5", b, compression="gzip")
with h5py.File(out + "_master.h5", "w") as m:
    m["entry/data/data_000001"] = h5py.ExternalLink(base + "_data_000001.h5", "/entry/data/data")
    m["entry/data/data_000002"] = h5py.ExternalLink(base + "_data_000002.h5", "/entry/data/data")
    det = m.create_group("entry/instrument/detector")
    det["count_time"] = 0.5
    det["beam_center_x"] = 387.77
    det["beam_center_y"] = 234.63
    det["detector_distance"] = 1.03165
    det["x_pixel_size"] = 172e-6
    det["y_pixel_size"] = 172e-6
    m["entry/instrument/beam/incident_wavelength"] = 1.5418
    pm = np.zeros((rows, cols), np.uint32); pm[d < 0] = 1; pm[0, :5] = 8
    det.create_dataset("detectorSpecific/pixel_mask", data=pm, compression="gzip")
    det["detectorSpecific/countrate_correction_count_cutoff"] = np.uint32(1048500)
`

// TestEigerHDF5MatchesTIFF: an Eiger-like master and data file pair
// written by h5py with bitshuffle-LZ4 and gzip holds 10 frames that decode
// equal to the TIFF (plus the frame number), with the overflow marker as
// -1, the pixel mask read, and the curves of the TIFF.
func TestEigerHDF5MatchesTIFF(t *testing.T) {
	tif, calPath := referenceFrame(t)
	dir := t.TempDir()
	runPython(t, []string{"numpy", "fabio", "h5py", "bitshuffle.h5"}, eigerWriter, tif, filepath.Join(dir, "eiger"))
	want, err := ReadImage(tif)
	if err != nil {
		t.Fatal(err)
	}
	src, err := OpenFrames(filepath.Join(dir, "eiger_master.h5"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Format() != FormatHDF5 || src.Len() != 10 {
		t.Fatalf("%v with %d frames, want HDF5 with 10", src.Format(), src.Len())
	}
	wantInfo := FrameInfo{ExposureTime: 0.5, Wavelength: 1.5418, DetectorDistance: 1031.65, BeamCenter: [2]float64{387.77, 234.63},
		HasBeamCenter: true, PixelSize: [2]float64{172e-6, 172e-6}, CountCutoff: 1048500}
	if !infoClose(src.Info(3), wantInfo) {
		t.Errorf("Info = %+v, want %+v", src.Info(3), wantInfo)
	}
	pm := src.PixelMask()
	if pm == nil || pm.Rows != want.Rows || pm.Cols != want.Cols {
		t.Fatalf("pixel mask %v", pm)
	}
	for r := 0; r < want.Rows; r++ {
		for c := 0; c < want.Cols; c++ {
			if w := want.At(r, c) < 0 || r == 0 && c < 5; pm.At(r, c) != w {
				t.Fatalf("pixel mask (%d, %d) = %v, want %v", r, c, pm.At(r, c), w)
			}
		}
	}
	var img Image
	for k := 0; k < 10; k++ {
		if err := src.ReadFrame(k, &img); err != nil {
			t.Fatal(err)
		}
		if img.Rows != want.Rows || img.Cols != want.Cols || img.Counts == nil {
			t.Fatalf("frame %d: %d×%d, counts %v", k, img.Rows, img.Cols, img.Counts != nil)
		}
		for j, w := range want.Counts {
			g := img.Counts[j]
			exp := w + int32(k)
			if k >= 5 && w < 0 {
				exp = -1 // overflow marker
			}
			if g != exp {
				t.Fatalf("frame %d pixel %d = %d, want %d", k, j, g, exp)
			}
		}
	}
	// Frames 1–2 (bitshuffle-LZ4) and 6–7 (gzip), alternating, so that each
	// read decodes its chunk (no cache hit). Inflating allocates the
	// Huffman tables of each dynamic block (klauspost/compress/flate,
	// about 10 per frame); bitshuffle-LZ4 allocates nothing.
	for _, tc := range []struct {
		first int
		limit float64
	}{{1, 0}, {6, 64}} {
		run := 0
		allocs := testing.AllocsPerRun(4, func() {
			run++
			if err := src.ReadFrame(tc.first+run%2, &img); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > tc.limit {
			t.Errorf("frames %d–%d: %.0f allocations per frame into a warm image (at most %v)", tc.first, tc.first+1, allocs, tc.limit)
		}
	}

	// Frame 0 integrates to the TIFF's curve, and so does frame 5 minus
	// 5 with the calibration mask combined with the pixel mask.
	cal, err := LoadCalibration(calPath)
	if err != nil {
		t.Fatal(err)
	}
	calMask, err := OpenMask(cal.MaskPath(0))
	if err != nil {
		t.Fatal(err)
	}
	combined, err := CombineMasks(calMask, pm)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Masks: []*Mask{combined}}
	ig, err := NewWithOptions(cal, opt)
	if err != nil {
		t.Fatal(err)
	}
	wantRes, err := ig.Integrate(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{0, 5} {
		if err := src.ReadFrame(k, &img); err != nil {
			t.Fatal(err)
		}
		for j := range img.Counts {
			if !combined.Masked[j] {
				img.Counts[j] -= int32(k)
			}
		}
		res, err := ig.Integrate(&img)
		if err != nil {
			t.Fatal(err)
		}
		for b := range wantRes.Curves[0].I {
			x, y := res.Curves[0].I[b], wantRes.Curves[0].I[b]
			if x != y && !(x != x && y != y) {
				t.Fatalf("frame %d bin %d: I = %g, TIFF gives %g", k, b, x, y)
			}
		}
	}
}

// TestEigerMissingDataFile: a master file whose data file is not there
// (yet) gives an error matching fs.ErrNotExist.
func TestEigerMissingDataFile(t *testing.T) {
	tif, _ := referenceFrame(t)
	dir := t.TempDir()
	runPython(t, []string{"numpy", "fabio", "h5py", "bitshuffle.h5"}, eigerWriter, tif, filepath.Join(dir, "eiger"))
	if err := os.Remove(filepath.Join(dir, "eiger_data_000002.h5")); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFrames(filepath.Join(dir, "eiger_master.h5"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want one matching fs.ErrNotExist", err)
	}
}

// TestFramePath: multi-frame outputs get a 5-digit frame number.
func TestFramePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		i, n int
		want string
	}{
		{"d/run.chi", 0, 1, "d/run.chi"},
		{"d/run.chi", 7, 10, "d/run_00007.chi"},
		{"d/run.x.dat", 123456, 200000, "d/run.x_123456.dat"},
	} {
		if got := FramePath(tc.path, tc.i, tc.n); got != tc.want {
			t.Errorf("FramePath(%q, %d, %d) = %q, want %q", tc.path, tc.i, tc.n, got, tc.want)
		}
	}
}

// TestDisagreements: header values against the calibration of the
// bundled sample (λ 1.54 Å, 300 mm, BeamCenter [70.4, 60.7], 128 rows).
func TestDisagreements(t *testing.T) {
	cal, err := LoadCalibration("testdata/sample/cal.json")
	if err != nil {
		t.Fatal(err)
	}
	agree := FrameInfo{Wavelength: 1.5401, DetectorDistance: 301, BeamCenter: [2]float64{61, 128 - 70.4 + 1}, HasBeamCenter: true}
	if d := agree.Disagreements(cal); d != nil {
		t.Errorf("agreeing header: %q", d)
	}
	if d := (FrameInfo{}).Disagreements(cal); d != nil {
		t.Errorf("empty header: %q", d)
	}
	bad := FrameInfo{Wavelength: 1.0, DetectorDistance: 1000, BeamCenter: [2]float64{70.4, 60.7}, HasBeamCenter: true}
	d := bad.Disagreements(cal)
	if len(d) != 3 || !strings.Contains(d[0], "wavelength") || !strings.Contains(d[1], "distance") || !strings.Contains(d[2], "beam centre") {
		t.Errorf("disagreeing header: %q", d)
	}
}
