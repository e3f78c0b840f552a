package h5

import (
	"math"
	"math/bits"
)

// Chunk indexes of version-4 layouts (HDF5 1.10 with libver "latest"):
// implicit, fixed array and extensible array. Checksums are not verified;
// every address and count is checked against the file size.

// maxIndexEntries bounds the entries of one chunk index.
const maxIndexEntries = 1 << 24

// grid returns the number of chunks along each dimension and their
// product.
func (d *Dataset) grid() ([]uint64, uint64) {
	g := make([]uint64, len(d.chunk))
	n := uint64(1)
	for k := range d.chunk {
		g[k] = (d.Shape[k] + d.chunk[k] - 1) / d.chunk[k]
		if g[k] != 0 && n > math.MaxUint64/g[k] {
			return g, math.MaxUint64
		}
		n *= g[k]
	}
	return g, n
}

// addChunk records the chunk with linear (row-major) grid index i.
func (d *Dataset) addChunk(g []uint64, i uint64, c chunkRef) {
	if c.addr == undef {
		return
	}
	c.offset = make([]uint64, len(g))
	for k := len(g) - 1; k >= 0; k-- {
		if g[k] == 0 {
			return
		}
		c.offset[k] = (i % g[k]) * d.chunk[k]
		i /= g[k]
	}
	if i != 0 || len(g) > 0 && c.offset[0] >= d.Shape[0] {
		return
	}
	d.chunks = append(d.chunks, c)
}

// element decodes one index element: an address, and for filtered chunks
// a chunk size of the remaining bytes and a filter mask.
func (d *Dataset) element(r *reader, filtered bool, size int) chunkRef {
	c := chunkRef{keyOff: r.off()}
	c.addr = r.addr()
	if filtered {
		n := size - d.file.offSize - 4
		v := r.uintN(n)
		if v > math.MaxUint32 {
			v = math.MaxUint32 // refused later: larger than the file
		}
		c.size = uint32(v)
		c.filterMask = r.u32()
	} else {
		c.size = uint32(min(d.chunkBytes(), math.MaxUint32))
	}
	return c
}

// implicitIndex lists the chunks of an implicit index: every chunk of the
// grid, stored one after the other from addr.
func (d *Dataset) implicitIndex(addr uint64, off int64) error {
	g, n := d.grid()
	if n > maxIndexEntries {
		return d.file.errorf(off, "%s: implicit index of %d chunks", d.path, n)
	}
	cb := d.chunkBytes()
	for i := uint64(0); i < n; i++ {
		d.addChunk(g, i, chunkRef{addr: addr + i*cb, size: uint32(cb), keyOff: off})
	}
	return nil
}

