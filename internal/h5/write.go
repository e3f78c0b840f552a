package h5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// Node is a group or a dataset to write with [Write].
type Node struct {
	Name  string
	Attrs []Attr
	// Children makes the node a group (possibly empty, with Group set).
	Children []*Node
	Group    bool
	// A dataset holds exactly one of Float64s, String, Strings or Int32s.
	Float64s []float64 // 1-D float64 dataset
	String   *string   // scalar string dataset
	Strings  []string  // 1-D dataset of fixed-length strings (as long as the longest + NUL)
	Int32s   []int32   // 1-D int32 dataset
}

// Attr is a scalar attribute: a string or an int32.
type Attr struct {
	Name  string
	Str   string
	Int   int32
	IsInt bool
}

// Write lays out an HDF5 file (superblock 0, version-1 object headers,
// groups as symbol tables, contiguous datasets) holding root's children
// and attributes, as libhdf5 1.8 writes with its default settings, and
// returns its bytes.
func Write(root *Node) ([]byte, error) {
	w := &writer{buf: make([]byte, superblockSize)}
	addr, btree, heap, err := w.node(root)
	if err != nil {
		return nil, err
	}
	b := w.buf[:superblockSize]
	copy(b, "\x89HDF\r\n\x1a\n")
	b[8], b[9], b[10], b[11], b[12] = 0, 0, 0, 0, 0 // versions
	b[13], b[14] = 8, 8                             // sizes of offsets and lengths
	binary.LittleEndian.PutUint16(b[16:], leafK)
	binary.LittleEndian.PutUint16(b[18:], internalK)
	le := binary.LittleEndian
	le.PutUint64(b[24:], 0)                  // base address
	le.PutUint64(b[32:], undef)              // free space
	le.PutUint64(b[40:], uint64(len(w.buf))) // end of file
	le.PutUint64(b[48:], undef)              // driver info
	// Root symbol table entry.
	le.PutUint64(b[56:], 0)
	le.PutUint64(b[64:], addr)
	le.PutUint32(b[72:], 1) // cache type 1: symbol table
	le.PutUint64(b[80:], btree)
	le.PutUint64(b[88:], heap)
	return w.buf, nil
}

// MaxMembers is the most members a group written by [Write] may have.
const MaxMembers = 2 * leafK * 2 * internalK

const (
	superblockSize = 96
	leafK          = 32 // symbol table node holds up to 2·leafK entries
	internalK      = 16
)

type writer struct {
	buf []byte
}

// alloc appends n zero bytes, 8-byte aligned, and returns their address.
func (w *writer) alloc(n int) (uint64, []byte) {
	for len(w.buf)%8 != 0 {
		w.buf = append(w.buf, 0)
	}
	a := len(w.buf)
	w.buf = append(w.buf, make([]byte, n)...)
	return uint64(a), w.buf[a : a+n]
}

