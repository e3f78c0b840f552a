// Command saxsleash sends signed commands to a saxsdog server and prints the replies.
//
// Run saxsleash --help for the usage. The work is done by package network/cli.
package main

import (
	"os"

	"github.com/saxsdog/saxs/network/cli"
)

func main() {
	os.Exit(cli.LeashMain(os.Args[1:], os.Stdout, os.Stderr))
}
