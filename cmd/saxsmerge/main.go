// Command saxsmerge consolidates an experiment's results: it joins the
// frames' header times, exposures and integral parameters with shutter and
// datalogger logs into one table (CSV, Igor CSV, JSON, HDF5), as the
// original saxsdog's saxsdmerge:
//
//	saxsmerge [options] FRAMEDIR [PEAK.log [DATALOGGER.log]]
//	saxsmerge [options] -C CONF.json FRAMEDIR
//
// Run saxsmerge --help for the options. The work is done by package
// merge (internal/mergecli for the command line).
package main

import (
	"os"

	"github.com/saxsdog/saxs/internal/mergecli"
)

func main() {
	os.Exit(mergecli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
