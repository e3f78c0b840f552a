package saxs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Format is a detector file format.
type Format int

// The detector file formats [DetectFormat] recognises.
const (
	FormatUnknown Format = iota
	FormatTIFF           // TIFF, as written by Pilatus detectors
	FormatCBF            // Crystallographic Binary File (Pilatus mini-CBF or full CBF)
	FormatEDF            // ESRF Data Format
	FormatHDF5           // HDF5/NeXus, e.g. an Eiger master file
)

// String returns the usual name of the format ("TIFF", "CBF", "EDF", "HDF5", "unknown").
func (f Format) String() string {
	switch f {
	case FormatTIFF:
		return "TIFF"
	case FormatCBF:
		return "CBF"
	case FormatEDF:
		return "EDF"
	case FormatHDF5:
		return "HDF5"
	}
	return "unknown"
}

// hdf5Signature starts an HDF5 superblock, at offset 0, 512, 1024, 2048, ….
const hdf5Signature = "\x89HDF\r\n\x1a\n"

// DetectHeadSize is the number of leading bytes of a file that
// [DetectFormat] looks at.
const DetectHeadSize = 4096

// DetectFormat recognises a detector file by its first bytes (head, at
// most the first [DetectHeadSize] bytes of the file are used) and uses
// name's extension (.tif, .tiff, .cbf, .edf, .h5, .hdf5, .nxs) only when
// the content is not conclusive, for example for a truncated file. It
// returns FormatUnknown when neither tells.
//
// Content rules: "II*\x00" or "MM\x00*" is TIFF; "###CBF" or a CIF
// binary section is CBF; the HDF5 signature at offset 0, 512, 1024 or 2048
// is HDF5; a '{' header holding EDF keys (HeaderID, EDF_…, ByteOrder,
// DataType, Dim_1) is EDF.
func DetectFormat(head []byte, name string) Format {
	if len(head) > DetectHeadSize {
		head = head[:DetectHeadSize]
	}
	switch {
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return FormatTIFF
	case bytes.HasPrefix(head, []byte("###CBF")), bytes.Contains(head, []byte("--CIF-BINARY-FORMAT-SECTION--")),
		bytes.HasPrefix(head, []byte("data_")) && bytes.Contains(head, []byte("_array_data")):
		return FormatCBF
	}
	for off := 0; off+len(hdf5Signature) <= len(head); off = max(512, 2*off) {
		if string(head[off:off+len(hdf5Signature)]) == hdf5Signature {
			return FormatHDF5
		}
	}
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		for _, k := range []string{"HeaderID", "EDF_", "ByteOrder", "DataType", "Dim_1"} {
			if bytes.Contains(t, []byte(k)) {
				return FormatEDF
			}
		}
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".tif", ".tiff":
		return FormatTIFF
	case ".cbf":
		return FormatCBF
	case ".edf":
		return FormatEDF
	case ".h5", ".hdf5", ".hdf", ".nxs", ".nx5":
		return FormatHDF5
	}
	return FormatUnknown
}

// FrameInfo is the acquisition metadata a frame's header carries. A zero
// field means that the header does not give it.
type FrameInfo struct {
	ExposureTime     float64    // seconds
	Wavelength       float64    // Ångström
	DetectorDistance float64    // sample–detector distance in mm
	BeamCenter       [2]float64 // beam centre (x: fast axis/column, y: slow axis/row) in pixels, as the header gives it
	HasBeamCenter    bool       // BeamCenter is set
	PixelSize        [2]float64 // pixel size (x, y) in metres
	// CountCutoff is the detector's saturation value: counts at or above it
	// are not trustworthy. 0 if unknown.
	CountCutoff int64
}

// FrameSource gives the frames of one detector file: one frame for TIFF
// and CBF, one or more for EDF and HDF5. A FrameSource must not be used by
// several goroutines at once; Close releases its files.
type FrameSource interface {
	// Name is the path the source was opened from.
	Name() string
	// Format is the file's format.
	Format() Format
	// Len is the number of frames.
	Len() int
	// ReadFrame decodes frame i (0 ≤ i < Len()) into dst, reusing the
	// capacity of dst's sample slice (no allocation when it is large
	// enough). Errors name the file and the byte offset or field.
	ReadFrame(i int, dst *Image) error
	// Info returns the metadata of frame i (the file's header for
	// single-header formats).
	Info(i int) FrameInfo
	// PixelMask returns the detector's own mask (true = pixel excluded),
	// for example the pixel_mask of an Eiger master file, or nil when the
	// file has none. Combine it with the calibration's masks with
	// [CombineMasks].
	PixelMask() *Mask
	// Close releases the open files. The source must not be used after.
	Close() error
}

