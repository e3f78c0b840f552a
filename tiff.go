package saxs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"unsafe"
)

// TIFF tags read or written by this package.
const (
	tagImageWidth       = 256
	tagImageLength      = 257
	tagBitsPerSample    = 258
	tagCompression      = 259
	tagPhotometric      = 262
	tagImageDescription = 270
	tagStripOffsets     = 273
	tagSamplesPerPixel  = 277
	tagRowsPerStrip     = 278
	tagStripByteCounts  = 279
	tagDateTime         = 306
	tagTileWidth        = 322
	tagTileOffsets      = 324
	tagSampleFormat     = 339
)

// TIFF field types.
const (
	tiffByte      = 1
	tiffASCII     = 2
	tiffShort     = 3
	tiffLong      = 4
	tiffRational  = 5
	tiffSByte     = 6
	tiffUndefined = 7
	tiffSShort    = 8
	tiffSLong     = 9
	tiffSRational = 10
	tiffFloat     = 11
	tiffDouble    = 12
)

// TIFF SampleFormat values.
const (
	sampleUint  = 1
	sampleInt   = 2
	sampleFloat = 3
)

// maxPixels bounds the number of pixels of a decoded image or mask
// (256 Mi pixels, 1 GiB of int32 samples): larger sizes are taken to be
// corrupt headers rather than detector frames.
const maxPixels = 1 << 28

// tiffTypeSize returns the size in bytes of one value of TIFF field type t,
// or 0 for an unknown type.
func tiffTypeSize(t uint16) int64 {
	switch t {
	case tiffByte, tiffASCII, tiffSByte, tiffUndefined:
		return 1
	case tiffShort, tiffSShort:
		return 2
	case tiffLong, tiffSLong, tiffFloat:
		return 4
	case tiffRational, tiffSRational, tiffDouble:
		return 8
	}
	return 0
}

// tiffTagName names the tags the decoder reads, for error messages.
func tiffTagName(tag uint16) string {
	switch tag {
	case tagImageWidth:
		return "ImageWidth"
	case tagImageLength:
		return "ImageLength"
	case tagBitsPerSample:
		return "BitsPerSample"
	case tagCompression:
		return "Compression"
	case tagPhotometric:
		return "PhotometricInterpretation"
	case tagImageDescription:
		return "ImageDescription"
	case tagStripOffsets:
		return "StripOffsets"
	case tagSamplesPerPixel:
		return "SamplesPerPixel"
	case tagRowsPerStrip:
		return "RowsPerStrip"
	case tagStripByteCounts:
		return "StripByteCounts"
	case tagDateTime:
		return "DateTime"
	case tagSampleFormat:
		return "SampleFormat"
	}
	return fmt.Sprintf("tag %d", tag)
}

// compressionName names the common TIFF compression schemes.
func compressionName(c uint32) string {
	switch c {
	case 2:
		return " (CCITT RLE)"
	case 3, 4:
		return " (CCITT fax)"
	case 5:
		return " (LZW)"
	case 6, 7:
		return " (JPEG)"
	case 8, 32946:
		return " (Deflate)"
	case 32773:
		return " (PackBits)"
	case 34925:
		return " (LZMA)"
	case 50000:
		return " (Zstd)"
	}
	return ""
}

// tiffEntry is one IFD entry the decoder uses.
type tiffEntry struct {
	present bool
	typ     uint16
	count   int64
	pos     int // file offset of the 12-byte entry
	val     int // file offset of the value data, inline or pointed to
}

// tiffDecoder holds the state of one decoding: of a file held in data, or
// of a file read through r (of size bytes) with bounded memory: only the
// header, the IFD and the tag values it needs are read, in windows, and
// then each strip.
type tiffDecoder struct {
	data   []byte      // the whole file (DecodeTIFF), or nil
	r      io.ReaderAt // the file (ReadImage, ImageReader), or nil
	size   int64       // file size: len(data), or the size of r
	win    []byte      // r: bytes win0 .. win0+len(win) of the file
	win0   int64
	spare  []byte                 // r: a buffer the first window may reuse
	window int                    // r: the size of a window, tiffWindow if 0
	strips []byte                 // r: buffer for one strip, reused
	check  func(tiffLayout) error // if not nil, may refuse the layout before the pixels are read
	name   string
	big    bool // big-endian ("MM")
	// direct lets 32-bit little-endian integer strips be read straight
	// into Image.Counts on a little-endian host (readStripsInto); the
	// general path converts sample by sample through a buffer.
	direct bool
}

