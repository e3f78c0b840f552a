package saxs

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParseCalibration: any input gives a calibration or an error, never a
// panic; an accepted calibration passes Validate and builds no NaN geometry.
func FuzzParseCalibration(f *testing.F) {
	f.Add([]byte(flatJSON))
	f.Add([]byte(nestedJSON))
	f.Add([]byte(`{"Geometry": 1}`))
	f.Add([]byte(`{"Imagesize": [1e400, -1]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCalibration(data, "fuzz.json")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed calibration fails Validate: %v", err)
		}
	})
}

// FuzzReadChi: the .chi reader never panics, and what it accepts has
// columns of equal length.
func FuzzReadChi(f *testing.F) {
	f.Add([]byte("h\nq\nI\n   2\n 1.0e+00 2.0e+00 3.0e+00\n 2.0e+00 nan nan\n "))
	f.Add([]byte("x: Q-Space Scan\r\nQ\r\n\r\n          1\r\n 3.3657656E-03  0.0000000E+00\r\n"))
	if data, err := os.ReadFile("testdata/sample/cal.json"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadChi(bytes.NewReader(data), "fuzz.chi")
		if err != nil {
			return
		}
		if len(c.Q) != len(c.I) || (c.Sigma != nil && len(c.Sigma) != len(c.Q)) {
			t.Fatalf("columns of different lengths: %d %d %d", len(c.Q), len(c.I), len(c.Sigma))
		}
	})
}
