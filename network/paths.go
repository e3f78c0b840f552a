package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrOutside is returned for a path that leaves the server folder.
var ErrOutside = errors.New("path leaves the server folder")

// within reports whether path lies in dir or below it, comparing whole
// path components (/d/run10 is not within /d/run1). Both must be clean.
func within(path, dir string) bool {
	if path == dir {
		return true
	}
	if !strings.HasPrefix(path, dir) {
		return false
	}
	return strings.HasSuffix(dir, string(filepath.Separator)) || path[len(dir)] == filepath.Separator
}

// resolveUnder resolves the path components comps below root (an
// absolute, symlink-free folder): absolute components, ".." that leave
// root and symbolic links that point outside are refused with an error
// wrapping ErrOutside. It returns the absolute resolved path and the
// components relative to root. The path must exist.
func resolveUnder(root string, comps []string) (string, []string, error) {
	for _, c := range comps {
		if filepath.IsAbs(c) || strings.HasPrefix(c, "/") {
			return "", nil, fmt.Errorf("%q: absolute path: %w", strings.Join(comps, "/"), ErrOutside)
		}
	}
	rel := filepath.Clean(filepath.Join(append([]string{"."}, comps...)...))
	if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", nil, fmt.Errorf("%q: %w", strings.Join(comps, "/"), ErrOutside)
	}
	p, err := filepath.EvalSymlinks(filepath.Join(root, rel))
	if err != nil {
		return "", nil, err
	}
	if !within(p, root) {
		return "", nil, fmt.Errorf("%q: a symbolic link leads out: %w", strings.Join(comps, "/"), ErrOutside)
	}
	r, err := filepath.Rel(root, p)
	if err != nil {
		return "", nil, err
	}
	return p, splitComps(r), nil
}

// splitComps splits a relative path into its components ("." gives none).
func splitComps(rel string) []string {
	if rel == "." || rel == "" {
		return []string{}
	}
	return strings.Split(filepath.ToSlash(rel), "/")
}

// realDir returns the absolute, symlink-free form of an existing folder.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	p, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a folder", dir)
	}
	return p, nil
}

// dirCacheTTL is how long a dirCache trusts a folder's resolved path.
const dirCacheTTL = time.Second

// dirCache resolves announced paths (feederPath), keeping the resolution
// of the last folder for dirCacheTTL: a feeder announces the frames of one
// folder in a row, and resolving its symbolic links costs an lstat per
// path component. A link retargeted meanwhile is seen within dirCacheTTL;
// a folder that cannot be resolved is not kept. Not safe for concurrent
// use.
type dirCache struct {
	dir, resolved string
	ok            bool // dir, resolved and at hold a resolution
	at            time.Time
}

// feederPath turns a path announced by a feeder (relative to the server
// folder, or absolute) into an absolute clean path, resolving the
// symbolic links of its folder when it exists (as of now).
func (c *dirCache) feederPath(serverDir, p string, now time.Time) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(serverDir, p)
	}
	p = filepath.Clean(p)
	dir := filepath.Dir(p)
	if !c.ok || dir != c.dir || now.Sub(c.at) >= dirCacheTTL || now.Before(c.at) {
		d, err := filepath.EvalSymlinks(dir)
		if err != nil { // not kept: the folder may appear at once
			c.ok = false
			return p
		}
		c.dir, c.resolved, c.ok, c.at = dir, d, true, now
	}
	return filepath.Join(c.resolved, filepath.Base(p))
}

// isFrameName reports whether name ends in .tif or .tiff (any case).
func isFrameName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".tif" || ext == ".tiff"
}
