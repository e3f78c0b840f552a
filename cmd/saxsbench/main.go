// Command saxsbench converts the same folder of frames with saxs and with
// pyFAI and prints ms per frame, frames per second and their ratio.
//
//	saxsbench [--frames 200] [--threads N] [--python /usr/bin/python3]
//
// Run saxsbench --help for the options.
package main

import (
	"os"

	"github.com/saxsdog/saxs/internal/bench"
)

func main() {
	os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr))
}
