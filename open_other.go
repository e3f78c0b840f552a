//go:build !unix

package saxs

import "os"

// openNonblocking opens path for reading (FIFOs do not block on open on
// these systems).
func openNonblocking(path string) (*os.File, error) { return os.Open(path) }
