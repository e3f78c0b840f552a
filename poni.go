package saxs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Poni is a pyFAI .poni calibration: the point of normal incidence (PONI)
// geometry in metres and radians.
type Poni struct {
	// Version is the file's poni_version (1 or 2).
	Version int
	// Detector is the pyFAI detector name ("Detector" for a generic one).
	Detector string
	// Pixel1, Pixel2 are the pixel sizes in metres along the rows (y) and
	// the columns (x); 0 when the file does not say (a named detector).
	Pixel1, Pixel2 float64
	// MaxShape is [rows, columns] when the file says, else zeros.
	MaxShape [2]int
	// Dist is the distance from the sample to the PONI in metres.
	Dist float64
	// Poni1, Poni2 are the PONI's coordinates on the detector in metres,
	// along the rows and the columns, from the corner of the first pixel.
	Poni1, Poni2 float64
	// Rot1, Rot2, Rot3 are pyFAI's detector rotations in radians.
	Rot1, Rot2, Rot3 float64
	// Wavelength is in metres, 0 when absent.
	Wavelength float64
}

// ParsePoni reads a .poni file (versions 1 and 2: "Key: value" lines,
// keys case-insensitive, # comments). name is used in errors.
func ParsePoni(data []byte, name string) (*Poni, error) {
	p := &Poni{Version: 1, Detector: "Detector"}
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			return nil, &FormatError{File: name, Line: line, Msg: "want Key: value"}
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		num := func(dst *float64) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return &FormatError{File: name, Line: line, Msg: k + " must be a number", Err: err}
			}
			*dst = f
			return nil
		}
		var err error
		switch k {
		case "poni_version":
			p.Version, err = strconv.Atoi(v)
			if err != nil || p.Version < 1 || p.Version > 2 {
				return nil, &UnsupportedError{Feature: fmt.Sprintf("poni_version %s in %s", v, name)}
			}
		case "detector":
			p.Detector = v
		case "detector_config":
			var cfg struct {
				Pixel1   float64 `json:"pixel1"`
				Pixel2   float64 `json:"pixel2"`
				MaxShape []int   `json:"max_shape"`
			}
			if err := json.Unmarshal([]byte(v), &cfg); err != nil {
				return nil, &FormatError{File: name, Line: line, Msg: "Detector_config must be JSON", Err: err}
			}
			p.Pixel1, p.Pixel2 = cfg.Pixel1, cfg.Pixel2
			if len(cfg.MaxShape) == 2 {
				p.MaxShape = [2]int{cfg.MaxShape[0], cfg.MaxShape[1]}
			}
		case "pixelsize1":
			err = num(&p.Pixel1)
		case "pixelsize2":
			err = num(&p.Pixel2)
		case "distance", "dist":
			err = num(&p.Dist)
		case "poni1":
			err = num(&p.Poni1)
		case "poni2":
			err = num(&p.Poni2)
		case "rot1":
			err = num(&p.Rot1)
		case "rot2":
			err = num(&p.Rot2)
		case "rot3":
			err = num(&p.Rot3)
		case "wavelength":
			err = num(&p.Wavelength)
		}
		if err != nil {
			return nil, err
		}
		have[k] = true
	}
	if err := sc.Err(); err != nil {
		return nil, &FormatError{File: name, Msg: "reading", Err: err}
	}
	if !have["distance"] && !have["dist"] {
		return nil, &FormatError{File: name, Msg: "no Distance"}
	}
	if !(p.Dist > 0) {
		return nil, &FormatError{File: name, Msg: fmt.Sprintf("Distance must be positive, got %g", p.Dist)}
	}
	return p, nil
}

// ReadPoniFile reads a .poni file.
func ReadPoniFile(path string) (*Poni, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePoni(data, path)
}

// Fit2D is a geometry in fit2d's terms, as pyFAI's getFit2D returns it.
type Fit2D struct {
	DirectDistMM     float64 // sample to beam centre along the beam, mm
	CenterX, CenterY float64 // beam centre in pixels (pyFAI's convention: CenterY counted from the first row)
	TiltDeg          float64 // tilt angle, degrees (≥ 0)
	TiltPlanRotDeg   float64 // tilt plane rotation, degrees
	PixelXMicroM     float64 // pixel size along the columns, µm
	PixelYMicroM     float64 // pixel size along the rows, µm
}

