package saxs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxEDFFrames bounds the number of images read from one EDF file.
const maxEDFFrames = 1 << 20

// edfFrame is the validated description of one EDF image.
type edfFrame struct {
	info       FrameInfo
	header     []byte // the header text between '{' and '}'
	rows, cols int
	dataOff    int  // file offset of the samples
	bytes      int  // bytes per sample: 1, 2, 4 or 8
	kind       byte // 'i' signed, 'u' unsigned, 'f' floating point
	big        bool // HighByteFirst
}

// DecodeEDF decodes the first image of an ESRF Data Format file held in
// data into dst and returns its header values; [OpenFrames] reads every
// image of a multi-image file. name identifies the file in errors.
//
// Each image is a header block ('{', "Key = value ;" lines, '}', padded to
// a multiple of 512 bytes) followed by Size bytes of samples: Dim_2 rows
// of Dim_1 samples, row 0 first, of DataType SignedByte, UnsignedByte,
// SignedShort, UnsignedShort, SignedInteger, UnsignedInteger, SignedLong,
// UnsignedLong (32 bits), Signed64, Unsigned64, FloatValue or DoubleValue,
// in ByteOrder LowByteFirst or HighByteFirst. Integers of up to 32 bits
// (not unsigned 32-bit) go to dst.Counts, the others to dst.Values,
// reusing their capacity; dst.Description receives the header text. The
// FrameInfo holds the ESRF SAXS keys when present: ExposureTime
// (or Exposure_time, count_time) in s, WaveLength in m, SampleDistance in
// m, Center_1/Center_2 in pixels, PSize_1/PSize_2 in m.
//
// A malformed, truncated or unsupported file gives a *FormatError naming
// the file, the byte offset and the header key; dst is then unchanged.
func DecodeEDF(data []byte, name string, dst *Image) (FrameInfo, error) {
	if dst == nil {
		return FrameInfo{}, fmt.Errorf("saxs: DecodeEDF %s into a nil Image", name)
	}
	f, _, err := parseEDFFrame(data, name, 0)
	if err != nil {
		return FrameInfo{}, err
	}
	return f.info, f.decode(data, dst)
}

// parseEDF reads the headers of every image of an EDF file.
func parseEDF(data []byte, name string) ([]edfFrame, error) {
	var frames []edfFrame
	off := 0
	for {
		f, next, err := parseEDFFrame(data, name, off)
		if err != nil {
			return nil, err
		}
		frames = append(frames, f)
		off = next
		// Trailing whitespace or padding after the last image is allowed.
		if len(bytes.TrimSpace(data[off:])) == 0 {
			return frames, nil
		}
		if len(frames) >= maxEDFFrames {
			return nil, &FormatError{File: name, Offset: int64(off), Err: &UnsupportedError{Feature: fmt.Sprintf("EDF file with more than %d images", maxEDFFrames)}}
		}
	}
}

