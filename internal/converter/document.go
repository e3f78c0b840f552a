package converter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/saxsdog/saxs"
)

// Default calibrations, the required keys with the defaults of the
// original schemas (schematools.schematodefault). The flat one differs
// only in BeamCenter and in the layout.
const (
	defaultNested = `{"Directory":["."],"Geometry":{"BeamCenter":[900.0,300.0],"DedectorDistanceMM":1000.0,"Imagesize":[1043,981],"PixelSizeMicroM":[172.0],"Tilt":{"TiltAngleDeg":0,"TiltRotDeg":0}},"Masks":[{"MaskFile":"AAA_integ.msk","Oversampling":3,"PixelPerRadialElement":1,"qStart":0,"qStop":0}],"Wavelength":1.54}`
	defaultFlat   = `{"Tilt":{"TiltAngleDeg":0,"TiltRotDeg":0},"BeamCenter":[800.0,400.0],"DedectorDistanceMM":1000.0,"Imagesize":[1043,981],"MaskFile":"AAA_integ.msk","Oversampling":3,"PixelSizeMicroM":[172.0],"PixelPerRadialElement":1,"Wavelength":1.54}`
)

// isGeometryKey tells the keys that the 2.0 schema keeps under Geometry
// and the 0.3.0 schema at the root.
func isGeometryKey(k string) bool {
	switch k {
	case "Tilt", "BeamCenter", "DedectorDistanceMM", "Imagesize", "PixelSizeMicroM":
		return true
	}
	return false
}

// isMaskKey tells the keys that the 2.0 schema keeps in Masks[i] and the
// 0.3.0 schema at the root.
func isMaskKey(k string) bool {
	switch k {
	case "MaskFile", "PixelPerRadialElement", "Oversampling", "RadialBins":
		return true
	}
	return false
}

// isFlatRootKey tells the other keys of the 0.3.0 schema, which are at the
// root in both generations.
func isFlatRootKey(k string) bool {
	switch k {
	case "Title", "Wavelength", "PolarizationCorrection":
		return true
	}
	return false
}

// Document is a calibration file held as an ordered JSON document, so that
// rewriting it keeps its key order, the literal text of its numbers (172.0
// stays 172.0) and any content the converter does not know about.
type Document struct {
	root *object
	gen  saxs.Generation
}

