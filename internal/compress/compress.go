// Package compress decodes and encodes the LZ4 and bitshuffle-LZ4 framings
// of the HDF5 filters 32004 and 32008, which the Eiger writes in its
// master files and sends on its stream interface.
package compress

import (
	"encoding/binary"
	"fmt"

	"github.com/pierrec/lz4/v4"
)

// DecodeLZ4 undoes HDF5's LZ4 filter (32004): a big-endian 8-byte
// decoded size and 4-byte block size, then blocks each preceded by its
// big-endian 4-byte compressed size (a block whose compressed size equals
// its decoded size is stored raw). It returns the decoded length.
func DecodeLZ4(src, dst []byte) (int, error) {
	if len(src) < 12 {
		return 0, fmt.Errorf("LZ4 chunk of %d bytes has no header", len(src))
	}
	total := binary.BigEndian.Uint64(src)
	block := uint64(binary.BigEndian.Uint32(src[8:]))
	if total != uint64(len(dst)) {
		return 0, fmt.Errorf("LZ4 header decoded size %d, chunk is %d bytes", total, len(dst))
	}
	if block == 0 {
		return 0, fmt.Errorf("LZ4 header block size 0")
	}
	p, out := 12, 0
	for uint64(out) < total {
		want := int(min(block, total-uint64(out)))
		if len(src)-p < 4 {
			return 0, fmt.Errorf("LZ4 data ends at byte %d after %d of %d bytes", p, out, total)
		}
		n := int(binary.BigEndian.Uint32(src[p:]))
		p += 4
		if n > len(src)-p {
			return 0, fmt.Errorf("LZ4 block at byte %d: compressed size %d past the end of the chunk (%d bytes)", p-4, n, len(src))
		}
		if n == want {
			copy(dst[out:out+want], src[p:p+n])
		} else {
			m, err := lz4.UncompressBlock(src[p:p+n], dst[out:out+want])
			if err != nil || m != want {
				return 0, fmt.Errorf("LZ4 block at byte %d decodes to %d bytes, %d expected: %v", p-4, m, want, err)
			}
		}
		p += n
		out += want
	}
	return out, nil
}

// defaultBlockSize is bitshuffle's default block size in elements.
func defaultBlockSize(es int) int {
	b := 8192 / es / 8 * 8
	return max(b, 128)
}

// DecodeBitshuffle undoes the bitshuffle filter (32008) into dst:
// without compression (comp 0) a bit transpose per block; with LZ4 (comp
// 2) a big-endian 8-byte decoded size and 4-byte block size in bytes, then
// per block a big-endian 4-byte compressed size and an LZ4 block that
// decodes to the bit-transposed elements. Elements after the last
// multiple of 8 are stored raw at the end. It returns the decoded length.
func DecodeBitshuffle(src, dst []byte, es int, comp uint32, scratch *[]byte) (int, error) {
	if es <= 0 || es > 64 {
		return 0, fmt.Errorf("bitshuffle element size %d", es)
	}
	var blockElems int
	if comp == 2 {
		if len(src) < 12 {
			return 0, fmt.Errorf("bitshuffle chunk of %d bytes has no header", len(src))
		}
		total := binary.BigEndian.Uint64(src)
		if total != uint64(len(dst)) {
			return 0, fmt.Errorf("bitshuffle header decoded size %d, chunk is %d bytes", total, len(dst))
		}
		bb := int(binary.BigEndian.Uint32(src[8:]))
		blockElems = bb / es
		src = src[12:]
	} else if comp != 0 {
		return 0, fmt.Errorf("unsupported bitshuffle compression %d (0 none, 2 LZ4)", comp)
	}
	if blockElems == 0 {
		blockElems = defaultBlockSize(es)
	}
	if blockElems%8 != 0 || blockElems*es > 1<<26 {
		return 0, fmt.Errorf("bitshuffle block of %d elements (a multiple of 8, at most %d bytes)", blockElems, 1<<26)
	}
	if len(dst)%es != 0 {
		return 0, fmt.Errorf("chunk of %d bytes is not a multiple of the element size %d", len(dst), es)
	}
	size := len(dst) / es
	var tmp []byte
	if comp == 2 {
		if cap(*scratch) < blockElems*es {
			*scratch = make([]byte, blockElems*es)
		}
		tmp = (*scratch)[:blockElems*es]
	}
	p, out := 0, 0
	doBlock := func(n int) error {
		nb := n * es
		if comp == 0 {
			if nb > len(src)-p {
				return fmt.Errorf("bitshuffle data ends at byte %d", p)
			}
			untransposeBits(dst[out:out+nb], src[p:p+nb], n, es)
			p += nb
			out += nb
			return nil
		}
		if len(src)-p < 4 {
			return fmt.Errorf("bitshuffle data ends at byte %d after %d of %d bytes", p+12, out, len(dst))
		}
		c := int(binary.BigEndian.Uint32(src[p:]))
		p += 4
		if c > len(src)-p {
			return fmt.Errorf("bitshuffle block at byte %d: compressed size %d past the end of the chunk (%d bytes)", p+8, c, len(src)+12)
		}
		m, err := lz4.UncompressBlock(src[p:p+c], tmp[:nb])
		if err != nil || m != nb {
			return fmt.Errorf("bitshuffle LZ4 block at byte %d decodes to %d bytes, %d expected: %v", p+8, m, nb, err)
		}
		untransposeBits(dst[out:out+nb], tmp[:nb], n, es)
		p += c
		out += nb
		return nil
	}
	for i := 0; i < size/blockElems; i++ {
		if err := doBlock(blockElems); err != nil {
			return 0, err
		}
	}
	if last := size % blockElems / 8 * 8; last > 0 {
		if err := doBlock(last); err != nil {
			return 0, err
		}
	}
	left := size % 8 * es
	if left > len(src)-p {
		return 0, fmt.Errorf("bitshuffle data ends before the %d trailing bytes", left)
	}
	copy(dst[out:out+left], src[p:p+left])
	return out + left, nil
}

