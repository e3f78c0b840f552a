package h5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/klauspost/compress/zlib"
	"github.com/saxsdog/saxs/internal/compress"
)

// Type is a dataset's element type.
type Type struct {
	Class    int  // 0 fixed-point (integer), 1 floating point
	Size     int  // bytes per element: 1, 2, 4 or 8
	Signed   bool // fixed-point only
	BigEnd   bool // big-endian
	typeOffs int64
}

// Dataset is an open dataset.
type Dataset struct {
	file   *File
	path   string
	Shape  []uint64
	Type   Type
	layout int // 0 compact, 1 contiguous, 2 chunked
	// compact data, or contiguous address and size
	compact  []byte
	contAddr uint64
	contSize uint64
	// chunked
	chunk   []uint64 // chunk dimensions (without the element size)
	chunks  []chunkRef
	filters []filter
	tmp     []byte // intermediate filter output
	cached  []byte // decoded chunk cache
	cachedI int    // index in chunks of cached, -1 if none
	bsTmp   []byte // bitshuffle block scratch
	zr      io.ReadCloser
	br      bytes.Reader
	strides []uint64 // copyChunk scratch: 5 × rank
	// chunkWhat names a chunk of this dataset in errors.
	chunkWhat string
}

// chunkRef is one stored chunk.
type chunkRef struct {
	offset     []uint64
	addr       uint64
	size       uint32
	filterMask uint32
	keyOff     int64
}

// filter is one entry of a filter pipeline.
type filter struct {
	id     uint16
	params []uint32
	off    int64
}

// Filter identifiers.
const (
	FilterDeflate    = 1
	FilterShuffle    = 2
	FilterFletcher   = 3
	FilterLZ4        = 32004
	FilterBitshuffle = 32008
)

// Dataset opens the dataset at path.
func (h *File) Dataset(path string) (*Dataset, error) {
	x, o, err := h.resolve(path, 0)
	if err != nil {
		return nil, err
	}
	d := &Dataset{file: x, path: path, cachedI: -1, chunkWhat: "chunk of " + path}
	if err := d.parse(o); err != nil {
		return nil, err
	}
	if err := d.finishChunks(); err != nil {
		return nil, err
	}
	return d, nil
}

// File returns the file that holds the dataset (after external links).
func (d *Dataset) File() string { return d.file.name }

// Chunk returns the chunk dimensions, or nil for an unchunked dataset.
func (d *Dataset) Chunk() []uint64 { return d.chunk }

// Filters returns the filter identifiers of the pipeline, in order.
func (d *Dataset) Filters() []uint16 {
	ids := make([]uint16, len(d.filters))
	for i, f := range d.filters {
		ids[i] = f.id
	}
	return ids
}

