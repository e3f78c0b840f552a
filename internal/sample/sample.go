// Package sample writes the small synthetic data set bundled in
// testdata/sample: a tilted detector with a beam stop, a detector gap and
// bad pixels, a fit2d mask, a calibration in each schema generation and a
// few frames of a scattering pattern with Poisson noise. Everything is
// computed here, deterministically, so the data set can be regenerated and
// checked (go generate ./...).
package sample

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/saxsdog/saxs"
)

// Size of the synthetic detector.
const (
	Rows = 128
	Cols = 160
)

// FlatCalibration is the sample calibration in the 0.3.0 (flat) schema.
const FlatCalibration = `{
    "Title": "saxs synthetic sample: 128x160 detector, 172 um pixels",
    "Tilt": {
        "TiltAngleDeg": 2.0,
        "TiltRotDeg": 30.0
    },
    "DedectorDistanceMM": 300.0,
    "BeamCenter": [
        70.4,
        60.7
    ],
    "Imagesize": [
        128,
        160
    ],
    "PixelSizeMicroM": [
        172.0
    ],
    "MaskFile": "mask.msk",
    "Oversampling": 3,
    "PixelPerRadialElement": 1,
    "Wavelength": 1.54,
    "PolarizationCorrection": {
        "Fraction": 0.95,
        "Angle": 0.0
    }
}
`

// NestedCalibration is the same setup in the 2.0 schema with two curves:
// the original bin rule, and 200 bins uniform in q.
const NestedCalibration = `{
    "Title": "saxs synthetic sample, two curves",
    "Geometry": {
        "Tilt": {
            "TiltAngleDeg": 2.0,
            "TiltRotDeg": 30.0
        },
        "DedectorDistanceMM": 300.0,
        "BeamCenter": [
            70.4,
            60.7
        ],
        "Imagesize": [
            128,
            160
        ],
        "PixelSizeMicroM": [
            172.0
        ]
    },
    "Directory": [
        "."
    ],
    "Masks": [
        {
            "MaskFile": "mask.msk",
            "Oversampling": 3,
            "PixelPerRadialElement": 1,
            "qStart": 0.2,
            "qStop": 2.0
        },
        {
            "Name": "uniform",
            "MaskFile": "mask.msk",
            "Oversampling": 2,
            "PixelPerRadialElement": 1,
            "qStart": 0.2,
            "qStop": 2.0,
            "RadialBins": {
                "Start": 0.0,
                "Stop": 4.0,
                "Count": 200
            }
        }
    ],
    "Wavelength": 1.54,
    "PolarizationCorrection": {
        "Fraction": 0.95,
        "Angle": 0.0
    }
}
`

// Frames lists the frames written, relative to the data set's folder.
var frames = []string{
	"frames/run1/sample_00001.tif",
	"frames/run1/sample_00002.tif",
	"frames/run1/sample_00003.tif",
	"frames/run2/sample_00001.tif",
}

// Mask returns the sample's mask: a beam stop around the beam centre, a
// two-row detector gap and a few bad pixels.
func Mask() *saxs.Mask {
	m := &saxs.Mask{Rows: Rows, Cols: Cols, Masked: make([]bool, Rows*Cols)}
	by, bx := float64(Rows)-70.4, 60.7 // beam centre in row-down coordinates
	for r := range Rows {
		for c := range Cols {
			dy, dx := float64(r)+0.5-by, float64(c)+0.5-bx
			beamstop := dx*dx+dy*dy < 6*6 || (dx > -2 && dx < 2 && dy < 0) // disc and its holder
			gap := r == 90 || r == 91
			m.Masked[r*Cols+c] = beamstop || gap || badPixel(r, c)
		}
	}
	return m
}

func badPixel(r, c int) bool { return (r*31+c*17)%997 == 0 }

// Model is the expected intensity at q (nm⁻¹): a Guinier term, a powder
// ring at the first order of silver behenate, and a flat background.
func Model(q float64) float64 {
	const rg = 4.0 // nm
	ring := (q - 1.076) / 0.012
	return 2000*math.Exp(-q*q*rg*rg/3) + 300*math.Exp(-ring*ring/2) + 20
}

// poisson draws a Poisson variate of mean lambda.
func poisson(rng *rand.Rand, lambda float64) int32 {
	if lambda > 50 {
		return int32(math.Max(0, math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), int32(0), 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// Frame returns frame i (0-based) of the sample: Poisson counts of the
// model times the polarization factor and a per-frame intensity, with the
// Pilatus conventions for gaps (-1) and bad pixels (-2).
func Frame(cal *saxs.Calibration, i int) *saxs.Image {
	rng := rand.New(rand.NewPCG(2026, uint64(i)))
	pol := saxs.PolarizationFactor(cal, false)
	img := &saxs.Image{Rows: Rows, Cols: Cols, Counts: make([]int32, Rows*Cols),
		Description: fmt.Sprintf("# saxs synthetic sample frame %d\r\n# Wavelength 1.54 A\r\n", i+1)}
	scale := 1 + 0.1*float64(i)
	m := Mask()
	for r := range Rows {
		for c := range Cols {
			p := r*Cols + c
			switch {
			case r == 90 || r == 91:
				img.Counts[p] = -1
			case badPixel(r, c):
				img.Counts[p] = -2
			default:
				v := scale * Model(saxs.Q(cal, r, c)) * pol[p]
				if m.Masked[p] {
					v *= 0.01 // the beam stop's shadow
				}
				img.Counts[p] = poisson(rng, v)
			}
		}
	}
	return img
}

// Files returns the data set: file names relative to its folder and their
// contents.
func Files() (map[string][]byte, error) {
	out := map[string][]byte{
		"cal.json":  []byte(FlatCalibration),
		"cal2.json": []byte(NestedCalibration),
	}
	var buf bytes.Buffer
	if err := saxs.EncodeFit2DMask(&buf, Mask()); err != nil {
		return nil, err
	}
	out["mask.msk"] = bytes.Clone(buf.Bytes())
	cal, err := saxs.ParseCalibration([]byte(FlatCalibration), "cal.json")
	if err != nil {
		return nil, err
	}
	for i, name := range frames {
		buf.Reset()
		if err := saxs.EncodeTIFF(&buf, Frame(cal, i)); err != nil {
			return nil, err
		}
		out[name] = bytes.Clone(buf.Bytes())
	}
	return out, nil
}

// Write writes the data set into dir.
func Write(dir string) error {
	files, err := Files()
	if err != nil {
		return err
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
