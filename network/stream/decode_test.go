package stream

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/saxsdog/saxs"
)

// sampleFrames returns the bundled sample frames (128×160 Pilatus-like
// TIFFs).
func sampleFrames(t testing.TB) []*saxs.Image {
	t.Helper()
	paths, err := filepath.Glob("../../testdata/sample/frames/*/*.tif")
	if err != nil || len(paths) == 0 {
		t.Fatalf("sample frames: %v (%d)", err, len(paths))
	}
	slices.Sort(paths)
	var out []*saxs.Image
	for _, p := range paths {
		img, err := saxs.ReadImage(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, img)
	}
	return out
}

// synthetic returns a rows×cols frame with counts of a closed form
// (including the all-ones value -1 and values above 16 bits when big).
func synthetic(rows, cols int, big bool) *saxs.Image {
	img := &saxs.Image{Rows: rows, Cols: cols, Counts: make([]int32, rows*cols)}
	for i := range img.Counts {
		v := int32((i*37)%1000 + i%7)
		if big && i%11 == 0 {
			v = 70000 + int32(i)
		}
		if i%97 == 5 {
			v = -1
		}
		img.Counts[i] = v
	}
	return img
}

// wantCounts is what a frame decodes to from an element size: 16-bit
// values wrap (the all-ones -1 becomes 65535).
func wantCounts(img *saxs.Image, es int) []int32 {
	out := make([]int32, len(img.Counts))
	for i, v := range img.Counts {
		if es == 2 {
			out[i] = int32(uint16(v))
		} else {
			out[i] = v
		}
	}
	return out
}

// TestRoundTrip: every version, element size and encoding: what the
// encoder sends decodes to the frame's counts, and the header's fields
// come back.
func TestRoundTrip(t *testing.T) {
	mask := &saxs.Mask{Rows: 33, Cols: 21, Masked: make([]bool, 33*21)}
	for i := range mask.Masked {
		mask.Masked[i] = i%13 == 0
	}
	for _, v := range []Version{V1, V2} {
		for _, es := range []int{2, 4} {
			for _, enc := range []Encoding{EncNone, EncLZ4Block, EncLZ4, EncBSLZ4} {
				s := Series{Version: v, ID: 7, NImages: 3, Rows: 33, Cols: 21, ElemSize: es, Encoding: enc, PixelMask: mask, CountCutoff: 5000,
					Wavelength: 1.54, DetectorDistance: 1.25, BeamCenter: [2]float64{10.5, 20.25}}
				if s.Check() != nil {
					continue // lz4< is v1 only, HDF5-framed lz4 v2 only
				}
				name := s.typeName() + "/" + enc.String()
				img := synthetic(33, 21, es == 4)
				hp, err := s.EncodeHeader()
				if err != nil {
					t.Fatal(err)
				}
				m, err := Decode(hp, Limits{})
				if err != nil {
					t.Fatalf("v%d %s header: %v", v, name, err)
				}
				h := m.Header
				if m.Kind != KindHeader || h.Series != 7 || h.Expected() != 3 || h.Rows != 33 || h.Cols != 21 || h.CountCutoff != 5000 ||
					h.PixelMask == nil || !slices.Equal(h.PixelMask.Masked, mask.Masked) ||
					h.FrameInfo() != (saxs.FrameInfo{Wavelength: 1.54, DetectorDistance: 1250, BeamCenter: [2]float64{10.5, 20.25}, HasBeamCenter: true}) {
					t.Fatalf("v%d %s header %+v", v, name, h)
				}
				ip, err := s.EncodeImage(2, img)
				if err != nil {
					t.Fatal(err)
				}
				m, err = Decode(ip, Limits{})
				if err != nil {
					t.Fatalf("v%d %s image: %v", v, name, err)
				}
				if m.Kind != KindImage || m.Image.Frame != 2 || m.Image.Series != 7 || m.Image.Encoding != enc || m.Image.ElemSize != es {
					t.Fatalf("v%d %s image %+v", v, name, m.Image)
				}
				var d FrameDecoder
				var got saxs.Image
				if err := d.Decode(m.Image, &got); err != nil {
					t.Fatalf("v%d %s decode: %v", v, name, err)
				}
				if got.Rows != 33 || got.Cols != 21 || !slices.Equal(got.Counts, wantCounts(img, es)) {
					t.Fatalf("v%d %s: decoded counts differ", v, name)
				}
				ep, _ := s.EncodeEnd()
				if m, err = Decode(ep, Limits{}); err != nil || m.Kind != KindEnd || m.End.Series != 7 {
					t.Fatalf("v%d end: %+v %v", v, m, err)
				}
			}
		}
	}
}

