// Package stream decodes the DECTRIS stream interface of Eiger detectors,
// version 1 (the "stream" subsystem of the SIMPLON API 1.6/1.8: multipart
// ZeroMQ messages of JSON headers and binary parts) and version 2 (one
// CBOR message per part: start, image, end), tracks the frames of a
// series (gaps, frames out of order, frames received against expected),
// and sends both versions from detector frames (the simulator behind
// saxsstreamsim).
//
// The decoders take untrusted input: every size is checked against the
// shape and the element type before anything is allocated or
// decompressed, and errors (*DecodeError) name the message part, the
// field and, for binary data, the byte offset.
package stream

import (
	"errors"
	"fmt"

	"github.com/saxsdog/saxs"
)

// Version is a stream interface version.
type Version int

// The stream interface versions.
const (
	V1 Version = 1 // JSON multipart (htype dheader-1.0, dimage-1.0, dseries_end-1.0)
	V2 Version = 2 // CBOR (type start, image, end)
)

// Kind is the kind of a decoded message.
type Kind int

// The kinds of messages.
const (
	KindHeader Kind = iota + 1 // a series starts (v1 dheader, v2 start)
	KindImage                  // one frame
	KindEnd                    // a series ends
)

func (k Kind) String() string {
	switch k {
	case KindHeader:
		return "header"
	case KindImage:
		return "image"
	case KindEnd:
		return "end"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Header is a series' global header: what applies to all its frames.
type Header struct {
	Version Version
	// Series is the series number (v1 "series", v2 "series_id").
	Series uint64
	// NImages and NTrigger give the frames expected: NImages × NTrigger
	// (0 when the header does not say; v2's number_of_images is the total
	// and NTrigger is 1).
	NImages, NTrigger int64
	// Rows and Cols are the detector size (y_pixels_in_detector,
	// x_pixels_in_detector; v2 image_size_y, image_size_x); 0 if absent.
	Rows, Cols int
	// PixelMask is the detector's pixel mask (a non-zero value excludes
	// the pixel), nil when the header carries none (header_detail basic or
	// none).
	PixelMask *saxs.Mask
	// CountCutoff: a pixel whose value is at or above it is saturated and
	// excluded from the frame's integration; 0 means none. v1 gives
	// countrate_correction_count_cutoff; v2 gives saturation_value, the
	// highest valid value, and CountCutoff is one above it.
	CountCutoff uint64
	// Geometry as the detector reports it (0 when absent).
	Wavelength       float64    // Å
	DetectorDistance float64    // m
	BeamCenter       [2]float64 // pixels (x, y)
}

// Expected returns the number of frames the series announces, 0 if
// unknown.
func (h *Header) Expected() int64 {
	if h == nil || h.NImages <= 0 {
		return 0
	}
	return h.NImages * max(h.NTrigger, 1)
}

// FrameInfo returns the header's geometry as saxs.FrameInfo (distance in
// mm), to compare with a calibration (FrameInfo.Disagreements).
func (h *Header) FrameInfo() saxs.FrameInfo {
	return saxs.FrameInfo{Wavelength: h.Wavelength, DetectorDistance: h.DetectorDistance * 1000,
		BeamCenter: h.BeamCenter, HasBeamCenter: h.BeamCenter != [2]float64{}}
}

// Image is one frame as received: its data still compressed.
type Image struct {
	Version Version
	Series  uint64
	// Frame is the frame number in the series, counted from 0 (v1
	// "frame", v2 "image_id").
	Frame      int64
	Rows, Cols int
	// ElemSize is the bytes per pixel (1, 2 or 4), Signed tells a signed
	// type.
	ElemSize int
	Signed   bool
	// Encoding is the compression: EncNone, EncLZ4Block (v1 lz4<),
	// EncLZ4 (v2 lz4, HDF5 framing) or EncBSLZ4 (v1 bs16-lz4< and
	// bs32-lz4<, v2 bslz4; HDF5 framing).
	Encoding Encoding
	Data     []byte
	// Part is the message part that holds Data (for errors).
	Part int
}

// Encoding is the compression of an image's data.
type Encoding int

// The encodings.
const (
	EncNone     Encoding = iota // raw little-endian
	EncLZ4Block                 // one LZ4 block (v1 "lz4<")
	EncLZ4                      // LZ4 blocks in the HDF5 filter 32004 framing (v2 "lz4")
	EncBSLZ4                    // bitshuffle + LZ4 in the HDF5 filter 32008 framing
)

func (e Encoding) String() string {
	switch e {
	case EncNone:
		return "none"
	case EncLZ4Block:
		return "lz4"
	case EncLZ4:
		return "lz4 (HDF5 framing)"
	case EncBSLZ4:
		return "bslz4"
	}
	return fmt.Sprintf("encoding(%d)", int(e))
}

// End is the end of a series.
type End struct {
	Version Version
	Series  uint64
}

// Message is one decoded message: exactly one of Header, Image and End
// is set, as Kind tells.
type Message struct {
	Kind   Kind
	Header *Header
	Image  *Image
	End    *End
}

// Limits bound what a decoder accepts.
type Limits struct {
	// MaxPixels bounds rows × cols of a frame or mask (default
	// DefaultMaxPixels).
	MaxPixels int
}

// DefaultMaxPixels bounds a frame's pixels unless Limits say otherwise:
// 64 Mi, four times an Eiger2 16M.
const DefaultMaxPixels = 64 << 20

func (l Limits) maxPixels() int {
	if l.MaxPixels > 0 {
		return l.MaxPixels
	}
	return DefaultMaxPixels
}

// DecodeError is a message that could not be decoded: Part is the
// message part (0-based), Field the field or "data", Offset the byte
// offset in the part when known (-1 otherwise).
type DecodeError struct {
	Version Version
	Part    int
	Field   string
	Offset  int64
	Err     error
}

func (e *DecodeError) Error() string {
	s := fmt.Sprintf("stream v%d: part %d", int(e.Version), e.Part)
	if e.Field != "" {
		s += ": " + e.Field
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at byte %d", e.Offset)
	}
	return s + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrUnsupported is wrapped by errors for valid messages this decoder does
// not handle (an element type, an encoding, a message type).
var ErrUnsupported = errors.New("unsupported")

func derr(v Version, part int, field string, off int64, format string, a ...any) error {
	return &DecodeError{Version: v, Part: part, Field: field, Offset: off, Err: fmt.Errorf(format, a...)}
}

// Decode decodes one ZeroMQ message (its parts) of either version: a v2
// message is one part starting with CBOR (the self-describe tag or a
// map), a v1 message starts with a JSON object.
func Decode(parts [][]byte, lim Limits) (*Message, error) {
	if len(parts) == 0 || len(parts[0]) == 0 {
		return nil, derr(V1, 0, "", -1, "empty message")
	}
	if parts[0][0] == '{' {
		return DecodeV1(parts, lim)
	}
	if len(parts) != 1 {
		return nil, derr(V2, 1, "", -1, "a CBOR message of %d parts (one expected)", len(parts))
	}
	return DecodeV2(parts[0], lim)
}
