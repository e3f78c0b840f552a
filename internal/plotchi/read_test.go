//go:build unix

package plotchi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/saxsdog/saxs"
)

// TestReadCurveKeepsEveryRow: plotchi keeps all 6 points of a 6-line .xy
// (the original skipped 4 lines of any file and kept 2), and reads
// pyFAI's .dat, saxsdog's and fit2d's layouts by content.
func TestReadCurveKeepsEveryRow(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		q          []float64 // the q column expected
		err        bool      // a third column expected
	}{
		{"six.xy", "1 10\n2 20\n3 30\n4 40\n5 50\n6 60\n", []float64{1, 2, 3, 4, 5, 6}, false},
		{"six-crlf.xy", "1 10\r\n2 20\r\n3 30\r\n4 40\r\n5 50\r\n6 60", []float64{1, 2, 3, 4, 5, 6}, false},
		{"pyfai.dat", "# == pyFAI calibration ==\n# Wavelength: 1.54e-10\n#  q_nm^-1  I  sigma\n 0.1 5 1\n 0.2 6 1\n 0.3 7 1\n", []float64{0.1, 0.2, 0.3}, true},
		{"saxsdog.chi", "out/x.chi\nq [nm^-1]\nIntensity\n   3\n 0.1 1 1\n 0.2 2 1\n 0.3 3 1\n ", []float64{0.1, 0.2, 0.3}, true},
		{"fit2d.chi", "x.tif: Q-Space Scan\r\nQ (Inverse Nanometres)\r\n\r\n       2\r\n 1.0E-02  5.0E+00\r\n 2.0E-02  6.0E+00\r\n", []float64{0.01, 0.02}, false},
		// A numeric title is still a CHIPLOT title (line 4 is the count).
		{"numeric-title.chi", "2024\nq\nI\n2\n1 1\n2 2\n", []float64{1, 2}, false},
		{"titled.xy", "my sample\n1 1\n2 2\n", []float64{1, 2}, false},
	} {
		s, err := ReadCurve([]byte(tc.text), tc.name)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(s.Q) != len(tc.q) || len(s.I) != len(tc.q) || (s.Err != nil) != tc.err {
			t.Errorf("%s: %d q, %d I, errors %v; want %d rows, errors %v", tc.name, len(s.Q), len(s.I), s.Err != nil, len(tc.q), tc.err)
			continue
		}
		for i, q := range tc.q {
			if s.Q[i] != q {
				t.Errorf("%s: q[%d] = %v, want %v", tc.name, i, s.Q[i], q)
			}
		}
	}
}

func TestReadCurveErrors(t *testing.T) {
	long := strings.Repeat("y", 100<<10)
	for _, tc := range []struct {
		name, text string
		line       int
	}{
		{"text in the data", "1 1\n2 2\nthree 3\n", 3},
		{"columns change", "1 1 1\n2 2\n", 2},
		{"four columns", "1 2 3 4\n", 1},
		{"count differs", "t\nq\nI\n3\n1 1\n2 2\n", 4},
		{"no data", "just text\n", 0},
		{"huge line", "1 1\n" + long + "\n", 2},
	} {
		_, err := ReadCurve([]byte(tc.text), "f")
		var fe *saxs.FormatError
		if !errors.As(err, &fe) || fe.Line != tc.line {
			t.Errorf("%s: error %v, want a FormatError at line %d", tc.name, err, tc.line)
			continue
		}
		if len(err.Error()) > 300 {
			t.Errorf("%s: message of %d bytes", tc.name, len(err.Error()))
		}
	}
}

// TestRunKeepsAllPoints runs plotchi on a 6-line .xy: all 6 points are
// plotted (the q axis reaches the last one).
func TestRunKeepsAllPoints(t *testing.T) {
	dir := t.TempDir()
	xy := filepath.Join(dir, "six.xy")
	if err := os.WriteFile(xy, []byte("1 10\n2 20\n3 30\n4 40\n5 50\n6 60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := Load(xy)
	if err != nil || len(ss) != 1 || len(ss[0].Q) != 6 {
		t.Fatalf("Load: %+v, %v", ss, err)
	}
	ps, err := Figure(ss, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].X.Min != 1 || ps[0].X.Max != 6 || ps[0].Y.Max != 60 {
		t.Errorf("axes [%v, %v] × up to %v, want [1, 6] × up to 60", ps[0].X.Min, ps[0].X.Max, ps[0].Y.Max)
	}
	if rc, _, stderr := run(t, "-o", filepath.Join(dir, "six.svg"), xy); rc != ExitOK {
		t.Errorf("exit %d: %s", rc, stderr)
	}
}

// TestRunHostileInput: a FIFO, /dev/zero, a folder and an oversized file
// are refused at once.
func TestRunHostileInput(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.chi")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.chi")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(MaxFileSize + 1) // sparse
	f.Close()
	for in, want := range map[string]string{
		fifo: "a FIFO", "/dev/zero": "character device", dir: "a folder", big: "larger than",
	} {
		rc, _, stderr := run(t, "-o", filepath.Join(dir, "x.svg"), in)
		if rc != ExitError || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, %q", in, rc, stderr)
		}
	}
}