// fixedArray reads a fixed array index (FAHD header, FADB data block,
// possibly paged).
func (d *Dataset) fixedArray(addr uint64, off int64) error {
	h := d.file
	if addr == undef {
		return nil
	}
	hb, err := h.readOwn(addr, int64(12+h.lenSize+h.offSize), "fixed array header")
	if err != nil {
		return err
	}
	r := &reader{h: h, b: hb, base: int64(addr + h.base), what: "fixed array header"}
	if string(r.bytes(4)) != "FAHD" {
		return h.errorf(r.base, "fixed array header without FAHD signature")
	}
	r.u8()
	filtered := r.u8() == 1
	esize := int(r.u8())
	pageBits := int(r.u8())
	n := r.length()
	dblk := r.addr()
	if r.err != nil {
		return r.err
	}
	if esize < h.offSize || filtered && esize < h.offSize+5 || esize > h.offSize+12 || pageBits > 32 {
		return h.errorf(r.base+6, "%s: fixed array entry size %d, page bits %d", d.path, esize, pageBits)
	}
	g, total := d.grid()
	if n > maxIndexEntries || n < total && total != math.MaxUint64 && n != total {
		return h.errorf(r.base+8, "%s: fixed array of %d entries for %d chunks", d.path, n, total)
	}
	page := uint64(1) << pageBits
	prefix := 4 + 1 + 1 + h.offSize
	if n <= page {
		b, err := h.readOwn(dblk, int64(prefix)+int64(n)*int64(esize), "fixed array data block")
		if err != nil {
			return err
		}
		if string(b[:4]) != "FADB" {
			return h.errorf(int64(dblk+h.base), "fixed array data block without FADB signature")
		}
		er := &reader{h: h, b: b, p: prefix, base: int64(dblk + h.base), what: "fixed array data block"}
		for i := uint64(0); i < n; i++ {
			c := d.element(er, filtered, esize)
			if er.err != nil {
				return er.err
			}
			d.addChunk(g, i, c)
		}
		return nil
	}
	npages := (n + page - 1) / page
	bitmap := int((npages + 7) / 8)
	b, err := h.readOwn(dblk, int64(prefix+bitmap+4), "fixed array data block")
	if err != nil {
		return err
	}
	if string(b[:4]) != "FADB" {
		return h.errorf(int64(dblk+h.base), "fixed array data block without FADB signature")
	}
	pos := dblk + uint64(prefix+bitmap+4)
	for p := uint64(0); p < npages; p++ {
		cnt := min(page, n-p*page)
		size := int64(cnt)*int64(esize) + 4
		if b[prefix+int(p/8)]&(0x80>>(p%8)) != 0 {
			pb, err := h.readOwn(pos, size, "fixed array page")
			if err != nil {
				return err
			}
			er := &reader{h: h, b: pb, base: int64(pos + h.base), what: "fixed array page"}
			for i := uint64(0); i < cnt; i++ {
				c := d.element(er, filtered, esize)
				if er.err != nil {
					return er.err
				}
				d.addChunk(g, p*page+i, c)
			}
		}
		pos += uint64(size)
	}
	return nil
}

