package stream

import (
	"math"
	"reflect"
	"sort"

	"github.com/fxamacker/cbor/v2"
)

// CBOR tags of the v2 interface.
const (
	tagMultiDim    = 40    // RFC 8746 multi-dimensional array, row-major: [dims, array]
	tagCompression = 56500 // DECTRIS compressed byte string: [algorithm, elem size, bytes]
	tagUint8       = 64    // RFC 8746 typed arrays (little-endian ones used here)
	tagUint16LE    = 69
	tagUint32LE    = 70
	tagInt8        = 72
	tagInt16LE     = 77
	tagInt32LE     = 78
)

// maxV2Items bounds the arrays and maps of a v2 message (the messages
// hold a few dozen fields; frame data are byte strings).
const maxV2Items = 1 << 16

// v2Mode decodes v2 messages into generic values with bounded nesting.
var v2Mode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		MaxNestedLevels:  32,
		MaxArrayElements: maxV2Items,
		MaxMapPairs:      maxV2Items,
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
	}.DecMode()
	if err != nil {
		panic(err) // the options are constant
	}
	return m
}()

// DecodeV2 decodes a v2 CBOR message.
func DecodeV2(msg []byte, lim Limits) (*Message, error) {
	var v any
	if err := v2Mode.Unmarshal(msg, &v); err != nil {
		return nil, derr(V2, 0, "", -1, "CBOR: %w", err)
	}
	if t, ok := v.(cbor.Tag); ok && t.Number == 55799 {
		v = t.Content
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, derr(V2, 0, "", 0, "a %s, not a map", typeName(v))
	}
	typ, ok := m["type"].(string)
	if !ok {
		return nil, derr(V2, 0, "type", -1, "missing or not text")
	}
	series, err := uintField(m, "series_id", math.MaxInt64)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "start":
		return decodeV2Start(m, series, lim)
	case "image":
		return decodeV2Image(m, series, lim)
	case "end":
		return &Message{Kind: KindEnd, End: &End{Version: V2, Series: series}}, nil
	}
	return nil, derr(V2, 0, "type", -1, "%q: %w", typ, ErrUnsupported)
}

func typeName(v any) string {
	if v == nil {
		return "null"
	}
	return reflect.TypeOf(v).String()
}

// uintField returns a required unsigned integer field.
func uintField(m map[string]any, name string, max uint64) (uint64, error) {
	v, ok := m[name]
	if !ok {
		return 0, derr(V2, 0, name, -1, "missing")
	}
	u, ok := v.(uint64)
	if !ok || u > max {
		return 0, derr(V2, 0, name, -1, "%v (%s) is not an unsigned integer up to %d", v, typeName(v), max)
	}
	return u, nil
}

// optUint returns an optional unsigned integer field (0 when absent).
func optUint(m map[string]any, name string, max uint64) (uint64, error) {
	if _, ok := m[name]; !ok {
		return 0, nil
	}
	return uintField(m, name, max)
}

func optFloat(m map[string]any, name string) float64 {
	switch x := m[name].(type) {
	case float64:
		return x
	case uint64:
		return float64(x)
	case int64:
		return float64(x)
	}
	return 0
}

func decodeV2Start(m map[string]any, series uint64, lim Limits) (*Message, error) {
	hd := &Header{Version: V2, Series: series, NTrigger: 1}
	maxPix := uint64(lim.maxPixels())
	n, err := optUint(m, "number_of_images", 1<<40)
	if err != nil {
		return nil, err
	}
	hd.NImages = int64(n)
	x, err := optUint(m, "image_size_x", maxPix)
	if err != nil {
		return nil, err
	}
	y, err := optUint(m, "image_size_y", maxPix)
	if err != nil {
		return nil, err
	}
	if x*y > maxPix {
		return nil, derr(V2, 0, "image_size_x", -1, "%d×%d pixels (at most %d)", x, y, maxPix)
	}
	hd.Rows, hd.Cols = int(y), int(x)
	sat, err := optUint(m, "saturation_value", 1<<62)
	if err != nil {
		return nil, err
	}
	if _, ok := m["saturation_value"]; ok {
		hd.CountCutoff = sat + 1
	}
	hd.BeamCenter = [2]float64{optFloat(m, "beam_center_x"), optFloat(m, "beam_center_y")}
	hd.Wavelength = optFloat(m, "incident_wavelength")
	hd.DetectorDistance = optFloat(m, "detector_distance")
	if pm, ok := m["pixel_mask"]; ok {
		pmm, ok := pm.(map[string]any)
		if !ok {
			return nil, derr(V2, 0, "pixel_mask", -1, "a %s, not a map of channels", typeName(pm))
		}
		if a, name := channel(pmm); a != nil {
			im, err := array(a, "pixel_mask."+name, lim)
			if err != nil {
				return nil, err
			}
			if hd.Rows != 0 && (im.Rows != hd.Rows || im.Cols != hd.Cols) {
				return nil, derr(V2, 0, "pixel_mask."+name, -1, "%d×%d pixels for a %d×%d detector", im.Cols, im.Rows, hd.Cols, hd.Rows)
			}
			var d FrameDecoder
			raw, err := d.Raw(im)
			if err != nil {
				return nil, err
			}
			hd.PixelMask = maskFromRaw(raw, im.Rows, im.Cols, im.ElemSize)
			hd.Rows, hd.Cols = im.Rows, im.Cols
		}
	}
	return &Message{Kind: KindHeader, Header: hd}, nil
}

