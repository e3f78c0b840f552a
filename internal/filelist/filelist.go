// Package filelist writes the live file list of the Python 3 fork of
// saxsdog (its calibration key Live-Filelisting): one line
//
//	path, I0, I1, I2
//
// per .chi file written, appended while the frames are converted, so that
// the list can be read (followed, like tail -f) during the run.
//
// The list of a data folder DIR lies beside it, in
// filepath.Dir(DIR)/results/filelist_<base name of DIR>.txt: with the
// server's folder layout User/Experiment/Setup that is
// User/Experiment/results/filelist_Setup.txt, the fork's place. Paths in
// the list are relative to the folder that holds results/ (the fork wrote
// them so, with a leading separator that is left out here), slash
// separated; a .chi file outside that folder is written with its absolute
// path. The numbers are the integral parameters of the curve (spec §3.3)
// as Python's str() prints a float, the digits of the .chi file's second
// header line (nan, inf and -inf for the non-finite values).
//
// The lines of one call of [List.Append] (the curves of one frame) go to
// the file in a single write(2) on a descriptor opened with O_APPEND:
// writers never interleave, each line is whole in the file once Append
// returns, and a reader that takes the lines up to the last newline (as
// tail -f does) never sees part of one. A read that ends at the end of the
// file can end inside the line being written: Linux makes a write visible
// page by page, so a line that crosses a 4 KiB boundary of the file shows
// its first part first (TestConcurrentWritersAndReader counts how often).
// A reader must therefore leave a last piece without its newline for the
// next read. The file is created when missing (with its results folder)
// and never truncated: a new run appends. A list that cannot be written is
// logged once and otherwise ignored: it never stops a conversion.
package filelist

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/saxsdog/saxs/internal/pyjson"
)

// ResultsDir is the folder of the lists, beside the data folder.
const ResultsDir = "results"

// PathFor returns the list of the data folder dir:
// filepath.Dir(dir)/results/filelist_<base name of dir>.txt, dir made
// absolute first (so that "." names its folder).
func PathFor(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Join(filepath.Dir(dir), ResultsDir, "filelist_"+filepath.Base(dir)+".txt")
}

// Entry is one line of the list: a .chi file and its curve's integral
// parameters.
type Entry struct {
	Path       string // the .chi file (absolute, or relative to the working folder)
	I0, I1, I2 float64
}

// List is the live file list of one data folder. It is safe for
// concurrent use. The zero value is not usable; build it with New.
type List struct {
	path string
	base string // absolute folder the entries' paths are made relative to
	log  *slog.Logger

	mu     sync.Mutex
	f      *os.File
	logged bool // a failure was logged
}

// New returns the list at path (see PathFor). It is opened at the first
// Append. log receives the one warning about a list that cannot be
// written; nil discards it.
func New(path string, log *slog.Logger) *List {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return &List{path: path, base: filepath.Dir(filepath.Dir(abs)), log: log}
}

// Path returns the file of the list.
func (l *List) Path() string { return l.path }

// Append adds the lines of entries (those of one frame) in one write. An
// error is logged the first time only; the entries are then lost, and the
// next Append tries again.
func (l *List) Append(entries ...Entry) {
	if len(entries) == 0 {
		return
	}
	var buf []byte
	for _, e := range entries {
		buf = l.appendLine(buf, e)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writeLocked(buf); err != nil && !l.logged {
		l.logged = true
		l.log.Warn("live file list not written; conversion goes on without it (logged once)", "file", l.path, "error", err)
	}
}

func (l *List) writeLocked(buf []byte) error {
	if l.f == nil {
		if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return errors.Join(fmt.Errorf("%s is not a regular file", l.path), err)
		}
		l.f = f
	}
	// One write(2) for a regular file (os.File.Write only loops on a
	// short write, which a local file system does not do but on error).
	if _, err := l.f.Write(buf); err != nil {
		l.f.Close()
		l.f = nil
		return err
	}
	return nil
}

// Close closes the file; a later Append opens it again.
func (l *List) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// rel returns the path written for p: relative to the list's base folder
// when below it, else absolute; slash separated.
func (l *List) rel(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	if r, err := filepath.Rel(l.base, abs); err == nil && filepath.IsLocal(r) {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(abs)
}

// appendLine appends the line of e.
func (l *List) appendLine(buf []byte, e Entry) []byte {
	return AppendLine(buf, l.rel(e.Path), e.I0, e.I1, e.I2)
}

// AppendLine appends the list line "path, I0, I1, I2\n" to buf. A path
// that holds a character that is not printable (a newline) or starts with
// a double quote is written quoted like strconv.Quote, so that it cannot
// forge a line; ParseLine reads the numbers from the right, so a path may
// hold ", ".
func AppendLine(buf []byte, path string, i0, i1, i2 float64) []byte {
	if quoteNeeded(path) {
		buf = strconv.AppendQuote(buf, path)
	} else {
		buf = append(buf, path...)
	}
	for _, v := range [3]float64{i0, i1, i2} {
		buf = append(buf, ", "...)
		buf = appendFloat(buf, v)
	}
	return append(buf, '\n')
}

func quoteNeeded(p string) bool {
	if p == "" || p[0] == '"' {
		return true
	}
	for _, r := range p {
		if r == utf8.RuneError || (!unicode.IsPrint(r) && r != ' ') {
			return true
		}
	}
	return false
}

// appendFloat appends Python's str(v).
func appendFloat(buf []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(buf, "nan"...)
	case math.IsInf(v, 1):
		return append(buf, "inf"...)
	case math.IsInf(v, -1):
		return append(buf, "-inf"...)
	}
	return pyjson.AppendFloat(buf, v)
}

// ParseLine reads one line of a list (without or with its newline): the
// path as written and the three numbers.
func ParseLine(line string) (Entry, error) {
	s := strings.TrimSuffix(line, "\n")
	var e Entry
	var vals [3]float64
	for k := 2; k >= 0; k-- {
		i := strings.LastIndex(s, ", ")
		if i < 0 {
			return e, fmt.Errorf("filelist: line %q: want \"path, I0, I1, I2\"", line)
		}
		v, err := strconv.ParseFloat(s[i+2:], 64)
		if err != nil {
			return e, fmt.Errorf("filelist: line %q: field %d: %w", line, k+2, err)
		}
		vals[k] = v
		s = s[:i]
	}
	if strings.HasPrefix(s, `"`) {
		p, err := strconv.Unquote(s)
		if err != nil {
			return e, fmt.Errorf("filelist: line %q: path: %w", line, err)
		}
		s = p
	}
	if s == "" {
		return e, fmt.Errorf("filelist: line %q: no path", line)
	}
	e.Path, e.I0, e.I1, e.I2 = s, vals[0], vals[1], vals[2]
	return e, nil
}
