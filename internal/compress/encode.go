package compress

import (
	"encoding/binary"

	"github.com/pierrec/lz4/v4"
)

// DefaultLZ4Block is the block size in bytes of EncodeLZ4 (the HDF5 LZ4
// filter's default, 1 GiB, would make one block of any frame).
const DefaultLZ4Block = 1 << 20

// EncodeLZ4 compresses src in the framing that DecodeLZ4 reads (HDF5
// filter 32004): a big-endian 8-byte size and 4-byte block size, then each
// block of at most DefaultLZ4Block bytes preceded by its big-endian 4-byte
// compressed size, a block that LZ4 does not shrink being stored raw.
func EncodeLZ4(src []byte) []byte {
	out := make([]byte, 12, 12+len(src)+len(src)/DefaultLZ4Block*4+16)
	binary.BigEndian.PutUint64(out, uint64(len(src)))
	binary.BigEndian.PutUint32(out[8:], DefaultLZ4Block)
	var ht [1 << 16]int
	for p := 0; p < len(src); p += DefaultLZ4Block {
		blk := src[p:min(p+DefaultLZ4Block, len(src))]
		buf := make([]byte, lz4.CompressBlockBound(len(blk)))
		n, err := lz4.CompressBlock(blk, buf, ht[:])
		if err != nil || n == 0 || n >= len(blk) {
			out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
			out = append(out, blk...)
			continue
		}
		out = binary.BigEndian.AppendUint32(out, uint32(n))
		out = append(out, buf[:n]...)
	}
	return out
}

// EncodeLZ4Block compresses src into one LZ4 block (no framing), as the
// Eiger's stream interface v1 sends an image with encoding "lz4<".
func EncodeLZ4Block(src []byte) []byte {
	buf := make([]byte, lz4.CompressBlockBound(len(src)))
	var ht [1 << 16]int
	n, err := lz4.CompressBlock(src, buf, ht[:])
	if err != nil || n == 0 {
		return literalBlock(src)
	}
	return buf[:n]
}

// literalBlock returns an LZ4 block holding src as literals only (one
// final sequence), for data that LZ4 does not shrink.
func literalBlock(src []byte) []byte {
	out := make([]byte, 0, len(src)+len(src)/255+2)
	n := len(src)
	if n < 15 {
		return append(append(out, byte(n<<4)), src...)
	}
	out = append(out, 0xf0)
	for n -= 15; n >= 255; n -= 255 {
		out = append(out, 255)
	}
	out = append(out, byte(n))
	return append(out, src...)
}

// EncodeBitshuffleLZ4 compresses src, elements of es bytes, in the
// framing that DecodeBitshuffle reads with LZ4 (HDF5 filter 32008 with
// compression 2): the big-endian 8-byte size and 4-byte block size in
// bytes, then per block of the default size (and a last one of a multiple
// of 8 elements) the bit-transposed elements as an LZ4 block preceded by
// its big-endian 4-byte size; the elements after the last multiple of 8
// are stored raw at the end. len(src) must be a multiple of es.
func EncodeBitshuffleLZ4(src []byte, es int) []byte {
	blockElems := defaultBlockSize(es)
	out := make([]byte, 12, 12+len(src)+len(src)/8+64)
	binary.BigEndian.PutUint64(out, uint64(len(src)))
	binary.BigEndian.PutUint32(out[8:], uint32(blockElems*es))
	size := len(src) / es
	tmp := make([]byte, blockElems*es)
	buf := make([]byte, lz4.CompressBlockBound(blockElems*es))
	var ht [1 << 16]int
	p := 0
	block := func(n int) {
		nb := n * es
		transposeBits(tmp[:nb], src[p:p+nb], n, es)
		c, err := lz4.CompressBlock(tmp[:nb], buf, ht[:])
		var b []byte
		if err != nil || c == 0 {
			b = literalBlock(tmp[:nb])
		} else {
			b = buf[:c]
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
		p += nb
	}
	for i := 0; i < size/blockElems; i++ {
		block(blockElems)
	}
	if last := size % blockElems / 8 * 8; last > 0 {
		block(last)
	}
	return append(out, src[p:size*es]...)
}

// transposeBits is the bit transpose that untransposeBits undoes: n
// elements (a multiple of 8) of es bytes from src into es·8 rows of n/8
// bytes in dst.
func transposeBits(dst, src []byte, n, es int) {
	row := n / 8
	for j := 0; j < es; j++ {
		base := j * 8 * row
		for r := 0; r < row; r++ {
			var x uint64
			for m := 0; m < 8; m++ {
				x |= uint64(src[(8*r+m)*es+j]) << (8 * uint(m))
			}
			x = transpose8(x)
			for b := 0; b < 8; b++ {
				dst[base+b*row+r] = byte(x >> (8 * uint(b)))
			}
		}
	}
}
