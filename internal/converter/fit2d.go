package converter

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/saxsdog/saxs/internal/cli"
)

// Fit2DValues are the refined values read from fit2d's calibration output.
// A nil field was not found in the text.
type Fit2DValues struct {
	// BeamCenter is [fit2d Y, fit2d X] in pixels: fit2d prints X then Y,
	// the calibration stores [Y, X].
	BeamCenter *[2]float64
	// DetectorDistanceMM is the sample to detector distance in mm (the
	// calibration key DedectorDistanceMM).
	DetectorDistanceMM *float64
	// TiltRotDeg is the tilt plane rotation angle in degrees.
	TiltRotDeg *float64
	// TiltAngleDeg is the tilt angle in degrees.
	TiltAngleDeg *float64
	// Wavelength is the wavelength in Ångström.
	Wavelength *float64
}

// Found returns the names of the values that were found, in a fixed order.
func (v Fit2DValues) Found() []string {
	var s []string
	for _, q := range fit2dQuantities() {
		if q.present(&v) {
			s = append(s, q.name)
		}
	}
	return s
}

// Missing returns the names of the values that were not found.
func (v Fit2DValues) Missing() []string {
	var s []string
	for _, q := range fit2dQuantities() {
		if !q.present(&v) {
			s = append(s, q.name)
		}
	}
	return s
}

// LineError reports a recognised fit2d line whose values cannot be read.
type LineError struct {
	File     string // name of the input
	Line     int    // 1-based line number
	Expected string // the form the line should have
	Got      string // the line as read (without its line end)
}

// Error quotes the line, cut to a readable length (cli.Quote).
func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: expected %q, got %s", e.File, e.Line, e.Expected, cli.Quote(e.Got, 0))
}

// NoValuesError reports a fit2d text without any of the lines the
// converter reads.
type NoValuesError struct {
	File string
}

func (e *NoValuesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: no refined fit2d calibration values found; expected lines such as:", e.File)
	for _, q := range fit2dQuantities() {
		b.WriteString("\n    INFO: ")
		b.WriteString(q.expected)
	}
	return b.String()
}

// fit2dQuantity describes one line of fit2d's output that the converter
// reads.
type fit2dQuantity struct {
	name     string   // for messages
	phrases  []string // any of these (lower case, single spaces) marks the line
	unit     string   // the line must also contain this (lower case), if set
	skip     string   // a line containing this (lower case) is ignored, if set
	expected string   // the line's form, for error messages
	n        int      // count of numbers after '='
	store    func(v *Fit2DValues, x []float64)
	present  func(v *Fit2DValues) bool
}

// fit2dQuantities returns the lines read, in the order they are tried; the
// first that matches a line applies.
func fit2dQuantities() []fit2dQuantity {
	return []fit2dQuantity{
		{
			name:     "beam centre",
			phrases:  []string{"refined beam centre", "refined beam center"},
			unit:     "pixels",
			skip:     "(mm)",
			expected: "Refined Beam centre = <X> <Y> (pixels)",
			n:        2,
			store:    func(v *Fit2DValues, x []float64) { v.BeamCenter = &[2]float64{x[1], x[0]} },
			present:  func(v *Fit2DValues) bool { return v.BeamCenter != nil },
		},
		{
			name:     "sample to detector distance",
			phrases:  []string{"refined sample to detector distance"},
			expected: "Refined sample to detector distance = <mm> mm",
			n:        1,
			store:    func(v *Fit2DValues, x []float64) { v.DetectorDistanceMM = &x[0] },
			present:  func(v *Fit2DValues) bool { return v.DetectorDistanceMM != nil },
		},
		{
			name:     "tilt plane rotation angle",
			phrases:  []string{"refined tilt plane rotation angle"},
			expected: "Refined tilt plane rotation angle = <degrees> degrees",
			n:        1,
			store:    func(v *Fit2DValues, x []float64) { v.TiltRotDeg = &x[0] },
			present:  func(v *Fit2DValues) bool { return v.TiltRotDeg != nil },
		},
		{
			name:     "tilt angle",
			phrases:  []string{"refined tilt angle"},
			expected: "Refined tilt angle = <degrees> degrees",
			n:        1,
			store:    func(v *Fit2DValues, x []float64) { v.TiltAngleDeg = &x[0] },
			present:  func(v *Fit2DValues) bool { return v.TiltAngleDeg != nil },
		},
		{
			name:     "wavelength",
			phrases:  []string{"refined wavelength"},
			expected: "Refined wavelength = <Angstrom> Angstroms",
			n:        1,
			store:    func(v *Fit2DValues, x []float64) { v.Wavelength = &x[0] },
			present:  func(v *Fit2DValues) bool { return v.Wavelength != nil },
		},
	}
}

