package saxs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/saxsdog/saxs/internal/h5"
)

// NeXus/Eiger paths read from HDF5 master files.
const (
	nxData     = "/entry/data"
	nxDetector = "/entry/instrument/detector"
)

// hdf5Frames is a FrameSource over the frame stacks of an HDF5/NeXus file.
type hdf5Frames struct {
	name   string
	file   *h5.File
	stacks []hdf5Stack
	n      int
	info   FrameInfo
	mask   *Mask
	raw    []byte
}

// hdf5Stack is one 3-D (or 2-D) frame dataset.
type hdf5Stack struct {
	ds     *h5.Dataset
	first  int // index of its first frame
	frames int
	rows   int
	cols   int
}

// openHDF5Frames opens an HDF5/NeXus file: the frames are the datasets
// /entry/data/data and /entry/data/data_NNNNNN (Eiger master files link
// them from data files), in name order.
func openHDF5Frames(f *os.File, path string, _ int64) (FrameSource, error) {
	f.Close()
	hf, err := h5.OpenWith(path, openRegular)
	if err != nil {
		return nil, h5Error(path, err)
	}
	s := &hdf5Frames{name: path, file: hf}
	if err := s.open(); err != nil {
		hf.Close()
		return nil, err
	}
	return s, nil
}

// h5Error turns an *h5.Error into a *FormatError; a problem in a data
// file reached through an external link says so.
func h5Error(path string, err error) error {
	var he *h5.Error
	if !errors.As(err, &he) {
		return err
	}
	via := ""
	if he.File != path {
		via = " (linked from " + path + ")"
	}
	fe := &FormatError{File: he.File, Offset: he.Offset, Msg: he.Msg + via}
	if he.Unsupported {
		fe.Msg = ""
		fe.Err = &UnsupportedError{Feature: strings.TrimPrefix(he.Msg, "unsupported ") + via}
	}
	return fe
}

func (s *hdf5Frames) open() error {
	names, err := s.file.Members(nxData)
	if err != nil {
		return h5Error(s.name, err)
	}
	sort.Strings(names)
	for _, nm := range names {
		if nm != "data" && !strings.HasPrefix(nm, "data_") {
			continue
		}
		ds, err := s.file.Dataset(nxData + "/" + nm)
		if err != nil {
			return h5Error(s.name, err)
		}
		st := hdf5Stack{ds: ds, first: s.n}
		var frames, rows, cols uint64
		switch len(ds.Shape) {
		case 2:
			frames, rows, cols = 1, ds.Shape[0], ds.Shape[1]
		case 3:
			frames, rows, cols = ds.Shape[0], ds.Shape[1], ds.Shape[2]
		default:
			return &FormatError{File: ds.File(), Offset: -1, Err: &UnsupportedError{Feature: fmt.Sprintf("%s/%s dataspace of rank %d (2-D frames or 3-D stacks)", nxData, nm, len(ds.Shape))}}
		}
		if rows == 0 || cols == 0 || rows > maxPixels || cols > maxPixels || rows*cols > maxPixels {
			return &FormatError{File: ds.File(), Offset: -1, Err: &UnsupportedError{Feature: fmt.Sprintf("%s/%s dataspace %v: frames of %d × %d pixels (at most %d pixels)", nxData, nm, ds.Shape, rows, cols, maxPixels)}}
		}
		if frames > math.MaxInt32 || uint64(s.n)+frames > math.MaxInt32 {
			return &FormatError{File: ds.File(), Offset: -1, Err: &UnsupportedError{Feature: fmt.Sprintf("%s/%s dataspace %v: more than %d frames", nxData, nm, ds.Shape, math.MaxInt32)}}
		}
		st.frames, st.rows, st.cols = int(frames), int(rows), int(cols)
		if len(s.stacks) > 0 && (st.rows != s.stacks[0].rows || st.cols != s.stacks[0].cols) {
			return &FormatError{File: ds.File(), Offset: -1, Msg: fmt.Sprintf("%s/%s frames are %d × %d, earlier ones %d × %d", nxData, nm, st.rows, st.cols, s.stacks[0].rows, s.stacks[0].cols)}
		}
		if st.frames > 0 {
			s.stacks = append(s.stacks, st)
			s.n += st.frames
		}
	}
	if len(s.stacks) == 0 {
		return &FormatError{File: s.name, Offset: -1, Msg: "no frames: " + nxData + " has no data or data_NNNNNN dataset"}
	}
	num := func(paths ...string) float64 {
		for _, p := range paths {
			if v, err := s.file.Number(p); err == nil {
				return v
			}
		}
		return 0
	}
	s.info.ExposureTime = num(nxDetector+"/count_time", nxDetector+"/frame_time")
	s.info.Wavelength = num("/entry/instrument/beam/incident_wavelength", "/entry/instrument/monochromator/wavelength")
	s.info.DetectorDistance = num(nxDetector+"/detector_distance", nxDetector+"/distance") * 1000
	if s.file.Exists(nxDetector+"/beam_center_x") && s.file.Exists(nxDetector+"/beam_center_y") {
		s.info.BeamCenter = [2]float64{num(nxDetector + "/beam_center_x"), num(nxDetector + "/beam_center_y")}
		s.info.HasBeamCenter = true
	}
	s.info.PixelSize = [2]float64{num(nxDetector + "/x_pixel_size"), num(nxDetector + "/y_pixel_size")}
	s.info.CountCutoff = int64(num(nxDetector+"/detectorSpecific/countrate_correction_count_cutoff", nxDetector+"/detectorSpecific/saturation_value"))
	for _, p := range []string{nxDetector + "/detectorSpecific/pixel_mask", nxDetector + "/pixel_mask"} {
		if !s.file.Exists(p) {
			continue
		}
		m, err := s.readMask(p)
		if err != nil {
			return err
		}
		s.mask = m
		break
	}
	return nil
}

