// Command saxsconverter writes a saxsdog calibration file from the refined
// values of a fit2d calibration, or converts a calibration between the
// 0.3.0 (flat) and 2.0 schemas.
//
// Usage:
//
//	saxsconverter [-t TEMPLATE] [--to 2.0|0.3] [--silent] [--allow-missing-mask] INPUT OUT.json
//
// INPUT is fit2d's calibration output (its "INFO: Refined ..." lines) or a
// calibration JSON file. The starting point is TEMPLATE when -t is given,
// otherwise OUT.json if it exists, otherwise the schema defaults. Run
// "saxsconverter --help" for the details; the logic is in
// internal/converter.
package main

import (
	"os"

	"github.com/saxsdog/saxs/internal/converter"
)

func main() {
	os.Exit(converter.Main(os.Args[1:], os.Stdout, os.Stderr))
}