// parseEDFFrame reads the header starting at offset off and checks the
// data block after it; next is the offset of the following header.
func parseEDFFrame(data []byte, name string, off int) (f edfFrame, next int, err error) {
	errorf := func(at int, format string, args ...any) error {
		return &FormatError{File: name, Offset: int64(at), Msg: fmt.Sprintf(format, args...)}
	}
	unsupported := func(at int, format string, args ...any) error {
		return &FormatError{File: name, Offset: int64(at), Err: &UnsupportedError{Feature: fmt.Sprintf(format, args...)}}
	}
	start := off
	for start < len(data) && (data[start] == ' ' || data[start] == '\n' || data[start] == '\r' || data[start] == '\t') {
		start++
	}
	if start >= len(data) || data[start] != '{' {
		return f, 0, errorf(start, "EDF header does not start with '{'")
	}
	end := bytes.IndexByte(data[start:], '}')
	if end < 0 {
		return f, 0, errorf(start, "EDF header has no closing '}'")
	}
	end += start
	f.header = bytes.TrimSpace(data[start+1 : end])
	// The data follow the newline after '}'.
	dataOff := end + 1
	if dataOff < len(data) && data[dataOff] == '\r' {
		dataOff++
	}
	if dataOff < len(data) && data[dataOff] == '\n' {
		dataOff++
	}
	type field struct {
		val string
		off int
	}
	keys := map[string]field{}
	lineOff := start + 1
	for _, line := range bytes.Split(data[start+1:end], []byte(";")) {
		at := lineOff
		lineOff += len(line) + 1
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok {
			continue
		}
		key := string(bytes.TrimSpace(k))
		if _, dup := keys[key]; !dup {
			keys[key] = field{string(bytes.TrimSpace(v)), at + len(line) - len(bytes.TrimLeft(line, " \t\r\n"))}
		}
	}
	dim := func(key string) (int, int, error) {
		fl, ok := keys[key]
		if !ok {
			return 0, start, errorf(start, "EDF header has no %s", key)
		}
		v, err := strconv.ParseInt(fl.val, 10, 64)
		if err != nil || v <= 0 || v > maxPixels {
			return 0, fl.off, errorf(fl.off, "%s = %q is not a dimension in [1, %d]", key, fl.val, maxPixels)
		}
		return int(v), fl.off, nil
	}
	cols, _, err := dim("Dim_1")
	if err != nil {
		return f, 0, err
	}
	rows, rowsOff, err := dim("Dim_2")
	if err != nil {
		return f, 0, err
	}
	if int64(rows)*int64(cols) > maxPixels {
		return f, 0, errorf(rowsOff, "Dim_2 = %d: image of %d × %d pixels (at most %d pixels)", rows, rows, cols, maxPixels)
	}
	if d3, ok := keys["Dim_3"]; ok && strings.TrimSpace(d3.val) != "1" {
		return f, 0, unsupported(d3.off, "Dim_3 = %s (only 2-D images)", d3.val)
	}
	for _, k := range []string{"Compression", "EDF_DataFormat"} {
		if c, ok := keys[k]; ok {
			switch strings.ToLower(c.val) {
			case "", "none", "uncompressed", "no":
			default:
				return f, 0, unsupported(c.off, "%s = %s (only uncompressed data)", k, c.val)
			}
		}
	}
	dt, ok := keys["DataType"]
	if !ok {
		return f, 0, errorf(start, "EDF header has no DataType")
	}
	switch strings.ToLower(dt.val) {
	case "signedbyte", "signedchar":
		f.bytes, f.kind = 1, 'i'
	case "unsignedbyte", "unsignedchar":
		f.bytes, f.kind = 1, 'u'
	case "signedshort", "signedshortinteger":
		f.bytes, f.kind = 2, 'i'
	case "unsignedshort", "unsignedshortinteger":
		f.bytes, f.kind = 2, 'u'
	case "signedinteger", "signedlong", "signedlonginteger", "signed32":
		f.bytes, f.kind = 4, 'i'
	case "unsignedinteger", "unsignedlong", "unsignedlonginteger", "unsigned32":
		f.bytes, f.kind = 4, 'u'
	case "signed64":
		f.bytes, f.kind = 8, 'i'
	case "unsigned64":
		f.bytes, f.kind = 8, 'u'
	case "floatvalue", "float", "floatieee32", "real":
		f.bytes, f.kind = 4, 'f'
	case "doublevalue", "double", "doubleieee64":
		f.bytes, f.kind = 8, 'f'
	default:
		return f, 0, unsupported(dt.off, "DataType = %s", dt.val)
	}
	if bo, ok := keys["ByteOrder"]; ok {
		switch bo.val {
		case "LowByteFirst":
		case "HighByteFirst":
			f.big = true
		default:
			return f, 0, errorf(bo.off, "ByteOrder = %q (LowByteFirst or HighByteFirst)", bo.val)
		}
	} else if f.bytes > 1 {
		return f, 0, errorf(start, "EDF header has no ByteOrder")
	}
	need := int64(rows) * int64(cols) * int64(f.bytes)
	size := need
	sizeKey := ""
	for _, k := range []string{"Size", "EDF_BinarySize"} {
		if s, ok := keys[k]; ok {
			v, err := strconv.ParseInt(s.val, 10, 64)
			if err != nil || v < 0 {
				return f, 0, errorf(s.off, "%s = %q is not a size", k, s.val)
			}
			if v != need {
				return f, 0, errorf(s.off, "%s = %d does not match Dim_1 × Dim_2 × %d bytes (DataType %s) = %d", k, v, f.bytes, dt.val, need)
			}
			size, sizeKey = v, k
			break
		}
	}
	if size > int64(len(data)-dataOff) {
		if sizeKey == "" {
			sizeKey = "Dim_1 × Dim_2"
		}
		return f, 0, errorf(dataOff, "%s: %d bytes of data extend past the end of the file (%d bytes after the header)", sizeKey, size, len(data)-dataOff)
	}
	f.rows, f.cols, f.dataOff = rows, cols, dataOff
	vals := make(map[string]string, len(keys))
	for k, v := range keys {
		vals[k] = v.val
	}
	f.info = edfInfo(vals)
	return f, dataOff + int(size), nil
}

