package saxs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testEntry is one IFD entry of a test TIFF. data holds the values in the
// file's byte order; when raw is set, data is the 4-byte value field itself
// (count is then taken as given), to write invalid pointers.
type testEntry struct {
	tag, typ uint16
	count    uint32
	data     []byte
	raw      bool
}

// testTIFF describes a TIFF file written by encode, the test-only encoder
// that covers the variants EncodeTIFF does not write.
type testTIFF struct {
	big          bool
	bits         int // 8, 16 or 32
	format       int // SampleFormat; 0 omits the tag (unsigned)
	rows, cols   int
	raw          []uint32 // raw sample bits, rows*cols values
	rowsPerStrip int      // 0 omits the tag (one strip)
	shortStrips  bool     // StripOffsets, StripByteCounts, ImageWidth as SHORT
	ifdLast      bool     // IFD after the data, strips stored in reverse order
	description  string
	dateTime     string
	extra        []testEntry // extra entries; they replace entries of the same tag
	omit         []uint16    // tags to leave out
}

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func (s *testTIFF) order() byteOrder {
	if s.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// ints encodes integer values of type SHORT or LONG.
func (s *testTIFF) ints(tag, typ uint16, vals ...uint32) testEntry {
	bo := s.order()
	e := testEntry{tag: tag, typ: typ, count: uint32(len(vals))}
	for _, v := range vals {
		switch typ {
		case tiffByte:
			e.data = append(e.data, byte(v))
		case tiffShort:
			e.data = bo.AppendUint16(e.data, uint16(v))
		default:
			e.data = bo.AppendUint32(e.data, v)
		}
	}
	return e
}

func asciiEntry(tag uint16, s string) testEntry {
	b := append([]byte(s), 0)
	return testEntry{tag: tag, typ: tiffASCII, count: uint32(len(b)), data: b}
}

// encode writes the file.
func (s *testTIFF) encode() []byte {
	bo := s.order()
	rps := s.rowsPerStrip
	if rps == 0 {
		rps = s.rows
	}
	nstrips := (s.rows + rps - 1) / rps
	strips := make([][]byte, nstrips)
	for i := range strips {
		lo, hi := i*rps*s.cols, min((i+1)*rps, s.rows)*s.cols
		for _, v := range s.raw[lo:hi] {
			switch s.bits {
			case 8:
				strips[i] = append(strips[i], byte(v))
			case 16:
				strips[i] = bo.AppendUint16(strips[i], uint16(v))
			default:
				strips[i] = bo.AppendUint32(strips[i], v)
			}
		}
	}
	stripType := uint16(tiffLong)
	if s.shortStrips {
		stripType = tiffShort
	}
	counts := make([]uint32, nstrips)
	for i, st := range strips {
		counts[i] = uint32(len(st))
	}
	entries := []testEntry{
		s.ints(tagImageWidth, stripType, uint32(s.cols)),
		s.ints(tagImageLength, tiffLong, uint32(s.rows)),
		s.ints(tagBitsPerSample, tiffShort, uint32(s.bits)),
		s.ints(tagCompression, tiffShort, 1),
		s.ints(tagPhotometric, tiffShort, 1),
		s.ints(tagStripOffsets, stripType, make([]uint32, nstrips)...), // filled below
		s.ints(tagSamplesPerPixel, tiffShort, 1),
		s.ints(tagStripByteCounts, stripType, counts...),
		s.ints(0x8769, tiffLong, 0), // an ignored tag (Exif IFD)
	}
	if s.rowsPerStrip != 0 {
		entries = append(entries, s.ints(tagRowsPerStrip, tiffShort, uint32(s.rowsPerStrip)))
	}
	if s.format != 0 {
		entries = append(entries, s.ints(tagSampleFormat, tiffShort, uint32(s.format)))
	}
	if s.description != "" {
		entries = append(entries, asciiEntry(tagImageDescription, s.description))
	}
	if s.dateTime != "" {
		entries = append(entries, asciiEntry(tagDateTime, s.dateTime))
	}
	for _, x := range s.extra {
		entries = slices.DeleteFunc(entries, func(e testEntry) bool { return e.tag == x.tag })
		entries = append(entries, x)
	}
	entries = slices.DeleteFunc(entries, func(e testEntry) bool { return slices.Contains(s.omit, e.tag) })
	slices.SortStableFunc(entries, func(a, b testEntry) int { return int(a.tag) - int(b.tag) })

	// Layout: header, then either IFD, values, strips or strips (reversed),
	// values, IFD.
	ifdSize := 2 + 12*len(entries) + 4
	pos := 8
	ifdPos := pos
	if !s.ifdLast {
		pos += ifdSize
	}
	stripPos := make([]int, nstrips)
	place := func() {
		for i := range strips {
			j := i
			if s.ifdLast {
				j = nstrips - 1 - i
			}
			stripPos[j] = pos
			pos += len(strips[j])
		}
	}
	if s.ifdLast {
		place()
	}
	valPos := make([]int, len(entries))
	for i, e := range entries {
		if !e.raw && len(e.data) > 4 {
			valPos[i] = pos
			pos += len(e.data)
			pos += pos & 1 // word alignment
		}
	}
	if s.ifdLast {
		ifdPos = pos
		pos += ifdSize
	} else {
		place()
	}
	userOffsets := slices.ContainsFunc(s.extra, func(e testEntry) bool { return e.tag == tagStripOffsets })
	for i, e := range entries {
		if e.tag == tagStripOffsets && !userOffsets {
			offs := make([]uint32, len(stripPos))
			for j, p := range stripPos {
				offs[j] = uint32(p)
			}
			entries[i].data = s.ints(e.tag, e.typ, offs...).data
		}
	}

	out := make([]byte, pos)
	copy(out, "II")
	if s.big {
		copy(out, "MM")
	}
	bo.PutUint16(out[2:], 42)
	bo.PutUint32(out[4:], uint32(ifdPos))
	bo.PutUint16(out[ifdPos:], uint16(len(entries)))
	for i, e := range entries {
		p := ifdPos + 2 + 12*i
		bo.PutUint16(out[p:], e.tag)
		bo.PutUint16(out[p+2:], e.typ)
		bo.PutUint32(out[p+4:], e.count)
		switch {
		case e.raw || len(e.data) <= 4:
			copy(out[p+8:p+12], e.data)
		default:
			bo.PutUint32(out[p+8:], uint32(valPos[i]))
			copy(out[valPos[i]:], e.data)
		}
	}
	for i, st := range strips {
		copy(out[stripPos[i]:], st)
	}
	return out
}

// expect returns the samples DecodeTIFF must give for s.
func (s *testTIFF) expect() (counts []int32, values []float64) {
	for _, v := range s.raw {
		switch {
		case s.bits == 8 && s.format == sampleInt:
			counts = append(counts, int32(int8(v)))
		case s.bits == 16 && s.format == sampleInt:
			counts = append(counts, int32(int16(v)))
		case s.bits < 32:
			counts = append(counts, int32(v))
		case s.format == sampleInt:
			counts = append(counts, int32(v))
		case s.format == sampleFloat:
			values = append(values, float64(math.Float32frombits(v)))
		default:
			values = append(values, float64(v))
		}
	}
	return counts, values
}

// randomTIFF returns a test TIFF with random samples covering the whole
// range of the sample type, extreme values included.
func randomTIFF(rng *rand.Rand, big bool, bits, format, rows, cols int) *testTIFF {
	s := &testTIFF{big: big, bits: bits, format: format, rows: rows, cols: cols}
	mask := uint32(1<<bits - 1)
	specials := []uint32{0, 1, mask, mask >> 1, mask>>1 + 1}
	if format == sampleFloat {
		specials = []uint32{0, math.Float32bits(-1.5), math.Float32bits(float32(math.Inf(1))),
			math.Float32bits(float32(math.Inf(-1))), 1 << 31 /* -0 */, 0x7fc00001 /* NaN */, 1 /* denormal */}
	}
	for i := 0; i < rows*cols; i++ {
		if i < len(specials) {
			s.raw = append(s.raw, specials[i])
		} else {
			s.raw = append(s.raw, rng.Uint32()&mask)
		}
	}
	return s
}

type sampleFormat struct{ bits, format int }

var allSampleFormats = []sampleFormat{
	{8, 0}, {8, sampleUint}, {8, sampleInt},
	{16, 0}, {16, sampleUint}, {16, sampleInt},
	{32, 0}, {32, sampleUint}, {32, sampleInt}, {32, sampleFloat},
}

func (f sampleFormat) String() string {
	return fmt.Sprintf("%dbit-format%d", f.bits, f.format)
}

// sameSamples compares decoded samples to the expected ones, NaN equal to NaN.
func sameSamples(t *testing.T, img *Image, counts []int32, values []float64) {
	t.Helper()
	if counts != nil {
		if img.Values != nil || !slices.Equal(img.Counts, counts) {
			t.Fatalf("counts = %v (values %v), want %v", img.Counts, img.Values, counts)
		}
		return
	}
	if img.Counts != nil || len(img.Values) != len(values) {
		t.Fatalf("values = %v (counts %v), want %v", img.Values, img.Counts, values)
	}
	for i, v := range values {
		g := img.Values[i]
		if g != v && !(math.IsNaN(g) && math.IsNaN(v)) || math.Signbit(g) != math.Signbit(v) {
			t.Fatalf("values[%d] = %v, want %v", i, g, v)
		}
	}
}

func TestDecodeTIFFFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, big := range []bool{false, true} {
		for _, f := range allSampleFormats {
			for _, rps := range []int{0, 1, 3, 7, 100} {
				for _, ifdLast := range []bool{false, true} {
					name := fmt.Sprintf("big=%v/%v/rps=%d/ifdLast=%v", big, f, rps, ifdLast)
					t.Run(name, func(t *testing.T) {
						s := randomTIFF(rng, big, f.bits, f.format, 7, 5)
						s.rowsPerStrip = rps
						s.ifdLast = ifdLast
						s.shortStrips = rps == 1
						s.description = "# Exposure_time 1.0 s\r\n"
						s.dateTime = "2014:01:31 12:26:52"
						data := s.encode()
						var img Image
						if err := DecodeTIFF(data, "test.tif", &img); err != nil {
							t.Fatal(err)
						}
						if img.Rows != 7 || img.Cols != 5 {
							t.Fatalf("size %d×%d, want 7×5", img.Rows, img.Cols)
						}
						counts, values := s.expect()
						sameSamples(t, &img, counts, values)
						if img.Description != s.description || img.DateTime != s.dateTime {
							t.Errorf("description %q, date %q", img.Description, img.DateTime)
						}
					})
				}
			}
		}
	}
}