// TestSaturated: pixels at or above the cutoff and not masked already,
// by hand.
func TestSaturated(t *testing.T) {
	img := &saxs.Image{Rows: 1, Cols: 6, Counts: []int32{1, 10, 11, -1, 9, 100}}
	pre := &saxs.Mask{Rows: 1, Cols: 6, Masked: []bool{false, false, false, false, false, true}}
	m := Saturated(img, 4, false, 10, pre)
	if want := []bool{false, true, true, true, false, true}; m == nil || !slices.Equal(m.Masked, want) {
		t.Fatalf("Saturated = %v, want %v", m, want)
	}
	if m := Saturated(img, 4, true, 10, pre); m == nil || m.Masked[3] {
		t.Fatalf("signed: -1 is not saturated: %v", m)
	}
	if m := Saturated(img, 4, false, 1000, pre); m == nil || !slices.Equal(m.Masked, []bool{false, false, false, true, false, true}) {
		t.Fatalf("above 1000 only the all-ones -1 (4294967295): %v", m)
	}
	if m := Saturated(img, 4, true, 1000, pre); m != nil {
		t.Fatalf("signed: nothing above 1000 outside the mask: %v", m)
	}
	if m := Saturated(img, 4, false, 0, nil); m != nil {
		t.Fatal("cutoff 0 masks nothing")
	}
}

// TestTracker: gaps, late frames, frames missing at the end, images of
// another series.
func TestTracker(t *testing.T) {
	var tr Tracker
	h := &Header{Series: 3, NImages: 10, NTrigger: 1}
	tr.Add(&Message{Kind: KindHeader, Header: h})
	var gaps []int64
	var late int
	for _, f := range []int64{0, 1, 2, 5, 6, 4, 7} {
		ev := tr.Add(&Message{Kind: KindImage, Image: &Image{Series: 3, Frame: f}})
		if ev.Gap > 0 {
			gaps = append(gaps, ev.Gap)
		}
		if ev.Late {
			late++
		}
	}
	if ev := tr.Add(&Message{Kind: KindImage, Image: &Image{Series: 4, Frame: 8}}); !ev.Stray {
		t.Fatal("an image of another series is stray")
	}
	ev := tr.Add(&Message{Kind: KindEnd, End: &End{Series: 3}})
	s := ev.Summary
	// 0 1 2 5 6 4 7 of 10: 3 and 4 skipped (gap 2), 4 came late, 8 and 9
	// never came: dropped 1 + 2, received 7, missing 3.
	if !slices.Equal(gaps, []int64{2}) || late != 1 || s == nil || s.Received != 7 || s.Expected != 10 || s.Dropped != 3 || s.Late != 1 || s.Missing() != 3 || tr.Stray() != 1 {
		t.Fatalf("gaps %v late %d summary %+v stray %d", gaps, late, s, tr.Stray())
	}
}

