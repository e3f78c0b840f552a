// Command saxsstreamsim simulates an Eiger's stream interface: it binds a
// ZeroMQ PUSH socket and sends series of detector frames (TIFF, CBF, EDF
// or HDF5 files) as DECTRIS stream v1 or v2 messages at a given rate,
// optionally leaving frames out, for saxsdogserver --stream.
//
// Run saxsstreamsim --help for the usage. The work is done by package
// network/stream.
package main

import (
	"os"

	"github.com/saxsdog/saxs/network/stream"
)

func main() {
	os.Exit(stream.SimMain(os.Args[1:], os.Stdout, os.Stderr))
}