// TestDecodeTIFFTagVariants covers tag value types and layouts that the
// encoders above do not produce by default.
func TestDecodeTIFFTagVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := func() *testTIFF {
		s := randomTIFF(rng, false, 16, sampleInt, 4, 3)
		s.rowsPerStrip = 2
		return s
	}
	cases := map[string]func(s *testTIFF){
		"byte-typed tags": func(s *testTIFF) {
			s.extra = []testEntry{s.ints(tagImageWidth, tiffByte, 3), s.ints(tagRowsPerStrip, tiffByte, 2),
				s.ints(tagBitsPerSample, tiffLong, 16)}
		},
		"long rows per strip larger than image": func(s *testTIFF) {
			s.rowsPerStrip = 0
			s.extra = []testEntry{s.ints(tagRowsPerStrip, tiffLong, math.MaxUint32)}
		},
		"no optional tags": func(s *testTIFF) {
			s.format = sampleUint
			s.raw = []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
			s.omit = []uint16{tagCompression, tagPhotometric, tagSamplesPerPixel, tagSampleFormat}
		},
		"white is zero": func(s *testTIFF) { s.extra = []testEntry{s.ints(tagPhotometric, tiffShort, 0)} },
		"oversized strip byte counts": func(s *testTIFF) {
			s.rowsPerStrip = 0
			s.extra = []testEntry{s.ints(tagStripByteCounts, tiffLong, 24)}
		},
		"nul-padded description": func(s *testTIFF) {
			s.extra = []testEntry{{tag: tagImageDescription, typ: tiffASCII, count: 8, data: []byte("abc\x00\x00\x00\x00\x00")}}
		},
		"short inline description": func(s *testTIFF) { s.description = "ab" },
		"empty description":        func(s *testTIFF) { s.extra = []testEntry{{tag: tagImageDescription, typ: tiffASCII}} },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			s := base()
			mod(s)
			var img Image
			if err := DecodeTIFF(s.encode(), "v.tif", &img); err != nil {
				t.Fatal(err)
			}
			counts, values := s.expect()
			sameSamples(t, &img, counts, values)
			want := strings.TrimRight(s.description, "\x00")
			for _, e := range s.extra {
				if e.tag == tagImageDescription {
					want = strings.TrimRight(string(e.data), "\x00")
				}
			}
			if img.Description != want {
				t.Errorf("Description = %q, want %q", img.Description, want)
			}
		})
	}
}

func TestEncodeTIFFRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name string
		img  *Image
	}{
		{"counts", &Image{Rows: 13, Cols: 11, Counts: make([]int32, 13*11), Description: "# Pilatus\r\n# Exposure_time 1 s", DateTime: "2024:01:02 03:04:05"}},
		{"values", &Image{Rows: 3, Cols: 17, Values: make([]float64, 3*17)}},
		{"one pixel", &Image{Rows: 1, Cols: 1, Counts: []int32{-7}, Description: "abc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.img.Counts {
				tc.img.Counts[i] = int32(rng.Uint32())
			}
			for i := range tc.img.Values {
				tc.img.Values[i] = float64(float32(rng.NormFloat64() * 1e3))
			}
			var buf bytes.Buffer
			if err := EncodeTIFF(&buf, tc.img); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(buf.Bytes(), []byte("II*\x00")) {
				t.Fatalf("header % x", buf.Bytes()[:8])
			}
			var got Image
			if err := DecodeTIFF(buf.Bytes(), "rt.tif", &got); err != nil {
				t.Fatal(err)
			}
			if got.Rows != tc.img.Rows || got.Cols != tc.img.Cols || got.Description != tc.img.Description || got.DateTime != tc.img.DateTime {
				t.Errorf("got %d×%d %q %q", got.Rows, got.Cols, got.Description, got.DateTime)
			}
			sameSamples(t, &got, tc.img.Counts, tc.img.Values)
			// The pixel data is 4-byte aligned and ends the file.
			if off := buf.Len() - 4*tc.img.Len(); off%4 != 0 {
				t.Errorf("pixel data at offset %d", off)
			}
		})
	}
}

