// Command saxsdog integrates folders of SAXS detector frames (TIFF) into
// .chi files, one per calibration mask.
//
// Usage:
//
//	saxsdog [-c cal.json] [-t N] [-o OUTDIR | -i | -R REL] [-r] [-S] [-D] [-n]
//	        [-w | --poll INTERVAL] [--settle D] [--timeout D]
//	        [--cache-dir DIR | --no-cache] DIRECTORY...
//
// With -w (or --poll) it keeps watching the folders after converting the
// frames already there and converts new frames once they are completely
// written, until interrupted. Built integration operators are kept in the
// user cache folder for the next run.
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
