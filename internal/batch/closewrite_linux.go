package batch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"unsafe"
)

// fileEvents is the Linux source of the events of watch mode: an inotify
// instance of its own watching each folder for files created, written,
// closed after writing (IN_CLOSE_WRITE) and moved in, and for folders
// created or moved in (opDir; IN_ISDIR says so, with no stat). One
// instance delivers these in order, so a close after the last write is
// seen after that write: the close is the signal that the writer is done
// (fsnotify v1.10 does not export its close-write event). fsnotify is not
// used beside it.
type fileEvents struct {
	f *os.File // the inotify descriptor, non-blocking, in Go's poller

	mu   sync.Mutex
	dirs map[int32]string // watch descriptor -> folder
}

// closeWriteSupported tells whether fileEvents is implemented here.
const closeWriteSupported = true

// newFileEvents starts an inotify instance.
func newFileEvents() (*fileEvents, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	return &fileEvents{f: os.NewFile(uintptr(fd), "inotify"), dirs: map[int32]string{}}, nil
}

// add watches the files of the folder dir.
func (fe *fileEvents) add(dir string) error {
	conn, err := fe.f.SyscallConn()
	if err != nil {
		return err
	}
	var wd int
	var werr error
	err = conn.Control(func(fd uintptr) {
		wd, werr = syscall.InotifyAddWatch(int(fd), dir,
			syscall.IN_CREATE|syscall.IN_MODIFY|syscall.IN_CLOSE_WRITE|syscall.IN_MOVED_TO|syscall.IN_ONLYDIR)
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	fe.mu.Lock()
	fe.dirs[int32(wd)] = filepath.Clean(dir)
	fe.mu.Unlock()
	return nil
}

// close stops the instance; a read in progress returns.
func (fe *fileEvents) close() { fe.f.Close() }

// read waits for events and calls emit for each file event (and with
// opOverflow when events were lost), until the instance is closed (then
// it returns nil) or reading fails.
func (fe *fileEvents) read(emit func(path string, op fileOp)) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := fe.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("inotify: %w", err)
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
				emit("", opOverflow) // events were lost
				continue
			}
			if ev.Mask&syscall.IN_IGNORED != 0 {
				fe.mu.Lock()
				delete(fe.dirs, ev.Wd)
				fe.mu.Unlock()
				continue
			}
			if len(name) == 0 {
				continue
			}
			isDir := ev.Mask&syscall.IN_ISDIR != 0
			if isDir && ev.Mask&(syscall.IN_CREATE|syscall.IN_MOVED_TO) == 0 {
				continue
			}
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			fe.mu.Lock()
			dir, ok := fe.dirs[ev.Wd]
			fe.mu.Unlock()
			if !ok {
				continue
			}
			op := opWrite
			switch {
			case isDir:
				op = opDir // created or moved in
			case ev.Mask&(syscall.IN_CLOSE_WRITE|syscall.IN_MOVED_TO) != 0:
				op = opDone
			case ev.Mask&syscall.IN_MODIFY == 0:
				// Created without a write yet: a writer may follow (its
				// first write says so), or it is a hard link, which no
				// close will follow: settled and decoded.
				op = opCreate
			}
			emit(filepath.Join(dir, string(name)), op)
		}
	}
}