// channel returns the threshold_1 entry of a map of channels, or the
// first by name.
func channel(m map[string]any) (any, string) {
	if v, ok := m["threshold_1"]; ok {
		return v, "threshold_1"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return nil, ""
	}
	return m[keys[0]], keys[0]
}

func decodeV2Image(m map[string]any, series uint64, lim Limits) (*Message, error) {
	id, err := uintField(m, "image_id", math.MaxInt64)
	if err != nil {
		return nil, err
	}
	d, ok := m["data"].(map[string]any)
	if !ok {
		return nil, derr(V2, 0, "data", -1, "missing or not a map of channels")
	}
	a, name := channel(d)
	if a == nil {
		return nil, derr(V2, 0, "data", -1, "no channel")
	}
	im, err := array(a, "data."+name, lim)
	if err != nil {
		return nil, err
	}
	im.Series, im.Frame = series, int64(id)
	return &Message{Kind: KindImage, Image: im}, nil
}

// array decodes a tag-40 multi-dimensional array of a typed array
// (possibly compressed) into an Image with its data still compressed.
func array(v any, field string, lim Limits) (*Image, error) {
	t, ok := v.(cbor.Tag)
	if !ok || t.Number != tagMultiDim {
		return nil, derr(V2, 0, field, -1, "a %s, not a multi-dimensional array (tag %d)", typeName(v), tagMultiDim)
	}
	c, ok := t.Content.([]any)
	if !ok || len(c) != 2 {
		return nil, derr(V2, 0, field, -1, "tag %d content is not [dimensions, array]", tagMultiDim)
	}
	dims, ok := c[0].([]any)
	if !ok || len(dims) != 2 {
		return nil, derr(V2, 0, field+".dimensions", -1, "%v (two sizes [rows, columns] expected)", c[0])
	}
	var rc [2]uint64
	for i, d := range dims {
		u, ok := d.(uint64)
		if !ok || u == 0 || u > uint64(lim.maxPixels()) {
			return nil, derr(V2, 0, field+".dimensions", -1, "%v (sizes 1 to %d)", dims, lim.maxPixels())
		}
		rc[i] = u
	}
	if rc[0]*rc[1] > uint64(lim.maxPixels()) {
		return nil, derr(V2, 0, field+".dimensions", -1, "%d×%d pixels (at most %d)", rc[1], rc[0], lim.maxPixels())
	}
	ta, ok := c[1].(cbor.Tag)
	if !ok {
		return nil, derr(V2, 0, field+".array", -1, "a %s, not a typed array", typeName(c[1]))
	}
	im := &Image{Version: V2, Rows: int(rc[0]), Cols: int(rc[1])}
	switch ta.Number {
	case tagUint8:
		im.ElemSize = 1
	case tagUint16LE:
		im.ElemSize = 2
	case tagUint32LE:
		im.ElemSize = 4
	case tagInt8:
		im.ElemSize, im.Signed = 1, true
	case tagInt16LE:
		im.ElemSize, im.Signed = 2, true
	case tagInt32LE:
		im.ElemSize, im.Signed = 4, true
	default:
		return nil, derr(V2, 0, field+".array", -1, "typed array tag %d: %w", ta.Number, ErrUnsupported)
	}
	switch x := ta.Content.(type) {
	case []byte:
		im.Encoding, im.Data = EncNone, x
	case cbor.Tag:
		if x.Number != tagCompression {
			return nil, derr(V2, 0, field+".array", -1, "tag %d in a typed array (a byte string or tag %d expected)", x.Number, tagCompression)
		}
		cc, ok := x.Content.([]any)
		if !ok || len(cc) != 3 {
			return nil, derr(V2, 0, field+".compression", -1, "not [algorithm, element size, bytes]")
		}
		alg, _ := cc[0].(string)
		es, _ := cc[1].(uint64)
		data, ok := cc[2].([]byte)
		if !ok {
			return nil, derr(V2, 0, field+".compression", -1, "the data is a %s, not a byte string", typeName(cc[2]))
		}
		im.Data = data
		switch alg {
		case "bslz4":
			if es != uint64(im.ElemSize) {
				return nil, derr(V2, 0, field+".compression", -1, "bslz4 element size %v for a typed array of %d-byte elements", cc[1], im.ElemSize)
			}
			im.Encoding = EncBSLZ4
		case "lz4":
			im.Encoding = EncLZ4
		default:
			return nil, derr(V2, 0, field+".compression", -1, "algorithm %q: %w", alg, ErrUnsupported)
		}
	default:
		return nil, derr(V2, 0, field+".array", -1, "typed array content is a %s", typeName(ta.Content))
	}
	if err := checkCompressed(im); err != nil {
		if de, ok := err.(*DecodeError); ok {
			de.Field = field + "." + de.Field
		}
		return nil, err
	}
	return im, nil
}
