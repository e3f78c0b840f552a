//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package batch

import (
	"os"
	"syscall"
)

// posixFadvWillNeed is POSIX_FADV_WILLNEED: start reading the range into
// the page cache in the background.
const posixFadvWillNeed = 3

// prefetch asks the kernel to start reading the frame at path into the
// page cache in the background (posix_fadvise WILLNEED), so that a frame
// on disk is read while the worker integrates the previous one; it costs
// no memory of the process. Anything but a regular file is left alone
// (opening a FIFO would disturb its writer); errors are ignored: this is
// a hint, the real read reports them.
func prefetch(path string) {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return
	}
	conn, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = conn.Control(func(fd uintptr) {
		// fadvise64(fd, offset 0, len 0 = to the end, advice) on 64-bit Linux.
		syscall.Syscall6(syscall.SYS_FADVISE64, fd, 0, 0, posixFadvWillNeed, 0, 0) //nolint:errcheck // a hint
	})
}
