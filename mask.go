package saxs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Mask marks the pixels of a detector image that are excluded from
// integration (detector gaps, bad pixels, the beam stop).
//
// Masked holds Rows × Cols flags in row-major order, with row 0 the top row
// of the image as displayed, that is the first row stored in a TIFF frame
// (fit2d masks, stored bottom-up, are flipped on reading). true means the
// pixel is excluded; this is the inverse of the original saxsdog's
// "usable" array.
//
// A Mask belongs to its caller: New reads the masks it is given only while
// it builds the operators and keeps no reference to them.
type Mask struct {
	Rows, Cols int    // size in pixels
	Masked     []bool // Rows × Cols flags, row-major; true = excluded
}

// Count returns the number of masked pixels.
func (m *Mask) Count() int {
	n := 0
	for _, b := range m.Masked {
		if b {
			n++
		}
	}
	return n
}

// At reports whether the pixel at row r, column c is masked. It panics if
// r is outside [0, Rows) or c outside [0, Cols), as gonum's mat does.
func (m *Mask) At(r, c int) bool {
	if uint(r) >= uint(m.Rows) || uint(c) >= uint(m.Cols) {
		panic(fmt.Sprintf("saxs: Mask.At(%d, %d) out of range %d×%d", r, c, m.Rows, m.Cols))
	}
	return m.Masked[r*m.Cols+c]
}

// fit2d mask file layout.
const (
	fit2dHeaderSize = 1024
	fit2dWidthAt    = 0x10
	fit2dHeightAt   = 0x14
)

// fit2dRowBytes returns the bytes per row of a fit2d mask of the given
// width: rows are padded to a multiple of 32 bits.
func fit2dRowBytes(width int) int { return (width + 31) / 32 * 4 }

