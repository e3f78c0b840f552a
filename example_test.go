package saxs_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/saxsdog/saxs"
)

// Load a calibration (either schema generation), build the integrator once
// and integrate a frame.
func Example() {
	cal, err := saxs.LoadCalibration("testdata/sample/cal.json")
	if err != nil {
		log.Fatal(err)
	}
	ig, err := saxs.New(cal) // reads the mask, builds the operator
	if err != nil {
		log.Fatal(err)
	}
	img, err := saxs.ReadImage("testdata/sample/frames/run1/sample_00001.tif")
	if err != nil {
		log.Fatal(err)
	}
	res, err := ig.Integrate(img)
	if err != nil {
		log.Fatal(err)
	}
	c := res.Curves[0]
	fmt.Printf("%d bins from q = %.4f to %.4f nm^-1\n", c.Len(), c.Q[0], c.Q[c.Len()-1])
	// Output:
	// 122 bins from q = 0.0117 to 2.8338 nm^-1
}

func ExampleLoadCalibration() {
	cal, err := saxs.LoadCalibration("testdata/sample/cal2.json")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("schema:", cal.Generation())
	fmt.Println("image size:", cal.Geometry.Imagesize)
	for i, m := range cal.Masks {
		fmt.Printf("curve %d: mask %s, oversampling %d\n", i, cal.MaskPath(i), m.Oversampling)
	}
	// Output:
	// schema: 2.0
	// image size: [128 160]
	// curve 0: mask testdata/sample/mask.msk, oversampling 3
	// curve 1: mask testdata/sample/mask.msk, oversampling 2
}

// Invalid calibrations are rejected with the file and the JSON path.
func ExampleParseCalibration_error() {
	_, err := saxs.ParseCalibration([]byte(`{"Geometry": {"Tilt": {"TiltRotDeg": 0},
		"BeamCenter": [10, 10], "DedectorDistanceMM": 100, "Imagesize": [20, 20], "PixelSizeMicroM": [172]},
		"Wavelength": 1.54, "Masks": [{"MaskFile": "m.msk", "Oversampling": 2, "PixelPerRadialElement": 1,
		"qStart": 0, "qStop": 1, "Binning": 3}]}`), "cal.json")
	fmt.Println(err)
	// Output:
	// cal.json: /Geometry/Tilt: missing property 'TiltAngleDeg'
	// cal.json: /Masks/0: unknown key 'Binning'; allowed: MaskFile, Name, Oversampling, Phi-mode, PhiBins, PixelPerRadialElement, RadialBins, qStart, qStop
}

// The Python 3 fork's output keys at the root of a 2.0 calibration:
// OverwriteFiles (absent: true) and Live-Filelisting (absent: false, as the
// original 2.0 wrote no list); a misspelt key is refused with the allowed
// ones.
func ExampleCalibration_Overwrite() {
	geometry := `"Geometry": {"Tilt": {"TiltRotDeg": 0, "TiltAngleDeg": 0}, "BeamCenter": [10, 10],
		"DedectorDistanceMM": 100, "Imagesize": [20, 20], "PixelSizeMicroM": [172]},
		"Wavelength": 1.54, "Masks": [{"MaskFile": "m.msk", "Oversampling": 2, "PixelPerRadialElement": 1,
		"qStart": 0, "qStop": 1}]`
	for _, keys := range []string{``, `"OverwriteFiles": false, "Live-Filelisting": true,`, `"Overwrite": false,`} {
		cal, err := saxs.ParseCalibration([]byte(`{`+keys+geometry+`}`), "cal.json")
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("overwrite %v, live file list %v\n", cal.Overwrite(), cal.LiveFileList())
	}
	// Output:
	// overwrite true, live file list false
	// overwrite false, live file list true
	// cal.json: /: unknown key 'Overwrite'; allowed: Directory, GISAXSmode, Geometry, Live-Filelisting, Masks, OverwriteFiles, PolarizationCorrection, Reduction, Slices, Threads, Title, Wavelength
}

// Integrate many frames without allocating: reuse one image, one reader and
// one result.
func ExampleIntegrator_IntegrateTo() {
	cal, err := saxs.LoadCalibration("testdata/sample/cal.json")
	if err != nil {
		log.Fatal(err)
	}
	ig, err := saxs.New(cal)
	if err != nil {
		log.Fatal(err)
	}
	var (
		rd  saxs.ImageReader
		img saxs.Image
		res = ig.NewResult()
	)
	for _, name := range []string{"sample_00001.tif", "sample_00002.tif", "sample_00003.tif"} {
		if err := rd.ReadFile(filepath.Join("testdata/sample/frames/run1", name), &img); err != nil {
			log.Fatal(err) // a *saxs.FormatError names the file and the byte offset
		}
		if err := ig.IntegrateTo(res, &img); err != nil {
			log.Fatal(err)
		}
		// Find the powder ring: the brightest bin above q = 0.9 nm^-1.
		c, peak := res.Curves[0], 0
		for k := range c.I {
			if c.Q[k] > 0.9 && (peak == 0 || c.I[k] > c.I[peak]) {
				peak = k
			}
		}
		fmt.Printf("%s: ring at q = %.2f nm^-1\n", name, c.Q[peak])
	}
	// Output:
	// sample_00001.tif: ring at q = 1.08 nm^-1
	// sample_00002.tif: ring at q = 1.08 nm^-1
	// sample_00003.tif: ring at q = 1.08 nm^-1
}

// Write a curve as a .chi file and read it back.
func ExampleIntegrator_IntegrateChi() {
	cal, err := saxs.LoadCalibration("testdata/sample/cal.json")
	if err != nil {
		log.Fatal(err)
	}
	ig, err := saxs.New(cal)
	if err != nil {
		log.Fatal(err)
	}
	img, err := saxs.ReadImage("testdata/sample/frames/run1/sample_00001.tif")
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "saxs-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "sample_00001.chi")
	if err := ig.IntegrateChi(img, out); err != nil {
		log.Fatal(err)
	}
	chi, err := saxs.ReadChiFile(out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("rows:", chi.Len())
	fmt.Println("columns:", chi.Header[2])
	// Output:
	// rows: 122
	// columns: ["Scattering Vector  q [$nm^{-1}$]", "Intensity (Count/Pixel)", "Error Margin"]
}
