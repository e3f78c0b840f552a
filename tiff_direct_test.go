package saxs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// readGeneral reads the frame at path through the general path of the
// decoder (sample by sample through the strip buffer), not readStripsInto.
func readGeneral(t testing.TB, path string) *Image {
	t.Helper()
	f, size, err := openRegular(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := tiffDecoder{r: f, size: size, name: path}
	img := new(Image)
	if err := d.decode(img); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestDirectReadMatchesGeneral checks that frames read straight into
// Image.Counts (ImageReader, DecodeTIFF) are bit for bit those of the
// general path, on the real Pilatus frames as stored (little-endian, one
// strip) and rewritten big-endian and in many strips stored in reverse
// order, of both byte orders.
func TestDirectReadMatchesGeneral(t *testing.T) {
	if !hostLittleEndian() {
		t.Log("big-endian host: readStripsInto is not used; the comparison is still made")
	}
	dir := t.TempDir()
	for _, name := range []string{"buf1_00000.tif", "agbeh2_1M.tif"} {
		path := sharedData(t, name)
		want := readGeneral(t, path)
		if len(want.Counts) != 1043*981 {
			t.Fatalf("%s: %d counts", name, len(want.Counts))
		}
		raw := make([]uint32, len(want.Counts))
		for i, v := range want.Counts {
			raw[i] = uint32(v)
		}
		files := map[string]string{"as stored": path}
		for _, big := range []bool{false, true} {
			for _, rps := range []int{0, 1, 37} {
				s := &testTIFF{big: big, bits: 32, format: sampleInt, rows: want.Rows, cols: want.Cols,
					raw: raw, rowsPerStrip: rps, ifdLast: rps > 0, description: want.Description}
				p := filepath.Join(dir, fmt.Sprintf("%s-big%v-rps%d.tif", name, big, rps))
				if err := os.WriteFile(p, s.encode(), 0o644); err != nil {
					t.Fatal(err)
				}
				files[fmt.Sprintf("big=%v rps=%d", big, rps)] = p
			}
		}
		var rd ImageReader
		img := new(Image)
		for what, p := range files {
			t.Run(name+"/"+what, func(t *testing.T) {
				if err := rd.ReadFile(p, img); err != nil {
					t.Fatal(err)
				}
				if img.Rows != want.Rows || img.Cols != want.Cols || !slices.Equal(img.Counts, want.Counts) || img.Values != nil {
					t.Error("ImageReader differs from the general path")
				}
				if g := readGeneral(t, p); !slices.Equal(g.Counts, want.Counts) {
					t.Error("general path differs between the file variants")
				}
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				var m Image
				if err := DecodeTIFF(data, p, &m); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(m.Counts, want.Counts) {
					t.Error("DecodeTIFF differs from the general path")
				}
			})
		}
	}
}

// TestDirectReadTruncated checks that a file that shrinks between the
// header check and the pixel read gives an error on the direct path too.
func TestDirectReadTruncated(t *testing.T) {
	data, err := os.ReadFile(sharedData(t, "buf1_00000.tif"))
	if err != nil {
		t.Fatal(err)
	}
	d := tiffDecoder{r: shrinking{data[:3_000_000]}, size: int64(len(data)), name: "x.tif", direct: true}
	var img Image
	if err := d.decode(&img); err == nil {
		t.Fatal("no error for a file shorter than its strips")
	}
}

// shrinking is a file that reports a size larger than its data.
type shrinking struct{ data []byte }

func (s shrinking) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(s.data)) {
		return 0, fmt.Errorf("read past end: %w", os.ErrClosed)
	}
	n := copy(p, s.data[off:])
	if n < len(p) {
		return n, fmt.Errorf("short read at %d: %w", off, os.ErrClosed)
	}
	return n, nil
}

// BenchmarkReadTIFFPath reads the Pilatus frame from its file through the
// direct path (pread into Image.Counts) and the general one (pread into a
// buffer, then convert), in one binary for interleaved comparisons.
func BenchmarkReadTIFFPath(b *testing.B) {
	path := sharedData(b, "buf1_00000.tif")
	for _, direct := range []bool{true, false} {
		b.Run(fmt.Sprintf("direct=%v", direct), func(b *testing.B) {
			var head []byte
			var strips []byte
			img := new(Image)
			b.SetBytes(4 * 1043 * 981)
			b.ReportAllocs()
			for b.Loop() {
				f, size, err := openRegular(path)
				if err != nil {
					b.Fatal(err)
				}
				if head == nil {
					head = make([]byte, tiffWindow)
				}
				d := tiffDecoder{r: f, size: size, name: path, spare: head, strips: strips, direct: direct}
				err = d.decode(img)
				strips = d.strips
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
