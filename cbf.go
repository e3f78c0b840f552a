package saxs

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// CIF binary section markers.
const (
	cbfBoundary    = "--CIF-BINARY-FORMAT-SECTION--"
	cbfBinaryStart = "\x0c\x1a\x04\xd5"
)

// cbfLayout is the validated description of a CBF's binary section.
type cbfLayout struct {
	info        FrameInfo
	header      []byte // the Pilatus header lines (_array_data.header_contents), or nil
	rows, cols  int
	elements    int
	bin         []byte // the compressed data, X-Binary-Size bytes
	binOff      int64  // file offset of bin
	md5         string // Content-MD5 (base64), or ""
	md5Off      int64
	elementBits int // 8, 16 or 32
	unsigned    bool
}

// DecodeCBF decodes the image of a CBF file held in data into dst and
// returns its header values. name identifies the file in errors.
//
// Read are Pilatus mini-CBF files and full CBF files whose first binary
// section is compressed with x-CBF_BYTE_OFFSET, with integer elements of
// 8, 16 or 32 bits ("signed 32-bit integer" on Pilatus detectors). The
// binary section is located by its MIME header; its size is
// X-Binary-Size, the image X-Binary-Size-Second-Dimension rows ×
// X-Binary-Size-Fastest-Dimension columns, row 0 being the first stored.
// Samples go to dst.Counts, reusing its capacity; dst.Description receives
// the Pilatus header lines (_array_data.header_contents) whose values the
// returned FrameInfo holds (see [ParsePilatusHeader]). The Content-MD5
// digest is not checked here (see [CheckCBFDigest]).
//
// A malformed, truncated or unsupported file gives a *FormatError naming
// the file, the byte offset and the field; dst then keeps its size, but
// the samples of a corrupt stream may have been partly overwritten.
func DecodeCBF(data []byte, name string, dst *Image) (FrameInfo, error) {
	if dst == nil {
		return FrameInfo{}, fmt.Errorf("saxs: DecodeCBF %s into a nil Image", name)
	}
	l, err := parseCBF(data, name)
	if err != nil {
		return FrameInfo{}, err
	}
	if err := l.decode(name, dst); err != nil {
		return FrameInfo{}, err
	}
	return l.info, nil
}

// decode decompresses the binary section into dst.
func (l *cbfLayout) decode(name string, dst *Image) error {
	oldRows, oldCols, oldCounts, oldValues := dst.Rows, dst.Cols, dst.Counts, dst.Values
	dst.resizeCounts(l.rows, l.cols)
	if off, msg := decodeByteOffset(dst.Counts, l.bin, l.elementBits, l.unsigned); msg != "" {
		// A corrupt stream is found while decoding: dst gets its old size
		// back, but its samples may have been overwritten.
		dst.Rows, dst.Cols, dst.Counts, dst.Values = oldRows, oldCols, oldCounts, oldValues
		return &FormatError{File: name, Offset: l.binOff + int64(off), Msg: msg}
	}
	dst.setDescription(l.header)
	return nil
}

// CheckCBFDigest checks the Content-MD5 digest of a CBF file's binary
// section, when the file has one. It returns a *FormatError naming the
// file and the field when the digest does not match.
func CheckCBFDigest(data []byte, name string) error {
	l, err := parseCBF(data, name)
	if err != nil || l.md5 == "" {
		return err
	}
	sum := md5.Sum(l.bin)
	if base64.StdEncoding.EncodeToString(sum[:]) != l.md5 {
		return &FormatError{File: name, Offset: l.md5Off, Msg: fmt.Sprintf("Content-MD5 %s does not match the binary section (%s)",
			l.md5, base64.StdEncoding.EncodeToString(sum[:]))}
	}
	return nil
}

