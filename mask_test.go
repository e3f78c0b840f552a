package saxs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// referenceMaskBits decodes a fit2d mask with a loop written independently
// of DecodeFit2DMask: each row is read as little-endian 32-bit words, bit b
// of word k being column 32k+b, rows bottom-up.
func referenceMaskBits(t *testing.T, data []byte) (rows, cols int, masked []bool) {
	t.Helper()
	cols = int(binary.LittleEndian.Uint32(data[16:20]))
	rows = int(binary.LittleEndian.Uint32(data[20:24]))
	wordsPerRow := cols / 32
	if cols%32 != 0 {
		wordsPerRow++
	}
	masked = make([]bool, rows*cols)
	for fileRow := 0; fileRow < rows; fileRow++ {
		imageRow := rows - 1 - fileRow
		for c := 0; c < cols; c++ {
			at := 1024 + 4*(fileRow*wordsPerRow+c/32)
			word := binary.LittleEndian.Uint32(data[at : at+4])
			masked[imageRow*cols+c] = (word>>(c%32))&1 == 1
		}
	}
	return rows, cols, masked
}

func TestFit2DMaskReference(t *testing.T) {
	path := sharedData(t, "AAA_integ.msk")
	m, err := OpenMask(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 1043 || m.Cols != 981 || len(m.Masked) != 1043*981 {
		t.Fatalf("mask %d rows × %d cols (%d flags), want 1043 × 981", m.Rows, m.Cols, len(m.Masked))
	}
	if n := m.Count(); n != 356788 {
		t.Errorf("%d masked pixels, want 356788", n)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1024 + 1043*124 + 1; len(data) != want {
		t.Fatalf("reference file has %d bytes, want %d", len(data), want)
	}
	rows, cols, ref := referenceMaskBits(t, data)
	if rows != m.Rows || cols != m.Cols || !slices.Equal(ref, m.Masked) {
		t.Error("DecodeFit2DMask differs from the reference bit loop")
	}
	// Re-encoding gives the file back, without the stray final byte.
	var buf bytes.Buffer
	if err := EncodeFit2DMask(&buf, m); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), data[:len(data)-1]) {
		t.Error("EncodeFit2DMask does not reproduce AAA_integ.msk")
	}
}

// TestFit2DMaskCoversBadPixels checks the orientation of the decoded mask:
// every negative (gap or bad) pixel of the frames is masked, which fails
// badly if the rows are not flipped.
func TestFit2DMaskCoversBadPixels(t *testing.T) {
	m, err := OpenMask(sharedData(t, "AAA_integ.msk"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"buf1_00000.tif", "agbeh2_1M.tif"} {
		img, err := ReadImage(sharedData(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if img.Rows != m.Rows || img.Cols != m.Cols {
			t.Fatalf("%s is %d×%d, mask %d×%d", name, img.Rows, img.Cols, m.Rows, m.Cols)
		}
		negative, uncovered := 0, 0
		for r := 0; r < img.Rows; r++ {
			for c := 0; c < img.Cols; c++ {
				if img.At(r, c) < 0 {
					negative++
					if !m.At(r, c) {
						uncovered++
					}
				}
			}
		}
		if negative == 0 || uncovered != 0 {
			t.Errorf("%s: %d of %d negative pixels are not masked", name, uncovered, negative)
		}
	}
}

func randomMask(rng *rand.Rand, rows, cols int) *Mask {
	m := &Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	for i := range m.Masked {
		m.Masked[i] = rng.IntN(3) == 0
	}
	return m
}

func TestFit2DMaskRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, cols := range []int{1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 981} {
		for _, rows := range []int{1, 2, 17} {
			m := randomMask(rng, rows, cols)
			var buf bytes.Buffer
			if err := EncodeFit2DMask(&buf, m); err != nil {
				t.Fatal(err)
			}
			stride := (cols + 31) / 32 * 4
			if want := 1024 + rows*stride; buf.Len() != want {
				t.Errorf("%d×%d: encoded %d bytes, want %d", rows, cols, buf.Len(), want)
			}
			data := buf.Bytes()
			for i, want := range []int32{'M', 'A', 'S', 'K', int32(cols), int32(rows), 1, 0, 0} {
				if got := int32(binary.LittleEndian.Uint32(data[4*i:])); got != want {
					t.Errorf("header word %d = %d, want %d", i, got, want)
				}
			}
			got, err := DecodeFit2DMask(data, "rt.msk")
			if err != nil {
				t.Fatal(err)
			}
			if got.Rows != rows || got.Cols != cols || !slices.Equal(got.Masked, m.Masked) {
				t.Errorf("%d×%d: round trip differs", rows, cols)
			}
			_, _, ref := referenceMaskBits(t, data)
			if !slices.Equal(ref, m.Masked) {
				t.Errorf("%d×%d: encoded bits differ from the reference layout", rows, cols)
			}
			// Bottom row first: file row 0 is image row rows-1.
			if m.Masked[(rows-1)*cols] != (data[1024]&1 == 1) {
				t.Errorf("%d×%d: first stored bit is not the bottom-left pixel", rows, cols)
			}
			// Padding bits and trailing bytes are ignored.
			padded := append(bytes.Clone(data), 0x0a, 0xff)
			if cols%32 != 0 {
				for r := 0; r < rows; r++ {
					padded[1024+r*stride+stride-1] |= 0x80
				}
			}
			if got, err := DecodeFit2DMask(padded, "p.msk"); err != nil || !slices.Equal(got.Masked, m.Masked) {
				t.Errorf("%d×%d: padding bits or trailing bytes change the mask (%v)", rows, cols, err)
			}
		}
	}
}

func TestMaskAt(t *testing.T) {
	m := &Mask{Rows: 2, Cols: 3, Masked: []bool{false, true, false, true, false, false}}
	if m.Count() != 2 || !m.At(0, 1) || !m.At(1, 0) || m.At(1, 2) || m.At(0, 0) {
		t.Error("At or Count wrong")
	}
	// Outside the mask At panics (issue 10: it used to answer true).
	for _, rc := range [][2]int{{-1, 0}, {0, -1}, {2, 0}, {0, 3}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("At(%d, %d) outside the mask did not panic", rc[0], rc[1])
				}
			}()
			m.At(rc[0], rc[1])
		}()
	}
}