func TestEncodeTIFFErrors(t *testing.T) {
	for name, img := range map[string]*Image{
		"nil":        nil,
		"empty":      {},
		"both":       {Rows: 1, Cols: 1, Counts: []int32{1}, Values: []float64{1}},
		"short":      {Rows: 2, Cols: 2, Counts: []int32{1}},
		"negative":   {Rows: -1, Cols: -1, Counts: []int32{1}},
		"no samples": {Rows: 1, Cols: 1},
		"overflow":   {Rows: 1 << 32, Cols: 1 << 32, Counts: []int32{}},
	} {
		if err := EncodeTIFF(&bytes.Buffer{}, img); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	img := &Image{Rows: 1, Cols: 1, Counts: []int32{1}}
	if err := EncodeTIFF(failWriter{}, img); err == nil {
		t.Error("write error not reported")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// formatError checks that err is a *FormatError for file with a known
// offset, whose message contains want.
func formatError(t *testing.T, err error, file, want string) *FormatError {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want *FormatError", err, err)
	}
	msg := err.Error()
	if fe.File != file || fe.Offset < 0 || !strings.Contains(msg, file) || !strings.Contains(msg, "offset") {
		t.Errorf("error %q: want file %q and an offset", msg, file)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
	return fe
}

func TestDecodeTIFFErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	base := func() *testTIFF {
		s := randomTIFF(rng, false, 32, sampleInt, 4, 3)
		s.rowsPerStrip = 2
		s.description = "a description"
		return s
	}
	type corrupt func(s *testTIFF, data []byte) []byte
	tag := func(e func(s *testTIFF) testEntry) corrupt {
		return func(s *testTIFF, _ []byte) []byte {
			s.extra = append(s.extra, e(s))
			return s.encode()
		}
	}
	omit := func(tags ...uint16) corrupt {
		return func(s *testTIFF, _ []byte) []byte { s.omit = tags; return s.encode() }
	}
	cases := []struct {
		name string
		c    corrupt
		want string
	}{
		{"empty file", func(_ *testTIFF, d []byte) []byte { return nil }, "too short"},
		{"short header", func(_ *testTIFF, d []byte) []byte { return d[:7] }, "too short"},
		{"byte order", func(_ *testTIFF, d []byte) []byte { d[0] = 'X'; return d }, "byte-order mark"},
		{"version", func(_ *testTIFF, d []byte) []byte { d[2] = 41; return d }, "version 41"},
		{"bigtiff", func(_ *testTIFF, d []byte) []byte { d[2] = 43; return d }, "BigTIFF"},
		{"ifd offset past end", func(_ *testTIFF, d []byte) []byte {
			binary.LittleEndian.PutUint32(d[4:], uint32(len(d)))
			return d
		}, "IFD offset"},
		{"ifd offset in header", func(_ *testTIFF, d []byte) []byte { binary.LittleEndian.PutUint32(d[4:], 2); return d }, "IFD offset"},
		{"ifd offset 4 GiB", func(_ *testTIFF, d []byte) []byte { binary.LittleEndian.PutUint32(d[4:], math.MaxUint32); return d }, "IFD offset"},
		{"entry count", func(_ *testTIFF, d []byte) []byte { binary.LittleEndian.PutUint16(d[8:], 5000); return d }, "IFD of 5000 entries"},
		{"no entries", func(_ *testTIFF, d []byte) []byte { binary.LittleEndian.PutUint16(d[8:], 0); return d }, "no entries"},
		{"compression", tag(func(s *testTIFF) testEntry { return s.ints(tagCompression, tiffShort, 5) }), "Compression 5 (LZW)"},
		{"samples per pixel", tag(func(s *testTIFF) testEntry { return s.ints(tagSamplesPerPixel, tiffShort, 3) }), "SamplesPerPixel 3"},
		{"bits", tag(func(s *testTIFF) testEntry { return s.ints(tagBitsPerSample, tiffShort, 12) }), "BitsPerSample 12"},
		{"bits default 1", omit(tagBitsPerSample), "BitsPerSample 1"},
		{"float16", func(s *testTIFF, _ []byte) []byte {
			s.bits, s.format = 16, sampleFloat
			return s.encode()
		}, "floating-point"},
		{"sample format", tag(func(s *testTIFF) testEntry { return s.ints(tagSampleFormat, tiffShort, 4) }), "SampleFormat 4"},
		{"photometric", tag(func(s *testTIFF) testEntry { return s.ints(tagPhotometric, tiffShort, 2) }), "PhotometricInterpretation 2"},
		{"no width", omit(tagImageWidth), "missing required tag ImageWidth"},
		{"no height", omit(tagImageLength), "missing required tag ImageLength"},
		{"no strip offsets", omit(tagStripOffsets), "missing required tag StripOffsets"},
		{"no strip byte counts", omit(tagStripByteCounts), "missing required tag StripByteCounts"},
		{"tiled", func(s *testTIFF, _ []byte) []byte {
			s.omit = []uint16{tagStripOffsets}
			s.extra = []testEntry{s.ints(tagTileWidth, tiffShort, 16)}
			return s.encode()
		}, "tiled"},
		{"width 0", tag(func(s *testTIFF) testEntry { return s.ints(tagImageWidth, tiffLong, 0) }), "image size 0 × 4"},
		{"huge size", tag(func(s *testTIFF) testEntry { return s.ints(tagImageWidth, tiffLong, 1<<27) }), "image size 134217728 × 4"},
		{"overflowing size", func(s *testTIFF, _ []byte) []byte {
			s.extra = []testEntry{s.ints(tagImageWidth, tiffLong, math.MaxUint32), s.ints(tagImageLength, tiffLong, math.MaxUint32)}
			return s.encode()
		}, "image size"},
		{"rows per strip 0", tag(func(s *testTIFF) testEntry { return s.ints(tagRowsPerStrip, tiffShort, 0) }), "RowsPerStrip is 0"},
		{"strip count", tag(func(s *testTIFF) testEntry { return s.ints(tagRowsPerStrip, tiffShort, 1) }), "2 StripOffsets, want 4"},
		{"byte count count", tag(func(s *testTIFF) testEntry { return s.ints(tagStripByteCounts, tiffLong, 24, 24, 24) }), "3 StripByteCounts, want 2"},
		{"short strip", tag(func(s *testTIFF) testEntry { return s.ints(tagStripByteCounts, tiffLong, 24, 23) }), "strip 1 has 23 bytes"},
		{"strip past end", tag(func(s *testTIFF) testEntry { return s.ints(tagStripOffsets, tiffLong, 8, 1000) }), "strip 1 (24 bytes) extends past end of file"},
		{"strip at 4 GiB", tag(func(s *testTIFF) testEntry { return s.ints(tagStripOffsets, tiffLong, math.MaxUint32, 8) }), "strip 0 (24 bytes) extends past end"},
		{"rational width", tag(func(s *testTIFF) testEntry {
			return testEntry{tag: tagImageWidth, typ: tiffRational, count: 1, data: make([]byte, 8)}
		}), "ImageWidth has field type 5"},
		{"unknown type", tag(func(s *testTIFF) testEntry {
			return testEntry{tag: tagCompression, typ: 99, count: 1, data: []byte{1, 0, 0, 0}}
		}), "Compression has unknown field type 99"},
		{"description out of range", tag(func(s *testTIFF) testEntry {
			return testEntry{tag: tagImageDescription, typ: tiffASCII, count: 100, raw: true, data: []byte{0, 0, 1, 0}}
		}), "ImageDescription data (100 bytes at offset 65536) extends past end of file"},
		{"description count overflow", tag(func(s *testTIFF) testEntry {
			return testEntry{tag: tagImageDescription, typ: tiffASCII, count: math.MaxUint32, raw: true, data: []byte{0xff, 0xff, 0xff, 0xff}}
		}), "ImageDescription data"},
		{"offsets count overflow", tag(func(s *testTIFF) testEntry {
			return testEntry{tag: tagStripOffsets, typ: tiffDouble, count: math.MaxUint32, raw: true, data: []byte{8, 0, 0, 0}}
		}), "StripOffsets data"},
		{"no width value", tag(func(s *testTIFF) testEntry { return s.ints(tagImageWidth, tiffLong) }), "ImageWidth has no value"},
		{"float description", tag(func(s *testTIFF) testEntry {
			return testEntry{tag: tagImageDescription, typ: tiffFloat, count: 1, data: make([]byte, 4)}
		}), "want ASCII"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			data := tc.c(s, s.encode())
			dst := &Image{Rows: 1, Cols: 1, Counts: []int32{42}, Description: "old"}
			err := DecodeTIFF(data, "bad.tif", dst)
			formatError(t, err, "bad.tif", tc.want)
			if dst.Rows != 1 || dst.Cols != 1 || dst.Counts[0] != 42 || dst.Values != nil || dst.Description != "old" {
				t.Errorf("dst modified on error: %+v", dst)
			}
		})
	}
	if err := DecodeTIFF(base().encode(), "x.tif", nil); err == nil {
		t.Error("nil dst: no error")
	}
}

// TestDecodeTIFFTruncated checks that every truncation of a small file is
// an error, for each format and byte order.
func TestDecodeTIFFTruncated(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, big := range []bool{false, true} {
		for _, f := range allSampleFormats {
			s := randomTIFF(rng, big, f.bits, f.format, 3, 4)
			s.rowsPerStrip = 2
			s.description = "desc"
			data := s.encode()
			var img Image
			if err := DecodeTIFF(data, "t.tif", &img); err != nil {
				t.Fatal(err)
			}
			for n := 0; n < len(data); n++ {
				err := DecodeTIFF(data[:n], "t.tif", &img)
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Offset < 0 || fe.File != "t.tif" {
					t.Fatalf("big=%v %v: truncated to %d bytes: error %v", big, f, n, err)
				}
			}
		}
	}
}

func TestDecodeTIFFReuse(t *testing.T) {
	s := randomTIFF(rand.New(rand.NewPCG(11, 12)), false, 32, sampleInt, 64, 48)
	s.description = "# Exposure_time 1.0 s"
	s.dateTime = "2014:01:31 12:26:52"
	data := s.encode()
	var img Image
	if err := DecodeTIFF(data, "r.tif", &img); err != nil {
		t.Fatal(err)
	}
	p := &img.Counts[0]
	allocs := testing.AllocsPerRun(20, func() {
		if err := DecodeTIFF(data, "r.tif", &img); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("DecodeTIFF into a pre-sized image: %v allocations, want 0", allocs)
	}
	if &img.Counts[0] != p {
		t.Error("Counts reallocated")
	}

	// A smaller frame reuses the buffer; a float frame switches to Values.
	small := randomTIFF(rand.New(rand.NewPCG(1, 1)), true, 16, sampleUint, 2, 3)
	if err := DecodeTIFF(small.encode(), "s.tif", &img); err != nil {
		t.Fatal(err)
	}
	if &img.Counts[0] != p || len(img.Counts) != 6 || img.Description != "" || img.DateTime != "" {
		t.Errorf("small frame: len %d, reused %v, %q %q", len(img.Counts), &img.Counts[0] == p, img.Description, img.DateTime)
	}
	counts, _ := small.expect()
	sameSamples(t, &img, counts, nil)
	fl := randomTIFF(rand.New(rand.NewPCG(1, 1)), false, 32, sampleFloat, 2, 3)
	if err := DecodeTIFF(fl.encode(), "f.tif", &img); err != nil {
		t.Fatal(err)
	}
	_, values := fl.expect()
	sameSamples(t, &img, nil, values)
}

func TestReadImageErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.tif")
	if _, err := ReadImage(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadImage(missing): %v", err)
	}
	var r ImageReader
	if err := r.ReadFile(missing, &Image{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile(missing): %v", err)
	}
	bad := filepath.Join(dir, "bad.tif")
	if err := os.WriteFile(bad, []byte("not a tiff"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadImage(bad)
	formatError(t, err, bad, "byte-order mark")
	formatError(t, r.ReadFile(bad, &Image{}), bad, "byte-order mark")
	if err := r.ReadFile(dir, &Image{}); err == nil {
		t.Error("ReadFile(directory): no error")
	}
}

func TestImageReaderSeries(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(13, 14))
	var paths []string
	var want [][]int32
	for i, rows := range []int{10, 30, 5} {
		img := &Image{Rows: rows, Cols: 9, Counts: make([]int32, rows*9), Description: fmt.Sprint("frame ", i)}
		for j := range img.Counts {
			img.Counts[j] = rng.Int32() - 1<<30
		}
		var buf bytes.Buffer
		if err := EncodeTIFF(&buf, img); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprint(i, ".tif"))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths, want = append(paths, p), append(want, img.Counts)
	}
	var r ImageReader
	var img Image
	for i, p := range paths {
		if err := r.ReadFile(p, &img); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(img.Counts, want[i]) || img.Description != fmt.Sprint("frame ", i) {
			t.Errorf("frame %d differs", i)
		}
		got, err := ReadImage(p)
		if err != nil || !slices.Equal(got.Counts, want[i]) {
			t.Errorf("ReadImage frame %d: %v", i, err)
		}
	}
}

// pilatusNegatives counts the pixels <= -1.
func pilatusNegatives(img *Image) int {
	n := 0
	for _, v := range img.Counts {
		if v <= -1 {
			n++
		}
	}
	return n
}

func TestReadPilatusFrame(t *testing.T) {
	for _, name := range []string{"buf1_00000.tif", "agbeh2_1M.tif"} {
		t.Run(name, func(t *testing.T) {
			path := sharedData(t, name)
			img, err := ReadImage(path)
			if err != nil {
				t.Fatal(err)
			}
			if img.Rows != 1043 || img.Cols != 981 || len(img.Counts) != 1043*981 || img.Values != nil {
				t.Fatalf("%d rows × %d cols, %d counts, values %v; want 1043 × 981 int32", img.Rows, img.Cols, len(img.Counts), img.Values != nil)
			}
			if !strings.Contains(img.Description, "Exposure_time") || strings.HasSuffix(img.Description, "\x00") {
				t.Errorf("Description = %q", img.Description)
			}
			if len(img.DateTime) != 19 {
				t.Errorf("DateTime = %q", img.DateTime)
			}
			if name == "buf1_00000.tif" {
				if n := pilatusNegatives(img); n != 73671 {
					t.Errorf("%d pixels <= -1, want 73671", n)
				}
				if img.DateTime != "2014:01:31 12:26:52" {
					t.Errorf("DateTime = %q", img.DateTime)
				}
			}
			// Independent decoding of the pixel data: the only strip starts at
			// offset 4096.
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 1, 981, 500000, len(img.Counts) - 1} {
				want := int32(binary.LittleEndian.Uint32(raw[4096+4*i:]))
				if img.Counts[i] != want {
					t.Errorf("pixel %d = %d, want %d", i, img.Counts[i], want)
				}
			}
			// The frame survives EncodeTIFF.
			var buf bytes.Buffer
			if err := EncodeTIFF(&buf, img); err != nil {
				t.Fatal(err)
			}
			var back Image
			if err := DecodeTIFF(buf.Bytes(), "copy.tif", &back); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.Counts, img.Counts) || back.Description != img.Description || back.DateTime != img.DateTime {
				t.Error("EncodeTIFF round trip differs")
			}
		})
	}
}

