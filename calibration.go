package saxs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
)

// Generation tells which schema generation a calibration file follows.
type Generation int

const (
	// Flat is the 0.3.0 schema: Tilt, BeamCenter, DedectorDistanceMM,
	// Imagesize, MaskFile, Oversampling, ... at the root.
	Flat Generation = 1
	// Nested is the 2.0 schema: Geometry, Masks[], Directory, Wavelength.
	Nested Generation = 2
)

// String names the generation: "0.3.0 (flat)" or "2.0".
func (g Generation) String() string {
	switch g {
	case Flat:
		return "0.3.0 (flat)"
	case Nested:
		return "2.0"
	}
	return "Generation(" + strconv.Itoa(int(g)) + ")"
}

// MaxOversampling is the largest accepted Oversampling factor. Sub-pixel
// counts per pixel are stored in a byte, so ov² must not exceed 255.
const MaxOversampling = 15

// MaxBins is the largest number of radial bins of one curve.
const MaxBins = 65000

// The ranges a calibration's numbers must lie in. They are far wider than
// any real setup and keep every step of the geometry finite and exactly
// representable: a value outside is taken for a typo, not a setup.
const (
	// MinWavelength and MaxWavelength bound Wavelength, in Å.
	MinWavelength, MaxWavelength = 1e-4, 1e4
	// MinDistanceMM and MaxDistanceMM bound DetectorDistanceMM, in mm.
	MinDistanceMM, MaxDistanceMM = 1e-3, 1e9
	// MinPixelMicroM and MaxPixelMicroM bound PixelSizeMicroM[0], in µm.
	MinPixelMicroM, MaxPixelMicroM = 1e-3, 1e6
	// MaxBeamCenter bounds |BeamCenter[i]|, in pixels.
	MaxBeamCenter = 1e7
	// MaxImagePixels bounds Imagesize[0]·Imagesize[1].
	MaxImagePixels = maxPixels
	// minBinWidthRatio bounds the RadialBins width from below, relative to
	// QLimit.
	minBinWidthRatio = 1e-9
)

// QLimit returns the largest q in nm⁻¹ that any detector can reach at
// wavelength λ (Å): the back-scattering limit 4π/λ, at 2θ = 180°.
func QLimit(lambda float64) float64 { return (4 * math.Pi / lambda) / AngstromStar }

// Calibration is an integration setup: the detector geometry, the
// wavelength and one mask configuration per curve. Its fields are those of
// the 2.0 schema; a 0.3.0 (flat) file is loaded into the same structure with
// a single element in Masks.
type Calibration struct {
	// Title is free text.
	Title string `json:"Title,omitempty" jsonschema:"title=Title,description=Free text describing the calibration"`
	// Geometry is the detector geometry.
	Geometry Geometry `json:"Geometry"`
	// Wavelength is the X-ray wavelength in Ångström.
	Wavelength float64 `json:"Wavelength" jsonschema:"exclusiveMinimum=0,description=X-ray wavelength in Angstrom,default=1.54"`
	// Masks holds one mask configuration per output curve.
	Masks []MaskConfig `json:"Masks" jsonschema:"minItems=1,description=One integration curve per mask"`
	// Directory is the data folder, as path components relative to the
	// server's base folder (used by the saxsdog server).
	Directory []string `json:"Directory,omitempty" jsonschema:"description=Data folder as path components relative to the server folder"`
	// PolarizationCorrection turns the polarization correction on when set.
	PolarizationCorrection *Polarization `json:"PolarizationCorrection,omitempty"`
	// Reduction holds the reduction options (issue 11: solid angle, ...);
	// nil or its zero value gives the original's reduction.
	Reduction *Reduction `json:"Reduction,omitempty" jsonschema:"description=Reduction options beyond the original's (pyFAI-style); absent: the original's reduction"`
	// Threads is the server's worker count (0: the server's default).
	Threads int `json:"Threads,omitempty" jsonschema:"minimum=0,description=Server worker count"`
	// Slices are the GISAXS slices (see SliceConfig): one more curve and
	// .chi file each.
	Slices []SliceConfig `json:"Slices,omitempty" jsonschema:"description=GISAXS slices: pixel-band averages on q_y / q_z grids"`
	// GISAXSmode computes the first radial curve (for the integral
	// parameters and the server's history) but does not write it.
	GISAXSmode bool `json:"GISAXSmode,omitempty" jsonschema:"description=Compute the first radial curve but do not write it"`
	// OverwriteFiles is the Python 3 fork's root key: false skips a frame
	// whose outputs all exist (as saxsdog --resume does: complete and not
	// older than the frame) instead of converting it again. nil (absent)
	// means true, the original's behaviour; see [Calibration.Overwrite].
	OverwriteFiles *bool `json:"OverwriteFiles,omitempty" jsonschema:"default=true,description=false: skip a frame whose outputs all exist instead of writing them again"`
	// LiveFilelisting is the Python 3 fork's root key "Live-Filelisting":
	// true appends a line "path, I0, I1, I2" per .chi file written to
	// results/filelist_<folder>.txt beside the data folder. nil (absent)
	// means false, unlike the fork (true): the original 2.0 never wrote
	// such a file, so a 2.0 calibration writes nothing new unless asked;
	// see [Calibration.LiveFileList].
	LiveFilelisting *bool `json:"Live-Filelisting,omitempty" jsonschema:"default=false,description=true: append a line (path\\, I0\\, I1\\, I2) per .chi file written to results/filelist_<folder>.txt"`

	gen    Generation
	file   string       // the file it was loaded from ("" when parsed from bytes)
	src    string       // the name ParseCalibration was given, for errors
	dir    string       // folder that relative mask paths resolve against
	raw    any          // the JSON as loaded, for the .chi header; never modified
	parsed *Calibration // the exported values as parsed from raw; never modified
}

