package h5

// Dense link storage: a group with more links than its compact limit (8
// by default; an Eiger master with more than 8 data files) keeps its link
// messages as objects of a fractal heap, indexed by a version-2 B-tree of
// name hashes. The links are read by scanning the heap's direct blocks in
// order, parsing the link messages packed in each: this lists every link
// of a file written once (as detectors write them); the name index is not
// used, so a group whose links were deleted later may list stale ones.

// maxHeapBlocks bounds the direct blocks scanned in one heap.
const maxHeapBlocks = 1 << 12

// denseLinks lists the links stored in the fractal heap at addr.
func (h *File) denseLinks(addr uint64) ([]link, error) {
	n := int64(4 + 1 + 2 + 2 + 1 + 4 + 12*h.lenSize + 3*h.offSize + 2 + 2 + 2 + 2 + 4 + 64)
	hb, err := h.readOwn(addr, min(n, h.size-int64(addr+h.base)), "fractal heap header")
	if err != nil {
		return nil, err
	}
	r := &reader{h: h, b: hb, base: int64(addr + h.base), what: "fractal heap header"}
	if string(r.bytes(4)) != "FRHP" {
		return nil, h.errorf(r.base, "fractal heap without FRHP signature")
	}
	r.u8()  // version
	r.u16() // heap ID length
	filters := r.u16()
	flags := r.u8()
	r.u32()    // max managed object size
	r.length() // next huge object ID
	r.addr()   // huge object B-tree
	r.length() // free space
	r.addr()   // free space manager
	r.length() // managed space
	r.length() // allocated managed space
	r.length() // direct block allocation iterator offset
	nobj := r.length()
	for i := 0; i < 4; i++ {
		r.length() // huge and tiny object counts and sizes
	}
	width := int(r.u16())
	start := r.length()
	maxDirect := r.length()
	maxHeapBits := int(r.u16())
	r.u16() // starting rows in the root indirect block
	root := r.addr()
	rows := int(r.u16())
	if r.err != nil {
		return nil, r.err
	}
	if filters != 0 {
		return nil, h.unsupported(r.base, "filtered fractal heap (dense link storage)")
	}
	if width == 0 || width > 1<<10 || start == 0 || start > maxDirect || maxDirect > 1<<30 || maxHeapBits == 0 || maxHeapBits > 64 || rows > 64 {
		return nil, h.errorf(r.base, "fractal heap parameters (width %d, block sizes %d to %d, %d offset bits, %d rows)", width, start, maxDirect, maxHeapBits, rows)
	}
	offSize := (maxHeapBits + 7) / 8
	dataStart := 4 + 1 + h.offSize + offSize
	if flags&2 != 0 {
		dataStart += 4 // direct block checksum
	}
	var out []link
	scan := func(blk, size uint64) error {
		if blk == undef {
			return nil
		}
		b, err := h.readOwn(blk, int64(size), "fractal heap direct block")
		if err != nil {
			return err
		}
		if string(b[:4]) != "FHDB" {
			return h.errorf(int64(blk+h.base), "fractal heap direct block without FHDB signature")
		}
		p := dataStart
		for p < len(b) && uint64(len(out)) < nobj && b[p] == 1 {
			l, used, err := h.linkAt(b[p:], int64(blk+h.base)+int64(p))
			if err != nil {
				return err
			}
			out = append(out, l)
			p += used
		}
		return nil
	}
	if rows == 0 {
		if err := scan(root, start); err != nil {
			return nil, err
		}
		return out, nil
	}
	// Root indirect block: rows of width direct blocks (rows whose blocks
	// are larger than maxDirect hold indirect blocks, not read here).
	ib, err := h.readOwn(root, int64(4+1+h.offSize+offSize+rows*width*h.offSize), "fractal heap indirect block")
	if err != nil {
		return nil, err
	}
	if string(ib[:4]) != "FHIB" {
		return nil, h.errorf(int64(root+h.base), "fractal heap indirect block without FHIB signature")
	}
	ir := &reader{h: h, b: ib, p: 4 + 1 + h.offSize + offSize, base: int64(root + h.base), what: "fractal heap indirect block"}
	size := start
	blocks := 0
	for row := 0; row < rows; row++ {
		if row >= 2 {
			size *= 2
		}
		for col := 0; col < width; col++ {
			a := ir.addr()
			if ir.err != nil {
				return nil, ir.err
			}
			if a == undef {
				continue
			}
			if size > maxDirect {
				return nil, h.unsupported(ir.off(), "fractal heap with indirect blocks below the root (dense link storage of %d links)", nobj)
			}
			if blocks++; blocks > maxHeapBlocks {
				return nil, h.errorf(ir.off(), "fractal heap of more than %d direct blocks", maxHeapBlocks)
			}
			if err := scan(a, size); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// linkAt parses the link message at the start of b (file offset off) and
// returns it with its length in bytes.
func (h *File) linkAt(b []byte, off int64) (link, int, error) {
	// A link message's length follows from its fields: parse the fixed
	// part to find it, then decode it with linkMessage.
	r := &reader{h: h, b: b, base: off, what: "link message"}
	r.u8()
	flags := r.u8()
	kind := 0
	if flags&0x8 != 0 {
		kind = int(r.u8())
	}
	if flags&0x4 != 0 {
		r.skip(8)
	}
	if flags&0x10 != 0 {
		r.u8()
	}
	n := r.uintN(1 << (flags & 3))
	if r.err != nil {
		return link{}, 0, r.err
	}
	if n > uint64(len(b)) {
		return link{}, 0, h.errorf(off, "link name of %d bytes", n)
	}
	r.skip(int(n))
	switch kind {
	case 0:
		r.addr()
	case 1, 64:
		k := r.u16()
		r.skip(int(k))
	default:
		return link{}, 0, h.unsupported(off, "link type %d", kind)
	}
	if r.err != nil {
		return link{}, 0, r.err
	}
	l, err := h.linkMessage(message{typ: msgLink, data: b[:r.p], off: off})
	return l, r.p, err
}
