// Command plotchi plots the scattering curves of .chi files (saxsdog's and
// fit2d's) to an SVG, PNG or PDF file:
//
//	plotchi [options] CHIFILE...
//
// Run plotchi --help for the options. The work is done by package
// internal/plotchi.
package main

import (
	"os"

	"github.com/saxsdog/saxs/internal/plotchi"
)

func main() {
	os.Exit(plotchi.Run(os.Args[1:], os.Stdout, os.Stderr))
}