// geometryPointer returns the JSON pointer of the geometry: "/Geometry",
// or "" (the root) in a 0.3.0 calibration.
func (c *Calibration) geometryPointer() string {
	if c.gen == Flat {
		return ""
	}
	return "/Geometry"
}

// maskPointer returns the JSON pointer of mask i: "/Masks/<i>", or "" (the
// root) in a 0.3.0 calibration.
func (c *Calibration) maskPointer(i int) string {
	if c.gen == Flat {
		return ""
	}
	return fmt.Sprintf("/Masks/%d", i)
}

// name returns the calibration's file name for errors, or "calibration".
func (c *Calibration) name() string {
	switch {
	case c.file != "":
		return c.file
	case c.src != "":
		return c.src
	}
	return "calibration"
}

// clone returns a deep copy of c: no slice, pointer or map of the copy is
// shared with c, except the read-only raw and parsed.
func (c *Calibration) clone() *Calibration {
	d := *c
	d.Geometry.PixelSizeMicroM = slices.Clone(c.Geometry.PixelSizeMicroM)
	d.Directory = slices.Clone(c.Directory)
	d.Masks = slices.Clone(c.Masks)
	d.Slices = slices.Clone(c.Slices)
	for i := range d.Masks {
		if rb := d.Masks[i].RadialBins; rb != nil {
			v := *rb
			d.Masks[i].RadialBins = &v
		}
	}
	if pc := c.PolarizationCorrection; pc != nil {
		v := *pc
		d.PolarizationCorrection = &v
	}
	d.Reduction = c.Reduction.clone()
	d.OverwriteFiles = cloneBool(c.OverwriteFiles)
	d.LiveFilelisting = cloneBool(c.LiveFilelisting)
	return &d
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

// Overwrite reports whether frames whose outputs exist are converted
// again: OverwriteFiles, true when absent.
func (c *Calibration) Overwrite() bool { return c.OverwriteFiles == nil || *c.OverwriteFiles }

// LiveFileList reports whether the live file list is written:
// Live-Filelisting, false when absent (see LiveFilelisting).
func (c *Calibration) LiveFileList() bool { return c.LiveFilelisting != nil && *c.LiveFilelisting }

// values returns a deep copy of the exported fields of c.
func (c *Calibration) values() *Calibration {
	d := c.clone()
	d.gen, d.file, d.src, d.dir, d.raw, d.parsed = 0, "", "", "", nil, nil
	return d
}

// unchanged reports whether c still holds the values it was parsed with.
func (c *Calibration) unchanged() bool {
	return c.raw != nil && c.parsed != nil && reflect.DeepEqual(c.values(), c.parsed)
}

// Geometry is the detector geometry, in the conventions of fit2d and the
// original saxsdog.
type Geometry struct {
	// Tilt of the detector plane.
	Tilt Tilt `json:"Tilt"`
	// BeamCenter is [fit2d Y counted from the bottom edge, fit2d X counted
	// from the left edge], in pixels.
	BeamCenter [2]float64 `json:"BeamCenter" jsonschema:"description=Beam center [y from the bottom edge\\, x from the left edge] in pixels"`
	// DetectorDistanceMM is the sample-to-detector distance in mm. Its
	// JSON key keeps the original's spelling, "DedectorDistanceMM".
	DetectorDistanceMM float64 `json:"DedectorDistanceMM" jsonschema:"exclusiveMinimum=0,description=Sample to detector distance in mm"`
	// Imagesize is [rows, columns] of the detector image.
	Imagesize [2]int `json:"Imagesize" jsonschema:"description=Image size [rows\\, columns] in pixels"`
	// PixelSizeMicroM is the pixel size in µm; only the first element is
	// used (square pixels).
	PixelSizeMicroM []float64 `json:"PixelSizeMicroM" jsonschema:"minItems=1,maxItems=2,description=Pixel size in micrometres; the first element is used"`
}

// Tilt is the detector tilt in fit2d's convention.
type Tilt struct {
	// TiltRotDeg is fit2d's tilt plane rotation angle in degrees.
	TiltRotDeg float64 `json:"TiltRotDeg" jsonschema:"description=Tilt plane rotation angle in degrees (fit2d)"`
	// TiltAngleDeg is fit2d's tilt angle in degrees.
	TiltAngleDeg float64 `json:"TiltAngleDeg" jsonschema:"description=Tilt angle in degrees (fit2d)"`
}

// MaskConfig describes one curve: its mask, oversampling and bins.
type MaskConfig struct {
	// MaskFile is a fit2d .msk or an image mask (TIFF, PNG; nonzero =
	// masked). A relative path resolves against the calibration's folder.
	MaskFile string `json:"MaskFile" jsonschema:"minLength=1,description=Mask file: fit2d .msk or image (nonzero = masked)"`
	// Oversampling splits each pixel into Oversampling² sub-pixels.
	Oversampling int `json:"Oversampling" jsonschema:"minimum=1,maximum=15,default=3,description=Sub-pixels per pixel and axis"`
	// PixelPerRadialElement is the radial bin width in pixels, at the
	// farthest point of the image (ignored when RadialBins is set).
	PixelPerRadialElement float64 `json:"PixelPerRadialElement" jsonschema:"exclusiveMinimum=0,default=1,description=Radial bin width in pixels"`
	// Name labels the curve.
	Name string `json:"Name,omitempty"`
	// QStart and QStop bound the integral parameters, in nm⁻¹.
	QStart float64 `json:"qStart" jsonschema:"minimum=0,description=Start of the integral parameter range in nm^-1"`
	// QStop is the end of the integral parameter range, in nm⁻¹.
	QStop float64 `json:"qStop" jsonschema:"minimum=0,description=End of the integral parameter range in nm^-1"`
	// RadialBins, when set, replaces the original bin rule by Count bins
	// uniform in q from Start to Stop (an extension of this package).
	RadialBins *RadialBins `json:"RadialBins,omitempty"`
	// PhiMode (the Python 3 fork's key "Phi-mode") makes the curve the
	// azimuthal profile I(χ) of the band qStart ≤ q < qStop (in the
	// radial unit, see Reduction.Unit) instead of I(q): the sub-pixels of
	// the band are binned by their azimuth χ around the beam axis (pyFAI's
	// chi, see Reduction.ChiRange), PhiBins bins uniform over the full
	// circle (−180° to 180°) or over Reduction.ChiRange; the curve's first
	// column is χ in degrees (Unit UnitChiDeg) and its integral parameters
	// are NaN. This is pyFAI's integrate_radial.
	PhiMode bool `json:"Phi-mode,omitempty" jsonschema:"default=false,description=Azimuthal profile I(chi) of the band qStart to qStop instead of I(q) (pyFAI integrate_radial; saxsdog --azimuthal NCHI --q-band LO:HI)"`
	// PhiBins is the number of χ bins in Phi-mode; 0 takes the fork's
	// rule: ceil(2·r/PixelPerRadialElement) bins with r the largest
	// distance in mm of a pixel from the beam centre.
	PhiBins int `json:"PhiBins,omitempty" jsonschema:"minimum=0,maximum=65000,description=Number of azimuthal bins in Phi-mode (0: from PixelPerRadialElement as the Python 3 fork)"`
}

// RadialBins are Count bins uniform in q between Start and Stop (nm⁻¹); bin
// k is centred at Start + (k+0.5)(Stop-Start)/Count.
type RadialBins struct {
	Start float64 `json:"Start" jsonschema:"minimum=0,description=Lower edge of the first bin in nm^-1"`
	Stop  float64 `json:"Stop" jsonschema:"exclusiveMinimum=0,description=Upper edge of the last bin in nm^-1"`
	Count int     `json:"Count" jsonschema:"minimum=1,maximum=65000,description=Number of bins"`
}

// Polarization is the polarization correction: Fraction of the beam is
// polarized along Angle (degrees, 0 = horizontal), the rest perpendicular
// to it. It equals pyFAI's polarization_factor = 2·Fraction-1 with
// axis_offset = Angle.
type Polarization struct {
	Fraction float64 `json:"Fraction" jsonschema:"minimum=0,maximum=1,default=0.95,description=Fraction of the beam polarized along Angle"`
	Angle    float64 `json:"Angle" jsonschema:"default=0,description=Polarization direction in degrees"`
}

// flatCalibration is the 0.3.0 file layout.
type flatCalibration struct {
	Title                  string        `json:"Title,omitempty"`
	Tilt                   Tilt          `json:"Tilt"`
	BeamCenter             [2]float64    `json:"BeamCenter"`
	DetectorDistanceMM     float64       `json:"DedectorDistanceMM" jsonschema:"exclusiveMinimum=0"`
	Imagesize              [2]int        `json:"Imagesize"`
	MaskFile               string        `json:"MaskFile" jsonschema:"minLength=1"`
	Oversampling           int           `json:"Oversampling" jsonschema:"minimum=1,maximum=15"`
	PixelSizeMicroM        []float64     `json:"PixelSizeMicroM" jsonschema:"minItems=1,maxItems=2"`
	PixelPerRadialElement  float64       `json:"PixelPerRadialElement" jsonschema:"exclusiveMinimum=0"`
	Wavelength             float64       `json:"Wavelength" jsonschema:"exclusiveMinimum=0"`
	PolarizationCorrection *Polarization `json:"PolarizationCorrection,omitempty"`
	RadialBins             *RadialBins   `json:"RadialBins,omitempty"`
	Reduction              *Reduction    `json:"Reduction,omitempty" jsonschema:"description=Reduction options beyond the original's (pyFAI-style); absent: the original's reduction"`
}

// Generation returns the schema generation the calibration was loaded from
// (Nested for one built in code).
func (c *Calibration) Generation() Generation {
	if c.gen == 0 {
		return Nested
	}
	return c.gen
}

// File returns the path the calibration was loaded from, or "".
func (c *Calibration) File() string { return c.file }

// MaskPath returns the path of mask i: MaskFile itself when absolute,
// otherwise resolved against the calibration file's folder.
func (c *Calibration) MaskPath(i int) string {
	p := c.Masks[i].MaskFile
	if filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// SetDir sets the folder that relative MaskFile paths resolve against.
func (c *Calibration) SetDir(dir string) { c.dir = dir }

// JSON returns the calibration as decoded JSON (maps, slices,
// json.Number, strings, bools), for recording it in .chi headers: the
// file's content as it was loaded, numbers in the form they were written,
// as long as no field has been changed since; otherwise, and for a
// calibration built in code, the encoding of the current field values (in
// the 0.3.0 layout for a 0.3.0 calibration with one mask, unless that mask
// has Phi-mode or a qStart or qStop, which only the 2.0 layout holds). The
// result is the caller's to modify.
func (c *Calibration) JSON() any {
	if c.unchanged() {
		return cloneJSON(c.raw)
	}
	var v any = c
	if c.gen == Flat && len(c.Masks) == 1 && !c.Masks[0].PhiMode && c.Masks[0].QStart == 0 && c.Masks[0].QStop == 0 {
		// (the 0.3.0 layout has no Phi-mode and no qStart, qStop: a 0.3.0
		// calibration given them, by saxsdog --azimuthal or --q-band, is
		// written in the 2.0 layout)
		v = c.flat()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	v, err = decodeJSON(b)
	if err != nil {
		return nil
	}
	return v
}

// flat returns c in the 0.3.0 layout; c must have one mask.
func (c *Calibration) flat() *flatCalibration {
	g, m := &c.Geometry, &c.Masks[0]
	return &flatCalibration{Title: c.Title, Tilt: g.Tilt, BeamCenter: g.BeamCenter,
		DetectorDistanceMM: g.DetectorDistanceMM, Imagesize: g.Imagesize, MaskFile: m.MaskFile,
		Oversampling: m.Oversampling, PixelSizeMicroM: g.PixelSizeMicroM,
		PixelPerRadialElement: m.PixelPerRadialElement, Wavelength: c.Wavelength,
		PolarizationCorrection: c.PolarizationCorrection, RadialBins: m.RadialBins, Reduction: c.Reduction}
}

// cloneJSON returns a deep copy of a decoded JSON tree.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = cloneJSON(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneJSON(x)
		}
		return out
	}
	return v
}