// TestHostile: malformed and hostile messages give a *DecodeError naming
// the part and field, and never a panic or a large allocation.
func TestHostile(t *testing.T) {
	s := Series{Version: V1, ID: 1, NImages: 1, Rows: 4, Cols: 4, ElemSize: 4, Encoding: EncBSLZ4}
	good, _ := s.EncodeImage(0, synthetic(4, 4, false))
	s2 := s
	s2.Version = V2
	goodV2, _ := s2.EncodeImage(0, synthetic(4, 4, false))
	with := func(i int, p string) [][]byte {
		out := slices.Clone(good)
		out[i] = []byte(p)
		return out
	}
	withData := func(p string) [][]byte {
		out := with(1, `{"htype": "dimage_d-1.0", "shape": [4, 4], "type": "uint32", "encoding": "bs32-lz4<"}`)
		out[2] = []byte(p)
		return out
	}
	cb := func(v any) [][]byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return [][]byte{b}
	}
	md := func(dims []any, tag uint64, content any) cbor.Tag {
		return cbor.Tag{Number: 40, Content: []any{dims, cbor.Tag{Number: tag, Content: content}}}
	}
	img := func(a any) [][]byte {
		return cb(map[string]any{"type": "image", "series_id": 1, "image_id": 0, "data": map[string]any{"threshold_1": a}})
	}
	for _, tc := range []struct {
		name      string
		parts     [][]byte
		part      int
		field     string
		decodeErr bool // the message decodes; its data does not
	}{
		{"empty", [][]byte{{}}, 0, "", false},
		{"bad JSON", [][]byte{[]byte(`{"htype": `)}, 0, "", false},
		{"no htype", [][]byte{[]byte(`{"series": 1}`)}, 0, "htype", false},
		{"unknown htype", [][]byte{[]byte(`{"htype": "dnothing-1.0"}`)}, 0, "htype", false},
		{"header no detail", [][]byte{[]byte(`{"htype": "dheader-1.0", "series": 1}`)}, 0, "header_detail", false},
		{"header huge detector", [][]byte{[]byte(`{"htype": "dheader-1.0", "series": 1, "header_detail": "basic"}`), []byte(`{"x_pixels_in_detector": 1e9, "y_pixels_in_detector": 1e9}`)}, 1, "x_pixels_in_detector", false},
		{"header negative count", [][]byte{[]byte(`{"htype": "dheader-1.0", "series": 1, "header_detail": "basic"}`), []byte(`{"nimages": -3}`)}, 1, "nimages", false},
		{"mask size", [][]byte{[]byte(`{"htype": "dheader-1.0", "series": 1, "header_detail": "all"}`), []byte(`{"x_pixels_in_detector": 4, "y_pixels_in_detector": 4}`), []byte(`{"htype": "dpixelmask-1.0", "shape": [4, 4], "type": "uint32"}`), make([]byte, 10)}, 3, "data", false},
		{"mask shape", [][]byte{[]byte(`{"htype": "dheader-1.0", "series": 1, "header_detail": "all"}`), []byte(`{"x_pixels_in_detector": 4, "y_pixels_in_detector": 4}`), []byte(`{"htype": "dpixelmask-1.0", "shape": [8, 2], "type": "uint32"}`), make([]byte, 64)}, 2, "shape", false},
		{"mask data missing", [][]byte{[]byte(`{"htype": "dheader-1.0", "series": 1, "header_detail": "all"}`), []byte(`{}`), []byte(`{"htype": "dpixelmask-1.0", "shape": [4, 4], "type": "uint32"}`)}, 3, "", false},
		{"image no frame", with(0, `{"htype": "dimage-1.0", "series": 1}`), 0, "frame", false},
		{"image parts", good[:2], 2, "", false},
		{"image_d htype", with(1, `{"htype": "dimage-1.0"}`), 1, "htype", false},
		{"shape overflow", with(1, `{"htype": "dimage_d-1.0", "shape": [4294967296, 4294967296], "type": "uint32", "encoding": "bs32-lz4<"}`), 1, "shape", false},
		{"shape zero", with(1, `{"htype": "dimage_d-1.0", "shape": [0, 4], "type": "uint32", "encoding": "<"}`), 1, "shape", false},
		{"shape one size", with(1, `{"htype": "dimage_d-1.0", "shape": [16], "type": "uint32", "encoding": "<"}`), 1, "shape", false},
		{"type", with(1, `{"htype": "dimage_d-1.0", "shape": [4, 4], "type": "float32", "encoding": "<"}`), 1, "type", false},
		{"encoding", with(1, `{"htype": "dimage_d-1.0", "shape": [4, 4], "type": "uint32", "encoding": "gzip"}`), 1, "encoding", false},
		{"encoding for type", with(1, `{"htype": "dimage_d-1.0", "shape": [4, 4], "type": "uint32", "encoding": "bs16-lz4<"}`), 1, "encoding", false},
		{"big-endian", with(1, `{"htype": "dimage_d-1.0", "shape": [4, 4], "type": "uint32", "encoding": ">"}`), 1, "encoding", false},
		{"size field", with(1, `{"htype": "dimage_d-1.0", "shape": [4, 4], "type": "uint32", "encoding": "bs32-lz4<", "size": 3}`), 1, "size", false},
		{"raw short", with(1, `{"htype": "dimage_d-1.0", "shape": [4, 4], "type": "uint32", "encoding": "<"}`), 2, "data", false},
		{"compressed too big", withData(strings.Repeat("x", 1<<14)), 2, "data", false},
		{"bslz4 garbage", withData("\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x40\x00\x00\x00\x05abcde"), 2, "data", true},
		{"bslz4 header size", withData("\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x40"), 2, "data", true},
		{"lz4 block garbage", append(with(1, `{"htype": "dimage_d-1.0", "shape": [4, 4], "type": "uint32", "encoding": "lz4<"}`)[:2], []byte("\xff\xff\xff"), good[3]), 2, "data", true},
		{"dconfig htype", with(3, `{"htype": "dimage-1.0"}`), 3, "htype", false},
		{"end no series", [][]byte{[]byte(`{"htype": "dseries_end-1.0"}`)}, 0, "series", false},
		{"v2 two parts", [][]byte{goodV2[0], goodV2[0]}, 1, "", false},
		{"v2 not CBOR", [][]byte{{0xff, 0x00}}, 0, "", false},
		{"v2 not a map", cb([]int{1, 2}), 0, "", false},
		{"v2 no type", cb(map[string]any{"series_id": 1}), 0, "type", false},
		{"v2 type", cb(map[string]any{"type": "nothing", "series_id": 1}), 0, "type", false},
		{"v2 series id", cb(map[string]any{"type": "end", "series_id": "one"}), 0, "series_id", false},
		{"v2 image id", cb(map[string]any{"type": "image", "series_id": 1, "image_id": -1}), 0, "image_id", false},
		{"v2 no data", cb(map[string]any{"type": "image", "series_id": 1, "image_id": 0}), 0, "data", false},
		{"v2 not tag 40", img([]byte("abc")), 0, "data.threshold_1", false},
		{"v2 dims", img(md([]any{uint64(4)}, 70, make([]byte, 64))), 0, "data.threshold_1.dimensions", false},
		{"v2 dims overflow", img(md([]any{uint64(1 << 40), uint64(1 << 40)}, 70, make([]byte, 64))), 0, "data.threshold_1.dimensions", false},
		{"v2 typed array tag", img(md([]any{uint64(4), uint64(4)}, 85, make([]byte, 64))), 0, "data.threshold_1.array", false},
		{"v2 raw size", img(md([]any{uint64(4), uint64(4)}, 70, make([]byte, 63))), 0, "data.threshold_1.data", false},
		{"v2 compression shape", img(md([]any{uint64(4), uint64(4)}, 70, cbor.Tag{Number: 56500, Content: []any{"bslz4", 4}})), 0, "data.threshold_1.compression", false},
		{"v2 compression algorithm", img(md([]any{uint64(4), uint64(4)}, 70, cbor.Tag{Number: 56500, Content: []any{"zstd", 4, []byte{1}}})), 0, "data.threshold_1.compression", false},
		{"v2 bslz4 element size", img(md([]any{uint64(4), uint64(4)}, 70, cbor.Tag{Number: 56500, Content: []any{"bslz4", 2, []byte{1}}})), 0, "data.threshold_1.compression", false},
		{"v2 bslz4 garbage", img(md([]any{uint64(4), uint64(4)}, 70, cbor.Tag{Number: 56500, Content: []any{"bslz4", 4, []byte("\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x40\xff\xff\xff\xff")}})), 0, "data", true},
		{"v2 lz4 garbage", img(md([]any{uint64(4), uint64(4)}, 70, cbor.Tag{Number: 56500, Content: []any{"lz4", 0, []byte("\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x40\x00\x00\x00\x04\xff\xff\xff\xff")}})), 0, "data", true},
		{"v2 pixel mask", cb(map[string]any{"type": "start", "series_id": 1, "image_size_x": 4, "image_size_y": 4, "pixel_mask": map[string]any{"threshold_1": md([]any{uint64(2), uint64(2)}, 70, make([]byte, 16))}}), 0, "pixel_mask.threshold_1", false},
		{"v2 nesting", [][]byte{append(slices.Repeat([]byte{0x81}, 100), 0x01)}, 0, "", false},
	} {
		m, err := Decode(tc.parts, Limits{})
		if tc.decodeErr {
			if err != nil {
				t.Errorf("%s: the message should decode: %v", tc.name, err)
				continue
			}
			var d FrameDecoder
			var img saxs.Image
			err = d.Decode(m.Image, &img)
		}
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%s: error %v (%T), want a *DecodeError", tc.name, err, err)
			continue
		}
		if de.Part != tc.part || de.Field != tc.field {
			t.Errorf("%s: %v: part %d field %q, want part %d field %q", tc.name, err, de.Part, de.Field, tc.part, tc.field)
		}
	}
}