// decimalNumber is a plain decimal number as fit2d prints it.
var decimalNumber = regexp.MustCompile(`^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eEdD][-+]?[0-9]+)?$`)

// ParseFit2D reads the refined values from the text fit2d prints after a
// calibration (its "INFO: Refined ..." lines; LF or CRLF line ends, any
// leading blanks). The lines read are
//
//	INFO: Refined Beam centre = <X> <Y> (pixels)
//	INFO: Refined sample to detector distance = <mm> mm
//	INFO: Refined tilt plane rotation angle = <degrees> degrees
//	INFO: Refined tilt angle = <degrees> degrees
//	INFO: Refined wavelength = <Angstrom> Angstroms
//
// matched without regard to case or spacing; the numbers are the ones
// following '='. The beam centre line in mm is ignored. When a line occurs
// more than once the last one wins (fit2d repeats them after each
// refinement). A recognised line whose numbers cannot be read is a
// *LineError; a text without any of these lines is a *NoValuesError. name
// is used in error messages.
func ParseFit2D(r io.Reader, name string) (Fit2DValues, error) {
	var v Fit2DValues
	br := bufio.NewReader(r)
	found := false
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return Fit2DValues{}, fmt.Errorf("%s: %w", name, err)
		}
		if line != "" {
			ok, perr := parseFit2DLine(&v, line, name, lineNo)
			if perr != nil {
				return Fit2DValues{}, perr
			}
			found = found || ok
		}
		if err == io.EOF {
			break
		}
	}
	if !found {
		return Fit2DValues{}, &NoValuesError{File: name}
	}
	return v, nil
}

// parseFit2DLine stores the value of one line, if it is one of
// fit2dQuantities, and reports whether it was.
func parseFit2DLine(v *Fit2DValues, line, name string, lineNo int) (bool, error) {
	text := strings.TrimSpace(line)
	norm := strings.ToLower(strings.Join(strings.Fields(text), " "))
	for _, q := range fit2dQuantities() {
		at := -1
		for _, p := range q.phrases {
			if i := strings.Index(norm, p); i >= 0 {
				at = i
				break
			}
		}
		if at < 0 {
			continue
		}
		if q.skip != "" && strings.Contains(norm[at:], q.skip) {
			return false, nil
		}
		if q.unit != "" && !strings.Contains(norm[at:], q.unit) {
			continue
		}
		x, ok := numbersAfterEquals(norm[at:], q.n)
		if !ok {
			return false, &LineError{File: name, Line: lineNo, Expected: q.expected, Got: text}
		}
		q.store(v, x)
		return true, nil
	}
	return false, nil
}

// numbersAfterEquals reads n finite numbers from the words following the
// first '=' in s.
func numbersAfterEquals(s string, n int) ([]float64, bool) {
	_, rest, ok := strings.Cut(s, "=")
	if !ok {
		return nil, false
	}
	words := strings.Fields(rest)
	if len(words) < n {
		return nil, false
	}
	x := make([]float64, n)
	for i := range x {
		w := words[i]
		if !decimalNumber.MatchString(w) {
			return nil, false
		}
		// Fortran double precision exponents (1.5D+00) read as E.
		w = strings.NewReplacer("d", "e", "D", "e").Replace(w)
		f, err := strconv.ParseFloat(w, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, false
		}
		x[i] = f
	}
	return x, true
}