func TestReadPilatusTruncated(t *testing.T) {
	path := sharedData(t, "buf1_00000.tif")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var img Image
	err = DecodeTIFF(data[:3_000_000], path, &img)
	fe := formatError(t, err, path, "strip 0 (4092732 bytes) extends past end of file (3000000 bytes)")
	if fe.Offset != 4096 {
		t.Errorf("offset %d, want 4096", fe.Offset)
	}
	t.Log(err)
	for _, n := range []int{0, 4, 8, 100, 130, 131, 300, 600, 1000, 4096, 4100, len(data) - 1} {
		err := DecodeTIFF(data[:n], path, &img)
		formatError(t, err, path, "")
	}

	// The same through a file.
	short := filepath.Join(t.TempDir(), "buf1_short.tif")
	if err := os.WriteFile(short, data[:3_000_000], 0o644); err != nil {
		t.Fatal(err)
	}
	var r ImageReader
	formatError(t, r.ReadFile(short, &img), short, "offset 4096: strip 0")
	_, err = ReadImage(short)
	formatError(t, err, short, "offset 4096: strip 0")
}

func TestImageReaderAllocs(t *testing.T) {
	path := sharedData(t, "buf1_00000.tif")
	var r ImageReader
	var img Image
	if err := r.ReadFile(path, &img); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if err := r.ReadFile(path, &img); err != nil {
			t.Fatal(err)
		}
	})
	// os.Open and Stat allocate a few small objects; no buffers.
	if allocs > 8 {
		t.Errorf("ImageReader.ReadFile: %v allocations per frame", allocs)
	}
	if n := pilatusNegatives(&img); n != 73671 {
		t.Errorf("%d pixels <= -1, want 73671", n)
	}
}