// CalibrationError reports an invalid calibration. Path is the JSON
// pointer of the offending value ("/Geometry/Tilt"), "/" for the root.
// Several problems come as errors.Join of several CalibrationErrors.
type CalibrationError struct {
	File string // file name, or "calibration" when parsed from bytes
	Path string // JSON pointer of the offending value
	Msg  string // what is wrong; may be empty when Err says it
	Err  error  // the cause (a JSON decoding error), or nil
}

// Error formats the error as "file: /json/path: message", the message
// being Msg, Err, or both joined by ": ".
func (e *CalibrationError) Error() string {
	msg := e.Msg
	switch {
	case e.Err != nil && msg == "":
		msg = e.Err.Error()
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Path, msg)
}

// Unwrap returns the cause, Err.
func (e *CalibrationError) Unwrap() error { return e.Err }

// LoadCalibration reads, validates and returns the calibration in the file
// at path, in either schema generation. Relative MaskFile paths resolve
// against the file's folder. The path must name a regular file (else the
// error matches [ErrNotRegular]) of at most [MaxCalibrationBytes].
func LoadCalibration(path string) (*Calibration, error) {
	data, err := readRegular(path, MaxCalibrationBytes, "calibration")
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	c, err := ParseCalibration(data, path)
	if err != nil {
		return nil, err
	}
	c.file = path
	c.dir = filepath.Dir(path)
	return c, nil
}