func (d *Dataset) parse(o *object) error {
	h := d.file
	sp, ty, ly := o.find(msgDataspace), o.find(msgDatatype), o.find(msgLayout)
	if sp == nil || ty == nil || ly == nil {
		return h.errorf(int64(o.addr+h.base), "%s is not a dataset (no dataspace, datatype or layout message)", d.path)
	}
	// Dataspace.
	r := &reader{h: h, b: sp.data, base: sp.off, what: "dataspace message"}
	version := r.u8()
	rank := int(r.u8())
	flags := r.u8()
	switch version {
	case 1:
		r.skip(5)
	case 2:
		if t := r.u8(); t == 2 {
			rank = 0 // null dataspace
		}
	default:
		return h.unsupported(sp.off, "dataspace version %d", version)
	}
	if rank > 32 {
		return h.errorf(sp.off+1, "dataspace of rank %d", rank)
	}
	for i := 0; i < rank; i++ {
		d.Shape = append(d.Shape, r.length())
	}
	_ = flags
	if r.err != nil {
		return r.err
	}
	// Datatype.
	r = &reader{h: h, b: ty.data, base: ty.off, what: "datatype message"}
	cv := r.u8()
	bits := r.bytes(3)
	size := r.u32()
	if r.err != nil {
		return r.err
	}
	d.Type = Type{Class: int(cv & 15), Size: int(size), BigEnd: bits[0]&1 != 0, typeOffs: ty.off}
	switch d.Type.Class {
	case 0:
		d.Type.Signed = bits[0]&8 != 0
	case 1:
		if bits[0]&0x40 != 0 {
			return h.unsupported(ty.off, "VAX floating-point order")
		}
	default:
		return h.unsupported(ty.off, "datatype class %d (only integers and floating point)", d.Type.Class)
	}
	if s := d.Type.Size; s != 1 && s != 2 && s != 4 && s != 8 || d.Type.Class == 1 && s < 4 {
		return h.unsupported(ty.off+4, "element size %d bytes", d.Type.Size)
	}
	// Filters.
	if fm := o.find(msgFilters); fm != nil {
		if err := d.parseFilters(fm); err != nil {
			return err
		}
	}
	// Layout.
	r = &reader{h: h, b: ly.data, base: ly.off, what: "layout message"}
	version = r.u8()
	if version != 3 && version != 4 {
		return h.unsupported(ly.off, "data layout version %d (3 and 4)", version)
	}
	d.layout = int(r.u8())
	switch d.layout {
	case 0:
		n := r.u16()
		d.compact = r.bytes(int(n))
	case 1:
		d.contAddr, d.contSize = r.addr(), r.length()
	case 2:
		if version == 3 {
			nd := int(r.u8())
			btree := r.addr()
			if r.err != nil {
				return r.err
			}
			if nd != rank+1 {
				return h.errorf(ly.off+2, "chunk rank %d for a dataset of rank %d", nd-1, rank)
			}
			for i := 0; i < nd-1; i++ {
				d.chunk = append(d.chunk, uint64(r.u32()))
			}
			r.u32() // element size
			if r.err != nil {
				return r.err
			}
			if err := d.checkChunk(ly.off); err != nil {
				return err
			}
			return d.chunkBTree(btree, nd)
		}
		flags := r.u8()
		nd := int(r.u8())
		enc := int(r.u8())
		if r.err != nil {
			return r.err
		}
		if nd != rank+1 || enc < 1 || enc > 8 {
			return h.errorf(ly.off+3, "chunk rank %d (dimension size %d bytes) for a dataset of rank %d", nd-1, enc, rank)
		}
		for i := 0; i < nd-1; i++ {
			d.chunk = append(d.chunk, r.uintN(enc))
		}
		r.uintN(enc)
		idx := r.u8()
		if r.err != nil {
			return r.err
		}
		if err := d.checkChunk(ly.off); err != nil {
			return err
		}
		switch idx {
		case 1: // single chunk
			var size uint64
			var mask uint32
			if flags&2 != 0 {
				size = r.length()
				mask = r.u32()
			}
			addr := r.addr()
			if r.err != nil {
				return r.err
			}
			if flags&2 == 0 {
				size = d.chunkBytes()
			}
			if size > math.MaxUint32 {
				return h.errorf(ly.off, "single chunk of %d bytes", size)
			}
			d.chunks = []chunkRef{{offset: make([]uint64, rank), addr: addr, size: uint32(size), filterMask: mask, keyOff: ly.off}}
			return nil
		case 2: // implicit
			addr := r.addr()
			if r.err != nil {
				return r.err
			}
			return d.implicitIndex(addr, ly.off)
		case 3: // fixed array
			r.u8() // page bits, repeated in the header
			addr := r.addr()
			if r.err != nil {
				return r.err
			}
			return d.fixedArray(addr, ly.off)
		case 4: // extensible array
			r.skip(5)
			addr := r.addr()
			if r.err != nil {
				return r.err
			}
			return d.extensibleArray(addr, ly.off)
		default:
			return h.unsupported(ly.off, "chunk index type %d (version-2 B-tree; the version-1 B-tree, single chunk, implicit, fixed and extensible array indexes are read)", idx)
		}
	default:
		return h.unsupported(ly.off+1, "layout class %d", d.layout)
	}
	return r.err
}

// checkChunk checks the chunk dimensions and the decoded chunk size.
func (d *Dataset) checkChunk(off int64) error {
	n := uint64(d.Type.Size)
	for _, c := range d.chunk {
		if c == 0 || c > maxChunkBytes {
			return d.file.errorf(off, "chunk dimension %d", c)
		}
		n *= c
		if n > maxChunkBytes {
			return d.file.errorf(off, "chunk of %v elements of %d bytes exceeds %d bytes", d.chunk, d.Type.Size, maxChunkBytes)
		}
	}
	return nil
}

// chunkBytes is the size of one decoded chunk.
func (d *Dataset) chunkBytes() uint64 {
	n := uint64(d.Type.Size)
	for _, c := range d.chunk {
		n *= c
	}
	return n
}