// MaxFrameFileBytes bounds the size of a CBF or EDF file, which
// [OpenFrames] reads whole into memory (TIFF frames are read strip by
// strip, HDF5 files chunk by chunk).
const MaxFrameFileBytes = 1 << 30

// FrameReader opens detector files of any supported format, reusing one
// file buffer across calls: a pipeline that reads many single-frame files
// of the same size allocates nothing per frame once warm. The zero value
// is ready to use. The FrameSource returned by Open uses the reader's
// buffer until the next Open; a FrameReader must not be used by several
// goroutines at once.
type FrameReader struct {
	buf  []byte
	tiff ImageReader
}

// OpenFrames opens the detector file at path, of any supported format
// (recognised by [DetectFormat]), as a [FrameSource]. A path that is not a
// regular file gives an error matching [ErrNotRegular].
func OpenFrames(path string) (FrameSource, error) {
	return new(FrameReader).Open(path)
}

// Open opens the detector file at path (see [OpenFrames]).
func (r *FrameReader) Open(path string) (FrameSource, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	var head [DetectHeadSize]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	format := DetectFormat(head[:n], path)
	if format == FormatHDF5 {
		return openHDF5Frames(f, path, size)
	}
	defer f.Close()
	if format == FormatTIFF {
		return r.openTIFF(f, path, size)
	}
	if format == FormatUnknown {
		return nil, &FormatError{File: path, Offset: 0, Err: &UnsupportedError{Feature: "file format (TIFF, CBF, EDF and HDF5 are read)"}}
	}
	if size > MaxFrameFileBytes || int64(int(size)) != size {
		return nil, &FormatError{File: path, Offset: -1, Err: &UnsupportedError{Feature: fmt.Sprintf("%s file of %d bytes (at most %d)", format, size, int64(MaxFrameFileBytes))}}
	}
	if int64(cap(r.buf)) < size {
		r.buf = make([]byte, size)
	}
	r.buf = r.buf[:size]
	if _, err := f.ReadAt(r.buf, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: file shrank while being read (%d bytes expected): %w", path, size, io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return openMemFrames(r.buf, path, format)
}

// OpenFramesBytes returns a [FrameSource] for a TIFF, CBF or EDF file held
// in data; name identifies it in errors and decides the format only when
// the content does not. The source reads data while it is used.
func OpenFramesBytes(data []byte, name string) (FrameSource, error) {
	f := DetectFormat(data, name)
	if f == FormatHDF5 {
		return nil, &FormatError{File: name, Offset: 0, Err: &UnsupportedError{Feature: "HDF5 from memory (open the file with OpenFrames)"}}
	}
	return openMemFrames(data, name, f)
}

// memFrames is a FrameSource over a file held in memory.
type memFrames struct {
	name   string
	format Format
	data   []byte
	frames []memFrame
}

// memFrame locates one frame of a memFrames.
type memFrame struct {
	info FrameInfo
	edf  edfFrame   // EDF only
	cbf  *cbfLayout // CBF only
}

func openMemFrames(data []byte, name string, format Format) (FrameSource, error) {
	s := &memFrames{name: name, format: format, data: data}
	switch format {
	case FormatTIFF:
		d := tiffDecoder{data: data, size: int64(len(data)), name: name}
		l, err := d.layout()
		if err != nil {
			return nil, err
		}
		s.frames = []memFrame{{info: ParsePilatusHeader(string(l.desc))}}
	case FormatCBF:
		c, err := parseCBF(data, name)
		if err != nil {
			return nil, err
		}
		s.frames = []memFrame{{info: c.info, cbf: &c}}
	case FormatEDF:
		fr, err := parseEDF(data, name)
		if err != nil {
			return nil, err
		}
		s.frames = make([]memFrame, len(fr))
		for i := range fr {
			s.frames[i] = memFrame{info: fr[i].info, edf: fr[i]}
		}
	default:
		return nil, &FormatError{File: name, Offset: 0, Err: &UnsupportedError{Feature: "file format (TIFF, CBF, EDF and HDF5 are read)"}}
	}
	return s, nil
}

func (s *memFrames) Name() string         { return s.name }
func (s *memFrames) Format() Format       { return s.format }
func (s *memFrames) Len() int             { return len(s.frames) }
func (s *memFrames) PixelMask() *Mask     { return nil }
func (s *memFrames) Close() error         { s.data = nil; return nil }
func (s *memFrames) Info(i int) FrameInfo { return s.frames[i].info }

func (s *memFrames) ReadFrame(i int, dst *Image) error {
	if i < 0 || i >= len(s.frames) {
		return fmt.Errorf("%s: frame %d out of range [0, %d)", s.name, i, len(s.frames))
	}
	if dst == nil {
		return fmt.Errorf("saxs: ReadFrame %s into a nil Image", s.name)
	}
	switch s.format {
	case FormatTIFF:
		return DecodeTIFF(s.data, s.name, dst)
	case FormatCBF:
		return s.frames[i].cbf.decode(s.name, dst)
	}
	return s.frames[i].edf.decode(s.data, dst)
}

// resizeCounts makes m a rows × cols integer image, reusing the capacity
// of m.Counts.
func (m *Image) resizeCounts(rows, cols int) {
	n := rows * cols
	if cap(m.Counts) >= n {
		m.Counts = m.Counts[:n]
	} else {
		m.Counts = make([]int32, n)
	}
	m.Values = nil
	m.Rows, m.Cols = rows, cols
}

// resizeValues makes m a rows × cols floating-point image, reusing the
// capacity of m.Values.
func (m *Image) resizeValues(rows, cols int) {
	n := rows * cols
	if cap(m.Values) >= n {
		m.Values = m.Values[:n]
	} else {
		m.Values = make([]float64, n)
	}
	m.Counts = nil
	m.Rows, m.Cols = rows, cols
}

// setDescription sets m.Description to text, allocating only when it
// changes.
func (m *Image) setDescription(text []byte) {
	if string(text) != m.Description {
		m.Description = string(text)
	}
}

// ParsePilatusHeader reads the acquisition values of a Pilatus header (the
// "# Key value" lines of a TIFF ImageDescription or of a CBF's
// _array_data.header_contents): Exposure_time (s), Wavelength (Å),
// Detector_distance (m, returned in mm), Beam_xy (pixels), Pixel_size
// (m) and Count_cutoff. Lines it does not know are ignored.
func ParsePilatusHeader(text string) FrameInfo {
	var fi FrameInfo
	for len(text) > 0 {
		line := text
		if i := strings.IndexAny(text, "\r\n"); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		key, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.TrimSuffix(key, ":") {
		case "Exposure_time":
			fi.ExposureTime = firstFloat(rest)
		case "Wavelength":
			fi.Wavelength = firstFloat(rest)
		case "Detector_distance":
			fi.DetectorDistance = firstFloat(rest) * 1000
		case "Count_cutoff":
			fi.CountCutoff = int64(firstFloat(rest))
		case "Beam_xy":
			// "(500.00, 600.00) pixels"
			inner := rest
			if i, j := strings.IndexByte(rest, '('), strings.IndexByte(rest, ')'); i >= 0 && j > i {
				inner = rest[i+1 : j]
			}
			if a, b, ok := strings.Cut(inner, ","); ok {
				x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
				y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
				if err1 == nil && err2 == nil {
					fi.BeamCenter, fi.HasBeamCenter = [2]float64{x, y}, true
				}
			}
		case "Pixel_size":
			// "172e-6 m x 172e-6 m"
			f := strings.Fields(rest)
			if len(f) >= 4 {
				x, err1 := strconv.ParseFloat(f[0], 64)
				y, err2 := strconv.ParseFloat(f[3], 64)
				if err1 == nil && err2 == nil {
					fi.PixelSize = [2]float64{x, y}
				}
			}
		}
	}
	return fi
}

// firstFloat parses the first whitespace-separated field of s as a float,
// or returns 0.
func firstFloat(s string) float64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(strings.Trim(f[0], "(),;"), 64)
	if err != nil {
		return 0
	}
	return v
}