// fit2dHeader returns a header for a mask of the given size.
func fit2dHeader(cols, rows int32) []byte {
	h := make([]byte, 1024)
	for i, v := range []int32{'M', 'A', 'S', 'K', cols, rows, 1} {
		binary.LittleEndian.PutUint32(h[4*i:], uint32(v))
	}
	return h
}

func TestDecodeFit2DMaskErrors(t *testing.T) {
	valid := append(fit2dHeader(33, 3), make([]byte, 3*8)...)
	if _, err := DecodeFit2DMask(valid, "ok.msk"); err != nil {
		t.Fatal(err)
	}
	mod := func(f func(d []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	for _, tc := range []struct {
		name   string
		data   []byte
		offset int64
		want   string
	}{
		{"empty", nil, 0, "too short"},
		{"short header", valid[:1000], 1000, "too short"},
		{"magic", mod(func(d []byte) []byte { d[8] = 'X'; return d }), 8, "not a fit2d mask"},
		{"magic high byte", mod(func(d []byte) []byte { d[1] = 1; return d }), 0, "not a fit2d mask"},
		{"text magic", mod(func(d []byte) []byte { copy(d, "MASK"); return d }), 0, "not a fit2d mask"},
		{"zero width", append(fit2dHeader(0, 3), make([]byte, 100)...), 0x10, "invalid mask width 0"},
		{"negative height", append(fit2dHeader(3, -2), make([]byte, 100)...), 0x14, "invalid mask height -2"},
		{"absurd size", append(fit2dHeader(1<<20, 1<<20), make([]byte, 100)...), 0x10, "unsupported mask size"},
		{"max int", append(fit2dHeader(math.MaxInt32, math.MaxInt32), make([]byte, 100)...), 0x10, "unsupported mask size"},
		{"no body", valid[:1024], 1024, "mask body truncated"},
		{"truncated body", valid[:len(valid)-1], 1024 + 2*8, "mask body truncated: 3 rows of 8 bytes need 24 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeFit2DMask(tc.data, "bad.msk")
			fe := formatError(t, err, "bad.msk", tc.want)
			if fe.Offset != tc.offset {
				t.Errorf("offset %d, want %d", fe.Offset, tc.offset)
			}
		})
	}
	for name, m := range map[string]*Mask{
		"nil": nil, "empty": {}, "short": {Rows: 2, Cols: 2, Masked: []bool{true}},
		"negative": {Rows: -1, Cols: -1, Masked: []bool{true}},
		"overflow": {Rows: 1 << 32, Cols: 1 << 32, Masked: []bool{}},
	} {
		if err := EncodeFit2DMask(&bytes.Buffer{}, m); err == nil {
			t.Errorf("EncodeFit2DMask(%s): no error", name)
		}
	}
}

func TestReferenceMaskTruncated(t *testing.T) {
	path := sharedData(t, "AAA_integ.msk")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeFit2DMask(data[:100000], path)
	fe := formatError(t, err, path, "mask body truncated: 1043 rows of 124 bytes")
	if want := int64(1024 + (100000-1024)/124*124); fe.Offset != want {
		t.Errorf("offset %d, want %d", fe.Offset, want)
	}
	// Exactly the rows, without the stray byte, is complete.
	if _, err := DecodeFit2DMask(data[:len(data)-1], path); err != nil {
		t.Error(err)
	}
}

// imageMaskCase is a small mask and its expected flags.
func maskPattern(rows, cols int) []bool {
	m := make([]bool, rows*cols)
	for i := range m {
		m[i] = i%3 == 0 || i == len(m)-1
	}
	return m
}

func encodePNG(t *testing.T, im image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, im); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImageMasks(t *testing.T) {
	const rows, cols = 5, 7
	want := maskPattern(rows, cols)
	rect := image.Rect(0, 0, cols, rows)
	set := func(f func(x, y int, on bool)) {
		for i, on := range want {
			f(i%cols, i/cols, on)
		}
	}

	gray := image.NewGray(rect)
	set(func(x, y int, on bool) {
		if on {
			gray.SetGray(x, y, color.Gray{Y: 1})
		}
	})
	gray16 := image.NewGray16(rect)
	set(func(x, y int, on bool) {
		if on {
			gray16.SetGray16(x, y, color.Gray16{Y: 1})
		}
	})
	rgba := image.NewNRGBA(rect)
	set(func(x, y int, on bool) {
		c := color.NRGBA{A: 255}
		if on {
			c = color.NRGBA{R: 1, A: 255} // grey value 0 after GrayModel conversion
		}
		rgba.SetNRGBA(x, y, c)
	})
	pal := image.NewPaletted(rect, color.Palette{color.Black, color.White, color.RGBA{B: 3, A: 255}})
	set(func(x, y int, on bool) {
		if on {
			pal.SetColorIndex(x, y, uint8(1+(x+y)%2))
		}
	})

	counts := &Image{Rows: rows, Cols: cols, Counts: make([]int32, rows*cols)}
	values := &Image{Rows: rows, Cols: cols, Values: make([]float64, rows*cols)}
	for i, on := range want {
		if on {
			counts.Counts[i] = int32(i%2*2 - 1) // ±1
			values.Values[i] = []float64{0.5, math.NaN(), -1e-30}[i%3]
		}
	}
	encTIFF := func(img *Image) []byte {
		var buf bytes.Buffer
		if err := EncodeTIFF(&buf, img); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	u8 := &testTIFF{big: true, bits: 8, rows: rows, cols: cols, rowsPerStrip: 2}
	for _, on := range want {
		u8.raw = append(u8.raw, map[bool]uint32{false: 0, true: 255}[on])
	}

	cases := map[string][]byte{
		"gray.png":       encodePNG(t, gray),
		"gray16.png":     encodePNG(t, gray16),
		"rgba.PNG":       encodePNG(t, rgba),
		"paletted.png":   encodePNG(t, pal),
		"counts.tif":     encTIFF(counts),
		"values.tiff":    encTIFF(values),
		"uint8-be.TIF":   u8.encode(),
		"png-as.tif":     encodePNG(t, gray), // content decides between TIFF and PNG
		"no-extension":   encTIFF(counts),
		"sniffed.bin":    encodePNG(t, gray),
		"mask.dat":       nil, // filled below: fit2d mask sniffed by content
		"upper-case.MSK": nil,
	}
	var msk bytes.Buffer
	if err := EncodeFit2DMask(&msk, &Mask{Rows: rows, Cols: cols, Masked: want}); err != nil {
		t.Fatal(err)
	}
	cases["mask.dat"], cases["upper-case.MSK"] = msk.Bytes(), msk.Bytes()

	dir := t.TempDir()
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := DecodeMask(data, name)
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows != rows || m.Cols != cols || !slices.Equal(m.Masked, want) {
				t.Errorf("mask %d×%d %v, want %v", m.Rows, m.Cols, m.Masked, want)
			}
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			m2, err := OpenMask(path)
			if err != nil || !slices.Equal(m2.Masked, want) {
				t.Errorf("OpenMask: %v", err)
			}
		})
	}
}