func (d *Dataset) parseFilters(m *message) error {
	h := d.file
	r := &reader{h: h, b: m.data, base: m.off, what: "filter pipeline message"}
	version := r.u8()
	n := int(r.u8())
	if version == 1 {
		r.skip(6)
	} else if version != 2 {
		return h.unsupported(m.off, "filter pipeline version %d", version)
	}
	for i := 0; i < n && r.err == nil; i++ {
		f := filter{off: r.off()}
		f.id = r.u16()
		nameLen := 0
		if version == 1 || f.id >= 256 {
			nameLen = int(r.u16())
		}
		r.u16() // flags
		nv := int(r.u16())
		if version == 1 {
			nameLen = (nameLen + 7) &^ 7
		}
		r.skip(nameLen)
		for k := 0; k < nv && r.err == nil; k++ {
			f.params = append(f.params, r.u32())
		}
		if version == 1 && nv%2 == 1 {
			r.skip(4)
		}
		switch f.id {
		case FilterDeflate, FilterShuffle, FilterFletcher, FilterLZ4, FilterBitshuffle:
		default:
			return h.unsupported(f.off, "HDF5 filter %d (deflate 1, shuffle 2, fletcher32 3, LZ4 32004, bitshuffle 32008)", f.id)
		}
		d.filters = append(d.filters, f)
	}
	return r.err
}

// chunkBTree reads the chunk index, a version-1 B-tree of type 1.
func (d *Dataset) chunkBTree(addr uint64, nd int) error {
	h := d.file
	if addr == undef {
		return nil // no chunk written yet
	}
	visited := map[uint64]bool{}
	keySize := 8 + 8*nd
	var walk func(addr uint64, depth int) error
	walk = func(addr uint64, depth int) error {
		if visited[addr] || len(visited) >= maxBTreeNodes || depth > 64 {
			return h.errorf(int64(addr+h.base), "chunk B-tree too large or cyclic")
		}
		visited[addr] = true
		hdr, err := h.readAt(addr, 8, "chunk B-tree node")
		if err != nil {
			return err
		}
		if string(hdr[:4]) != "TREE" || hdr[4] != 1 {
			return h.errorf(int64(addr+h.base), "chunk B-tree node without TREE signature (type 1)")
		}
		level := hdr[5]
		entries := int(binary.LittleEndian.Uint16(hdr[6:]))
		n := int64(8 + 2*h.offSize + (entries+1)*keySize + entries*h.offSize)
		b, err := h.readOwn(addr, n, "chunk B-tree node")
		if err != nil {
			return err
		}
		r := &reader{h: h, b: b, p: 8 + 2*h.offSize, base: int64(addr + h.base), what: "chunk B-tree node"}
		for i := 0; i < entries; i++ {
			c := chunkRef{keyOff: r.off()}
			c.size = r.u32()
			c.filterMask = r.u32()
			c.offset = make([]uint64, nd-1)
			for k := 0; k < nd; k++ {
				v := r.uintN(8)
				if k < nd-1 {
					c.offset[k] = v
				}
			}
			c.addr = r.addr()
			if r.err != nil {
				return r.err
			}
			if level > 0 {
				if err := walk(c.addr, depth+1); err != nil {
					return err
				}
				continue
			}
			for k, o := range c.offset {
				if d.chunk[k] == 0 || o%d.chunk[k] != 0 || o >= d.Shape[k] && d.Shape[k] > 0 {
					return h.errorf(c.keyOff, "chunk offset %v not on the chunk grid %v inside %v", c.offset, d.chunk, d.Shape)
				}
			}
			d.chunks = append(d.chunks, c)
		}
		return nil
	}
	return walk(addr, 0)
}

// finishChunks sorts the chunks by offset and refuses duplicates.
func (d *Dataset) finishChunks() error {
	less := func(a, b []uint64) int {
		for k := range a {
			if a[k] != b[k] {
				if a[k] < b[k] {
					return -1
				}
				return 1
			}
		}
		return 0
	}
	sort.Slice(d.chunks, func(i, j int) bool { return less(d.chunks[i].offset, d.chunks[j].offset) < 0 })
	for i := 1; i < len(d.chunks); i++ {
		if less(d.chunks[i-1].offset, d.chunks[i].offset) == 0 {
			return d.file.errorf(d.chunks[i].keyOff, "%s: two chunks at offset %v", d.path, d.chunks[i].offset)
		}
	}
	return nil
}

