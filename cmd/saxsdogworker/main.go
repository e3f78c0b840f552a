// Command saxsdogworker integrates the frames of a saxsdog cluster: it takes jobs from the NATS JetStream of a saxsdogserver head.
//
// Run saxsdogworker --help for the usage. The work is done by package network/cli.
package main

import (
	"os"

	"github.com/saxsdog/saxs/network/cli"
)

func main() {
	os.Exit(cli.WorkerMain(os.Args[1:], os.Stdout, os.Stderr))
}