// untransposeBits undoes bitshuffle's bit transpose of n elements (n a
// multiple of 8) of es bytes: src holds es·8 rows of n/8 bytes, row
// j·8+b holding bit b of byte j of every element, element 8r+m at bit m of
// byte r.
//
// It works on 64 elements (8 bytes of each row) at a time: for each byte
// j of the elements, the 8 bit-rows' 64-bit words are transposed as an
// 8×8 matrix of 8×8 bit blocks (untranspose8x8), which leaves word m
// holding byte j of elements m, 8+m, …, 56+m. For element sizes 1, 2
// and 4 a byte transpose across those words then gives whole output
// words; for 3, 5, 6 and 7 it gives each element in the low bytes of a
// word (untransposeNarrow); for sizes of 8 or more each 8 bytes j…j+7
// of the elements are transposed so (untransposeBytes8) and the bytes past
// the last multiple of 8 are stored one by one. Elements past the last multiple of 64 take
// the byte-at-a-time path (untransposeTail).
func untransposeBits(dst, src []byte, n, es int) {
	row := n / 8
	src = src[:8*es*row]
	dst = dst[:n*es]
	r0 := 0
	switch es {
	case 1:
		var x [8]uint64
		for ; r0+8 <= row; r0 += 8 {
			untranspose8x8(&x, src, r0, row)
			untransposeES1(dst[8*r0:8*r0+64], &x)
		}
	case 2:
		var x [16]uint64
		for ; r0+8 <= row; r0 += 8 {
			untranspose8x8((*[8]uint64)(x[0:8]), src, r0, row)
			untranspose8x8((*[8]uint64)(x[8:16]), src, 8*row+r0, row)
			untransposeES2(dst[16*r0:16*r0+128], &x)
		}
	case 4:
		var x [32]uint64
		for ; r0+8 <= row; r0 += 8 {
			untranspose8x8((*[8]uint64)(x[0:8]), src, r0, row)
			untranspose8x8((*[8]uint64)(x[8:16]), src, 8*row+r0, row)
			untranspose8x8((*[8]uint64)(x[16:24]), src, 16*row+r0, row)
			untranspose8x8((*[8]uint64)(x[24:32]), src, 24*row+r0, row)
			untransposeES4(dst[32*r0:32*r0+256], &x)
		}
	case 3, 5, 6, 7:
		var x [64]uint64 // x[8j+m] for j ≥ es stays 0
		for ; r0+8 <= row; r0 += 8 {
			for j := 0; j < es; j++ {
				untranspose8x8((*[8]uint64)(x[8*j:8*j+8]), src, 8*j*row+r0, row)
			}
			untransposeNarrow(dst[8*r0*es:8*(r0+8)*es], &x, es)
		}
	default:
		var x [64]uint64
		for ; r0+8 <= row; r0 += 8 {
			d := dst[8*r0*es : 8*(r0+8)*es]
			j := 0
			for ; j+8 <= es; j += 8 {
				for i := 0; i < 8; i++ {
					untranspose8x8((*[8]uint64)(x[8*i:8*i+8]), src, 8*(j+i)*row+r0, row)
				}
				untransposeBytes8(d, &x, es, j)
			}
			for ; j < es; j++ {
				y := (*[8]uint64)(x[:8])
				untranspose8x8(y, src, 8*j*row+r0, row)
				for m, w := range y {
					for k := 0; k < 8; k++ {
						d[(8*k+m)*es+j] = byte(w >> (8 * uint(k)))
					}
				}
			}
		}
	}
	if r0 < row {
		untransposeTail(dst, src, row, es, r0)
	}
}

