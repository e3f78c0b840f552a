package saxs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/saxsdog/saxs/internal/atomicfile"
)

// cacheVersion changes whenever the operator, its file layout or anything
// that goes into building it changes, so that no stale file is loaded.
const cacheVersion = "saxs-operator-v2"

// cacheMagic starts every operator cache file.
var cacheMagic = [8]byte{'S', 'A', 'X', 'S', 'O', 'P', '0', '1'}

// DefaultCacheDir returns the folder where the command-line tools keep
// built operators: <user cache dir>/saxs/operators.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "saxs", "operators"), nil
}

// cacheKey hashes everything an operator depends on: the format version,
// the geometry, the wavelength, the mask configuration and the mask's
// pixels, the polarization and solid-angle corrections and the legacy mode.
func cacheKey(cal *Calibration, mc *MaskConfig, mask *Mask, legacy bool, flat *Image) string {
	h := sha256.New()
	f := func(v float64) { _ = binary.Write(h, binary.LittleEndian, math.Float64bits(v)) }
	i := func(v int) { _ = binary.Write(h, binary.LittleEndian, int64(v)) }
	io.WriteString(h, cacheVersion)
	g := &cal.Geometry
	f(g.Tilt.TiltRotDeg)
	f(g.Tilt.TiltAngleDeg)
	f(g.BeamCenter[0])
	f(g.BeamCenter[1])
	f(g.DetectorDistanceMM)
	i(g.Imagesize[0])
	i(g.Imagesize[1])
	f(g.PixelSizeMicroM[0])
	f(cal.Wavelength)
	i(mc.Oversampling)
	f(mc.PixelPerRadialElement)
	if rb := mc.RadialBins; rb != nil {
		i(1)
		f(rb.Start)
		f(rb.Stop)
		i(rb.Count)
	} else {
		i(0)
	}
	if pc := cal.PolarizationCorrection; pc != nil {
		i(1)
		f(pc.Fraction)
		f(pc.Angle)
	} else {
		i(0)
	}
	if legacy {
		i(1)
	} else {
		i(0)
	}
	// The reduction options only when set, so that the keys of earlier
	// operators stay valid.
	if cal.Reduction.solidAngle() {
		io.WriteString(h, "SolidAngle")
	}
	if r := cal.Reduction; r != nil && r.ChiRange != nil {
		io.WriteString(h, "ChiRange")
		f(r.ChiRange[0])
		f(r.ChiRange[1])
	}
	if mc.PhiMode { // only when set, so that the keys of earlier operators stay valid
		io.WriteString(h, "Phi-mode")
		i(mc.PhiBins)
		f(mc.QStart)
		f(mc.QStop)
	}
	if flat != nil {
		io.WriteString(h, "Flat")
		for p := range flat.Len() {
			f(pixelValue(flat, p))
		}
	}
	if r := cal.Reduction; r != nil && (r.unit() != UnitQnm || r.Bins > 0 || r.Range != nil) {
		io.WriteString(h, "Unit "+string(r.unit()))
		i(r.Bins)
		if r.Range != nil {
			f(r.Range[0])
			f(r.Range[1])
		}
	}
	i(mask.Rows)
	i(mask.Cols)
	packed := make([]byte, (len(mask.Masked)+7)/8)
	for p, m := range mask.Masked {
		if m {
			packed[p/8] |= 1 << (p % 8)
		}
	}
	h.Write(packed)
	return hex.EncodeToString(h.Sum(nil))
}

// maxCacheBytes bounds an operator cache file: 7 bytes per pixel of the
// largest image, with room for the exception list.
const maxCacheBytes = 16 * MaxImagePixels

// cacheHeader is the fixed part of a cache file, after the magic.
type cacheHeader struct {
	Key               [32]byte
	Rows, Cols        int32
	Ov2, NBins, First int32
	NX                int32 // exception entries
	HasCorr           int32
}