// ParseCalibration validates and decodes a calibration in either schema
// generation; name is used in error messages. The generation is told by
// the presence of the "Geometry" key. Relative mask paths resolve against
// the current folder unless SetDir is called.
func ParseCalibration(data []byte, name string) (*Calibration, error) {
	if name == "" {
		name = "calibration"
	}
	raw, err := decodeJSON(data)
	if err != nil {
		return nil, &CalibrationError{File: name, Path: "/", Msg: jsonSyntaxMessage(data, err), Err: err}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, &CalibrationError{File: name, Path: "/", Msg: "a calibration must be a JSON object"}
	}
	gen := Flat
	if _, nested := obj["Geometry"]; nested {
		gen = Nested
	} else if _, m := obj["Masks"]; m {
		gen = Nested
	}
	sch, err := compiledSchema(gen)
	if err != nil {
		return nil, fmt.Errorf("%s: calibration schema: %w", name, err)
	}
	// The original schema's default of Slices[].CutPosition is the string
	// "0": a string holding an integer is read as that integer.
	checked := raw
	if gen == Nested {
		checked, _ = legacySliceNumbers(raw)
	}
	if err := sch.Validate(checked); err != nil {
		return nil, validationErrors(name, gen, err)
	}
	// Numbers such as 1043.0 are integers for the schema (and were allowed
	// by 0.3.0); rewrite them so that encoding/json decodes them into ints.
	norm, err := json.Marshal(integralNumbers(checked))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &Calibration{gen: gen, raw: raw, src: name}
	if gen == Flat {
		var f flatCalibration
		if err := json.Unmarshal(norm, &f); err != nil {
			return nil, &CalibrationError{File: name, Path: "/", Err: err}
		}
		c.Title = f.Title
		c.Geometry = Geometry{Tilt: f.Tilt, BeamCenter: f.BeamCenter, DetectorDistanceMM: f.DetectorDistanceMM,
			Imagesize: f.Imagesize, PixelSizeMicroM: f.PixelSizeMicroM}
		c.Wavelength = f.Wavelength
		c.PolarizationCorrection = f.PolarizationCorrection
		c.Reduction = f.Reduction
		c.Masks = []MaskConfig{{MaskFile: f.MaskFile, Oversampling: f.Oversampling,
			PixelPerRadialElement: f.PixelPerRadialElement, RadialBins: f.RadialBins}}
	} else if err := json.Unmarshal(norm, c); err != nil {
		return nil, &CalibrationError{File: name, Path: "/", Err: err}
	}
	if err := c.validate(name); err != nil {
		return nil, err
	}
	c.parsed = c.values()
	return c, nil
}

