package saxs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
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
	// Wavelength is pyFAI's wavelength in metres, 0 when absent. It is
	// the wavelength that gives pyFAI's q for saxs's: λ[Å] ·
	// AngstromStar · 1e-9 m (see PoniWavelength), not λ[Å] · 1e-10.
	Wavelength float64

	// angstrom is the wavelength in Å that the file's decimal stands for
	// (exactly, so that a written file reads back to the calibration's
	// wavelength bit for bit), valid while Wavelength == angstromOf.
	angstrom, angstromOf float64
}

// poniAngstrom is 1 Å in metres in saxs's q: AngstromStar nm, the
// original saxsdog's constant, as an exact decimal.
var poniAngstrom, _, _ = big.ParseFloat("1.00001495e-10", 10, 256, big.ToNearestEven)

// PoniWavelength returns the wavelength in metres that a .poni holds for
// a wavelength lambda in Å: lambda · 1.00001495e-10 m (AngstromStar nm,
// the original saxsdog's Ångström), correctly rounded. With it, pyFAI's q
// (which uses the exact Ångström) equals saxs's q. ApplyTo converts
// back, exactly for the files Write writes.
func PoniWavelength(lambda float64) float64 {
	m, _ := new(big.Float).SetPrec(256).Mul(big.NewFloat(lambda), poniAngstrom).Float64()
	return m
}

// poniAngstromOf returns the wavelength in Å that the decimal text, a
// .poni wavelength in metres, stands for: text / 1.00001495e-10, correctly
// rounded (0 when text is not a positive finite number).
func poniAngstromOf(text string) float64 {
	f, _, err := big.ParseFloat(text, 10, 256, big.ToNearestEven)
	if err != nil || f.Sign() <= 0 || f.IsInf() {
		return 0
	}
	a, _ := new(big.Float).SetPrec(256).Quo(f, poniAngstrom).Float64()
	return a
}

// poniWavelengthText returns the shortest decimal of the wavelength in
// metres for lambda Å that reads back (poniAngstromOf) to lambda exactly
// and that pyFAI reads (as a float64) as PoniWavelength(lambda).
func poniWavelengthText(lambda float64) string {
	exact := new(big.Float).SetPrec(256).Mul(big.NewFloat(lambda), poniAngstrom)
	m, _ := exact.Float64()
	var t string
	for digits := 1; digits <= 40; digits++ {
		t = exact.Text('g', digits)
		if f, err := strconv.ParseFloat(t, 64); err == nil && f == m && poniAngstromOf(t) == lambda {
			break
		}
	}
	return t
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
			if err = num(&p.Wavelength); err == nil {
				p.angstrom, p.angstromOf = poniAngstromOf(v), p.Wavelength
			}
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

// PoniFromCalibration returns the PONI geometry of a calibration
// (through pyFAI's setFit2D with the conventions of saxs: fit2d X =
// BeamCenter[1], fit2d Y from the first row = Imagesize[0] − BeamCenter[0],
// tilt plane rotation = −TiltRotDeg), with its wavelength and detector
// size. The wavelength is PoniWavelength's, so that pyFAI's q of a pixel
// equals saxs's (Q).
func PoniFromCalibration(c *Calibration) *Poni {
	g := &c.Geometry
	px := g.PixelSizeMicroM[0]
	p := PoniFromFit2D(Fit2D{DirectDistMM: g.DetectorDistanceMM, CenterX: g.BeamCenter[1],
		CenterY: float64(g.Imagesize[0]) - g.BeamCenter[0], TiltDeg: g.Tilt.TiltAngleDeg,
		TiltPlanRotDeg: -g.Tilt.TiltRotDeg, PixelXMicroM: px, PixelYMicroM: px})
	p.MaxShape = g.Imagesize
	if c.Wavelength > 0 {
		p.Wavelength = PoniWavelength(c.Wavelength)
		p.angstrom, p.angstromOf = c.Wavelength, p.Wavelength
	}
	return p
}

// ApplyTo sets the geometry (and the wavelength, when the file has one) of
// c from the PONI geometry; the rest of c (masks, image size, options) is
// kept. Pixel sizes the file does not give are taken from c; the image
// size of c gives the rows the beam centre is counted from. The result is
// validated. The wavelength in Å is the file's over 1.00001495e-10 m (see
// PoniWavelength): the one whose q is pyFAI's.
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
		c.Wavelength = q.WavelengthAngstrom()
	}
	return c.Validate()
}

// WavelengthAngstrom returns the wavelength in Å whose q in saxs is
// pyFAI's q with Wavelength (Wavelength / 1.00001495e-10 m, exactly the
// calibration's for a file Write wrote from PoniFromCalibration), or 0.
func (p *Poni) WavelengthAngstrom() float64 {
	if !(p.Wavelength > 0) {
		return 0
	}
	if p.angstromOf == p.Wavelength && p.angstrom > 0 {
		return p.angstrom
	}
	a, _ := new(big.Float).SetPrec(256).Quo(big.NewFloat(p.Wavelength), poniAngstrom).Float64()
	return a
}

// Write writes p as a version 2 .poni file, as pyFAI writes it, with a
// comment line on the convention of the wavelength (see PoniWavelength).
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
	b.WriteString("# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis \n# written by saxs\nponi_version: 2\n")
	fmt.Fprintf(&b, "Detector: %s\nDetector_config: %s\n", p.Detector, cj)
	fmt.Fprintf(&b, "Distance: %s\nPoni1: %s\nPoni2: %s\nRot1: %s\nRot2: %s\nRot3: %s\n",
		num(p.Dist), num(p.Poni1), num(p.Poni2), num(p.Rot1), num(p.Rot2), num(p.Rot3))
	if p.Wavelength > 0 {
		wl := num(p.Wavelength)
		if p.angstromOf == p.Wavelength && p.angstrom > 0 {
			wl = poniWavelengthText(p.angstrom)
		}
		b.WriteString("# Wavelength is saxs's lambda [A] * 1.00001495e-10 m (the original saxsdog's Angstrom), so that pyFAI's q equals saxs's\n")
		fmt.Fprintf(&b, "Wavelength: %s\n", wl)
	}
	_, err = io.WriteString(w, b.String())
	return err
}
