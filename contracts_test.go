package saxs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chiBytes integrates img with ig into a .chi file and returns its content.
func chiBytes(t *testing.T, ig *Integrator, img *Image) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.chi")
	require.NoError(t, ig.IntegrateChi(img, path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// The integrator keeps a deep copy of the calibration: changing the
// caller's calibration after New, through any of its fields, slices or
// pointers, changes neither the curves nor the .chi header.
func TestIntegratorImmutableAfterNew(t *testing.T) {
	cal, err := LoadCalibration("testdata/sample/cal.json")
	require.NoError(t, err)
	img, err := ReadImage("testdata/sample/frames/run1/sample_00001.tif")
	require.NoError(t, err)
	ig, err := New(cal)
	require.NoError(t, err)
	before := chiBytes(t, ig, img)

	// Line 1 is the file as written: Wavelength 1.54, pixel 172.0.
	var hdr map[string]any
	line1, _, _ := bytes.Cut(before, []byte("\n"))
	require.NoError(t, json.Unmarshal(line1, &hdr))
	assert.Equal(t, 1.54, hdr["Wavelength"])
	assert.Contains(t, string(line1), `"PixelSizeMicroM": [172.0]`)

	cal.Wavelength = 0.5
	cal.Geometry.PixelSizeMicroM[0] = 75
	cal.Geometry.BeamCenter = [2]float64{1, 1}
	cal.Masks[0].Oversampling = 1
	cal.Masks[0].MaskFile = "elsewhere.msk"
	cal.PolarizationCorrection.Fraction = 0.1
	cal.Title = "changed"

	assert.Equal(t, string(before), string(chiBytes(t, ig, img)), "output changed after the caller's calibration changed")

	// Calibration returns a copy: changing it changes nothing either.
	c := ig.Calibration()
	assert.Equal(t, 1.54, c.Wavelength)
	assert.Equal(t, 172.0, c.Geometry.PixelSizeMicroM[0])
	c.Geometry.PixelSizeMicroM[0] = 10
	c.PolarizationCorrection.Angle = 45
	c.Masks[0].QStop = 3
	assert.Equal(t, 172.0, ig.Calibration().Geometry.PixelSizeMicroM[0])
	assert.Equal(t, 0.0, ig.Calibration().PolarizationCorrection.Angle)
	assert.Equal(t, string(before), string(chiBytes(t, ig, img)))
}

// A calibration changed in code before New writes its current values in
// the .chi header, not the file's.
func TestChiHeaderFollowsChangedCalibration(t *testing.T) {
	cal, err := LoadCalibration("testdata/sample/cal.json")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, WriteChi(&b, cal, &Curve{}))
	assert.Contains(t, b.String(), `"Wavelength": 1.54`)
	assert.Contains(t, b.String(), `"DedectorDistanceMM": 300.0`, "unchanged: the file as written")

	cal.Wavelength = 0.75
	b.Reset()
	require.NoError(t, WriteChi(&b, cal, &Curve{}))
	line1, _, _ := strings.Cut(b.String(), "\n")
	var hdr map[string]any
	require.NoError(t, json.Unmarshal([]byte(line1), &hdr))
	assert.Equal(t, 0.75, hdr["Wavelength"])
	assert.Equal(t, 300.0, hdr["DedectorDistanceMM"], "0.3.0 layout kept")
	assert.NotContains(t, hdr, "Geometry")

	// JSON returns a copy.
	j := cal.JSON().(map[string]any)
	j["Wavelength"] = "x"
	assert.NotEqual(t, "x", cal.JSON().(map[string]any)["Wavelength"])
}

// Out-of-range indices panic, as in gonum's mat; in-range ones return the
// element at that row and column.
func TestIndexContracts(t *testing.T) {
	img := &Image{Rows: 2, Cols: 3, Counts: []int32{0, 1, 2, 10, 11, 12}}
	assert.Equal(t, 12.0, img.At(1, 2))
	assert.Equal(t, 2.0, img.At(0, 2))
	fimg := &Image{Rows: 2, Cols: 3, Values: []float64{0, 1, 2, 10, 11, 12}}
	assert.Equal(t, 10.0, fimg.At(1, 0))
	for _, rc := range [][2]int{{0, 3}, {2, 0}, {-1, 0}, {0, -1}, {1, 3}} {
		require.Panics(t, func() { img.At(rc[0], rc[1]) }, "Image.At(%d, %d)", rc[0], rc[1])
		require.Panics(t, func() { fimg.At(rc[0], rc[1]) }, "Image.At(%d, %d)", rc[0], rc[1])
	}

	m := &Mask{Rows: 2, Cols: 3, Masked: []bool{false, false, true, false, false, false}}
	assert.True(t, m.At(0, 2))
	require.Panics(t, func() { m.At(0, 3) })
	require.Panics(t, func() { m.At(2, 0) })

	cal, mask := synthetic(t, 2)
	ig := build(t, cal, mask, Options{})
	require.Equal(t, 1, ig.NumCurves())
	op := ig.Operator(0)
	require.Panics(t, func() { ig.Operator(1) })
	require.Panics(t, func() { ig.Operator(-1) })
	pixels, bins := op.Dims()
	assert.Equal(t, 61*83, pixels)
	require.NotPanics(t, func() { op.At(pixels-1, bins-1); op.Area(bins - 1) })
	require.Panics(t, func() { op.At(pixels, 0) })
	require.Panics(t, func() { op.At(0, bins) })
	require.Panics(t, func() { op.At(-1, 0) })
	require.Panics(t, func() { op.Area(bins) })
	require.Panics(t, func() { op.Area(-1) })
}

// tiffBytes encodes img as a TIFF; with compression != 0 the Compression
// tag (the fourth IFD entry EncodeTIFF writes) is set to it.
func tiffBytes(t *testing.T, img *Image, compression uint16) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, EncodeTIFF(&b, img))
	d := b.Bytes()
	if compression != 0 {
		const entry = 8 + 2 + 12*3
		require.Equal(t, uint16(tagCompression), binary.LittleEndian.Uint16(d[entry:]))
		binary.LittleEndian.PutUint16(d[entry+8:], compression)
	}
	return d
}

