package saxs_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/saxsdog/saxs"
)

// Integrate every frame of a detector file of any supported format (here
// a TIFF; CBF, EDF and HDF5/NeXus files are opened the same way), with the
// detector's own mask added to the calibration's, and write one .dat per
// frame and one NXcanSAS file with all frames.
func ExampleOpenFrames() {
	cal, err := saxs.LoadCalibration("testdata/sample/cal.json")
	if err != nil {
		log.Fatal(err)
	}
	src, err := saxs.OpenFrames("testdata/sample/frames/run1/sample_00001.tif")
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	opt := saxs.Options{}
	if pm := src.PixelMask(); pm != nil { // e.g. an Eiger pixel_mask
		calMask, err := saxs.OpenMask(cal.MaskPath(0))
		if err != nil {
			log.Fatal(err)
		}
		m, err := saxs.CombineMasks(calMask, pm)
		if err != nil {
			log.Fatal(err)
		}
		opt.Masks = []*saxs.Mask{m}
	}
	ig, err := saxs.NewWithOptions(cal, opt)
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range src.Info(0).Disagreements(cal) {
		fmt.Println("warning:", w)
	}
	dir, err := os.MkdirTemp("", "frames")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var img saxs.Image
	var curves []*saxs.Curve
	for i := 0; i < src.Len(); i++ {
		if err := src.ReadFrame(i, &img); err != nil {
			log.Fatal(err)
		}
		res, err := ig.Integrate(&img)
		if err != nil {
			log.Fatal(err)
		}
		dat := saxs.FramePath(filepath.Join(dir, "sample.dat"), i, src.Len())
		if err := saxs.WriteDatFile(dat, ig.Calibration(), &res.Curves[0], src.Name()); err != nil {
			log.Fatal(err)
		}
		curves = append(curves, &res.Curves[0])
	}
	if err := saxs.WriteNXcanSASFile(filepath.Join(dir, "sample.h5"), ig.Calibration(), "sample", curves); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d frame(s), %d bins\n", src.Format(), src.Len(), curves[0].Len())
	// Output:
	// TIFF: 1 frame(s), 122 bins
}
