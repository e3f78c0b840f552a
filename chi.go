package saxs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/saxsdog/saxs/internal/atomicfile"
	"github.com/saxsdog/saxs/internal/pyjson"
)

// chiColumnLabels is header line 3 of a 2.0 radial .chi file: the pyjson
// encoding of the original's column label list (two spaces after "Vector").
const chiColumnLabels = `["Scattering Vector  q [$nm^{-1}$]", "Intensity (Count/Pixel)", "Error Margin"]`

// chiBufSize is the size of the buffer WriteChi fills before each Write.
const chiBufSize = 32 << 10

// chiHeaderLines is the number of header lines of every .chi layout.
const chiHeaderLines = 4

// WriteChi writes c as a .chi file in the layout of the original saxsdog 2.0,
// which is numpy savetxt(fmt="%.18e", delimiter=" ", newline="\n ",
// header=H, comments="") of the columns q, I, σ:
//
//	<calibration as JSON>
//	{"I0": <I0>, "I1": <I1>, "I2": <I2>}
//	["Scattering Vector  q [$nm^{-1}$]", "Intensity (Count/Pixel)", "Error Margin"]
//	   <row count>
//	 <q> <I> <σ>
//	 ...
//
// Each data line starts with a space, numbers are C-style %.18e (nan, inf,
// -inf for the non-finite values), and the file ends with "\n " (a trailing
// space and no final newline), byte for byte as the original writes it.
//
// Line 1 is cal.JSON() written as Python's json.dumps with sorted keys
// (the original's key order was Python's hash order and cannot be
// reproduced): the calibration file as loaded, numbers keeping the
// float/int form they were written in, unless it was changed since; nil
// writes {}. The integral parameters on line 2 are floats and may be NaN.
//
// c.Q, c.I and c.Sigma must have the same length.
func WriteChi(w io.Writer, cal *Calibration, c *Curve) error {
	header, err := chiHeader(cal)
	if err != nil {
		return err
	}
	return writeChi(w, header, c)
}

// chiHeader returns line 1 of a .chi file for cal.
func chiHeader(cal *Calibration) ([]byte, error) {
	if cal == nil {
		return []byte("{}"), nil
	}
	b, err := pyjson.Marshal(cal.JSON())
	if err != nil {
		return nil, fmt.Errorf("chi: calibration: %w", err)
	}
	return b, nil
}

// writeChi is WriteChi with line 1 given.
func writeChi(w io.Writer, header []byte, c *Curve) error {
	if c == nil {
		return errors.New("chi: nil curve")
	}
	n := len(c.Q)
	if len(c.I) != n || len(c.Sigma) != n {
		return fmt.Errorf("chi: curve %q has %d q values, %d intensities and %d errors", c.Name, n, len(c.I), len(c.Sigma))
	}
	buf := make([]byte, 0, chiBufSize)
	buf = append(buf, header...)
	buf = append(buf, "\n{\"I0\": "...)
	buf = pyjson.AppendFloat(buf, c.Params.I0)
	buf = append(buf, ", \"I1\": "...)
	buf = pyjson.AppendFloat(buf, c.Params.I1)
	buf = append(buf, ", \"I2\": "...)
	buf = pyjson.AppendFloat(buf, c.Params.I2)
	buf = append(buf, "}\n"...)
	if u := c.Unit.orDefault(); u == UnitQnm {
		buf = append(buf, chiColumnLabels...)
	} else {
		buf = append(buf, `["`...)
		buf = append(buf, u.chiLabel()...)
		buf = append(buf, chiColumnLabels[len(`["Scattering Vector  q [$nm^{-1}$]`):]...)
	}
	buf = append(buf, "\n   "...)
	return writeChiRows(w, buf, c)
}

// writeChiRows appends the row count of c and its rows (numpy savetxt's
// "%.18e" columns q, I, σ) to buf, writing buf to w whenever it fills and
// at the end.
func writeChiRows(w io.Writer, buf []byte, c *Curve) error {
	n := len(c.Q)
	buf = strconv.AppendInt(buf, int64(n), 10)
	buf = append(buf, "\n "...)
	for k := range n {
		// A row is at most 3×(7+19+5)+4 bytes; keep a margin.
		if len(buf) > cap(buf)-128 {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("chi: %w", err)
			}
			buf = buf[:0]
		}
		buf = appendChiRow(buf, c.Q[k], c.I[k], c.Sigma[k])
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("chi: %w", err)
	}
	return nil
}

