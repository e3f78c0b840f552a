package compress

import (
	"bytes"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// TestTranspose8 checks the 8×8 bit transpose on single bits: bit j of
// byte i moves to bit i of byte j.
func TestTranspose8(t *testing.T) {
	for i := 0; i < 8; i++ {
		for j := 0; j < 8; j++ {
			if got, want := transpose8(1<<(8*i+j)), uint64(1)<<(8*j+i); got != want {
				t.Fatalf("transpose8(bit %d of byte %d) = %#x, want %#x", j, i, got, want)
			}
		}
	}
}

// TestUntransposeSizes: the fast paths agree with the general one
// (untransposeBitsRef, the former untransposeBitsSlow; both
// checked against h5py's files in TestReadH5pyDatasets for 1 and 4 bytes)
// for element sizes 1 to 16.
func TestUntransposeSizes(t *testing.T) {
	for es := 1; es <= 16; es++ {
		n := 64
		src := make([]byte, n*es)
		for i := range src {
			src[i] = byte(i*7 + es)
		}
		a, b := make([]byte, n*es), make([]byte, n*es)
		untransposeBits(a, src, n, es)
		untransposeBitsRef(b, src, n, es)
		if !bytes.Equal(a, b) {
			t.Fatalf("element size %d: fast and general paths differ", es)
		}
	}
}

// TestRoundTrip: the encoders' output decodes to the input, for sizes
// around the block and 8-element boundaries and for random and constant
// data (compressible and not).
func TestRoundTrip(t *testing.T) {
	for _, es := range []int{1, 2, 4} {
		for _, n := range []int{0, 1, 7, 8, 9, 2047, 2048, 2049, 5000, 70001} {
			for _, kind := range []string{"random", "ramp", "zero"} {
				src := make([]byte, n*es)
				x := uint32(12345 + n)
				for i := range src {
					switch kind {
					case "random":
						x = x*1664525 + 1013904223
						src[i] = byte(x >> 24)
					case "ramp":
						src[i] = byte(i / 3)
					}
				}
				var scratch []byte
				dst := make([]byte, len(src))
				if m, err := DecodeBitshuffle(EncodeBitshuffleLZ4(src, es), dst, es, 2, &scratch); err != nil || m != len(src) || !bytes.Equal(dst, src) {
					t.Fatalf("bitshuffle es %d n %d %s: %d bytes, %v; equal %v", es, n, kind, m, err, bytes.Equal(dst, src))
				}
				if m, err := DecodeLZ4(EncodeLZ4(src), dst); err != nil || m != len(src) || !bytes.Equal(dst, src) {
					t.Fatalf("lz4 es %d n %d %s: %d bytes, %v", es, n, kind, m, err)
				}
				if len(src) > 0 {
					blk := EncodeLZ4Block(src)
					if got := decodeBlock(t, blk, len(src)); !bytes.Equal(got, src) {
						t.Fatalf("lz4 block n %d %s differs", n, kind)
					}
					if got := decodeBlock(t, literalBlock(src), len(src)); !bytes.Equal(got, src) {
						t.Fatalf("literal block n %d %s differs", n, kind)
					}
				}
			}
		}
	}
}

func decodeBlock(t *testing.T, blk []byte, n int) []byte {
	t.Helper()
	out := make([]byte, n)
	m, err := lz4.UncompressBlock(blk, out)
	if err != nil || m != n {
		t.Fatalf("UncompressBlock: %d of %d bytes, %v", m, n, err)
	}
	return out
}