// edfInfo reads the ESRF SAXS keys of an EDF header.
func edfInfo(h map[string]string) FrameInfo {
	var fi FrameInfo
	get := func(keys ...string) float64 {
		for _, k := range keys {
			if v, ok := h[k]; ok {
				return firstFloat(v)
			}
		}
		return 0
	}
	fi.ExposureTime = get("ExposureTime", "Exposure_time", "exposure_time", "count_time", "acq_expo_time")
	if w := get("WaveLength", "Wavelength"); w > 0 {
		fi.Wavelength = w * 1e10 // m → Å
	}
	fi.DetectorDistance = get("SampleDistance") * 1000
	if _, ok := h["Center_1"]; ok {
		if _, ok := h["Center_2"]; ok {
			fi.BeamCenter = [2]float64{get("Center_1"), get("Center_2")}
			fi.HasBeamCenter = true
		}
	}
	fi.PixelSize = [2]float64{get("PSize_1"), get("PSize_2")}
	return fi
}

// decode converts the samples of frame f of the EDF file data into dst.
func (f *edfFrame) decode(data []byte, dst *Image) error {
	n := f.rows * f.cols
	src := data[f.dataOff : f.dataOff+n*f.bytes]
	order := binary.ByteOrder(binary.LittleEndian)
	if f.big {
		order = binary.BigEndian
	}
	toCounts := f.kind != 'f' && (f.bytes < 4 || f.bytes == 4 && f.kind == 'i')
	if toCounts {
		dst.resizeCounts(f.rows, f.cols)
		switch {
		case f.bytes == 4 && !f.big:
			decodeInt32LE(dst.Counts, src)
		default:
			decodeIntSamples(dst.Counts, src, 8*f.bytes, f.kind == 'i', f.big)
		}
	} else {
		dst.resizeValues(f.rows, f.cols)
		d := dst.Values
		switch {
		case f.bytes == 4 && f.kind == 'f':
			for i := range d {
				d[i] = float64(math.Float32frombits(order.Uint32(src[4*i:])))
			}
		case f.bytes == 4:
			for i := range d {
				d[i] = float64(order.Uint32(src[4*i:]))
			}
		case f.kind == 'f':
			for i := range d {
				d[i] = math.Float64frombits(order.Uint64(src[8*i:]))
			}
		case f.kind == 'i':
			for i := range d {
				d[i] = float64(int64(order.Uint64(src[8*i:])))
			}
		default:
			for i := range d {
				d[i] = float64(order.Uint64(src[8*i:]))
			}
		}
	}
	dst.setDescription(f.header)
	return nil
}