// appendChiRow appends one savetxt row "%.18e %.18e %.18e" and the
// newline "\n " that follows it.
func appendChiRow(buf []byte, q, i, s float64) []byte {
	buf = appendChiFloat(buf, q)
	buf = append(buf, ' ')
	buf = appendChiFloat(buf, i)
	buf = append(buf, ' ')
	buf = appendChiFloat(buf, s)
	return append(buf, '\n', ' ')
}

// appendChiFloat appends v as Python's '%.18e' % v: 19 correctly rounded
// significant digits (ties to even), 18 of them after the point, and an
// exponent of at least two digits, with nan, inf and -inf for the
// non-finite values. This is strconv's 'e' format with precision 18, which
// falls back to slow multiprecision arithmetic for more than 18 digits; the
// usual magnitudes (1e-9 ≤ |v| < 1e18) take an exact 128-bit fast path.
func appendChiFloat(buf []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(buf, "nan"...)
	case math.IsInf(v, 1):
		return append(buf, "inf"...)
	case math.IsInf(v, -1):
		return append(buf, "-inf"...)
	case v == 0:
		if math.Signbit(v) {
			return append(buf, "-0.000000000000000000e+00"...)
		}
		return append(buf, "0.000000000000000000e+00"...)
	}
	if q, exp, ok := chiDigits(v); ok {
		if v < 0 {
			buf = append(buf, '-')
		}
		// d.ddddddddd ddddddddd: the first digit, then two 9-digit halves.
		r := q % 1e18
		n := len(buf)
		buf = append(buf, "0.000000000000000000"...)
		d := buf[n : n+20]
		d[0] = byte('0' + q/1e18)
		put9Digits(d[2:11], uint32(r/1e9))
		put9Digits(d[11:20], uint32(r%1e9))
		buf = append(buf, 'e')
		if exp < 0 {
			buf = append(buf, '-')
			exp = -exp
		} else {
			buf = append(buf, '+')
		}
		if exp < 10 {
			buf = append(buf, '0')
		}
		return strconv.AppendInt(buf, int64(exp), 10)
	}
	return strconv.AppendFloat(buf, v, 'e', 18, 64)
}

const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// put9Digits writes v < 1e9 as 9 decimal digits, with leading zeros, to
// d[:9].
func put9Digits(d []byte, v uint32) {
	_ = d[8]
	for i := 8; i > 0; i -= 2 {
		p := v % 100 * 2
		v /= 100
		d[i-1], d[i] = digitPairs[p], digitPairs[p+1]
	}
	d[0] = byte('0' + v)
}

// pow5 holds 5^0 … 5^27, the powers of 5 below 2^64.
var pow5 = func() (p [28]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 5
	}
	return p
}()

// chiDigits returns the 19 significant decimal digits of |v|, correctly
// rounded (ties to even), as an integer q in [1e18, 1e19) with |v| ≈
// q·10^(exp-18). ok is false when |v| is outside the range of the fast
// path, about [1e-9, 1e18), or subnormal.
//
// With |v| = m·2^e and p = 18-exp, q = round(m·5^p·2^(p+e)). For
// 0 ≤ p ≤ 27 the product m·5^p < 2^53·2^63 fits in 128 bits, so the shift
// and the rounding are exact.
func chiDigits(v float64) (q uint64, exp int, ok bool) {
	const lo19, hi19 = 1e18, 1e19
	b := math.Float64bits(v)
	be := int(b >> 52 & 0x7ff)
	if be == 0 || be == 0x7ff {
		return 0, 0, false // zero, subnormal or non-finite
	}
	m := b&(1<<52-1) | 1<<52
	e := be - 1075 // |v| = m·2^e, 2^(e+52) ≤ |v| < 2^(e+53)
	// floor(log10(2^(e+52))) (Ryu's log10Pow2); the true exponent is this or
	// one more.
	exp = ((e + 52) * 78913) >> 18
	for range 2 {
		p := 18 - exp
		if p < 0 || p >= len(pow5) {
			return 0, 0, false
		}
		hi, lo := bits.Mul64(m, pow5[p])
		sh := p + e
		var roundUp bool
		switch {
		case sh >= 0:
			if hi != 0 || sh >= 64 || lo > math.MaxUint64>>sh {
				exp++ // ≥ 2^64 > 1e19: too many digits
				continue
			}
			q = lo << sh
		case sh > -64:
			s := uint(-sh)
			if hi>>s != 0 {
				exp++
				continue
			}
			q = hi<<(64-s) | lo>>s
			rem, half := lo&(1<<s-1), uint64(1)<<(s-1)
			roundUp = rem > half || rem == half && q&1 == 1
		case sh > -128:
			s := uint(-sh - 64) // 0 ≤ s < 64
			q = hi >> s
			// The remainder is (hi mod 2^s, lo); half is 2^(s+63).
			var remHi, halfHi, halfLo uint64
			if s > 0 {
				remHi = hi & (1<<s - 1)
				halfHi = 1 << (s - 1)
			} else {
				halfLo = 1 << 63
			}
			switch {
			case remHi != halfHi:
				roundUp = remHi > halfHi
			case lo != halfLo:
				roundUp = lo > halfLo
			default:
				roundUp = q&1 == 1
			}
		default:
			return 0, 0, false
		}
		if q >= hi19 {
			exp++
			continue
		}
		if q < lo19 {
			return 0, 0, false // cannot happen: the estimate is never too high
		}
		if roundUp {
			q++
			if q == hi19 {
				q = lo19
				exp++
			}
		}
		return q, exp, true
	}
	return 0, 0, false
}

// WriteChiFile writes c to path with [WriteChi], atomically: the data go to
// a temporary file in the same directory, which is then renamed over path,
// so readers never see a partial file. On error the temporary file is
// removed and path is left as it was. The file gets mode 0644. It is not
// fsync'ed: a crash of the machine (not of the program) may lose it.
func WriteChiFile(path string, cal *Calibration, c *Curve) error {
	header, err := chiHeader(cal)
	if err != nil {
		return err
	}
	return writeChiFile(path, header, c)
}

// writeChiFile is WriteChiFile with line 1 given.
func writeChiFile(path string, header []byte, c *Curve) error {
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return writeChi(w, header, c) })
	if err != nil {
		return fmt.Errorf("chi %s: %w", path, err)
	}
	return nil
}

// ChiFile is the content of a .chi file as read by [ReadChi]. It belongs
// to the caller, who may modify it.
type ChiFile struct {
	// Header holds the 4 header lines, without line terminators.
	Header []string
	// Q and I are the first two columns.
	Q, I []float64
	// Sigma is the third column (the error), nil for 2-column files such
	// as fit2d's.
	Sigma []float64
}

// Len returns the number of data rows.
func (f *ChiFile) Len() int { return len(f.Q) }

// ReadChi reads a .chi file: the saxsdog layouts (0.3.0 and 2.0: 4 header
// lines, 3 columns, each row starting with a space, a trailing "\n " line)
// and fit2d's CHIPLOT (CRLF line ends, 4 header lines, 2 columns). Like the
// original readers (np.loadtxt(skiprows=4)) it skips exactly 4 header
// lines; every following non-blank line must then hold 2 or 3
// whitespace-separated numbers, the same count on every line ("nan",
// "inf", "-inf" in any case are accepted). If header line 4 is an integer
// it must equal the number of rows.
//
// name is used in error messages, which are *[FormatError] values with the
// line number. At most [MaxChiBytes] are read: a longer input is an error.
func ReadChi(r io.Reader, name string) (*ChiFile, error) {
	data, err := readLimited(r, MaxChiBytes, 0)
	if err != nil {
		return nil, fmt.Errorf("chi %s: %w", name, err)
	}
	if len(data) > MaxChiBytes {
		return nil, &FormatError{File: name, Offset: MaxChiBytes,
			Msg: fmt.Sprintf("more than the %d bytes accepted for a .chi file", MaxChiBytes)}
	}
	return parseChi(data, name)
}

// ReadChiFile reads the .chi file at path with [ReadChi]. The path must
// name a regular file (else the error matches [ErrNotRegular]) of at most
// [MaxChiBytes].
func ReadChiFile(path string) (*ChiFile, error) {
	data, err := readRegular(path, MaxChiBytes, ".chi file")
	if err != nil {
		return nil, err // *fs.PathError or *FormatError names the path
	}
	return parseChi(data, path)
}