// ParseDocument validates data as a calibration of either schema
// generation (with saxs.ParseCalibration) and returns it as a Document.
// name is used in error messages.
func ParseDocument(data []byte, name string) (*Document, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	cal, err := saxs.ParseCalibration(data, name)
	if err != nil {
		return nil, err
	}
	v, err := decodeOrdered(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	root, ok := v.(*object)
	if !ok {
		return nil, fmt.Errorf("%s: a calibration must be a JSON object", name)
	}
	return &Document{root: root, gen: cal.Generation()}, nil
}

// DefaultDocument returns the schema defaults of a generation: for 2.0
//
//	{"Directory":["."],"Geometry":{"BeamCenter":[900.0,300.0],
//	 "DedectorDistanceMM":1000.0,"Imagesize":[1043,981],
//	 "PixelSizeMicroM":[172.0],"Tilt":{"TiltAngleDeg":0,"TiltRotDeg":0}},
//	 "Masks":[{"MaskFile":"AAA_integ.msk","Oversampling":3,
//	 "PixelPerRadialElement":1,"qStart":0,"qStop":0}],"Wavelength":1.54}
//
// and for 0.3.0 the same values in the flat layout, with BeamCenter
// [800.0, 400.0].
func DefaultDocument(g saxs.Generation) *Document {
	text := defaultNested
	if g == saxs.Flat {
		text = defaultFlat
	}
	v, err := decodeOrdered([]byte(text))
	if err != nil { // cannot happen: the text is a constant
		panic(err)
	}
	return &Document{root: v.(*object), gen: g}
}

// Generation returns the schema generation of the document.
func (d *Document) Generation() saxs.Generation { return d.gen }

// Clone returns a deep copy of d.
func (d *Document) Clone() *Document {
	return &Document{root: clone(d.root).(*object), gen: d.gen}
}

// Marshal returns the document as Python's json.dump(indent=4,
// separators=(',', ': ')) wrote calibrations, with a final newline.
func (d *Document) Marshal() ([]byte, error) {
	return encodeIndented(d.root)
}

// Calibration marshals the document and validates it with
// saxs.ParseCalibration, returning the text and the calibration. name is
// used in error messages.
func (d *Document) Calibration(name string) ([]byte, *saxs.Calibration, error) {
	b, err := d.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	cal, err := saxs.ParseCalibration(b, name)
	if err != nil {
		return nil, nil, err
	}
	if cal.Generation() != d.gen {
		return nil, nil, fmt.Errorf("%s: the result reads as a %s calibration, not %s", name, cal.Generation(), d.gen)
	}
	return b, cal, nil
}

// Convert returns the document in the layout of generation g, and notes on
// anything dropped on the way. d is not changed.
//
// 0.3.0 to 2.0 is the mapping of the original converter (jsontojson)
// without its bugs: Tilt, Imagesize, DedectorDistanceMM, BeamCenter and
// PixelSizeMicroM move under Geometry; MaskFile, PixelPerRadialElement,
// Oversampling (and RadialBins) into Masks[0], which gets qStart and qStop
// 0 when absent; Title, Wavelength and PolarizationCorrection stay at the
// root (the original moved Title into Geometry); values such as 0, "" and
// [] are kept (the original deleted them); Directory ["."] is added when
// absent.
//
// 2.0 to 0.3.0 is the reverse. It needs exactly one mask; keys the flat
// schema does not have (Directory, qStart, qStop, Name, Threads,
// GISAXSmode, OverwriteFiles, Live-Filelisting, ...) are dropped, with a note for each one that held more
// than its default.
func (d *Document) Convert(g saxs.Generation) (*Document, []string, error) {
	return d.convert(g, true)
}

func (d *Document) convert(g saxs.Generation, addDefaults bool) (*Document, []string, error) {
	switch {
	case d.gen == g:
		return d.Clone(), nil, nil
	case g == saxs.Nested:
		return &Document{root: flatToNested(d.root, addDefaults), gen: g}, nil, nil
	case g == saxs.Flat:
		root, notes, err := nestedToFlat(d.root)
		if err != nil {
			return nil, nil, err
		}
		return &Document{root: root, gen: g}, notes, nil
	}
	return nil, nil, fmt.Errorf("unknown calibration generation %v", g)
}

func flatToNested(flat *object, addDefaults bool) *object {
	out := &object{}
	var geo, mask *object
	for _, m := range flat.members {
		v := clone(m.val)
		switch {
		case isGeometryKey(m.key):
			if geo == nil {
				geo = &object{}
				out.set("Geometry", geo)
			}
			geo.set(m.key, v)
		case isMaskKey(m.key):
			if mask == nil {
				mask = &object{}
				out.set("Masks", []any{mask})
			}
			mask.set(m.key, v)
		default:
			out.set(m.key, v)
		}
	}
	if addDefaults {
		if mask != nil {
			for _, k := range []string{"qStart", "qStop"} {
				if _, ok := mask.get(k); !ok {
					mask.set(k, json.Number("0"))
				}
			}
		}
		if _, ok := out.get("Directory"); !ok {
			out.insertBefore("Masks", "Directory", []any{"."})
		}
	}
	return out
}

func nestedToFlat(nested *object) (*object, []string, error) {
	mv, _ := nested.get("Masks")
	masks, _ := mv.([]any)
	if len(masks) != 1 {
		return nil, nil, fmt.Errorf("the 0.3 (flat) schema holds exactly one mask; this calibration has %d masks", len(masks))
	}
	mask, ok := masks[0].(*object)
	if !ok {
		return nil, nil, errors.New("Masks[0] is not an object")
	}
	out := &object{}
	var notes []string
	drop := func(path string, v any, trivial bool) {
		if !trivial {
			notes = append(notes, fmt.Sprintf("dropped %s = %s (not in the 0.3 schema)", path, compact(v)))
		}
	}
	for _, m := range nested.members {
		switch m.key {
		case "Geometry":
			geo, ok := m.val.(*object)
			if !ok {
				return nil, nil, errors.New("the Geometry value is not an object")
			}
			for _, g := range geo.members {
				if isGeometryKey(g.key) {
					out.set(g.key, clone(g.val))
				} else {
					drop("Geometry."+g.key, g.val, false)
				}
			}
		case "Masks":
			for _, k := range mask.members {
				switch {
				case isMaskKey(k.key):
					out.set(k.key, clone(k.val))
				case k.key == "qStart" || k.key == "qStop":
					f, isNum := numberValue(k.val)
					drop("Masks[0]."+k.key, k.val, isNum && f == 0)
				default:
					drop("Masks[0]."+k.key, k.val, k.val == "")
				}
			}
		default:
			if isFlatRootKey(m.key) {
				out.set(m.key, clone(m.val))
				continue
			}
			trivial := false
			switch v := m.val.(type) {
			case []any: // Directory ["."]
				trivial = m.key == "Directory" && len(v) == 1 && v[0] == "."
			case bool: // GISAXSmode and Live-Filelisting false, OverwriteFiles true
				trivial = v == (m.key == "OverwriteFiles")
			case json.Number: // Threads 0
				f, _ := numberValue(v)
				trivial = f == 0
			}
			drop(m.key, m.val, trivial)
		}
	}
	return out, notes, nil
}

// compact returns v as one-line JSON, for messages.
func compact(v any) string {
	b, err := encodeIndented(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return string(bytes.TrimSpace(b))
	}
	return c.String()
}

// Merge copies the values of src into d: objects (Geometry, Tilt,
// PolarizationCorrection, ...) are merged key by key, other values
// replace d's. src is first converted to d's generation (without adding
// defaults); when src is a 0.3.0 file and d a 2.0 one, src's mask settings
// go into d's first mask, as the original converter did, and d's other
// masks are kept. It returns notes on what the conversion dropped.
func (d *Document) Merge(src *Document) ([]string, error) {
	s, notes, err := src.convert(d.gen, false)
	if err != nil {
		return nil, err
	}
	for _, m := range s.root.members {
		if m.key == "Masks" && src.gen == saxs.Flat && d.gen == saxs.Nested {
			dv, _ := d.root.get("Masks")
			dm, _ := dv.([]any)
			sm, _ := m.val.([]any)
			if len(dm) > 0 && len(sm) == 1 {
				d0, ok1 := dm[0].(*object)
				s0, ok2 := sm[0].(*object)
				if ok1 && ok2 {
					mergeObjects(d0, s0)
					continue
				}
			}
		}
		mergeValue(d.root, m.key, m.val)
	}
	return notes, nil
}

func mergeValue(dst *object, key string, v any) {
	if sv, ok := v.(*object); ok {
		if dv, ok := dst.getObject(key); ok {
			mergeObjects(dv, sv)
			return
		}
	}
	dst.set(key, clone(v))
}

func mergeObjects(dst, src *object) {
	for _, m := range src.members {
		mergeValue(dst, m.key, m.val)
	}
}

// ApplyFit2D stores the values found in fit2d's output: BeamCenter,
// DedectorDistanceMM and Tilt at the root of a 0.3.0 document or under
// Geometry in a 2.0 one, Wavelength at the root. Values not found are left
// as they are. A number that already holds the same value keeps its
// literal text.
func (d *Document) ApplyFit2D(v Fit2DValues) {
	geo := d.root
	if d.gen == saxs.Nested {
		geo = d.root.objectAt("Geometry")
	}
	if v.BeamCenter != nil {
		old, _ := geo.get("BeamCenter")
		oa, _ := old.([]any)
		bc := make([]any, 2)
		for i, f := range v.BeamCenter {
			bc[i] = json.Number(pyFloat(f))
			if len(oa) == 2 {
				if g, ok := numberValue(oa[i]); ok && g == f {
					bc[i] = oa[i]
				}
			}
		}
		geo.set("BeamCenter", bc)
	}
	if v.DetectorDistanceMM != nil {
		setNumber(geo, "DedectorDistanceMM", *v.DetectorDistanceMM)
	}
	if v.TiltRotDeg != nil {
		setNumber(geo.objectAt("Tilt"), "TiltRotDeg", *v.TiltRotDeg)
	}
	if v.TiltAngleDeg != nil {
		setNumber(geo.objectAt("Tilt"), "TiltAngleDeg", *v.TiltAngleDeg)
	}
	if v.Wavelength != nil {
		setNumber(d.root, "Wavelength", *v.Wavelength)
	}
}

// setNumber sets o[key] to f, keeping the old literal when it has the same
// value.
func setNumber(o *object, key string, f float64) {
	if old, ok := o.get(key); ok {
		if g, ok := numberValue(old); ok && g == f {
			return
		}
	}
	o.set(key, json.Number(pyFloat(f)))
}

// SetGeometry stores a whole geometry (Tilt, BeamCenter,
// DedectorDistanceMM, Imagesize, PixelSizeMicroM) at the root of a 0.3.0
// document or under Geometry in a 2.0 one, and the wavelength at the root.
// Numbers that already hold the same value keep their literal text.
func (d *Document) SetGeometry(g saxs.Geometry, wavelength float64) {
	bc := g.BeamCenter
	d.ApplyFit2D(Fit2DValues{BeamCenter: &bc, DetectorDistanceMM: &g.DetectorDistanceMM,
		TiltRotDeg: &g.Tilt.TiltRotDeg, TiltAngleDeg: &g.Tilt.TiltAngleDeg, Wavelength: &wavelength})
	geo := d.root
	if d.gen == saxs.Nested {
		geo = d.root.objectAt("Geometry")
	}
	geo.set("Imagesize", []any{json.Number(fmt.Sprint(g.Imagesize[0])), json.Number(fmt.Sprint(g.Imagesize[1]))})
	if len(g.PixelSizeMicroM) > 0 {
		old, _ := geo.get("PixelSizeMicroM")
		if oa, ok := old.([]any); !ok || len(oa) == 0 || !sameNumber(oa[0], g.PixelSizeMicroM[0]) {
			geo.set("PixelSizeMicroM", []any{json.Number(pyFloat(g.PixelSizeMicroM[0]))})
		}
	}
}

// sameNumber reports whether the JSON value v is the number f.
func sameNumber(v any, f float64) bool {
	g, ok := numberValue(v)
	return ok && g == f
}

// SetMaskFile sets the MaskFile of every mask (the root's in a 0.3.0
// document, each of Masks[] in a 2.0 one).
func (d *Document) SetMaskFile(path string) {
	if d.gen == saxs.Flat {
		d.root.set("MaskFile", path)
		return
	}
	v, _ := d.root.get("Masks")
	ms, _ := v.([]any)
	for _, m := range ms {
		if o, ok := m.(*object); ok {
			o.set("MaskFile", path)
		}
	}
}
