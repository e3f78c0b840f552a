//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package batch

import "syscall"

// posixFadvWillNeed is POSIX_FADV_WILLNEED: start reading the range into
// the page cache in the background.
const posixFadvWillNeed = 3

// prefetch asks the kernel to start reading the frame at path into the
// page cache in the background (posix_fadvise WILLNEED), so that a frame
// on disk is read while the worker integrates the previous one; it costs
// no memory of the process. Anything but a regular file is left alone
// (opening a FIFO would disturb its writer): it is checked before the open
// and after it. Errors are ignored: this is a hint, the real read reports
// them. It makes the system calls itself (open, fstat,
// fadvise, close: no poller registration or flag queries of os.File), as
// it runs once per frame.
func prefetch(path string) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer syscall.Close(fd) //nolint:errcheck // read only
	if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return
	}
	// fadvise64(fd, offset 0, len 0 = to the end, advice) on 64-bit Linux.
	syscall.Syscall6(syscall.SYS_FADVISE64, uintptr(fd), 0, 0, posixFadvWillNeed, 0, 0) //nolint:errcheck // a hint
}