// ReadRaw reads the elements of dataset positions [first, first+count)
// along the first dimension, as stored (in the dataset's byte order), into
// dst, which must hold count × (the product of the other dimensions) ×
// element size bytes. Positions with no chunk written read as zeros.
func (d *Dataset) ReadRaw(first, count uint64, dst []byte) error {
	h := d.file
	if len(d.Shape) == 0 {
		if first != 0 || count != 1 {
			return fmt.Errorf("%s: %s: scalar dataset read at %d+%d", h.name, d.path, first, count)
		}
	} else if first+count < first || first+count > d.Shape[0] {
		return fmt.Errorf("%s: %s: rows [%d, %d) outside %d", h.name, d.path, first, first+count, d.Shape[0])
	}
	inner := uint64(d.Type.Size)
	for _, s := range d.Shape[min(1, len(d.Shape)):] {
		inner *= s
		if inner > maxChunkBytes*8 {
			return h.errorf(-1, "%s: row of %v elements too large", d.path, d.Shape[1:])
		}
	}
	if uint64(len(dst)) != count*inner {
		return fmt.Errorf("%s: %s: buffer of %d bytes for %d rows of %d bytes", h.name, d.path, len(dst), count, inner)
	}
	switch d.layout {
	case 0:
		if uint64(len(d.compact)) < (first+count)*inner {
			return h.errorf(-1, "%s: compact data of %d bytes for %d rows of %d bytes", d.path, len(d.compact), first+count, inner)
		}
		copy(dst, d.compact[first*inner:])
		return nil
	case 1:
		if d.contSize < (first+count)*inner {
			return h.errorf(-1, "%s: contiguous data of %d bytes for %d rows of %d bytes", d.path, d.contSize, first+count, inner)
		}
		b, err := h.readAt(d.contAddr+first*inner, int64(count*inner), "contiguous dataset "+d.path)
		if err != nil {
			return err
		}
		copy(dst, b)
		return nil
	}
	if len(d.Shape) == 0 {
		if len(d.chunks) == 0 {
			clear(dst)
			return nil
		}
		buf, err := d.decodeChunk(0)
		if err != nil {
			return err
		}
		d.copyChunk(dst, first, count, &d.chunks[0], buf)
		return nil
	}
	// The chunks are sorted by offset: those overlapping the rows start
	// at the first whose rows end after first.
	c0 := d.chunk[0]
	lo := sort.Search(len(d.chunks), func(i int) bool { return d.chunks[i].offset[0]+c0 > first })
	hi := lo
	for hi < len(d.chunks) && d.chunks[hi].offset[0] < first+count {
		hi++
	}
	// Rows without a stored chunk read as zeros: clear dst unless every
	// chunk of the selection is stored.
	g, _ := d.grid()
	want := (min(first+count+c0-1, d.Shape[0]+c0-1)/c0 - first/c0)
	for _, n := range g[1:] {
		want *= n
	}
	if uint64(hi-lo) != want {
		clear(dst)
	}
	for ci := lo; ci < hi; ci++ {
		buf, err := d.decodeChunk(ci)
		if err != nil {
			return err
		}
		d.copyChunk(dst, first, count, &d.chunks[ci], buf)
	}
	return nil
}

