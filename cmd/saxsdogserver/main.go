// Command saxsdogserver serves saxsdog processing queues over ZeroMQ: it converts the frames of a folder into .chi files as they are written.
//
// Run saxsdogserver --help for the usage. The work is done by package network/cli.
package main

import (
	"os"

	"github.com/saxsdog/saxs/network/cli"
)

func main() {
	os.Exit(cli.ServerMain(os.Args[1:], os.Stdout, os.Stderr))
}
