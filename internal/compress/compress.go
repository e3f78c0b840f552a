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
func untransposeBits(dst, src []byte, n, es int) {
	row := n / 8
	if es > 8 {
		untransposeBitsSlow(dst, src, n, es)
		return
	}
	src = src[:8*es*row]
	dst = dst[:n*es]
	var x [8]uint64
	for r := 0; r < row; r++ {
		// The 8 elements 8r..8r+7: one 8×8 bit block per byte j.
		for j := 0; j < es; j++ {
			s := src[j*8*row+r:]
			_ = s[7*row]
			v := uint64(s[0]) | uint64(s[row])<<8 | uint64(s[2*row])<<16 | uint64(s[3*row])<<24 |
				uint64(s[4*row])<<32 | uint64(s[5*row])<<40 | uint64(s[6*row])<<48 | uint64(s[7*row])<<56
			x[j] = transpose8(v)
		}
		d := dst[8*r*es : 8*(r+1)*es]
		if es == 4 {
			d = d[:32]
			for m := 0; m < 8; m++ {
				sh := 8 * uint(m)
				binary.LittleEndian.PutUint32(d[4*m:], uint32(byte(x[0]>>sh))|uint32(byte(x[1]>>sh))<<8|
					uint32(byte(x[2]>>sh))<<16|uint32(byte(x[3]>>sh))<<24)
			}
			continue
		}
		for m := 0; m < 8; m++ {
			for j := 0; j < es; j++ {
				d[m*es+j] = byte(x[j] >> (8 * uint(m)))
			}
		}
	}
}

// untransposeBitsSlow is untransposeBits for any element size.
func untransposeBitsSlow(dst, src []byte, n, es int) {
	row := n / 8
	for j := 0; j < es; j++ {
		base := j * 8 * row
		for r := 0; r < row; r++ {
			x := uint64(src[base+r]) | uint64(src[base+row+r])<<8 | uint64(src[base+2*row+r])<<16 |
				uint64(src[base+3*row+r])<<24 | uint64(src[base+4*row+r])<<32 | uint64(src[base+5*row+r])<<40 |
				uint64(src[base+6*row+r])<<48 | uint64(src[base+7*row+r])<<56
			x = transpose8(x)
			for m := 0; m < 8; m++ {
				dst[(8*r+m)*es+j] = byte(x >> (8 * uint(m)))
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
