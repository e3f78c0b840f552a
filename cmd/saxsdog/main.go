// Command saxsdog integrates folders of SAXS detector frames (TIFF) into
// .chi files, one per calibration mask (and one per GISAXS slice).
//
// Usage:
//
//	saxsdog [-c cal.json] [-t N] [-o OUTDIR | -i | -R REL] [-r] [-S] [-D] [-n]
//	        [-w | --poll INTERVAL] [--settle D] [--timeout D]
//	        [-s] [-p] [-m] [--monitor-addr ADDR]
//	        [--cache-dir DIR | --no-cache] DIRECTORY...
//
// With -w (or --poll) it keeps watching the folders after converting the
// frames already there and converts new frames once they are completely
// written, until interrupted. With -s it also plots each curve (x.svg next
// to x.chi), with -p it writes a picture of each frame (x.png), and with
// -m it serves a live plot of the latest frame's curves on a local web
// page while it runs. Built integration operators are kept in the user
// cache folder for the next run.
//
// Run saxsdog --help for the options. The work is done by package
// internal/saxsdogcli (the engine is internal/batch).
package main

import (
	"os"

	"github.com/saxsdog/saxs/internal/saxsdogcli"
)

func main() {
	os.Exit(saxsdogcli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