// copyChunk copies the part of the decoded chunk c that lies inside rows
// [first, first+count) into dst.
func (d *Dataset) copyChunk(dst []byte, first, count uint64, c *chunkRef, buf []byte) {
	rank := len(d.Shape)
	es := uint64(d.Type.Size)
	if rank == 0 {
		copy(dst, buf[:es])
		return
	}
	// Strides of the destination (rows × Shape[1:]) and of the chunk.
	if len(d.strides) < 5*rank {
		d.strides = make([]uint64, 5*rank)
	}
	dstStride, chkStride, idx := d.strides[:rank], d.strides[rank:2*rank], d.strides[2*rank:3*rank]
	clear(idx)
	dstStride[rank-1], chkStride[rank-1] = es, es
	for k := rank - 2; k >= 0; k-- {
		dstStride[k] = dstStride[k+1] * d.Shape[k+1]
		chkStride[k] = chkStride[k+1] * d.chunk[k+1]
	}
	if rank == 1 {
		// One dimension: rows are elements.
		lo, hi := max(first, c.offset[0]), min(first+count, c.offset[0]+d.chunk[0])
		for g := lo; g < hi; g++ {
			i := g - c.offset[0]
			copy(dst[(g-first)*es:(g-first+1)*es], buf[i*es:(i+1)*es])
		}
		return
	}
	// The range of each dimension inside both the chunk and the selection
	// (rows [first, first+count) for dimension 0, the dataset's shape for
	// the others): the work is bounded by the bytes copied.
	if len(d.strides) < 5*rank {
		d.strides = append(d.strides, make([]uint64, 5*rank-len(d.strides))...)
	}
	lo, hi := d.strides[3*rank:4*rank], d.strides[4*rank:5*rank]
	lo[0] = max(first, c.offset[0]) - c.offset[0]
	hi[0] = min(first+count, c.offset[0]+d.chunk[0]) - c.offset[0]
	for k := 1; k < rank; k++ {
		lo[k] = 0
		hi[k] = min(d.chunk[k], d.Shape[k]-min(d.Shape[k], c.offset[k]))
		if hi[k] == 0 {
			return
		}
	}
	if lo[0] >= hi[0] {
		return
	}
	copy(idx, lo[:rank])
	lastN := hi[rank-1]
	for {
		var do, so uint64
		for k := 0; k < rank-1; k++ {
			g := c.offset[k] + idx[k]
			if k == 0 {
				g -= first
			}
			do += g * dstStride[k]
			so += idx[k] * chkStride[k]
		}
		do += c.offset[rank-1] * es
		copy(dst[do:do+lastN*es], buf[so:so+lastN*es])
		// Next index over dimensions 0..rank-2.
		k := rank - 2
		for ; k >= 0; k-- {
			idx[k]++
			if idx[k] < hi[k] {
				break
			}
			idx[k] = lo[k]
		}
		if k < 0 {
			return
		}
	}
}

// decodeChunk reads and decodes chunk ci, keeping the last one decoded.
func (d *Dataset) decodeChunk(ci int) ([]byte, error) {
	if ci == d.cachedI {
		return d.cached, nil
	}
	h := d.file
	c := &d.chunks[ci]
	want := d.chunkBytes()
	if int64(c.size) > h.size {
		return nil, h.errorf(c.keyOff, "%s: chunk size %d exceeds the file size %d", d.path, c.size, h.size)
	}
	if len(d.filters) > 0 && want > maxRatio*uint64(c.size)+1<<20 {
		return nil, h.errorf(c.keyOff, "%s: chunk of %d stored bytes cannot decode to %d bytes (more than %d times larger)", d.path, c.size, want, maxRatio)
	}
	raw, err := h.readAt(c.addr, int64(c.size), d.chunkWhat)
	if err != nil {
		return nil, err
	}
	if cap(d.cached) < int(want) {
		d.cached = make([]byte, want)
	}
	out := d.cached[:want]
	d.cachedI = -1
	// Apply the filters in reverse order.
	cur := raw
	active := 0
	for i := range d.filters {
		if c.filterMask&(1<<i) == 0 {
			active++
		}
	}
	if active == 0 {
		if uint64(len(raw)) != want {
			return nil, h.errorf(c.keyOff, "%s: unfiltered chunk of %d bytes, %d expected", d.path, len(raw), want)
		}
		copy(out, raw)
		d.cachedI = ci
		return out, nil
	}
	// Two buffers alternate: d.tmp and out; the last filter writes into out.
	n := 0
	for i := len(d.filters) - 1; i >= 0; i-- {
		if c.filterMask&(1<<i) != 0 {
			continue
		}
		n++
		f := &d.filters[i]
		target := out
		if n < active {
			if cap(d.tmp) < int(want) {
				d.tmp = make([]byte, want)
			}
			target = d.tmp[:want]
			if &cur[0] == &target[0] {
				// Avoid writing into the input: use a fresh buffer.
				target = make([]byte, want)
			}
		}
		res, err := d.applyFilter(f, cur, target, c)
		if err != nil {
			return nil, err
		}
		cur = res
	}
	if len(cur) != int(want) {
		return nil, h.errorf(c.keyOff, "%s: chunk decodes to %d bytes, %d expected", d.path, len(cur), want)
	}
	if &cur[0] != &out[0] {
		copy(out, cur)
	}
	d.cachedI = ci
	return out, nil
}