// node writes n (and its children) and returns its object header
// address, and for a group its B-tree and local heap addresses.
func (w *writer) node(n *Node) (addr, btree, heap uint64, err error) {
	var msgs [][2][]byte // type (2 bytes), data
	add := func(typ uint16, data []byte) {
		t := make([]byte, 2)
		binary.LittleEndian.PutUint16(t, typ)
		msgs = append(msgs, [2][]byte{t, data})
	}
	if n.Group || len(n.Children) > 0 {
		if len(n.Children) > MaxMembers {
			return 0, 0, 0, fmt.Errorf("h5: group %q has %d members (at most %d)", n.Name, len(n.Children), MaxMembers)
		}
		kids := append([]*Node(nil), n.Children...)
		sort.Slice(kids, func(i, j int) bool { return kids[i].Name < kids[j].Name })
		addrs := make([]uint64, len(kids))
		for i, k := range kids {
			if k.Name == "" || i > 0 && k.Name == kids[i-1].Name {
				return 0, 0, 0, fmt.Errorf("h5: empty or duplicate member name %q in %q", k.Name, n.Name)
			}
			if addrs[i], _, _, err = w.node(k); err != nil {
				return 0, 0, 0, err
			}
		}
		// Local heap: "" at 0, then the names, each padded to 8 bytes.
		var names []byte
		names = append(names, make([]byte, 8)...)
		offs := make([]uint64, len(kids))
		for i, k := range kids {
			offs[i] = uint64(len(names))
			names = append(names, k.Name...)
			names = append(names, 0)
			for len(names)%8 != 0 {
				names = append(names, 0)
			}
		}
		dataAddr, data := w.alloc(len(names))
		copy(data, names)
		heap, hb := w.alloc(32)
		copy(hb, "HEAP")
		binary.LittleEndian.PutUint64(hb[8:], uint64(len(names)))
		binary.LittleEndian.PutUint64(hb[16:], 1) // no free block (libhdf5 H5HL_FREE_NULL)
		binary.LittleEndian.PutUint64(hb[24:], dataAddr)
		// Symbol table nodes of up to 2·leafK members each, under one
		// B-tree leaf of up to 2·internalK children.
		var snods []uint64
		var lastKey []uint64
		for lo := 0; lo < len(kids); lo += 2 * leafK {
			hi := min(lo+2*leafK, len(kids))
			snod, sb := w.alloc(8 + 2*leafK*40)
			copy(sb, "SNOD")
			sb[4] = 1
			binary.LittleEndian.PutUint16(sb[6:], uint16(hi-lo))
			for i := lo; i < hi; i++ {
				e := sb[8+40*(i-lo):]
				binary.LittleEndian.PutUint64(e, offs[i])
				binary.LittleEndian.PutUint64(e[8:], addrs[i])
			}
			snods = append(snods, snod)
			lastKey = append(lastKey, offs[hi-1])
		}
		btree, bt := w.alloc(24 + (2*internalK+1)*8 + 2*internalK*8)
		copy(bt, "TREE")
		binary.LittleEndian.PutUint16(bt[6:], uint16(len(snods)))
		binary.LittleEndian.PutUint64(bt[8:], undef)
		binary.LittleEndian.PutUint64(bt[16:], undef)
		p := 24
		binary.LittleEndian.PutUint64(bt[p:], 0) // key 0: ""
		for i := range snods {
			binary.LittleEndian.PutUint64(bt[p+8:], snods[i])
			binary.LittleEndian.PutUint64(bt[p+16:], lastKey[i])
			p += 16
		}
		st := make([]byte, 16)
		binary.LittleEndian.PutUint64(st, btree)
		binary.LittleEndian.PutUint64(st[8:], heap)
		add(msgSymbolTable, st)
	} else {
		var dtype, raw []byte
		var dims []uint64
		switch {
		case n.String != nil:
			dtype = stringType(len(*n.String) + 1)
			raw = append([]byte(*n.String), 0)
		case n.Strings != nil:
			size := 1
			for _, v := range n.Strings {
				size = max(size, len(v)+1)
			}
			dtype = stringType(size)
			dims = []uint64{uint64(len(n.Strings))}
			raw = make([]byte, size*len(n.Strings))
			for i, v := range n.Strings {
				copy(raw[size*i:], v)
			}
		case n.Int32s != nil:
			dtype = int32Type()
			dims = []uint64{uint64(len(n.Int32s))}
			raw = make([]byte, 4*len(n.Int32s))
			for i, v := range n.Int32s {
				binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
			}
		default:
			dtype = float64Type()
			dims = []uint64{uint64(len(n.Float64s))}
			raw = make([]byte, 8*len(n.Float64s))
			for i, v := range n.Float64s {
				binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
			}
		}
		add(msgDataspace, dataspace(dims))
		add(msgDatatype, dtype)
		dataAddr := undef
		if len(raw) > 0 {
			var d []byte
			dataAddr, d = w.alloc(len(raw))
			copy(d, raw)
		}
		ly := make([]byte, 18)
		ly[0], ly[1] = 3, 1 // version 3, contiguous
		binary.LittleEndian.PutUint64(ly[2:], dataAddr)
		binary.LittleEndian.PutUint64(ly[10:], uint64(len(raw)))
		add(msgLayout, ly)
	}
	for _, a := range n.Attrs {
		m, err := attribute(a)
		if err != nil {
			return 0, 0, 0, err
		}
		add(msgAttribute, m)
	}
	// Version-1 object header.
	size := 0
	for _, m := range msgs {
		size += 8 + pad8(len(m[1]))
	}
	if size > math.MaxUint32 || len(msgs) > math.MaxUint16 {
		return 0, 0, 0, errors.New("h5: object header too large")
	}
	addr, oh := w.alloc(16 + size)
	oh[0] = 1
	binary.LittleEndian.PutUint16(oh[2:], uint16(len(msgs)))
	binary.LittleEndian.PutUint32(oh[4:], 1)
	binary.LittleEndian.PutUint32(oh[8:], uint32(size))
	p := 16
	for _, m := range msgs {
		copy(oh[p:], m[0])
		binary.LittleEndian.PutUint16(oh[p+2:], uint16(pad8(len(m[1]))))
		copy(oh[p+8:], m[1])
		p += 8 + pad8(len(m[1]))
	}
	return addr, btree, heap, nil
}

