package stream

import (
	"encoding/binary"
	"fmt"

	"github.com/pierrec/lz4/v4"
	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/compress"
)

// FrameDecoder decompresses images into saxs.Images, reusing its buffers:
// a pipeline of frames of one size allocates nothing per frame once warm.
// A FrameDecoder must not be used by several goroutines at once.
type FrameDecoder struct {
	raw, tmp []byte
}

// Decode decompresses im into dst (its Counts, reusing their capacity).
// Unsigned 32-bit values are stored bit for bit, so that the Eiger's
// all-ones value of defective pixels reads as -1, as the HDF5 reader
// reads it.
func (d *FrameDecoder) Decode(im *Image, dst *saxs.Image) error {
	raw, err := d.Raw(im)
	if err != nil {
		return err
	}
	n, es := im.Rows*im.Cols, im.ElemSize
	dst.Rows, dst.Cols = im.Rows, im.Cols
	dst.Values = nil
	dst.Description, dst.DateTime = "", ""
	if cap(dst.Counts) < n {
		dst.Counts = make([]int32, n)
	}
	c := dst.Counts[:n]
	dst.Counts = c
	switch {
	case es == 1 && im.Signed:
		for i := range c {
			c[i] = int32(int8(raw[i]))
		}
	case es == 1:
		for i := range c {
			c[i] = int32(raw[i])
		}
	case es == 2 && im.Signed:
		for i := range c {
			c[i] = int32(int16(binary.LittleEndian.Uint16(raw[2*i:])))
		}
	case es == 2:
		for i := range c {
			c[i] = int32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	default:
		for i := range c {
			c[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	return nil
}

// Raw returns the decompressed little-endian values of im: im.Data
// itself when it is not compressed, else the decoder's buffer (valid
// until the next call).
func (d *FrameDecoder) Raw(im *Image) ([]byte, error) {
	n := im.Rows * im.Cols
	es := im.ElemSize
	if im.Rows <= 0 || im.Cols <= 0 || es != 1 && es != 2 && es != 4 {
		return nil, derr(im.Version, im.Part, "data", -1, "image of %d×%d pixels of %d bytes", im.Rows, im.Cols, es)
	}
	nb := n * es
	var raw []byte
	switch im.Encoding {
	case EncNone:
		if len(im.Data) != nb {
			return nil, derr(im.Version, im.Part, "data", int64(min(len(im.Data), nb)), "%d bytes for %d×%d pixels of %d bytes (%d expected)", len(im.Data), im.Rows, im.Cols, es, nb)
		}
		raw = im.Data
	case EncLZ4Block, EncLZ4, EncBSLZ4:
		if cap(d.raw) < nb {
			d.raw = make([]byte, nb)
		}
		raw = d.raw[:nb]
		var m int
		var err error
		switch im.Encoding {
		case EncLZ4Block:
			m, err = lz4.UncompressBlock(im.Data, raw)
			if (err != nil || m != nb) && len(im.Data) > 4 && binary.LittleEndian.Uint32(im.Data) == uint32(nb) {
				// python-lz4's old default framing: a 4-byte little-endian
				// size before the block
				m, err = lz4.UncompressBlock(im.Data[4:], raw)
			}
		case EncLZ4:
			m, err = compress.DecodeLZ4(im.Data, raw)
		default:
			m, err = compress.DecodeBitshuffle(im.Data, raw, es, 2, &d.tmp)
		}
		if err != nil {
			return nil, derr(im.Version, im.Part, "data", -1, "%s: %w", im.Encoding, err)
		}
		if m != nb {
			return nil, derr(im.Version, im.Part, "data", -1, "%s data decodes to %d bytes, %d expected for %d×%d pixels of %d bytes", im.Encoding, m, nb, im.Rows, im.Cols, es)
		}
	default:
		return nil, derr(im.Version, im.Part, "encoding", -1, "%v: %w", im.Encoding, ErrUnsupported)
	}
	return raw, nil
}

// Saturated returns the pixels of img (decoded from an image of element
// size es, unsigned unless signed) whose value is at or above cutoff and
// that masked does not exclude already, as a mask that also excludes what
// masked excludes; nil when there are none (or cutoff is 0).
func Saturated(img *saxs.Image, es int, signed bool, cutoff uint64, masked *saxs.Mask) *saxs.Mask {
	if cutoff == 0 || img.Counts == nil {
		return nil
	}
	if masked != nil && len(masked.Masked) != len(img.Counts) {
		masked = nil
	}
	var out *saxs.Mask
	for i, v := range img.Counts {
		var u uint64
		switch {
		case signed && v < 0:
			continue
		case es == 4:
			u = uint64(uint32(v))
		default:
			u = uint64(v)
		}
		if u < cutoff || masked != nil && masked.Masked[i] {
			continue
		}
		if out == nil {
			out = &saxs.Mask{Rows: img.Rows, Cols: img.Cols, Masked: make([]bool, len(img.Counts))}
			if masked != nil {
				copy(out.Masked, masked.Masked)
			}
		}
		out.Masked[i] = true
	}
	return out
}

// elemType parses an element type name (uint8/16/32, int8/16/32).
func elemType(s string) (es int, signed bool, err error) {
	switch s {
	case "uint8":
		return 1, false, nil
	case "uint16":
		return 2, false, nil
	case "uint32":
		return 4, false, nil
	case "int8":
		return 1, true, nil
	case "int16":
		return 2, true, nil
	case "int32":
		return 4, true, nil
	}
	return 0, false, fmt.Errorf("element type %q: %w", s, ErrUnsupported)
}

// maskFromRaw turns raw little-endian values of es bytes (non-zero =
// excluded) into a mask.
func maskFromRaw(raw []byte, rows, cols, es int) *saxs.Mask {
	m := &saxs.Mask{Rows: rows, Cols: cols, Masked: make([]bool, rows*cols)}
	for i := range m.Masked {
		var v uint32
		switch es {
		case 1:
			v = uint32(raw[i])
		case 2:
			v = uint32(binary.LittleEndian.Uint16(raw[2*i:]))
		default:
			v = binary.LittleEndian.Uint32(raw[4*i:])
		}
		m.Masked[i] = v != 0
	}
	return m
}
