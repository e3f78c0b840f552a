package saxs

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The normalisations of Reduction.Normalise besides a table file.
const (
	// NormaliseExposure divides by the frame's exposure time: the
	// "# Exposure_time" header line of Pilatus frames, or
	// Reduction.ExposureTime.
	NormaliseExposure = "exposure"
	// NormaliseMonitor divides by the frame's monitor count: a "# Flux"
	// or "# Monitor" header line, or Reduction.Monitor.
	NormaliseMonitor = "monitor"
	// NormaliseTransmission divides by the sample's transmission: a
	// "# Transmission" header line, or Reduction.Transmission.
	NormaliseTransmission = "transmission"
)

// ErrNoNormalisation is returned (wrapped) when a frame lacks the value its
// normalisation needs: no header line and no constant, or no table row.
var ErrNoNormalisation = errors.New("no normalisation value for the frame")

// normaliser computes the normalisation factor of a frame.
type normaliser struct {
	by    string                // "", exposure, monitor, transmission or "table"
	table map[string][2]float64 // frame name (without folder and extension) → monitor, transmission
	// constants, NaN when not given
	exposure, monitor, transmission float64
}

// newNormaliser returns the normaliser of the reduction options, nil when
// there is no normalisation.
func newNormaliser(c *Calibration) (*normaliser, error) {
	r := c.Reduction
	if r == nil || (r.Normalise == "" && r.Monitor == nil && r.Transmission == nil && r.ExposureTime == nil) {
		return nil, nil
	}
	n := &normaliser{by: r.Normalise, exposure: orNaN(r.ExposureTime), monitor: orNaN(r.Monitor), transmission: orNaN(r.Transmission)}
	switch r.Normalise {
	case "", NormaliseExposure, NormaliseMonitor, NormaliseTransmission:
		return n, nil
	}
	t, err := readNormTable(c.path(r.Normalise))
	if err != nil {
		return nil, err
	}
	n.by, n.table = "table", t
	return n, nil
}

func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// readNormTable reads a CSV table: frame name, monitor, transmission per
// row (a header row whose numbers do not parse is skipped; a missing
// transmission column means 1). Names are matched without folder and
// extension.
func readNormTable(path string) (map[string][2]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("saxs: normalisation table: %w", err)
	}
	defer f.Close()
	rd := csv.NewReader(f)
	rd.FieldsPerRecord = -1
	rd.Comment = '#'
	rd.TrimLeadingSpace = true
	t := make(map[string][2]float64)
	for line := 1; ; line++ {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &FormatError{File: path, Line: line, Msg: "normalisation table", Err: err}
		}
		if len(rec) < 2 {
			return nil, &FormatError{File: path, Line: line, Msg: "want frame name, monitor[, transmission]"}
		}
		m, err1 := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		tr, err2 := 1.0, error(nil)
		if len(rec) > 2 {
			tr, err2 = strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		}
		if err1 != nil || err2 != nil {
			if line == 1 {
				continue // header
			}
			return nil, &FormatError{File: path, Line: line, Msg: "monitor and transmission must be numbers", Err: errors.Join(err1, err2)}
		}
		t[frameKey(rec[0])] = [2]float64{m, tr}
	}
	return t, nil
}

// frameKey returns a frame's name without folder and extension.
func frameKey(name string) string {
	b := filepath.Base(strings.TrimSpace(name))
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// NormFactor returns the normalisation factor the curves of img (read from
// the file name, "" when unknown) are divided by: per Reduction.Normalise
// the exposure time, monitor or transmission from the frame's header or the
// constants, or monitor × transmission from the table; times the constants
// Monitor, Transmission and ExposureTime that the chosen normalisation does
// not already use. It is 1 without normalisation. A missing value is an
// error wrapping ErrNoNormalisation.
func (ig *Integrator) NormFactor(img *Image, name string) (float64, error) {
	n := ig.norm
	if n == nil {
		return 1, nil
	}
	f := 1.0
	used := [3]bool{}
	pick := func(i int, keys []string, constant float64, what string) error {
		used[i] = true
		if !math.IsNaN(constant) {
			f *= constant
			return nil
		}
		for _, k := range keys {
			if v, ok := headerValue(img.Description, k); ok {
				f *= v
				return nil
			}
		}
		return fmt.Errorf("saxs: %s: %s: %w", nameOr(name), what, ErrNoNormalisation)
	}
	var err error
	switch n.by {
	case NormaliseExposure:
		err = pick(0, []string{"Exposure_time"}, n.exposure, "exposure time (no # Exposure_time header line, no ExposureTime)")
	case NormaliseMonitor:
		err = pick(1, []string{"Flux", "Monitor"}, n.monitor, "monitor (no # Flux or # Monitor header line, no Monitor)")
	case NormaliseTransmission:
		err = pick(2, []string{"Transmission"}, n.transmission, "transmission (no # Transmission header line, no Transmission)")
	case "table":
		row, ok := n.table[frameKey(name)]
		if !ok {
			return 0, fmt.Errorf("saxs: %s: not in the normalisation table: %w", nameOr(name), ErrNoNormalisation)
		}
		f *= row[0] * row[1]
		used[1], used[2] = true, true
	}
	if err != nil {
		return 0, err
	}
	for i, c := range [3]float64{n.exposure, n.monitor, n.transmission} {
		if !used[i] && !math.IsNaN(c) {
			f *= c
		}
	}
	return f, nil
}

func nameOr(name string) string {
	if name == "" {
		return "frame"
	}
	return name
}

// headerValue finds the header line "# <key> <number> ..." (also with ':'
// or '=' after the key) in a Pilatus-style description and returns the
// number. It does not allocate.
func headerValue(desc, key string) (float64, bool) {
	for desc != "" {
		line := desc
		if i := strings.IndexByte(desc, '\n'); i >= 0 {
			line, desc = desc[:i], desc[i+1:]
		} else {
			desc = ""
		}
		line = strings.TrimLeft(line, "# \t")
		if !strings.HasPrefix(line, key) || len(line) == len(key) || !strings.ContainsRune(" \t:=", rune(line[len(key)])) {
			continue
		}
		rest := strings.TrimLeft(line[len(key):], " \t:=")
		end := strings.IndexAny(rest, " \t\r")
		if end < 0 {
			end = len(rest)
		}
		if v, err := strconv.ParseFloat(rest[:end], 64); err == nil {
			return v, true
		}
	}
	return 0, false
}