// readMask reads a pixel mask dataset: nonzero excludes the pixel.
func (s *hdf5Frames) readMask(p string) (*Mask, error) {
	ds, err := s.file.Dataset(p)
	if err != nil {
		return nil, h5Error(s.name, err)
	}
	st := &s.stacks[0]
	if len(ds.Shape) != 2 || ds.Shape[0] != uint64(st.rows) || ds.Shape[1] != uint64(st.cols) || ds.Type.Class != 0 {
		return nil, &FormatError{File: ds.File(), Offset: -1, Msg: fmt.Sprintf("%s is %v of class %d, want %d × %d integers", p, ds.Shape, ds.Type.Class, st.rows, st.cols)}
	}
	raw := make([]byte, uint64(st.rows)*uint64(st.cols)*uint64(ds.Type.Size))
	if err := ds.ReadRaw(0, ds.Shape[0], raw); err != nil {
		return nil, h5Error(s.name, err)
	}
	m := &Mask{Rows: st.rows, Cols: st.cols, Masked: make([]bool, st.rows*st.cols)}
	for i := range m.Masked {
		m.Masked[i] = ds.Type.Float64(raw, i) != 0
	}
	return m, nil
}

func (s *hdf5Frames) Name() string         { return s.name }
func (s *hdf5Frames) Format() Format       { return FormatHDF5 }
func (s *hdf5Frames) Len() int             { return s.n }
func (s *hdf5Frames) Info(i int) FrameInfo { return s.info }
func (s *hdf5Frames) PixelMask() *Mask     { return s.mask }
func (s *hdf5Frames) Close() error         { return s.file.Close() }

// ReadFrame decodes frame i. Integers of up to 32 bits go to dst.Counts;
// the overflow marker of unsigned n-bit data, 2^n−1 (Eiger's value for
// gaps, defective and saturated pixels), and unsigned 32-bit values above
// 2^31−1 become -1, the value Pilatus frames use for invalid pixels, so
// that they stand out; they are excluded by a mask (see PixelMask), which
// saxsdog and the server extend per frame with the frame's negative pixels.
// Floating-point and 64-bit data go to dst.Values.
func (s *hdf5Frames) ReadFrame(i int, dst *Image) error {
	if i < 0 || i >= s.n {
		return fmt.Errorf("%s: frame %d out of range [0, %d)", s.name, i, s.n)
	}
	if dst == nil {
		return fmt.Errorf("saxs: ReadFrame %s into a nil Image", s.name)
	}
	k := sort.Search(len(s.stacks), func(k int) bool { return s.stacks[k].first+s.stacks[k].frames > i })
	st := &s.stacks[k]
	t := st.ds.Type
	n := st.rows * st.cols
	need := n * t.Size
	if cap(s.raw) < need {
		s.raw = make([]byte, need)
	}
	raw := s.raw[:need]
	var err error
	if len(st.ds.Shape) == 2 {
		err = st.ds.ReadRaw(0, st.ds.Shape[0], raw)
	} else {
		err = st.ds.ReadRaw(uint64(i-st.first), 1, raw)
	}
	if err != nil {
		return h5Error(s.name, err)
	}
	if t.Class == 1 || t.Size == 8 {
		dst.resizeValues(st.rows, st.cols)
		for j := range dst.Values {
			dst.Values[j] = t.Float64(raw, j)
		}
		dst.setDescription(nil)
		return nil
	}
	dst.resizeCounts(st.rows, st.cols)
	c := dst.Counts
	switch {
	case t.Size == 4 && t.Signed && !t.BigEnd:
		decodeInt32LE(c, raw)
	case t.Size == 4:
		order := binary.ByteOrder(binary.LittleEndian)
		if t.BigEnd {
			order = binary.BigEndian
		}
		for j := range c {
			v := order.Uint32(raw[4*j:])
			if !t.Signed && v > math.MaxInt32 {
				c[j] = -1
			} else {
				c[j] = int32(v)
			}
		}
	default:
		decodeIntSamples(c, raw, 8*t.Size, t.Signed, t.BigEnd)
		if !t.Signed {
			over := int32(1)<<(8*t.Size) - 1
			for j, v := range c {
				if v == over {
					c[j] = -1
				}
			}
		}
	}
	dst.setDescription(nil)
	return nil
}
