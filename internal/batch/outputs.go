package batch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/monitor"
	"github.com/saxsdog/saxs/internal/render"
)

// The built-in Outputs of Config.SVG and Config.PNG, and the plot monitor
// publisher of the saxsdog command's --plotmonitor.

// swapExt returns path with its extension replaced by ext.
func swapExt(path, ext string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ext
}

// bufPool holds the buffers the pictures are drawn into before they are
// written atomically.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// svgOutput plots each curve of a frame next to its .chi file (Config.SVG).
type svgOutput struct{ ig *saxs.Integrator }

// Paths returns the .svg file of each .chi file: x.chi gives x.svg, and
// x_cR1.chi gives x_cR1.svg. An entry is "" for a curve not written.
func (svgOutput) Paths(chiPaths []string) []string {
	list := make([]string, len(chiPaths))
	for i, p := range chiPaths {
		if p != "" {
			list[i] = swapExt(p, ".svg")
		}
	}
	return list
}

// Write plots the curves of f with the standard deviation of the pixel
// values in each bin, which takes a second integration of the frame
// (Integrator.IntegrateError); the title is the frame's file name.
func (o svgOutput) Write(f *Frame) error {
	curves, err := o.ig.IntegrateErrorFrame(f.Image, f.Path)
	if err != nil {
		return fmt.Errorf("svg: %w", err)
	}
	title := filepath.Base(f.Path)
	b := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(b)
	for i, p := range o.Paths(f.ChiPaths) {
		if p == "" {
			continue
		}
		b.Reset()
		if err := render.CurveSVG(b, &curves[i], title); err != nil {
			return fmt.Errorf("svg %s: %w", p, err)
		}
		if err := writeFileAtomic(p, b.Bytes()); err != nil {
			return fmt.Errorf("svg %s: %w", p, err)
		}
	}
	return nil
}

// pngOutput writes a picture of each frame (Config.PNG).
type pngOutput struct {
	mask *saxs.Mask // marked on the picture; may be nil
}

// Paths returns the .png file of a frame, named after its first .chi file
// without the per-mask suffix that Integrator.ChiPaths adds with several
// curves: x.chi and x_cR0.chi both give x.png.
func (pngOutput) Paths(chiPaths []string) []string {
	for i, p := range chiPaths {
		if p == "" {
			continue
		}
		base := strings.TrimSuffix(p, filepath.Ext(p))
		if len(chiPaths) > 1 {
			base = strings.TrimSuffix(base, fmt.Sprintf("_cR%d", i))
		}
		return []string{base + ".png"}
	}
	return nil
}

// Write draws the frame with render.FramePNG.
func (o pngOutput) Write(f *Frame) error {
	paths := o.Paths(f.ChiPaths)
	if len(paths) == 0 {
		return nil
	}
	b := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(b)
	b.Reset()
	if err := render.FramePNG(b, f.Image, o.mask); err != nil {
		return fmt.Errorf("png %s: %w", paths[0], err)
	}
	if err := writeFileAtomic(paths[0], b.Bytes()); err != nil {
		return fmt.Errorf("png %s: %w", paths[0], err)
	}
	return nil
}

// pngMask loads the mask drawn on the pictures of Config.PNG: the first
// mask of cal, nil without a calibration.
func pngMask(cal *saxs.Calibration) (*saxs.Mask, error) {
	if cal == nil || len(cal.Masks) == 0 {
		return nil, nil
	}
	m, err := saxs.OpenMask(cal.MaskPath(0))
	if err != nil {
		return nil, fmt.Errorf("batch: mask of the frame pictures: %w", err)
	}
	if rows, cols := cal.Geometry.Imagesize[0], cal.Geometry.Imagesize[1]; m.Rows != rows || m.Cols != cols {
		return nil, fmt.Errorf("batch: mask of the frame pictures %s: %d × %d pixels, the calibration's frames %d × %d",
			cal.MaskPath(0), m.Rows, m.Cols, rows, cols)
	}
	return m, nil
}

// MonitorOutput returns an Output that publishes the curves of each
// converted frame (named by its path) to the plot monitor s. It writes no
// file and never blocks (see monitor.Server.Publish). Put it last in
// Config.Outputs, so that a frame is shown once its files are written.
func MonitorOutput(s *monitor.Server) Output { return monitorOutput{s} }

