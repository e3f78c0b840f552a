package batch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/saxsdog/saxs"
)

// Detector files other than TIFF (CBF, EDF, HDF5/NeXus), multi-frame
// files, the detector's pixel mask and the .dat and NXcanSAS outputs.

// frameExts are the extensions of the files converted, in any case.
var frameExts = []string{".tif", ".tiff", ".cbf", ".edf", ".h5", ".nxs"}

// eigerDataName matches an Eiger data file (x_data_000001.h5), reached
// through its master file's links and not converted on its own.
var eigerDataName = regexp.MustCompile(`(?i)_data_[0-9]+\.(h5|nxs)$`)

// NXcanSASSuffix ends the name of the NXcanSAS output of an input file
// (x.cbf gives x.nxcansas.h5); such files are never taken for frames.
const NXcanSASSuffix = ".nxcansas.h5"

// frameExt returns the detector-file extension of name as written, or "".
func frameExt(name string) string {
	for _, ext := range frameExts {
		if len(name) > len(ext) && strings.EqualFold(name[len(name)-len(ext):], ext) {
			return name[len(name)-len(ext):]
		}
	}
	return ""
}

// isFrameName reports whether a file name is that of a detector file to
// convert: .tif, .tiff, .cbf, .edf, .h5 or .nxs in any case, except an
// Eiger data file (*_data_NNNNNN.h5) and an NXcanSAS output.
func isFrameName(name string) bool {
	if frameExt(name) == "" {
		return false
	}
	return !eigerDataName.MatchString(name) && !hasSuffixFold(name, NXcanSASSuffix)
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// Output formats of Config.Formats.
const (
	FormatChi      = "chi"      // the saxsdog .chi text, one file per curve and frame (always written)
	FormatDat      = "dat"      // pyFAI-style .dat text next to each .chi file (saxs.WriteDat)
	FormatNXcanSAS = "nxcansas" // one NXcanSAS HDF5 file per input file with all its frames and curves
)

// ParseFormats checks a list of output formats ("chi", "dat",
// "nxcansas"); "chi" must be among them (the .chi files are always
// written). It returns whether .dat and NXcanSAS are asked for.
func ParseFormats(list []string) (dat, nxcansas bool, err error) {
	chi := false
	for _, f := range list {
		switch strings.ToLower(strings.TrimSpace(f)) {
		case FormatChi:
			chi = true
		case FormatDat:
			dat = true
		case FormatNXcanSAS:
			nxcansas = true
		default:
			return false, false, fmt.Errorf("unknown output format %q (chi, dat, nxcansas)", f)
		}
	}
	if !chi {
		return false, false, errors.New("the output formats must include chi (the .chi files are always written)")
	}
	return dat, nxcansas, nil
}

// datOutput writes a pyFAI-style .dat file next to each .chi file
// (Config.Dat).
type datOutput struct{ cal *saxs.Calibration }

// Paths returns the .dat file of each .chi file: x.chi gives x.dat.
func (datOutput) Paths(chiPaths []string) []string {
	list := make([]string, len(chiPaths))
	for i, p := range chiPaths {
		if p != "" {
			list[i] = swapExt(p, ".dat")
		}
	}
	return list
}

// Write writes the curves of f with saxs.WriteDatFile.
func (o datOutput) Write(f *Frame) error {
	for i, p := range o.Paths(f.ChiPaths) {
		if p == "" {
			continue
		}
		src := f.Source
		if src == "" {
			src = f.Path
		}
		if err := saxs.WriteDatFile(p, o.cal, &f.Result.Curves[i], src); err != nil {
			return err
		}
	}
	return nil
}

// fileOutputs returns the outputs written once per input file whose .chi
// base path is base: its NXcanSAS file with Config.NXcanSAS.
func (c *Converter) fileOutputs(base string) []string {
	if !c.cfg.NXcanSAS || c.ig == nil {
		return nil
	}
	return []string{strings.TrimSuffix(base, filepath.Ext(base)) + NXcanSASSuffix}
}

// frameState is the state of a Converter for detector files other than
// TIFF: a pool of readers, the integrators for detector pixel masks and
// the header disagreements already warned about.
type frameState struct {
	readers sync.Pool // *saxs.FrameReader

	mu     sync.Mutex
	masked map[[32]byte]*maskedIntegrator
	warned map[string]bool
}

// maxMaskedIntegrators bounds the integrators kept for distinct pixel masks
// (each holds an operator of a few bytes per pixel).
const maxMaskedIntegrators = 8

// MaskKey returns a key of the mask's size and pixels (SHA-256), under
// which integrators built with the mask are cached.
func MaskKey(m *saxs.Mask) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d×%d:", m.Rows, m.Cols)
	row := make([]byte, len(m.Masked))
	for i, b := range m.Masked {
		if b {
			row[i] = 1
		}
	}
	h.Write(row)
	var key [32]byte
	h.Sum(key[:0])
	return key
}

