package merge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// MacEpochOffset is the number of seconds from 1904-01-01 to 1970-01-01
// (UTC): a Mac (LabVIEW, Igor) time minus it is a Unix time.
const MacEpochOffset = 2082844800

// MaxLogBytes bounds one log file.
const MaxLogBytes = 256 << 20

// Log is one parsed log table: a time column and numeric columns.
type Log struct {
	// Name is the table's name (the column suffix).
	Name string
	// Columns are the names of the value columns (header fields 2..n,
	// spaces trimmed).
	Columns []string
	// Times are the row times in seconds, non-decreasing: as in the file
	// from ParseLog; in a Table's Shutter, seconds since the Table's Ref.
	Times []float64
	// Values[c][r] is column c of row r (NaN where the field is empty).
	Values [][]float64
}

// RowError is one log row that was skipped: its file, line (1-based) and
// field.
type RowError struct {
	File  string
	Line  int
	Field string // column name, "" for the whole row
	Err   error
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: field %q: %v", e.File, e.Line, e.Field, e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// ErrUnsorted is wrapped by the error of a log whose times go backwards.
var ErrUnsorted = errors.New("time goes backwards")

// ParseLog reads one log file: tab-separated, a header line, the first
// column a time in seconds (in the epoch given by the table; the caller
// converts). Empty fields are NaN. A row with the wrong number of fields,
// a missing or non-numeric time or a non-numeric value is skipped and
// returned in skipped; a time earlier than the row before is an error
// (wrapping ErrUnsorted) naming the file, line and field, as is a file
// without header or rows.
func ParseLog(r io.Reader, name string) (l *Log, skipped []*RowError, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxLogBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("log %s: %w", name, err)
	}
	if len(data) > MaxLogBytes {
		return nil, nil, fmt.Errorf("log %s: more than %d bytes", name, MaxLogBytes)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), MaxLogBytes)
	line := 0
	var header []string
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		if header == nil {
			header = strings.Split(text, "\t")
			if len(header) < 2 {
				return nil, nil, &RowError{File: name, Line: line, Err: errors.New("header has no tab-separated value column (a time column and at least one value)")}
			}
			l = &Log{}
			seen := map[string]bool{}
			for _, h := range header[1:] {
				h = strings.TrimSpace(h)
				if h == "" || seen[h] {
					return nil, nil, &RowError{File: name, Line: line, Field: h, Err: errors.New("empty or duplicate column name")}
				}
				seen[h] = true
				l.Columns = append(l.Columns, h)
			}
			l.Values = make([][]float64, len(l.Columns))
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != len(header) {
			skipped = append(skipped, &RowError{File: name, Line: line,
				Err: fmt.Errorf("%d fields, the header has %d", len(f), len(header))})
			continue
		}
		timeName := strings.TrimSpace(header[0])
		ts := strings.TrimSpace(f[0])
		t, perr := strconv.ParseFloat(ts, 64)
		if ts == "" || perr != nil || math.IsNaN(t) || math.IsInf(t, 0) {
			skipped = append(skipped, &RowError{File: name, Line: line, Field: timeName,
				Err: fmt.Errorf("time %q is not a number", ts)})
			continue
		}
		if n := len(l.Times); n > 0 && t < l.Times[n-1] {
			return nil, skipped, &RowError{File: name, Line: line, Field: timeName,
				Err: fmt.Errorf("%w: %s is before %s of the row above", ErrUnsorted, ts, strconv.FormatFloat(l.Times[n-1], 'f', -1, 64))}
		}
		row := make([]float64, len(l.Columns))
		bad := false
		for c := range l.Columns {
			s := strings.TrimSpace(f[c+1])
			if s == "" {
				row[c] = math.NaN()
				continue
			}
			v, perr := strconv.ParseFloat(s, 64)
			if perr != nil {
				skipped = append(skipped, &RowError{File: name, Line: line, Field: l.Columns[c],
					Err: fmt.Errorf("%q is not a number", s)})
				bad = true
				break
			}
			row[c] = v
		}
		if bad {
			continue
		}
		l.Times = append(l.Times, t)
		for c, v := range row {
			l.Values[c] = append(l.Values[c], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, skipped, fmt.Errorf("log %s: line %d: %w", name, line+1, err)
	}
	if l == nil {
		return nil, skipped, fmt.Errorf("log %s: no header line", name)
	}
	if len(l.Times) == 0 {
		return nil, skipped, fmt.Errorf("log %s: no valid row", name)
	}
	return l, skipped, nil
}

// joinLogs concatenates the files of one table (their columns must agree)
// and sorts the rows by time (stable: files may come in any order).
func joinLogs(name string, parts []*Log, files []string) (*Log, error) {
	out := &Log{Name: name, Columns: parts[0].Columns, Values: make([][]float64, len(parts[0].Columns))}
	for i, p := range parts[1:] {
		if strings.Join(p.Columns, "\t") != strings.Join(out.Columns, "\t") {
			return nil, fmt.Errorf("log %s: columns %q differ from those of %s (%q)", files[i+1], p.Columns, files[0], out.Columns)
		}
	}
	type row struct {
		t float64
		p int
		r int
	}
	var rows []row
	for pi, p := range parts {
		for r, t := range p.Times {
			rows = append(rows, row{t, pi, r})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].t < rows[j].t })
	for _, r := range rows {
		out.Times = append(out.Times, r.t)
		for c := range out.Columns {
			out.Values[c] = append(out.Values[c], parts[r.p].Values[c][r.r])
		}
	}
	return out, nil
}

// column returns the index of column name, -1 if absent.
func (l *Log) column(name string) int {
	for i, c := range l.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// at returns column c linearly interpolated at time t; NaN outside the
// log's time range.
func (l *Log) at(c int, t float64) float64 {
	ts := l.Times
	n := len(ts)
	if n == 0 || t < ts[0] || t > ts[n-1] {
		return math.NaN()
	}
	v := l.Values[c]
	j := sort.SearchFloat64s(ts, t) // first ts[j] >= t
	if ts[j] == t {
		return v[j]
	}
	f := (t - ts[j-1]) / (ts[j] - ts[j-1])
	return v[j-1] + f*(v[j]-v[j-1])
}

// mean returns the mean of column c, linearly interpolated between the
// rows, over [a, b] (a < b): the integral divided by b-a. NaN when [a, b]
// is not inside the log's time range.
func (l *Log) mean(c int, a, b float64) float64 {
	ts := l.Times
	n := len(ts)
	if n == 0 || a < ts[0] || b > ts[n-1] {
		return math.NaN()
	}
	sum := 0.0
	prevT, prevV := a, l.at(c, a)
	for j := sort.SearchFloat64s(ts, a); j < n && ts[j] < b; j++ {
		if ts[j] <= prevT {
			continue
		}
		v := l.Values[c][j]
		sum += (ts[j] - prevT) * (prevV + v) / 2
		prevT, prevV = ts[j], v
	}
	sum += (b - prevT) * (prevV + l.at(c, b)) / 2
	return sum / (b - a)
}
