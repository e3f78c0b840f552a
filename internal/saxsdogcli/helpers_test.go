package saxsdogcli

// Fixtures of the saxsdog command tests: a small calibration with a fit2d
// mask and constant frames (the engine's tests in internal/batch have
// their own).

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
	"time"

	"github.com/saxsdog/saxs"
)

const (
	testRows = 40
	testCols = 50
	testWait = 20 * time.Second // upper bound of every wait (a loaded machine)
)

// writeMask writes a fit2d mask of the test size with a masked block.
func writeMask(t *testing.T, path string, block int) {
	t.Helper()
	m := &saxs.Mask{Rows: testRows, Cols: testCols, Masked: make([]bool, testRows*testCols)}
	for r := 0; r < block; r++ {
		for c := 0; c < block; c++ {
			m.Masked[r*testCols+c] = true
		}
	}
	var b bytes.Buffer
	if err := saxs.EncodeFit2DMask(&b, m); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b.Bytes())
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flatCal writes a 0.3.0 calibration with mask.msk into dir and returns its
// path.
func flatCal(t *testing.T, dir string) string {
	t.Helper()
	writeMask(t, filepath.Join(dir, "mask.msk"), 5)
	p := filepath.Join(dir, "cal.json")
	writeFile(t, p, []byte(fmt.Sprintf(`{
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
}`, testRows, testCols)))
	return p
}

// frameBytes encodes a constant rows × cols Counts frame.
func frameBytes(t *testing.T, rows, cols int, v int32) []byte {
	t.Helper()
	img := &saxs.Image{Rows: rows, Cols: cols, Counts: make([]int32, rows*cols)}
	for i := range img.Counts {
		img.Counts[i] = v
	}
	var b bytes.Buffer
	if err := saxs.EncodeTIFF(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeFrame writes a constant frame of the test size.
func writeFrame(t *testing.T, path string, v int32) {
	t.Helper()
	writeFile(t, path, frameBytes(t, testRows, testCols, v))
}

// checkChi checks that path is a .chi file whose intensities are all v
// (or NaN for empty bins), with at least one finite bin.
func checkChi(t *testing.T, path string, v float64) {
	t.Helper()
	f, err := saxs.ReadChiFile(path)
	if err != nil {
		t.Errorf("reading output: %v", err)
		return
	}
	finite := 0
	for k, I := range f.I {
		if math.IsNaN(I) {
			continue
		}
		finite++
		if I != v {
			t.Errorf("%s: I[%d] = %v, want %v", path, k, I, v)
			return
		}
	}
	if finite == 0 {
		t.Errorf("%s: no finite bin", path)
	}
}

// tree is a set of frames below a root: relative path -> constant value.
var tree = map[string]int32{
	"a/b/x.tif":   3,
	"a/b/y.TIF":   4,
	"a/z.tiff":    5,
	"top.tif":     6,
	"c/deep.TIFF": 7,
}

// treeChi is the .chi path (relative to the output folder) of tree's frames.
var treeChi = map[string]string{
	"a/b/x.tif":   "a/b/x.chi",
	"a/b/y.TIF":   "a/b/y.chi",
	"a/z.tiff":    "a/z.chi",
	"top.tif":     "top.chi",
	"c/deep.TIFF": "c/deep.chi",
}

func writeTree(t *testing.T, root string) {
	t.Helper()
	for rel, v := range tree {
		writeFrame(t, filepath.Join(root, rel), v)
	}
	// Not frames: other extensions, a name merely ending in "tif".
	writeFile(t, filepath.Join(root, "a", "notes.txt"), []byte("hello"))
	writeFile(t, filepath.Join(root, "a", "motif"), []byte("not a frame"))
	writeFile(t, filepath.Join(root, "a", "x.tif.bak"), []byte("not a frame"))
}

// checkSVG checks that path is a well-formed XML document whose root is
// an <svg> element.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
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
			t.Errorf("%s: not XML: %v", path, err)
			return
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", path, root)
	}
}

// decodePNG decodes the PNG at path and checks that it has the size of a
// test frame.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := m.Bounds(); b.Dx() != testCols || b.Dy() != testRows {
		t.Fatalf("%s: %d × %d pixels, want %d × %d", path, b.Dx(), b.Dy(), testCols, testRows)
	}
	return m
}

// isMagenta reports whether the colour is the masked-pixel colour of the
// frame pictures.
func isMagenta(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r == 0xffff && g == 0 && b == 0xffff
}