// CombineMasks returns a new mask that excludes every pixel excluded by
// any of the given masks (nil masks are skipped), for example a
// calibration mask and a detector's [FrameSource.PixelMask]. The masks
// must have one size; with no non-nil mask it returns nil.
func CombineMasks(masks ...*Mask) (*Mask, error) {
	var out *Mask
	for _, m := range masks {
		if m == nil {
			continue
		}
		if out == nil {
			out = &Mask{Rows: m.Rows, Cols: m.Cols, Masked: make([]bool, m.Rows*m.Cols)}
		}
		if m.Rows != out.Rows || m.Cols != out.Cols || len(m.Masked) != len(out.Masked) {
			return nil, &SizeError{What: "mask", Rows: m.Rows, Cols: m.Cols, WantRows: out.Rows, WantCols: out.Cols}
		}
		for i, b := range m.Masked {
			out.Masked[i] = out.Masked[i] || b
		}
	}
	return out, nil
}

// tiffFrames is the FrameSource of a TIFF file: its header is checked at
// open, its strips read by ReadFrame (the file is opened again then).
type tiffFrames struct {
	name string
	info FrameInfo
	r    *ImageReader
}

// openTIFF checks the header and tags of the TIFF file f.
func (r *FrameReader) openTIFF(f *os.File, path string, size int64) (s FrameSource, err error) {
	if cap(r.tiff.head) < tiffWindow {
		r.tiff.head = make([]byte, tiffWindow)
	}
	d := tiffDecoder{r: f, size: size, name: path, spare: r.tiff.head}
	defer func() {
		if p := recover(); p != nil {
			re, ok := p.(tiffReadError)
			if !ok {
				panic(p)
			}
			s, err = nil, fmt.Errorf("%s: %w", path, re.err)
		}
	}()
	l, err := d.layout()
	if err != nil {
		return nil, err
	}
	return &tiffFrames{name: path, info: ParsePilatusHeader(string(l.desc)), r: &r.tiff}, nil
}

