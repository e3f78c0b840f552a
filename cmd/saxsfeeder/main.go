// Command saxsfeeder announces each completely written frame of a folder to saxsdog servers (ZeroMQ PUB).
//
// Run saxsfeeder --help for the usage. The work is done by package network/cli.
package main

import (
	"os"

	"github.com/saxsdog/saxs/network/cli"
)

func main() {
	os.Exit(cli.FeederMain(os.Args[1:], os.Stdout, os.Stderr))
}
