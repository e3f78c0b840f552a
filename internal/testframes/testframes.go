// Package testframes holds the fixtures that the tests of the saxsdog
// engine (internal/batch) and of the saxsdog command (internal/saxsdogcli)
// share: a small detector (Rows × Cols) with fit2d masks, a 0.3.0
// calibration of it, constant frames, a folder tree of them, and a check
// of the .chi files they give; and a calibrant frame of known geometry
// that the tests of saxscalib (internal/calibcli) and of the web leash's
// Calibrate tab (network/web) share; and a Pilatus 1M calibration whose
// operator is slow to build, for the server's measurements (network,
// network/interop). It is imported by tests only.
package testframes

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/saxsdog/saxs"
)

// The size of the test detector.
const (
	Rows = 40
	Cols = 50
)

// WriteFile writes data to path, creating its folder.
func WriteFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// WriteMask writes a fit2d mask of the test size with the block × block
// pixels at the origin masked.
func WriteMask(tb testing.TB, path string, block int) {
	tb.Helper()
	m := &saxs.Mask{Rows: Rows, Cols: Cols, Masked: make([]bool, Rows*Cols)}
	for r := 0; r < block; r++ {
		for c := 0; c < block; c++ {
			m.Masked[r*Cols+c] = true
		}
	}
	var b bytes.Buffer
	if err := saxs.EncodeFit2DMask(&b, m); err != nil {
		tb.Fatal(err)
	}
	WriteFile(tb, path, b.Bytes())
}

// FlatCal writes a 0.3.0 calibration of the test detector with mask.msk
// into dir and returns its path.
func FlatCal(tb testing.TB, dir string) string {
	tb.Helper()
	WriteMask(tb, filepath.Join(dir, "mask.msk"), 5)
	p := filepath.Join(dir, "cal.json")
	WriteFile(tb, p, []byte(fmt.Sprintf(`{
  "Title": "batch test",
  "Imagesize": [%d, %d],
  "BeamCenter": [20.3, 24.7],
  "DedectorDistanceMM": 100,
  "PixelSizeMicroM": [172],
  "Oversampling": 2,
  "PixelPerRadialElement": 1,
  "Wavelength": 1.54,
  "Tilt": {"TiltRotDeg": 0, "TiltAngleDeg": 0},
  "MaskFile": "mask.msk"
}`, Rows, Cols)))
	return p
}

// FrameBytes encodes a constant rows × cols Counts frame as TIFF.
func FrameBytes(tb testing.TB, rows, cols int, v int32) []byte {
	tb.Helper()
	img := &saxs.Image{Rows: rows, Cols: cols, Counts: make([]int32, rows*cols)}
	for i := range img.Counts {
		img.Counts[i] = v
	}
	var b bytes.Buffer
	if err := saxs.EncodeTIFF(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// WriteFrame writes a constant frame of the test size.
func WriteFrame(tb testing.TB, path string, v int32) {
	tb.Helper()
	WriteFile(tb, path, FrameBytes(tb, Rows, Cols, v))
}

// CheckChi checks that path is a .chi file whose intensities are all v
// (or NaN for empty bins), with at least one finite bin: the closed form
// of a constant frame.
func CheckChi(tb testing.TB, path string, v float64) {
	tb.Helper()
	f, err := saxs.ReadChiFile(path)
	if err != nil {
		tb.Errorf("reading output: %v", err)
		return
	}
	finite := 0
	for k, I := range f.I {
		if math.IsNaN(I) {
			continue
		}
		finite++
		if I != v {
			tb.Errorf("%s: I[%d] = %v, want %v", path, k, I, v)
			return
		}
	}
	if finite == 0 {
		tb.Errorf("%s: no finite bin", path)
	}
}

// Tree returns a set of frames below a root: relative path -> constant
// value.
func Tree() map[string]int32 {
	return map[string]int32{
		"a/b/x.tif":   3,
		"a/b/y.TIF":   4,
		"a/z.tiff":    5,
		"top.tif":     6,
		"c/deep.TIFF": 7,
	}
}

// TreeChi returns the .chi path (relative to the output folder) of each
// frame of Tree.
func TreeChi() map[string]string {
	return map[string]string{
		"a/b/x.tif":   "a/b/x.chi",
		"a/b/y.TIF":   "a/b/y.chi",
		"a/z.tiff":    "a/z.chi",
		"top.tif":     "top.chi",
		"c/deep.TIFF": "c/deep.chi",
	}
}

// WriteTree writes the frames of Tree below root, and files that are not
// frames (other extensions, a name merely ending in "tif").
func WriteTree(tb testing.TB, root string) {
	tb.Helper()
	for rel, v := range Tree() {
		WriteFrame(tb, filepath.Join(root, rel), v)
	}
	WriteFile(tb, filepath.Join(root, "a", "notes.txt"), []byte("hello"))
	WriteFile(tb, filepath.Join(root, "a", "motif"), []byte("not a frame"))
	WriteFile(tb, filepath.Join(root, "a", "x.tif.bak"), []byte("not a frame"))
}

// CheckSVG checks that path is a well-formed XML document whose root is
// an <svg> element.
func CheckSVG(tb testing.TB, path string) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Error(err)
		return
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Errorf("%s: not XML: %v", path, err)
			return
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		tb.Errorf("%s: root element %q, want svg", path, root)
	}
}

// DecodePNG decodes the PNG at path and checks that it has the size of a
// test frame.
func DecodePNG(tb testing.TB, path string) image.Image {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if b := m.Bounds(); b.Dx() != Cols || b.Dy() != Rows {
		tb.Fatalf("%s: %d × %d pixels, want %d × %d", path, b.Dx(), b.Dy(), Cols, Rows)
	}
	return m
}

// IsMagenta reports whether the colour is the masked-pixel colour of the
// frame pictures.
func IsMagenta(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r == 0xffff && g == 0 && b == 0xffff
}
