// Package atomicfile replaces files atomically: the content goes to a
// temporary file in the target's folder, named "."+name+".tmp" followed by
// digits, which is then renamed over the target. Readers never see a
// partial file, and a crash leaves at most a temporary file behind (the
// saxsdog batch removes stale ones of this pattern). Files are not
// fsync'ed: a crash of the machine, not of the program, may lose them.
package atomicfile

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPattern returns the os.CreateTemp pattern of the temporary files for
// a target named base.
func TempPattern(base string) string { return "." + base + ".tmp*" }

// Write calls fn with a temporary file beside path, gives it mode perm and
// renames it over path. On any error the temporary file is removed and
// path is left as it was.
func Write(path string, perm fs.FileMode, fn func(w io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), TempPattern(filepath.Base(path)))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close() // may already be closed; that error is irrelevant then
			os.Remove(f.Name())
		}
	}()
	if err = fn(f); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// WriteFile writes data to path atomically with mode perm.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