// DecodeFit2DMask decodes a fit2d binary mask (.msk). name identifies the
// source in errors.
//
// The file starts with a 1024-byte header of little-endian int32 words:
// words 0..3 hold 'M', 'A', 'S', 'K' (one character per word), word 4 (at
// byte 0x10) the width (columns), word 5 (0x14) the height (rows). From
// byte 1024 follow the rows, bottom row first, each of ceil(width/32)·32
// bits, least significant bit first (bit k of byte j of a row is column
// 8j+k); a set bit means masked. The rows are flipped so that row 0 of the
// result is the top row. Bytes after the last row are ignored.
//
// A malformed or truncated file gives a *FormatError naming the file and
// the byte offset of the problem.
func DecodeFit2DMask(data []byte, name string) (*Mask, error) {
	errorf := func(off int, format string, args ...any) error {
		return &FormatError{File: name, Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
	}
	for i, b := range data[:min(len(data), len(fit2dMagic))] {
		if b != fit2dMagic[i] {
			return nil, errorf(i&^3, "not a fit2d mask: header words 0..3 must be 'M', 'A', 'S', 'K' (one character per int32)")
		}
	}
	if len(data) < fit2dHeaderSize {
		return nil, errorf(len(data), "file too short for a fit2d mask header (%d bytes, want %d)", len(data), fit2dHeaderSize)
	}
	word := func(off int) int32 { return int32(binary.LittleEndian.Uint32(data[off:])) }
	w, h := word(fit2dWidthAt), word(fit2dHeightAt)
	if w <= 0 {
		return nil, errorf(fit2dWidthAt, "invalid mask width %d", w)
	}
	if h <= 0 {
		return nil, errorf(fit2dHeightAt, "invalid mask height %d", h)
	}
	if int64(w)*int64(h) > maxPixels {
		return nil, &FormatError{File: name, Offset: fit2dWidthAt,
			Err: &UnsupportedError{Feature: fmt.Sprintf("mask size %d × %d pixels (at most %d pixels)", w, h, maxPixels)}}
	}
	cols, rows := int(w), int(h)
	stride := fit2dRowBytes(cols)
	body := data[fit2dHeaderSize:]
	if have := len(body) / stride; have < rows {
		return nil, errorf(fit2dHeaderSize+have*stride,
			"mask body truncated: %d rows of %d bytes need %d bytes from offset %d, file has %d bytes",
			rows, stride, rows*stride, fit2dHeaderSize, len(data))
	}
	m := &Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	for fr := 0; fr < rows; fr++ {
		src := body[fr*stride : fr*stride+(cols+7)/8]
		dst := m.Masked[(rows-1-fr)*cols : (rows-fr)*cols]
		for j, b := range src {
			if b == 0 {
				continue
			}
			row := dst[8*j : min(8*j+8, cols)]
			for k := range row {
				row[k] = b&(1<<k) != 0
			}
		}
	}
	return m, nil
}

// EncodeFit2DMask writes m as a fit2d binary mask, in the layout read by
// [DecodeFit2DMask] (header word 6 is 1, the other header words 0).
func EncodeFit2DMask(w io.Writer, m *Mask) error {
	if err := m.check(); err != nil {
		return fmt.Errorf("saxs: EncodeFit2DMask: %w", err)
	}
	stride := fit2dRowBytes(m.Cols)
	buf := make([]byte, fit2dHeaderSize+m.Rows*stride)
	le := binary.LittleEndian
	for i, ch := range "MASK" {
		le.PutUint32(buf[4*i:], uint32(ch))
	}
	le.PutUint32(buf[fit2dWidthAt:], uint32(m.Cols))
	le.PutUint32(buf[fit2dHeightAt:], uint32(m.Rows))
	le.PutUint32(buf[0x18:], 1)
	for r := 0; r < m.Rows; r++ {
		dst := buf[fit2dHeaderSize+(m.Rows-1-r)*stride:]
		for c, masked := range m.Masked[r*m.Cols : (r+1)*m.Cols] {
			if masked {
				dst[c>>3] |= 1 << (c & 7)
			}
		}
	}
	_, err := w.Write(buf)
	return err
}

// check reports whether m is well formed.
func (m *Mask) check() error {
	switch {
	case m == nil:
		return errors.New("nil mask")
	case m.Rows <= 0 || m.Cols <= 0 || m.Rows > maxPixels || m.Cols > maxPixels || m.Rows*m.Cols > maxPixels:
		return fmt.Errorf("unsupported mask size %d × %d", m.Rows, m.Cols)
	case len(m.Masked) != m.Rows*m.Cols:
		return fmt.Errorf("mask has %d×%d pixels but %d flags", m.Rows, m.Cols, len(m.Masked))
	}
	return nil
}

// Magic numbers of the mask formats.
var (
	fit2dMagic = []byte{'M', 0, 0, 0, 'A', 0, 0, 0, 'S', 0, 0, 0, 'K', 0, 0, 0}
	tiffMagicL = []byte("II*\x00")
	tiffMagicB = []byte("MM\x00*")
	pngMagic   = []byte("\x89PNG\r\n\x1a\n")
)

// DecodeMask decodes a mask file held in data; name is the file name, used
// to choose the format and in errors.
//
// A name ending in ".msk" (in any case) is read as a fit2d mask
// ([DecodeFit2DMask]). A name ending in ".tif", ".tiff" or ".png" is read
// as an image mask, TIFF or PNG according to the content; any other name
// is identified by its content (fit2d "MASK" header, TIFF or PNG
// signature).
//
// In an image mask a nonzero pixel is masked, as in the original saxsdog;
// rows are not flipped. TIFF masks may have any sample type [DecodeTIFF]
// reads (a NaN sample counts as nonzero). PNG masks may be grey, grey with
// alpha, paletted or colour: a pixel is masked when any of its red, green
// or blue components, after conversion to 16-bit premultiplied RGBA, is
// nonzero; for grey images this is the grey value being nonzero. Alpha is
// ignored otherwise.
//
// Errors are *FormatError values naming the file.
func DecodeMask(data []byte, name string) (*Mask, error) {
	if name == "" {
		name = "mask data"
	}
	kind, err := maskKind(data, name)
	if err != nil {
		return nil, err
	}
	switch kind {
	case maskFit2D:
		return DecodeFit2DMask(data, name)
	case maskTIFF:
		return decodeTIFFMask(data, name)
	}
	return decodePNGMask(bytes.NewReader(data), name, nil)
}

// Mask file formats.
const (
	maskFit2D = iota
	maskTIFF
	maskPNG
)

// maskSniffLen is the number of leading bytes that tell the mask formats
// apart.
const maskSniffLen = 16

// maskKind tells the format of a mask file from its name and its first
// bytes head (at least maskSniffLen of them, or the whole file).
func maskKind(head []byte, name string) (int, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".msk":
		return maskFit2D, nil
	case ".tif", ".tiff", ".png":
		switch {
		case isTIFF(head):
			return maskTIFF, nil
		case bytes.HasPrefix(head, pngMagic):
			return maskPNG, nil
		}
		return 0, &FormatError{File: name, Offset: 0, Msg: "not a TIFF or PNG image"}
	}
	switch {
	case bytes.HasPrefix(head, fit2dMagic):
		return maskFit2D, nil
	case isTIFF(head):
		return maskTIFF, nil
	case bytes.HasPrefix(head, pngMagic):
		return maskPNG, nil
	}
	return 0, &FormatError{File: name, Offset: 0,
		Msg: "unknown mask format: not a fit2d mask, TIFF or PNG (name it .msk, .tif or .png)"}
}

