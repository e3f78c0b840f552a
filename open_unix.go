//go:build unix

package saxs

import (
	"os"
	"syscall"
)

// openNonblocking opens path for reading with O_NONBLOCK, so that opening
// a FIFO without a writer does not wait for one.
func openNonblocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
