package render

import (
	"bytes"
	"image/png"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saxsdog/saxs"
)

// TestSampleFrame renders the curve and the frame of a synthetic sample
// frame integrated by the real pipeline.
func TestSampleFrame(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "sample")
	cal, err := saxs.LoadCalibration(filepath.Join(dir, "cal.json"))
	if err != nil {
		t.Fatal(err)
	}
	ig, err := saxs.New(cal)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "frames", "run1", "sample_00001.tif")
	img, err := saxs.ReadImage(name)
	if err != nil {
		t.Fatal(err)
	}
	curves, err := ig.IntegrateError(img)
	if err != nil {
		t.Fatal(err)
	}
	var svg bytes.Buffer
	if err := CurveSVG(&svg, &curves[0], filepath.Base(name)); err != nil {
		t.Fatal(err)
	}
	text := parseSVG(t, svg.Bytes())
	if !strings.Contains(text, "sample_00001.tif") || strings.Contains(text, NoDataNote) {
		t.Errorf("unexpected SVG text:\n%s", text)
	}

	mask, err := saxs.OpenMask(filepath.Join(dir, "mask.msk"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := FramePNG(&buf, img, mask); err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := m.Bounds(); b.Dx() != img.Cols || b.Dy() != img.Rows {
		t.Fatalf("PNG is %v, frame %d × %d", b, img.Cols, img.Rows)
	}
	for i, masked := range mask.Masked {
		if masked {
			if got := rgba(m.At(i%img.Cols, i/img.Cols)); got != maskColor {
				t.Fatalf("masked pixel %d has colour %v", i, got)
			}
			break
		}
	}
}