// swapBits exchanges the bits of a at the positions that mask selects
// shifted left by s with the bits of b at the positions mask selects: with
// mask the positions whose address bit log2(s) is 0, this swaps that
// in-word address bit with the bit that tells a (0) from b (1).
func swapBits(a, b uint64, s uint, mask uint64) (uint64, uint64) {
	t := ((a >> s) ^ b) & mask
	return a ^ t<<s, b ^ t
}

// The masks of swapBits for shifts 1, 2, 4 (bits) and 8, 16, 32 (bytes).
const (
	mask1  = 0x5555555555555555
	mask2  = 0x3333333333333333
	mask4  = 0x0F0F0F0F0F0F0F0F
	mask8  = 0x00FF00FF00FF00FF
	mask16 = 0x0000FFFF0000FFFF
	mask32 = 0x00000000FFFFFFFF
)

// untranspose8x8 loads the 8 little-endian words at src[off+b·row] (b =
// 0…7, bit-row b of one byte of 64 elements, byte k bit m of word b
// belonging to element 8k+m) and exchanges the bit index within bytes with
// the word index, so that byte k bit b of x[m] is bit b of element 8k+m.
func untranspose8x8(x *[8]uint64, src []byte, off, row int) {
	w0 := binary.LittleEndian.Uint64(src[off : off+8])
	w1 := binary.LittleEndian.Uint64(src[off+row : off+row+8])
	w2 := binary.LittleEndian.Uint64(src[off+2*row : off+2*row+8])
	w3 := binary.LittleEndian.Uint64(src[off+3*row : off+3*row+8])
	w4 := binary.LittleEndian.Uint64(src[off+4*row : off+4*row+8])
	w5 := binary.LittleEndian.Uint64(src[off+5*row : off+5*row+8])
	w6 := binary.LittleEndian.Uint64(src[off+6*row : off+6*row+8])
	w7 := binary.LittleEndian.Uint64(src[off+7*row : off+7*row+8])
	w0, w1 = swapBits(w0, w1, 1, mask1)
	w2, w3 = swapBits(w2, w3, 1, mask1)
	w4, w5 = swapBits(w4, w5, 1, mask1)
	w6, w7 = swapBits(w6, w7, 1, mask1)
	w0, w2 = swapBits(w0, w2, 2, mask2)
	w1, w3 = swapBits(w1, w3, 2, mask2)
	w4, w6 = swapBits(w4, w6, 2, mask2)
	w5, w7 = swapBits(w5, w7, 2, mask2)
	w0, w4 = swapBits(w0, w4, 4, mask4)
	w1, w5 = swapBits(w1, w5, 4, mask4)
	w2, w6 = swapBits(w2, w6, 4, mask4)
	w3, w7 = swapBits(w3, w7, 4, mask4)
	x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7] = w0, w1, w2, w3, w4, w5, w6, w7
}

// untransposeES1 writes the 64 one-byte elements whose bytes x holds (as
// untranspose8x8 leaves them: byte k of x[m] is element 8k+m) to d: an 8×8
// byte transpose.
func untransposeES1(d []byte, x *[8]uint64) {
	d = d[:64]
	a0, a1, a2, a3, a4, a5, a6, a7 := transposeBytes(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])
	binary.LittleEndian.PutUint64(d[0:], a0)
	binary.LittleEndian.PutUint64(d[8:], a1)
	binary.LittleEndian.PutUint64(d[16:], a2)
	binary.LittleEndian.PutUint64(d[24:], a3)
	binary.LittleEndian.PutUint64(d[32:], a4)
	binary.LittleEndian.PutUint64(d[40:], a5)
	binary.LittleEndian.PutUint64(d[48:], a6)
	binary.LittleEndian.PutUint64(d[56:], a7)
}