// tiffWindow is the size of the windows in which a file's metadata is read.
const tiffWindow = 64 << 10

// checkWindow is the window size of ImageReader.CheckFile.
const checkWindow = 4 << 10

// tiffChunk is the number of samples read from a file at a time.
const tiffChunk = 256 << 10

// maxTIFFText bounds the ASCII tags read (ImageDescription, DateTime).
const maxTIFFText = 1 << 20

// tiffReadError carries an I/O error out of the decoder's byte accessors,
// which have no error result; decode recovers it.
type tiffReadError struct{ err error }

// at returns bytes off .. off+n of the file; the caller has checked that
// they lie inside it. The slice stays valid until the decoding ends (a
// window is never overwritten during one decoding).
func (d *tiffDecoder) at(off int64, n int) []byte {
	if d.r == nil {
		return d.data[off : off+int64(n)]
	}
	if off >= d.win0 && off+int64(n) <= d.win0+int64(len(d.win)) {
		return d.win[off-d.win0:][:n]
	}
	win := tiffWindow
	if d.window > 0 {
		win = d.window
	}
	m := int(min(int64(max(n, win)), d.size-off))
	var buf []byte
	if cap(d.spare) >= m {
		buf, d.spare = d.spare[:m], nil
	} else {
		buf = make([]byte, m)
	}
	if _, err := d.r.ReadAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("file shrank while being read (%d bytes expected): %w", d.size, io.ErrUnexpectedEOF)
		}
		panic(tiffReadError{err})
	}
	d.win, d.win0 = buf, off
	return buf[:n]
}

