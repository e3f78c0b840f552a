//go:build unix

package saxs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sparse writes head to path and extends the file to 4 GiB without
// writing the rest (a sparse file: it takes no disk space).
func sparse(t *testing.T, path string, head []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, head, 0o644))
	require.NoError(t, os.Truncate(path, 4<<30))
}

// The readers read only regular files: a FIFO (which would block an open
// for reading until a writer comes), /dev/zero (endless) and a folder give
// an error matching ErrNotRegular at once. A 4 GiB sparse file is refused
// (text formats) or read with memory bounded by what its header describes.
func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.tif")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	folder := filepath.Join(dir, "folder.tif")
	require.NoError(t, os.Mkdir(folder, 0o755))
	zero := "/dev/zero"
	if _, err := os.Stat(zero); err != nil {
		zero = ""
	}

	img := &Image{Rows: 2, Cols: 3, Counts: []int32{1, 2, 3, 4, 5, 6}}
	bigTIFF := filepath.Join(dir, "big.tif")
	sparse(t, bigTIFF, tiffBytes(t, img, 0))
	zeroTIFF := filepath.Join(dir, "zeros.tif")
	sparse(t, zeroTIFF, nil)
	bigCal := filepath.Join(dir, "big.json")
	sparse(t, bigCal, []byte(`{"Title": "x"}`))
	bigChi := filepath.Join(dir, "big.chi")
	sparse(t, bigChi, []byte("{}\n{}\n[]\n   1\n 1 2 3\n"))
	var msk bytes.Buffer
	require.NoError(t, EncodeFit2DMask(&msk, &Mask{Rows: 2, Cols: 3, Masked: []bool{true, false, false, false, false, true}}))
	bigMsk := filepath.Join(dir, "big.msk")
	sparse(t, bigMsk, msk.Bytes())

	readers := []struct {
		name string
		read func(path string) error
	}{
		{"LoadCalibration", func(p string) error { _, err := LoadCalibration(p); return err }},
		{"OpenMask", func(p string) error { _, err := OpenMask(p); return err }},
		{"ReadImage", func(p string) error { _, err := ReadImage(p); return err }},
		{"ImageReader", func(p string) error { var r ImageReader; return r.ReadFile(p, new(Image)) }},
		{"ReadChiFile", func(p string) error { _, err := ReadChiFile(p); return err }},
		{"MaskFile of a calibration", func(p string) error {
			cal, err := LoadCalibration(writeCalibration(t, t.TempDir(), 2, 3, p))
			if err != nil {
				return err
			}
			_, err = New(cal)
			return err
		}},
	}
	for _, rd := range readers {
		for _, p := range []string{fifo, folder, zero} {
			if p == "" {
				continue
			}
			t.Run(rd.name+"/"+filepath.Base(p), func(t *testing.T) {
				err := runBounded(t, hostileAllocCeiling, func() error { return rd.read(p) })
				require.ErrorIs(t, err, ErrNotRegular)
				var pe *fs.PathError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, p, pe.Path)
			})
		}
	}

	// 4 GiB sparse files: what their header describes is read, no more.
	t.Run("sparse tif", func(t *testing.T) {
		var got *Image
		err := runBounded(t, 1<<20, func() error {
			var err error
			got, err = ReadImage(bigTIFF)
			return err
		})
		require.NoError(t, err)
		assert.Equal(t, img.Counts, got.Counts)
		var r ImageReader
		got = new(Image)
		require.NoError(t, runBounded(t, 1<<20, func() error { return r.ReadFile(bigTIFF, got) }))
		assert.Equal(t, img.Counts, got.Counts)
		var m *Mask
		require.NoError(t, runBounded(t, 1<<20, func() error {
			var err error
			m, err = OpenMask(bigTIFF)
			return err
		}))
		assert.Equal(t, 6, m.Count())
	})
	t.Run("sparse zeros tif", func(t *testing.T) {
		err := runBounded(t, 1<<20, func() error { _, err := ReadImage(zeroTIFF); return err })
		var fe *FormatError
		require.ErrorAs(t, err, &fe)
		assert.Contains(t, err.Error(), "byte-order mark")
	})
	t.Run("sparse msk", func(t *testing.T) {
		var m *Mask
		err := runBounded(t, 1<<20, func() error {
			var err error
			m, err = OpenMask(bigMsk)
			return err
		})
		require.NoError(t, err)
		assert.Equal(t, []bool{true, false, false, false, false, true}, m.Masked)
	})
	for _, c := range []struct{ path, read string }{{bigCal, "LoadCalibration"}, {bigChi, "ReadChiFile"}} {
		t.Run("sparse "+filepath.Ext(c.path), func(t *testing.T) {
			err := runBounded(t, 1<<20, func() error {
				if c.read == "LoadCalibration" {
					_, err := LoadCalibration(c.path)
					return err
				}
				_, err := ReadChiFile(c.path)
				return err
			})
			var fe *FormatError
			require.ErrorAs(t, err, &fe)
			assert.Contains(t, err.Error(), "more than the")
		})
	}

	// A 4 GiB sparse TIFF mask whose header describes a 16384×16384 float
	// image (1 GiB of samples) named by the calibration of a 2×3 detector:
	// refused after its header, before any sample is read.
	t.Run("sparse mask of the wrong size", func(t *testing.T) {
		d := tiffBytes(t, &Image{Rows: 1, Cols: 1, Values: []float64{1}}, 0)
		put := func(entry int, v uint32) {
			at := 8 + 2 + 12*entry
			binary.LittleEndian.PutUint32(d[at+8:], v)
		}
		const side = 16384
		put(0, side)        // ImageWidth
		put(1, side)        // ImageLength
		put(7, side)        // RowsPerStrip
		put(8, 4*side*side) // StripByteCounts
		hugeMask := filepath.Join(dir, "huge.tif")
		sparse(t, hugeMask, d)
		err := runBounded(t, 1<<20, func() error {
			cal, err := LoadCalibration(writeCalibration(t, t.TempDir(), 2, 3, hugeMask))
			if err != nil {
				return err
			}
			_, err = New(cal)
			return err
		})
		var se *SizeError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, [2]int{side, side}, [2]int{se.Rows, se.Cols})
	})

	// An endless reader gives ReadChi an error after MaxChiBytes.
	t.Run("ReadChi endless", func(t *testing.T) {
		err := runBounded(t, 4*MaxChiBytes, func() error { _, err := ReadChi(endless{}, "endless"); return err })
		var fe *FormatError
		require.ErrorAs(t, err, &fe)
	})
	assert.False(t, errors.Is(nil, ErrNotRegular))
}

// endless is an io.Reader that never ends. It fills nothing in: the bytes
// it returns are whatever p held, which costs no time.
type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }
