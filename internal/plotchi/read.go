package plotchi

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/internal/cli"
)

// MaxFileSize bounds the size of a file plotchi reads: a curve of 65000
// rows of three numbers is about 3 MB.
const MaxFileSize = 64 << 20

// Load reads curve files with [ReadCurve]. Each path must be a regular
// file of at most MaxFileSize bytes: a FIFO or a device is refused
// without being opened for reading.
func Load(paths ...string) ([]Series, error) {
	out := make([]Series, 0, len(paths))
	for _, p := range paths {
		data, err := cli.ReadFile(p, MaxFileSize)
		if err != nil {
			return nil, err
		}
		s, err := ReadCurve(data, p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ReadCurve reads a curve from the text of a file named name (the
// Series' Name): columns q, I and optionally the error, separated by
// blanks, one row a line. It reads
//
//   - saxsdog's .chi files (0.3.0 and 2.0) and fit2d's CHIPLOT files: a
//     header of 4 lines (title, x-axis label, y-axis label, row count) is
//     recognised by its content, not by its line count: lines 2 and 3 are
//     not rows of numbers and line 4 is a single whole number, which must
//     then equal the number of rows;
//   - two- and three-column text (.xy, .dat) with or without a header:
//     lines starting with '#' (pyFAI's .dat header) are comments
//     anywhere, and lines before the first row of numbers that are not
//     numbers are a header.
//
// Blank lines are skipped. Every row must have the same number of
// columns, 2 or 3; a line that is not a row of numbers after the first
// row is an error, so no data is dropped silently. Errors are
// *saxs.FormatError values with the line number, quoting at most
// cli.MaxQuote characters of the line.
func ReadCurve(data []byte, name string) (Series, error) {
	lines := splitLines(data)
	fail := func(line int, format string, a ...any) error {
		return &saxs.FormatError{File: name, Offset: -1, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	s := Series{Name: name}
	first := 0
	count := -1
	if isChiplotHeader(lines) {
		first = 4
		count, _ = strconv.Atoi(string(bytes.TrimSpace(lines[3])))
	}
	cols := 0
	for i := first; i < len(lines); i++ {
		l := bytes.TrimSpace(lines[i])
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		vals, err := numbers(l)
		if err != nil || len(vals) < 2 || len(vals) > 3 {
			if cols == 0 && (err != nil || len(vals) == 1) {
				continue // a header line before the data: text or a row count
			}
			switch {
			case err != nil:
				return Series{}, fail(i+1, "not a row of numbers: %s", cli.Quote(string(l), 0))
			default:
				return Series{}, fail(i+1, "want 2 or 3 columns, got %d", len(vals))
			}
		}
		switch {
		case cols == 0:
			cols = len(vals)
			if cols == 3 {
				s.Err = []float64{}
			}
		case len(vals) != cols:
			return Series{}, fail(i+1, "want %d columns, got %d", cols, len(vals))
		}
		s.Q = append(s.Q, vals[0])
		s.I = append(s.I, vals[1])
		if cols == 3 {
			s.Err = append(s.Err, vals[2])
		}
	}
	if cols == 0 {
		return Series{}, fail(0, "no rows of numbers")
	}
	if count >= 0 && count != len(s.Q) {
		return Series{}, fail(4, "the header gives %d rows, the file has %d", count, len(s.Q))
	}
	return s, nil
}

// splitLines splits data at '\n', dropping a '\r' before it.
func splitLines(data []byte) [][]byte {
	lines := bytes.Split(data, []byte{'\n'})
	for i, l := range lines {
		lines[i] = bytes.TrimSuffix(l, []byte{'\r'})
	}
	return lines
}

// isChiplotHeader reports whether the first four lines are a CHIPLOT
// header: lines 2 and 3 (the axis labels) are not rows of numbers and
// line 4 is a single non-negative whole number (the row count).
func isChiplotHeader(lines [][]byte) bool {
	if len(lines) < 4 {
		return false
	}
	for _, l := range lines[1:3] {
		if v, err := numbers(bytes.TrimSpace(l)); err == nil && len(v) >= 2 {
			return false
		}
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(lines[3])))
	return err == nil && n >= 0
}

// numbers parses the blank-separated fields of l as numbers ("nan",
// "inf" in any case included; values out of range are ±Inf or 0).
func numbers(l []byte) ([]float64, error) {
	fields := bytes.Fields(l)
	if len(fields) == 0 {
		return nil, errors.New("empty")
	}
	vals := make([]float64, len(fields))
	for i, f := range fields {
		v, err := strconv.ParseFloat(string(f), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, err
		}
		vals[i] = v
	}
	return vals, nil
}
