// Package h5 is a small pure-Go reader for the part of HDF5 that detector
// files use: superblocks 0–3, object headers 1 and 2, groups stored as
// symbol tables or as link messages, compact or dense (in a fractal heap,
// as for an Eiger master with more than 8 data files), with hard, soft and
// external links; datasets of fixed-point and floating-point numbers stored
// compact, contiguous or chunked (version-1 B-tree index, and the
// version-4 single chunk, implicit, fixed array and extensible array
// indexes of libver "latest" files; not the version-2 B-tree), with the
// filters deflate (1), shuffle (2), LZ4 (32004) and
// bitshuffle with LZ4 (32008).
//
// Every size read from a file is checked against the file's size before
// anything is allocated or read; errors are *Error values naming the file
// and the byte offset.
package h5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// undef is HDF5's undefined address.
const undef = ^uint64(0)

// Limits on what is read from a file.
const (
	maxHeaderBytes = 1 << 24 // object header, heap or B-tree node
	maxChunkBytes  = 1 << 30 // one decoded chunk
	maxDepth       = 32      // links followed while resolving one path
	maxBTreeNodes  = 1 << 16 // B-tree nodes visited for one index
	// maxRatio bounds how much larger than its stored bytes a filtered
	// chunk may decode to (deflate's limit is about 1032), so that the
	// memory a chunk takes is bounded by the file's bytes.
	maxRatio = 1100
)

// Error is a malformed, truncated or unsupported HDF5 file.
type Error struct {
	File        string // the file
	Offset      int64  // byte offset of the problem, -1 if unknown
	Msg         string // what is wrong
	Unsupported bool   // the file is valid but uses a feature not read here
}

// Error formats the error as "file: offset N: message".
func (e *Error) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrNotRegular is returned (wrapped) when a path is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// File is an open HDF5 file. It opens the files its external links name
// on demand and closes them with itself. A File must not be used by
// several goroutines at once.
type File struct {
	name     string
	f        io.ReaderAt
	closer   io.Closer // f as opened, or nil
	size     int64
	offSize  int // size of offsets (addresses)
	lenSize  int // size of lengths
	base     uint64
	root     uint64 // root group's object header
	external map[string]*File
	buf      []byte // scratch for small reads
	open     Opener
}

// Opener opens a file for reading and returns it with its size; it
// refuses what is not a regular file.
type Opener func(path string) (*os.File, int64, error)

// openPlain is the default Opener.
func openPlain(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	return f, fi.Size(), nil
}

// Open opens the HDF5 file at path.
func Open(path string) (*File, error) { return OpenWith(path, nil) }

// OpenWith opens the HDF5 file at path, and later the files its external
// links name, with open (nil means os.Open with a regular-file check).
func OpenWith(path string, open Opener) (*File, error) {
	if open == nil {
		open = openPlain
	}
	f, size, err := open(path)
	if err != nil {
		return nil, err
	}
	h := &File{name: path, f: f, closer: f, size: size, open: open}
	if err := h.superblock(); err != nil {
		f.Close()
		return nil, err
	}
	return h, nil
}

// OpenBytes reads an HDF5 file held in data; name identifies it in
// errors. Its external links cannot be followed.
func OpenBytes(data []byte, name string) (*File, error) {
	noFiles := func(p string) (*os.File, int64, error) {
		return nil, 0, fmt.Errorf("%s: external link to %s not followed for a file read from memory", name, p)
	}
	h := &File{name: name, f: bytes.NewReader(data), size: int64(len(data)), open: noFiles}
	if err := h.superblock(); err != nil {
		return nil, err
	}
	return h, nil
}

// Name returns the path the file was opened from.
func (h *File) Name() string { return h.name }

// Close closes the file and the files its external links opened.
func (h *File) Close() error {
	var first error
	for _, x := range h.external {
		if err := x.Close(); err != nil && first == nil {
			first = err
		}
	}
	h.external = nil
	if h.closer != nil {
		if err := h.closer.Close(); err != nil && first == nil {
			first = err
		}
		h.closer = nil
	}
	return first
}