func isTIFF(data []byte) bool {
	return bytes.HasPrefix(data, tiffMagicL) || bytes.HasPrefix(data, tiffMagicB)
}

// decodeTIFFMask decodes a TIFF image mask: nonzero = masked.
func decodeTIFFMask(data []byte, name string) (*Mask, error) {
	var img Image
	if err := DecodeTIFF(data, name, &img); err != nil {
		return nil, err
	}
	return imageMask(&img), nil
}

// imageMask returns the mask of an image mask: nonzero = masked.
func imageMask(img *Image) *Mask {
	m := &Mask{Rows: img.Rows, Cols: img.Cols, Masked: make([]bool, img.Rows*img.Cols)}
	if img.Counts != nil {
		for i, v := range img.Counts {
			m.Masked[i] = v != 0
		}
	} else {
		for i, v := range img.Values {
			m.Masked[i] = v != 0 // NaN != 0: masked
		}
	}
	return m
}

// decodePNGMask decodes a PNG image mask read from r: nonzero = masked.
// The size in the header is checked before the pixels are decoded.
// check, if not nil, may refuse the size (height, width) before the pixels
// are decoded.
func decodePNGMask(r io.ReadSeeker, name string, check func(rows, cols int64) error) (*Mask, error) {
	cfg, err := png.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		return nil, &FormatError{File: name, Offset: -1, Err: err}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, &FormatError{File: name, Offset: 16,
			Err: &UnsupportedError{Feature: fmt.Sprintf("mask size %d × %d pixels (at most %d pixels)", cfg.Width, cfg.Height, maxPixels)}}
	}
	if check != nil {
		if err := check(int64(cfg.Height), int64(cfg.Width)); err != nil {
			return nil, err
		}
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, &FormatError{File: name, Offset: -1, Err: err}
	}
	im, err := png.Decode(bufio.NewReader(r))
	if err != nil {
		return nil, &FormatError{File: name, Offset: -1, Err: err}
	}
	b := im.Bounds()
	rows, cols := b.Dy(), b.Dx()
	m := &Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	switch im := im.(type) {
	case *image.Gray:
		for r := 0; r < rows; r++ {
			for c, v := range im.Pix[r*im.Stride : r*im.Stride+cols] {
				m.Masked[r*cols+c] = v != 0
			}
		}
	case *image.Paletted:
		masked := make([]bool, len(im.Palette))
		for i, col := range im.Palette {
			r, g, b, _ := col.RGBA()
			masked[i] = r|g|b != 0
		}
		for r := 0; r < rows; r++ {
			for c, v := range im.Pix[r*im.Stride : r*im.Stride+cols] {
				// An index beyond the palette cannot come out of image/png;
				// count it as masked rather than guess.
				m.Masked[r*cols+c] = int(v) >= len(masked) || masked[v]
			}
		}
	default:
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				red, green, blue, _ := im.At(b.Min.X+c, b.Min.Y+r).RGBA()
				m.Masked[r*cols+c] = red|green|blue != 0
			}
		}
	}
	return m, nil
}