func (d *tiffDecoder) errorf(off int64, format string, args ...any) error {
	return &FormatError{File: d.name, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// unsupported reports a feature the decoder does not read, at offset off.
func (d *tiffDecoder) unsupported(off int64, format string, args ...any) error {
	return &FormatError{File: d.name, Offset: off, Err: &UnsupportedError{Feature: fmt.Sprintf(format, args...)}}
}

func (d *tiffDecoder) u16(off int) uint16 {
	b := d.at(int64(off), 2)
	if d.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (d *tiffDecoder) u32(off int) uint32 {
	b := d.at(int64(off), 4)
	if d.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// entry locates the value data of the IFD entry at file offset pos and
// checks that it lies inside the file.
func (d *tiffDecoder) entry(pos int) (tiffEntry, error) {
	tag := d.u16(pos)
	e := tiffEntry{present: true, typ: d.u16(pos + 2), count: int64(d.u32(pos + 4)), pos: pos, val: pos + 8}
	size := tiffTypeSize(e.typ)
	if size == 0 {
		return e, d.errorf(int64(pos), "%s has unknown field type %d", tiffTagName(tag), e.typ)
	}
	if n := size * e.count; n > 4 {
		off := int64(d.u32(pos + 8))
		if off+n > d.size {
			return e, d.errorf(int64(pos), "%s data (%d bytes at offset %d) extends past end of file (%d bytes)",
				tiffTagName(tag), n, off, d.size)
		}
		e.val = int(off)
	}
	return e, nil
}

// uintAt returns value i of an integer entry validated by checkUint.
func (d *tiffDecoder) uintAt(e *tiffEntry, i int) uint32 {
	switch e.typ {
	case tiffByte:
		return uint32(d.at(int64(e.val+i), 1)[0])
	case tiffShort:
		return uint32(d.u16(e.val + 2*i))
	}
	return d.u32(e.val + 4*i)
}

// checkUint checks that e is an integer entry (BYTE, SHORT or LONG) with at
// least one value.
func (d *tiffDecoder) checkUint(tag uint16, e *tiffEntry) error {
	switch e.typ {
	case tiffByte, tiffShort, tiffLong:
	default:
		return d.errorf(int64(e.pos), "%s has field type %d, want SHORT or LONG", tiffTagName(tag), e.typ)
	}
	if e.count < 1 {
		return d.errorf(int64(e.pos), "%s has no value", tiffTagName(tag))
	}
	return nil
}

// scalar returns the first value of an integer entry, or def if the entry is
// absent.
func (d *tiffDecoder) scalar(tag uint16, e *tiffEntry, def uint32) (uint32, error) {
	if !e.present {
		return def, nil
	}
	if err := d.checkUint(tag, e); err != nil {
		return 0, err
	}
	return d.uintAt(e, 0), nil
}

// ascii returns the bytes of an ASCII entry without trailing NULs, or nil if
// the entry is absent.
func (d *tiffDecoder) ascii(tag uint16, e *tiffEntry) ([]byte, error) {
	if !e.present {
		return nil, nil
	}
	switch e.typ {
	case tiffASCII, tiffByte, tiffUndefined:
	default:
		return nil, d.errorf(int64(e.pos), "%s has field type %d, want ASCII", tiffTagName(tag), e.typ)
	}
	if e.count > maxTIFFText {
		return nil, d.unsupported(int64(e.pos), "%s of %d bytes (at most %d)", tiffTagName(tag), e.count, maxTIFFText)
	}
	b := d.at(int64(e.val), int(e.count))
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b, nil
}

// tiffLayout is the validated description of a frame's pixel data.
type tiffLayout struct {
	width, height int
	bits          int // 8, 16 or 32
	format        int // sampleUint, sampleInt or sampleFloat
	rowsPerStrip  int // clamped to height
	nstrips       int // number of strips
	offsets       tiffEntry
	counts        tiffEntry
	desc, date    []byte
	values        bool // samples go to Image.Values (else Image.Counts)
}

// DecodeTIFF decodes the first image of an uncompressed TIFF file held in
// data into dst. name identifies the file in errors.
//
// Supported are single-sample (grey) images stored in strips, in either byte
// order, with 8-, 16- or 32-bit unsigned (SampleFormat 1, the default) or
// signed (SampleFormat 2) integers or 32-bit floats (SampleFormat 3).
// PhotometricInterpretation may be 0 or 1; samples are never inverted.
// 8- and 16-bit samples and 32-bit signed samples are stored in dst.Counts,
// 32-bit unsigned and floating-point samples in dst.Values; the other slice
// is set to nil. The existing capacity of the slice receiving the samples is
// reused when it is large enough, so decoding a series of same-size frames
// into one Image does not allocate (the Description and DateTime strings are
// only replaced when they change). dst.Description and dst.DateTime receive
// the ImageDescription and DateTime tags without trailing NULs, or "" if
// absent.
//
// A malformed, truncated or unsupported file gives a *FormatError naming
// the file and the byte offset of the problem; dst is then left unchanged.
func DecodeTIFF(data []byte, name string, dst *Image) error {
	if dst == nil {
		return fmt.Errorf("saxs: DecodeTIFF %s into a nil Image", name)
	}
	d := tiffDecoder{data: data, size: int64(len(data)), name: name, direct: true}
	return d.decode(dst)
}

// decode decodes the first image of the decoder's file into dst.
func (d *tiffDecoder) decode(dst *Image) (err error) {
	if d.r != nil {
		defer d.recoverRead(&err)
	}
	l, err := d.layout()
	if err != nil {
		return err
	}
	if d.check != nil {
		if err := d.check(l); err != nil {
			return err
		}
	}
	n := l.width * l.height
	if l.values {
		if cap(dst.Values) >= n {
			dst.Values = dst.Values[:n]
		} else {
			dst.Values = make([]float64, n)
		}
		dst.Counts = nil
	} else {
		if cap(dst.Counts) >= n {
			dst.Counts = dst.Counts[:n]
		} else {
			dst.Counts = make([]int32, n)
		}
		dst.Values = nil
	}
	dst.Rows, dst.Cols = l.height, l.width
	if string(l.desc) != dst.Description {
		dst.Description = string(l.desc)
	}
	if string(l.date) != dst.DateTime {
		dst.DateTime = string(l.date)
	}

	bps := l.bits / 8
	if d.direct && l.bits == 32 && l.format == sampleInt && !d.big && hostLittleEndian() {
		d.readStripsInto(&l, dst.Counts)
		return nil
	}
	for i := 0; i < l.nstrips; i++ {
		first := i * l.rowsPerStrip
		rows := min(l.rowsPerStrip, l.height-first)
		lo, hi := first*l.width, (first+rows)*l.width
		off := int64(d.uintAt(&l.offsets, i))
		// From a file, a strip is read in chunks of at most tiffChunk
		// samples, so that memory is bounded by the image itself.
		step := hi - lo
		if d.r != nil {
			step = tiffChunk
		}
		for a := lo; a < hi; a += step {
			z := min(a+step, hi)
			at := off + int64((a-lo)*bps)
			var src []byte
			if d.r == nil {
				src = d.data[at : at+int64((z-a)*bps)]
			} else {
				src = d.readStrip(at, (z-a)*bps)
			}
			if l.values {
				decodeFloatSamples(dst.Values[a:z], src, l.format, d.big)
			} else {
				decodeIntSamples(dst.Counts[a:z], src, l.bits, l.format == sampleInt, d.big)
			}
		}
	}
	return nil
}

// recoverRead, deferred, turns the panic of a failed read of the
// decoder's file (tiffReadError) into *err, naming the file.
func (d *tiffDecoder) recoverRead(err *error) {
	if p := recover(); p != nil {
		re, ok := p.(tiffReadError)
		if !ok {
			panic(p)
		}
		*err = fmt.Errorf("%s: %w", d.name, re.err)
	}
}

// readStripsInto reads the strips of a 32-bit little-endian integer frame
// straight into dst, on a little-endian host: each strip is one ReadAt at
// its offset into the memory of dst seen as bytes, with no intermediate
// buffer and no conversion (the samples are stored as they are in
// memory). The layout has been validated: every strip lies inside the
// file.
func (d *tiffDecoder) readStripsInto(l *tiffLayout, dst []int32) {
	for i := 0; i < l.nstrips; i++ {
		first := i * l.rowsPerStrip
		rows := min(l.rowsPerStrip, l.height-first)
		lo, hi := first*l.width, (first+rows)*l.width
		off := int64(d.uintAt(&l.offsets, i))
		b := int32Bytes(dst[lo:hi])
		if d.r == nil {
			copy(b, d.data[off:off+int64(len(b))])
			continue
		}
		if _, err := d.r.ReadAt(b, off); err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("file shrank while being read (%d bytes expected): %w", d.size, io.ErrUnexpectedEOF)
			}
			panic(tiffReadError{err})
		}
	}
}

// int32Bytes returns the memory of s as bytes (4·len(s) of them), in the
// host's byte order.
func int32Bytes(s []int32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 4*len(s))
}

// hostLittleEndian reports whether the host stores integers little-endian
// first (amd64, arm64, ...); the compiler folds it to a constant.
func hostLittleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// readStrip reads n bytes at off into the decoder's strip buffer (n is at
// most 4·tiffChunk); the caller has checked that they lie inside the file.
func (d *tiffDecoder) readStrip(off int64, n int) []byte {
	if cap(d.strips) < n {
		d.strips = make([]byte, n)
	}
	b := d.strips[:n]
	if _, err := d.r.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("file shrank while being read (%d bytes expected): %w", d.size, io.ErrUnexpectedEOF)
		}
		panic(tiffReadError{err})
	}
	return b
}

