package saxs

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// cbfFile builds a mini-CBF with the given MIME header lines and binary
// data (written here by hand, following the CBF definition).
func cbfFile(mime string, bin []byte) []byte {
	s := "###CBF: VERSION 1.5\r\ndata_t\r\n_array_data.header_convention PILATUS_1.2\r\n_array_data.header_contents\r\n;\r\n" +
		"# Exposure_time 2 s\r\n# Wavelength 1.0 A\r\n;\r\n_array_data.data\r\n;\r\n--CIF-BINARY-FORMAT-SECTION--\r\n" +
		mime + "\r\n" + cbfBinaryStart
	return append(append([]byte(s), bin...), "\r\n--CIF-BINARY-FORMAT-SECTION----\r\n;\r\n"...)
}

// cbfMime returns a MIME header for a byte-offset section.
func cbfMime(size, fast, second int, extra string) string {
	return "Content-Type: application/octet-stream;\r\n     conversions=\"x-CBF_BYTE_OFFSET\"\r\n" +
		fmt.Sprintf("X-Binary-Size: %d\r\nX-Binary-Element-Type: \"signed 32-bit integer\"\r\nX-Binary-Element-Byte-Order: LITTLE_ENDIAN\r\n", size) +
		fmt.Sprintf("X-Binary-Size-Fastest-Dimension: %d\r\nX-Binary-Size-Second-Dimension: %d\r\n", fast, second) + extra
}

// edfFile builds an EDF file with the given header lines and data, the
// header padded to 512 bytes.
func edfFile(keys string, data []byte) []byte {
	h := "{\n" + keys
	h += strings.Repeat(" ", 510-len(h)%512) + "}\n"
	return append([]byte(h), data...)
}

// TestByteOffsetHandWritten decodes a stream written by hand: deltas of
// 1, 2 and 4 bytes and an 8-byte one, to the values 1, 2, 1002, -70002,
// 7 (through the 8-byte form) and 7.
func TestByteOffsetHandWritten(t *testing.T) {
	bin := []byte{
		0x01,             // +1 → 1
		0x01,             // +1 → 2
		0x80, 0xe8, 0x03, // +1000 → 1002
		0x80, 0x00, 0x80, 0xa4, 0xea, 0xfe, 0xff, // +(-71004) → -70002
		0x80, 0x00, 0x80, 0x00, 0x00, 0x00, 0x80, 0x79, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // +70009 (8-byte form) → 7
		0x00, // +0 → 7
	}
	data := cbfFile(cbfMime(len(bin), 3, 2, ""), bin)
	var img Image
	fi, err := DecodeCBF(data, "hand.cbf", &img)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{1, 2, 1002, -70002, 7, 7}
	if img.Rows != 2 || img.Cols != 3 || fmt.Sprint(img.Counts) != fmt.Sprint(want) {
		t.Errorf("got %d×%d %v, want 2×3 %v", img.Rows, img.Cols, img.Counts, want)
	}
	if fi.ExposureTime != 2 || fi.Wavelength != 1 {
		t.Errorf("info %+v, want exposure 2 s, wavelength 1 Å", fi)
	}
}