// transposeBytes transposes the 8×8 byte matrix whose row i is word ai
// (byte k of ai becomes byte i of the k-th result).
func transposeBytes(a0, a1, a2, a3, a4, a5, a6, a7 uint64) (uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64) {
	a0, a1 = swapBits(a0, a1, 8, mask8)
	a2, a3 = swapBits(a2, a3, 8, mask8)
	a4, a5 = swapBits(a4, a5, 8, mask8)
	a6, a7 = swapBits(a6, a7, 8, mask8)
	a0, a2 = swapBits(a0, a2, 16, mask16)
	a1, a3 = swapBits(a1, a3, 16, mask16)
	a4, a6 = swapBits(a4, a6, 16, mask16)
	a5, a7 = swapBits(a5, a7, 16, mask16)
	a0, a4 = swapBits(a0, a4, 32, mask32)
	a1, a5 = swapBits(a1, a5, 32, mask32)
	a2, a6 = swapBits(a2, a6, 32, mask32)
	a3, a7 = swapBits(a3, a7, 32, mask32)
	return a0, a1, a2, a3, a4, a5, a6, a7
}

// untransposeES2 writes the 64 two-byte elements to d (128 bytes) from x,
// where byte k of x[8j+m] is byte j of element 8k+m. Output word 2k+g
// (g = m>>2) holds bytes j of elements 8k+4g…8k+4g+3 at byte 2(m&3)+j:
// per g the 8 words x[8j+4g+mm] swap j with byte bit 0, m&1 with byte
// bit 1 and m>>1&1 with byte bit 2.
func untransposeES2(d []byte, x *[16]uint64) {
	d = d[:128]
	for g := 0; g < 2; g++ {
		a0, a1, a2, a3 := x[4*g], x[4*g+1], x[4*g+2], x[4*g+3]
		b0, b1, b2, b3 := x[8+4*g], x[8+4*g+1], x[8+4*g+2], x[8+4*g+3]
		a0, b0 = swapBits(a0, b0, 8, mask8)
		a1, b1 = swapBits(a1, b1, 8, mask8)
		a2, b2 = swapBits(a2, b2, 8, mask8)
		a3, b3 = swapBits(a3, b3, 8, mask8)
		a0, a1 = swapBits(a0, a1, 16, mask16)
		a2, a3 = swapBits(a2, a3, 16, mask16)
		b0, b1 = swapBits(b0, b1, 16, mask16)
		b2, b3 = swapBits(b2, b3, 16, mask16)
		a0, a2 = swapBits(a0, a2, 32, mask32)
		a1, a3 = swapBits(a1, a3, 32, mask32)
		b0, b2 = swapBits(b0, b2, 32, mask32)
		b1, b3 = swapBits(b1, b3, 32, mask32)
		// The word of j0, m1, m0 is now k = 4·m1 + 2·m0 + j0.
		e := d[8*g:]
		binary.LittleEndian.PutUint64(e[0:], a0)
		binary.LittleEndian.PutUint64(e[16:], b0)
		binary.LittleEndian.PutUint64(e[32:], a1)
		binary.LittleEndian.PutUint64(e[48:], b1)
		binary.LittleEndian.PutUint64(e[64:], a2)
		binary.LittleEndian.PutUint64(e[80:], b2)
		binary.LittleEndian.PutUint64(e[96:], a3)
		binary.LittleEndian.PutUint64(e[112:], b3)
	}
}

// untransposeES4 writes the 64 four-byte elements to d (256 bytes) from
// x, where byte k of x[8j+m] is byte j of element 8k+m. Output word 4k+g
// (g = m>>1) holds bytes j of elements 8k+2g, 8k+2g+1 at byte 4(m&1)+j:
// per g the 8 words x[8j+2g+(m&1)] swap j&1 with byte bit 0, j>>1 with
// byte bit 1 and m&1 with byte bit 2.
func untransposeES4(d []byte, x *[32]uint64) {
	d = d[:256]
	for g := 0; g < 4; g++ {
		a0, a1 := x[2*g], x[2*g+1]
		b0, b1 := x[8+2*g], x[8+2*g+1]
		c0, c1 := x[16+2*g], x[16+2*g+1]
		e0, e1 := x[24+2*g], x[24+2*g+1]
		a0, b0 = swapBits(a0, b0, 8, mask8)
		a1, b1 = swapBits(a1, b1, 8, mask8)
		c0, e0 = swapBits(c0, e0, 8, mask8)
		c1, e1 = swapBits(c1, e1, 8, mask8)
		a0, c0 = swapBits(a0, c0, 16, mask16)
		a1, c1 = swapBits(a1, c1, 16, mask16)
		b0, e0 = swapBits(b0, e0, 16, mask16)
		b1, e1 = swapBits(b1, e1, 16, mask16)
		a0, a1 = swapBits(a0, a1, 32, mask32)
		b0, b1 = swapBits(b0, b1, 32, mask32)
		c0, c1 = swapBits(c0, c1, 32, mask32)
		e0, e1 = swapBits(e0, e1, 32, mask32)
		// The word of j, m&1 is now k = 4·(m&1) + j.
		f := d[8*g:]
		binary.LittleEndian.PutUint64(f[0:], a0)
		binary.LittleEndian.PutUint64(f[32:], b0)
		binary.LittleEndian.PutUint64(f[64:], c0)
		binary.LittleEndian.PutUint64(f[96:], e0)
		binary.LittleEndian.PutUint64(f[128:], a1)
		binary.LittleEndian.PutUint64(f[160:], b1)
		binary.LittleEndian.PutUint64(f[192:], c1)
		binary.LittleEndian.PutUint64(f[224:], e1)
	}
}