func TestDecodeMaskErrors(t *testing.T) {
	var tif bytes.Buffer
	if err := EncodeTIFF(&tif, &Image{Rows: 2, Cols: 2, Counts: []int32{0, 1, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	pngData := encodePNG(t, image.NewGray(image.Rect(0, 0, 4, 3)))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"unknown.dat", []byte("hello, world"), "unknown mask format"},
		{"empty.dat", nil, "unknown mask format"},
		{"text.png", []byte("hello, world"), "not a TIFF or PNG image"},
		{"tiff.msk", tif.Bytes(), "not a fit2d mask"},
		{"truncated.tif", tif.Bytes()[:tif.Len()-1], "extends past end of file"},
		{"truncated.png", pngData[:len(pngData)-20], "png"},
		{"huge.png", hugePNGHeader(), "unsupported mask size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeMask(tc.data, tc.name)
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != tc.name || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a *FormatError for %s containing %q", err, tc.name, tc.want)
			}
		})
	}
	if _, err := DecodeMask([]byte("junk"), ""); err == nil || !strings.Contains(err.Error(), "mask data") {
		t.Errorf("unnamed mask: %v", err)
	}
}

// hugePNGHeader returns the signature and IHDR chunk of a 100000×100000
// grey PNG, without image data.
func hugePNGHeader() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := []byte("IHDR")
	ihdr = binary.BigEndian.AppendUint32(ihdr, 100000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 100000)
	ihdr = append(ihdr, 8, 0, 0, 0, 0)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)-4))
	b.Write(ihdr)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	return b.Bytes()
}

func TestOpenMaskErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.msk")
	_, err := OpenMask(missing)
	if !errors.Is(err, os.ErrNotExist) || strings.Count(err.Error(), missing) != 1 || !strings.HasPrefix(err.Error(), "mask") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.msk")
	if err := os.WriteFile(bad, append([]byte("MASK"), make([]byte, 2000)...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenMask(bad)
	fe := formatError(t, err, bad, "not a fit2d mask")
	if fe.Offset != 0 || strings.Count(err.Error(), bad) != 1 || !strings.HasPrefix(err.Error(), "mask "+bad+": offset 0") {
		t.Errorf("error %q", err)
	}
	short := filepath.Join(dir, "short.msk")
	if err := os.WriteFile(short, append(fit2dHeader(981, 1043), make([]byte, 124*10+5)...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenMask(short)
	formatError(t, err, short, fmt.Sprintf("offset %d: mask body truncated", 1024+124*10))
}

func FuzzDecodeFit2DMask(f *testing.F) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, size := range [][2]int{{1, 1}, {2, 31}, {3, 32}, {2, 33}, {1, 64}} {
		var buf bytes.Buffer
		if err := EncodeFit2DMask(&buf, randomMask(rng, size[0], size[1])); err != nil {
			f.Fatal(err)
		}
		d := buf.Bytes()
		f.Add(d)
		f.Add(d[:len(d)-1])
		f.Add(append(bytes.Clone(d), 0x0a))
	}
	f.Add(fit2dHeader(1<<16, 1<<16))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeFit2DMask(data, "fuzz.msk")
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "fuzz.msk" || fe.Offset < 0 || fe.Offset > int64(len(data)) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if m.Rows <= 0 || m.Cols <= 0 || len(m.Masked) != m.Rows*m.Cols {
			t.Fatalf("%d×%d mask with %d flags", m.Rows, m.Cols, len(m.Masked))
		}
		var buf bytes.Buffer
		if err := EncodeFit2DMask(&buf, m); err != nil {
			t.Fatal(err)
		}
		back, err := DecodeFit2DMask(buf.Bytes(), "back.msk")
		if err != nil || !slices.Equal(back.Masked, m.Masked) {
			t.Fatalf("re-encoded mask differs (%v)", err)
		}
	})
}

// FuzzDecodeMask exercises the format detection and the image masks.
func FuzzDecodeMask(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add("m.tif", s)
	}
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	gray.Pix[1] = 9
	var buf bytes.Buffer
	_ = png.Encode(&buf, gray)
	f.Add("m.png", buf.Bytes())
	f.Add("m", buf.Bytes())
	f.Add("m.msk", append(fit2dHeader(3, 2), make([]byte, 8)...))
	f.Add("m.MSK", []byte("MASK"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		m, err := DecodeMask(data, name)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T)", err, err)
			}
			return
		}
		if m.Rows <= 0 || m.Cols <= 0 || len(m.Masked) != m.Rows*m.Cols {
			t.Fatalf("%d×%d mask with %d flags", m.Rows, m.Cols, len(m.Masked))
		}
	})
}
