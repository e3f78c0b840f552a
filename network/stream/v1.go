package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// v1 htypes.
const (
	htHeader    = "dheader-1.0"
	htPixelMask = "dpixelmask-1.0"
	htFlatfield = "dflatfield-1.0"
	htCountrate = "dcountrate_table-1.0"
	htImage     = "dimage-1.0"
	htImageD    = "dimage_d-1.0"
	htConfig    = "dconfig-1.0"
	htEnd       = "dseries_end-1.0"
)

// maxJSONPart bounds a v1 JSON part (the detector configuration is a few
// kilobytes).
const maxJSONPart = 1 << 20

// v1Part is the JSON header of a v1 part; fields absent stay zero.
type v1Part struct {
	HType        string  `json:"htype"`
	Series       *uint64 `json:"series"`
	Frame        *int64  `json:"frame"`
	HeaderDetail string  `json:"header_detail"`
	Shape        []int64 `json:"shape"`
	Type         string  `json:"type"`
	Encoding     *string `json:"encoding"`
	Size         *int64  `json:"size"`
}

// v1Config is the detector configuration part of a dheader (the fields
// used).
type v1Config struct {
	NImages     *float64 `json:"nimages"`
	NTrigger    *float64 `json:"ntrigger"`
	XPixels     *float64 `json:"x_pixels_in_detector"`
	YPixels     *float64 `json:"y_pixels_in_detector"`
	Cutoff      *float64 `json:"countrate_correction_count_cutoff"`
	BeamCenterX float64  `json:"beam_center_x"`
	BeamCenterY float64  `json:"beam_center_y"`
	Wavelength  float64  `json:"wavelength"`
	Distance    float64  `json:"detector_distance"`
}

func parseJSONPart(parts [][]byte, i int, v any) error {
	if i >= len(parts) {
		return derr(V1, i, "", -1, "missing (the message has %d parts)", len(parts))
	}
	p := parts[i]
	if len(p) > maxJSONPart {
		return derr(V1, i, "", -1, "JSON part of %d bytes (at most %d)", len(p), maxJSONPart)
	}
	if err := json.Unmarshal(p, v); err != nil {
		off := int64(-1)
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		field := ""
		if errors.As(err, &se) {
			off = se.Offset
		} else if errors.As(err, &te) {
			off, field = te.Offset, te.Field
		}
		return &DecodeError{Version: V1, Part: i, Field: field, Offset: off, Err: fmt.Errorf("JSON: %w", err)}
	}
	return nil
}

// DecodeV1 decodes a v1 multipart message.
func DecodeV1(parts [][]byte, lim Limits) (*Message, error) {
	var h v1Part
	if err := parseJSONPart(parts, 0, &h); err != nil {
		return nil, err
	}
	switch h.HType {
	case htHeader:
		return decodeV1Header(parts, &h, lim)
	case htImage:
		return decodeV1Image(parts, &h, lim)
	case htEnd:
		if h.Series == nil {
			return nil, derr(V1, 0, "series", -1, "missing")
		}
		if len(parts) != 1 {
			return nil, derr(V1, 1, "", -1, "%s with %d parts (1 expected)", htEnd, len(parts))
		}
		return &Message{Kind: KindEnd, End: &End{Version: V1, Series: *h.Series}}, nil
	case "":
		return nil, derr(V1, 0, "htype", -1, "missing")
	}
	return nil, derr(V1, 0, "htype", -1, "%q: %w", h.HType, ErrUnsupported)
}

// count checks a JSON number that counts something.
func count(part int, field string, v *float64, max float64) (int64, error) {
	if v == nil {
		return 0, nil
	}
	if *v < 0 || *v > max || *v != math.Trunc(*v) {
		return 0, derr(V1, part, field, -1, "%v is not a count up to %v", *v, max)
	}
	return int64(*v), nil
}