// writeCalibration writes a 0.3.0 calibration of a rows×cols detector
// whose MaskFile is mask, in dir.
func writeCalibration(t *testing.T, dir string, rows, cols int, mask string) string {
	t.Helper()
	cal := fmt.Sprintf(`{"Tilt": {"TiltAngleDeg": 0, "TiltRotDeg": 0}, "DedectorDistanceMM": 300,
		"BeamCenter": [2, 3], "Imagesize": [%d, %d], "PixelSizeMicroM": [172], "MaskFile": %q,
		"Oversampling": 2, "PixelPerRadialElement": 1, "Wavelength": 1.54}`, rows, cols, mask)
	p := filepath.Join(dir, "cal.json")
	require.NoError(t, os.WriteFile(p, []byte(cal), 0o644))
	return p
}

// errors.Is and errors.As reach the cause through every layer: reader,
// mask, calibration, New.
func TestErrorChains(t *testing.T) {
	dir := t.TempDir()
	img := &Image{Rows: 4, Cols: 5, Counts: make([]int32, 20)}

	// A missing mask named by a calibration: fs.ErrNotExist from New.
	cal, err := LoadCalibration(writeCalibration(t, dir, 4, 5, "missing.msk"))
	require.NoError(t, err)
	_, err = New(cal)
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, filepath.Join(dir, "missing.msk"), pe.Path)

	// A compressed TIFF: *FormatError with an *UnsupportedError cause, from
	// ReadImage, from OpenMask and from New through the calibration.
	lzw := filepath.Join(dir, "lzw.tif")
	require.NoError(t, os.WriteFile(lzw, tiffBytes(t, img, 5), 0o644))
	_, err = ReadImage(lzw)
	var fe *FormatError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, lzw, fe.File)
	var ue *UnsupportedError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, ue.Feature, "Compression 5")
	assert.Contains(t, err.Error(), "Compression 5 (LZW)")
	cal, err = LoadCalibration(writeCalibration(t, dir, 4, 5, "lzw.tif"))
	require.NoError(t, err)
	_, err = New(cal)
	require.ErrorAs(t, err, &ue)
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, lzw, fe.File)
	var r ImageReader
	require.ErrorAs(t, r.ReadFile(lzw, new(Image)), &ue)

	// A truncated TIFF: *FormatError, no UnsupportedError.
	short := filepath.Join(dir, "short.tif")
	require.NoError(t, os.WriteFile(short, tiffBytes(t, img, 0)[:60], 0o644))
	_, err = ReadImage(short)
	require.ErrorAs(t, err, &fe)
	assert.False(t, errors.As(err, &ue))

	// A broken PNG mask: the image/png error is the cause.
	png := filepath.Join(dir, "bad.png")
	require.NoError(t, os.WriteFile(png, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 40)...), 0o644))
	_, err = OpenMask(png)
	require.ErrorAs(t, err, &fe)
	require.NotNil(t, fe.Err)
	assert.Equal(t, fe.Err, errors.Unwrap(fe))

	// Invalid JSON: *CalibrationError whose cause is the *json.SyntaxError.
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("{\n \"Title\": x}"), 0o644))
	_, err = LoadCalibration(bad)
	var ce *CalibrationError
	require.ErrorAs(t, err, &ce)
	var se *json.SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Contains(t, err.Error(), "line 2")

	// A frame of the wrong size: *SizeError from Integrate.
	cal, m := synthetic(t, 1)
	ig := build(t, cal, m, Options{})
	_, err = ig.Integrate(img)
	var sz *SizeError
	require.ErrorAs(t, err, &sz)
	assert.Equal(t, [4]int{4, 5, 61, 83}, [4]int{sz.Rows, sz.Cols, sz.WantRows, sz.WantCols})
}

