// Command saxscalib finds the detector geometry from one frame of a
// calibrant (silver behenate, LaB6, CeO2, Si, corundum or a list of
// d-spacings) and writes it as a 2.0 calibration.
//
// Usage:
//
//	saxscalib --calibrant AgBh --wavelength 1.0 --pixel-size 172 [--mask FILE] [--distance MM]
//	          [--center Y,X] [-c template.json] -o cal.json [--poni out.poni] [--plot rings.png] FRAME
//
// Run "saxscalib --help" for the details; the logic is in
// internal/calibcli.
package main

import (
	"os"

	"github.com/saxsdog/saxs/internal/calibcli"
)

func main() {
	os.Exit(calibcli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
