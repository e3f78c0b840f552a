package saxsdogcli

// Fixtures of the saxsdog command tests: a small calibration with a fit2d
// mask and constant frames, shared with the engine's tests in
// internal/batch through package testframes.

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"testing"
	"time"

	"github.com/saxsdog/saxs/internal/testframes"
)

// The fixtures shared with the other saxsdog tests (package testframes).
const (
	testRows = testframes.Rows
	testCols = testframes.Cols
)

var (
	writeFile  = testframes.WriteFile
	flatCal    = testframes.FlatCal
	frameBytes = testframes.FrameBytes
	writeFrame = testframes.WriteFrame
	checkChi   = testframes.CheckChi
	writeTree  = testframes.WriteTree
	tree       = testframes.Tree()
	treeChi    = testframes.TreeChi()
)

const (
	testWait = 20 * time.Second // upper bound of every wait (a loaded machine)
)

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
