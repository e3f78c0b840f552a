package saxs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileTimeout bounds each hostile case: a case that has not returned by
// then hangs, and fails the test instead of hanging it.
const hostileTimeout = 20 * time.Second

// hostileAllocCeiling bounds the bytes a hostile case may allocate.
const hostileAllocCeiling = 256 << 20

// runBounded runs f on its own goroutine and fails t if f panics, does not
// return within hostileTimeout, or allocates more than ceiling bytes.
// It returns f's error.
func runBounded(t *testing.T, ceiling uint64, f func() error) error {
	t.Helper()
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panic: p}
			}
		}()
		done <- result{err: f()}
	}()
	timer := time.NewTimer(hostileTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		runtime.ReadMemStats(&after)
		if r.panic != nil {
			t.Fatalf("panic: %v", r.panic)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > ceiling {
			t.Errorf("allocated %d MiB, ceiling %d MiB", n>>20, ceiling>>20)
		}
		return r.err
	case <-timer.C:
		t.Fatalf("did not return within %v", hostileTimeout)
	}
	return nil
}

// sampleCalibration returns the decoded JSON of testdata/sample/cal.json
// (0.3.0 layout, 128×160 detector).
func sampleCalibration(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/sample/cal.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

// Calibrations that pass the schema but whose geometry or bins are not
// representable, or whose curves would be meaningless, are refused with a
// *CalibrationError naming the JSON path; none panics, hangs or allocates
// without bound.
func TestHostileCalibrations(t *testing.T) {
	cases := []struct {
		name string
		edit func(m map[string]any)
		path string // JSON path the error names
	}{
		{"tiny radial element", func(m map[string]any) { m["PixelPerRadialElement"] = 1e-17 }, "/PixelPerRadialElement"},
		{"huge pixel", func(m map[string]any) { m["PixelSizeMicroM"] = []any{1e300} }, "/PixelSizeMicroM/0"},
		{"huge distance", func(m map[string]any) { m["DedectorDistanceMM"] = 1e308 }, "/DedectorDistanceMM"},
		{"subnormal wavelength", func(m map[string]any) { m["Wavelength"] = 1e-310 }, "/Wavelength"},
		{"far beam centre", func(m map[string]any) { m["BeamCenter"] = []any{1e19, 0} }, "/BeamCenter/0"},
		{"huge wavelength", func(m map[string]any) { m["Wavelength"] = 1e300 }, "/Wavelength"},
		{"radial bins to 1e308", func(m map[string]any) {
			m["RadialBins"] = map[string]any{"Start": 0, "Stop": 1e308, "Count": 65000}
		}, "/RadialBins/Stop"},
		{"radial bins to 5e-324", func(m map[string]any) {
			m["RadialBins"] = map[string]any{"Start": 0, "Stop": 5e-324, "Count": 65000}
		}, "/RadialBins"},
		{"radial bins beyond the detector", func(m map[string]any) {
			m["RadialBins"] = map[string]any{"Start": 5, "Stop": 6, "Count": 10}
		}, "/RadialBins/Start"},
		{"beam on the only sub-pixel", func(m map[string]any) {
			m["Imagesize"] = []any{1, 1}
			m["BeamCenter"] = []any{0.5, 0.5}
			m["Oversampling"] = 1
		}, ""},
		{"too many pixels", func(m map[string]any) { m["Imagesize"] = []any{65536, 65536} }, "/Imagesize"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := sampleCalibration(t)
			tc.edit(m)
			data, err := json.Marshal(m)
			require.NoError(t, err)
			err = runBounded(t, hostileAllocCeiling, func() error {
				cal, err := ParseCalibration(data, "cal.json")
				if err != nil {
					return err
				}
				cal.SetDir("testdata/sample")
				_, err = New(cal)
				return err
			})
			require.Error(t, err)
			var ce *CalibrationError
			require.ErrorAs(t, err, &ce, "%v", err)
			want := tc.path
			if want == "" {
				want = "/"
			}
			paths := calibrationErrorPaths(err)
			assert.Contains(t, paths, want, "%v", err)
		})
	}
}