// untransposeBytes8 writes bytes j…j+7 of the 64 elements of es bytes
// in d (64·es bytes) from x, where byte k of x[8i+m] is byte j+i of
// element 8k+m: per m an 8×8 byte transpose of the words x[8i+m], result
// k of which is the 8 bytes of element 8k+m.
func untransposeBytes8(d []byte, x *[64]uint64, es, j int) {
	d = d[:64*es]
	for m := 0; m < 8; m++ {
		a0, a1, a2, a3, a4, a5, a6, a7 := transposeBytes(x[m], x[8+m], x[16+m], x[24+m], x[32+m], x[40+m], x[48+m], x[56+m])
		e := d[m*es+j:]
		binary.LittleEndian.PutUint64(e[0:8], a0)
		binary.LittleEndian.PutUint64(e[8*es:8*es+8], a1)
		binary.LittleEndian.PutUint64(e[16*es:16*es+8], a2)
		binary.LittleEndian.PutUint64(e[24*es:24*es+8], a3)
		binary.LittleEndian.PutUint64(e[32*es:32*es+8], a4)
		binary.LittleEndian.PutUint64(e[40*es:40*es+8], a5)
		binary.LittleEndian.PutUint64(e[48*es:48*es+8], a6)
		binary.LittleEndian.PutUint64(e[56*es:56*es+8], a7)
	}
}

// untransposeNarrow writes the 64 elements of es < 8 bytes to d (64·es
// bytes) from x, where byte k of x[8j+m] is byte j of element 8k+m (and
// x[8j+m] is 0 for j ≥ es): the byte transposes of untransposeBytes8 give
// each element in the low bytes of a word, and the words are stored in
// element order 8 bytes each at the element's place, each store's bytes
// past the element overwritten by the next one; the last elements, whose
// 8 bytes would pass the end of d, byte by byte.
func untransposeNarrow(d []byte, x *[64]uint64, es int) {
	d = d[:64*es]
	var e [64]uint64
	for m := 0; m < 8; m++ {
		a0, a1, a2, a3, a4, a5, a6, a7 := transposeBytes(x[m], x[8+m], x[16+m], x[24+m], x[32+m], x[40+m], x[48+m], x[56+m])
		e[m], e[8+m], e[16+m], e[24+m] = a0, a1, a2, a3
		e[32+m], e[40+m], e[48+m], e[56+m] = a4, a5, a6, a7
	}
	i, p := 0, 0
	for ; p+8 <= len(d); i, p = i+1, p+es {
		binary.LittleEndian.PutUint64(d[p:p+8], e[i])
	}
	for ; i < 64; i, p = i+1, p+es {
		w := e[i]
		for k := 0; k < es; k++ {
			d[p+k] = byte(w >> (8 * uint(k)))
		}
	}
}

// untransposeTail is untransposeBits for the groups of 8 elements r0 …
// row-1, one 8×8 bit block at a time.
func untransposeTail(dst, src []byte, row, es, r0 int) {
	for j := 0; j < es; j++ {
		base := j * 8 * row
		for r := r0; r < row; r++ {
			s := src[base+r:]
			_ = s[7*row]
			x := uint64(s[0]) | uint64(s[row])<<8 | uint64(s[2*row])<<16 | uint64(s[3*row])<<24 |
				uint64(s[4*row])<<32 | uint64(s[5*row])<<40 | uint64(s[6*row])<<48 | uint64(s[7*row])<<56
			x = transpose8(x)
			d := dst[8*r*es:]
			_ = d[7*es+j]
			for m := 0; m < 8; m++ {
				d[m*es+j] = byte(x >> (8 * uint(m)))
			}
		}
	}
}

// transpose8 transposes the 8×8 bit matrix x (byte i is row i, bit j of
// it column j).
func transpose8(x uint64) uint64 {
	t := (x ^ (x >> 7)) & 0x00AA00AA00AA00AA
	x ^= t ^ (t << 7)
	t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCC
	x ^= t ^ (t << 14)
	t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0
	x ^= t ^ (t << 28)
	return x
}
