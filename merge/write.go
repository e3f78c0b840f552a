package merge

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/saxsdog/saxs/internal/atomicfile"
	"github.com/saxsdog/saxs/internal/h5"
)

// TimeLayout is the layout of the CSV output's Time column (UTC).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// formatValue writes v for the CSV outputs: shortest round-trip, "" for
// NaN (as pandas' to_csv).
func formatValue(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// csvField quotes s when it needs it (RFC 4180).
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// WriteCSV writes the table as CSV: a header line, then per frame its
// start (TimeLayout, UTC), its file name and the values ("" for none).
func (t *Table) WriteCSV(w io.Writer) error { return t.writeCSV(w, false) }

// WriteIgorCSV writes the table as CSV whose first column is the start in
// seconds since 1904-01-01 UTC, the time Igor Pro uses.
func (t *Table) WriteIgorCSV(w io.Writer) error { return t.writeCSV(w, true) }

func (t *Table) writeCSV(w io.Writer, igor bool) error {
	bw := bufio.NewWriter(w)
	first := "Time"
	if igor {
		first = "Time [s since 1904]"
	}
	bw.WriteString(first + ",File")
	for _, c := range t.Columns {
		bw.WriteString("," + csvField(c))
	}
	bw.WriteString("\n")
	for r, row := range t.Values {
		if igor {
			bw.WriteString(strconv.FormatFloat(float64(t.Start[r].UnixNano())/1e9+MacEpochOffset, 'f', -1, 64))
		} else {
			bw.WriteString(t.Start[r].UTC().Format(TimeLayout))
		}
		bw.WriteString("," + csvField(t.Files[r]))
		for _, v := range row {
			bw.WriteString("," + formatValue(v))
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}

// WriteJSON writes the table as pandas' DataFrame.to_json does (the
// original's json output): an object per column ("File" first) mapping the
// row's start in Unix milliseconds (a string) to the value (null for
// none). Two frames starting in the same millisecond are an error.
func (t *Table) WriteJSON(w io.Writer) error {
	keys := make([]string, len(t.Start))
	seen := map[string]int{}
	for r, s := range t.Start {
		keys[r] = strconv.FormatInt(s.UnixMilli(), 10)
		if o, dup := seen[keys[r]]; dup {
			return fmt.Errorf("merge json: frames %s and %s start in the same millisecond", t.Files[o], t.Files[r])
		}
		seen[keys[r]] = r
	}
	bw := bufio.NewWriter(w)
	enc := func(v any) {
		b, _ := json.Marshal(v) // strings and finite floats only
		bw.Write(b)
	}
	column := func(name string, val func(r int) any) {
		enc(name)
		bw.WriteString(":{")
		for r := range keys {
			if r > 0 {
				bw.WriteString(",")
			}
			enc(keys[r])
			bw.WriteString(":")
			enc(val(r))
		}
		bw.WriteString("}")
	}
	bw.WriteString("{")
	column("File", func(r int) any { return t.Files[r] })
	for c, name := range t.Columns {
		bw.WriteString(",")
		column(name, func(r int) any {
			if v := t.Values[r][c]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				return v
			}
			return nil
		})
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// h5Name makes a column name a valid HDF5 member name.
func h5Name(s string) string {
	s = strings.ReplaceAll(s, "/", "_")
	if s == "." {
		s = "_"
	}
	return s
}

// HDF5 returns the table as an HDF5 file (pure Go, internal/h5): group
// /LogData with the datasets "time" (start, Unix seconds), "time_1904"
// (seconds since 1904), "file" (the frames' names) and one float64 dataset
// per column ("/" in a name becomes "_"; the attribute "columns" lists the
// columns in order, as JSON). With curves, /Graphs/<kind>/<frame>/ holds
// each frame's curve as q, I and sigma.
func (t *Table) HDF5(curves bool) ([]byte, error) {
	n := len(t.Start)
	tu, tm := make([]float64, n), make([]float64, n)
	for r, s := range t.Start {
		tu[r] = float64(s.UnixNano()) / 1e9
		tm[r] = tu[r] + MacEpochOffset
	}
	cols, _ := json.Marshal(t.Columns)
	logData := &h5.Node{Name: "LogData", Group: true, Attrs: []h5.Attr{{Name: "columns", Str: string(cols)}},
		Children: []*h5.Node{
			{Name: "time", Float64s: tu, Attrs: []h5.Attr{{Name: "units", Str: "s since 1970-01-01T00:00:00Z"}}},
			{Name: "time_1904", Float64s: tm, Attrs: []h5.Attr{{Name: "units", Str: "s since 1904-01-01T00:00:00Z"}}},
			{Name: "file", Strings: append([]string{}, t.Files...)},
		}}
	for c, name := range t.Columns {
		v := make([]float64, n)
		for r := range t.Values {
			v[r] = t.Values[r][c]
		}
		logData.Children = append(logData.Children, &h5.Node{Name: h5Name(name), Float64s: v,
			Attrs: []h5.Attr{{Name: "long_name", Str: name}}})
	}
	root := &h5.Node{Attrs: []h5.Attr{{Name: "creator", Str: "saxs merge (github.com/saxsdog/saxs)"}},
		Children: []*h5.Node{logData}}
	if curves {
		kinds := map[string]*h5.Node{}
		for r, f := range t.Frames {
			for kind, c := range f.Curves {
				g := kinds[kind]
				if g == nil {
					g = &h5.Node{Name: h5Name(kind), Group: true}
					kinds[kind] = g
				}
				kids := []*h5.Node{{Name: "q", Float64s: c.Q}, {Name: "I", Float64s: c.I}}
				if c.Sigma != nil {
					kids = append(kids, &h5.Node{Name: "sigma", Float64s: c.Sigma})
				}
				g.Children = append(g.Children, &h5.Node{Name: h5Name(t.Files[r]), Attrs: []h5.Attr{{Name: "path", Str: t.Paths[r]}},
					Children: kids})
			}
		}
		graphs := &h5.Node{Name: "Graphs", Group: true}
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			graphs.Children = append(graphs.Children, kinds[k])
		}
		root.Children = append(root.Children, graphs)
	}
	b, err := h5.Write(root)
	if err != nil {
		return nil, fmt.Errorf("merge hdf5: %w", err)
	}
	return b, nil
}

// WriteOutputs writes the outputs conf asks for below dir (the base name
// conf.OutputFileBaseName relative to dir): always <base>_igor.csv, and
// <base>.csv, <base>.json, <base>.hdf as selected. Files are written
// atomically. It returns the paths written.
func WriteOutputs(conf *Config, t *Table, dir string) ([]string, error) {
	base := conf.OutputFileBaseName
	if !filepath.IsAbs(base) {
		base = filepath.Join(dir, base)
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return nil, fmt.Errorf("merge output: %w", err)
	}
	var written []string
	write := func(path string, fn func(w io.Writer) error) error {
		if err := atomicfile.Write(path, 0o644, fn); err != nil {
			return fmt.Errorf("merge output %s: %w", path, err)
		}
		written = append(written, path)
		return nil
	}
	if err := write(base+"_igor.csv", t.WriteIgorCSV); err != nil {
		return written, err
	}
	if conf.OutputFormats.CSV {
		if err := write(base+".csv", t.WriteCSV); err != nil {
			return written, err
		}
	}
	if conf.OutputFormats.JSON {
		if err := write(base+".json", t.WriteJSON); err != nil {
			return written, err
		}
	}
	if conf.OutputFormats.HDF {
		b, err := t.HDF5(conf.HDFOptions.IncludeCHI)
		if err != nil {
			return written, err
		}
		if err := write(base+".hdf", func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return written, err
		}
	}
	return written, nil
}

// SyncPlot returns the data of the original's sync plot (getmergedata's
// "syncplot"): "Images" maps each frame's start in Unix milliseconds to
// {"Exposure_time [s] (Img)": exposure}, "Shutter" each shutter row with a
// Duration > 0 to {"Duration (<name>)": duration} (empty without a shutter
// table or Duration column), and "CalculatedTimeshift" is the shift as
// Python's str(timedelta) writes it.
func (t *Table) SyncPlot() map[string]any {
	images := map[string]any{}
	for r, s := range t.Start {
		images[strconv.FormatInt(s.UnixMilli(), 10)] = map[string]any{ColExposure: t.Values[r][0]}
	}
	shutter := map[string]any{}
	if l := t.Shutter; l != nil {
		if c := l.column("Duration"); c >= 0 {
			name := "Duration (" + l.Name + ")"
			for i, ts := range l.Times {
				if d := l.Values[c][i]; d > 0 {
					ms := t.Ref.Add(time.Duration(math.Round(ts * 1e9))).UnixMilli()
					shutter[strconv.FormatInt(ms, 10)] = map[string]any{name: d}
				}
			}
		}
	}
	return map[string]any{"Images": images, "Shutter": shutter, "CalculatedTimeshift": PyTimedelta(t.Shift)}
}

// PyTimedelta formats d as Python's str(datetime.timedelta): "0:00:05",
// "-1 day, 23:59:54.500000", "2 days, 1:00:00".
func PyTimedelta(d time.Duration) string {
	us := d.Microseconds()
	days := us / 86400e6
	rest := us % 86400e6
	if rest < 0 {
		rest += 86400e6
		days--
	}
	s := fmt.Sprintf("%d:%02d:%02d", rest/3600e6, rest/60e6%60, rest/1e6%60)
	if f := rest % 1e6; f != 0 {
		s += fmt.Sprintf(".%06d", f)
	}
	switch days {
	case 0:
		return s
	case 1, -1:
		return fmt.Sprintf("%d day, %s", days, s)
	}
	return fmt.Sprintf("%d days, %s", days, s)
}