func (h *File) errorf(off int64, format string, args ...any) error {
	return &Error{File: h.name, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (h *File) unsupported(off int64, format string, args ...any) error {
	return &Error{File: h.name, Offset: off, Msg: "unsupported " + fmt.Sprintf(format, args...), Unsupported: true}
}

// readAt reads n bytes at file address addr (relative to the base
// address) into a buffer that is valid until the next call, after checking
// that they lie inside the file. what names the structure for errors.
func (h *File) readAt(addr uint64, n int64, what string) ([]byte, error) {
	abs := addr + h.base
	if addr == undef || abs < addr || n < 0 || abs > uint64(h.size) || uint64(n) > uint64(h.size)-abs {
		return nil, h.errorf(int64(abs), "%s (%d bytes at address %d) extends past the end of the file (%d bytes)", what, n, addr, h.size)
	}
	if int64(cap(h.buf)) < n {
		h.buf = make([]byte, n)
	}
	b := h.buf[:n]
	if _, err := h.f.ReadAt(b, int64(abs)); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, h.errorf(int64(abs), "%s: file shrank while being read", what)
		}
		return nil, fmt.Errorf("%s: %w", h.name, err)
	}
	return b, nil
}

// readOwn is readAt into a new slice the caller keeps.
func (h *File) readOwn(addr uint64, n int64, what string) ([]byte, error) {
	b, err := h.readAt(addr, n, what)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// reader decodes little-endian fields from a byte slice with bounds
// checks; the first failure sticks.
type reader struct {
	h    *File
	b    []byte
	p    int
	base int64 // file offset of b[0], for errors
	what string
	err  error
}

func (r *reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || n > len(r.b)-r.p {
		r.err = r.h.errorf(r.base+int64(r.p), "%s is truncated (%d bytes needed, %d left)", r.what, n, len(r.b)-r.p)
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	r.p++
	return r.b[r.p-1]
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	r.p += 2
	return binary.LittleEndian.Uint16(r.b[r.p-2:])
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	r.p += 4
	return binary.LittleEndian.Uint32(r.b[r.p-4:])
}

// uintN reads an n-byte little-endian unsigned integer (n ≤ 8).
func (r *reader) uintN(n int) uint64 {
	if n > 8 {
		r.err = r.h.errorf(r.base+int64(r.p), "%s: %d-byte integer", r.what, n)
		return 0
	}
	if !r.need(n) {
		return 0
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(r.b[r.p+i])
	}
	r.p += n
	if n < 8 && v == 1<<(8*n)-1 {
		v = undef // all ones: undefined address
	}
	return v
}

func (r *reader) addr() uint64   { return r.uintN(r.h.offSize) }
func (r *reader) length() uint64 { return r.uintN(r.h.lenSize) }

func (r *reader) bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	r.p += n
	return r.b[r.p-n : r.p]
}

func (r *reader) skip(n int) { r.bytes(n) }

func (r *reader) off() int64 { return r.base + int64(r.p) }

// superblock reads the superblock, found at 0, 512, 1024, 2048, ….
func (h *File) superblock() error {
	var at int64
	for at = 0; ; at = max(512, 2*at) {
		if at+8 > h.size {
			return h.errorf(0, "no HDF5 signature found")
		}
		var sig [8]byte
		if _, err := h.f.ReadAt(sig[:], at); err != nil {
			return fmt.Errorf("%s: %w", h.name, err)
		}
		if string(sig[:]) == "\x89HDF\r\n\x1a\n" {
			break
		}
	}
	n := min(h.size-at, 256)
	b := make([]byte, n)
	if _, err := h.f.ReadAt(b, at); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	r := &reader{h: h, b: b, p: 8, base: at, what: "superblock"}
	version := r.u8()
	switch version {
	case 0, 1:
		r.skip(4) // free-space, root group, reserved, shared header versions
		h.offSize, h.lenSize = int(r.u8()), int(r.u8())
		r.skip(1 + 2 + 2 + 4)
		if version == 1 {
			r.skip(4)
		}
		if !validSize(h.offSize) || !validSize(h.lenSize) {
			return h.errorf(at+13, "superblock: size of offsets %d / lengths %d not 2, 4 or 8", h.offSize, h.lenSize)
		}
		h.base = r.addr()
		r.addr() // free-space info
		r.addr() // end of file
		r.addr() // driver info
		// Root group symbol table entry.
		r.addr() // link name offset
		h.root = r.addr()
	case 2, 3:
		h.offSize, h.lenSize = int(r.u8()), int(r.u8())
		if !validSize(h.offSize) || !validSize(h.lenSize) {
			return h.errorf(at+9, "superblock: size of offsets %d / lengths %d not 2, 4 or 8", h.offSize, h.lenSize)
		}
		r.skip(1) // flags
		h.base = r.addr()
		r.addr() // superblock extension
		r.addr() // end of file
		h.root = r.addr()
	default:
		return h.unsupported(at+8, "superblock version %d (0 to 3)", version)
	}
	if r.err != nil {
		return r.err
	}
	if h.base == undef {
		h.base = 0
	}
	if h.base == 0 && at > 0 {
		// A user block: addresses are relative to the superblock.
		h.base = uint64(at)
	}
	return nil
}

func validSize(n int) bool { return n == 2 || n == 4 || n == 8 }

// message is one object header message.
type message struct {
	typ  uint16
	data []byte
	off  int64 // file offset of data
}

// object is a parsed object header.
type object struct {
	addr uint64
	msgs []message
}

func (o *object) find(typ uint16) *message {
	for i := range o.msgs {
		if o.msgs[i].typ == typ {
			return &o.msgs[i]
		}
	}
	return nil
}

// Message types.
const (
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgLink         = 0x06
	msgLayout       = 0x08
	msgFilters      = 0x0B
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
)

// object reads the object header at addr, following continuations.
func (h *File) object(addr uint64) (*object, error) {
	o := &object{addr: addr}
	pre, err := h.readAt(addr, 16, "object header")
	if err != nil {
		// Version-2 headers may be shorter than 16 bytes only in theory.
		return nil, err
	}
	if string(pre[:4]) == "OHDR" {
		if pre[4] != 2 {
			return nil, h.unsupported(int64(addr+h.base)+4, "object header version %d", pre[4])
		}
		flags := pre[5]
		p := 6
		if flags&0x20 != 0 {
			p += 16
		}
		if flags&0x10 != 0 {
			p += 4
		}
		sz := 1 << (flags & 3)
		hdr, err := h.readAt(addr, int64(p+sz), "object header")
		if err != nil {
			return nil, err
		}
		r := &reader{h: h, b: hdr, p: p, base: int64(addr + h.base), what: "object header"}
		n := r.uintN(sz)
		if r.err != nil {
			return nil, r.err
		}
		if n > maxHeaderBytes {
			return nil, h.errorf(int64(addr+h.base)+int64(p), "object header chunk of %d bytes", n)
		}
		if err := h.messages(o, addr+uint64(p+sz), int64(n)+4, true, flags&0x04 != 0); err != nil {
			return nil, err
		}
	} else {
		r := &reader{h: h, b: pre, base: int64(addr + h.base), what: "object header"}
		if v := r.u8(); v != 1 {
			return nil, h.errorf(int64(addr+h.base), "object header version %d (not 1, and no OHDR signature)", v)
		}
		r.skip(1)
		r.u16() // number of messages
		r.u32() // reference count
		n := r.u32()
		if n > maxHeaderBytes {
			return nil, h.errorf(int64(addr+h.base)+8, "object header of %d bytes", n)
		}
		if err := h.messages(o, addr+16, int64(n), false, false); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// messages parses the messages of one header block and the continuation
// blocks it names.
func (h *File) messages(o *object, addr uint64, n int64, v2, crtOrder bool) error {
	seen := 0
	queue := []struct {
		addr uint64
		n    int64
	}{{addr, n}}
	for len(queue) > 0 {
		blk := queue[0]
		queue = queue[1:]
		if seen++; seen > 1024 {
			return h.errorf(int64(blk.addr+h.base), "more than 1024 object header continuation blocks")
		}
		b, err := h.readOwn(blk.addr, blk.n, "object header messages")
		if err != nil {
			return err
		}
		r := &reader{h: h, b: b, base: int64(blk.addr + h.base), what: "object header message"}
		end := len(b)
		if v2 {
			if blk.addr != addr {
				if len(b) < 8 || string(b[:4]) != "OCHK" {
					return h.errorf(r.base, "object header continuation block without OCHK signature")
				}
				r.p = 4
			}
			end -= 4 // checksum
		}
		for {
			hdrLen := 8
			if v2 {
				hdrLen = 4
				if crtOrder {
					hdrLen = 6
				}
			}
			if end-r.p < hdrLen {
				break
			}
			var typ uint16
			var size int
			if v2 {
				typ = uint16(r.u8())
				size = int(r.u16())
				r.u8() // flags
				if crtOrder {
					r.u16()
				}
			} else {
				typ = r.u16()
				size = int(r.u16())
				r.u8()
				r.skip(3)
			}
			if r.err != nil {
				return r.err
			}
			if size > end-r.p {
				return h.errorf(r.off(), "object header message type %d of %d bytes extends past its block (%d bytes left)", typ, size, end-r.p)
			}
			m := message{typ: typ, data: r.b[r.p : r.p+size], off: r.off()}
			r.p += size
			if !v2 {
				r.p = min(end, (r.p+7)&^7)
			}
			if typ == msgContinuation {
				cr := &reader{h: h, b: m.data, base: m.off, what: "continuation message"}
				a, l := cr.addr(), cr.length()
				if cr.err != nil {
					return cr.err
				}
				if l > maxHeaderBytes {
					return h.errorf(m.off, "continuation block of %d bytes", l)
				}
				queue = append(queue, struct {
					addr uint64
					n    int64
				}{a, int64(l)})
				continue
			}
			o.msgs = append(o.msgs, m)
		}
	}
	return nil
}

// link is a group member.
type link struct {
	name     string
	kind     int    // 0 hard, 1 soft, 64 external
	addr     uint64 // hard
	target   string // soft: path; external: object path
	filename string // external
}

// links lists the members of the group whose object header is o.
func (h *File) links(o *object) ([]link, error) {
	if m := o.find(msgSymbolTable); m != nil {
		r := &reader{h: h, b: m.data, base: m.off, what: "symbol table message"}
		btree, heap := r.addr(), r.addr()
		if r.err != nil {
			return nil, r.err
		}
		return h.symbolTable(btree, heap)
	}
	if m := o.find(msgLinkInfo); m != nil {
		r := &reader{h: h, b: m.data, base: m.off, what: "link info message"}
		r.u8()
		flags := r.u8()
		if flags&1 != 0 {
			r.skip(8)
		}
		heap := r.addr()
		if r.err != nil {
			return nil, r.err
		}
		if heap != undef {
			return h.denseLinks(heap)
		}
	}
	var out []link
	for _, m := range o.msgs {
		if m.typ != msgLink {
			continue
		}
		l, err := h.linkMessage(m)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// linkMessage decodes a link message.
func (h *File) linkMessage(m message) (link, error) {
	r := &reader{h: h, b: m.data, base: m.off, what: "link message"}
	var l link
	if v := r.u8(); v != 1 {
		return l, h.unsupported(m.off, "link message version %d", v)
	}
	flags := r.u8()
	if flags&0x8 != 0 {
		l.kind = int(r.u8())
	}
	if flags&0x4 != 0 {
		r.skip(8)
	}
	if flags&0x10 != 0 {
		r.u8()
	}
	n := r.uintN(1 << (flags & 3))
	if r.err == nil && n > uint64(len(m.data)) {
		return l, h.errorf(r.off(), "link name of %d bytes in a %d-byte message", n, len(m.data))
	}
	l.name = string(r.bytes(int(n)))
	switch l.kind {
	case 0:
		l.addr = r.addr()
	case 1:
		k := r.u16()
		l.target = string(r.bytes(int(k)))
	case 64:
		k := r.u16()
		v := r.bytes(int(k))
		if r.err == nil {
			if len(v) < 1 {
				return l, h.errorf(m.off, "external link %q without data", l.name)
			}
			parts := strings.SplitN(string(v[1:]), "\x00", 3)
			if len(parts) < 2 {
				return l, h.errorf(m.off, "external link %q: malformed file and object names", l.name)
			}
			l.filename, l.target = parts[0], parts[1]
		}
	default:
		return l, h.unsupported(m.off, "link type %d for %q", l.kind, l.name)
	}
	return l, r.err
}

// symbolTable lists a group stored as a v1 B-tree of symbol nodes.
func (h *File) symbolTable(btree, heapAddr uint64) ([]link, error) {
	hb, err := h.readAt(heapAddr, int64(8+2*h.lenSize+h.offSize), "local heap")
	if err != nil {
		return nil, err
	}
	if string(hb[:4]) != "HEAP" {
		return nil, h.errorf(int64(heapAddr+h.base), "local heap without HEAP signature")
	}
	r := &reader{h: h, b: hb, p: 8, base: int64(heapAddr + h.base), what: "local heap"}
	size := r.length()
	r.length()
	dataAddr := r.addr()
	if r.err != nil {
		return nil, r.err
	}
	if size > maxHeaderBytes {
		return nil, h.errorf(int64(heapAddr+h.base)+8, "local heap data of %d bytes", size)
	}
	heap, err := h.readOwn(dataAddr, int64(size), "local heap data")
	if err != nil {
		return nil, err
	}
	name := func(off uint64) (string, error) {
		if off >= uint64(len(heap)) {
			return "", h.errorf(int64(dataAddr+h.base), "name offset %d outside the local heap (%d bytes)", off, len(heap))
		}
		s := heap[off:]
		if i := indexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return string(s), nil
	}
	var out []link
	visited := map[uint64]bool{}
	var walk func(addr uint64, depth int) error
	walk = func(addr uint64, depth int) error {
		if visited[addr] || len(visited) >= maxBTreeNodes || depth > 64 {
			return h.errorf(int64(addr+h.base), "group B-tree too large or cyclic")
		}
		visited[addr] = true
		hdr, err := h.readAt(addr, 8, "group B-tree node")
		if err != nil {
			return err
		}
		if string(hdr[:4]) == "SNOD" {
			n := int(binary.LittleEndian.Uint16(hdr[6:]))
			entry := 2*h.offSize + 24
			b, err := h.readOwn(addr+8, int64(n*entry), "symbol table node")
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				er := &reader{h: h, b: b[i*entry : (i+1)*entry], base: int64(addr+h.base) + 8 + int64(i*entry), what: "symbol table entry"}
				nameOff, obj, cache := er.length(), er.addr(), er.u32()
				er.skip(4)
				scratch := er.bytes(16)
				if er.err != nil {
					return er.err
				}
				nm, err := name(nameOff)
				if err != nil {
					return err
				}
				l := link{name: nm, addr: obj}
				if cache == 2 {
					t, err := name(uint64(binary.LittleEndian.Uint32(scratch)))
					if err != nil {
						return err
					}
					l.kind, l.target = 1, t
				}
				out = append(out, l)
			}
			return nil
		}
		if string(hdr[:4]) != "TREE" || hdr[4] != 0 {
			return h.errorf(int64(addr+h.base), "group B-tree node without TREE signature (type 0)")
		}
		entries := int(binary.LittleEndian.Uint16(hdr[6:]))
		n := int64(8 + 2*h.offSize + (2*entries+1)*h.lenSize + entries*h.offSize)
		b, err := h.readOwn(addr, n, "group B-tree node")
		if err != nil {
			return err
		}
		nr := &reader{h: h, b: b, p: 8 + 2*h.offSize, base: int64(addr + h.base), what: "group B-tree node"}
		children := make([]uint64, 0, entries)
		for i := 0; i < entries; i++ {
			nr.length()
			children = append(children, nr.addr())
		}
		if nr.err != nil {
			return nr.err
		}
		for _, c := range children {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(btree, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// resolve follows path from the root group to an object, through hard,
// soft and external links. It returns the file holding the object and
// its header.
func (h *File) resolve(path string, depth int) (*File, *object, error) {
	if depth > maxDepth {
		return nil, nil, h.errorf(-1, "more than %d links followed resolving %q", maxDepth, path)
	}
	cur, err := h.object(h.root)
	if err != nil {
		return nil, nil, err
	}
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	for i, p := range parts {
		ls, err := h.links(cur)
		if err != nil {
			return nil, nil, err
		}
		var found *link
		for k := range ls {
			if ls[k].name == p {
				found = &ls[k]
				break
			}
		}
		if found == nil {
			return nil, nil, &Error{File: h.name, Offset: -1, Msg: fmt.Sprintf("%s not found (no %q in /%s)", path, p, strings.Join(parts[:i], "/"))}
		}
		rest := strings.Join(parts[i+1:], "/")
		switch found.kind {
		case 1:
			t := found.target
			if !strings.HasPrefix(t, "/") {
				t = "/" + strings.Join(parts[:i], "/") + "/" + t
			}
			return h.resolve(t+"/"+rest, depth+1)
		case 64:
			x, err := h.externalFile(found.filename)
			if err != nil {
				return nil, nil, err
			}
			return x.resolve(found.target+"/"+rest, depth+1)
		}
		if cur, err = h.object(found.addr); err != nil {
			return nil, nil, err
		}
	}
	return h, cur, nil
}

// externalFile opens (once) the file an external link names, relative to
// this file's folder unless absolute.
func (h *File) externalFile(name string) (*File, error) {
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(h.name), p)
	}
	if x, ok := h.external[p]; ok {
		return x, nil
	}
	x, err := OpenWith(p, h.open)
	if err != nil {
		return nil, fmt.Errorf("%s: external link to %s: %w", h.name, name, err)
	}
	if h.external == nil {
		h.external = map[string]*File{}
	}
	h.external[p] = x
	return x, nil
}

// Members returns the names of the members of the group at path.
func (h *File) Members(path string) ([]string, error) {
	x, o, err := h.resolve(path, 0)
	if err != nil {
		return nil, err
	}
	ls, err := x.links(o)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ls))
	for i := range ls {
		names[i] = ls[i].name
	}
	return names, nil
}

// Exists reports whether path names an object, following links; a
// missing external file counts as absent.
func (h *File) Exists(path string) bool {
	_, _, err := h.resolve(path, 0)
	return err == nil
}