// fuzzSeeds returns small valid TIFFs of every format, and truncations.
func fuzzSeeds() [][]byte {
	rng := rand.New(rand.NewPCG(15, 16))
	var seeds [][]byte
	for _, big := range []bool{false, true} {
		for _, f := range allSampleFormats {
			s := randomTIFF(rng, big, f.bits, f.format, 3, 2)
			s.rowsPerStrip = 2
			s.ifdLast = big
			s.description = "d"
			data := s.encode()
			seeds = append(seeds, data, data[:len(data)-1], data[:len(data)/2])
		}
	}
	var buf bytes.Buffer
	_ = EncodeTIFF(&buf, &Image{Rows: 2, Cols: 2, Counts: []int32{-1, 0, 1, 2}, Description: "Exposure_time", DateTime: "2014:01:31 12:26:52"})
	return append(seeds, buf.Bytes())
}

func FuzzDecodeTIFF(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var img Image
		err := DecodeTIFF(data, "fuzz.tif", &img)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "fuzz.tif" || fe.Offset < 0 || fe.Offset > int64(max(len(data), 1<<32)) {
				t.Fatalf("error %v (%T)", err, err)
			}
			return
		}
		n := img.Rows * img.Cols
		if img.Rows <= 0 || img.Cols <= 0 || (img.Counts == nil) == (img.Values == nil) ||
			max(len(img.Counts), len(img.Values)) != n {
			t.Fatalf("%d×%d image with %d counts, %d values", img.Rows, img.Cols, len(img.Counts), len(img.Values))
		}
		// Decoding into a used image of another kind gives the same result.
		reused := &Image{Counts: make([]int32, 3, n+5), Values: make([]float64, 2, n+5), Description: "x", DateTime: "y"}
		if err := DecodeTIFF(data, "fuzz.tif", reused); err != nil {
			t.Fatal(err)
		}
		if reused.Rows != img.Rows || reused.Cols != img.Cols || !slices.Equal(reused.Counts, img.Counts) ||
			len(reused.Values) != len(img.Values) || reused.Description != img.Description || reused.DateTime != img.DateTime {
			t.Fatal("decoding into a reused image differs")
		}
	})
}

