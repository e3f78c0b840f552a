package compress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// untransposeBitsRef is the byte-at-a-time bit un-transpose that
// untransposeBits replaced, kept as the independent reference of the
// tests: for each of the es bytes of the elements and each group of 8
// elements it gathers the 8 bit-rows' bytes into an 8×8 bit matrix,
// transposes it and scatters its 8 bytes.
func untransposeBitsRef(dst, src []byte, n, es int) {
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

// untransposeBitsDef is the definition of the un-transpose, one bit at a
// time: bit b of byte j of element i is bit i%8 of byte i/8 of bit-row
// 8j+b (rows of n/8 bytes).
func untransposeBitsDef(dst, src []byte, n, es int) {
	row := n / 8
	clear(dst[:n*es])
	for i := 0; i < n; i++ {
		for j := 0; j < es; j++ {
			for b := 0; b < 8; b++ {
				bit := src[(8*j+b)*row+i/8] >> (i % 8) & 1
				dst[i*es+j] |= bit << b
			}
		}
	}
}

// TestUntransposeMatchesReference: untransposeBits agrees with the
// reference and with the bit-by-bit definition over random data, every
// element size 1 to 16 and element counts that are and are not multiples
// of 64 (the un-transposed groups of 8·8 elements), with guard bytes
// after dst that must stay untouched.
func TestUntransposeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	counts := []int{8, 16, 56, 64, 72, 120, 128, 136, 504, 512, 520, 1024, 2048, 2056, 4096 + 8*13}
	for i := 0; i < 20; i++ {
		counts = append(counts, 8*(1+rng.IntN(700)))
	}
	for es := 1; es <= 16; es++ {
		for _, n := range counts {
			src := make([]byte, n*es)
			for i := range src {
				src[i] = byte(rng.Uint32())
			}
			want := make([]byte, n*es)
			untransposeBitsRef(want, src, n, es)
			got := make([]byte, n*es+8)
			for i := range got {
				got[i] = 0xA5
			}
			untransposeBits(got[:n*es], src, n, es)
			if !bytes.Equal(got[:n*es], want) {
				t.Fatalf("es %d n %d: differs from the reference at byte %d", es, n, firstDiff(got, want))
			}
			for i, c := range got[n*es:] {
				if c != 0xA5 {
					t.Fatalf("es %d n %d: guard byte %d overwritten", es, n, i)
				}
			}
			if n <= 1024 {
				def := make([]byte, n*es)
				untransposeBitsDef(def, src, n, es)
				if !bytes.Equal(def, want) {
					t.Fatalf("es %d n %d: the reference differs from the definition", es, n)
				}
			}
		}
	}
}

// TestUntransposeSingleBits: a source with one bit set decodes to one bit
// set, at the place the definition says (bit b of byte j of element i
// from bit i%8 of byte i/8 of row 8j+b), for every bit of a 128-element
// block of each element size.
func TestUntransposeSingleBits(t *testing.T) {
	const n = 128
	for es := 1; es <= 16; es++ {
		src := make([]byte, n*es)
		dst := make([]byte, n*es)
		for j := 0; j < es; j++ {
			for b := 0; b < 8; b++ {
				for i := 0; i < n; i++ {
					src[(8*j+b)*n/8+i/8] = 1 << (i % 8)
					untransposeBits(dst, src, n, es)
					for k, c := range dst {
						want := byte(0)
						if k == i*es+j {
							want = 1 << b
						}
						if c != want {
							t.Fatalf("es %d element %d byte %d bit %d: dst[%d] = %#x, want %#x", es, i, j, b, k, c, want)
						}
					}
					src[(8*j+b)*n/8+i/8] = 0
				}
			}
		}
	}
}

// FuzzUntranspose compares untransposeBits with the reference on fuzzed
// data, element size and length.
func FuzzUntranspose(f *testing.F) {
	f.Add(uint8(4), []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
	f.Add(uint8(2), bytes.Repeat([]byte{0xff, 0, 0x5a}, 100))
	f.Fuzz(func(t *testing.T, e uint8, data []byte) {
		es := int(e%16) + 1
		n := len(data) / es / 8 * 8
		src := data[:n*es]
		want := make([]byte, n*es)
		got := make([]byte, n*es)
		untransposeBitsRef(want, src, n, es)
		untransposeBits(got, src, n, es)
		if !bytes.Equal(got, want) {
			t.Fatalf("es %d n %d: differs from the reference at byte %d", es, n, firstDiff(got, want))
		}
	})
}

// TestDecodeBitshuffleTail: a whole DecodeBitshuffle (uncompressed and
// LZ4) of sizes with a partial last block and trailing elements that are
// not a multiple of 8 restores the input, for element sizes 1 to 16.
func TestDecodeBitshuffleTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for es := 1; es <= 16; es++ {
		block := defaultBlockSize(es)
		for _, size := range []int{0, 5, 8, 63, 64, 65, block - 1, block, block + 7, block + 64 + 3, 3*block + 200 + 5} {
			src := make([]byte, size*es)
			for i := range src {
				src[i] = byte(rng.Uint32() & 0x0f)
			}
			// comp 0: per block the bit transpose, then the raw tail.
			var enc []byte
			p := 0
			for left := size; left >= 8; {
				k := min(block, left/8*8)
				tmp := make([]byte, k*es)
				transposeBits(tmp, src[p:p+k*es], k, es)
				enc = append(enc, tmp...)
				p += k * es
				left -= k
			}
			enc = append(enc, src[p:]...)
			dst := make([]byte, len(src))
			var scratch []byte
			if m, err := DecodeBitshuffle(enc, dst, es, 0, &scratch); err != nil || m != len(src) || !bytes.Equal(dst, src) {
				t.Fatalf("comp 0 es %d size %d: %d bytes, %v, equal %v", es, size, m, err, bytes.Equal(dst, src))
			}
			clear(dst)
			if m, err := DecodeBitshuffle(EncodeBitshuffleLZ4(src, es), dst, es, 2, &scratch); err != nil || m != len(src) || !bytes.Equal(dst, src) {
				t.Fatalf("comp 2 es %d size %d: %d bytes, %v, equal %v", es, size, m, err, bytes.Equal(dst, src))
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// benchUntranspose un-transposes a Pilatus 1M frame (981×1043 elements
// of es bytes) block by block with the stream's (bitshuffle's default)
// block size, as DecodeBitshuffle does.
func benchUntranspose(b *testing.B, es int, f func(dst, src []byte, n, es int)) {
	const elems = 981 * 1043
	block := defaultBlockSize(es)
	src := make([]byte, elems*es)
	x := uint32(1)
	for i := 0; i+4 <= len(src); i += 4 {
		x = x*1664525 + 1013904223
		binary.LittleEndian.PutUint32(src[i:], x>>20)
	}
	dst := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		p := 0
		for left := elems; left >= 8; {
			k := min(block, left/8*8)
			f(dst[p:p+k*es], src[p:p+k*es], k, es)
			p += k * es
			left -= k
		}
	}
}

// BenchmarkUntranspose: the un-transpose of a 981×1043 frame of 4-, 2-,
// 1-, 8-, 3- and 16-byte elements, the current code (new) and the
// byte-at-a-time reference (ref).
func BenchmarkUntranspose(b *testing.B) {
	for _, es := range []int{4, 2, 1, 8, 3, 16, 7} {
		b.Run(fmt.Sprintf("es%d/new", es), func(b *testing.B) { benchUntranspose(b, es, untransposeBits) })
		b.Run(fmt.Sprintf("es%d/ref", es), func(b *testing.B) { benchUntranspose(b, es, untransposeBitsRef) })
	}
}
