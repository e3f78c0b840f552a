package saxs

import (
	"errors"
	"fmt"
	"io"

	"github.com/saxsdog/saxs/internal/atomicfile"
	"github.com/saxsdog/saxs/internal/h5"
	"github.com/saxsdog/saxs/internal/pyjson"
)

// MaxNXcanSASCurves is the most curves one NXcanSAS file holds.
const MaxNXcanSASCurves = h5.MaxMembers - 8

// EncodeNXcanSAS returns an NXcanSAS file (HDF5, written in pure Go) with
// one SASentry "sasentry01" (title and run = title) holding one SASdata
// group per curve, "sasdata00001", "sasdata00002", … in the order given
// (for a multi-frame input: one per frame), each with the datasets Q
// (units 1/nm), I and Idev (units "arbitrary": counts per pixel, Idev
// being I's Poisson error, named by I's "uncertainties" attribute), and
// the attributes signal="I", I_axes="Q", Q_indices=0 and frame (the
// curve's index) and name (the curve's mask name). The calibration, when
// not nil, is stored as JSON in the SASnote "sasnote01" (dataset data,
// type application/json). The root's and the entry's "default" attributes
// point at the first curve, so NeXus viewers plot it. A Phi-mode curve
// (Unit UnitChiDeg) has the dataset Phi (units deg, the azimuth χ)
// instead of Q, with I_axes="Phi" and Phi_indices=0.
//
// The layout follows the NXcanSAS definition and SasView's loader
// conventions; strings are fixed-length UTF-8, which h5py reads as bytes.
func EncodeNXcanSAS(cal *Calibration, title string, curves []*Curve) ([]byte, error) {
	if len(curves) == 0 {
		return nil, errors.New("nxcansas: no curves")
	}
	if len(curves) > MaxNXcanSASCurves {
		return nil, fmt.Errorf("nxcansas: %d curves (at most %d per file)", len(curves), MaxNXcanSASCurves)
	}
	str := func(s string) *string { return &s }
	entry := &h5.Node{Name: "sasentry01", Attrs: []h5.Attr{
		{Name: "NX_class", Str: "NXentry"}, {Name: "canSAS_class", Str: "SASentry"},
		{Name: "version", Str: "1.1"}, {Name: "default", Str: "sasdata00001"},
	}, Children: []*h5.Node{
		{Name: "definition", String: str("NXcanSAS")},
		{Name: "title", String: str(title)},
		{Name: "run", String: str(title)},
	}}
	for k, c := range curves {
		if c == nil {
			return nil, fmt.Errorf("nxcansas: curve %d is nil", k)
		}
		n := len(c.Q)
		if len(c.I) != n || len(c.Sigma) != n {
			return nil, fmt.Errorf("nxcansas: curve %d (%q) has %d q values, %d intensities and %d errors", k, c.Name, n, len(c.I), len(c.Sigma))
		}
		axis, units := "Q", "1/nm"
		if c.Unit == UnitChiDeg { // a Phi-mode curve I(χ)
			axis, units = "Phi", "deg"
		}
		entry.Children = append(entry.Children, &h5.Node{
			Name: fmt.Sprintf("sasdata%05d", k+1),
			Attrs: []h5.Attr{
				{Name: "NX_class", Str: "NXdata"}, {Name: "canSAS_class", Str: "SASdata"},
				{Name: "signal", Str: "I"}, {Name: "I_axes", Str: axis}, {Name: axis + "_indices", Int: 0, IsInt: true},
				{Name: "frame", Int: int32(k), IsInt: true}, {Name: "name", Str: c.Name},
			},
			Children: []*h5.Node{
				{Name: axis, Float64s: c.Q, Attrs: []h5.Attr{{Name: "units", Str: units}}},
				{Name: "I", Float64s: c.I, Attrs: []h5.Attr{{Name: "units", Str: "arbitrary"}, {Name: "uncertainties", Str: "Idev"}}},
				{Name: "Idev", Float64s: c.Sigma, Attrs: []h5.Attr{{Name: "units", Str: "arbitrary"}}},
			},
		})
	}
	if cal != nil {
		js, err := pyjson.Marshal(cal.JSON())
		if err != nil {
			return nil, fmt.Errorf("nxcansas: calibration: %w", err)
		}
		entry.Children = append(entry.Children, &h5.Node{
			Name:  "sasnote01",
			Attrs: []h5.Attr{{Name: "NX_class", Str: "NXnote"}, {Name: "canSAS_class", Str: "SASnote"}},
			Children: []*h5.Node{
				{Name: "description", String: str("saxs calibration used for the integration")},
				{Name: "type", String: str("application/json")},
				{Name: "data", String: str(string(js))},
			},
		})
	}
	root := &h5.Node{Attrs: []h5.Attr{{Name: "default", Str: "sasentry01"}, {Name: "creator", Str: "saxs (github.com/saxsdog/saxs)"}},
		Children: []*h5.Node{entry}}
	data, err := h5.Write(root)
	if err != nil {
		return nil, fmt.Errorf("nxcansas: %w", err)
	}
	return data, nil
}

// WriteNXcanSASFile writes the NXcanSAS file of [EncodeNXcanSAS] to path,
// atomically: readers see the old file or the complete new one.
func WriteNXcanSASFile(path string, cal *Calibration, title string, curves []*Curve) error {
	data, err := EncodeNXcanSAS(cal, title, curves)
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(data); return err })
	if err != nil {
		return fmt.Errorf("nxcansas %s: %w", path, err)
	}
	return nil
}