// FuzzDecode: no message makes the decoders panic; what decodes has a
// bounded size and decompresses without panicking.
func FuzzDecode(f *testing.F) {
	for _, v := range []Version{V1, V2} {
		for _, enc := range []Encoding{EncNone, EncLZ4Block, EncLZ4, EncBSLZ4} {
			s := Series{Version: v, ID: 1, NImages: 1, Rows: 8, Cols: 8, ElemSize: 4, Encoding: enc, PixelMask: &saxs.Mask{Rows: 8, Cols: 8, Masked: make([]bool, 64)}}
			if s.Check() != nil {
				continue
			}
			h, _ := s.EncodeHeader()
			m, _ := s.EncodeImage(0, synthetic(8, 8, true))
			for _, parts := range [][][]byte{h, m} {
				if v == V2 {
					f.Add(parts[0], []byte(nil), []byte(nil), []byte(nil))
				} else {
					p := append(slices.Clone(parts), nil, nil, nil)
					f.Add(p[0], p[1], p[2], p[3])
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, a, b, c, d []byte) {
		parts := [][]byte{a}
		for _, p := range [][]byte{b, c, d} {
			if p != nil {
				parts = append(parts, p)
			}
		}
		lim := Limits{MaxPixels: 1 << 16}
		m, err := Decode(parts, lim)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		if m.Kind == KindImage {
			if m.Image.Rows*m.Image.Cols > lim.MaxPixels {
				t.Fatalf("%d×%d pixels past the limit", m.Image.Cols, m.Image.Rows)
			}
			var fd FrameDecoder
			var img saxs.Image
			_ = fd.Decode(m.Image, &img)
		}
	})
}

// TestLZ4SizePrefix: a v1 "lz4<" block preceded by its 4-byte
// little-endian size (python-lz4's old default) decodes too.
func TestLZ4SizePrefix(t *testing.T) {
	s := Series{Version: V1, ID: 1, NImages: 1, Rows: 16, Cols: 16, ElemSize: 4, Encoding: EncLZ4Block}
	img := synthetic(16, 16, true)
	msg, err := s.EncodeImage(0, img)
	if err != nil {
		t.Fatal(err)
	}
	prefixed := binary.LittleEndian.AppendUint32(nil, 16*16*4)
	msg[2] = append(prefixed, msg[2]...)
	msg[1] = []byte(`{"htype": "dimage_d-1.0", "shape": [16, 16], "type": "uint32", "encoding": "lz4<"}`)
	m, err := Decode(msg, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var d FrameDecoder
	var got saxs.Image
	if err := d.Decode(m.Image, &got); err != nil || !slices.Equal(got.Counts, img.Counts) {
		t.Fatalf("decode: %v; equal %v", err, slices.Equal(got.Counts, img.Counts))
	}
}

// TestEncoderAgainstPython: an independent decoder (Python's json, cbor2,
// lz4.block, bitshuffle) reads what the Go encoder (saxsstreamsim) sends,
// for every version and encoding, and gets the frame's counts.
func TestEncoderAgainstPython(t *testing.T) {
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import cbor2, lz4.block, bitshuffle, numpy").CombinedOutput(); err != nil {
		t.Skipf("the Python decoder needs python3-cbor2, python3-lz4, bitshuffle: %v: %s", err, out)
	}
	img := synthetic(37, 45, true) // 1665 pixels: a partial bitshuffle block and trailing elements
	dir := t.TempDir()
	for _, v := range []Version{V1, V2} {
		for _, es := range []int{2, 4} {
			for _, enc := range []Encoding{EncNone, EncLZ4Block, EncLZ4, EncBSLZ4} {
				s := Series{Version: v, ID: 1, NImages: 1, Rows: 37, Cols: 45, ElemSize: es, Encoding: enc}
				if s.Check() != nil || v == V1 && enc == EncNone {
					continue
				}
				msg, err := s.EncodeImage(3, img)
				if err != nil {
					t.Fatal(err)
				}
				var args []string
				for i, p := range msg {
					f := filepath.Join(dir, fmt.Sprintf("part%d", i))
					if err := os.WriteFile(f, p, 0o644); err != nil {
						t.Fatal(err)
					}
					args = append(args, f)
				}
				out, err := exec.Command(py, append([]string{"testdata/pydecode.py"}, args...)...).Output()
				if err != nil {
					t.Fatalf("v%d %d-byte %v: Python: %v", v, es, enc, err)
				}
				var got struct {
					Frame, Rows, Cols int
					Counts            []int64
				}
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatal(err)
				}
				want := make([]int64, len(img.Counts))
				for i, c := range img.Counts {
					if es == 2 {
						want[i] = int64(uint16(c))
					} else {
						want[i] = int64(uint32(c))
					}
				}
				if got.Frame != 3 || got.Rows != 37 || got.Cols != 45 || !slices.Equal(got.Counts, want) {
					t.Errorf("v%d %d-byte %v: Python read frame %d of %d×%d, counts equal %v", v, es, enc, got.Frame, got.Cols, got.Rows, slices.Equal(got.Counts, want))
				}
			}
		}
	}
}