// applyFilter undoes one filter, from src into dst (len(dst) is the
// decoded chunk size); it returns the decoded bytes (dst, or a prefix of
// it for filters that may shrink, or src for fletcher32 without its
// checksum).
func (d *Dataset) applyFilter(f *filter, src, dst []byte, c *chunkRef) ([]byte, error) {
	h := d.file
	fail := func(format string, args ...any) error {
		return h.errorf(int64(c.addr+h.base), "%s: chunk at %v, filter %d: %s", d.path, c.offset, f.id, fmt.Sprintf(format, args...))
	}
	switch f.id {
	case FilterDeflate:
		d.br.Reset(src)
		var err error
		if d.zr == nil {
			d.zr, err = zlib.NewReader(&d.br)
		} else {
			err = d.zr.(zlib.Resetter).Reset(&d.br, nil)
		}
		if err != nil {
			return nil, fail("deflate: %v", err)
		}
		zr := d.zr
		n, err := io.ReadFull(zr, dst)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fail("deflate: %v", err)
		}
		if n == len(dst) {
			var one [1]byte
			if m, _ := zr.Read(one[:]); m > 0 {
				return nil, fail("deflate stream decodes to more than %d bytes", len(dst))
			}
		}
		return dst[:n], nil
	case FilterShuffle:
		es := d.Type.Size
		if len(f.params) > 0 {
			es = int(f.params[0])
		}
		if len(src) > len(dst) || es <= 0 {
			return nil, fail("shuffle of %d bytes into %d", len(src), len(dst))
		}
		n := len(src) / es
		for b := 0; b < es; b++ {
			for i := 0; i < n; i++ {
				dst[i*es+b] = src[b*n+i]
			}
		}
		copy(dst[n*es:], src[n*es:])
		return dst[:len(src)], nil
	case FilterFletcher:
		if len(src) < 4 {
			return nil, fail("fletcher32 chunk of %d bytes", len(src))
		}
		return src[:len(src)-4], nil
	case FilterLZ4:
		n, err := compress.DecodeLZ4(src, dst)
		if err != nil {
			return nil, fail("%v", err)
		}
		return dst[:n], nil
	case FilterBitshuffle:
		es := d.Type.Size
		if len(f.params) > 2 {
			es = int(f.params[2])
		}
		comp := uint32(0)
		if len(f.params) > 4 {
			comp = f.params[4]
		}
		n, err := compress.DecodeBitshuffle(src, dst, es, comp, &d.bsTmp)
		if err != nil {
			return nil, fail("%v", err)
		}
		return dst[:n], nil
	}
	return nil, fail("not supported")
}

// Float64 returns element i of raw data of type t as a float64.
func (t Type) Float64(raw []byte, i int) float64 {
	b := raw[i*t.Size : (i+1)*t.Size]
	var u uint64
	if t.BigEnd {
		for _, x := range b {
			u = u<<8 | uint64(x)
		}
	} else {
		for k := len(b) - 1; k >= 0; k-- {
			u = u<<8 | uint64(b[k])
		}
	}
	switch {
	case t.Class == 1 && t.Size == 4:
		return float64(math.Float32frombits(uint32(u)))
	case t.Class == 1:
		return math.Float64frombits(u)
	case t.Signed:
		shift := 64 - 8*t.Size
		return float64(int64(u<<shift) >> shift)
	}
	return float64(u)
}

// Len returns the number of elements, the product of Shape (1 for a
// scalar).
func (d *Dataset) Len() uint64 {
	n := uint64(1)
	for _, s := range d.Shape {
		n *= s
	}
	return n
}

// Number reads a scalar or one-element numeric dataset as a float64.
func (h *File) Number(path string) (float64, error) {
	d, err := h.Dataset(path)
	if err != nil {
		return 0, err
	}
	if d.Len() != 1 {
		return 0, &Error{File: d.file.name, Offset: -1, Msg: fmt.Sprintf("%s has %d elements, not one number", path, d.Len())}
	}
	raw := make([]byte, d.Type.Size)
	rows := uint64(1)
	if len(d.Shape) > 0 {
		rows = d.Shape[0]
	}
	if err := d.ReadRaw(0, rows, raw); err != nil {
		return 0, err
	}
	return d.Type.Float64(raw, 0), nil
}