// msgAttribute is the attribute message type.
const msgAttribute = 0x0C

func pad8(n int) int { return (n + 7) &^ 7 }

// dataspace returns a version-1 dataspace message: scalar for nil dims.
func dataspace(dims []uint64) []byte {
	b := make([]byte, 8+8*len(dims))
	b[0], b[1] = 1, byte(len(dims))
	for i, d := range dims {
		binary.LittleEndian.PutUint64(b[8+8*i:], d)
	}
	return b
}

// float64Type is IEEE little-endian double precision.
func float64Type() []byte {
	b := make([]byte, 20)
	b[0] = 0x11 // version 1, class 1 (floating point)
	b[1] = 0x20 // little-endian, mantissa normalization: msb implied
	b[2] = 63   // sign bit location
	binary.LittleEndian.PutUint32(b[4:], 8)
	binary.LittleEndian.PutUint16(b[8:], 0)   // bit offset
	binary.LittleEndian.PutUint16(b[10:], 64) // precision
	b[12], b[13], b[14], b[15] = 52, 11, 0, 52
	binary.LittleEndian.PutUint32(b[16:], 1023)
	return b
}

// int32Type is a little-endian signed 32-bit integer.
func int32Type() []byte {
	b := make([]byte, 12)
	b[0] = 0x10 // version 1, class 0 (fixed point)
	b[1] = 0x08 // little-endian, signed
	binary.LittleEndian.PutUint32(b[4:], 4)
	binary.LittleEndian.PutUint16(b[8:], 0)
	binary.LittleEndian.PutUint16(b[10:], 32)
	return b
}

// stringType is a fixed-length NUL-terminated UTF-8 string of n bytes.
func stringType(n int) []byte {
	b := make([]byte, 8)
	b[0] = 0x13 // version 1, class 3 (string)
	b[1] = 0x10 // null terminated, UTF-8
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	return b
}

// attribute returns a version-1 attribute message for a.
func attribute(a Attr) ([]byte, error) {
	if a.Name == "" || len(a.Name) > 1<<15 || len(a.Str) > 1<<20 {
		return nil, fmt.Errorf("h5: attribute name %q or value too long", a.Name)
	}
	var dt, data []byte
	if a.IsInt {
		dt = int32Type()
		data = binary.LittleEndian.AppendUint32(nil, uint32(a.Int))
	} else {
		dt = stringType(len(a.Str) + 1)
		data = append([]byte(a.Str), 0)
	}
	ds := dataspace(nil)
	name := append([]byte(a.Name), 0)
	b := make([]byte, 8, 8+pad8(len(name))+pad8(len(dt))+pad8(len(ds))+len(data))
	b[0] = 1
	binary.LittleEndian.PutUint16(b[2:], uint16(len(name)))
	binary.LittleEndian.PutUint16(b[4:], uint16(len(dt)))
	binary.LittleEndian.PutUint16(b[6:], uint16(len(ds)))
	for _, f := range [][]byte{name, dt, ds} {
		b = append(b, f...)
		b = append(b, make([]byte, pad8(len(f))-len(f))...)
	}
	return append(b, data...), nil
}