// calibrationErrorPaths lists the JSON paths of the CalibrationErrors in
// err, which may be joined.
func calibrationErrorPaths(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if ce, ok := err.(*CalibrationError); ok {
			p := ce.Path
			if p == "" {
				p = "/"
			}
			out = append(out, p)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if e := errors.Unwrap(err); e != nil {
			walk(e)
		}
	}
	walk(err)
	return out
}

// NewContext stops building when its context is cancelled and returns the
// context's error.
func TestNewContextCancelled(t *testing.T) {
	cal, m := synthetic(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := runBounded(t, hostileAllocCeiling, func() error {
		_, err := NewContext(ctx, cal, Options{Masks: []*Mask{m}})
		return err
	})
	require.ErrorIs(t, err, context.Canceled)

	// Cancelled while the operator is being built: a 4096×4096 detector at
	// oversampling 15 takes far longer than the cancellation delay.
	big := &Calibration{
		Geometry: Geometry{BeamCenter: [2]float64{2000, 2000}, DetectorDistanceMM: 1000,
			Imagesize: [2]int{4096, 4096}, PixelSizeMicroM: []float64{75}},
		Wavelength: 1.54,
		Masks:      []MaskConfig{{MaskFile: "none", Oversampling: 15, PixelPerRadialElement: 1}},
	}
	mask := &Mask{Rows: 4096, Cols: 4096, Masked: make([]bool, 4096*4096)}
	ctx, cancel = context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		<-started
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	err = runBounded(t, 1<<30, func() error {
		close(started)
		_, err := NewContext(ctx, big, Options{Masks: []*Mask{mask}})
		return err
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, strings.HasPrefix(err.Error(), "saxs: "), "%v", err)
}

// ScaleMat refuses sizes it cannot build instead of panicking.
func TestScaleMatHostileSizes(t *testing.T) {
	for _, sz := range [][2]int{{-2, -3}, {0, 5}, {1 << 20, 1 << 20}} {
		err := runBounded(t, hostileAllocCeiling, func() error {
			_, err := ScaleMat(make([]int32, 6), sz[0], sz[1], 1, 4, nil)
			return err
		})
		assert.Error(t, err, "%v", sz)
	}
}

// Reading a TIFF from a file (through io.ReaderAt, in windows) gives the
// same image or the same error as decoding it from memory, and so does
// reading it as a mask; ImageReader.CheckFile gives the same error, or
// none.
func FuzzReadFileMatchesDecodeTIFF(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	// Larger than one chunk (tiffChunk samples) of file reading.
	counts := make([]int32, 600*500)
	for i := range counts {
		counts[i] = int32(i*7919) - 1<<20
	}
	big := tiffBytesPlain(&Image{Rows: 600, Cols: 500, Counts: counts, Description: "# big"})
	f.Add(big)
	f.Add(big[:len(big)-7])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.tif")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		var want Image
		werr := DecodeTIFF(data, path, &want)
		var r ImageReader
		var got Image
		gerr := r.ReadFile(path, &got)
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Fatalf("DecodeTIFF: %v; ReadFile: %v", werr, gerr)
		}
		// CheckFile decides as ReadFile does, without the samples.
		if cerr := r.CheckFile(path); (cerr == nil) != (gerr == nil) || cerr != nil && cerr.Error() != gerr.Error() {
			t.Fatalf("ReadFile: %v; CheckFile: %v", gerr, cerr)
		}
		if werr != nil {
			return
		}
		assert.Equal(t, imageBits(&want), imageBits(&got))
		m, err := OpenMask(path)
		require.NoError(t, err)
		assert.Equal(t, imageMask(&want), m)
	})
}

// imageBits returns img with its Values as bit patterns, so that NaNs
// compare equal.
func imageBits(img *Image) any {
	bits := make([]uint64, len(img.Values))
	for i, v := range img.Values {
		bits[i] = math.Float64bits(v)
	}
	return struct {
		Rows, Cols int
		Counts     []int32
		Bits       []uint64
		Desc, Date string
	}{img.Rows, img.Cols, img.Counts, bits, img.Description, img.DateTime}
}

// tiffBytesPlain encodes img as a TIFF.
func tiffBytesPlain(img *Image) []byte {
	var b bytes.Buffer
	if err := EncodeTIFF(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}