// saveOperator writes op (with the curve's first row label) to path,
// atomically.
func saveOperator(path, key string, op *Operator, first int) error {
	var hdr cacheHeader
	k, err := hex.DecodeString(key)
	if err != nil || len(k) != 32 {
		return fmt.Errorf("bad cache key %q", key)
	}
	copy(hdr.Key[:], k)
	hdr.Rows, hdr.Cols = int32(op.rows), int32(op.cols)
	hdr.Ov2, hdr.NBins, hdr.First = int32(op.ov2), int32(op.nbins), int32(first)
	hdr.NX = int32(len(op.xpix))
	if op.corr != nil {
		hdr.HasCorr = 1
	}
	var buf bytes.Buffer
	buf.Write(cacheMagic[:])
	_ = binary.Write(&buf, binary.LittleEndian, &hdr)
	for _, a := range [][]byte{u16bytes(op.bin), op.split, f64bytes(op.corr), i32bytes(op.xpix),
		u16bytes(op.xbin), op.xcnt, i64bytes(op.count)} {
		buf.Write(a)
	}
	_ = binary.Write(&buf, binary.LittleEndian, crc32.Checksum(buf.Bytes(), crcTable))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}

// loadOperator reads an operator cache file; any mismatch, truncation or
// corruption is an error (the caller then rebuilds).
func loadOperator(path, key string) (*Operator, int, error) {
	data, err := readRegular(path, maxCacheBytes, "operator cache file")
	if err != nil {
		return nil, 0, err
	}
	bad := func(format string, args ...any) (*Operator, int, error) {
		return nil, 0, fmt.Errorf("operator cache %s: %s", path, fmt.Sprintf(format, args...))
	}
	hsize := len(cacheMagic) + binary.Size(cacheHeader{})
	if len(data) < hsize+4 {
		return bad("truncated (%d bytes)", len(data))
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return bad("checksum mismatch")
	}
	if !bytes.Equal(data[:8], cacheMagic[:]) {
		return bad("not an operator cache file")
	}
	var hdr cacheHeader
	if err := binary.Read(bytes.NewReader(data[8:hsize]), binary.LittleEndian, &hdr); err != nil {
		return bad("%v", err)
	}
	if hex.EncodeToString(hdr.Key[:]) != key {
		return bad("built for other inputs")
	}
	if hdr.Rows < 1 || hdr.Cols < 1 || hdr.NBins < 1 || hdr.NBins > MaxBins || hdr.NX < 0 || hdr.Ov2 < 1 ||
		hdr.First < 0 || hdr.First > hdr.NBins {
		return bad("bad header")
	}
	npix := int(hdr.Rows) * int(hdr.Cols)
	nx := int(hdr.NX)
	ncorr := 0
	if hdr.HasCorr != 0 {
		ncorr = npix
	}
	want := hsize + 2*npix + npix + 8*ncorr + 4*nx + 2*nx + nx + 8*int(hdr.NBins)
	if len(body) != want {
		return bad("size %d, want %d", len(body), want)
	}
	op := &Operator{rows: int(hdr.Rows), cols: int(hdr.Cols), ov2: int(hdr.Ov2), nbins: int(hdr.NBins), none: uint16(hdr.NBins)}
	rest := body[hsize:]
	take := func(n int) []byte { b := rest[:n]; rest = rest[n:]; return b }
	op.bin = make([]uint16, npix)
	copy(u16bytes(op.bin), take(2*npix))
	op.split = bytes.Clone(take(npix))
	if ncorr > 0 {
		op.corr = make([]float64, ncorr)
		copy(f64bytes(op.corr), take(8*ncorr))
	}
	op.xpix = make([]int32, nx)
	copy(i32bytes(op.xpix), take(4*nx))
	op.xbin = make([]uint16, nx)
	copy(u16bytes(op.xbin), take(2*nx))
	op.xcnt = bytes.Clone(take(nx))
	op.count = make([]int64, op.nbins)
	copy(i64bytes(op.count), take(8*op.nbins))
	// Validate what the hot loop indexes with, so that a file that passes the
	// checksum but was written by a buggy build cannot cause a panic.
	for _, b := range op.bin {
		if b > op.none {
			return bad("bin out of range")
		}
	}
	for i, p := range op.xpix {
		if p < 0 || int(p) >= npix || int(op.xbin[i]) >= op.nbins || (i > 0 && p < op.xpix[i-1]) {
			return bad("exception entry %d out of range", i)
		}
	}
	op.findSpans()
	return op, int(hdr.First), nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// The cache stores arrays in the machine's byte order, checked at load
// time through the header's little-endian integers: on a big-endian
// machine the key check still passes but the arrays would be wrong, so
// refuse to use the cache there.
var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

func u16bytes(s []uint16) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 2*len(s))
}

func i32bytes(s []int32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 4*len(s))
}

func f64bytes(s []float64) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 8*len(s))
}

func i64bytes(s []int64) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 8*len(s))
}