// TestHostileHeaders: sizes that do not match the data, dimensions in the
// billions and compressed sizes past the end give a *FormatError naming
// the file and the field, without a large allocation.
func TestHostileHeaders(t *testing.T) {
	ints := make([]byte, 4*6)
	for _, tc := range []struct {
		name   string
		data   []byte
		decode func([]byte, string, *Image) (FrameInfo, error)
		field  string
		unsup  bool
	}{
		{"cbf size past end", cbfFile(cbfMime(1<<40, 3, 2, ""), []byte{1, 1, 1, 1, 1, 1}), DecodeCBF, "X-Binary-Size", false},
		{"cbf fast in the billions", cbfFile(cbfMime(6, 3000000000, 2, ""), []byte{1, 1, 1, 1, 1, 1}), DecodeCBF, "X-Binary-Size-Fastest-Dimension", false},
		{"cbf image in the billions", cbfFile(cbfMime(6, 100000, 100000, ""), []byte{1, 1, 1, 1, 1, 1}), DecodeCBF, "X-Binary-Size-Second-Dimension", false},
		{"cbf element count", cbfFile(cbfMime(6, 3, 2, "X-Binary-Number-of-Elements: 7\r\n"), []byte{1, 1, 1, 1, 1, 1}), DecodeCBF, "X-Binary-Number-of-Elements", false},
		{"cbf size too small", cbfFile(cbfMime(4, 3, 2, ""), []byte{1, 1, 1, 1, 1, 1}), DecodeCBF, "X-Binary-Size", false},
		{"cbf stream ends in an escape", cbfFile(cbfMime(6, 3, 2, ""), []byte{1, 1, 1, 1, 1, 0x80}), DecodeCBF, "X-Binary-Size", false},
		{"cbf value overflow", cbfFile(cbfMime(24, 3, 2, ""), []byte{0x80, 0, 0x80, 0xff, 0xff, 0xff, 0x7f, 0x80, 0, 0x80, 0xff, 0xff, 0xff, 0x7f, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}), DecodeCBF, "out of range", false},
		{"cbf size not a number", cbfFile(cbfMime(6, 3, 2, "")+"X-Binary-Size: -5\r\n", []byte{1, 1, 1, 1, 1, 1}), DecodeCBF, "X-Binary-Size", false},
		{"cbf packed", cbfFile(strings.Replace(cbfMime(6, 3, 2, ""), "x-CBF_BYTE_OFFSET", "x-CBF_PACKED", 1), []byte{1, 1, 1, 1, 1, 1}), DecodeCBF, "x-CBF_PACKED", true},
		{"cbf unsigned 32", cbfFile(strings.Replace(cbfMime(6, 3, 2, ""), "signed 32-bit", "unsigned 32-bit", 1), []byte{1, 1, 1, 1, 1, 1}), DecodeCBF, "X-Binary-Element-Type", true},
		{"cbf no binary section", []byte("###CBF: VERSION 1.5\r\ndata_t\r\n"), DecodeCBF, "CIF binary section", false},
		{"edf dim in the billions", edfFile("ByteOrder = LowByteFirst ;\nDataType = SignedInteger ;\nDim_1 = 3000000000 ;\nDim_2 = 2 ;\nSize = 24 ;\n", ints), DecodeEDF, "Dim_1", false},
		{"edf image in the billions", edfFile("ByteOrder = LowByteFirst ;\nDataType = SignedInteger ;\nDim_1 = 100000 ;\nDim_2 = 100000 ;\nSize = 24 ;\n", ints), DecodeEDF, "Dim_2", false},
		{"edf size mismatch", edfFile("ByteOrder = LowByteFirst ;\nDataType = SignedInteger ;\nDim_1 = 3 ;\nDim_2 = 2 ;\nSize = 20 ;\n", ints), DecodeEDF, "Size", false},
		{"edf size past end", edfFile("ByteOrder = LowByteFirst ;\nDataType = DoubleValue ;\nDim_1 = 3 ;\nDim_2 = 2 ;\nSize = 48 ;\n", ints), DecodeEDF, "Size", false},
		{"edf data past end, no Size", edfFile("ByteOrder = LowByteFirst ;\nDataType = DoubleValue ;\nDim_1 = 3 ;\nDim_2 = 2 ;\n", ints), DecodeEDF, "Dim_1 × Dim_2", false},
		{"edf data type", edfFile("ByteOrder = LowByteFirst ;\nDataType = Complex ;\nDim_1 = 3 ;\nDim_2 = 2 ;\n", ints), DecodeEDF, "DataType", true},
		{"edf byte order", edfFile("ByteOrder = Middle ;\nDataType = SignedInteger ;\nDim_1 = 3 ;\nDim_2 = 2 ;\n", ints), DecodeEDF, "ByteOrder", false},
		{"edf no closing brace", []byte("{\nDim_1 = 3 ;\n"), DecodeEDF, "'}'", false},
		{"edf compressed", edfFile("ByteOrder = LowByteFirst ;\nDataType = SignedInteger ;\nDim_1 = 3 ;\nDim_2 = 2 ;\nCompression = gzip ;\n", ints), DecodeEDF, "Compression", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "hostile-" + strings.ReplaceAll(tc.name, " ", "-")
			var img Image
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			_, err := tc.decode(tc.data, name, &img)
			runtime.ReadMemStats(&ms1)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a *FormatError", err)
			}
			if fe.File != name || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name the file %s and %q", err, name, tc.field)
			}
			var ue *UnsupportedError
			if errors.As(err, &ue) != tc.unsup {
				t.Errorf("error %q: UnsupportedError %v, want %v", err, !tc.unsup, tc.unsup)
			}
			if a := ms1.TotalAlloc - ms0.TotalAlloc; a > 1<<20 {
				t.Errorf("decoding allocated %d bytes", a)
			}
		})
	}
}

// FuzzDecodeCBF: no input makes the CBF decoder panic or return an image
// that disagrees with its own size.
func FuzzDecodeCBF(f *testing.F) {
	f.Add(cbfFile(cbfMime(6, 3, 2, ""), []byte{1, 1, 1, 1, 1, 1}))
	f.Add(cbfFile(cbfMime(8, 2, 2, "X-Binary-Number-of-Elements: 4\r\n"), []byte{0x80, 0xe8, 0x03, 1, 1, 0x80, 0x00, 0x80}))
	f.Add(cbfFile(cbfMime(3, 1, 1, ""), []byte{0x80, 0x00, 0x80}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var img Image
		if _, err := DecodeCBF(data, "fuzz.cbf", &img); err == nil && len(img.Counts) != img.Rows*img.Cols {
			t.Fatalf("%d×%d image with %d samples", img.Rows, img.Cols, len(img.Counts))
		}
	})
}

