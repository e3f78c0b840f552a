// Command saxsdog integrates folders of SAXS detector frames (TIFF) into
// .chi files, one per calibration mask.
//
// Usage:
//
//	saxsdog [-c cal.json] [-t N] [-o OUTDIR | -i | -R REL] [-r] [-S] [-D] DIRECTORY...
//
// Run saxsdog --help for the options. The work is done by package
// internal/batch.
package main

import (
	"os"

	"github.com/saxsdog/saxs/internal/batch"
)

func main() {
	os.Exit(batch.Main(os.Args[1:], os.Stdout, os.Stderr))
}
