package saxs

import (
	"bufio"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// datReader reads argv[1] with numpy.loadtxt, as pyFAI users do, and
// prints its rows with repr (exact float64 digits).
const datReader = `
import sys, numpy as np
q, i, s = np.loadtxt(sys.argv[1], unpack=True)
for row in zip(q, i, s):
    print(" ".join(repr(float(v)) for v in row))
`

// TestDatReadByNumpy: the .dat of the reference frame, read with
// numpy.loadtxt, gives the numbers of the .chi written from the same
// curve, read back by the .chi reader.
func TestDatReadByNumpy(t *testing.T) {
	tif, ig, img := referenceIntegrator(t)
	res, err := ig.Integrate(img)
	if err != nil {
		t.Fatal(err)
	}
	c := &res.Curves[0]
	dir := t.TempDir()
	dat, chi := filepath.Join(dir, "f.dat"), filepath.Join(dir, "f.chi")
	if err := WriteDatFile(dat, ig.Calibration(), c, tif); err != nil {
		t.Fatal(err)
	}
	if err := WriteChiFile(chi, ig.Calibration(), c); err != nil {
		t.Fatal(err)
	}
	ref, err := ReadChiFile(chi)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(python); err != nil {
		t.Skip(python + " not found; numpy read-back skipped")
	}
	if out, err := exec.Command(python, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("numpy missing (%s); read-back skipped", out)
	}
	out, err := exec.Command(python, "-c", datReader, dat).Output()
	if err != nil {
		t.Fatalf("numpy.loadtxt: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	k := 0
	for ; sc.Scan(); k++ {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || k >= ref.Len() {
			t.Fatalf("row %d: %q (chi has %d rows)", k, sc.Text(), ref.Len())
		}
		for j, want := range []float64{ref.Q[k], ref.I[k], ref.Sigma[k]} {
			got, err := strconv.ParseFloat(f[j], 64)
			if err != nil {
				t.Fatal(err)
			}
			if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Fatalf("row %d column %d: numpy reads %v, the .chi has %v", k, j, got, want)
			}
		}
	}
	if k != ref.Len() || k == 0 {
		t.Fatalf("numpy read %d rows, the .chi has %d", k, ref.Len())
	}
	head, _ := os.ReadFile(dat)
	for _, want := range []string{"# Distance Sample to Detector: ", "# Wavelength: ", "# Calibration: {", "# --> " + tif} {
		if !strings.Contains(string(head), want) {
			t.Errorf(".dat header lacks %q", want)
		}
	}
}