// layout parses the header and the first IFD and checks everything the
// pixel decoding relies on.
func (d *tiffDecoder) layout() (l tiffLayout, err error) {
	if d.size < 8 {
		return l, d.errorf(d.size, "file too short for a TIFF header (%d bytes)", d.size)
	}
	switch bom := d.at(0, 2); string(bom) {
	case "II":
	case "MM":
		d.big = true
	default:
		return l, d.errorf(0, "not a TIFF file: byte-order mark %q, want \"II\" or \"MM\"", bom)
	}
	switch v := d.u16(2); v {
	case 42:
	case 43:
		return l, d.unsupported(2, "BigTIFF (version 43)")
	default:
		return l, d.errorf(2, "not a TIFF file: version %d, want 42", v)
	}
	ifd := int64(d.u32(4))
	if ifd < 8 || ifd+2 > d.size {
		return l, d.errorf(4, "first IFD offset %d out of range (file has %d bytes)", ifd, d.size)
	}
	pos := int(ifd)
	nent := int(d.u16(pos))
	if nent == 0 {
		return l, d.errorf(ifd, "IFD has no entries")
	}
	if int64(pos)+2+12*int64(nent) > d.size {
		return l, d.errorf(ifd, "IFD of %d entries (%d bytes) extends past end of file (%d bytes)",
			nent, 2+12*nent, d.size)
	}

	var width, height, bits, compression, photometric, desc, offsets,
		spp, rps, counts, date, tiles, format tiffEntry
	for i := 0; i < nent; i++ {
		p := pos + 2 + 12*i
		var e *tiffEntry
		switch d.u16(p) {
		case tagImageWidth:
			e = &width
		case tagImageLength:
			e = &height
		case tagBitsPerSample:
			e = &bits
		case tagCompression:
			e = &compression
		case tagPhotometric:
			e = &photometric
		case tagImageDescription:
			e = &desc
		case tagStripOffsets:
			e = &offsets
		case tagSamplesPerPixel:
			e = &spp
		case tagRowsPerStrip:
			e = &rps
		case tagStripByteCounts:
			e = &counts
		case tagDateTime:
			e = &date
		case tagTileWidth, tagTileOffsets:
			e = &tiles
		case tagSampleFormat:
			e = &format
		default:
			continue // tags that do not affect the pixels are ignored
		}
		var err error
		if *e, err = d.entry(p); err != nil {
			return l, err
		}
	}

	l.offsets, l.counts = offsets, counts
	if l.desc, err = d.ascii(tagImageDescription, &desc); err != nil {
		return l, err
	}
	if l.date, err = d.ascii(tagDateTime, &date); err != nil {
		return l, err
	}

	// Required tags.
	for _, r := range []struct {
		tag uint16
		e   *tiffEntry
	}{{tagImageWidth, &width}, {tagImageLength, &height}, {tagStripOffsets, &offsets}, {tagStripByteCounts, &counts}} {
		if r.tag == tagStripOffsets && !offsets.present && tiles.present {
			return l, d.unsupported(ifd, "tiled TIFF (only strips)")
		}
		if !r.e.present {
			return l, d.errorf(ifd, "missing required tag %s (%d)", tiffTagName(r.tag), r.tag)
		}
	}

	// Pixel format.
	v, err := d.scalar(tagSamplesPerPixel, &spp, 1)
	if err != nil {
		return l, err
	}
	if v != 1 {
		return l, d.unsupported(int64(spp.pos), "SamplesPerPixel %d (only 1, grey images)", v)
	}
	if v, err = d.scalar(tagCompression, &compression, 1); err != nil {
		return l, err
	}
	if v != 1 {
		return l, d.unsupported(int64(compression.pos), "Compression %d%s (only 1, uncompressed)", v, compressionName(v))
	}
	if v, err = d.scalar(tagPhotometric, &photometric, 1); err != nil {
		return l, err
	}
	if v != 0 && v != 1 {
		return l, d.unsupported(int64(photometric.pos), "PhotometricInterpretation %d (only 0 or 1, grey)", v)
	}
	if v, err = d.scalar(tagBitsPerSample, &bits, 1); err != nil {
		return l, err
	}
	l.bits = int(v)
	if v, err = d.scalar(tagSampleFormat, &format, sampleUint); err != nil {
		return l, err
	}
	l.format = int(v)
	switch {
	case l.format != sampleUint && l.format != sampleInt && l.format != sampleFloat:
		return l, d.unsupported(int64(format.pos), "SampleFormat %d (only 1 unsigned, 2 signed or 3 float)", l.format)
	case l.format == sampleFloat && l.bits != 32:
		return l, d.unsupported(int64(bits.pos), "BitsPerSample %d for floating-point samples (only 32)", l.bits)
	case l.bits != 8 && l.bits != 16 && l.bits != 32:
		return l, d.unsupported(int64(bits.pos), "BitsPerSample %d (only 8, 16 or 32)", l.bits)
	}
	l.values = l.bits == 32 && l.format != sampleInt

	// Size.
	w, err := d.scalar(tagImageWidth, &width, 0)
	if err != nil {
		return l, err
	}
	h, err := d.scalar(tagImageLength, &height, 0)
	if err != nil {
		return l, err
	}
	if w == 0 || h == 0 || uint64(w)*uint64(h) > maxPixels {
		return l, d.unsupported(int64(width.pos), "image size %d × %d pixels (at most %d pixels)", w, h, maxPixels)
	}
	l.width, l.height = int(w), int(h)

	// Strips.
	r, err := d.scalar(tagRowsPerStrip, &rps, math.MaxUint32)
	if err != nil {
		return l, err
	}
	if r == 0 {
		return l, d.errorf(int64(rps.pos), "RowsPerStrip is 0")
	}
	l.rowsPerStrip = int(min(r, h))
	l.nstrips = (l.height + l.rowsPerStrip - 1) / l.rowsPerStrip
	if err := d.checkUint(tagStripOffsets, &offsets); err != nil {
		return l, err
	}
	if err := d.checkUint(tagStripByteCounts, &counts); err != nil {
		return l, err
	}
	if offsets.count != int64(l.nstrips) {
		return l, d.errorf(int64(offsets.pos), "%d StripOffsets, want %d (%d rows, %d rows per strip)",
			offsets.count, l.nstrips, l.height, l.rowsPerStrip)
	}
	if counts.count != int64(l.nstrips) {
		return l, d.errorf(int64(counts.pos), "%d StripByteCounts, want %d (%d rows, %d rows per strip)",
			counts.count, l.nstrips, l.height, l.rowsPerStrip)
	}
	rowBytes := int64(l.width) * int64(l.bits/8)
	for i := 0; i < l.nstrips; i++ {
		rows := int64(min(l.rowsPerStrip, l.height-i*l.rowsPerStrip))
		need := rows * rowBytes
		off := int64(d.uintAt(&offsets, i))
		if n := int64(d.uintAt(&counts, i)); n < need {
			return l, d.errorf(off, "strip %d has %d bytes, its %d rows of %d %d-bit samples need %d",
				i, n, rows, l.width, l.bits, need)
		}
		if off+need > d.size {
			return l, d.errorf(off, "strip %d (%d bytes) extends past end of file (%d bytes)", i, need, d.size)
		}
	}
	return l, nil
}