// maskedIntegrator is the integrator for one detector pixel mask, built
// once (ready is closed when ig or err is set).
type maskedIntegrator struct {
	ready chan struct{}
	ig    *saxs.Integrator
	err   error
}

// integratorFor returns the integrator for frames with the detector
// pixel mask pm: the run's integrator with each calibration mask combined
// with pm, built on first use and cached by the mask's content.
func (c *Converter) integratorFor(ctx context.Context, path string, pm *saxs.Mask) (*saxs.Integrator, error) {
	if pm == nil || pm.Count() == 0 {
		return c.ig, nil
	}
	key := MaskKey(pm)
	fs := &c.frames
	fs.mu.Lock()
	if fs.masked == nil {
		fs.masked = map[[32]byte]*maskedIntegrator{}
	}
	m, ok := fs.masked[key]
	if !ok {
		if len(fs.masked) >= maxMaskedIntegrators {
			// Frames whose overflowed pixels differ each time would keep
			// an operator each: the cache drops ready entries (any) past the bound. An
			// evicted integrator stays valid for the workers holding it.
			for k, old := range fs.masked {
				select {
				case <-old.ready:
					delete(fs.masked, k)
				default:
				}
				if len(fs.masked) < maxMaskedIntegrators {
					break
				}
			}
		}
		m = &maskedIntegrator{ready: make(chan struct{})}
		fs.masked[key] = m
	}
	fs.mu.Unlock()
	if ok {
		select {
		case <-m.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return m.ig, m.err
	}
	defer close(m.ready)
	cal := c.cfg.Calibration
	if cal == nil || c.cfg.Integrator != nil {
		cal = c.ig.Calibration()
	}
	if c.cfg.Masks != nil && len(c.cfg.Masks) != len(cal.Masks) {
		m.err = fmt.Errorf("detector pixel mask: %d masks given for %d calibration masks", len(c.cfg.Masks), len(cal.Masks))
		return nil, m.err
	}
	masks := make([]*saxs.Mask, len(cal.Masks))
	for i := range cal.Masks {
		var cm *saxs.Mask
		var err error
		if c.cfg.Masks != nil {
			cm = c.cfg.Masks[i]
		} else if cm, err = saxs.OpenMask(cal.MaskPath(i)); err != nil {
			m.err = fmt.Errorf("detector pixel mask: calibration mask %d: %w", i, err)
			return nil, m.err
		}
		if masks[i], err = saxs.CombineMasks(cm, pm); err != nil {
			m.err = fmt.Errorf("detector pixel mask: %w", err)
			return nil, m.err
		}
	}
	opt := c.cfg.IntegratorOptions
	opt.Masks = masks
	if opt.Workers == 0 {
		opt.Workers = c.workers
	}
	c.log.Info("detector pixel mask combined with the calibration's masks: building an integrator for it",
		"file", path, "masked pixels", pm.Count())
	m.ig, m.err = saxs.NewContext(ctx, cal, opt)
	if m.err != nil {
		m.err = fmt.Errorf("integrator for the detector pixel mask: %w", m.err)
	}
	return m.ig, m.err
}

// warnDisagreements warns about each header value of a frame that
// disagrees with the calibration, once per message and run.
func (c *Converter) warnDisagreements(path string, fi saxs.FrameInfo) {
	list := fi.Disagreements(c.ig.Calibration())
	if len(list) == 0 {
		return
	}
	fs := &c.frames
	for _, d := range list {
		fs.mu.Lock()
		if fs.warned == nil {
			fs.warned = map[string]bool{}
		}
		seen := fs.warned[d]
		fs.warned[d] = true
		fs.mu.Unlock()
		if !seen {
			c.log.Warn("file header disagrees with the calibration (the calibration is used; warned once)", "file", path, "disagreement", d)
		}
	}
}

// convertFrames converts a detector file read through saxs.FrameReader
// (any format; all but .tif/.tiff files take this way): one set of .chi
// files per frame, named by saxs.FramePath (x.cbf gives x.chi, frame 7 of
// the 10 of x.h5 gives x_00007.chi), and with Config.NXcanSAS one file
// with all frames. readFailed tells that the file could not be opened or
// read, which may mean that it (or an Eiger master's data file) is still
// being written.
func (c *Converter) convertFrames(ctx context.Context, j job, img *saxs.Image, res *saxs.Result) (fr FileResult, readFailed bool) {
	fr = FileResult{Path: j.path, Outputs: j.outs, Status: Failed}
	rd, _ := c.frames.readers.Get().(*saxs.FrameReader)
	if rd == nil {
		rd = new(saxs.FrameReader)
	}
	defer c.frames.readers.Put(rd)
	clk := c.clock()
	src, err := rd.Open(j.path)
	if err != nil {
		fr.Err = err
		if errors.Is(err, saxs.ErrNotRegular) {
			return fr, false
		}
		if !namesPath(err, j.path) {
			fr.Err = fmt.Errorf("%s: read: %w", j.path, err)
		}
		return fr, true
	}
	defer src.Close()
	n := src.Len()
	if n == 0 {
		fr.Err = fmt.Errorf("%s: no frames", j.path)
		return fr, true
	}
	if c.ig == nil {
		if err := src.ReadFrame(0, img); err != nil {
			fr.Err = err
			return fr, true
		}
		if err := c.cfg.Announce(j.path); err != nil {
			fr.Err = fmt.Errorf("%s: announce: %w", j.path, err)
			return fr, false
		}
		fr.Status = Converted
		return fr, false
	}
	chis, mores := make([][]string, n), make([][]string, n)
	var allChi, allMore []string
	for i := range n {
		if n == 1 {
			chis[i], mores[i] = j.outs, j.more
			allChi = append(allChi, j.outputs()...)
		} else {
			fp := saxs.FramePath(j.base, i, n)
			chis[i] = c.ig.ChiPaths(fp)
			mores[i] = c.extraPaths(chis[i])
			allChi = append(allChi, c.ig.OutputPaths(fp)...)
		}
		allMore = append(allMore, mores[i]...)
	}
	files := c.fileOutputs(j.base)
	if n > 1 {
		fr.Outputs = allChi
		if c.cfg.Resume && upToDate(j.path, allChi, append(allMore, files...)) {
			fr.Status = Skipped
			return fr, false
		}
		if err := makeDirs(allChi, allMore); err != nil {
			fr.Err = fmt.Errorf("%s: %w", j.path, err)
			return fr, false
		}
	}
	ig, err := c.integratorFor(ctx, j.path, src.PixelMask())
	if err != nil {
		fr.Err = fmt.Errorf("%s: %w", j.path, err)
		return fr, false
	}
	if ig != c.ig {
		res = ig.NewResult()
	}
	var sas []*saxs.Curve
	for i := range n {
		if err := src.ReadFrame(i, img); err != nil {
			fr.Err = err
			if !namesPath(err, j.path) {
				fr.Err = fmt.Errorf("%s: frame %d: %w", j.path, i, err)
			}
			return fr, !errors.Is(err, saxs.ErrNotRegular)
		}
		clk.lap(StageRead)
		c.warnDisagreements(j.path, src.Info(i))
		fig, fres := ig, res
		if om := overflowMask(src, img); om != nil {
			// Overflowed pixels of this frame: integrated with them masked
			// too (an integrator per distinct set, cached like the pixel
			// mask's).
			oig, err := c.integratorFor(ctx, j.path, om)
			if err != nil {
				fr.Err = fmt.Errorf("%s: frame %d: %w", j.path, i, err)
				return fr, false
			}
			fig, fres = oig, oig.NewResult()
		}
		if err := fig.IntegrateTo(fres, img); err != nil {
			fr.Err = fmt.Errorf("%s: frame %d: integrate: %w", j.path, i, err)
			return fr, false
		}
		clk.lap(StageIntegrate)
		base := saxs.FramePath(j.base, i, n)
		if err := fig.WriteChi(fres, base); err != nil {
			fr.Err = fmt.Errorf("%s: write: %w", j.path, err)
			return fr, false
		}
		if len(files) > 0 {
			sas = appendCurves(sas, fres, chis[i])
			if i == n-1 { // before the Outputs of the last frame, so that they see a complete file
				if err := c.writeFileOutputs(j, files, sas); err != nil {
					fr.Err = err
					return fr, false
				}
			}
		}
		if len(c.outputs) > 0 {
			f := &Frame{Path: saxs.FramePath(j.path, i, n), ChiPaths: chis[i], Image: img, Result: fres, Input: j.path}
			if n > 1 {
				f.Source = fmt.Sprintf("%s frame %d of %d", j.path, i, n)
			}
			if err := c.writeOutputs(j.path, f); err != nil {
				fr.Err = err
				return fr, false
			}
		}
		clk.lap(StageWrite)
	}
	fr.Status = Converted
	return fr, false
}

// appendCurves appends copies of the written curves of res (those with a
// .chi path) to list.
func appendCurves(list []*saxs.Curve, res *saxs.Result, chis []string) []*saxs.Curve {
	for k := range res.Curves {
		if k < len(chis) && chis[k] == "" {
			continue
		}
		cv := res.Curves[k]
		cv.I = append([]float64(nil), cv.I...)
		cv.Sigma = append([]float64(nil), cv.Sigma...)
		list = append(list, &cv)
	}
	return list
}

// writeFileOutputs writes the per-file outputs (the NXcanSAS file) of the
// input j with the curves of all its frames.
func (c *Converter) writeFileOutputs(j job, files []string, curves []*saxs.Curve) error {
	if len(files) == 0 {
		return nil
	}
	cal := c.ig.Calibration()
	if err := saxs.WriteNXcanSASFile(files[0], cal, filepath.Base(j.path), curves); err != nil {
		return fmt.Errorf("%s: write: %w", j.path, err)
	}
	return nil
}

// overflowMask returns, for a frame of an HDF5 (Eiger) source that has
// pixels at the overflow value (read as negative counts, see
// saxs.FrameSource), the source's pixel mask with those pixels added; nil
// when the frame has none outside the pixel mask (the usual case: one pass
// over the counts). Other formats keep their negative values as they are,
// as the original does for Pilatus frames.
func overflowMask(src saxs.FrameSource, img *saxs.Image) *saxs.Mask {
	if src.Format() != saxs.FormatHDF5 || img.Counts == nil {
		return nil
	}
	pm := src.PixelMask()
	if pm != nil && len(pm.Masked) != len(img.Counts) {
		pm = nil // a pixel mask of another size is refused by integratorFor
	}
	var om *saxs.Mask
	for i, v := range img.Counts {
		if v >= 0 || pm != nil && pm.Masked[i] {
			continue
		}
		if om == nil {
			om = &saxs.Mask{Rows: img.Rows, Cols: img.Cols, Masked: make([]bool, len(img.Counts))}
			if pm != nil {
				copy(om.Masked, pm.Masked)
			}
		}
		om.Masked[i] = true
	}
	return om
}