func decodeV1Header(parts [][]byte, h *v1Part, lim Limits) (*Message, error) {
	if h.Series == nil {
		return nil, derr(V1, 0, "series", -1, "missing")
	}
	hd := &Header{Version: V1, Series: *h.Series}
	msg := &Message{Kind: KindHeader, Header: hd}
	switch h.HeaderDetail {
	case "none":
		if len(parts) != 1 {
			return nil, derr(V1, 1, "", -1, "header_detail none with %d parts (1 expected)", len(parts))
		}
		return msg, nil
	case "basic", "all":
	case "":
		return nil, derr(V1, 0, "header_detail", -1, "missing")
	default:
		return nil, derr(V1, 0, "header_detail", -1, "%q (all, basic or none)", h.HeaderDetail)
	}
	var c v1Config
	if err := parseJSONPart(parts, 1, &c); err != nil {
		return nil, err
	}
	maxPix := float64(lim.maxPixels())
	var err error
	if hd.NImages, err = count(1, "nimages", c.NImages, 1<<40); err != nil {
		return nil, err
	}
	if hd.NTrigger, err = count(1, "ntrigger", c.NTrigger, 1<<40); err != nil {
		return nil, err
	}
	x, err := count(1, "x_pixels_in_detector", c.XPixels, maxPix)
	if err != nil {
		return nil, err
	}
	y, err := count(1, "y_pixels_in_detector", c.YPixels, maxPix)
	if err != nil {
		return nil, err
	}
	if x*y > int64(maxPix) {
		return nil, derr(V1, 1, "x_pixels_in_detector", -1, "%d×%d pixels (at most %d)", x, y, int64(maxPix))
	}
	hd.Rows, hd.Cols = int(y), int(x)
	cut, err := count(1, "countrate_correction_count_cutoff", c.Cutoff, 1<<62)
	if err != nil {
		return nil, err
	}
	hd.CountCutoff = uint64(cut)
	hd.BeamCenter = [2]float64{c.BeamCenterX, c.BeamCenterY}
	hd.Wavelength, hd.DetectorDistance = c.Wavelength, c.Distance
	if h.HeaderDetail == "basic" {
		if len(parts) > 3 {
			return nil, derr(V1, 3, "", -1, "header_detail basic with %d parts (2, or 3 with an appendix)", len(parts))
		}
		return msg, nil
	}
	// all: pairs of a JSON header and its data, then an optional appendix.
	for i := 2; i < len(parts); i += 2 {
		if len(parts[i]) == 0 || parts[i][0] != '{' {
			if i == len(parts)-1 {
				break // the header appendix
			}
			return nil, derr(V1, i, "", 0, "not a JSON header")
		}
		var p v1Part
		if err := parseJSONPart(parts, i, &p); err != nil {
			return nil, err
		}
		switch p.HType {
		case htPixelMask, htFlatfield, htCountrate:
		default:
			if i == len(parts)-1 {
				break // a JSON appendix
			}
			return nil, derr(V1, i, "htype", -1, "%q in a header (%s, %s or %s expected)", p.HType, htPixelMask, htFlatfield, htCountrate)
		}
		if i+1 >= len(parts) {
			return nil, derr(V1, i+1, "", -1, "the data of %s is missing", p.HType)
		}
		if p.HType != htPixelMask {
			continue
		}
		rows, cols, err := shape(i, p.Shape, lim)
		if err != nil {
			return nil, err
		}
		es, _, err := elemType(p.Type)
		if err != nil {
			return nil, &DecodeError{Version: V1, Part: i, Field: "type", Offset: -1, Err: err}
		}
		if hd.Rows != 0 && (rows != hd.Rows || cols != hd.Cols) {
			return nil, derr(V1, i, "shape", -1, "pixel mask of %d×%d pixels for a %d×%d detector", cols, rows, hd.Cols, hd.Rows)
		}
		data := parts[i+1]
		if len(data) != rows*cols*es {
			return nil, derr(V1, i+1, "data", int64(min(len(data), rows*cols*es)), "%d bytes for a %d×%d %s pixel mask (%d expected)", len(data), cols, rows, p.Type, rows*cols*es)
		}
		hd.PixelMask = maskFromRaw(data, rows, cols, es)
		hd.Rows, hd.Cols = rows, cols
	}
	return msg, nil
}