// decodeIntSamples converts 8-, 16- or 32-bit integer samples to int32.
// len(src) must be len(dst)*bits/8.
func decodeIntSamples(dst []int32, src []byte, bits int, signed, big bool) {
	switch {
	case bits == 8 && signed:
		for i, b := range src[:len(dst)] {
			dst[i] = int32(int8(b))
		}
	case bits == 8:
		for i, b := range src[:len(dst)] {
			dst[i] = int32(b)
		}
	case bits == 16:
		src = src[:2*len(dst)]
		for i := range dst {
			var v uint16
			if big {
				v = binary.BigEndian.Uint16(src[2*i:])
			} else {
				v = binary.LittleEndian.Uint16(src[2*i:])
			}
			if signed {
				dst[i] = int32(int16(v))
			} else {
				dst[i] = int32(v)
			}
		}
	case big: // 32-bit signed
		src = src[:4*len(dst)]
		for i := range dst {
			dst[i] = int32(binary.BigEndian.Uint32(src[4*i:]))
		}
	default: // 32-bit signed little-endian: Pilatus frames
		decodeInt32LE(dst, src)
	}
}

// decodeInt32LE is the hot loop of frame decoding: unrolled by 8 on
// capped sub-slices, so that the bounds are checked once per 8 samples (2.5
// times faster than the plain loop).
func decodeInt32LE(dst []int32, src []byte) {
	for len(dst) >= 8 && len(src) >= 32 {
		s := src[:32:32]
		d := dst[:8:8]
		d[0] = int32(binary.LittleEndian.Uint32(s[0:4]))
		d[1] = int32(binary.LittleEndian.Uint32(s[4:8]))
		d[2] = int32(binary.LittleEndian.Uint32(s[8:12]))
		d[3] = int32(binary.LittleEndian.Uint32(s[12:16]))
		d[4] = int32(binary.LittleEndian.Uint32(s[16:20]))
		d[5] = int32(binary.LittleEndian.Uint32(s[20:24]))
		d[6] = int32(binary.LittleEndian.Uint32(s[24:28]))
		d[7] = int32(binary.LittleEndian.Uint32(s[28:32]))
		dst, src = dst[8:], src[32:]
	}
	for i := range dst {
		dst[i] = int32(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// decodeFloatSamples converts 32-bit unsigned or floating-point samples to
// float64. len(src) must be 4*len(dst).
func decodeFloatSamples(dst []float64, src []byte, format int, big bool) {
	src = src[:4*len(dst)]
	for i := range dst {
		var v uint32
		if big {
			v = binary.BigEndian.Uint32(src[4*i:])
		} else {
			v = binary.LittleEndian.Uint32(src[4*i:])
		}
		if format == sampleFloat {
			dst[i] = float64(math.Float32frombits(v))
		} else {
			dst[i] = float64(v)
		}
	}
}

// ReadImage reads a TIFF detector frame from a file (see [DecodeTIFF]).
// The path must name a regular file (else the error matches
// [ErrNotRegular]). Only the header, the tags and the strips of the first
// image are read, after the header has been checked: memory is bounded by
// the image's size, not the file's.
func ReadImage(path string) (*Image, error) {
	var r ImageReader
	img := new(Image)
	if err := r.ReadFile(path, img); err != nil {
		return nil, err
	}
	return img, nil
}

// ImageReader reads TIFF frames from files, reusing its buffers across
// calls, for pipelines that read many frames. The zero value is ready to
// use. An ImageReader must not be used by several goroutines at once.
type ImageReader struct {
	head, strips []byte
}

// ReadFile reads the TIFF frame in the file at path into dst (see
// [DecodeTIFF] and [ReadImage]), reusing the reader's buffers and the
// sample slice of dst when they are large enough. An I/O error while the
// samples are read may leave dst partly overwritten.
func (r *ImageReader) ReadFile(path string, dst *Image) error {
	if dst == nil {
		return fmt.Errorf("saxs: ReadFile %s into a nil Image", path)
	}
	f, d, err := r.open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	d.strips, d.direct = r.strips, true
	err = d.decode(dst)
	r.strips = d.strips
	return err
}

// CheckFile reports whether the file at path holds a TIFF frame that
// [ImageReader.ReadFile] reads whole, without reading its samples: it
// makes ReadFile's checks of the header, the IFD, the tags and the places
// of the strips against the file's size, and returns the error ReadFile
// would return for a file that fails them (a *FormatError with its byte
// offset). A frame still being written fails it as long as one of its
// strips extends past the end of the file. Samples are not checked, as
// every bit pattern is a sample, so a file that passes is read by ReadFile
// unless it changes in between. It reads a few kilobytes where ReadFile
// reads the whole frame, which is what a feeder that only announces
// complete frames needs.
func (r *ImageReader) CheckFile(path string) (err error) {
	f, d, err := r.open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// Small windows: the header, the IFD and the tag values are in the
	// first kilobytes of a detector's TIFF (Pilatus: the IFD at byte 130,
	// the samples from byte 4096).
	d.window = checkWindow
	defer d.recoverRead(&err)
	_, err = d.layout()
	return err
}

// open opens the regular file at path for ReadFile or CheckFile and
// returns it with a decoder that reads it through the reader's header
// buffer.
func (r *ImageReader) open(path string) (*os.File, tiffDecoder, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, tiffDecoder{}, err
	}
	if cap(r.head) < tiffWindow {
		r.head = make([]byte, tiffWindow)
	}
	return f, tiffDecoder{r: f, size: size, name: path, spare: r.head}, nil
}

// EncodeTIFF writes img as a little-endian, uncompressed, single-strip TIFF:
// 32-bit signed integers (SampleFormat 2) when img.Counts is set, 32-bit
// floats (SampleFormat 3) when img.Values is set (values are rounded to
// float32). img.Description and img.DateTime are written as the
// ImageDescription and DateTime tags when non-empty. [DecodeTIFF] reads the
// file back to the same image (up to float32 rounding).
func EncodeTIFF(w io.Writer, img *Image) error {
	if img == nil {
		return errors.New("saxs: EncodeTIFF: nil image")
	}
	if img.Rows <= 0 || img.Cols <= 0 || img.Rows > maxPixels || img.Cols > maxPixels || img.Rows*img.Cols > maxPixels {
		return fmt.Errorf("saxs: EncodeTIFF: unsupported image size %d × %d", img.Rows, img.Cols)
	}
	if err := img.check(img.Rows, img.Cols); err != nil {
		return fmt.Errorf("saxs: EncodeTIFF: %w", err)
	}
	n := img.Rows * img.Cols
	format := uint32(sampleInt)
	if img.Values != nil {
		format = sampleFloat
	}

	type field struct {
		tag, typ uint16
		count    uint32
		value    uint32 // inline value, or offset of data
		data     []byte // out-of-line data (ASCII strings)
	}
	str := func(tag uint16, s string) field {
		b := append([]byte(s), 0)
		return field{tag: tag, typ: tiffASCII, count: uint32(len(b)), data: b}
	}
	fields := []field{
		{tag: tagImageWidth, typ: tiffLong, count: 1, value: uint32(img.Cols)},
		{tag: tagImageLength, typ: tiffLong, count: 1, value: uint32(img.Rows)},
		{tag: tagBitsPerSample, typ: tiffShort, count: 1, value: 32},
		{tag: tagCompression, typ: tiffShort, count: 1, value: 1},
		{tag: tagPhotometric, typ: tiffShort, count: 1, value: 1},
	}
	if img.Description != "" {
		fields = append(fields, str(tagImageDescription, img.Description))
	}
	stripIndex := len(fields)
	fields = append(fields,
		field{tag: tagStripOffsets, typ: tiffLong, count: 1},
		field{tag: tagSamplesPerPixel, typ: tiffShort, count: 1, value: 1},
		field{tag: tagRowsPerStrip, typ: tiffLong, count: 1, value: uint32(img.Rows)},
		field{tag: tagStripByteCounts, typ: tiffLong, count: 1, value: uint32(4 * n)},
	)
	if img.DateTime != "" {
		fields = append(fields, str(tagDateTime, img.DateTime))
	}
	fields = append(fields, field{tag: tagSampleFormat, typ: tiffShort, count: 1, value: format})

	// Layout: header, IFD, out-of-line data, padding to 4 bytes, samples.
	const ifdOffset = 8
	end := int64(ifdOffset + 2 + 12*len(fields) + 4)
	for i := range fields {
		if len(fields[i].data) > 4 {
			fields[i].value = uint32(end)
			end += int64(len(fields[i].data))
		}
	}
	end = (end + 3) &^ 3
	if end+4*int64(n) > math.MaxUint32 {
		return fmt.Errorf("saxs: EncodeTIFF: file would exceed 4 GiB")
	}
	fields[stripIndex].value = uint32(end)

	le := binary.LittleEndian
	head := make([]byte, 0, end)
	head = append(head, 'I', 'I')
	head = le.AppendUint16(head, 42)
	head = le.AppendUint32(head, ifdOffset)
	head = le.AppendUint16(head, uint16(len(fields)))
	for _, f := range fields {
		head = le.AppendUint16(head, f.tag)
		head = le.AppendUint16(head, f.typ)
		head = le.AppendUint32(head, f.count)
		switch {
		case len(f.data) > 4:
			head = le.AppendUint32(head, f.value)
		case f.data != nil:
			var v [4]byte
			copy(v[:], f.data)
			head = append(head, v[:]...)
		case f.typ == tiffShort:
			head = le.AppendUint16(head, uint16(f.value))
			head = le.AppendUint16(head, 0)
		default:
			head = le.AppendUint32(head, f.value)
		}
	}
	head = le.AppendUint32(head, 0) // no next IFD
	for _, f := range fields {
		if len(f.data) > 4 {
			head = append(head, f.data...)
		}
	}
	for int64(len(head)) < end {
		head = append(head, 0)
	}
	if _, err := w.Write(head); err != nil {
		return err
	}

	// Samples, in chunks.
	buf := make([]byte, 0, 4*min(n, 16384))
	for i := 0; i < n; i++ {
		if img.Counts != nil {
			buf = le.AppendUint32(buf, uint32(img.Counts[i]))
		} else {
			buf = le.AppendUint32(buf, math.Float32bits(float32(img.Values[i])))
		}
		if len(buf) == cap(buf) || i == n-1 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}