// parseCBF locates the header and the first binary section of a CBF file
// and checks every size the decoding relies on.
func parseCBF(data []byte, name string) (l cbfLayout, err error) {
	errorf := func(off int, format string, args ...any) error {
		return &FormatError{File: name, Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
	}
	unsupported := func(off int, format string, args ...any) error {
		return &FormatError{File: name, Offset: int64(off), Err: &UnsupportedError{Feature: fmt.Sprintf(format, args...)}}
	}
	start := bytes.Index(data, []byte(cbfBoundary))
	if start < 0 {
		return l, errorf(0, "no CIF binary section (%s) in the file", cbfBoundary)
	}
	// The Pilatus header: the text field after _array_data.header_contents.
	if h := bytes.Index(data[:start], []byte("_array_data.header_contents")); h >= 0 {
		rest := data[h:start]
		if a := bytes.Index(rest, []byte("\n;")); a >= 0 {
			body := rest[a+2:]
			if b := bytes.Index(body, []byte("\n;")); b >= 0 {
				l.header = bytes.Trim(body[:b], "\r\n")
			}
		}
		l.info = ParsePilatusHeader(string(l.header))
	}
	// The MIME header: lines up to the empty line before the binary start.
	binStart := bytes.Index(data[start:], []byte(cbfBinaryStart))
	if binStart < 0 {
		return l, errorf(start, "binary section has no start marker (0C 1A 04 D5)")
	}
	binStart += start
	mime := data[start+len(cbfBoundary) : binStart]
	var (
		conversions, elemType, byteOrder string
		size, fast, second, number       int64 = -1, -1, -1, -1
		sizeOff, fastOff, secondOff      int
	)
	lineOff := start + len(cbfBoundary)
	for _, line := range bytes.Split(mime, []byte("\n")) {
		off := lineOff
		lineOff += len(line) + 1
		s := strings.TrimSpace(string(line))
		key, val, ok := strings.Cut(s, ":")
		if !ok {
			// Continuation line of Content-Type: conversions="x-CBF_BYTE_OFFSET".
			if k, v, ok := strings.Cut(s, "="); ok && strings.TrimSpace(k) == "conversions" {
				conversions = strings.Trim(strings.TrimSpace(v), `";`)
			}
			continue
		}
		val = strings.TrimSpace(val)
		parseSize := func(field string) (int64, error) {
			v, err := strconv.ParseInt(val, 10, 64)
			if err != nil || v < 0 {
				return 0, errorf(off, "%s %q is not a size", field, val)
			}
			return v, nil
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "content-type":
			if i := strings.Index(val, "conversions="); i >= 0 {
				conversions = strings.Trim(strings.TrimSpace(val[i+len("conversions="):]), `";`)
			}
		case "x-binary-size":
			if size, err = parseSize("X-Binary-Size"); err != nil {
				return l, err
			}
			sizeOff = off
		case "x-binary-size-fastest-dimension":
			if fast, err = parseSize("X-Binary-Size-Fastest-Dimension"); err != nil {
				return l, err
			}
			fastOff = off
		case "x-binary-size-second-dimension":
			if second, err = parseSize("X-Binary-Size-Second-Dimension"); err != nil {
				return l, err
			}
			secondOff = off
		case "x-binary-size-third-dimension":
			if v, err := parseSize("X-Binary-Size-Third-Dimension"); err != nil {
				return l, err
			} else if v != 1 {
				return l, unsupported(off, "X-Binary-Size-Third-Dimension %d (only 2-D images, 1)", v)
			}
		case "x-binary-number-of-elements":
			if number, err = parseSize("X-Binary-Number-of-Elements"); err != nil {
				return l, err
			}
		case "x-binary-element-type":
			elemType = strings.Trim(val, `"`)
		case "x-binary-element-byte-order":
			byteOrder = val
		case "content-md5":
			l.md5, l.md5Off = val, int64(off)
		}
	}
	mimeOff := start + len(cbfBoundary)
	if conversions != "x-CBF_BYTE_OFFSET" {
		return l, unsupported(mimeOff, "CBF conversions %q (only x-CBF_BYTE_OFFSET)", conversions)
	}
	if byteOrder != "" && byteOrder != "LITTLE_ENDIAN" {
		return l, unsupported(mimeOff, "X-Binary-Element-Byte-Order %s (only LITTLE_ENDIAN)", byteOrder)
	}
	switch elemType {
	case "signed 32-bit integer":
		l.elementBits = 32
	case "signed 16-bit integer":
		l.elementBits = 16
	case "unsigned 16-bit integer":
		l.elementBits, l.unsigned = 16, true
	case "signed 8-bit integer":
		l.elementBits = 8
	case "unsigned 8-bit integer":
		l.elementBits, l.unsigned = 8, true
	default:
		return l, unsupported(mimeOff, "X-Binary-Element-Type %q (only signed 32-bit, signed or unsigned 16- and 8-bit integers)", elemType)
	}
	switch {
	case size < 0:
		return l, errorf(mimeOff, "MIME header has no X-Binary-Size")
	case fast < 0 || second < 0:
		return l, unsupported(mimeOff, "CBF without X-Binary-Size-Fastest-Dimension and X-Binary-Size-Second-Dimension")
	case fast == 0 || fast > maxPixels:
		return l, errorf(fastOff, "X-Binary-Size-Fastest-Dimension %d out of range [1, %d]", fast, maxPixels)
	case second == 0 || second > maxPixels || fast*second > maxPixels:
		return l, errorf(secondOff, "X-Binary-Size-Second-Dimension %d: image of %d × %d pixels (at most %d pixels)", second, second, fast, maxPixels)
	case number >= 0 && number != fast*second:
		return l, errorf(mimeOff, "X-Binary-Number-of-Elements %d is not X-Binary-Size-Fastest-Dimension × X-Binary-Size-Second-Dimension (%d × %d)", number, fast, second)
	}
	binOff := binStart + len(cbfBinaryStart)
	if size > int64(len(data)-binOff) {
		return l, errorf(sizeOff, "X-Binary-Size %d extends past the end of the file (%d bytes after offset %d)", size, len(data)-binOff, binOff)
	}
	if size < fast*second {
		// Each element takes at least one byte.
		return l, errorf(sizeOff, "X-Binary-Size %d is too small for %d × %d elements", size, second, fast)
	}
	l.rows, l.cols, l.elements = int(second), int(fast), int(fast*second)
	l.bin, l.binOff = data[binOff:binOff+int(size)], int64(binOff)
	return l, nil
}

// decodeByteOffset decompresses x-CBF_BYTE_OFFSET data into dst: each
// value is the previous one plus a delta stored in 1 byte, or after the
// escape 0x80 in 2 bytes, or after 0x8000 in 4 bytes, or after 0x80000000
// in 8 bytes, little-endian. It returns the offset in src and a message
// when src is too short or a value leaves the element type's range.
func decodeByteOffset(dst []int32, src []byte, bits int, unsigned bool) (int, string) {
	lo, hi := int64(-1)<<(bits-1), int64(1)<<(bits-1)-1
	if unsigned {
		lo, hi = 0, int64(1)<<bits-1
	}
	var v int64
	p := 0
	n := len(src)
	for i := range dst {
		// Fast path: a one-byte delta.
		if p < n {
			if d := int8(src[p]); d != -128 {
				v += int64(d)
				p++
				if v < lo || v > hi {
					return p - 1, fmt.Sprintf("element %d value %d out of range for %d-bit integers", i, v, bits)
				}
				dst[i] = int32(v)
				continue
			}
		}
		if p+3 > n {
			return p, fmt.Sprintf("binary data ends after %d of %d elements (X-Binary-Size %d)", i, len(dst), n)
		}
		d16 := int16(binary.LittleEndian.Uint16(src[p+1:]))
		if d16 != -32768 {
			v += int64(d16)
			p += 3
		} else {
			if p+7 > n {
				return p, fmt.Sprintf("binary data ends after %d of %d elements (X-Binary-Size %d)", i, len(dst), n)
			}
			d32 := int32(binary.LittleEndian.Uint32(src[p+3:]))
			if d32 != -2147483648 {
				v += int64(d32)
				p += 7
			} else {
				if p+15 > n {
					return p, fmt.Sprintf("binary data ends after %d of %d elements (X-Binary-Size %d)", i, len(dst), n)
				}
				v += int64(binary.LittleEndian.Uint64(src[p+7:]))
				p += 15
			}
		}
		if v < lo || v > hi {
			return p, fmt.Sprintf("element %d value %d out of range for %d-bit integers", i, v, bits)
		}
		dst[i] = int32(v)
	}
	return p, ""
}
