// Command saxsnetconf creates, edits and checks the saxsdog network configuration (~/.saxsdognetwork).
//
// Run saxsnetconf --help for the usage. The work is done by package network/cli.
package main

import (
	"os"

	"github.com/saxsdog/saxs/network/cli"
)

func main() {
	os.Exit(cli.NetconfMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
