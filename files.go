package saxs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is the cause (errors.Is) of the error a reader returns for
// a path that is not a regular file: a FIFO, a device, a socket or a
// folder. Readers never block on such a path and never read it.
var ErrNotRegular = errors.New("not a regular file")

// Limits of the text readers: a file larger than this is refused before
// it is read.
const (
	// MaxCalibrationBytes bounds a calibration file (LoadCalibration).
	MaxCalibrationBytes = 64 << 20
	// MaxChiBytes bounds a .chi file (ReadChi, ReadChiFile): 65000 rows of
	// three numbers take about 5 MB.
	MaxChiBytes = 64 << 20
)

// openRegular opens path for reading without blocking (a FIFO opens at
// once in non-blocking mode) and returns it with its size if it is a
// regular file; otherwise it closes it and returns an *fs.PathError whose
// cause is ErrNotRegular.
func openRegular(path string) (*os.File, int64, error) {
	f, err := openNonblocking(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return f, fi.Size(), nil
}

// readLimited reads r to its end, or to limit+1 bytes if it is longer;
// sizeHint is the expected length. The buffer doubles as it grows, so
// that the bytes allocated stay below three times what is read.
func readLimited(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	buf := make([]byte, 0, min(max(sizeHint+1, 4096), limit+1))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, nil
			}
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// readRegular reads the regular file at path, of at most limit bytes; what
// names the kind of file in the error for a larger one.
func readRegular(path string, limit int64, what string) ([]byte, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > limit {
		return nil, &FormatError{File: path, Offset: limit,
			Msg: fmt.Sprintf("%d bytes, more than the %d accepted for a %s", size, limit, what)}
	}
	data, err := readLimited(f, limit, size)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(data)) > limit { // the file grew since Stat
		return nil, &FormatError{File: path, Offset: limit,
			Msg: fmt.Sprintf("more than the %d bytes accepted for a %s", limit, what)}
	}
	return data, nil
}