// Validate checks the values of a calibration built or changed in code:
// the same checks as ParseCalibration applies after the schema.
//
// Besides being finite and of the right sign, the numbers must lie in the
// ranges of [MinWavelength] and the constants after it; RadialBins must
// end below [QLimit] of the wavelength and its bins be at least 1e-9 of
// it wide. New checks in addition what needs the whole geometry: that the
// bins hold at most [MaxBins] and that the detector reaches RadialBins.
func (c *Calibration) Validate() error {
	return c.validate(c.name())
}

func (c *Calibration) validate(name string) error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &CalibrationError{File: name, Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	geo := c.geometryPointer()
	g := &c.Geometry
	finite := func(path string, v float64) bool {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			bad(path, "must be a finite number")
			return false
		}
		return true
	}
	// positive checks that v is finite, positive and in [lo, hi].
	positive := func(path, what, unit string, v, lo, hi float64) bool {
		switch {
		case !finite(path, v):
		case v <= 0:
			bad(path, "%s must be positive, got %g", what, v)
		case v < lo || v > hi:
			bad(path, "%s must be between %g and %g %s, got %g", what, lo, hi, unit, v)
		default:
			return true
		}
		return false
	}
	positive(geo+"/DedectorDistanceMM", "distance", "mm", g.DetectorDistanceMM, MinDistanceMM, MaxDistanceMM)
	wavelengthOK := positive("/Wavelength", "wavelength", "Å", c.Wavelength, MinWavelength, MaxWavelength)
	for i, v := range g.BeamCenter {
		p := fmt.Sprintf("%s/BeamCenter/%d", geo, i)
		if finite(p, v) && math.Abs(v) > MaxBeamCenter {
			bad(p, "beam centre must be within %g pixels of the image corner, got %g", float64(MaxBeamCenter), v)
		}
	}
	finite(geo+"/Tilt/TiltAngleDeg", g.Tilt.TiltAngleDeg)
	finite(geo+"/Tilt/TiltRotDeg", g.Tilt.TiltRotDeg)
	if math.Abs(g.Tilt.TiltAngleDeg) >= 45 {
		bad(geo+"/Tilt/TiltAngleDeg", "tilt angle %g° is not a small tilt (|tilt| must be below 45°)", g.Tilt.TiltAngleDeg)
	}
	sizeOK := true
	for i, v := range g.Imagesize {
		if v < 1 || v > 1<<16 {
			bad(fmt.Sprintf("%s/Imagesize/%d", geo, i), "image size must be between 1 and 65536 pixels, got %d", v)
			sizeOK = false
		}
	}
	if sizeOK && g.Imagesize[0]*g.Imagesize[1] > MaxImagePixels {
		bad(geo+"/Imagesize", "image of %d × %d pixels is larger than the %d pixels supported", g.Imagesize[0], g.Imagesize[1], MaxImagePixels)
	}
	if len(g.PixelSizeMicroM) == 0 {
		bad(geo+"/PixelSizeMicroM", "missing pixel size")
	} else {
		positive(geo+"/PixelSizeMicroM/0", "pixel size", "µm", g.PixelSizeMicroM[0], MinPixelMicroM, MaxPixelMicroM)
	}
	if len(c.Masks) == 0 {
		bad("/Masks", "at least one mask is needed")
	}
	// RadialBins are in the radial unit; the q limits apply to q in nm⁻¹.
	qUnit := c.Reduction.unit() == UnitQnm
	c.Reduction.validate(bad, finite)
	for i := range c.Masks {
		m := &c.Masks[i]
		p := c.maskPointer(i)
		if m.MaskFile == "" {
			bad(p+"/MaskFile", "missing mask file")
		}
		if m.Oversampling < 1 || m.Oversampling > MaxOversampling {
			bad(p+"/Oversampling", "oversampling must be between 1 and %d, got %d", MaxOversampling, m.Oversampling)
		}
		if m.RadialBins == nil {
			if finite(p+"/PixelPerRadialElement", m.PixelPerRadialElement) && m.PixelPerRadialElement <= 0 {
				bad(p+"/PixelPerRadialElement", "radial element must be positive, got %g", m.PixelPerRadialElement)
			}
		} else {
			rb := m.RadialBins
			rangeOK := false
			if finite(p+"/RadialBins/Start", rb.Start) && finite(p+"/RadialBins/Stop", rb.Stop) && !(rb.Stop > rb.Start && rb.Start >= 0) {
				bad(p+"/RadialBins", "need 0 <= Start < Stop, got Start %g, Stop %g", rb.Start, rb.Stop)
			} else if lim := QLimit(c.Wavelength); wavelengthOK && qUnit && rb.Stop > lim {
				bad(p+"/RadialBins/Stop", "Stop %g nm⁻¹ is beyond the largest q any detector reaches at %g Å (4π/λ = %.6g nm⁻¹)", rb.Stop, c.Wavelength, lim)
			} else {
				rangeOK = true
			}
			if rb.Count < 1 || rb.Count > MaxBins {
				bad(p+"/RadialBins/Count", "bin count must be between 1 and %d, got %d", MaxBins, rb.Count)
			} else if w, lim := (rb.Stop-rb.Start)/float64(rb.Count), QLimit(c.Wavelength); rangeOK && wavelengthOK && qUnit && !(w >= minBinWidthRatio*lim) {
				bad(p+"/RadialBins", "bins of %g nm⁻¹ (%d from %g to %g) are narrower than %.3g nm⁻¹, the resolution at %g Å", w, rb.Count, rb.Start, rb.Stop, minBinWidthRatio*lim, c.Wavelength)
			}
		}
		if finite(p+"/qStart", m.QStart) && finite(p+"/qStop", m.QStop) && (m.QStart < 0 || m.QStop < 0) {
			bad(p, "qStart and qStop must not be negative")
		} else if m.PhiMode && !(m.QStop > m.QStart) {
			bad(p+"/qStop", "Phi-mode needs a band qStart < qStop, got qStart %g, qStop %g", m.QStart, m.QStop)
		}
		switch {
		case m.PhiBins < 0 || m.PhiBins > MaxBins:
			bad(p+"/PhiBins", "azimuthal bin count must be between 0 (from PixelPerRadialElement) and %d, got %d", MaxBins, m.PhiBins)
		case m.PhiBins > 0 && !m.PhiMode:
			bad(p+"/PhiBins", "PhiBins needs \"Phi-mode\": true")
		}
		if m.PhiMode && m.RadialBins != nil {
			bad(p+"/RadialBins", "RadialBins and Phi-mode exclude each other (Phi-mode bins in χ over the band qStart to qStop)")
		}
	}
	c.validateSlices(bad, finite)
	if pc := c.PolarizationCorrection; pc != nil {
		if finite("/PolarizationCorrection/Fraction", pc.Fraction) && (pc.Fraction < 0 || pc.Fraction > 1) {
			bad("/PolarizationCorrection/Fraction", "fraction must be between 0 and 1, got %g", pc.Fraction)
		}
		finite("/PolarizationCorrection/Angle", pc.Angle)
	}
	return errors.Join(errs...)
}

// decodeJSON decodes JSON keeping numbers as json.Number.
func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value at offset %d", d.InputOffset())
	}
	return v, nil
}

// jsonSyntaxMessage says where a JSON syntax error is, by line and column;
// the error itself follows as the CalibrationError's Err.
func jsonSyntaxMessage(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:se.Offset], []byte("\n"))
		col := int(se.Offset) - bytes.LastIndexByte(data[:se.Offset], '\n') - 1
		return fmt.Sprintf("invalid JSON at line %d, column %d", line, col)
	}
	return "invalid JSON"
}

// integralNumbers returns a copy of a decoded JSON tree in which numbers
// with an integral value (1043.0) are written as integers (1043).
func integralNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = integralNumbers(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = integralNumbers(x)
		}
		return out
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return v
		}
		f, err := v.Float64()
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return json.Number(strconv.FormatInt(int64(f), 10))
		}
		return v
	}
	return v
}