// shape checks a v1 shape [x, y] (x the fast axis) and returns rows, cols.
func shape(part int, s []int64, lim Limits) (rows, cols int, err error) {
	if len(s) != 2 {
		return 0, 0, derr(V1, part, "shape", -1, "%v (two sizes [x, y] expected)", s)
	}
	x, y := s[0], s[1]
	if x <= 0 || y <= 0 || x > int64(lim.maxPixels()) || y > int64(lim.maxPixels()) || x*y > int64(lim.maxPixels()) {
		return 0, 0, derr(V1, part, "shape", -1, "%d×%d pixels (1 to %d)", x, y, lim.maxPixels())
	}
	return int(y), int(x), nil
}

func decodeV1Image(parts [][]byte, h *v1Part, lim Limits) (*Message, error) {
	if h.Series == nil {
		return nil, derr(V1, 0, "series", -1, "missing")
	}
	if h.Frame == nil || *h.Frame < 0 {
		return nil, derr(V1, 0, "frame", -1, "missing or negative")
	}
	if len(parts) != 4 && len(parts) != 3 {
		return nil, derr(V1, min(len(parts), 4), "", -1, "%s with %d parts (4 expected: dimage, dimage_d, data, dconfig)", htImage, len(parts))
	}
	var d v1Part
	if err := parseJSONPart(parts, 1, &d); err != nil {
		return nil, err
	}
	if d.HType != htImageD {
		return nil, derr(V1, 1, "htype", -1, "%q (%s expected)", d.HType, htImageD)
	}
	rows, cols, err := shape(1, d.Shape, lim)
	if err != nil {
		return nil, err
	}
	es, signed, err := elemType(d.Type)
	if err != nil {
		return nil, &DecodeError{Version: V1, Part: 1, Field: "type", Offset: -1, Err: err}
	}
	if d.Encoding == nil {
		return nil, derr(V1, 1, "encoding", -1, "missing")
	}
	im := &Image{Version: V1, Series: *h.Series, Frame: *h.Frame, Rows: rows, Cols: cols, ElemSize: es, Signed: signed, Data: parts[2], Part: 2}
	switch enc := *d.Encoding; enc {
	case "<":
		im.Encoding = EncNone
	case "lz4<":
		im.Encoding = EncLZ4Block
	case "bs16-lz4<", "bs32-lz4<", "bs8-lz4<":
		if want := fmt.Sprintf("bs%d-lz4<", 8*es); enc != want {
			return nil, derr(V1, 1, "encoding", -1, "%q for type %s (%q expected)", enc, d.Type, want)
		}
		im.Encoding = EncBSLZ4
	default:
		if bytes.HasPrefix([]byte(enc), []byte(">")) || bytes.HasSuffix([]byte(enc), []byte(">")) {
			return nil, derr(V1, 1, "encoding", -1, "big-endian %q: %w", enc, ErrUnsupported)
		}
		return nil, derr(V1, 1, "encoding", -1, "%q: %w", enc, ErrUnsupported)
	}
	if d.Size != nil && *d.Size != int64(len(parts[2])) {
		return nil, derr(V1, 1, "size", -1, "%d, but the data part has %d bytes", *d.Size, len(parts[2]))
	}
	if len(parts) == 4 {
		var c v1Part
		if err := parseJSONPart(parts, 3, &c); err != nil {
			return nil, err
		}
		if c.HType != htConfig {
			return nil, derr(V1, 3, "htype", -1, "%q (%s expected)", c.HType, htConfig)
		}
	}
	if err := checkCompressed(im); err != nil {
		return nil, err
	}
	return &Message{Kind: KindImage, Image: im}, nil
}

// checkCompressed bounds the compressed size by the decoded size: no
// encoding used here expands data by more than a small factor, so data
// far larger than the frame is refused before it is decoded.
func checkCompressed(im *Image) error {
	nb := im.Rows * im.Cols * im.ElemSize
	if im.Encoding == EncNone {
		if len(im.Data) != nb {
			return derr(im.Version, im.Part, "data", int64(min(len(im.Data), nb)), "%d bytes for %d×%d pixels of %d bytes (%d expected)", len(im.Data), im.Cols, im.Rows, im.ElemSize, nb)
		}
		return nil
	}
	if len(im.Data) > nb+nb/64+4096 {
		return derr(im.Version, im.Part, "data", -1, "%d compressed bytes for a frame of %d bytes", len(im.Data), nb)
	}
	return nil
}