func (s *tiffFrames) Name() string         { return s.name }
func (s *tiffFrames) Format() Format       { return FormatTIFF }
func (s *tiffFrames) Len() int             { return 1 }
func (s *tiffFrames) PixelMask() *Mask     { return nil }
func (s *tiffFrames) Close() error         { return nil }
func (s *tiffFrames) Info(i int) FrameInfo { return s.info }

func (s *tiffFrames) ReadFrame(i int, dst *Image) error {
	if i != 0 {
		return fmt.Errorf("%s: frame %d out of range [0, 1)", s.name, i)
	}
	return s.r.ReadFile(s.name, dst)
}

// FramePath names the output of frame i of an input with n frames: path
// itself when n is 1, else path with "_<i:05d>" inserted before its
// extension ("run.chi", 7, 10 → "run_00007.chi").
func FramePath(path string, i, n int) string {
	if n == 1 {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s_%05d%s", strings.TrimSuffix(path, ext), i, ext)
}

// Tolerances of [FrameInfo.Disagreements].
const (
	WavelengthTolerance = 1e-3 // relative
	DistanceTolerance   = 1e-2 // relative
	BeamCenterTolerance = 2.0  // pixels
)

// Disagreements compares the header values of a frame with the
// calibration and describes each that differs by more than the
// tolerances above: the wavelength, the sample–detector distance and the
// beam centre. The header's beam centre (x = column, y = row counted from
// the first stored row) is compared with the calibration's BeamCenter
// [fit2d Y from the bottom edge, fit2d X from the left edge] as x ↔
// BeamCenter[1] and y ↔ Imagesize[0] − BeamCenter[0]. Values the header
// lacks are not compared. The result is nil when all agree; a program
// warns with it (the calibration is what is used).
func (fi FrameInfo) Disagreements(cal *Calibration) []string {
	if cal == nil {
		return nil
	}
	var out []string
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-300) }
	if fi.Wavelength > 0 && rel(fi.Wavelength, cal.Wavelength) > WavelengthTolerance {
		out = append(out, fmt.Sprintf("wavelength %g Å in the file header, %g Å in the calibration", fi.Wavelength, cal.Wavelength))
	}
	g := &cal.Geometry
	if fi.DetectorDistance > 0 && rel(fi.DetectorDistance, g.DetectorDistanceMM) > DistanceTolerance {
		out = append(out, fmt.Sprintf("detector distance %g mm in the file header, %g mm in the calibration", fi.DetectorDistance, g.DetectorDistanceMM))
	}
	if fi.HasBeamCenter {
		x, y := g.BeamCenter[1], float64(g.Imagesize[0])-g.BeamCenter[0]
		if math.Abs(fi.BeamCenter[0]-x) > BeamCenterTolerance || math.Abs(fi.BeamCenter[1]-y) > BeamCenterTolerance {
			out = append(out, fmt.Sprintf("beam centre (x %g, y %g) pixels in the file header, (x %g, y %g) from the calibration's BeamCenter %v",
				fi.BeamCenter[0], fi.BeamCenter[1], x, y, g.BeamCenter))
		}
	}
	return out
}