// An empty qStart/qStop range is reported once by Warnings and gives NaN
// integral parameters, never a silent 0.
func TestEmptyParameterRangeWarning(t *testing.T) {
	for _, tc := range []struct {
		name          string
		qStart, qStop float64
		empty         bool
	}{
		{"defaults 0, 0", 0, 0, true},
		{"beyond the curve", 100, 200, true},
		{"reversed", 1, 0.1, true},
		{"inside", 0.1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cal, m := synthetic(t, 2)
			cal.Masks[0].QStart, cal.Masks[0].QStop = tc.qStart, tc.qStop
			ig := build(t, cal, m, Options{})
			img := countsImage(61, 83, m, func(r, c int) int32 { return 10 })
			res, err := ig.Integrate(img)
			require.NoError(t, err)
			p := res.Curves[0].Params
			w := ig.Warnings()
			if !tc.empty {
				assert.Empty(t, w)
				// A flat image of 10 counts: I0 = 10·dq·(non-empty bins with
				// 0.1 ≤ q < 1).
				c := res.Curves[0]
				n := 0
				for k, q := range c.Q {
					if q >= 0.1 && q < 1 && !math.IsNaN(c.I[k]) {
						n++
					}
				}
				require.Greater(t, n, 10)
				assert.InDelta(t, 10*float64(n)*(c.Q[1]-c.Q[0]), p.I0, 1e-9)
				return
			}
			require.Len(t, w, 1)
			assert.Contains(t, w[0], "synthetic.msk")
			assert.Contains(t, w[0], fmt.Sprintf("qStart %g to qStop %g", tc.qStart, tc.qStop))
			assert.True(t, math.IsNaN(p.I0) && math.IsNaN(p.I1) && math.IsNaN(p.I2), "%+v", p)
			w[0] = "changed"
			assert.NotEqual(t, "changed", ig.Warnings()[0], "Warnings returns a copy")
		})
	}
}
