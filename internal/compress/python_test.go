package compress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bitshuffleWriter writes, for element sizes 1 to 16 and element counts
// around the block and 64-element boundaries, random elements (es.n.raw),
// the Python bitshuffle module's bit transpose of them (es.n.bs, the
// filter's data without compression) and its LZ4 compression with the
// default block size (es.n.lz4, the filter's data after its 12-byte
// header).
const bitshuffleWriter = `
import sys, os, numpy as np, bitshuffle
out = sys.argv[1]
rng = np.random.default_rng(7)
for es in range(1, 17):
    block = max(8192 // es // 8 * 8, 128)
    for n in (0, 7, 8, 64, 65, 71, 200, block - 8, block, block + 64 + 5, 3 * block + 136 + 3):
        raw = rng.integers(0, 256, size=n * es, dtype=np.uint8)
        if es > 1:
            raw[::3] &= 0x0f
        a = raw.view(np.dtype("V%d" % es)) if es > 1 else raw
        raw.tofile(os.path.join(out, "%d.%d.raw" % (es, n)))
        np.asarray(bitshuffle.bitshuffle(a)).view(np.uint8).tofile(os.path.join(out, "%d.%d.bs" % (es, n)))
        np.asarray(bitshuffle.compress_lz4(a)).view(np.uint8).tofile(os.path.join(out, "%d.%d.lz4" % (es, n)))
`

// TestDecodeBitshufflePython: DecodeBitshuffle restores the elements from
// what the Python bitshuffle module (the reference C implementation)
// writes, uncompressed and with LZ4, for element sizes 1 to 16 and counts
// that leave partial blocks, partial 64-element groups and trailing
// elements.
func TestDecodeBitshufflePython(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import numpy, bitshuffle").CombinedOutput(); err != nil {
		t.Skipf("python3 with numpy and bitshuffle not available: %v %s", err, out)
	}
	dir := t.TempDir()
	if out, err := exec.Command(python, "-c", bitshuffleWriter, dir).CombinedOutput(); err != nil {
		t.Fatalf("bitshuffle writer: %v\n%s", err, out)
	}
	raws, err := filepath.Glob(filepath.Join(dir, "*.raw"))
	if err != nil || len(raws) != 16*11 {
		t.Fatalf("%d fixtures written (%v), want %d", len(raws), err, 16*11)
	}
	for es := 1; es <= 16; es++ {
		block := defaultBlockSize(es)
		for _, n := range []int{0, 7, 8, 64, 65, 71, 200, block - 8, block, block + 64 + 5, 3*block + 136 + 3} {
			name := fmt.Sprintf("%d.%d", es, n)
			raw := readFixture(t, filepath.Join(dir, name+".raw"))
			bs := readFixture(t, filepath.Join(dir, name+".bs"))
			lz := readFixture(t, filepath.Join(dir, name+".lz4"))
			if len(raw) != n*es {
				t.Fatalf("%s: %d raw bytes, want %d", name, len(raw), n*es)
			}
			var scratch []byte
			dst := make([]byte, len(raw))
			if m, err := DecodeBitshuffle(bs, dst, es, 0, &scratch); err != nil || m != len(raw) || !bytes.Equal(dst, raw) {
				t.Fatalf("%s uncompressed: %d bytes, %v; equal %v", name, m, err, bytes.Equal(dst, raw))
			}
			hdr := binary.BigEndian.AppendUint64(nil, uint64(len(raw)))
			hdr = binary.BigEndian.AppendUint32(hdr, uint32(block*es))
			clear(dst)
			if m, err := DecodeBitshuffle(append(hdr, lz...), dst, es, 2, &scratch); err != nil || m != len(raw) || !bytes.Equal(dst, raw) {
				t.Fatalf("%s LZ4: %d bytes, %v; equal %v", name, m, err, bytes.Equal(dst, raw))
			}
		}
	}
}

func readFixture(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
