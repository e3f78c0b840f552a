package merge

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/saxsdog/saxs"
)

// Frame is what Merge needs of one integrated frame.
type Frame struct {
	// File is the frame's path (its base name identifies it in the table).
	File string
	// Time is the header time stamp; see Config.FrameTime.
	Time time.Time
	// Exposure is the exposure time in seconds (≥ 0).
	Exposure float64
	// Params are the integral parameters per curve kind ("R0", "R1", ...
	// as the original's IntegralParameters keys).
	Params map[string]saxs.IntegralParameters
	// Curves are the frame's curves per kind, for the HDF5 output with
	// HDFOptions.IncludeCHI; may be nil.
	Curves map[string]*saxs.ChiFile
}

// Source opens the log file of a LogFile entry; name is the path used in
// error messages.
type Source func(f LogFile) (r io.ReadCloser, name string, err error)

// Table is the merged table: a row per frame, in order of exposure start.
type Table struct {
	// Files are the frames' base names, Paths their paths.
	Files, Paths []string
	// Start are the starts of the exposures.
	Start []time.Time
	// Columns are the names of the value columns; Values[r][c] the value
	// of column c in row r (NaN: no value).
	Columns []string
	Values  [][]float64
	// Shift is the time shift the correlation found (added to the log
	// times), 0 without correlation.
	Shift time.Duration
	// Warnings are the rows and frames skipped and the outputs ignored.
	Warnings []error
	// Frames are the rows' frames (for the curves of the HDF5 output).
	Frames []*Frame
	// Shutter is the correlated table (else the table named Peak), aligned,
	// for the sync plot; nil without such a table.
	Shutter *Log
	// Ref is the time origin of Shutter's times.
	Ref time.Time
}

// ColExposure is the column of the frames' exposure times.
const ColExposure = "Exposure_time [s] (Img)"