func BenchmarkReadFilePilatus1M(b *testing.B) {
	path := sharedData(b, "buf1_00000.tif")
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(fi.Size())
	for b.Loop() {
		if _, err := os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadTIFFPilatus1M(b *testing.B) {
	path := sharedData(b, "buf1_00000.tif")
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	var r ImageReader
	var img Image
	b.ReportAllocs()
	b.SetBytes(fi.Size())
	for b.Loop() {
		if err := r.ReadFile(path, &img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTIFFPilatus1M(b *testing.B) {
	data, err := os.ReadFile(sharedData(b, "buf1_00000.tif"))
	if err != nil {
		b.Fatal(err)
	}
	var img Image
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := DecodeTIFF(data, "buf1_00000.tif", &img); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCheckFile checks ImageReader.CheckFile against decoding the whole
// file: for every truncation of frames in each sample format and byte
// order, with the IFD before or after the samples and with tag values
// beyond its first 4 KB window (a 9 KB description), it fails exactly when
// DecodeTIFF fails, with the same error, and passes the whole files.
func TestCheckFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	dir := t.TempDir()
	var r ImageReader
	long := strings.Repeat("# Exposure_time 1.0 s\r\n", 400)
	for _, big := range []bool{false, true} {
		for _, f := range allSampleFormats {
			for _, ifdLast := range []bool{false, true} {
				s := randomTIFF(rng, big, f.bits, f.format, 40, 30)
				s.rowsPerStrip = 7
				s.ifdLast = ifdLast
				s.description = long
				data := s.encode()
				path := filepath.Join(dir, "c.tif")
				for n := len(data); n >= 0; n -= 1 + n/50 {
					require.NoError(t, os.WriteFile(path, data[:n], 0o644))
					var img Image
					werr := DecodeTIFF(data[:n], path, &img)
					cerr := r.CheckFile(path)
					if n == len(data) {
						require.NoError(t, werr)
					}
					if (werr == nil) != (cerr == nil) || werr != nil && werr.Error() != cerr.Error() {
						t.Fatalf("big=%v %v ifdLast=%v, %d of %d bytes: DecodeTIFF %v; CheckFile %v",
							big, f, ifdLast, n, len(data), werr, cerr)
					}
				}
			}
		}
	}
	err := r.CheckFile(filepath.Join(dir, "missing.tif"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	err = r.CheckFile(dir)
	require.ErrorIs(t, err, ErrNotRegular)
}

// TestCheckFilePilatus checks CheckFile on a real Pilatus 1M frame: the
// whole frame passes, and the truncations TestReadPilatusTruncated reads
// fail with ReadFile's error.
func TestCheckFilePilatus(t *testing.T) {
	path := sharedData(t, "buf1_00000.tif")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var r ImageReader
	require.NoError(t, r.CheckFile(path))
	short := filepath.Join(t.TempDir(), "buf1_short.tif")
	var img Image
	for _, n := range []int{0, 4, 8, 100, 130, 131, 300, 600, 1000, 4096, 4100, 3_000_000, len(data) - 1} {
		require.NoError(t, os.WriteFile(short, data[:n], 0o644))
		rerr := r.ReadFile(short, &img)
		cerr := r.CheckFile(short)
		require.Error(t, rerr, "%d bytes", n)
		require.EqualError(t, cerr, rerr.Error(), "%d bytes", n)
	}
}