// extensibleArray reads an extensible array index (EAHD header, EAIB
// index block, EASB super blocks, EADB data blocks). Paged data blocks
// (more than 2^pageBits elements in one block) are not read.
func (d *Dataset) extensibleArray(addr uint64, off int64) error {
	h := d.file
	if addr == undef {
		return nil
	}
	hb, err := h.readOwn(addr, int64(12+6*h.lenSize+h.offSize+4), "extensible array header")
	if err != nil {
		return err
	}
	r := &reader{h: h, b: hb, base: int64(addr + h.base), what: "extensible array header"}
	if string(r.bytes(4)) != "EAHD" {
		return h.errorf(r.base, "extensible array header without EAHD signature")
	}
	r.u8()
	filtered := r.u8() == 1
	esize := int(r.u8())
	maxBits := int(r.u8())
	iblkElmts := uint64(r.u8())
	dblkMin := uint64(r.u8())
	sblkMinPtrs := uint64(r.u8())
	pageBits := int(r.u8())
	for i := 0; i < 4; i++ {
		r.length()
	}
	maxIdx := r.length() // max index set
	r.length()
	iblk := r.addr()
	if r.err != nil {
		return r.err
	}
	if esize < h.offSize || filtered && esize < h.offSize+5 || esize > h.offSize+12 || maxBits == 0 || maxBits > 64 ||
		dblkMin == 0 || dblkMin&(dblkMin-1) != 0 || sblkMinPtrs == 0 || sblkMinPtrs&(sblkMinPtrs-1) != 0 || pageBits > 32 {
		return h.errorf(r.base+6, "%s: extensible array parameters (entry %d, max bits %d, data block min %d, super block min %d, page bits %d)",
			d.path, esize, maxBits, dblkMin, sblkMinPtrs, pageBits)
	}
	if maxIdx > maxIndexEntries {
		return h.errorf(r.base, "%s: extensible array of %d entries", d.path, maxIdx)
	}
	g, _ := d.grid()
	arrOff := (maxBits + 7) / 8
	log2 := func(v uint64) int { return bits.Len64(v) - 1 }
	nsblks := 1 + maxBits - log2(dblkMin)
	type sblkInfo struct{ ndblks, dblkElmts, startIdx, startDblk uint64 }
	info := make([]sblkInfo, nsblks)
	var si, sd uint64
	for u := range info {
		info[u] = sblkInfo{ndblks: 1 << (u / 2), dblkElmts: (1 << ((u + 1) / 2)) * dblkMin, startIdx: si, startDblk: sd}
		si += info[u].ndblks * info[u].dblkElmts
		sd += info[u].ndblks
	}
	iNsblks := 2 * log2(sblkMinPtrs)
	nDblkAddrs := 2 * (sblkMinPtrs - 1)
	nSblkAddrs := nsblks - iNsblks
	if nSblkAddrs < 0 {
		nSblkAddrs = 0
	}
	prefix := 4 + 1 + 1 + h.offSize
	ib, err := h.readOwn(iblk, int64(prefix)+int64(iblkElmts)*int64(esize)+int64(nDblkAddrs+uint64(nSblkAddrs))*int64(h.offSize)+4, "extensible array index block")
	if err != nil {
		return err
	}
	if string(ib[:4]) != "EAIB" {
		return h.errorf(int64(iblk+h.base), "extensible array index block without EAIB signature")
	}
	ir := &reader{h: h, b: ib, p: prefix, base: int64(iblk + h.base), what: "extensible array index block"}
	for i := uint64(0); i < iblkElmts; i++ {
		c := d.element(ir, filtered, esize)
		if ir.err != nil {
			return ir.err
		}
		if i < maxIdx {
			d.addChunk(g, i, c)
		}
	}
	dblkAddrs := make([]uint64, nDblkAddrs)
	for i := range dblkAddrs {
		dblkAddrs[i] = ir.addr()
	}
	sblkAddrs := make([]uint64, nSblkAddrs)
	for i := range sblkAddrs {
		sblkAddrs[i] = ir.addr()
	}
	if ir.err != nil {
		return ir.err
	}
	page := uint64(1) << pageBits
	readDblk := func(a uint64, first, n uint64) error {
		if a == undef {
			return nil
		}
		if n > page {
			return h.unsupported(int64(a+h.base), "%s: paged extensible array data block (%d elements)", d.path, n)
		}
		dp := 4 + 1 + 1 + h.offSize + arrOff
		b, err := h.readOwn(a, int64(dp)+int64(n)*int64(esize), "extensible array data block")
		if err != nil {
			return err
		}
		if string(b[:4]) != "EADB" {
			return h.errorf(int64(a+h.base), "extensible array data block without EADB signature")
		}
		er := &reader{h: h, b: b, p: dp, base: int64(a + h.base), what: "extensible array data block"}
		for i := uint64(0); i < n; i++ {
			c := d.element(er, filtered, esize)
			if er.err != nil {
				return er.err
			}
			if first+i < maxIdx {
				d.addChunk(g, first+i, c)
			}
		}
		return nil
	}
	// Data blocks pointed at by the index block: super blocks 0..iNsblks-1.
	k := 0
	for u := 0; u < iNsblks && u < nsblks; u++ {
		for j := uint64(0); j < info[u].ndblks && k < len(dblkAddrs); j++ {
			first := iblkElmts + info[u].startIdx + j*info[u].dblkElmts
			if first < maxIdx {
				if err := readDblk(dblkAddrs[k], first, info[u].dblkElmts); err != nil {
					return err
				}
			}
			k++
		}
	}
	// Super blocks.
	for s, a := range sblkAddrs {
		u := iNsblks + s
		if a == undef || u >= nsblks || iblkElmts+info[u].startIdx >= maxIdx {
			continue
		}
		nd := info[u].ndblks
		// Page init bitmasks only exist for paged data blocks, refused above.
		sp := 4 + 1 + 1 + h.offSize + arrOff
		if info[u].dblkElmts > page {
			return h.unsupported(int64(a+h.base), "%s: paged extensible array data blocks (%d elements)", d.path, info[u].dblkElmts)
		}
		sb, err := h.readOwn(a, int64(sp)+int64(nd)*int64(h.offSize), "extensible array super block")
		if err != nil {
			return err
		}
		if string(sb[:4]) != "EASB" {
			return h.errorf(int64(a+h.base), "extensible array super block without EASB signature")
		}
		sr := &reader{h: h, b: sb, p: sp, base: int64(a + h.base), what: "extensible array super block"}
		for j := uint64(0); j < nd; j++ {
			da := sr.addr()
			if sr.err != nil {
				return sr.err
			}
			first := iblkElmts + info[u].startIdx + j*info[u].dblkElmts
			if first < maxIdx {
				if err := readDblk(da, first, info[u].dblkElmts); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