type monitorOutput struct{ s *monitor.Server }

func (monitorOutput) Paths([]string) []string { return nil }

func (o monitorOutput) Write(f *Frame) error {
	o.s.Publish(f.Path, f.Result.Curves)
	return nil
}

// Stale temporary files.
//
// The .chi files (saxs.WriteChiFile), the pictures and the errors log
// (writeFileAtomic) are written to a temporary file in their folder,
// created by os.CreateTemp with the pattern "."+name+".tmp*", which is
// then renamed over the output. A run that is killed (or a machine that
// crashes) may leave such files behind. A run removes them from each
// output folder before it writes the first output there, and from the
// errors log's folder when it starts: only regular files named
// "."+name+".tmp"+digits (what os.CreateTemp makes of the pattern), name
// being a .chi, .svg or .png file (or the errors log), and last modified
// before the run started.
//
// Since a folder is cleaned before any job that writes to it is handed
// to a worker, the run never removes a temporary file of its own; the
// time limit spares files that another process started writing after
// this run began. (Two runs writing into one output folder at once are
// not supported anyway.)

// tempOutputExts are the extensions of the outputs whose temporary files
// are removed from the output folders.
var tempOutputExts = []string{".chi", ".svg", ".png", ".dat", ".h5"}

// tempTarget returns the name of the output that name is a temporary file
// of ("x.chi" for ".x.chi.tmp123"), or "" when name does not have the
// form "."+target+".tmp"+digits.
func tempTarget(name string) string {
	if len(name) < 2 || name[0] != '.' {
		return ""
	}
	i := strings.LastIndex(name, ".tmp")
	if i < 2 {
		return ""
	}
	digits := name[i+len(".tmp"):]
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return ""
	}
	return name[1:i]
}

// isOutputTemp reports whether name is a temporary file of a .chi, .svg
// or .png output.
func isOutputTemp(name string) bool {
	target := tempTarget(name)
	for _, ext := range tempOutputExts {
		if len(target) > len(ext) && strings.HasSuffix(target, ext) {
			return true
		}
	}
	return false
}

// removeStaleTemps removes the regular files of dir whose names match and
// that were last modified before notAfter; a missing folder is no error.
func (c *Converter) removeStaleTemps(dir string, match func(name string) bool, notAfter time.Time) {
	list, err := os.ReadDir(dir)
	if err != nil {
		if !os.IsNotExist(err) {
			c.log.Debug("cannot look for stale temporary files", "folder", dir, "error", err)
		}
		return
	}
	for _, d := range list {
		if !d.Type().IsRegular() || !match(d.Name()) {
			continue
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(notAfter) {
			continue
		}
		p := filepath.Join(dir, d.Name())
		if err := os.Remove(p); err != nil {
			if !os.IsNotExist(err) {
				c.log.Warn("cannot remove stale temporary file", "file", p, "error", err)
			}
			continue
		}
		c.log.Info("removed stale temporary file", "file", p)
	}
}

// cleanOutputDirs removes the stale temporary files of the output folders
// of a job the first time the run meets each folder. Other callers for the
// same folder wait until it is done, so that no job writing there starts
// before.
func (r *run) cleanOutputDirs(lists ...[]string) {
	last := ""
	for _, list := range lists {
		for _, p := range list {
			if p == "" {
				continue
			}
			d := filepath.Dir(p)
			if d == last {
				continue
			}
			last = d
			key := d
			if abs, err := filepath.Abs(d); err == nil {
				key = abs // the same folder may be named relatively and absolutely
			}
			r.mu.Lock()
			if r.cleaned == nil {
				r.cleaned = map[string]*sync.Once{}
			}
			once := r.cleaned[key]
			if once == nil {
				once = new(sync.Once)
				r.cleaned[key] = once
			}
			r.mu.Unlock()
			once.Do(func() { r.c.removeStaleTemps(d, isOutputTemp, r.start) })
		}
	}
}

// cleanErrorLogDir removes the stale temporary files of the errors log.
func (r *run) cleanErrorLogDir() {
	if r.c.errLog == "" {
		return
	}
	base := filepath.Base(r.c.errLog)
	r.c.removeStaleTemps(filepath.Dir(r.c.errLog), func(name string) bool { return tempTarget(name) == base }, r.start)
}