// Merge joins frames and the configuration's log tables (opened with
// open) into one table. Frames without a time stamp are skipped with a
// warning; skipped log rows are warnings too. Configuration problems,
// unreadable or unsorted logs, a missing zero image and a transmission
// whose columns are missing are errors.
func Merge(conf *Config, frames []*Frame, open Source) (*Table, error) {
	if err := conf.Check("configuration"); err != nil {
		return nil, err
	}
	tab := &Table{}
	var fr []*Frame
	for _, f := range frames {
		if f.Time.IsZero() {
			tab.Warnings = append(tab.Warnings, fmt.Errorf("frame %s: no time stamp in its header, skipped", f.File))
			continue
		}
		if f.Exposure < 0 || math.IsNaN(f.Exposure) || math.IsInf(f.Exposure, 0) {
			tab.Warnings = append(tab.Warnings, fmt.Errorf("frame %s: exposure time %v, skipped", f.File, f.Exposure))
			continue
		}
		fr = append(fr, f)
	}
	if len(fr) == 0 {
		return nil, errNoFrames
	}
	// Times are seconds since ref, a whole second near the frames, which
	// keeps the float64 arithmetic at sub-nanosecond resolution.
	ref := fr[0].Time.Truncate(time.Second)
	refUnix := float64(ref.Unix())
	start := make([]float64, len(fr))
	for i, f := range fr {
		t := f.Time.Sub(ref).Seconds()
		if conf.FrameTime != "start" {
			t -= f.Exposure
		}
		start[i] = t
	}
	idx := make([]int, len(fr))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return start[idx[a]] < start[idx[b]] })

	// Logs, shifted by the offsets.
	logs := make([]*Log, len(conf.LogDataTables))
	for ti := range conf.LogDataTables {
		t := &conf.LogDataTables[ti]
		var parts []*Log
		var names []string
		for _, lf := range t.Files {
			r, name, err := open(lf)
			if err != nil {
				return nil, fmt.Errorf("log table %s: %w", t.Name, err)
			}
			l, skipped, err := ParseLog(r, name)
			r.Close()
			for _, s := range skipped {
				tab.Warnings = append(tab.Warnings, s)
			}
			if err != nil {
				return nil, fmt.Errorf("log table %s: %w", t.Name, err)
			}
			parts = append(parts, l)
			names = append(names, name)
		}
		l, err := joinLogs(t.Name, parts, names)
		if err != nil {
			return nil, fmt.Errorf("log table %s: %w", t.Name, err)
		}
		epoch := refUnix
		if t.TimeEpoch == "Mac" {
			epoch += MacEpochOffset
		}
		off := t.TimeOffset + conf.TimeOffset
		for i := range l.Times {
			l.Times[i] = l.Times[i] - epoch - off
		}
		logs[ti] = l
	}

	// Correlation.
	shift := 0.0
	for ti, t := range conf.LogDataTables {
		switch {
		case t.FirstImageCorrelation:
			shift = start[idx[0]] - logs[ti].Times[0]
		case t.ZeroImageCorrelation:
			zero := conf.ZeroImage
			if zero == "" {
				zero = DefaultZeroImage
			}
			found := false
			for _, i := range idx {
				if filepath.Base(fr[i].File) == zero {
					shift, found = start[i]-logs[ti].Times[0], true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("merge: LogDataTables[%d] (%s): ZeroImageCorrelation: no frame named %q", ti, t.Name, zero)
			}
		default:
			continue
		}
		tab.Shutter = logs[ti]
	}
	for _, l := range logs {
		for i := range l.Times {
			l.Times[i] += shift
		}
	}
	tab.Shift = time.Duration(math.Round(shift * 1e9))
	tab.Ref = ref
	if tab.Shutter == nil {
		for ti, t := range conf.LogDataTables {
			if t.Name == "Peak" {
				tab.Shutter = logs[ti]
			}
		}
	}

	// Columns: exposure, integral parameters, logs, transmissions.
	kinds := map[string]bool{}
	for _, f := range fr {
		for k := range f.Params {
			kinds[k] = true
		}
	}
	kindList := make([]string, 0, len(kinds))
	for k := range kinds {
		kindList = append(kindList, k)
	}
	sort.Strings(kindList)
	tab.Columns = []string{ColExposure}
	for _, k := range kindList {
		tab.Columns = append(tab.Columns, "I0 ("+k+")", "I1 ("+k+")", "I2 ("+k+")")
	}
	type trans struct{ d, i int }
	transm := make([]*trans, len(logs))
	for ti, l := range logs {
		for _, c := range l.Columns {
			tab.Columns = append(tab.Columns, c+" ("+l.Name+")")
		}
		for _, p := range [][2]string{{"Diode", "Ioni"}, {"Diode_avg", "Ioni_avg"}} {
			if d, i := l.column(p[0]), l.column(p[1]); d >= 0 && i >= 0 {
				transm[ti] = &trans{d, i}
				tab.Columns = append(tab.Columns, "transm ("+l.Name+")")
				break
			}
		}
	}

	for _, i := range idx {
		f := fr[i]
		a, b := start[i], start[i]+f.Exposure
		row := []float64{f.Exposure}
		for _, k := range kindList {
			p, ok := f.Params[k]
			if !ok {
				p = saxs.IntegralParameters{I0: math.NaN(), I1: math.NaN(), I2: math.NaN()}
			}
			row = append(row, p.I0, p.I1, p.I2)
		}
		for ti, l := range logs {
			avg := conf.LogDataTables[ti].sampling() == SampleAverage && b > a
			base := len(row)
			for c := range l.Columns {
				if avg {
					row = append(row, l.mean(c, a, b))
				} else {
					row = append(row, l.at(c, a))
				}
			}
			if tr := transm[ti]; tr != nil {
				row = append(row, math.Abs(row[base+tr.d]/row[base+tr.i]))
			}
		}
		tab.Files = append(tab.Files, filepath.Base(f.File))
		tab.Paths = append(tab.Paths, f.File)
		tab.Start = append(tab.Start, ref.Add(time.Duration(math.Round(a*1e9))).UTC())
		tab.Values = append(tab.Values, row)
		tab.Frames = append(tab.Frames, f)
	}
	if conf.OutputFormats.Excel {
		tab.Warnings = append(tab.Warnings, errors.New("OutputFormats.exel: Excel files are not written (use csv)"))
	}
	for _, f := range tab.Files {
		if strings.ContainsAny(f, "\n\r") {
			return nil, fmt.Errorf("merge: frame name %q holds a line break", f)
		}
	}
	return tab, nil
}

// FileSource opens each log file from the file system: LocalPath, else
// RemotePath (or Path) joined, relative to dir.
func FileSource(dir string) Source {
	return func(f LogFile) (io.ReadCloser, string, error) {
		p := f.LocalPath
		if p == "" {
			comps := f.RemotePath
			if len(comps) == 0 {
				comps = f.Path
			}
			p = filepath.Join(comps...)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		r, err := os.Open(p)
		if err != nil {
			return nil, p, err
		}
		return r, p, nil
	}
}
