package saxs

import (
	"errors"
	"fmt"
)

// Image is one detector frame: Rows × Cols samples in row-major order, row 0
// being the first row stored in the file (shown at the top).
//
// Integer frames whose samples fit in an int32 (8-, 16- and 32-bit signed,
// 8- and 16-bit unsigned) are held in Counts, without conversion, so that
// integration reads the detector counts directly. Other frames (32-bit
// unsigned, 32-bit float, or images computed by a program) are held in
// Values. Exactly one of Counts and Values is non-nil.
//
// An Image belongs to its caller: the package reads it during a call and
// keeps no reference to it afterwards ([DecodeTIFF] reuses its slices).
type Image struct {
	Rows, Cols int
	Counts     []int32   // integer samples, or nil
	Values     []float64 // floating-point samples, or nil

	// Description is the TIFF ImageDescription (tag 270), which for Pilatus
	// detectors holds the header lines ("# Exposure_time ..."); empty if absent.
	Description string
	// DateTime is the TIFF DateTime (tag 306), "YYYY:MM:DD HH:MM:SS"; empty if absent.
	DateTime string
}

// NewImage returns a zeroed floating-point image of the given size.
func NewImage(rows, cols int) *Image {
	return &Image{Rows: rows, Cols: cols, Values: make([]float64, rows*cols)}
}

// Len returns the number of pixels, Rows × Cols.
func (m *Image) Len() int { return m.Rows * m.Cols }

// At returns the sample at row r, column c as a float64. It panics if r is
// outside [0, Rows) or c outside [0, Cols), as gonum's mat does.
func (m *Image) At(r, c int) float64 {
	if uint(r) >= uint(m.Rows) || uint(c) >= uint(m.Cols) {
		panic(fmt.Sprintf("saxs: Image.At(%d, %d) out of range %d×%d", r, c, m.Rows, m.Cols))
	}
	i := r*m.Cols + c
	if m.Counts != nil {
		return float64(m.Counts[i])
	}
	return m.Values[i]
}

// check reports whether the image is well formed and of the given size.
func (m *Image) check(rows, cols int) error {
	if m == nil {
		return errors.New("saxs: nil image")
	}
	n := m.Rows * m.Cols
	switch {
	case (m.Counts == nil) == (m.Values == nil):
		return errors.New("saxs: image must have exactly one of Counts and Values")
	case m.Counts != nil && len(m.Counts) != n, m.Values != nil && len(m.Values) != n:
		return fmt.Errorf("saxs: image has %d×%d pixels but %d samples", m.Rows, m.Cols, max(len(m.Counts), len(m.Values)))
	case m.Rows != rows || m.Cols != cols:
		return &SizeError{What: "image", Rows: m.Rows, Cols: m.Cols, WantRows: rows, WantCols: cols}
	}
	return nil
}

// SizeError reports an image or mask whose size does not match the
// calibration's Imagesize.
type SizeError struct {
	What               string // "image" or "mask"
	Rows, Cols         int    // the size found
	WantRows, WantCols int    // the calibration's Imagesize
}

// Error describes the size found and the size expected.
func (e *SizeError) Error() string {
	return fmt.Sprintf("%s is %d rows × %d columns, calibration Imagesize is [%d, %d]",
		e.What, e.Rows, e.Cols, e.WantRows, e.WantCols)
}

// FormatError reports a malformed, truncated or unsupported input file (a
// TIFF frame, a mask, a .chi file), like encoding/csv's ParseError: where
// the problem is and what it is. Offset is the byte offset of the
// problem; for text formats Line is set instead.
//
// Err, when set, is the cause: an *[UnsupportedError] for a feature the
// reader does not support, or the error of another decoder (image/png);
// errors.Is and errors.As reach it through Unwrap.
type FormatError struct {
	File   string // file name, or a description of the source when read from bytes
	Offset int64  // byte offset of the problem; -1 if unknown
	Line   int    // 1-based line number for text formats; 0 if not applicable
	Msg    string // what is wrong; may be empty when Err says it
	Err    error  // the cause, or nil
}

// Error formats the error as "file: offset N: message" (or "file: line N:
// message" for text formats), the message being Msg, Err, or both joined
// by ": ".
func (e *FormatError) Error() string {
	msg := e.Msg
	switch {
	case e.Err != nil && msg == "":
		msg = e.Err.Error()
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	}
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s: line %d: %s", e.File, e.Line, msg)
	case e.Offset >= 0:
		return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, msg)
	}
	return fmt.Sprintf("%s: %s", e.File, msg)
}

// Unwrap returns the cause, Err.
func (e *FormatError) Unwrap() error { return e.Err }

// UnsupportedError reports a valid input that uses a feature this package
// does not read, such as a compressed or tiled TIFF. It reaches the caller
// as the Err of a *[FormatError] that says where.
type UnsupportedError struct {
	// Feature names what is not supported and what is, e.g.
	// "Compression 5 (LZW) (only 1, uncompressed)".
	Feature string
}

// Error returns "unsupported " followed by Feature.
func (e *UnsupportedError) Error() string { return "unsupported " + e.Feature }