func parseChi(data []byte, name string) (*ChiFile, error) {
	fail := func(line int, format string, args ...any) error {
		return &FormatError{File: name, Offset: -1, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	f := &ChiFile{Header: make([]string, 0, chiHeaderLines)}
	line := 0
	next := func() ([]byte, bool) {
		if len(data) == 0 {
			return nil, false
		}
		line++
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		return bytes.TrimSuffix(l, []byte{'\r'}), true
	}
	for len(f.Header) < chiHeaderLines {
		l, ok := next()
		if !ok {
			if line == 0 {
				return nil, fail(0, "empty file")
			}
			return nil, fail(line, "file ends after %d lines, want %d header lines", line, chiHeaderLines)
		}
		f.Header = append(f.Header, string(l))
	}
	// Guess the row count from the file size to avoid regrowing.
	est := len(data)/30 + 1
	f.Q = make([]float64, 0, est)
	f.I = make([]float64, 0, est)
	cols := 0
	var vals [3]float64
	for {
		l, ok := next()
		if !ok {
			break
		}
		n := 0
		for {
			l = trimLeftSpace(l)
			if len(l) == 0 {
				break
			}
			end := 0
			for end < len(l) && !isSpace(l[end]) {
				end++
			}
			tok := l[:end]
			l = l[end:]
			n++
			if n > 3 {
				continue // counted for the error message below
			}
			v, err := strconv.ParseFloat(string(tok), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return nil, fail(line, "column %d: invalid number %q", n, tok)
			}
			vals[n-1] = v
		}
		switch {
		case n == 0:
			continue // blank line, such as the final " " of saxsdog files
		case cols == 0 && (n < 2 || n > 3):
			return nil, fail(line, "want 2 or 3 columns, got %d", n)
		case cols == 0:
			cols = n
			if cols == 3 {
				f.Sigma = make([]float64, 0, est)
			}
		case n != cols:
			return nil, fail(line, "want %d columns, got %d", cols, n)
		}
		f.Q = append(f.Q, vals[0])
		f.I = append(f.I, vals[1])
		if cols == 3 {
			f.Sigma = append(f.Sigma, vals[2])
		}
	}
	if count, err := strconv.Atoi(strings.TrimSpace(f.Header[3])); err == nil && count != len(f.Q) {
		return nil, fail(4, "header gives %d rows, file has %d", count, len(f.Q))
	}
	return f, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

func trimLeftSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

// ChiPaths returns the .chi file names that IntegrateChi writes for the
// radial curves of path: path itself for a single curve without slices,
// otherwise <base>_cR<i>.chi for curve i (the original's naming), base
// being path without its extension. With GISAXSmode the first curve is not
// written and its entry is "". The slices' files are named by SlicePaths.
func (ig *Integrator) ChiPaths(path string) []string {
	if len(ig.curves) == 1 && len(ig.slices) == 0 {
		if ig.cal.GISAXSmode {
			return []string{""}
		}
		return []string{path}
	}
	base := strings.TrimSuffix(path, filepath.Ext(path))
	out := make([]string, len(ig.curves))
	for i := range out {
		if i == 0 && ig.cal.GISAXSmode {
			continue
		}
		out[i] = fmt.Sprintf("%s_cR%d.chi", base, i)
	}
	return out
}

// OutputPaths returns ChiPaths(path) followed by SlicePaths(path): every
// .chi file WriteChi writes for path ("" for one not written).
func (ig *Integrator) OutputPaths(path string) []string {
	return append(ig.ChiPaths(path), ig.SlicePaths(path)...)
}

// IntegrateChi integrates an image and writes its curves and slices as
// .chi files (see ChiPaths and SlicePaths for the names), each atomically.
func (ig *Integrator) IntegrateChi(img *Image, path string) error {
	r, err := ig.Integrate(img)
	if err != nil {
		return err
	}
	return ig.WriteChi(r, path)
}

// WriteChi writes the curves of r as .chi files named by ChiPaths(path),
// and its slices as files named by SlicePaths(path).
func (ig *Integrator) WriteChi(r *Result, path string) error {
	for i, p := range ig.ChiPaths(path) {
		if p == "" {
			continue
		}
		if err := writeChiFile(p, ig.header, &r.Curves[i]); err != nil {
			return err
		}
	}
	if len(ig.slices) == 0 {
		return nil
	}
	if r == nil || len(r.Slices) != len(ig.slices) {
		return fmt.Errorf("saxs: result was not made by this integrator's NewResult")
	}
	return ig.writeSliceChis(r, ig.SlicePaths(path))
}
