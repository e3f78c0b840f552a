//go:build !linux

package batch

import "errors"

// fileEvents is the close-after-write event source, which exists on Linux
// only (see closewrite_linux.go); elsewhere watch mode settles and
// decodes.
type fileEvents struct{}

// closeWriteSupported tells whether fileEvents is implemented here.
const closeWriteSupported = false

func newFileEvents() (*fileEvents, error)              { return nil, errors.ErrUnsupported }
func (fe *fileEvents) add(string) error                { return nil }
func (fe *fileEvents) close()                          {}
func (fe *fileEvents) read(func(string, fileOp)) error { return nil }