// Fit2D converts the PONI geometry to fit2d's, as pyFAI's getFit2D does.
// The pixel sizes must be known (set Pixel1 and Pixel2 first when the
// file names a detector).
func (p *Poni) Fit2D() (Fit2D, error) {
	if !(p.Pixel1 > 0 && p.Pixel2 > 0) {
		return Fit2D{}, fmt.Errorf("saxs: poni: pixel sizes unknown (detector %q): give them with a calibration", p.Detector)
	}
	cosTilt := math.Cos(p.Rot1) * math.Cos(p.Rot2)
	sinTilt := math.Sqrt(1 - cosTilt*cosTilt)
	tanTilt := sinTilt / cosTilt
	cosTpr, sinTpr := 1.0, 0.0
	if sinTilt != 0 {
		cosTpr = max(-1, min(1, -math.Cos(p.Rot2)*math.Sin(p.Rot1)/sinTilt))
		sinTpr = math.Sin(p.Rot2) / sinTilt
	} else {
		cosTilt = 1
	}
	f := Fit2D{DirectDistMM: 1e3 * p.Dist / cosTilt, TiltDeg: math.Acos(cosTilt) * 180 / math.Pi,
		PixelXMicroM: p.Pixel2 * 1e6, PixelYMicroM: p.Pixel1 * 1e6}
	f.TiltPlanRotDeg = math.Acos(cosTpr) * 180 / math.Pi
	if sinTpr < 0 {
		f.TiltPlanRotDeg = -f.TiltPlanRotDeg
	}
	f.CenterX = (p.Poni2 + p.Dist*tanTilt*cosTpr) / p.Pixel2
	if math.Abs(f.TiltDeg) < 1e-5 {
		f.CenterY = p.Poni1 / p.Pixel1
	} else {
		f.CenterY = (p.Poni1 + p.Dist*tanTilt*sinTpr) / p.Pixel1
	}
	return f, nil
}

// PoniFromFit2D converts a fit2d geometry to PONI, as pyFAI's setFit2D
// does (including its Rot3, which fit2d's geometry leaves free).
func PoniFromFit2D(f Fit2D) *Poni {
	rad := math.Pi / 180
	cosTilt, sinTilt := math.Cos(f.TiltDeg*rad), math.Sin(f.TiltDeg*rad)
	cosTpr, sinTpr := math.Cos(f.TiltPlanRotDeg*rad), math.Sin(f.TiltPlanRotDeg*rad)
	p := &Poni{Version: 2, Detector: "Detector", Pixel1: f.PixelYMicroM * 1e-6, Pixel2: f.PixelXMicroM * 1e-6}
	p.Dist = f.DirectDistMM * cosTilt * 1e-3
	p.Poni1 = f.CenterY*p.Pixel1 - f.DirectDistMM*sinTilt*sinTpr*1e-3
	p.Poni2 = f.CenterX*p.Pixel2 - f.DirectDistMM*sinTilt*cosTpr*1e-3
	p.Rot2 = math.Asin(sinTilt * sinTpr)
	p.Rot1 = math.Acos(max(-1, min(1, cosTilt/math.Sqrt(1-(sinTpr*sinTilt)*(sinTpr*sinTilt)))))
	if cosTpr*sinTilt > 0 {
		p.Rot1 = -p.Rot1
	}
	if f.TiltDeg != 0 {
		// pyFAI 0.21's expression, kept so that the files agree.
		p.Rot3 = math.Pi/2 - math.Acos(max(-1, min(1, (cosTilt*cosTpr*sinTpr-cosTpr*sinTpr)/math.Sqrt(10-sinTpr*sinTpr*sinTilt*sinTilt))))
	}
	return p
}

// PoniWavelength returns the wavelength in metres to write in a .poni for a
// calibration wavelength in Å, so that pyFAI's q of every pixel equals
// ours. saxs computes q = 4π·sin θ/(λ[Å]·AngstromStar) nm⁻¹ (the original
// saxsdog's Ångström, AngstromStar nm), pyFAI q = 4π·sin θ/λ[m]·1e-9 nm⁻¹;
// they agree when λ[m] = λ[Å]·AngstromStar·1e-9, which is 1.5e-5 longer
// relative to the plain 1 Å = 1e-10 m. CalibrationWavelength is its
// inverse; the scattering angles do not depend on either.
func PoniWavelength(angstrom float64) float64 { return angstrom * AngstromStar * 1e-9 }

