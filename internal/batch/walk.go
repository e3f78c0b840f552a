package batch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/saxsdog/saxs/internal/cli"
)

// isTIFFName reports whether a file name ends in .tif or .tiff, in any case.
func isTIFFName(name string) bool {
	return tiffExt(name) != ""
}

// tiffExt returns the .tif or .tiff suffix of name as written, or "".
func tiffExt(name string) string {
	for _, ext := range []string{".tif", ".tiff"} {
		if len(name) > len(ext) && strings.EqualFold(name[len(name)-len(ext):], ext) {
			return name[len(name)-len(ext):]
		}
	}
	return ""
}

// chiName returns the file name of the .chi output of a frame: the name
// with .tif/.tiff (or any other extension) replaced by .chi.
func chiName(name string) string {
	ext := frameExt(name)
	if ext == "" {
		ext = filepath.Ext(name)
	}
	return name[:len(name)-len(ext)] + ".chi"
}

// chiPath returns the .chi path of the frame at path (before ChiPaths adds
// per-mask suffixes). rootIdx is the index of the frame's root, -1 to look
// it up.
func (c *Converter) chiPath(path string, rootIdx int) (string, error) {
	dir, name := filepath.Split(path)
	switch {
	case c.cfg.InPlace:
		return filepath.Join(dir, chiName(name)), nil
	case c.cfg.RelPath != "":
		if filepath.IsAbs(c.cfg.RelPath) {
			return filepath.Join(c.cfg.RelPath, chiName(name)), nil
		}
		return filepath.Join(dir, c.cfg.RelPath, chiName(name)), nil
	}
	if rootIdx < 0 {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		for i, r := range c.roots {
			if abs == r.abs || (r.isDir && within(abs, r.abs)) {
				rootIdx = i
				break
			}
		}
		if rootIdx < 0 {
			return "", fmt.Errorf("%s: not inside an input folder, so its output cannot be named", path)
		}
		path = abs
	}
	r := c.roots[rootIdx]
	if !r.isDir {
		return filepath.Join(c.outDir, chiName(name)), nil
	}
	base := r.walk
	if filepath.IsAbs(path) && !filepath.IsAbs(base) {
		base = r.abs
	}
	rel, err := filepath.Rel(base, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == ".." {
		return "", fmt.Errorf("%s: not inside input %s", path, r.path)
	}
	return filepath.Join(c.outDir, r.prefix, filepath.Dir(rel), chiName(filepath.Base(rel))), nil
}

// walk finds the frames below the roots in lexical order and hands each,
// named, to emit; it stops when emit returns an error or ctx is done.
// Unreadable folders are reported as failures and skipped.
func (c *Converter) walk(ctx context.Context, r *run, emit func(job) error) {
	for i, rt := range c.roots {
		if ctx.Err() != nil {
			return
		}
		if !rt.isDir {
			if j, ok := r.prepareWalked(rt.path, i); ok {
				if emit(j) != nil {
					return
				}
			}
			continue
		}
		stop := false
		filepath.WalkDir(rt.walk, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				stop = true
				return fs.SkipAll
			}
			if err != nil {
				r.mu.Lock()
				r.found++
				r.mu.Unlock()
				r.finish(FileResult{Path: p, Status: Failed, Err: fmt.Errorf("%s: cannot be read: %w", p, unwrapPath(err, p))})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if p != rt.walk && c.absOut != "" && c.isOutDir(p) {
					return fs.SkipDir
				}
				if p != rt.walk && isFrameName(d.Name()) {
					r.notFrame(p, errFolderNamedLikeFrame) // reported; its contents are walked
				}
				return nil
			}
			if !isFrameName(d.Name()) {
				return nil
			}
			if err := frameProblem(p, d); err != nil {
				r.notFrame(p, err)
				return nil
			}
			j, ok := r.prepareWalked(p, i)
			if !ok {
				return nil
			}
			if emit(j) != nil {
				stop = true
				return fs.SkipAll
			}
			return nil
		})
		if stop {
			return
		}
	}
}

// errFolderNamedLikeFrame describes a folder whose name ends in .tif or
// .tiff.
var errFolderNamedLikeFrame = errors.New("a folder named like a frame, not converted (its contents are)")

// frameProblem tells why the walked entry d at p, named like a frame, is
// not one: not a regular file (a FIFO, a device, a socket: never opened),
// a symbolic link that cannot be followed (dangling, a loop) or that leads
// to something other than a regular file. It returns nil for a frame.
func frameProblem(p string, d fs.DirEntry) error {
	t := d.Type()
	switch {
	case t.IsRegular():
		return nil
	case t&fs.ModeSymlink != 0:
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("symbolic link cannot be followed: %w", unwrapPath(err, p))
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("symbolic link to %s, not a frame", cli.FileKind(fi.Mode()))
		}
		return nil
	}
	return fmt.Errorf("%s, not a frame (not opened)", cli.FileKind(t))
}

// notFrame reports (and counts) an entry named like a frame that is not
// one.
func (r *run) notFrame(p string, err error) {
	r.addFound(1)
	r.finish(FileResult{Path: p, Status: Failed, Err: fmt.Errorf("%s: %w", p, err)})
}

// prepareWalked is prepare for a frame found by the walk. In watch mode
// the frame is registered with the tracker, and skipped when the tracker
// already has it (it was written to during the walk).
func (r *run) prepareWalked(path string, rootIdx int) (job, bool) {
	if r.track != nil && !r.track.claim(path) {
		return job{}, false
	}
	j, ok := r.prepare(path, rootIdx)
	if r.track != nil {
		if ok {
			j.tracked = true
		} else {
			r.track.jobDone(path, stamp{}) // reported by prepare
		}
	}
	return j, ok
}

// isOutDir reports whether the folder p is the output folder.
func (c *Converter) isOutDir(p string) bool {
	abs, err := filepath.Abs(p)
	return err == nil && abs == c.absOut
}

// unwrapPath drops the *fs.PathError around err when it names p, so that
// messages do not repeat the path.
func unwrapPath(err error, p string) error {
	if pe, ok := err.(*fs.PathError); ok && pe.Path == p {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// upToDate reports whether all outputs of a frame exist and are complete and
// not older than the frame: the .chi files end with the saxsdog ending
// "\n ", the extra outputs only need to exist.
func upToDate(image string, chis, more []string) bool {
	fi, err := os.Stat(image)
	if err != nil {
		return false
	}
	mt := fi.ModTime()
	n := 0
	for _, p := range chis {
		if p == "" {
			continue
		}
		if !completeChi(p, mt) {
			return false
		}
		n++
	}
	for _, p := range more {
		if p == "" {
			continue
		}
		o, err := os.Stat(p)
		if err != nil || !o.Mode().IsRegular() || o.ModTime().Before(mt) {
			return false
		}
	}
	return n > 0
}

// completeChi reports whether path is a regular file not older than
// notBefore whose last bytes are the "\n " that ends every saxsdog .chi
// file. The outputs are written atomically, so this only guards against
// files written by other means.
func completeChi(path string, notBefore time.Time) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < 2 || fi.ModTime().Before(notBefore) {
		return false
	}
	var end [2]byte
	if _, err := f.ReadAt(end[:], fi.Size()-2); err != nil {
		return false
	}
	return end == [2]byte{'\n', ' '}
}