// OpenMask reads a mask file: a fit2d .msk, or a TIFF or PNG image mask
// (see [DecodeMask]). The path must name a regular file (else the error
// matches [ErrNotRegular]). The format and the size in the header are
// checked first; then only the bytes the mask needs are read.
func OpenMask(path string) (*Mask, error) { return openMask(path, 0, 0) }

// openMask is OpenMask that, when rows > 0, refuses a mask of another size
// than rows × cols as soon as its header tells the size, before reading
// the pixels, with a bare *SizeError (the caller names the mask).
func openMask(path string, rows, cols int) (*Mask, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, fmt.Errorf("mask: %w", err) // *PathError names the file
	}
	defer f.Close()
	m, err := readMask(f, size, path, rows, cols)
	if se := (*SizeError)(nil); errors.As(err, &se) {
		return nil, se
	}
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) && fe.File == path {
			return nil, fmt.Errorf("mask %w", err) // "mask <path>: offset ...: ..."
		}
		return nil, fmt.Errorf("mask %s: %w", path, err)
	}
	return m, nil
}

// readMask reads the mask in f, a regular file of size bytes named path;
// when rows > 0 the mask must be rows × cols (see openMask).
func readMask(f *os.File, size int64, path string, rows, cols int) (*Mask, error) {
	wrongSize := func(r, c int64) error {
		if rows > 0 && (r != int64(rows) || c != int64(cols)) {
			return &SizeError{What: "mask", Rows: int(r), Cols: int(c), WantRows: rows, WantCols: cols}
		}
		return nil
	}
	readAt := func(off, n int64) ([]byte, error) {
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		return b, nil
	}
	head, err := readAt(0, min(size, maskSniffLen))
	if err != nil {
		return nil, err
	}
	kind, err := maskKind(head, path)
	if err != nil {
		return nil, err
	}
	switch kind {
	case maskFit2D:
		// The header tells the size; read it, then only the rows.
		n := min(size, fit2dHeaderSize)
		if n == fit2dHeaderSize {
			hdr, err := readAt(0, n)
			if err != nil {
				return nil, err
			}
			w := int64(int32(binary.LittleEndian.Uint32(hdr[fit2dWidthAt:])))
			h := int64(int32(binary.LittleEndian.Uint32(hdr[fit2dHeightAt:])))
			if w > 0 && h > 0 && w*h <= maxPixels {
				if err := wrongSize(h, w); err != nil {
					return nil, err
				}
				n = min(size, fit2dHeaderSize+h*int64(fit2dRowBytes(int(w))))
			}
		}
		data, err := readAt(0, n)
		if err != nil {
			return nil, err
		}
		return DecodeFit2DMask(data, path)
	case maskTIFF:
		var img Image
		d := tiffDecoder{r: f, size: size, name: path, check: func(l tiffLayout) error {
			return wrongSize(int64(l.height), int64(l.width))
		}}
		if err := d.decode(&img); err != nil {
			return nil, err
		}
		return imageMask(&img), nil
	}
	return decodePNGMask(io.NewSectionReader(f, 0, size), path, wrongSize)
}