// CalibrationWavelength returns the calibration wavelength in Å of a .poni
// wavelength in metres, the inverse of PoniWavelength: a .poni that pyFAI
// wrote gives the q values pyFAI gives.
func CalibrationWavelength(metres float64) float64 { return metres * 1e9 / AngstromStar }

// PoniFromCalibration returns the PONI geometry of a calibration
// (through pyFAI's setFit2D with the conventions of saxs: fit2d X =
// BeamCenter[1], fit2d Y from the first row = Imagesize[0] − BeamCenter[0],
// tilt plane rotation = −TiltRotDeg), with its detector size and its
// wavelength in pyFAI's metres for the same q (PoniWavelength).
func PoniFromCalibration(c *Calibration) *Poni {
	g := &c.Geometry
	px := g.PixelSizeMicroM[0]
	p := PoniFromFit2D(Fit2D{DirectDistMM: g.DetectorDistanceMM, CenterX: g.BeamCenter[1],
		CenterY: float64(g.Imagesize[0]) - g.BeamCenter[0], TiltDeg: g.Tilt.TiltAngleDeg,
		TiltPlanRotDeg: -g.Tilt.TiltRotDeg, PixelXMicroM: px, PixelYMicroM: px})
	p.MaxShape = g.Imagesize
	p.Wavelength = PoniWavelength(c.Wavelength)
	return p
}

// ApplyTo sets the geometry (and the wavelength, when the file has one,
// through CalibrationWavelength, so that q is pyFAI's) of c from the PONI
// geometry; the rest of c (masks, image size, options) is
// kept. Pixel sizes the file does not give are taken from c; the image
// size of c gives the rows the beam centre is counted from. The result is
// validated.
func (p *Poni) ApplyTo(c *Calibration) error {
	q := *p
	g := &c.Geometry
	if q.Pixel1 == 0 && q.Pixel2 == 0 && len(g.PixelSizeMicroM) > 0 {
		q.Pixel1, q.Pixel2 = g.PixelSizeMicroM[0]*1e-6, g.PixelSizeMicroM[0]*1e-6
	}
	if math.Abs(q.Pixel1-q.Pixel2) > 1e-9*q.Pixel1 {
		return &UnsupportedError{Feature: fmt.Sprintf("non-square pixels (%g × %g m) in a .poni", q.Pixel1, q.Pixel2)}
	}
	f, err := q.Fit2D()
	if err != nil {
		return err
	}
	g.DetectorDistanceMM = f.DirectDistMM
	g.BeamCenter = [2]float64{float64(g.Imagesize[0]) - f.CenterY, f.CenterX}
	g.Tilt = Tilt{TiltAngleDeg: f.TiltDeg, TiltRotDeg: -f.TiltPlanRotDeg}
	g.PixelSizeMicroM = []float64{f.PixelXMicroM}
	if q.Wavelength > 0 {
		c.Wavelength = CalibrationWavelength(q.Wavelength)
	}
	return c.Validate()
}

// Write writes p as a version 2 .poni file, as pyFAI writes it.
func (p *Poni) Write(w io.Writer) error {
	cfg := map[string]any{"pixel1": p.Pixel1, "pixel2": p.Pixel2, "max_shape": nil}
	if p.MaxShape != [2]int{} {
		cfg["max_shape"] = p.MaxShape[:]
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	var b strings.Builder
	b.WriteString("# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis \n# written by saxs\n")
	if p.Wavelength > 0 {
		fmt.Fprintf(&b, "# Wavelength: the calibration's λ[Å] × %s m (the original saxsdog's Ångström), so that pyFAI's q equals saxs's\n", strconv.FormatFloat(AngstromStar*1e-9, 'g', -1, 64))
	}
	b.WriteString("poni_version: 2\n")
	fmt.Fprintf(&b, "Detector: %s\nDetector_config: %s\n", p.Detector, cj)
	fmt.Fprintf(&b, "Distance: %s\nPoni1: %s\nPoni2: %s\nRot1: %s\nRot2: %s\nRot3: %s\n",
		num(p.Dist), num(p.Poni1), num(p.Poni2), num(p.Rot1), num(p.Rot2), num(p.Rot3))
	if p.Wavelength > 0 {
		fmt.Fprintf(&b, "Wavelength: %s\n", num(p.Wavelength))
	}
	_, err = io.WriteString(w, b.String())
	return err
}