// FuzzDecodeEDF: no input makes the EDF reader panic, on the first image
// or on all of them.
func FuzzDecodeEDF(f *testing.F) {
	f.Add(edfFile("ByteOrder = LowByteFirst ;\nDataType = SignedInteger ;\nDim_1 = 3 ;\nDim_2 = 2 ;\nSize = 24 ;\n", make([]byte, 24)))
	f.Add(edfFile("ByteOrder = HighByteFirst ;\nDataType = FloatValue ;\nDim_1 = 1 ;\nDim_2 = 2 ;\n", make([]byte, 8)))
	two := edfFile("ByteOrder = LowByteFirst ;\nDataType = UnsignedShort ;\nDim_1 = 2 ;\nDim_2 = 1 ;\n", make([]byte, 4))
	f.Add(append(two, two...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var img Image
		if _, err := DecodeEDF(data, "fuzz.edf", &img); err == nil && img.Len() != max(len(img.Counts), len(img.Values)) {
			t.Fatalf("%d×%d image with %d/%d samples", img.Rows, img.Cols, len(img.Counts), len(img.Values))
		}
		src, err := OpenFramesBytes(data, "fuzz.edf")
		if err != nil {
			return
		}
		for i := 0; i < src.Len(); i++ {
			if err := src.ReadFrame(i, &img); err != nil {
				t.Fatalf("frame %d of an opened file: %v", i, err)
			}
		}
	})
}

// hostileH5Writer writes, with h5py, HDF5 files whose headers or chunks
// lie: argv[1]/<case>.h5 each with /entry/data/data.
const hostileH5Writer = `
import sys, os, numpy as np, h5py, bitshuffle.h5 as bsh
d = sys.argv[1]
def path(n): return os.path.join(d, n + ".h5")
# Frames of 3 billion rows: nothing written, the file stays small.
with h5py.File(path("dims"), "w") as f:
    f.create_dataset("entry/data/data", shape=(1, 3000000000, 1), dtype="<i4", chunks=(1, 1000, 1))
# An unfiltered chunk of 10 bytes for a 4x5 int32 chunk.
with h5py.File(path("rawsize"), "w") as f:
    ds = f.create_dataset("entry/data/data", shape=(1, 4, 5), dtype="<i4", chunks=(1, 4, 5))
    ds.id.write_direct_chunk((0, 0, 0), b"0123456789")
def bs(name, payload):
    with h5py.File(path(name), "w") as f:
        ds = f.create_dataset("entry/data/data", shape=(1, 16, 16), dtype="<u4", chunks=(1, 16, 16),
                              compression=bsh.H5FILTER, compression_opts=(0, bsh.H5_COMPRESS_LZ4))
        ds.id.write_direct_chunk((0, 0, 0), payload)
# Bitshuffle header claiming 2^40 decoded bytes; a block whose compressed size runs past the chunk.
bs("bstotal", (1 << 40).to_bytes(8, "big") + (8192).to_bytes(4, "big") + b"\x00" * 16)
bs("bsblock", (1024).to_bytes(8, "big") + (1024).to_bytes(4, "big") + (0x7fffffff).to_bytes(4, "big") + b"\x00" * 16)
# A gzip stack cut short: its chunk extends past the end of the file.
with h5py.File(path("cut"), "w") as f:
    f.create_dataset("entry/data/data", data=np.random.default_rng(2).integers(0, 1000, (2, 64, 64)).astype("<i4"),
                     chunks=(1, 64, 64), compression="gzip")
n = os.path.getsize(path("cut"))
with open(path("cut"), "r+b") as f:
    f.truncate(n - 3000)
`

// TestHostileHDF5Files: HDF5 files written by h5py whose sizes lie give a
// *FormatError naming the file and the field at OpenFrames or ReadFrame,
// with no large allocation.
func TestHostileHDF5Files(t *testing.T) {
	dir := t.TempDir()
	runPython(t, []string{"numpy", "h5py", "bitshuffle.h5"}, hostileH5Writer, dir)
	for _, tc := range []struct {
		name, field string
		unsup       bool
	}{
		{"dims", "3000000000", true},
		{"rawsize", "unfiltered chunk of 10 bytes", false},
		{"bstotal", "decoded size 1099511627776", false},
		{"bsblock", "compressed size 2147483647 past the end", false},
		{"cut", "extends past the end of the file", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".h5")
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			src, err := OpenFrames(p)
			if err == nil {
				var img Image
				for i := 0; i < src.Len() && err == nil; i++ {
					err = src.ReadFrame(i, &img)
				}
				src.Close()
			}
			runtime.ReadMemStats(&ms1)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a *FormatError", err)
			}
			if fe.File != p || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name the file %s and %q", err, p, tc.field)
			}
			var ue *UnsupportedError
			if errors.As(err, &ue) != tc.unsup {
				t.Errorf("error %q: UnsupportedError %v, want %v", err, !tc.unsup, tc.unsup)
			}
			if a := ms1.TotalAlloc - ms0.TotalAlloc; a > 8<<20 {
				t.Errorf("allocated %d bytes", a)
			}
		})
	}
}
