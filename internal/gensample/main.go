// Command gensample writes the synthetic sample data set (package
// internal/sample) into the folder given as its argument:
//
//	go run ./internal/gensample testdata/sample
package main

import (
	"fmt"
	"os"

	"github.com/saxsdog/saxs/internal/sample"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gensample DIR")
		os.Exit(2)
	}
	if err := sample.Write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gensample:", err)
		os.Exit(1)
	}
}
