package batch

import (
	"path/filepath"
	"sync"

	"github.com/saxsdog/saxs/internal/filelist"
)

// fileLists are the live file lists of a run (Config.LiveFileList), one
// per data folder, opened at their first line.
type fileLists struct {
	mu    sync.Mutex
	lists map[string]*filelist.List // by list path
}

// listFor returns the list of the frame at path: that of the folder root
// holding it, else of its own folder.
func (c *Converter) listFor(path string) *filelist.List {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	dir := filepath.Dir(abs)
	for _, r := range c.roots {
		if r.isDir && within(abs, r.abs) {
			dir = r.abs
			break
		}
	}
	p := filelist.PathFor(dir)
	c.lists.mu.Lock()
	defer c.lists.mu.Unlock()
	l := c.lists.lists[p]
	if l == nil {
		if c.lists.lists == nil {
			c.lists.lists = map[string]*filelist.List{}
		}
		l = filelist.New(p, c.log)
		c.lists.lists[p] = l
	}
	return l
}

// close closes the lists' files (a later line opens them again).
func (f *fileLists) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.lists {
		_ = l.Close()
	}
}

// LiveFileListPath returns the live file list that the frames of the
// folder dir are listed in (Config.LiveFileList).
func LiveFileListPath(dir string) string { return filelist.PathFor(dir) }

// listOutput is the Output that appends the lines of a frame to its live
// file list; it writes no file of its own for Resume to check.
type listOutput struct{ c *Converter }

// Paths is part of Output: the list is no output of the frame.
func (listOutput) Paths([]string) []string { return nil }

// Write is part of Output: one line per .chi file written. It never
// fails: a list that cannot be written is logged once by the list.
func (o listOutput) Write(f *Frame) error {
	var entries []filelist.Entry
	for k, p := range f.ChiPaths {
		if p == "" || k >= len(f.Result.Curves) {
			continue
		}
		pr := f.Result.Curves[k].Params
		entries = append(entries, filelist.Entry{Path: p, I0: pr.I0, I1: pr.I1, I2: pr.I2})
	}
	in := f.Input
	if in == "" {
		in = f.Path
	}
	o.c.listFor(in).Append(entries...)
	return nil
}
